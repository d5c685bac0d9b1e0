#pragma once
// Process-wide logging (spdlog) to stderr.
//
// Under systemd (stderr is the journal stream named by $JOURNAL_STREAM) lines carry no timestamp
// of their own and start with a syslog priority prefix ("<3>" error, "<4>" warning, "<6>" info,
// "<7>" debug), which journald turns into the entry's PRIORITY. Elsewhere lines start with an ISO
// timestamp and the level name. The level comes from $SPDLOG_LEVEL (default info).

namespace casedesk::daemon {

// Installs the default logger. Call once from main, before any thread logs.
void setup_logging();

// true when stderr is connected to the journal ($JOURNAL_STREAM matches stderr's device:inode).
bool stderr_is_journal();

}  // namespace casedesk::daemon
