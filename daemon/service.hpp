#pragma once
// The casedesk service: intake + outbox passes, once (`serve --once`) or on a poll timer in a
// Boost.Asio event loop until SIGINT/SIGTERM.
//
// Under `run()` the service also: tells systemd when it is ready (the store is open and the first
// IMAP login worked), keeps it informed (STATUS=) and pings its watchdog from the event loop;
// re-reads the config file and templates on SIGHUP (an invalid file is refused and the running
// config kept; a changed store path needs a restart); serves /metrics and /healthz when
// [metrics] is enabled; and applies [retention] after the first pass and then once a day.
//
// Threading: the event loop (timers, signals, IDLE, HTTP accept) runs on the calling thread;
// passes, reloads and retention runs run on one worker thread, which alone owns the Store and the
// mail connections. /metrics reads the store through its own connection.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>

#include "config/config.hpp"

namespace casedesk::daemon {

// Process exit codes (sysexits.h).
inline constexpr int kExitOk = 0;
inline constexpr int kExitSoftware = 70;
inline constexpr int kExitTempFail = 75;  // a mail server could not be reached or logged into
inline constexpr int kExitConfig = 78;

struct LiveState;  // daemon/metrics.hpp

// Another daemon holds the lock of this mailbox.
class LockRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct PassOutcome {
  bool imap_unreachable = false;
  bool smtp_unreachable = false;
  bool cancelled = false;
  std::optional<std::int64_t> next_outbox_attempt;  // Unix seconds; wake up then even without new mail
  int created = 0;  // new cases
  int sent = 0;     // replies accepted by the SMTP server
};

class Service {
 public:
  // @throw templates::TemplateError (bad override template), queue::StoreError (store unusable),
  //        LockRefused (another daemon serves this mailbox)
  explicit Service(config::Config config);
  ~Service();

  // One intake pass, then one send attempt for every due outbox message.
  // 0 when it ran, 75 when the IMAP or SMTP server could not be reached or logged into.
  int run_once();

  // Passes every poll_interval until SIGINT/SIGTERM. Returns 0 after a clean stop.
  int run();

 private:
  struct Worker;
  struct Loop;
  config::Config config_;  // the running configuration, as the event loop sees it
  std::atomic<bool> stop_{false};
  std::shared_ptr<LiveState> live_;
  std::unique_ptr<Worker> worker_;
};

}  // namespace casedesk::daemon
