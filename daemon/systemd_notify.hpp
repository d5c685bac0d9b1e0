#pragma once
// Service-manager notifications (sd_notify): readiness, status lines, watchdog keep-alives.
//
// Without systemd (no $NOTIFY_SOCKET) every call is a no-op, so the daemon runs the same by hand,
// under a test harness or in a container. Thread-safe: sd_notify only writes one datagram.

#include <chrono>
#include <optional>
#include <string_view>

namespace casedesk::daemon::systemd {

// READY=1 with a STATUS= line: the store is open and the first login worked (once per start,
// and again after each reload).
void notify_ready(std::string_view status);
// RELOADING=1 with a STATUS= line; follow with notify_ready().
void notify_reloading(std::string_view status);
// STOPPING=1 with a STATUS= line.
void notify_stopping(std::string_view status);
// A STATUS= line alone (shown by `systemctl status`).
void notify_status(std::string_view status);
// WATCHDOG=1.
void notify_watchdog();

// How often to send WATCHDOG=1 (half of WatchdogSec=), or nullopt when no watchdog is set up for
// this process.
std::optional<std::chrono::microseconds> watchdog_ping_interval();

}  // namespace casedesk::daemon::systemd
