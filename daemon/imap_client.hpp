#pragma once
// A blocking IMAP client over one libcurl easy handle (one connection, one login, reused).
// Every call has a deadline (ImapOptions::timeout) and can be cancelled through a stop flag.
// Not thread-safe: use one ImapClient per thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "daemon/curl_handle.hpp"
#include "daemon/mail_error.hpp"
#include "daemon/oauth2_token.hpp"

namespace casedesk::daemon {

struct ImapOptions {
  config::Endpoint endpoint;  // endpoint.path is the intake mailbox
  std::string username;
  std::string password;
  std::string ca_file;
  std::chrono::milliseconds timeout{60000};
  const std::atomic<bool>* stop = nullptr;  // set -> the current call ends with Kind::cancelled
  std::shared_ptr<TokenSource> oauth2 = nullptr;  // set: XOAUTH2 with its token instead of the password
};

struct MailboxStatus {
  std::int64_t uidvalidity = 0;
  std::int64_t uidnext = 0;
  std::int64_t messages = 0;
};

// What the server says about one message before we fetch it.
struct MessageInfo {
  std::int64_t uid = 0;
  std::int64_t size = -1;           // RFC822.SIZE, -1 if not reported
  std::int64_t internal_date = -1;  // INTERNALDATE as Unix seconds, -1 if not reported
};

// "26-Nov-2026 19:40:16 +0000" -> Unix seconds; -1 when malformed.
std::int64_t parse_internal_date(std::string_view text);

// Parses untagged "* N FETCH (UID u RFC822.SIZE s INTERNALDATE "d")" lines, sorted by UID.
std::vector<MessageInfo> parse_fetch_listing(const std::string& response);

class ImapClient {
 public:
  explicit ImapClient(ImapOptions options);

  const std::string& mailbox() const noexcept { return options_.endpoint.path; }

  // Logs in (if not connected) and reads the intake mailbox's STATUS. @throw MailError
  MailboxStatus status();
  // UID, size and arrival time of every message in the intake mailbox, ascending by UID.
  // `uidnext` (from STATUS) sizes the UID windows used when a single SEARCH reply is too large.
  // @throw MailError
  std::vector<MessageInfo> list_messages(std::int64_t uidnext);
  // The header section of one message (does not fetch the body). @throw MailError
  std::string fetch_header(std::int64_t uid);
  // The exact bytes of one message (sets \Seen). @throw MailError (command: no such UID)
  std::string fetch(std::int64_t uid);
  // UID MOVE to folder; falls back to COPY + \Deleted + UID EXPUNGE. @throw MailError
  void move(std::int64_t uid, const std::string& folder);
  // Moves several messages in one command (UID MOVE with a UID set); without MOVE: COPY, flag and
  // UID EXPUNGE of just those UIDs. @throw MailError (command: the server refused the whole set)
  void move_many(const std::vector<std::int64_t>& uids, const std::string& folder);
  // CREATE folder; an existing folder is not an error. @throw MailError (unreachable only)
  void ensure_folder(const std::string& folder);

 private:
  std::string base_url() const;
  std::string mailbox_url(const std::string& mailbox) const;
  void prepare(const std::string& url);
  std::string perform(const std::string& url, const std::string& custom_request, bool want_body);
  std::vector<std::int64_t> search_uids(const std::string& criteria);
  CURLcode perform_once(const std::string& url, const std::string& custom_request, std::string& out);

  ImapOptions options_;
  CurlEasy curl_;
  char error_buffer_[CURL_ERROR_SIZE] = {};
  SecretString bearer_;  // the OAuth2 token of the current login (options_.oauth2 set)
};

// Quotes a mailbox name for an IMAP command ("Processed" -> "\"Processed\"").
std::string imap_quote(const std::string& s);

// Maps a libcurl result to the daemon's error kinds.
MailError::Kind classify_curl_error(CURLcode code);

}  // namespace casedesk::daemon
