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

const queue::StoredMessage* latest_incoming(const queue::CaseDetail& c) {
  for (auto it = c.messages.rbegin(); it != c.messages.rend(); ++it)
    if (it->direction == "in") return &*it;
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
  // The PHI warning: identifiers of a patient. A phone number alone is not one (it is usually
  // the sender's own office). Kind names only; the matched text is never kept.
  static constexpr std::pair<std::string_view, std::string_view> kPhiWords[] = {
      {"patient_name", "a patient's name"},       {"dob", "a date of birth"},
      {"ssn", "a Social Security number"},        {"mrn", "a medical record number"},
      {"member_id", "a member or subscriber ID"},
  };
  std::vector<std::string> phi_words;
  for (const auto& [kind, words] : kPhiWords)
    if (std::find(c.summary.phi.begin(), c.summary.phi.end(), kind) != c.summary.phi.end())
      phi_words.emplace_back(words);
  std::string phi_text;
  for (std::size_t i = 0; i < phi_words.size(); ++i)
    phi_text += (i == 0 ? "" : i + 1 == phi_words.size() ? " and " : ", ") + phi_words[i];
  return {
      {"phi_warning", !phi_words.empty()},
      {"phi_kinds_text", phi_words.empty() ? nlohmann::json(nullptr) : nlohmann::json(phi_text)},
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

// In-Reply-To the original, References its chain plus it; our loop-protection headers on
// automatic replies (RFC 3834), none on what a consultant wrote.
void thread_reply(parsers::Outgoing& out, const std::optional<std::string>& message_id,
                  const std::vector<std::string>& references, bool automatic = true) {
  if (message_id && parsers::is_valid_msg_id(*message_id)) {
    out.in_reply_to = message_id;
    for (const auto& r : references)
      if (parsers::is_valid_msg_id(r)) out.references.push_back(r);
    out.references.push_back(*message_id);
  }
  out.extra_headers.clear();
  if (automatic) out.extra_headers = {{"Auto-Submitted", "auto-replied"}, {"X-Auto-Response-Suppress", "All"}};
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

bool is_automatic_reply(std::string_view kind) {
  return kind == "ack" || kind == "followup_ack" || kind == "over_quota" || kind == "unknown_sender" ||
         kind == "too_large" || kind == "digest";
}

ComposedReply compose_case_reply(const queue::CaseDetail& c, const queue::OutboxItem& item,
                                 const templates::Renderer& renderer, const DeskIdentity& desk, std::int64_t now) {
  static const std::vector<std::string> kinds = {"followup_ack", "over_quota", "unknown_sender",
                                                 "answer",       "question",   "rejected"};
  if (std::find(kinds.begin(), kinds.end(), item.kind) == kinds.end())
    throw std::runtime_error("no template for a reply of kind " + item.kind);
  const queue::StoredMessage* in = latest_incoming(c);
  if (!in) throw std::runtime_error("case has no incoming message");
  const parsers::Address to = reply_recipient(in->reply_to, in->from_addr, in->from_name);
  nlohmann::json ctx = ack_context(c, desk);
  std::string text = item.body_text.value_or("");
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  ctx["text"] = text.empty() ? nlohmann::json(nullptr) : nlohmann::json(text);
  ctx["consultant_name"] = item.author ? nlohmann::json(*item.author) : nlohmann::json(nullptr);
  ctx["status"] = c.summary.status;
  const bool automatic = is_automatic_reply(item.kind);
  parsers::Outgoing out;
  out.from = desk.from;
  out.to = to;
  out.subject = reply_subject(c.summary.subject, c.summary.ref);
  out.message_id = parsers::make_message_id(parsers::domain_of(desk.from.addr));
  out.date_epoch = now;
  thread_reply(out, in->message_id, in->references, automatic);
  out.extra_headers.emplace_back("X-Casedesk-Case", c.summary.ref);
  out.text_body = renderer.render(item.kind + ".txt", ctx);
  out.html_body = renderer.render(item.kind + ".html", ctx);
  return {out.message_id, to.addr, parsers::compose_message(out)};
}

ComposedReply compose_digest(const queue::OutboxItem& item, const templates::Renderer& renderer,
                             const DeskIdentity& desk, std::int64_t now) {
  if (!item.to_addr || !parsers::is_plain_addr_spec(*item.to_addr))
    throw std::runtime_error("digest has no usable recipient address");
  const nlohmann::json ctx = {
      {"desk_name", desk.desk_name},
      {"consultant_name", item.author ? nlohmann::json(*item.author) : nlohmann::json(nullptr)},
      {"text", item.body_text.value_or("")},
  };
  parsers::Outgoing out;
  out.from = desk.from;
  out.to = parsers::Address{*item.to_addr, item.author.value_or("")};
  out.subject = desk.desk_name + ": cases waiting for review";
  out.message_id = parsers::make_message_id(parsers::domain_of(desk.from.addr));
  out.date_epoch = now;
  out.extra_headers = {{"Auto-Submitted", "auto-generated"}, {"X-Auto-Response-Suppress", "All"}};
  out.text_body = renderer.render("digest.txt", ctx);
  return {out.message_id, *item.to_addr, parsers::compose_message(out)};
}

}  // namespace casedesk::daemon
