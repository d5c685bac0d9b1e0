#include "daemon/curl_handle.hpp"

#include <stdexcept>

namespace casedesk::daemon {

CurlSlist::CurlSlist(const std::vector<std::string>& items) {
  for (const auto& i : items) append(i);
}

void CurlSlist::append(const std::string& item) {
  curl_slist* grown = curl_slist_append(list_.get(), item.c_str());
  if (!grown) throw std::bad_alloc();
  (void)list_.release();  // curl_slist_append returned the same (now longer) list head
  list_.reset(grown);
}

CurlGlobal::CurlGlobal() {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw std::runtime_error("curl_global_init failed");
}
CurlGlobal::~CurlGlobal() { curl_global_cleanup(); }

SecretString::~SecretString() {
  volatile char* p = s_.data();
  for (std::size_t i = 0; i < s_.size(); ++i) p[i] = 0;
}

namespace {
int abort_when_stopped(void* clientp, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* stop = static_cast<const std::atomic<bool>*>(clientp);
  return stop && stop->load() ? 1 : 0;
}
}  // namespace

std::string endpoint_url(const config::Endpoint& e) {
  const std::string host = e.host.find(':') != std::string::npos ? "[" + e.host + "]" : e.host;
  return e.scheme + "://" + host + ":" + std::to_string(e.port);
}

void apply_transfer_options(CURL* h, const config::Endpoint& e, const std::string& ca_file,
                            std::chrono::milliseconds timeout, const std::atomic<bool>* stop, char* error_buffer) {
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, ca_file.c_str());
  if (e.tls == config::TlsMode::starttls_required) curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
  if (e.tls == config::TlsMode::starttls_optional) curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout.count());
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout.count());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  error_buffer[0] = 0;
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, abort_when_stopped);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, stop);
}

void apply_login(CURL* h, const std::string& username, const std::string& password, const std::string* bearer) {
  curl_easy_setopt(h, CURLOPT_USERNAME, username.c_str());
  if (bearer) {
    curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER, bearer->c_str());
  } else {
    curl_easy_setopt(h, CURLOPT_PASSWORD, password.c_str());
  }
}

}  // namespace casedesk::daemon
