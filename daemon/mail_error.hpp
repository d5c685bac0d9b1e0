#pragma once
// The daemon's error type for mail-server conversations.

#include <stdexcept>
#include <string>

namespace casedesk::daemon {

class MailError : public std::runtime_error {
 public:
  enum class Kind {
    unreachable,  // connect, TLS, login or timeout: the server could not be used at all
    command,      // the server refused one command (NO/BAD) or one message is missing
    cancelled,    // stopped by shutdown
  };
  MailError(Kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  Kind kind() const noexcept { return kind_; }

 private:
  Kind kind_;
};

}  // namespace casedesk::daemon
