// /metrics rendering, /healthz verdicts, and the retention helpers of the maintenance commands.
#include "daemon/metrics.hpp"

#include <gtest/gtest.h>

#include <string>

#include "daemon/maintenance_commands.hpp"

using casedesk::daemon::evaluate_health;
using casedesk::daemon::format_duration;
using casedesk::daemon::Histogram;
using casedesk::daemon::HttpRequest;
using casedesk::daemon::LinkState;
using casedesk::daemon::LiveState;
using casedesk::daemon::MetricsEndpoint;
using casedesk::daemon::render_metrics;
using casedesk::daemon::retention_policy;
using casedesk::queue::Store;
using casedesk::queue::StoreOptions;

namespace {
constexpr std::int64_t kNow = 1795702500;

StoreOptions memory() {
  StoreOptions o;
  o.path = ":memory:";
  return o;
}

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}
}  // namespace

TEST(Histogram, BucketsAreCumulativeWithInf) {
  Histogram h({1, 5, 10});
  for (double v : {0.2, 1.0, 3.0, 7.0, 50.0}) h.observe(v);
  auto s = h.snapshot();
  EXPECT_EQ(s.cumulative, (std::vector<std::uint64_t>{2, 3, 4, 5}));
  EXPECT_EQ(s.count, 5u);
  EXPECT_DOUBLE_EQ(s.sum, 61.2);
}

TEST(Health, ReasonsInOrderOfImportance) {
  LiveState live;
  EXPECT_EQ(evaluate_health(live, kNow, 300).reason, "starting: no pass has finished yet");
  live.last_pass_at = kNow;
  live.last_intake_ok_at = kNow;
  live.imap = LinkState::up;
  live.smtp = LinkState::up;
  EXPECT_TRUE(evaluate_health(live, kNow, 300).ok);
  live.smtp = LinkState::down;
  live.set_errors("", "connection refused");
  EXPECT_EQ(evaluate_health(live, kNow, 300).reason, "SMTP server unusable: connection refused");
  live.imap = LinkState::down;
  live.set_errors("login failed", "connection refused");
  auto h = evaluate_health(live, kNow, 300);
  EXPECT_FALSE(h.ok);
  EXPECT_EQ(h.reason, "IMAP server unusable: login failed");
  live.imap = LinkState::up;
  live.smtp = LinkState::up;
  EXPECT_EQ(evaluate_health(live, kNow + 301, 300).reason, "no successful intake pass for 301 s (limit 300 s)");
  live.pass_running = true;
  live.pass_started_at = kNow;
  EXPECT_EQ(evaluate_health(live, kNow + 400, 300).reason, "a pass has been running for 400 s");
}

TEST(Metrics, RendersStoreCountersAndLiveState) {
  Store store(memory());
  store.add_counter("cases_created", 7, kNow);
  store.add_counter("intake_passes_ok", 3, kNow - 5);
  LiveState live;
  live.imap = LinkState::up;
  live.smtp = LinkState::down;
  live.intake_latency.observe(0.7);
  const std::string text = render_metrics(store, live, kNow, "1.2.3");
  EXPECT_TRUE(has_line(text, "# TYPE casedesk_cases_created_total counter"));
  EXPECT_TRUE(has_line(text, "casedesk_cases_created_total 7"));
  EXPECT_TRUE(has_line(text, "casedesk_last_successful_intake_time_seconds " + std::to_string(kNow - 5)));
  EXPECT_TRUE(has_line(text, "casedesk_cases{status=\"new\"} 0"));
  EXPECT_TRUE(has_line(text, "casedesk_outbox_messages{state=\"pending\"} 0"));
  EXPECT_TRUE(has_line(text, "casedesk_imap_up 1"));
  EXPECT_TRUE(has_line(text, "casedesk_smtp_up 0"));
  EXPECT_TRUE(has_line(text, "casedesk_intake_latency_seconds_bucket{le=\"0.5\"} 0"));
  EXPECT_TRUE(has_line(text, "casedesk_intake_latency_seconds_bucket{le=\"1\"} 1"));
  EXPECT_TRUE(has_line(text, "casedesk_intake_latency_seconds_bucket{le=\"+Inf\"} 1"));
  EXPECT_TRUE(has_line(text, "casedesk_intake_latency_seconds_count 1"));
  EXPECT_TRUE(has_line(text, "casedesk_build_info{version=\"1.2.3\"} 1"));
}

TEST(Metrics, EndpointRoutesAndRefusesOtherMethods) {
  auto live = std::make_shared<LiveState>();
  MetricsEndpoint ep(memory(), live, "1.2.3");
  HttpRequest req;
  req.method = "GET";
  req.target = "/healthz";
  EXPECT_EQ(ep.handle(req).status, 503);
  req.target = "/metrics?x=1";
  auto res = ep.handle(req);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.content_type, "text/plain; version=0.0.4; charset=utf-8");
  req.target = "/other";
  EXPECT_EQ(ep.handle(req).status, 404);
  req.target = "/metrics";
  req.method = "POST";
  EXPECT_EQ(ep.handle(req).status, 405);
}

// Issue 12 item 9: with [metrics] token_file, /metrics needs the Bearer token; /healthz stays open.
TEST(AdversarialMetrics, TokenRequiresBearerAuthentication) {
  auto live = std::make_shared<LiveState>();
  MetricsEndpoint ep(memory(), live, "1.2.3");
  ep.set_token("s3cret");
  HttpRequest req;
  req.method = "GET";
  req.target = "/metrics";
  auto refused = ep.handle(req);
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(refused.body.find("casedesk_"), std::string::npos);
  req.headers["authorization"] = "Bearer wrong";
  EXPECT_EQ(ep.handle(req).status, 401);
  req.headers["authorization"] = "Bearer s3cre";
  EXPECT_EQ(ep.handle(req).status, 401);
  req.headers["authorization"] = "Basic s3cret";
  EXPECT_EQ(ep.handle(req).status, 401);
  req.headers["authorization"] = "Bearer s3cret";
  EXPECT_EQ(ep.handle(req).status, 200);
  req.headers.clear();
  req.target = "/healthz";
  EXPECT_EQ(ep.handle(req).status, 503);  // not 401: health is open
}

TEST(Retention, PolicyFromConfig) {
  casedesk::config::RetentionConfig r;  // raw_mail 365d, closed_cases 0
  auto p = retention_policy(r, kNow);
  ASSERT_TRUE(p.raw_mail_before);
  EXPECT_EQ(*p.raw_mail_before, kNow - 365 * 86400);
  EXPECT_FALSE(p.closed_cases_before);
  EXPECT_EQ(p.raw_mail_rule, "retention raw_mail = 365d");
  EXPECT_EQ(p.closed_cases_rule, "retention closed_cases = 0");
}

TEST(Retention, DurationsPrintAsTheConfigWritesThem) {
  using namespace std::chrono;
  EXPECT_EQ(format_duration(hours(24 * 365)), "365d");
  EXPECT_EQ(format_duration(hours(36)), "36h");
  EXPECT_EQ(format_duration(minutes(5)), "5m");
  EXPECT_EQ(format_duration(seconds(90)), "90s");
  EXPECT_EQ(format_duration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(format_duration(milliseconds(0)), "0");
}
