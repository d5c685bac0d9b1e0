#pragma once
// Outgoing mail -> RFC 5322 bytes. Header values are sanitised (no CR/LF reaches a header, so no
// header injection), non-ASCII text is RFC 2047 / quoted-printable encoded, lines stay <= 78 chars.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "parsers/message.hpp"

namespace casedesk::parsers {

class ComposeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Outgoing {
  Address from;                          // addr required
  Address to;                            // addr required
  std::string subject;                   // UTF-8
  std::string message_id;                // "<id@host>"
  std::int64_t date_epoch = 0;           // Unix seconds
  std::optional<std::string> in_reply_to;  // "<id>"; dropped when not a valid msg-id
  std::vector<std::string> references;     // "<id>" tokens; invalid ones dropped
  std::vector<std::pair<std::string, std::string>> extra_headers;  // e.g. {"Auto-Submitted", "auto-replied"}
  std::string text_body;                 // UTF-8, required
  std::string html_body;                 // UTF-8; empty = text/plain only, else multipart/alternative
};

// @throw ComposeError when an address is not a plain addr-spec or a header name is invalid.
std::string compose_message(const Outgoing& mail);

// "<20261126T091500.1a2b3c4d5e6f7a8b@example.test>" — unique per call (random + time).
std::string make_message_id(std::string_view domain);

// The domain part of an addr-spec ("desk@example.test" -> "example.test"); "localhost" if none.
std::string domain_of(std::string_view addr);

// RFC 5322 date-time in UTC: "Thu, 26 Nov 2026 09:15:00 +0000".
std::string format_rfc5322_date(std::int64_t epoch);

// RFC 2047 encoding of a header text ("=?UTF-8?B?...?=" words) when it is not plain ASCII.
std::string encode_header_text(std::string_view utf8);

// true when s is "<local@domain>" with no whitespace, CR/LF or nested brackets.
bool is_valid_msg_id(std::string_view s);

// true when s looks like a plain addr-spec: one '@', no whitespace, CR/LF, '<', '>', ',', '"'.
bool is_plain_addr_spec(std::string_view s);

}  // namespace casedesk::parsers
