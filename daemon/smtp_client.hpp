#pragma once
// A blocking SMTP client over libcurl: one message per call, a deadline on each.
// Not thread-safe: use one SmtpClient per thread.

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "daemon/curl_handle.hpp"
#include "daemon/oauth2_token.hpp"

namespace casedesk::daemon {

struct SmtpOptions {
  config::Endpoint endpoint;
  std::string username;  // empty: no AUTH
  std::string password;
  std::string ca_file;
  std::chrono::milliseconds timeout{60000};
  const std::atomic<bool>* stop = nullptr;
  std::shared_ptr<TokenSource> oauth2 = nullptr;  // set: XOAUTH2 with its token instead of the password
};

// The outcome of one send, as a value (network failure is routine here).
struct SendResult {
  bool ok = false;
  bool permanent = false;    // 5xx: retrying will not help
  bool unreachable = false;  // could not connect, secure or log in
  long smtp_code = 0;        // last SMTP reply code, 0 if none
  std::string message;       // no mail content, no addresses
  explicit operator bool() const noexcept { return ok; }
};

class SmtpClient {
 public:
  explicit SmtpClient(SmtpOptions options);
  SendResult send(const std::string& mail_from, const std::string& rcpt_to, const std::string& data);

 private:
  SendResult send_once(const std::string& mail_from, const std::string& rcpt_to, const std::string& data,
                       const std::string* bearer, CURLcode& rc);

  SmtpOptions options_;
  CurlEasy curl_;
  char error_buffer_[CURL_ERROR_SIZE] = {};
};

}  // namespace casedesk::daemon
