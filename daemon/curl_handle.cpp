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

}  // namespace casedesk::daemon
