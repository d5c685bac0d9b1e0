#pragma once
// OAuth2 bearer tokens for XOAUTH2 logins (IMAP, SMTP, IDLE), read when connecting because
// tokens expire: from a file (re-read each time) or from a command's stdout (run with a deadline).
// The token text never appears in a log line or an error message.
//
// Thread-safe: one TokenSource is shared by the fetching client and the IDLE connection.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace casedesk::daemon {

class TokenSource {
 public:
  // `label` names the source in messages ("imap", "smtp"). Exactly one of file/command is set.
  TokenSource(std::string label, std::string file, std::string command, std::chrono::milliseconds timeout);

  // nullptr when neither file nor command is set (password login).
  static std::shared_ptr<TokenSource> make(std::string label, const std::string& file, const std::string& command,
                                           std::chrono::milliseconds timeout);

  // The token to log in with: the cached one, or a freshly read one when none is cached.
  // @throw MailError(unreachable) when the file cannot be read, the command fails or times out,
  //        or the result is empty or contains control characters (the message has no token text).
  std::string token();
  // Drops the cached token and reads it again (after the server refused a login). @throw as token()
  std::string refresh();

  // Login bookkeeping. A failure (after the one retry) is logged at error level once per outage
  // and counted; a success ends the outage.
  void login_failed(const std::string& reason);
  void login_succeeded();
  // Failed logins since the last call (for the store's oauth2_failures counter).
  std::int64_t take_failures();

  const std::string& label() const noexcept { return label_; }

 private:
  std::string read_locked();
  void failed_locked(const std::string& reason);
  std::string where() const;

  std::string label_;
  std::string file_;
  std::string command_;
  std::chrono::milliseconds timeout_;
  std::mutex mutex_;
  std::string cached_;
  bool in_outage_ = false;
  std::int64_t failures_ = 0;
};

// Runs `command` with /bin/sh -c (stdin /dev/null, stderr inherited) and returns its stdout.
// Kills its process group after `timeout`. @throw MailError(unreachable) on failure, timeout or a
// non-zero exit status.
std::string run_token_command(const std::string& command, std::chrono::milliseconds timeout);

// Trims blanks and line breaks at both ends; empty if anything else below 0x20 (or 0x7f) remains.
std::string clean_token(const std::string& raw);

}  // namespace casedesk::daemon
