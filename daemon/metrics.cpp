#include "daemon/metrics.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

namespace casedesk::daemon {
namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Prometheus sample values: integers as such, other numbers with enough digits, never locale-dependent.
std::string num(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}
std::string num(std::int64_t v) { return std::to_string(v); }
std::string num(std::uint64_t v) { return std::to_string(v); }

// Label values: backslash, double quote and newline escaped.
std::string label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

class Writer {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void sample(std::string_view name, const std::string& value, std::string_view labels = {}) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }
  void gauge(std::string_view name, std::string_view help, const std::string& value) {
    family(name, "gauge", help);
    sample(name, value);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

// The store's counters (daemon/service.cpp counts them); the others are exported generically.
const std::map<std::string, std::string>& counter_help() {
  static const std::map<std::string, std::string> help = {
      {"mails_seen", "Messages seen in the intake mailbox, summed over passes."},
      {"cases_created", "Cases created from mail."},
      {"duplicates_skipped", "Mail that was already a case (same Message-ID, sender and date, or same bytes)."},
      {"quarantined", "Mail that could not become a case and was quarantined."},
      {"acks_suppressed", "New cases that got no acknowledgement (automated mail, sender cap, import)."},
      {"move_failures", "IMAP moves to the processed or failed folder that failed (retried)."},
      {"imported", "Old mail at the first start, stored without an acknowledgement."},
      {"too_large", "Mail larger than max_message_size, quarantined without fetching it."},
      {"bounces", "Delivery reports for our own replies."},
      {"intake_passes_ok", "Intake passes that reached the IMAP server."},
      {"replies_sent", "Replies accepted by the SMTP server."},
      {"send_failures_permanent", "Replies the SMTP server refused for good (5xx)."},
      {"send_failures_temporary", "Send attempts that failed temporarily and are retried."},
      {"oauth2_failures", "OAuth2 logins refused with a fresh token."},
      {"imap_outages", "Times the IMAP server became unusable."},
      {"smtp_outages", "Times the SMTP server became unusable."},
  };
  return help;
}

bool valid_metric_part(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

double link_value(LinkState s) { return s == LinkState::up ? 1 : 0; }

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)) {
  std::sort(bounds_.begin(), bounds_.end());
  counts_.assign(bounds_.size() + 1, 0);
}

void Histogram::observe(double value) {
  std::lock_guard lock(mu_);
  const auto i = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  ++counts_[i];
  sum_ += value;
  ++count_;
}

Histogram::Snapshot Histogram::snapshot() const {
  std::lock_guard lock(mu_);
  Snapshot s;
  s.upper_bounds = bounds_;
  std::uint64_t running = 0;
  for (auto c : counts_) {
    running += c;
    s.cumulative.push_back(running);
  }
  s.sum = sum_;
  s.count = count_;
  return s;
}

LiveState::LiveState() : intake_latency({0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}) {}

void LiveState::set_errors(std::string imap_error, std::string smtp_error) {
  std::lock_guard lock(mu_);
  imap_error_ = std::move(imap_error);
  smtp_error_ = std::move(smtp_error);
}

std::pair<std::string, std::string> LiveState::errors() const {
  std::lock_guard lock(mu_);
  return {imap_error_, smtp_error_};
}

Health evaluate_health(const LiveState& live, std::int64_t now, std::int64_t stale_after) {
  const auto [imap_error, smtp_error] = live.errors();
  if (live.last_pass_at == 0) {
    if (live.imap == LinkState::down) return {false, "IMAP server unusable: " + imap_error};
    return {false, "starting: no pass has finished yet"};
  }
  if (live.imap == LinkState::down) return {false, "IMAP server unusable: " + imap_error};
  if (live.smtp == LinkState::down) return {false, "SMTP server unusable: " + smtp_error};
  const std::int64_t since_intake = now - live.last_intake_ok_at;
  if (live.last_intake_ok_at == 0 || since_intake > stale_after) {
    if (live.pass_running)
      return {false, "a pass has been running for " + std::to_string(now - live.pass_started_at) + " s"};
    return {false, "no successful intake pass for " + std::to_string(since_intake) + " s (limit " +
                       std::to_string(stale_after) + " s)"};
  }
  return {true, "ok"};
}

std::string render_metrics(queue::Store& store, const LiveState& live, std::int64_t now, std::string_view version) {
  Writer w;
  w.family("casedesk_build_info", "gauge", "Version of the running casedesk.");
  w.sample("casedesk_build_info", "1", "version=\"" + label(version) + "\"");
  w.gauge("casedesk_start_time_seconds", "When the daemon started (Unix seconds).", num(live.started_at.load()));
  w.gauge("casedesk_ready", "1 once the store is open and the first IMAP login worked.", live.ready ? "1" : "0");

  // Counters kept in the store (they survive restarts, so they are true counters).
  std::int64_t last_intake_ok = 0;
  for (const auto& c : store.counters()) {
    if (c.name == "first_start_at") {
      w.gauge("casedesk_first_start_time_seconds", "When a daemon first started on this store (Unix seconds).",
              num(c.value));
      continue;
    }
    if (c.name == "intake_passes_ok") last_intake_ok = c.updated_at;
    if (!valid_metric_part(c.name)) continue;
    const std::string name = "casedesk_" + c.name + "_total";
    const auto& help = counter_help();
    auto it = help.find(c.name);
    w.family(name, "counter", it != help.end() ? it->second : "Counter " + c.name + " kept in the store.");
    w.sample(name, num(c.value));
  }
  w.gauge("casedesk_last_successful_intake_time_seconds",
          "When an intake pass last reached the IMAP server (Unix seconds, from the store; 0 = never).",
          num(last_intake_ok));

  const auto snap = store.snapshot();
  w.family("casedesk_cases", "gauge", "Cases by status.");
  std::map<std::string, std::int64_t> by_status;
  for (const char* s : {"new", "in_review", "waiting_on_submitter", "answered", "closed", "rejected"}) by_status[s] = 0;
  for (const auto& [status, n] : snap.cases_by_status) by_status[status] = n;
  for (const auto& [status, n] : by_status) w.sample("casedesk_cases", num(n), "status=\"" + label(status) + "\"");

  const auto ops = store.ops_snapshot(now);
  w.gauge("casedesk_cases_overdue", "Open cases (new, in_review) past their due time.", num(ops.overdue_cases));

  w.family("casedesk_outbox_messages", "gauge", "Replies in the outbox by state.");
  std::map<std::string, std::int64_t> by_state{{"pending", 0}, {"sent", 0}, {"failed", 0}};
  for (const auto& [state, n] : snap.outbox_by_state) by_state[state] = n;
  for (const auto& [state, n] : by_state) w.sample("casedesk_outbox_messages", num(n), "state=\"" + label(state) + "\"");
  w.gauge("casedesk_outbox_depth", "Replies waiting to be sent (pending).", num(ops.outbox_pending));
  w.gauge("casedesk_outbox_due", "Pending replies whose next attempt is due now.", num(ops.outbox_due));
  w.gauge("casedesk_outbox_oldest_due_age_seconds",
          "Age of the oldest pending reply that is due now (0 when none is).",
          num(ops.oldest_due_reply_at ? std::max<std::int64_t>(0, now - *ops.oldest_due_reply_at) : 0));
  w.gauge("casedesk_quarantined", "Quarantined mail not (yet) turned into a case.", num(snap.quarantined));
  w.gauge("casedesk_cases_reply_failed", "Cases with a reply (ack included) that failed permanently and was not retried.",
          num(snap.cases_reply_failed));

  w.gauge("casedesk_imap_up", "1 when the last pass logged in to the IMAP server.", num(link_value(live.imap)));
  w.gauge("casedesk_smtp_up", "1 when the last outbox pass could use the SMTP server.", num(link_value(live.smtp)));
  w.gauge("casedesk_imap_idle_active", "1 while an IMAP IDLE connection waits for new mail.",
          live.idle_active ? "1" : "0");
  w.gauge("casedesk_last_pass_time_seconds", "When the last intake+outbox pass finished (Unix seconds; 0 = none).",
          num(live.last_pass_at.load()));
  w.family("casedesk_passes_failed_total", "counter", "Passes that failed with a store error (since start).");
  w.sample("casedesk_passes_failed_total", num(live.passes_failed.load()));

  const auto h = live.intake_latency.snapshot();
  w.family("casedesk_intake_latency_seconds", "histogram",
           "From the mail's arrival on the IMAP server (INTERNALDATE, 1 s resolution) to its case being stored "
           "(since start).");
  for (std::size_t i = 0; i < h.upper_bounds.size(); ++i)
    w.sample("casedesk_intake_latency_seconds_bucket", num(h.cumulative[i]),
             "le=\"" + num(h.upper_bounds[i]) + "\"");
  w.sample("casedesk_intake_latency_seconds_bucket", num(h.cumulative.back()), "le=\"+Inf\"");
  w.sample("casedesk_intake_latency_seconds_sum", num(h.sum));
  w.sample("casedesk_intake_latency_seconds_count", num(h.count));

  w.family("casedesk_config_reloads_total", "counter", "Configuration reloads (SIGHUP) by result (since start).");
  w.sample("casedesk_config_reloads_total", num(live.reloads_ok.load()), "result=\"ok\"");
  w.sample("casedesk_config_reloads_total", num(live.reloads_failed.load()), "result=\"refused\"");
  w.gauge("casedesk_config_last_reload_successful", "0 when the last reload was refused (the old config runs).",
          live.last_reload_ok ? "1" : "0");
  w.gauge("casedesk_retention_last_run_time_seconds", "When the daemon last applied [retention] (0 = not yet).",
          num(live.retention_last_run_at.load()));
  return w.take();
}

MetricsEndpoint::MetricsEndpoint(queue::StoreOptions store, std::shared_ptr<const LiveState> live,
                                 std::string version)
    : store_options_(std::move(store)), live_(std::move(live)), version_(std::move(version)) {}

void MetricsEndpoint::set_token(std::string token) {
  std::lock_guard lock(token_mu_);
  token_ = std::move(token);
}

bool MetricsEndpoint::authorized(const HttpRequest& req) {
  std::string token;
  {
    std::lock_guard lock(token_mu_);
    token = token_;
  }
  if (token.empty()) return true;
  auto it = req.headers.find("authorization");
  if (it == req.headers.end()) return false;
  std::string_view v = it->second;
  constexpr std::string_view scheme = "bearer ";
  if (v.size() <= scheme.size()) return false;
  for (std::size_t i = 0; i < scheme.size(); ++i)
    if (static_cast<char>(std::tolower(static_cast<unsigned char>(v[i]))) != scheme[i]) return false;
  v.remove_prefix(scheme.size());
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  // Constant time over the token's length: a scraper's guess does not learn a prefix.
  if (v.size() != token.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < v.size(); ++i) diff |= static_cast<unsigned char>(v[i] ^ token[i]);
  return diff == 0;
}

HttpResponse MetricsEndpoint::handle(const HttpRequest& req) {
  HttpResponse res;
  const std::string path = req.target.substr(0, req.target.find('?'));
  if (path != "/metrics" && path != "/healthz" && path != "/") {
    res.status = 404;
    res.body = "not found; try /metrics or /healthz\n";
    return res;
  }
  if (req.method != "GET" && req.method != "HEAD") {
    res.status = 405;
    res.headers.emplace_back("Allow", "GET, HEAD");
    res.body = "method not allowed\n";
    return res;
  }
  res.headers.emplace_back("Cache-Control", "no-store");
  const std::int64_t now = unix_now();
  if (path == "/") {
    res.body = "casedesk " + version_ + ": /metrics /healthz\n";
    return res;
  }
  if (path == "/healthz") {
    const Health h = evaluate_health(*live_, now, stale_after_);
    res.status = h.ok ? 200 : 503;
    res.body = h.reason + "\n";
    return res;
  }
  if (!authorized(req)) {
    res.status = 401;
    res.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"casedesk metrics\"");
    res.body = "a Bearer token is required\n";
    return res;
  }
  std::lock_guard lock(store_mu_);
  try {
    if (!store_) store_ = std::make_unique<queue::Store>(store_options_);
    res.body = render_metrics(*store_, *live_, now, version_);
    res.content_type = "text/plain; version=0.0.4; charset=utf-8";
  } catch (const std::exception& e) {
    store_.reset();  // reopened by the next scrape
    spdlog::error("metrics: {}", e.what());
    res.status = 500;
    res.body = "store unavailable\n";
  }
  return res;
}

}  // namespace casedesk::daemon
