#include "daemon/replies.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "parsers/case_ref.hpp"
#include "parsers/compose.hpp"

namespace casedesk::daemon {
namespace {

const queue::StoredMessage* first_incoming(const queue::CaseDetail& c) {
  for (const auto& m : c.messages)
    if (m.direction == "in") return &m;
  return nullptr;
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += sep;
    out += i;
  }
  return out;
}

bool starts_with_reply_prefix(const std::string& s) {
  if (s.size() < 3) return false;
  return std::tolower(static_cast<unsigned char>(s[0])) == 'r' && std::tolower(static_cast<unsigned char>(s[1])) == 'e' &&
         s[2] == ':';
}

// A validated code's status in plain words for the submitter (null when not validated).
nlohmann::json status_text(const parsers::Code& code) {
  if (!code.status) return nullptr;
  if (*code.status == "billable") return code.notes.empty() ? "valid code" : "valid code; " + join(code.notes, "; ");
  if (!code.notes.empty()) return join(code.notes, "; ");
  return *code.status;
}

}  // namespace

nlohmann::json ack_context(const queue::CaseDetail& c, const DeskIdentity& desk) {
  nlohmann::json codes = nlohmann::json::array();
  for (const auto& code : c.summary.codes) {
    nlohmann::json j;
    j["code"] = code.code;
    j["system"] = std::string(parsers::to_string(code.system));
    j["modifiers"] = code.modifiers;
    // Empty strings are truthy in Mustache: absent values are null so {{#...}} sections skip them.
    j["modifiers_text"] = code.modifiers.empty() ? nlohmann::json(nullptr) : nlohmann::json(join(code.modifiers, ", "));
    j["units"] = code.units ? nlohmann::json(*code.units) : nlohmann::json(nullptr);
    j["range_end"] = code.range_end ? nlohmann::json(*code.range_end) : nlohmann::json(nullptr);
    j["status"] = code.status ? nlohmann::json(*code.status) : nlohmann::json(nullptr);
    j["status_text"] = status_text(code);
    codes.push_back(std::move(j));
  }
  return {
      {"desk_name", desk.desk_name},
      {"case_ref", c.summary.ref},
      {"subject", c.summary.subject.empty() ? std::string("(no subject)") : c.summary.subject},
      {"submitter_name", c.summary.submitter_name.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.summary.submitter_name)},
      {"has_codes", !c.summary.codes.empty()},
      {"code_count", c.summary.codes.size()},
      {"codes", codes},
      {"has_code_notes", !c.summary.code_notes.empty()},
      {"code_notes", c.summary.code_notes},
  };
}

std::string reply_subject(const std::string& subject, const std::string& case_ref) {
  std::string out = subject.empty() ? "Your case" : subject;
  if (!starts_with_reply_prefix(out)) out = "Re: " + out;
  const auto prefix = std::string_view(case_ref).substr(0, case_ref.find('-'));
  const auto present = parsers::find_case_ref(out, prefix);
  if (!present || !std::equal(present->begin(), present->end(), case_ref.begin(), case_ref.end(),
                              [](char a, char b) { return std::toupper((unsigned char)a) == std::toupper((unsigned char)b); }))
    out += " [" + case_ref + "]";
  return out;
}

namespace {

// Reply-To when it is a usable address, else From.
parsers::Address reply_recipient(const std::optional<parsers::Address>& reply_to, const std::optional<std::string>& from_addr,
                                 const std::optional<std::string>& from_name) {
  if (reply_to && parsers::is_plain_addr_spec(reply_to->addr)) return *reply_to;
  if (from_addr && parsers::is_plain_addr_spec(*from_addr)) return {*from_addr, from_name.value_or("")};
  throw std::runtime_error("no usable recipient address");
}

// In-Reply-To the original, References its chain plus it; our loop-protection headers.
void thread_reply(parsers::Outgoing& out, const std::optional<std::string>& message_id,
                  const std::vector<std::string>& references) {
  if (message_id && parsers::is_valid_msg_id(*message_id)) {
    out.in_reply_to = message_id;
    out.references = references;
    out.references.push_back(*message_id);
  }
  out.extra_headers = {{"Auto-Submitted", "auto-replied"}, {"X-Auto-Response-Suppress", "All"}};
}

}  // namespace

std::string size_text(std::uint64_t bytes) {
  if (bytes >= 1024ull * 1024 && bytes % (1024ull * 1024) == 0) return std::to_string(bytes / (1024 * 1024)) + " MB";
  if (bytes >= 1024 && bytes % 1024 == 0) return std::to_string(bytes / 1024) + " KB";
  return std::to_string(bytes) + " bytes";
}

ComposedReply compose_too_large(const parsers::Message& original, const templates::Renderer& renderer,
                                const DeskIdentity& desk, std::uint64_t limit_bytes, std::int64_t now) {
  const parsers::Address to = reply_recipient(original.reply_to, original.from_addr, original.from_name);
  const std::string subject = original.subject.value_or("");
  const nlohmann::json ctx = {
      {"desk_name", desk.desk_name},
      {"subject", subject.empty() ? std::string("(no subject)") : subject},
      {"submitter_name", original.from_name && !original.from_name->empty() ? nlohmann::json(*original.from_name)
                                                                             : nlohmann::json(nullptr)},
      {"limit_text", size_text(limit_bytes)},
  };
  parsers::Outgoing out;
  out.from = desk.from;
  out.to = to;
  out.subject = starts_with_reply_prefix(subject) ? subject : "Re: " + (subject.empty() ? std::string("your message") : subject);
  out.message_id = parsers::make_message_id(parsers::domain_of(desk.from.addr));
  out.date_epoch = now;
  thread_reply(out, original.message_id, original.references);
  out.text_body = renderer.render("too_large.txt", ctx);
  out.html_body = renderer.render("too_large.html", ctx);
  return {out.message_id, to.addr, parsers::compose_message(out)};
}

ComposedReply compose_ack(const queue::CaseDetail& c, const templates::Renderer& renderer, const DeskIdentity& desk,
                          std::int64_t now) {
  const queue::StoredMessage* in = first_incoming(c);
  if (!in) throw std::runtime_error("case has no incoming message");
  const parsers::Address to = reply_recipient(in->reply_to, in->from_addr, in->from_name);
  const nlohmann::json ctx = ack_context(c, desk);
  parsers::Outgoing out;
  out.from = desk.from;
  out.to = to;
  out.subject = reply_subject(c.summary.subject, c.summary.ref);
  out.message_id = parsers::make_message_id(parsers::domain_of(desk.from.addr));
  out.date_epoch = now;
  thread_reply(out, in->message_id, in->references);
  out.extra_headers.emplace_back("X-Casedesk-Case", c.summary.ref);
  out.text_body = renderer.render("ack.txt", ctx);
  out.html_body = renderer.render("ack.html", ctx);
  return {out.message_id, to.addr, parsers::compose_message(out)};
}

}  // namespace casedesk::daemon
