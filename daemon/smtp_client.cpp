#include "daemon/smtp_client.hpp"

#include <algorithm>
#include <cstring>

namespace casedesk::daemon {
namespace {

struct UploadState {
  const std::string* data;
  std::size_t offset = 0;
};

size_t read_upload(char* buffer, size_t size, size_t nitems, void* userp) {
  auto* st = static_cast<UploadState*>(userp);
  std::size_t n = std::min(size * nitems, st->data->size() - st->offset);
  std::memcpy(buffer, st->data->data() + st->offset, n);
  st->offset += n;
  return n;
}

size_t discard(char*, size_t size, size_t nmemb, void*) { return size * nmemb; }

}  // namespace

SmtpClient::SmtpClient(SmtpOptions options) : options_(std::move(options)), curl_(curl_easy_init()) {}

SendResult SmtpClient::send(const std::string& mail_from, const std::string& rcpt_to, const std::string& data) {
  if (!options_.oauth2 || options_.username.empty()) {
    CURLcode rc = CURLE_OK;
    return send_once(mail_from, rcpt_to, data, nullptr, rc);
  }
  SecretString bearer;
  try {
    bearer = SecretString(options_.oauth2->token());
  } catch (const std::exception& e) {  // the token source failed: like a refused login, retried later
    SendResult result;
    result.unreachable = true;
    result.message = e.what();
    return result;
  }
  CURLcode rc = CURLE_OK;
  SendResult result = send_once(mail_from, rcpt_to, data, &bearer.str(), rc);
  if (rc == CURLE_LOGIN_DENIED) {
    // The token may have expired since it was read: read it again and retry the login once.
    try {
      bearer = SecretString(options_.oauth2->refresh());
    } catch (const std::exception& e) {
      result.message = e.what();
      return result;
    }
    result = send_once(mail_from, rcpt_to, data, &bearer.str(), rc);
    if (rc == CURLE_LOGIN_DENIED) options_.oauth2->login_failed(result.message);
  }
  if (rc != CURLE_LOGIN_DENIED && result.smtp_code != 530 && result.smtp_code != 535 && !result.unreachable)
    options_.oauth2->login_succeeded();
  return result;
}

SendResult SmtpClient::send_once(const std::string& mail_from, const std::string& rcpt_to, const std::string& data,
                                 const std::string* bearer, CURLcode& rc_out) {
  rc_out = CURLE_FAILED_INIT;
  SendResult result;
  if (!curl_) {
    result.message = "curl_easy_init failed";
    return result;
  }
  CURL* h = curl_.get();
  curl_easy_reset(h);
  const std::string url = endpoint_url(options_.endpoint);
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  if (!options_.username.empty()) apply_login(h, options_.username, options_.password, bearer);
  std::string from = "<" + mail_from + ">";
  curl_easy_setopt(h, CURLOPT_MAIL_FROM, from.c_str());
  CurlSlist rcpts;
  rcpts.append("<" + rcpt_to + ">");
  curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpts.get());
  UploadState upload{&data};
  curl_easy_setopt(h, CURLOPT_READFUNCTION, read_upload);
  curl_easy_setopt(h, CURLOPT_READDATA, &upload);
  curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
  apply_transfer_options(h, options_.endpoint, options_.ca_file, options_.timeout, options_.stop, error_buffer_);

  CURLcode rc = curl_easy_perform(h);
  rc_out = rc;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &result.smtp_code);
  if (rc == CURLE_OK) {
    result.ok = true;
    result.message = "250 accepted";
    return result;
  }
  std::string detail = error_buffer_[0] ? std::string(error_buffer_) : curl_easy_strerror(rc);
  result.message = "SMTP send failed (curl " + std::to_string(rc) + ", reply " + std::to_string(result.smtp_code) +
                   "): " + detail;
  // curl reports a refused RCPT or DATA as a send error too: with a 4xx/5xx reply in hand the
  // server was reachable and answered about this message.
  const bool server_answered = result.smtp_code >= 400;
  const bool auth_refused = rc == CURLE_LOGIN_DENIED || result.smtp_code == 530 || result.smtp_code == 535;
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_USE_SSL_FAILED:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_WEIRD_SERVER_REPLY:
      result.unreachable = !server_answered;
      break;
    default:
      break;
  }
  if (auth_refused) result.unreachable = true;
  // A 5xx reply to MAIL FROM, RCPT TO or DATA is permanent (RFC 5321 4.2.1); refused
  // authentication is a configuration problem an operator fixes, so it is retried.
  result.permanent = result.smtp_code >= 500 && result.smtp_code < 600 && !auth_refused;
  return result;
}

}  // namespace casedesk::daemon
