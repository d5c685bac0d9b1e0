#pragma once
// Monitoring: what the running daemon knows about itself (LiveState), rendered as Prometheus text
// (GET /metrics) together with the figures kept in the store, and a health verdict (GET /healthz:
// 200 "ok", or 503 with the reason).
//
// Threading: LiveState is written by the event loop and the worker and read by HTTP handler
// threads; every member is atomic or guarded by its mutex. MetricsEndpoint::handle is thread-safe
// (it serialises its own SQLite connection).

#include <array>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "daemon/http_server.hpp"
#include "queue/store.hpp"

namespace casedesk::daemon {

// A Prometheus histogram with fixed upper bounds (seconds).
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);
  struct Snapshot {
    std::vector<double> upper_bounds;
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  mutable std::mutex mu_;
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;  // per bucket, the last one is +Inf
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

// Connection state of a mail server as the last pass saw it.
enum class LinkState : int { unknown = -1, down = 0, up = 1 };

struct LiveState {
  LiveState();

  std::atomic<std::int64_t> started_at{0};        // Unix seconds
  std::atomic<LinkState> imap{LinkState::unknown};
  std::atomic<LinkState> smtp{LinkState::unknown};
  std::atomic<bool> idle_active{false};
  std::atomic<bool> ready{false};                 // READY=1 sent: store open, first login worked
  std::atomic<bool> pass_running{false};
  std::atomic<std::int64_t> pass_started_at{0};
  std::atomic<std::int64_t> last_pass_at{0};        // when the last pass finished
  std::atomic<std::int64_t> last_intake_ok_at{0};   // when the last pass with a working IMAP login finished
  std::atomic<std::int64_t> passes_failed{0};       // passes that threw (store failures)
  std::atomic<std::int64_t> reloads_ok{0};
  std::atomic<std::int64_t> reloads_failed{0};
  std::atomic<bool> last_reload_ok{true};
  std::atomic<std::int64_t> last_reload_at{0};
  std::atomic<std::int64_t> retention_runs{0};
  std::atomic<std::int64_t> retention_last_run_at{0};
  std::atomic<std::int64_t> retention_raw_messages{0};  // removed by the daemon's runs since start
  std::atomic<std::int64_t> retention_cases{0};
  // Seconds from the server's INTERNALDATE (1 s resolution) to the case's commit.
  Histogram intake_latency;

  void set_errors(std::string imap_error, std::string smtp_error);
  std::pair<std::string, std::string> errors() const;

 private:
  mutable std::mutex mu_;
  std::string imap_error_;
  std::string smtp_error_;
};

struct Health {
  bool ok = false;
  std::string reason;  // one line; "ok" when healthy
};

// Healthy when a pass has finished since start, the last pass reached both servers, and intake
// worked within `stale_after` seconds (a pass stuck or a loop that stopped turns it unhealthy).
Health evaluate_health(const LiveState& live, std::int64_t now, std::int64_t stale_after);

// Prometheus text exposition format (version 0.0.4).
std::string render_metrics(queue::Store& store, const LiveState& live, std::int64_t now, std::string_view version);

// The /metrics and /healthz handler, with its own read connection to the store.
class MetricsEndpoint {
 public:
  MetricsEndpoint(queue::StoreOptions store, std::shared_ptr<const LiveState> live, std::string version);
  // The health verdict's staleness limit; changes with a reload (poll interval).
  void set_stale_after(std::int64_t seconds) { stale_after_ = seconds; }
  // Non-empty: /metrics needs "Authorization: Bearer TOKEN" ([metrics] token_file), else 401.
  // /healthz stays open (it tells only healthy or not). Thread-safe.
  void set_token(std::string token);
  HttpResponse handle(const HttpRequest& request);

 private:
  bool authorized(const HttpRequest& request);

  queue::StoreOptions store_options_;
  std::shared_ptr<const LiveState> live_;
  std::string version_;
  std::atomic<std::int64_t> stale_after_{900};
  std::mutex token_mu_;
  std::string token_;
  std::mutex store_mu_;
  std::unique_ptr<queue::Store> store_;  // opened at the first scrape, reopened after a failure
};

}  // namespace casedesk::daemon
