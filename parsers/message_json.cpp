#include <nlohmann/json.hpp>

#include "parsers/json.hpp"
#include "parsers/message.hpp"

namespace casedesk::parsers {
namespace {

template <typename T>
nlohmann::json optional_json(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::json to_json(const Message& m) {
  nlohmann::json to = nlohmann::json::array();
  for (const Address& a : m.to) to.push_back({{"addr", a.addr}, {"name", a.name}});
  nlohmann::json attachments = nlohmann::json::array();
  for (const Attachment& a : m.attachments) {
    attachments.push_back(
        {{"filename", optional_json(a.filename)}, {"content_type", a.content_type}, {"size", optional_json(a.size)}});
  }
  nlohmann::json j = nlohmann::json::object();
  j["message_id"] = optional_json(m.message_id);
  j["from_addr"] = optional_json(m.from_addr);
  j["from_name"] = optional_json(m.from_name);
  j["to"] = std::move(to);
  j["subject"] = optional_json(m.subject);
  j["date"] = optional_json(m.date);
  j["in_reply_to"] = optional_json(m.in_reply_to);
  j["references"] = m.references;
  j["auto_submitted"] = optional_json(m.auto_submitted);
  j["precedence"] = optional_json(m.precedence);
  j["automated"] = m.automated;
  j["body_source"] = std::string(to_string(m.body_source));
  j["body_text"] = m.body_text;
  j["reply_text"] = m.reply_text;
  j["attachments"] = std::move(attachments);
  j["warnings"] = m.warnings;
  return j;
}

}  // namespace casedesk::parsers
