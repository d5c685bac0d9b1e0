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

ComposedReply compose_ack(const queue::CaseDetail& c, const templates::Renderer& renderer, const DeskIdentity& desk,
                          std::int64_t now) {
  const queue::StoredMessage* in = first_incoming(c);
  if (!in) throw std::runtime_error("case has no incoming message");
  parsers::Address to;
  if (in->reply_to && parsers::is_plain_addr_spec(in->reply_to->addr)) {
    to = *in->reply_to;
  } else if (in->from_addr && parsers::is_plain_addr_spec(*in->from_addr)) {
    to = {*in->from_addr, in->from_name.value_or("")};
  } else {
    throw std::runtime_error("no usable recipient address");
  }
  const nlohmann::json ctx = ack_context(c, desk);
  parsers::Outgoing out;
  out.from = desk.from;
  out.to = to;
  out.subject = reply_subject(c.summary.subject, c.summary.ref);
  out.message_id = parsers::make_message_id(parsers::domain_of(desk.from.addr));
  out.date_epoch = now;
  if (in->message_id && parsers::is_valid_msg_id(*in->message_id)) {
    out.in_reply_to = in->message_id;
    out.references = in->references;
    out.references.push_back(*in->message_id);
  }
  out.extra_headers = {{"Auto-Submitted", "auto-replied"},
                       {"X-Auto-Response-Suppress", "All"},
                       {"X-Casedesk-Case", c.summary.ref}};
  out.text_body = renderer.render("ack.txt", ctx);
  out.html_body = renderer.render("ack.html", ctx);
  return {out.message_id, to.addr, parsers::compose_message(out)};
}

}  // namespace casedesk::daemon
