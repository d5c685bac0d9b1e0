#pragma once
// Builds the replies casedesk sends: template context, threading headers, RFC 5322 bytes.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "parsers/message.hpp"
#include "queue/store.hpp"
#include "templates/renderer.hpp"

namespace casedesk::daemon {

struct DeskIdentity {
  std::string desk_name;
  parsers::Address from;  // the desk's own From
};

struct ComposedReply {
  std::string message_id;
  std::string to_addr;
  std::string raw;
};

// The Mustache context of the ack template for a case.
nlohmann::json ack_context(const queue::CaseDetail& c, const DeskIdentity& desk);

// "Re: <subject> [CD-000123]" without doubling "Re:" or the reference.
std::string reply_subject(const std::string& subject, const std::string& case_ref);

// Renders and composes the acknowledgement of a case, threaded to its first incoming message.
// @throw parsers::ComposeError, templates::TemplateError, std::runtime_error (no recipient)
ComposedReply compose_ack(const queue::CaseDetail& c, const templates::Renderer& renderer, const DeskIdentity& desk,
                          std::int64_t now);

// The reply to a mail too large to take in (its header only), threaded to it.
// @throw parsers::ComposeError, templates::TemplateError, std::runtime_error (no recipient)
ComposedReply compose_too_large(const parsers::Message& original, const templates::Renderer& renderer,
                                const DeskIdentity& desk, std::uint64_t limit_bytes, std::int64_t now);

// Any reply about a case other than the first ack, by its outbox kind: "followup_ack",
// "over_quota", "unknown_sender" (automatic), "answer", "question", "rejected" (written by a
// consultant: item.body_text, item.author). Threaded to the submitter's latest message
// (In-Reply-To, References), to its Reply-To if present else From; the subject keeps [CD-...].
// @throw parsers::ComposeError, templates::TemplateError, std::runtime_error (no recipient, unknown kind)
ComposedReply compose_case_reply(const queue::CaseDetail& c, const queue::OutboxItem& item,
                                 const templates::Renderer& renderer, const DeskIdentity& desk, std::int64_t now);

// The consultants' digest of new and overdue cases (item.body_text) to item.to_addr.
ComposedReply compose_digest(const queue::OutboxItem& item, const templates::Renderer& renderer,
                             const DeskIdentity& desk, std::int64_t now);

// Whether replies of this kind are automatic (RFC 3834 headers) rather than written by a person.
bool is_automatic_reply(std::string_view kind);

// "25 MB", "512 KB", "900 bytes"
std::string size_text(std::uint64_t bytes);

}  // namespace casedesk::daemon
