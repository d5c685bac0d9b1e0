#pragma once
// The casedesk service: intake + outbox passes, once (`serve --once`) or on a poll timer in a
// Boost.Asio event loop until SIGINT/SIGTERM.
//
// Threading: the event loop (timer, signals) runs on the calling thread; passes run on one worker
// thread, which alone owns the Store and the mail connections.

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
  config::Config config_;
  std::atomic<bool> stop_{false};
  std::unique_ptr<Worker> worker_;
};

}  // namespace casedesk::daemon
