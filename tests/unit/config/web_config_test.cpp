// [web] and [metrics] hardening keys (issue 12 items 6, 7, 9): defaults, values, and the refusal of
// a non-loopback listener without TLS proxy / allow_insecure / metrics token, each with file:line.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace casedesk::config {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const fs::path kSource = "/srv/casedesk/casedesk.toml";

// Lines 1-7; [web] starts at line 8 when appended.
const std::string kBase =
    "[imap]\n"
    "url = \"imaps://mail.example.test/INBOX\"\n"
    "username = \"intake@example.test\"\n"
    "password = \"hunter2\"\n"
    "[smtp]\n"
    "url = \"smtps://mail.example.test\"\n"
    "from = \"Coding Desk <desk@example.test>\"\n";

std::vector<ConfigIssue> issues_of(const std::string& text) {
  try {
    load_config_from_string(text, kSource);
  } catch (const ConfigError& e) {
    return e.issues();
  }
  ADD_FAILURE() << "expected a ConfigError for:\n" << text;
  return {};
}

void expect_one_issue(const std::string& text, int line, const std::string& part) {
  const auto issues = issues_of(text);
  ASSERT_EQ(issues.size(), 1u) << (issues.empty() ? "" : issues[0].to_string());
  EXPECT_EQ(issues[0].line, line) << issues[0].to_string();
  EXPECT_EQ(issues[0].file, kSource.string());
  EXPECT_NE(issues[0].message.find(part), std::string::npos) << issues[0].to_string();
}

TEST(AdversarialWebConfig, DefaultsBoundWhatOneClientHolds) {
  const auto c = load_config_from_string(kBase, kSource);
  EXPECT_EQ(c.web.max_connections, 512);
  EXPECT_EQ(c.web.max_connections_per_client, 32);
  EXPECT_EQ(c.web.header_timeout, 10s);
  EXPECT_EQ(c.web.body_timeout, 30s);
  EXPECT_TRUE(c.web.trusted_proxies.empty());
  EXPECT_FALSE(c.web.tls_proxy);
  EXPECT_FALSE(c.web.allow_insecure);
  EXPECT_TRUE(c.metrics.token_file.empty());
}

TEST(AdversarialWebConfig, ReadsTheNewKeys) {
  const auto c = load_config_from_string(kBase +
                                             "[web]\n"
                                             "max_connections = 1000\n"
                                             "max_connections_per_client = 16\n"
                                             "header_timeout = \"5s\"\n"
                                             "body_timeout = \"1m\"\n"
                                             "trusted_proxies = [\"10.0.0.5\", \"::1\"]\n"
                                             "tls_proxy = true\n"
                                             "listen = \"0.0.0.0:8080\"\n",
                                         kSource);
  EXPECT_EQ(c.web.max_connections, 1000);
  EXPECT_EQ(c.web.max_connections_per_client, 16);
  EXPECT_EQ(c.web.header_timeout, 5s);
  EXPECT_EQ(c.web.body_timeout, 60s);
  EXPECT_EQ(c.web.trusted_proxies, (std::vector<std::string>{"10.0.0.5", "::1"}));
  EXPECT_TRUE(c.web.tls_proxy);
}

TEST(AdversarialWebConfig, PublicListenerNeedsTlsProxyOrAllowInsecure) {
  // line 8 [web], line 9 listen
  expect_one_issue(kBase + "[web]\nlisten = \"0.0.0.0:8080\"\n", 9, "web.listen: \"0.0.0.0:8080\" is not a loopback");
  expect_one_issue(kBase + "[web]\nenabled = true\nlisten = \"192.0.2.10:80\"\ntls_proxy = false\n", 10,
                   "web.tls_proxy = true");
  EXPECT_NO_THROW(load_config_from_string(kBase + "[web]\nlisten = \"0.0.0.0:8080\"\ntls_proxy = true\n", kSource));
  EXPECT_NO_THROW(load_config_from_string(kBase + "[web]\nlisten = \"0.0.0.0:8080\"\nallow_insecure = true\n", kSource));
  EXPECT_NO_THROW(load_config_from_string(kBase + "[web]\nlisten = \"[::1]:8080\"\n", kSource));
  EXPECT_NO_THROW(load_config_from_string(kBase + "[web]\nlisten = \"localhost:8080\"\n", kSource));
  // A disabled UI listens nowhere.
  EXPECT_NO_THROW(load_config_from_string(kBase + "[web]\nenabled = false\nlisten = \"0.0.0.0:8080\"\n", kSource));
}

TEST(AdversarialWebConfig, BadValuesNameTheirLine) {
  expect_one_issue(kBase + "[web]\ntrusted_proxies = [\"10.0.0.5\",\n  \"proxy.example\"]\n", 10,
                   "\"proxy.example\" is not an IP address");
  expect_one_issue(kBase + "[web]\ntrusted_proxies = \"10.0.0.5\"\n", 9, "expected an array");
  expect_one_issue(kBase + "[web]\ntrusted_proxies = [5]\n", 9, "expected an array of IP addresses");
  expect_one_issue(kBase + "[web]\nmax_connections = 0\n", 9, "web.max_connections: must be between");
  expect_one_issue(kBase + "[web]\nmax_connections = 10\nmax_connections_per_client = 11\n", 10,
                   "must not exceed web.max_connections");
  expect_one_issue(kBase + "[web]\nheader_timeout = \"soon\"\n", 9, "web.header_timeout: invalid duration");
  expect_one_issue(kBase + "[web]\nbody_timeout = \"0s\"\n", 9, "web.body_timeout: must be greater than zero");
  expect_one_issue(kBase + "[web]\ntls_proxy = \"yes\"\n", 9, "web.tls_proxy: expected a boolean");
}

class TokenFile {
 public:
  TokenFile(const std::string& name, const std::string& content) {
    path_ = fs::temp_directory_path() / ("casedesk-metrics-" + name + "-" + std::to_string(::getpid()));
    std::ofstream(path_) << content;
  }
  ~TokenFile() { fs::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

TEST(AdversarialWebConfig, PublicMetricsNeedABearerTokenFile) {
  // line 8 [metrics], line 9 listen
  expect_one_issue(kBase + "[metrics]\nlisten = \"0.0.0.0:9464\"\n", 9,
                   "metrics.listen: \"0.0.0.0:9464\" is not a loopback address; set metrics.token_file");
  EXPECT_NO_THROW(load_config_from_string(kBase + "[metrics]\nenabled = false\nlisten = \"0.0.0.0:9464\"\n", kSource));
  TokenFile token("token", "s3cret-token\n");
  const auto c = load_config_from_string(
      kBase + "[metrics]\nlisten = \"0.0.0.0:9464\"\ntoken_file = \"" + token.path() + "\"\n", kSource);
  EXPECT_EQ(c.metrics.token, "s3cret-token");
  EXPECT_EQ(c.metrics.token_file, token.path());
  expect_one_issue(kBase + "[metrics]\nlisten = \"0.0.0.0:9464\"\ntoken_file = \"/nonexistent/token\"\n", 10,
                   "metrics.token_file: cannot read /nonexistent/token");
  TokenFile empty("empty", "\n");
  expect_one_issue(kBase + "[metrics]\ntoken_file = \"" + empty.path() + "\"\n", 9, "is empty");
}

}  // namespace
}  // namespace casedesk::config
