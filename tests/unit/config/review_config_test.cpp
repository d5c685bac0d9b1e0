// The tables of the review workflow, submitters, notifications, web UI, metrics and retention.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "config/config.hpp"

namespace casedesk::config {
namespace {

using namespace std::chrono_literals;

const std::string kBase =
    "[imap]\n"
    "url = \"imaps://mail.example.test/INBOX\"\n"
    "username = \"intake@example.test\"\n"
    "password = \"hunter2\"\n"
    "[smtp]\n"
    "url = \"smtps://mail.example.test\"\n"
    "from = \"Coding Desk <desk@example.test>\"\n";  // 7 lines

std::vector<ConfigIssue> issues_of(const std::string& text) {
  try {
    load_config_from_string(text, "/srv/casedesk/casedesk.toml");
  } catch (const ConfigError& e) {
    return e.issues();
  }
  return {};
}

TEST(ReviewConfig, Defaults) {
  const auto cfg = load_config_from_string(kBase, "/srv/casedesk/casedesk.toml");
  EXPECT_EQ(cfg.review.claim_lease, 4h);
  EXPECT_EQ(cfg.review.auto_close, 14 * 24h);
  EXPECT_EQ(cfg.review.sla_low, 72h);
  EXPECT_EQ(cfg.review.sla_normal, 48h);
  EXPECT_EQ(cfg.review.sla_high, 24h);
  EXPECT_EQ(cfg.review.sla_urgent, 4h);
  EXPECT_FALSE(cfg.submitters.reject_unknown);
  EXPECT_EQ(cfg.submitters.guest_quota, 0);
  EXPECT_FALSE(cfg.notify.consultants);
  EXPECT_EQ(cfg.notify.digest_every, 1h);
  EXPECT_TRUE(cfg.web.enabled);
  EXPECT_EQ(cfg.web.listen.host, "127.0.0.1");
  EXPECT_EQ(cfg.web.listen.port, 8080);
  EXPECT_TRUE(cfg.metrics.enabled);
  EXPECT_EQ(cfg.metrics.listen.port, 9464);
  EXPECT_EQ(cfg.retention.raw_mail, 365 * 24h);
  EXPECT_EQ(cfg.retention.closed_cases, Duration::zero());
}

TEST(ReviewConfig, ReadsEveryKey) {
  const auto cfg = load_config_from_string(kBase +
                                               "[review]\n"
                                               "claim_lease = \"2h\"\n"
                                               "auto_close = \"7d\"\n"
                                               "sla = { low = \"96h\", urgent = \"1h\" }\n"
                                               "[submitters]\n"
                                               "unknown = \"reject\"\n"
                                               "guest_quota = 3\n"
                                               "[notify]\n"
                                               "consultants = true\n"
                                               "digest_every = \"30m\"\n"
                                               "[web]\n"
                                               "enabled = false\n"
                                               "listen = \"[::1]:0\"\n"
                                               "session_timeout = \"1h\"\n"
                                               "[metrics]\n"
                                               "listen = \"localhost:9100\"\n"
                                               "[retention]\n"
                                               "raw_mail = \"0\"\n"
                                               "closed_cases = \"30d\"\n",
                                           "/srv/casedesk/casedesk.toml");
  EXPECT_EQ(cfg.review.claim_lease, 2h);
  EXPECT_EQ(cfg.review.auto_close, 7 * 24h);
  EXPECT_EQ(cfg.review.sla_low, 96h);
  EXPECT_EQ(cfg.review.sla_normal, 48h);
  EXPECT_EQ(cfg.review.sla_urgent, 1h);
  EXPECT_TRUE(cfg.submitters.reject_unknown);
  EXPECT_EQ(cfg.submitters.guest_quota, 3);
  EXPECT_TRUE(cfg.notify.consultants);
  EXPECT_EQ(cfg.notify.digest_every, 30min);
  EXPECT_FALSE(cfg.web.enabled);
  EXPECT_EQ(cfg.web.listen.host, "::1");
  EXPECT_EQ(cfg.web.listen.port, 0);
  EXPECT_EQ(cfg.web.session_timeout, 1h);
  EXPECT_EQ(cfg.metrics.listen.host, "localhost");
  EXPECT_EQ(cfg.metrics.listen.port, 9100);
  EXPECT_EQ(cfg.retention.raw_mail, Duration::zero());
  EXPECT_EQ(cfg.retention.closed_cases, 30 * 24h);
}

TEST(ReviewConfig, BadValuesNameTheirLine) {
  const auto issues = issues_of(kBase +
                                "[review]\n"                          // 8
                                "sla = { normal = \"soon\", x = \"1h\" }\n"  // 9
                                "[submitters]\n"                      // 10
                                "unknown = \"maybe\"\n"               // 11
                                "[web]\n"                             // 12
                                "listen = \"8080\"\n"                 // 13
                                "[metrics]\n"                         // 14
                                "listen = \"example.test:99999\"\n");  // 15
  ASSERT_EQ(issues.size(), 5u);
  EXPECT_EQ(issues[0].line, 9);
  EXPECT_EQ(issues[1].line, 9);
  EXPECT_EQ(issues[2].line, 11);
  EXPECT_NE(issues[2].message.find("accept_as_guest"), std::string::npos);
  EXPECT_EQ(issues[3].line, 13);
  EXPECT_EQ(issues[4].line, 15);
}

TEST(ReviewConfig, SlaMustBeATable) {
  const auto issues = issues_of(kBase + "[review]\nsla = \"48h\"\n");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].line, 9);
  EXPECT_NE(issues[0].message.find("a table"), std::string::npos);
}

TEST(ListenAddress, Forms) {
  EXPECT_TRUE(parse_listen_address("127.0.0.1:8080"));
  EXPECT_TRUE(parse_listen_address("0.0.0.0:1"));
  EXPECT_TRUE(parse_listen_address("[::1]:65535"));
  EXPECT_FALSE(parse_listen_address("::1:80"));
  EXPECT_FALSE(parse_listen_address("host.example:80"));
  EXPECT_FALSE(parse_listen_address("127.0.0.1:"));
  EXPECT_FALSE(parse_listen_address("127.0.0.1:65536"));
  EXPECT_FALSE(parse_listen_address(""));
}

}  // namespace
}  // namespace casedesk::config
