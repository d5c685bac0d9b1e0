#include "daemon/case_json.hpp"

#include <ctime>

#include "parsers/json.hpp"

namespace casedesk::daemon {
namespace {

using nlohmann::json;

template <class T>
json opt(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

json suggestions_json(const std::vector<queue::Suggestion>& suggestions) {
  json arr = json::array();
  for (const auto& s : suggestions)
    arr.push_back({{"code", s.code}, {"system", s.system}, {"description", s.description}, {"score", s.score}});
  return arr;
}

}  // namespace

std::string iso_utc(std::int64_t epoch) {
  std::time_t t = static_cast<std::time_t>(epoch);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

json case_summary_json(const queue::CaseSummary& c) {
  return {
      {"ref", c.ref},
      {"status", c.status},
      {"ack_state", std::string(queue::to_string(c.ack_state))},
      {"ack_reason", opt(c.ack_reason)},
      {"submitter", {{"addr", c.submitter_addr.empty() ? json(nullptr) : json(c.submitter_addr)}, {"name", c.submitter_name}}},
      {"subject", c.subject},
      {"created_at", iso_utc(c.created_at)},
      {"updated_at", iso_utc(c.updated_at)},
      {"codes", parsers::to_json(c.codes)},
      {"code_notes", c.code_notes},
      {"priority", c.priority},
      {"owner", opt(c.owner)},
      {"lease_until", c.lease_until ? json(iso_utc(*c.lease_until)) : json(nullptr)},
      {"received_at", iso_utc(c.created_at)},
      {"due_at", iso_utc(c.due_at)},
      {"overdue", c.overdue},
      {"reply_failed", c.reply_failed},
      {"status_changed_at", iso_utc(c.status_changed_at)},
      {"message_count", c.message_count},
      {"phi", c.phi},
      {"suggestions", suggestions_json(c.suggestions)},
  };
}

json case_detail_json(const queue::CaseDetail& c) { return case_detail_json(c, {}); }

MessageContents message_contents(queue::Store& store, const queue::CaseDetail& c, std::int64_t now) {
  MessageContents out;
  for (const auto& m : c.messages)
    if (m.direction == "in")
      if (auto content = store.message_content(c.summary.ref, m.id, now)) out.emplace(m.id, std::move(*content));
  return out;
}

json case_detail_json(const queue::CaseDetail& c, const MessageContents& contents) {
  json j = case_summary_json(c.summary);
  json messages = json::array();
  for (const auto& m : c.messages) {
    json source = nullptr;
    if (m.source)
      source = {{"mailbox", m.source->mailbox}, {"uidvalidity", m.source->uidvalidity}, {"uid", m.source->uid}};
    messages.push_back({
        {"id", m.id},
        {"direction", m.direction},
        {"message_id", opt(m.message_id)},
        {"from_addr", opt(m.from_addr)},
        {"from_name", opt(m.from_name)},
        {"reply_to", m.reply_to ? json{{"addr", m.reply_to->addr}, {"name", m.reply_to->name}} : json(nullptr)},
        {"subject", opt(m.subject)},
        {"date", opt(m.date)},
        {"in_reply_to", opt(m.in_reply_to)},
        {"references", m.references},
        {"received_at", iso_utc(m.received_at)},
        {"size", m.size},
        {"body_source", m.body_source},
        {"body_text", m.body_text},
        {"warnings", m.warnings},
        {"source", source},
    });
    if (auto it = contents.find(m.id); it != contents.end()) {
      const auto& content = it->second;
      json& out = messages.back();
      out["content"] = content.purged ? "purged" : "stored";
      out["purged_at"] = content.purged_at ? json(iso_utc(*content.purged_at)) : json(nullptr);
      json atts = json::array();
      for (const auto& a : content.attachments)
        atts.push_back({{"index", a.index},
                        {"filename", opt(a.filename)},
                        {"content_type", a.content_type},
                        {"size", opt(a.size)},
                        {"data_size", a.data_size},
                        {"text", opt(a.text)}});
      out["attachments"] = std::move(atts);
    }
  }
  j["messages"] = std::move(messages);
  json events = json::array();
  for (const auto& e : c.events) {
    events.push_back({{"at", iso_utc(e.at)},
                      {"actor", e.actor},
                      {"kind", e.kind},
                      {"from", opt(e.from_state)},
                      {"to", opt(e.to_state)},
                      {"note", e.note}});
  }
  j["events"] = std::move(events);
  json outbox = json::array();
  for (const auto& o : c.outbox) {
    outbox.push_back({{"id", o.id},
                      {"kind", o.kind},
                      {"state", std::string(queue::to_string(o.state))},
                      {"message_id", opt(o.message_id)},
                      {"to_addr", opt(o.to_addr)},
                      {"attempts", o.attempts},
                      {"next_attempt_at", iso_utc(o.next_attempt_at)},
                      {"last_error", opt(o.last_error)},
                      {"created_at", iso_utc(o.created_at)},
                      {"sent_at", o.sent_at ? json(iso_utc(*o.sent_at)) : json(nullptr)},
                      {"author", opt(o.author)}});
  }
  j["outbox"] = std::move(outbox);
  json notes = json::array();
  for (const auto& n : c.notes)
    notes.push_back({{"id", n.id}, {"at", iso_utc(n.at)}, {"author", n.author}, {"text", n.text}});
  j["notes"] = std::move(notes);
  return j;
}

}  // namespace casedesk::daemon
