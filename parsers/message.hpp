#pragma once
// Our own value type for one parsed mail. Produced by parse_message(); no mimetic types leak out.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace casedesk::parsers {

struct Address {
  std::string addr;  // addr-spec as written ("a@b.example")
  std::string name;  // display name, RFC 2047 decoded, "" when none
};

enum class BodySource { text_plain, text_html, text_other, none };
std::string_view to_string(BodySource s);  // "text/plain", "text/html", "text/other", "none"

struct Attachment {
  std::optional<std::string> filename;  // RFC 2231/2047 decoded, or nullopt
  std::string content_type;             // lower-case "type/subtype"
  std::optional<std::size_t> size;      // decoded byte length; nullopt for message/* parts
  std::optional<std::string> text;      // UTF-8 text of text/* and PDF attachments (and message/rfc822 bodies)
};

struct Message {
  std::optional<std::string> message_id;  // stripped, angle brackets kept
  std::optional<std::string> from_addr;   // first From mailbox; nullopt only when there is no From
  std::optional<std::string> from_name;   // "" when From has no display name
  std::optional<Address> reply_to;        // first Reply-To mailbox
  std::vector<Address> to;                // every To mailbox, groups flattened
  std::optional<std::string> subject;     // RFC 2047 decoded, unfolded, whitespace collapsed
  std::optional<std::string> date;        // ISO 8601 with offset ("2026-11-26T09:15:00-05:00")
  std::optional<std::int64_t> date_epoch; // the same instant as Unix seconds
  std::optional<std::string> date_raw;    // Date header text, unfolded
  std::optional<std::string> in_reply_to;
  std::vector<std::string> references;    // "<id>" tokens
  std::optional<std::string> auto_submitted;
  std::optional<std::string> precedence;
  bool automated = false;                 // auto-generated mail (see automated_reason)
  std::optional<std::string> automated_reason;  // e.g. "Auto-Submitted: auto-replied", "multipart/report", "sender mailer-daemon"
  BodySource body_source = BodySource::none;
  std::string body_text;                  // UTF-8, transfer- and charset-decoded; HTML reduced to text
  std::string reply_text;                 // body_text without quoted history and signature (reply_text.hpp)
  std::vector<Attachment> attachments;    // MIME tree order
  std::vector<std::pair<std::string, std::string>> headers;  // top-level fields, unfolded, raw values
  std::vector<std::string> warnings;      // problems met while parsing (never PHI-free: do not log)
};

// Parses raw RFC 5322 bytes. Never throws on bad mail: problems become warnings and best-effort
// values. Throws only std::bad_alloc.
Message parse_message(std::string_view raw);

// Calls sink(index, attachment, bytes) for each attachment of parse_message(raw).attachments, in
// that order (same indexes), with its decoded bytes (a message/rfc822 part: the nested mail's
// bytes). `attachment` has filename, content type and size but no text. Only one attachment's
// bytes are held at a time, so a large mail costs about its largest attachment. Returns how many
// attachments there were. Never throws on bad mail (a broken tree yields what was found before
// it); exceptions of the sink propagate (throw AttachmentSinkStop to stop early), as does
// std::bad_alloc.
struct AttachmentSinkStop {};
using AttachmentSink = std::function<void(std::size_t index, const Attachment& attachment, std::string_view bytes)>;
std::size_t for_each_attachment(std::string_view raw, const AttachmentSink& sink);

// Attachment `index` of parse_message(raw).attachments (same order) with its decoded bytes (a
// message/rfc822 part: the nested mail's bytes); nullopt when there is no such attachment. For
// downloads. Never throws on bad mail; throws only std::bad_alloc.
std::optional<std::pair<Attachment, std::string>> attachment_data(std::string_view raw, std::size_t index);

}  // namespace casedesk::parsers
