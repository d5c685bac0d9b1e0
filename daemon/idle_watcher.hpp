#pragma once
// IMAP IDLE (RFC 2177) on its own connection: libcurl logs in (CONNECT_ONLY), then we speak
// CAPABILITY / SELECT / IDLE / DONE ourselves with curl_easy_send/recv, and Asio tells us when the
// socket is readable. Each "* N EXISTS" calls on_change; the fetching happens elsewhere.
//
// Threading: construct, start, stop and destroy on the io_context's thread; callbacks run there.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>

#include "daemon/imap_client.hpp"

namespace casedesk::daemon {

class IdleWatcher {
 public:
  IdleWatcher(boost::asio::io_context& io, ImapOptions options, std::function<void()> on_change,
              std::function<void(const std::string& reason)> on_failure);
  ~IdleWatcher();
  IdleWatcher(const IdleWatcher&) = delete;
  IdleWatcher& operator=(const IdleWatcher&) = delete;

  // Connects, logs in, checks that the server offers IDLE, selects the mailbox and enters IDLE.
  // Blocks for at most a few times options.timeout. Returns the reason on failure (nothing runs
  // then); on success the watcher runs until stop() or a failure (on_failure is called once).
  std::optional<std::string> start();
  void stop();
  bool active() const noexcept;

  // IDLE is re-issued this often (RFC 2177: servers may drop an IDLE after 29 minutes).
  static constexpr std::chrono::minutes kReissueEvery{25};

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace casedesk::daemon
