#pragma once
// The Store's private state and the row helpers its implementation files share (store.cpp,
// review.cpp, maintenance.cpp). Internal to queue/: it includes SQLiteCpp.

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <thread>
#include <ctime>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "parsers/json.hpp"
#include "queue/sqlite_util.hpp"
#include "queue/store.hpp"

namespace casedesk::queue {
namespace detail {

using nlohmann::json;

inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Case references are stored upper case ("CD-000123"); lookups normalise the caller's text so
// the UNIQUE index on cases.ref serves them (COLLATE NOCASE would scan the table).
inline std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Midnight UTC of the first day of `now`'s month.
inline std::int64_t month_start_utc(std::int64_t now) {
  std::time_t t = static_cast<std::time_t>(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  tm.tm_mday = 1;
  tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
  return static_cast<std::int64_t>(timegm(&tm));
}

// A blob bound from a null pointer is SQL NULL (sqlite3_bind_blob), which an empty
// std::string_view{} has: bind a non-null pointer so empty bytes stay a zero-length blob.
inline void bind_blob(SQLite::Statement& q, int index, std::string_view bytes) {
  static constexpr char kEmpty[1] = {0};
  q.bind(index, static_cast<const void*>(bytes.empty() ? kEmpty : bytes.data()), static_cast<int>(bytes.size()));
}

inline json parse_json_or(const std::string& text, json fallback) {
  if (text == "[]") return json::array();  // most lists are empty
  json j = json::parse(text, nullptr, false);
  return j.is_discarded() ? fallback : j;
}

inline std::vector<std::string> string_list(const json& j) {
  std::vector<std::string> out;
  if (j.is_array())
    for (const auto& v : j)
      if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

// A JSON array of strings as the store writes it (["50","RT"]), read without building a JSON
// document; anything else (escapes, other types) goes through the JSON parser.
inline std::vector<std::string> json_string_list(const std::string& text) {
  std::vector<std::string> out;
  std::size_t i = 0;
  auto fallback = [&] { return string_list(parse_json_or(text, json::array())); };
  if (text.size() < 2 || text.front() != '[' || text.back() != ']') return fallback();
  i = 1;
  while (i < text.size() - 1) {
    if (text[i] == ',' && !out.empty()) ++i;
    if (text[i] != '"') return fallback();
    const std::size_t end = text.find('"', i + 1);
    if (end == std::string::npos || end >= text.size() - 1) return fallback();
    std::string item = text.substr(i + 1, end - i - 1);
    if (item.find('\\') != std::string::npos) return fallback();
    out.push_back(std::move(item));
    i = end + 1;
  }
  return out;
}

inline parsers::Code code_from_row(SQLite::Statement& q, bool brief = false) {
  parsers::Code c;
  c.code = q.getColumn(0).getString();
  c.system = parsers::code_system_from_string(q.getColumn(1).getString()).value_or(parsers::CodeSystem::cpt);
  c.modifiers = json_string_list(q.getColumn(2).getString());
  if (!q.getColumn(3).isNull()) c.units = q.getColumn(3).getInt();
  c.range_end = col_opt_str(q.getColumn(4));
  c.status = col_opt_str(q.getColumn(7));
  if (brief) return c;
  c.found_in = json_string_list(q.getColumn(5).getString());
  c.status = col_opt_str(q.getColumn(7));
  c.notes = json_string_list(q.getColumn(8).getString());
  json mentions = parse_json_or(q.getColumn(6).getString(), json::array());
  for (const auto& m : mentions) {
    parsers::CodeMention cm;
    cm.where = m.value("where", "");
    cm.start = m.value("start", std::size_t{0});
    cm.end = m.value("end", std::size_t{0});
    cm.modifiers = string_list(m.value("modifiers", json::array()));
    if (m.contains("units") && m["units"].is_number_integer()) cm.units = m["units"].get<int>();
    c.mentions.push_back(std::move(cm));
  }
  return c;
}


inline OutboxState outbox_state_from_string(std::string_view s) {
  if (s == "sent") return OutboxState::sent;
  if (s == "failed") return OutboxState::failed;
  return OutboxState::pending;
}

}  // namespace detail

using detail::bind_opt;
using detail::col_opt_i64;
using detail::col_opt_str;
using detail::code_from_row;
using detail::lower;
using detail::month_start_utc;
using detail::outbox_state_from_string;
using detail::parse_json_or;
using detail::json_string_list;
using detail::string_list;

struct Store::Impl {
  using json = nlohmann::json;
  StoreOptions options;
  SQLite::Database db;

  // Prepared statements kept for the connection's life: preparing (parsing) SQL was a quarter of
  // the daemon's CPU per mail. The handle resets the statement and clears its bindings when it
  // goes out of scope. Asking for SQL whose statement is still in use (nested use) prepares a
  // separate one instead of sharing it.
  struct Slot {
    std::unique_ptr<SQLite::Statement> stmt;
    bool busy = false;
  };
  class CachedStatement {
   public:
    CachedStatement(SQLite::Statement* stmt, bool* busy, std::unique_ptr<SQLite::Statement> own)
        : stmt_(stmt), busy_(busy), own_(std::move(own)) {}
    CachedStatement(CachedStatement&& o) noexcept
        : stmt_(o.stmt_), busy_(std::exchange(o.busy_, nullptr)), own_(std::move(o.own_)) {}
    CachedStatement(const CachedStatement&) = delete;
    CachedStatement& operator=(const CachedStatement&) = delete;
    CachedStatement& operator=(CachedStatement&&) = delete;
    ~CachedStatement() {
      if (!busy_) return;
      try {
        stmt_->reset();
      } catch (const SQLite::Exception&) {
        // reset reports the last step's error again; the statement is reset all the same.
      }
      stmt_->clearBindings();
      *busy_ = false;
    }
    SQLite::Statement& operator*() const { return *stmt_; }

   private:
    SQLite::Statement* stmt_;
    bool* busy_;
    std::unique_ptr<SQLite::Statement> own_;
  };
  std::unordered_map<std::string, Slot> statements;  // after db: finalized before it closes

  // At most this many kept statements per connection (the SQL texts are fixed strings and a few
  // dozen listing plans, but a cap keeps any future dynamic SQL from growing the cache forever).
  static constexpr std::size_t kMaxStatements = 256;

  CachedStatement cached(const std::string& sql) {
    auto it = statements.find(sql);
    if (it == statements.end() && statements.size() < kMaxStatements) it = statements.emplace(sql, Slot{}).first;
    if (it == statements.end() || it->second.busy) {
      auto own = std::make_unique<SQLite::Statement>(db, sql);
      SQLite::Statement* raw = own.get();
      return CachedStatement(raw, nullptr, std::move(own));
    }
    Slot& slot = it->second;
    if (!slot.stmt) slot.stmt = std::make_unique<SQLite::Statement>(db, sql);
    slot.busy = true;
    return CachedStatement(slot.stmt.get(), &slot.busy, nullptr);
  }

  // "?,?,…" for an IN list of n values, rounded up to a power of two (8 … 512) so that a few
  // statement texts serve every page size; the caller repeats its last value in the extra slots.
  static std::size_t in_list_size(std::size_t n) {
    std::size_t size = 8;
    while (size < n) size *= 2;
    return size;
  }
  static std::string in_list_marks(std::size_t size) {
    std::string marks;
    for (std::size_t i = 0; i < size; ++i) marks += i ? ",?" : "?";
    return marks;
  }

  explicit Impl(StoreOptions opts)
      : options(std::move(opts)),
        db(options.path.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_FULLMUTEX,
           static_cast<int>(options.busy_timeout.count())) {
    sqlite3_busy_handler(db.getHandle(), &Impl::on_busy, this);
  }

  // Waiting for another connection's write lock. sqlite3_busy_timeout sleeps 1, 2, 5, 10 … 100 ms
  // between tries; the daemon's intake and outbox connections hold the lock for about a
  // millisecond each, so short steps (0.2 ms, then 5 ms after the first 20 ms) lose far less
  // time. Gives up after options.busy_timeout, like sqlite3_busy_timeout.
  static int on_busy(void* self, int tries) {
    const auto* impl = static_cast<const Impl*>(self);
    constexpr int kShortTries = 100;
    const std::int64_t waited_us = std::min(tries, kShortTries) * 200LL + std::max(0, tries - kShortTries) * 5000LL;
    if (waited_us >= std::chrono::duration_cast<std::chrono::microseconds>(impl->options.busy_timeout).count()) return 0;
    std::this_thread::sleep_for(std::chrono::microseconds(tries < kShortTries ? 200 : 5000));
    return 1;
  }

  // Outbox item `item_id` of a case just failed for good: the first such failure of the case (none
  // other failed and not retried) writes the audit event "reply_failed".
  void note_reply_failed(std::int64_t case_id, std::int64_t item_id, std::string_view kind, std::int64_t now,
                         std::string_view actor, std::string_view why) {
    auto q_cached = cached("SELECT count(*) FROM outbox WHERE case_id = ? AND state = 'failed' AND id <> ?");
    SQLite::Statement& q = *q_cached;
    q.bind(1, case_id);
    q.bind(2, item_id);
    const bool first = q.executeStep() && q.getColumn(0).getInt64() == 0;
    q.reset();
    if (first) add_event(case_id, now, actor, "reply_failed", std::nullopt, std::nullopt, std::string(kind) + ": " + std::string(why));
  }

  void add_event(std::optional<std::int64_t> case_id, std::int64_t at, std::string_view actor, std::string_view kind,
                 std::optional<std::string> from, std::optional<std::string> to, std::string_view note) {
    auto q_cached = cached("INSERT INTO events(case_id, at, actor, kind, from_state, to_state, note) "
                        "VALUES(?,?,?,?,?,?,?)");
    SQLite::Statement& q = *q_cached;
    bind_opt(q, 1, case_id);
    q.bind(2, at);
    q.bind(3, std::string(actor));
    q.bind(4, std::string(kind));
    bind_opt(q, 5, from);
    bind_opt(q, 6, to);
    q.bind(7, std::string(note));
    q.exec();
  }

  void record_uid(const MailSource& s, std::string_view outcome, std::optional<std::int64_t> case_id,
                  std::optional<std::int64_t> quarantine_id, std::int64_t now) {
    auto q_cached = cached("INSERT INTO mailbox_uids(mailbox, uidvalidity, uid, outcome, case_id, quarantine_id, "
                        "recorded_at) VALUES(?,?,?,?,?,?,?) ON CONFLICT(mailbox, uidvalidity, uid) DO NOTHING");
    SQLite::Statement& q = *q_cached;
    q.bind(1, s.mailbox);
    q.bind(2, s.uidvalidity);
    q.bind(3, s.uid);
    q.bind(4, std::string(outcome));
    bind_opt(q, 5, case_id);
    bind_opt(q, 6, quarantine_id);
    q.bind(7, now);
    q.exec();
  }

  // The case an identical earlier mail created, if any; `reused` is set when a different mail
  // carried the same Message-ID.
  std::optional<std::int64_t> find_duplicate(const IncomingMail& mail, const std::string& sha,
                                             std::optional<std::int64_t>& reused) {
    const auto& m = mail.message;
    if (m.message_id && !m.message_id->empty()) {
      auto q_cached = cached("SELECT case_id, from_addr, date, date_raw, raw_sha256 FROM messages "
                          "WHERE message_id = ? AND direction = 'in' ORDER BY id");
      SQLite::Statement& q = *q_cached;
      q.bind(1, *m.message_id);
      while (q.executeStep()) {
        std::int64_t case_id = q.getColumn(0).getInt64();
        auto from = col_opt_str(q.getColumn(1));
        auto date = col_opt_str(q.getColumn(2));
        auto date_raw = col_opt_str(q.getColumn(3));
        bool same_sender = lower(from.value_or("")) == lower(m.from_addr.value_or(""));
        bool same_date = date && m.date ? *date == *m.date : date_raw == m.date_raw;
        if ((same_sender && same_date) || q.getColumn(4).getString() == sha) return case_id;
        reused = case_id;
      }
      return std::nullopt;
    }
    auto q_cached = cached("SELECT case_id FROM messages WHERE raw_sha256 = ? AND direction = 'in' LIMIT 1");
    SQLite::Statement& q = *q_cached;
    q.bind(1, sha);
    if (q.executeStep()) return q.getColumn(0).getInt64();
    return std::nullopt;
  }

  std::vector<parsers::Code> codes_of(std::int64_t case_id) {
    std::vector<parsers::Code> out;
    auto q_cached = cached("SELECT code, system, modifiers_json, units, range_end, found_in_json, mentions_json, "
                        "status, notes_json FROM codes WHERE case_id = ? ORDER BY id");
    SQLite::Statement& q = *q_cached;
    q.bind(1, case_id);
    while (q.executeStep()) out.push_back(code_from_row(q));
    return out;
  }

  // The codes of many cases in one query per chunk of ids (a listing page, not N queries).
  void load_codes(std::vector<CaseSummary>& cases, bool brief = false) {
    constexpr std::size_t kChunk = 500;
    std::unordered_map<std::int64_t, CaseSummary*> by_id;
    for (auto& c : cases) by_id[c.id] = &c;
    for (std::size_t at = 0; at < cases.size(); at += kChunk) {
      const std::size_t n = std::min(kChunk, cases.size() - at);
      const std::size_t size = in_list_size(n);
      auto q_cached = cached("SELECT code, system, modifiers_json, units, range_end, found_in_json, mentions_json, "
                             "status, notes_json, case_id FROM codes WHERE case_id IN (" + in_list_marks(size) +
                             ") ORDER BY case_id, id");
      SQLite::Statement& q = *q_cached;
      for (std::size_t i = 0; i < size; ++i) q.bind(static_cast<int>(i + 1), cases[at + std::min(i, n - 1)].id);
      while (q.executeStep()) {
        auto it = by_id.find(q.getColumn(9).getInt64());
        if (it != by_id.end()) it->second->codes.push_back(code_from_row(q, brief));
      }
    }
  }

  // Cases by id, in the order given (ids that do not exist are left out), with their codes; brief:
  // as CaseFilter::brief.
  std::vector<CaseSummary> cases_by_ids(const std::vector<std::int64_t>& ids, std::int64_t now, bool brief = false) {
    constexpr std::size_t kChunk = 500;
    std::unordered_map<std::int64_t, CaseSummary> found;
    for (std::size_t at = 0; at < ids.size(); at += kChunk) {
      const std::size_t n = std::min(kChunk, ids.size() - at);
      const std::size_t size = in_list_size(n);
      auto q_cached =
          cached(std::string("SELECT ") + kCaseColumns + " FROM cases c WHERE c.id IN (" + in_list_marks(size) + ")");
      SQLite::Statement& q = *q_cached;
      for (std::size_t i = 0; i < size; ++i) q.bind(static_cast<int>(i + 1), ids[at + std::min(i, n - 1)]);
      while (q.executeStep()) {
        auto c = case_from_row(q, now, brief);
        found.emplace(c.id, std::move(c));
      }
    }
    std::vector<CaseSummary> out;
    out.reserve(found.size());
    for (auto id : ids)
      if (auto it = found.find(id); it != found.end()) out.push_back(std::move(it->second));
    load_codes(out, brief);
    return out;
  }

  // The columns case_from_row reads, for `SELECT kCaseColumns FROM cases c ...`.
  static constexpr const char* kCaseColumns =
      "c.id, c.ref, c.status, c.ack_state, c.ack_reason, c.submitter_addr, c.submitter_name, c.subject, c.created_at, "
      "c.updated_at, c.code_notes_json, c.priority, c.owner, c.lease_until, c.due_at, c.status_changed_at, c.phi_json, "
      "c.suggestions_json, (SELECT count(*) FROM messages m WHERE m.case_id = c.id), "
      "EXISTS(SELECT 1 FROM outbox o WHERE o.case_id = c.id AND o.state = 'failed')";

  static bool is_open_for_sla(std::string_view status) { return status == "new" || status == "in_review"; }

  static std::vector<Suggestion> suggestions_from_json(const std::string& text) {
    std::vector<Suggestion> out;
    for (const auto& s : parse_json_or(text, json::array())) {
      if (!s.is_object()) continue;
      out.push_back(Suggestion{s.value("code", ""), s.value("system", ""), s.value("description", ""),
                               s.value("score", 0.0)});
    }
    return out;
  }

  static json suggestions_to_json(const std::vector<Suggestion>& list) {
    json out = json::array();
    for (const auto& s : list)
      out.push_back({{"code", s.code}, {"system", s.system}, {"description", s.description}, {"score", s.score}});
    return out;
  }

  // Enqueue parts (store.cpp).
  void insert_codes(std::int64_t case_id, std::int64_t message_row, const std::vector<parsers::Code>& codes,
                    bool skip_known);
  std::int64_t insert_message(std::int64_t case_id, const IncomingMail& mail, const std::string& sha,
                              const std::string& body_text, const std::vector<std::string>& warnings, std::int64_t now);
  // Stores the attachments of an incoming message (metadata from `attachments`, the bytes by a
  // second walk over `raw`, one attachment at a time) and marks its content stored (content.cpp).
  void store_content(std::int64_t message_row, std::string_view raw, const std::vector<parsers::Attachment>& attachments,
                     std::int64_t now);
  void queue_reply(std::int64_t case_id, std::string_view kind, const std::string& to_addr, std::int64_t now,
                   const std::optional<std::string>& body_text = std::nullopt,
                   const std::optional<std::string>& author = std::nullopt,
                   std::optional<std::int64_t> message_row = std::nullopt);
  // The case this mail follows up on (our reference or Message-IDs, from the case's submitter).
  std::optional<std::int64_t> find_thread(const IncomingMail& mail);
  // "unknown_sender" / "over_quota" when a new case from `addr` is refused, else nullopt.
  std::optional<std::string> submitter_refusal(const std::string& addr, std::int64_t now);
  // Non-rejected cases since the month began (UTC) from an address, or from a domain ("@x.test").
  std::int64_t cases_this_month(const std::string& pattern, std::int64_t now);

  CaseSummary case_from_row(SQLite::Statement& q, std::int64_t now, bool brief = false) {
    CaseSummary c = case_from_row(q, brief);
    c.overdue = is_open_for_sla(c.status) && c.due_at > 0 && c.due_at < now;
    return c;
  }

  CaseSummary case_from_row(SQLite::Statement& q, bool brief = false) {
    CaseSummary c;
    c.id = q.getColumn(0).getInt64();
    c.ref = q.getColumn(1).getString();
    c.status = q.getColumn(2).getString();
    c.ack_state = ack_state_from_string(q.getColumn(3).getString()).value_or(AckState::pending);
    c.ack_reason = col_opt_str(q.getColumn(4));
    c.submitter_addr = col_opt_str(q.getColumn(5)).value_or("");  // null: no valid address
    c.submitter_name = q.getColumn(6).getString();
    c.subject = q.getColumn(7).getString();
    c.created_at = q.getColumn(8).getInt64();
    c.updated_at = q.getColumn(9).getInt64();
    c.code_notes = json_string_list(q.getColumn(10).getString());
    c.priority = q.getColumn(11).getString();
    c.owner = col_opt_str(q.getColumn(12));
    c.lease_until = col_opt_i64(q.getColumn(13));
    c.due_at = q.getColumn(14).getInt64();
    c.status_changed_at = q.getColumn(15).getInt64();
    c.phi = json_string_list(q.getColumn(16).getString());
    if (!brief) c.suggestions = suggestions_from_json(q.getColumn(17).getString());
    c.message_count = q.getColumn(18).getInt64();
    c.reply_failed = q.getColumn(19).getInt() != 0;
    c.overdue = is_open_for_sla(c.status) && c.due_at > 0 && c.due_at < static_cast<std::int64_t>(std::time(nullptr));
    return c;
  }

  std::vector<OutboxItem> outbox_rows(const std::string& where, const std::function<void(SQLite::Statement&)>& bind) {
    std::vector<OutboxItem> out;
    auto q_cached = cached("SELECT o.id, o.case_id, coalesce(c.ref, 'quarantine ' || o.quarantine_id), o.kind, o.state, "
                        "o.message_id, o.to_addr, o.raw, o.attempts, "
                        "o.next_attempt_at, o.last_error, o.created_at, o.sent_at "
                        ", o.quarantine_id, o.body_text, o.author, o.message_row FROM outbox o LEFT JOIN cases c ON c.id = o.case_id WHERE " +
                            where);
    SQLite::Statement& q = *q_cached;
    bind(q);
    while (q.executeStep()) {
      OutboxItem it;
      it.id = q.getColumn(0).getInt64();
      it.case_id = q.getColumn(1).getInt64();
      it.case_ref = q.getColumn(2).getString();
      it.kind = q.getColumn(3).getString();
      it.state = outbox_state_from_string(q.getColumn(4).getString());
      it.message_id = col_opt_str(q.getColumn(5));
      it.to_addr = col_opt_str(q.getColumn(6));
      if (!q.getColumn(7).isNull())
        it.raw = std::string(static_cast<const char*>(q.getColumn(7).getBlob()), q.getColumn(7).getBytes());
      it.attempts = q.getColumn(8).getInt();
      it.next_attempt_at = q.getColumn(9).getInt64();
      it.last_error = col_opt_str(q.getColumn(10));
      it.created_at = q.getColumn(11).getInt64();
      it.sent_at = col_opt_i64(q.getColumn(12));
      it.quarantine_id = col_opt_i64(q.getColumn(13));
      it.body_text = col_opt_str(q.getColumn(14));
      it.author = col_opt_str(q.getColumn(15));
      it.message_row = col_opt_i64(q.getColumn(16));
      out.push_back(std::move(it));
    }
    return out;
  }

  std::optional<CaseDetail> detail(std::optional<CaseSummary> summary) {
    if (!summary) return std::nullopt;
    CaseDetail d;
    d.summary = std::move(*summary);
    d.summary.codes = codes_of(d.summary.id);
    auto m_cached = cached("SELECT id, direction, message_id, from_addr, from_name, reply_to_addr, reply_to_name, "
                        "subject, date, in_reply_to, references_json, received_at, length(raw), body_source, "
                        "body_text, warnings_json, mailbox, uidvalidity, uid FROM messages WHERE case_id = ? "
                        "ORDER BY id");
    SQLite::Statement& m = *m_cached;
    m.bind(1, d.summary.id);
    while (m.executeStep()) {
      StoredMessage s;
      s.id = m.getColumn(0).getInt64();
      s.direction = m.getColumn(1).getString();
      s.message_id = col_opt_str(m.getColumn(2));
      s.from_addr = col_opt_str(m.getColumn(3));
      s.from_name = col_opt_str(m.getColumn(4));
      if (!m.getColumn(5).isNull())
        s.reply_to = parsers::Address{m.getColumn(5).getString(), m.getColumn(6).getString()};
      s.subject = col_opt_str(m.getColumn(7));
      s.date = col_opt_str(m.getColumn(8));
      s.in_reply_to = col_opt_str(m.getColumn(9));
      s.references = string_list(parse_json_or(m.getColumn(10).getString(), json::array()));
      s.received_at = m.getColumn(11).getInt64();
      s.size = m.getColumn(12).getInt64();
      s.body_source = m.getColumn(13).getString();
      s.body_text = m.getColumn(14).getString();
      s.warnings = string_list(parse_json_or(m.getColumn(15).getString(), json::array()));
      if (!m.getColumn(16).isNull())
        s.source = MailSource{m.getColumn(16).getString(), m.getColumn(17).getInt64(), m.getColumn(18).getInt64()};
      d.messages.push_back(std::move(s));
    }
    auto e_cached = cached("SELECT id, at, actor, kind, from_state, to_state, note FROM events WHERE case_id = ? "
                        "ORDER BY id");
    SQLite::Statement& e = *e_cached;
    e.bind(1, d.summary.id);
    while (e.executeStep()) {
      d.events.push_back(Event{e.getColumn(0).getInt64(), e.getColumn(1).getInt64(), e.getColumn(2).getString(),
                               e.getColumn(3).getString(), col_opt_str(e.getColumn(4)), col_opt_str(e.getColumn(5)),
                               e.getColumn(6).getString()});
    }
    auto n_cached = cached("SELECT id, at, author, text FROM notes WHERE case_id = ? ORDER BY id");
    SQLite::Statement& n = *n_cached;
    n.bind(1, d.summary.id);
    while (n.executeStep())
      d.notes.push_back(Note{n.getColumn(0).getInt64(), n.getColumn(1).getInt64(), n.getColumn(2).getString(),
                             n.getColumn(3).getString()});
    std::int64_t id = d.summary.id;
    d.outbox = outbox_rows("o.case_id = ? ORDER BY o.id", [id](SQLite::Statement& q) { q.bind(1, id); });
    return d;
  }
};

}  // namespace casedesk::queue
