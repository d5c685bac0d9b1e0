#include "daemon/imap_client.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
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
  apply_login(h, options_.username, options_.password, options_.oauth2 ? &bearer_.str() : nullptr);
  apply_transfer_options(h, options_.endpoint, options_.ca_file, options_.timeout, options_.stop, error_buffer_);
}

CURLcode ImapClient::perform_once(const std::string& url, const std::string& custom_request, std::string& out) {
  prepare(url);
  CURL* h = curl_.get();
  out.clear();
  if (!custom_request.empty()) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, custom_request.c_str());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, append_to_string);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
  return curl_easy_perform(h);
}

std::string ImapClient::perform(const std::string& url, const std::string& custom_request, bool want_body) {
  (void)want_body;
  std::string out;
  if (options_.oauth2 && bearer_.str().empty()) bearer_ = SecretString(options_.oauth2->token());
  CURLcode rc = perform_once(url, custom_request, out);
  if (rc == CURLE_LOGIN_DENIED && options_.oauth2) {
    // The token may have expired since it was read: read it again and retry the login once.
    bearer_ = SecretString(options_.oauth2->refresh());
    rc = perform_once(url, custom_request, out);
    if (rc == CURLE_LOGIN_DENIED) {
      options_.oauth2->login_failed(error_buffer_[0] ? std::string(error_buffer_) : curl_easy_strerror(rc));
      bearer_ = SecretString();
    }
  }
  if (rc == CURLE_OK && options_.oauth2) options_.oauth2->login_succeeded();
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

std::int64_t parse_internal_date(std::string_view t) {
  // dd-Mon-yyyy hh:mm:ss +zzzz (RFC 3501 date-time; the day may be space-padded)
  static constexpr std::string_view months = "JanFebMarAprMayJunJulAugSepOctNovDec";
  while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
  int day = 0, year = 0, hh = 0, mm = 0, ss = 0, zone = 0;
  char mon[4] = {}, sign = '+';
  std::string copy(t);
  if (std::sscanf(copy.c_str(), "%d-%3c-%d %d:%d:%d %c%d", &day, mon, &year, &hh, &mm, &ss, &sign, &zone) != 8)
    return -1;
  auto pos = months.find(std::string_view(mon, 3));
  if (pos == std::string_view::npos || pos % 3 != 0 || day < 1 || day > 31 || year < 1970) return -1;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = static_cast<int>(pos / 3);
  tm.tm_mday = day;
  tm.tm_hour = hh;
  tm.tm_min = mm;
  tm.tm_sec = ss;
  std::int64_t epoch = static_cast<std::int64_t>(timegm(&tm));
  std::int64_t offset = (zone / 100) * 3600 + (zone % 100) * 60;
  return sign == '-' ? epoch + offset : epoch - offset;
}

std::vector<MessageInfo> parse_fetch_listing(const std::string& response) {
  std::vector<MessageInfo> out;
  std::istringstream lines(response);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("* ", 0) != 0 || line.find(" FETCH (") == std::string::npos) continue;
    MessageInfo info;
    info.uid = find_number_after(line, "UID");
    info.size = find_number_after(line, "RFC822.SIZE");
    auto d = line.find("INTERNALDATE \"");
    if (d != std::string::npos) {
      auto end = line.find('"', d + 14);
      if (end != std::string::npos) info.internal_date = parse_internal_date(std::string_view(line).substr(d + 14, end - d - 14));
    }
    if (info.uid > 0) out.push_back(info);
  }
  std::sort(out.begin(), out.end(), [](const MessageInfo& a, const MessageInfo& b) { return a.uid < b.uid; });
  out.erase(std::unique(out.begin(), out.end(), [](const MessageInfo& a, const MessageInfo& b) { return a.uid == b.uid; }),
            out.end());
  return out;
}

std::vector<std::int64_t> ImapClient::search_uids(const std::string& criteria) {
  const std::string out = perform(mailbox_url(mailbox()), "UID SEARCH " + criteria, false);
  std::vector<std::int64_t> uids;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("* SEARCH", 0) != 0) continue;
    std::istringstream words(line.substr(8));
    std::int64_t v = 0;
    while (words >> v)
      if (v > 0) uids.push_back(v);
  }
  return uids;
}

std::vector<MessageInfo> ImapClient::list_messages(std::int64_t uidnext) {
  // SEARCH and FETCH sync the connection's view of the selected mailbox (STATUS does not), and
  // libcurl passes their untagged replies through. libcurl 7.88 limits those replies (300 KB as
  // it counts them, more than linearly in the number of reads), so a very large mailbox is
  // searched in UID windows and listed in small chunks.
  std::vector<std::int64_t> uids;
  try {
    uids = search_uids("ALL");
  } catch (const MailError& e) {
    if (e.kind() == MailError::Kind::cancelled) throw;
    constexpr std::int64_t kWindow = 2000;
    std::int64_t lo = 1;
    for (; lo + kWindow <= uidnext; lo += kWindow) {
      auto part = search_uids("UID " + std::to_string(lo) + ":" + std::to_string(lo + kWindow - 1));
      uids.insert(uids.end(), part.begin(), part.end());
    }
    auto rest = search_uids("UID " + std::to_string(lo) + ":*");  // "*" also catches mail newer than uidnext
    uids.insert(uids.end(), rest.begin(), rest.end());
  }
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());

  constexpr std::size_t kChunk = 50;
  std::vector<MessageInfo> all;
  for (std::size_t i = 0; i < uids.size(); i += kChunk) {
    std::string set;
    for (std::size_t k = i; k < std::min(uids.size(), i + kChunk); ++k) {
      if (!set.empty()) set += ',';
      set += std::to_string(uids[k]);
    }
    auto part = parse_fetch_listing(perform(mailbox_url(mailbox()), "UID FETCH " + set + " (UID RFC822.SIZE INTERNALDATE)", false));
    all.insert(all.end(), part.begin(), part.end());
  }
  std::sort(all.begin(), all.end(), [](const MessageInfo& a, const MessageInfo& b) { return a.uid < b.uid; });
  all.erase(std::unique(all.begin(), all.end(), [](const MessageInfo& a, const MessageInfo& b) { return a.uid == b.uid; }),
            all.end());
  return all;
}

std::string ImapClient::fetch_header(std::int64_t uid) {
  return perform(mailbox_url(mailbox()) + ";UID=" + std::to_string(uid) + ";SECTION=HEADER", "", true);
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

namespace {

// "3,5:9,12" for sorted UIDs.
std::string uid_set(std::vector<std::int64_t> uids) {
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  std::string out;
  for (std::size_t i = 0; i < uids.size();) {
    std::size_t j = i;
    while (j + 1 < uids.size() && uids[j + 1] == uids[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(uids[i]);
    if (j > i) out += ':' + std::to_string(uids[j]);
    i = j + 1;
  }
  return out;
}

}  // namespace

void ImapClient::move_many(const std::vector<std::int64_t>& uids, const std::string& folder) {
  if (uids.empty()) return;
  if (uids.size() == 1) return move(uids.front(), folder);
  const std::string set = uid_set(uids);
  try {
    perform(mailbox_url(mailbox()), "UID MOVE " + set + " " + imap_quote(folder), false);
    return;
  } catch (const MailError& e) {
    if (e.kind() != MailError::Kind::command) throw;
  }
  perform(mailbox_url(mailbox()), "UID COPY " + set + " " + imap_quote(folder), false);
  perform(mailbox_url(mailbox()), "UID STORE " + set + " +FLAGS.SILENT (\\Deleted)", false);
  perform(mailbox_url(mailbox()), "UID EXPUNGE " + set, false);
}

void ImapClient::ensure_folder(const std::string& folder) {
  try {
    perform(base_url(), "CREATE " + imap_quote(folder), false);
  } catch (const MailError& e) {
    if (e.kind() != MailError::Kind::command) throw;  // NO [ALREADYEXISTS] is fine
  }
}

}  // namespace casedesk::daemon
