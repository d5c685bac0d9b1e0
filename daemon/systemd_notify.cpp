#include "daemon/systemd_notify.hpp"

#include <systemd/sd-daemon.h>

#include <string>

namespace casedesk::daemon::systemd {
namespace {

// Newlines would start another assignment in the datagram.
std::string one_line(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c == '\n' || c == '\r') c = ' ';
  return out;
}

void send(std::string_view head, std::string_view status) {
  std::string msg(head);
  if (!status.empty()) {
    if (!msg.empty()) msg += '\n';
    msg += "STATUS=" + one_line(status);
  }
  // unset_environment = 0: later notifications (watchdog, reload) need $NOTIFY_SOCKET too.
  // Failures are ignored: notification is best effort.
  (void)sd_notify(0, msg.c_str());
}

}  // namespace

void notify_ready(std::string_view status) { send("READY=1", status); }
void notify_reloading(std::string_view status) { send("RELOADING=1", status); }
void notify_stopping(std::string_view status) { send("STOPPING=1", status); }
void notify_status(std::string_view status) { send("", status); }
void notify_watchdog() { send("WATCHDOG=1", ""); }

std::optional<std::chrono::microseconds> watchdog_ping_interval() {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds(usec / 2);
}

}  // namespace casedesk::daemon::systemd
