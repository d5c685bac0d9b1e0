#include "daemon/imap_client.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>

namespace casedesk::daemon {
namespace {

size_t append_to_string(char* data, size_t size, size_t nmemb, void* userp) {
  static_cast<std::string*>(userp)->append(data, size * nmemb);
  return size * nmemb;
}

std::string percent_encode(const std::string& s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// "* STATUS INBOX (UIDVALIDITY 5 UIDNEXT 9 MESSAGES 3)" -> the number after `key`.
std::int64_t find_number_after(const std::string& text, const std::string& key) {
  std::size_t pos = text.find(key + " ");
  if (pos == std::string::npos) return -1;
  pos += key.size() + 1;
  std::int64_t v = 0;
  bool any = false;
  while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
    v = v * 10 + (text[pos++] - '0');
    any = true;
  }
  return any ? v : -1;
}

}  // namespace

std::string imap_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\r' || c == '\n') continue;
    out += c;
  }
  out += '"';
  return out;
}

MailError::Kind classify_curl_error(CURLcode code) {
  switch (code) {
    case CURLE_QUOTE_ERROR:
    case CURLE_REMOTE_FILE_NOT_FOUND:
    case CURLE_REMOTE_ACCESS_DENIED:
    case CURLE_UPLOAD_FAILED:
    case CURLE_WRITE_ERROR:
    case CURLE_FILESIZE_EXCEEDED:
      return MailError::Kind::command;
    case CURLE_ABORTED_BY_CALLBACK:
      return MailError::Kind::cancelled;
    default:
      return MailError::Kind::unreachable;
  }
}

ImapClient::ImapClient(ImapOptions options) : options_(std::move(options)), curl_(curl_easy_init()) {
  if (!curl_) throw MailError(MailError::Kind::unreachable, "curl_easy_init failed");
}

std::string ImapClient::base_url() const { return endpoint_url(options_.endpoint) + "/"; }

std::string ImapClient::mailbox_url(const std::string& mailbox) const { return base_url() + percent_encode(mailbox); }

void ImapClient::prepare(const std::string& url) {
  CURL* h = curl_.get();
  curl_easy_reset(h);  // keeps the live connection and session cache
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_USERNAME, options_.username.c_str());
  curl_easy_setopt(h, CURLOPT_PASSWORD, options_.password.c_str());
  apply_transfer_options(h, options_.endpoint, options_.ca_file, options_.timeout, options_.stop, error_buffer_);
}

std::string ImapClient::perform(const std::string& url, const std::string& custom_request, bool want_body) {
  prepare(url);
  CURL* h = curl_.get();
  std::string out;
  if (!custom_request.empty()) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, custom_request.c_str());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, append_to_string);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
  (void)want_body;
  CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK) {
    std::string msg = error_buffer_[0] ? std::string(error_buffer_) : curl_easy_strerror(rc);
    // The verb only: custom requests can carry UIDs and folder names, never mail content.
    std::string verb = custom_request.empty() ? "FETCH" : custom_request.substr(0, custom_request.find(' ', 4));
    throw MailError(classify_curl_error(rc), "IMAP " + verb + " failed (curl " + std::to_string(rc) + "): " + msg);
  }
  return out;
}

MailboxStatus ImapClient::status() {
  std::string out = perform(base_url(), "STATUS " + imap_quote(mailbox()) + " (UIDVALIDITY UIDNEXT MESSAGES)", false);
  MailboxStatus s;
  s.uidvalidity = find_number_after(out, "UIDVALIDITY");
  s.uidnext = find_number_after(out, "UIDNEXT");
  s.messages = find_number_after(out, "MESSAGES");
  if (s.uidvalidity <= 0) throw MailError(MailError::Kind::command, "IMAP STATUS returned no UIDVALIDITY");
  return s;
}

std::vector<std::int64_t> ImapClient::search_all() {
  std::string out = perform(mailbox_url(mailbox()), "UID SEARCH ALL", false);
  std::vector<std::int64_t> uids;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("* SEARCH", 0) != 0) continue;
    std::istringstream words(line.substr(8));
    std::string w;
    while (words >> w) {
      try {
        std::size_t used = 0;
        long long v = std::stoll(w, &used);
        if (used == w.size() && v > 0) uids.push_back(v);
      } catch (const std::exception&) {
      }
    }
  }
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  return uids;
}

std::string ImapClient::fetch(std::int64_t uid) {
  return perform(mailbox_url(mailbox()) + ";UID=" + std::to_string(uid), "", true);
}

void ImapClient::move(std::int64_t uid, const std::string& folder) {
  const std::string id = std::to_string(uid);
  try {
    perform(mailbox_url(mailbox()), "UID MOVE " + id + " " + imap_quote(folder), false);
    return;
  } catch (const MailError& e) {
    if (e.kind() != MailError::Kind::command) throw;
  }
  // No MOVE extension (RFC 6851): copy, flag, and expunge only this UID (UIDPLUS).
  perform(mailbox_url(mailbox()), "UID COPY " + id + " " + imap_quote(folder), false);
  perform(mailbox_url(mailbox()), "UID STORE " + id + " +FLAGS.SILENT (\\Deleted)", false);
  perform(mailbox_url(mailbox()), "UID EXPUNGE " + id, false);
}

void ImapClient::ensure_folder(const std::string& folder) {
  try {
    perform(base_url(), "CREATE " + imap_quote(folder), false);
  } catch (const MailError& e) {
    if (e.kind() != MailError::Kind::command) throw;  // NO [ALREADYEXISTS] is fine
  }
}

}  // namespace casedesk::daemon
