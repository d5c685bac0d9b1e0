#pragma once
// RAII owners for libcurl handles (move-only, one owner each). curl_global_init is done once in
// main() before any thread starts (see CurlGlobal).

#include <curl/curl.h>

#include <atomic>
#include <chrono>

#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace casedesk::daemon {

struct CurlEasyDeleter {
  void operator()(CURL* h) const noexcept { curl_easy_cleanup(h); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;

struct CurlSlistDeleter {
  void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};

// A curl_slist built from strings; owns the list.
class CurlSlist {
 public:
  CurlSlist() = default;
  explicit CurlSlist(const std::vector<std::string>& items);
  void append(const std::string& item);
  curl_slist* get() const noexcept { return list_.get(); }

 private:
  std::unique_ptr<curl_slist, CurlSlistDeleter> list_;
};

// curl_global_init/cleanup for the life of main().
class CurlGlobal {
 public:
  CurlGlobal();
  ~CurlGlobal();
  CurlGlobal(const CurlGlobal&) = delete;
  CurlGlobal& operator=(const CurlGlobal&) = delete;
};

// Zeroes a secret's bytes on destruction.
class SecretString {
 public:
  SecretString() = default;
  explicit SecretString(std::string s) : s_(std::move(s)) {}
  ~SecretString();
  SecretString(const SecretString&) = default;
  SecretString& operator=(const SecretString&) = default;
  const std::string& str() const noexcept { return s_; }

 private:
  std::string s_;
};

// "imaps://host:993" (IPv6 hosts in brackets), without a trailing slash.
std::string endpoint_url(const config::Endpoint& endpoint);

// The options every mail transfer shares: TLS always verified (CA file if given; STARTTLS
// required or opportunistic per endpoint.tls), connect and total deadlines, no signals, an
// error buffer, and cancellation when *stop becomes true (the transfer ends with
// CURLE_ABORTED_BY_CALLBACK). `error_buffer` must hold CURL_ERROR_SIZE bytes and outlive the transfer.
void apply_transfer_options(CURL* handle, const config::Endpoint& endpoint, const std::string& ca_file,
                            std::chrono::milliseconds timeout, const std::atomic<bool>* stop, char* error_buffer);

// The login: username plus either a password or, when `bearer` is given, an OAuth2 bearer token
// (CURLOPT_XOAUTH2_BEARER, no password). libcurl 7.88 then authenticates with SASL XOAUTH2, or with
// OAUTHBEARER (RFC 7628) when the server offers that too - it prefers OAUTHBEARER and ignores a login
// option AUTH=XOAUTH2 for that choice, so none is set. libcurl copies the strings.
void apply_login(CURL* handle, const std::string& username, const std::string& password, const std::string* bearer);

}  // namespace casedesk::daemon
