#include "queue/store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cctype>
#include <functional>
#include <nlohmann/json.hpp>

#include "parsers/address.hpp"
#include "parsers/case_ref.hpp"
#include "parsers/json.hpp"
#include "queue/sqlite_util.hpp"
#include "queue/store_impl.hpp"

namespace casedesk::queue {
namespace {

using detail::bind_opt;
using detail::col_opt_i64;
using detail::col_opt_str;
using detail::sha256_hex;
using detail::bind_blob;
using detail::lower;
using detail::parse_json_or;
using detail::string_list;
using detail::outbox_state_from_string;

using nlohmann::json;

// Schema migrations, applied in order; schema version = number applied (PRAGMA user_version).
// Never edit a released entry: append a new one.
const std::vector<const char*>& migrations() {
  static const std::vector<const char*> all = {
      R"sql(
CREATE TABLE cases(
  id INTEGER PRIMARY KEY,
  ref TEXT UNIQUE,
  status TEXT NOT NULL,
  ack_state TEXT NOT NULL,
  ack_reason TEXT,
  submitter_addr TEXT NOT NULL,
  submitter_name TEXT NOT NULL,
  subject TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL);
CREATE TABLE messages(
  id INTEGER PRIMARY KEY,
  case_id INTEGER NOT NULL REFERENCES cases(id),
  direction TEXT NOT NULL CHECK(direction IN ('in','out')),
  message_id TEXT,
  from_addr TEXT,
  from_name TEXT,
  reply_to_addr TEXT,
  reply_to_name TEXT,
  subject TEXT,
  date TEXT,
  date_raw TEXT,
  in_reply_to TEXT,
  references_json TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  raw BLOB NOT NULL,
  raw_sha256 TEXT NOT NULL,
  body_source TEXT NOT NULL,
  body_text TEXT NOT NULL,
  warnings_json TEXT NOT NULL,
  mailbox TEXT,
  uidvalidity INTEGER,
  uid INTEGER);
CREATE INDEX messages_case ON messages(case_id);
CREATE INDEX messages_message_id ON messages(message_id);
CREATE INDEX messages_sha ON messages(raw_sha256);
CREATE TABLE codes(
  id INTEGER PRIMARY KEY,
  case_id INTEGER NOT NULL REFERENCES cases(id),
  message_id INTEGER NOT NULL REFERENCES messages(id),
  code TEXT NOT NULL,
  system TEXT NOT NULL,
  modifiers_json TEXT NOT NULL,
  units INTEGER,
  range_end TEXT,
  found_in_json TEXT NOT NULL,
  mentions_json TEXT NOT NULL);
CREATE INDEX codes_case ON codes(case_id);
CREATE TABLE events(
  id INTEGER PRIMARY KEY,
  case_id INTEGER REFERENCES cases(id),
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  kind TEXT NOT NULL,
  from_state TEXT,
  to_state TEXT,
  note TEXT NOT NULL DEFAULT '');
CREATE INDEX events_case ON events(case_id);
CREATE TABLE outbox(
  id INTEGER PRIMARY KEY,
  case_id INTEGER NOT NULL REFERENCES cases(id),
  kind TEXT NOT NULL,
  state TEXT NOT NULL CHECK(state IN ('pending','sent','failed')),
  message_id TEXT,
  to_addr TEXT,
  raw BLOB,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  sent_at INTEGER);
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
CREATE TABLE quarantine(
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  mailbox TEXT,
  uidvalidity INTEGER,
  uid INTEGER,
  reason TEXT NOT NULL,
  raw BLOB NOT NULL);
CREATE TABLE mailbox_uids(
  mailbox TEXT NOT NULL,
  uidvalidity INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  outcome TEXT NOT NULL CHECK(outcome IN ('case','quarantined')),
  case_id INTEGER REFERENCES cases(id),
  quarantine_id INTEGER REFERENCES quarantine(id),
  recorded_at INTEGER NOT NULL,
  moved_at INTEGER,
  PRIMARY KEY(mailbox, uidvalidity, uid));
)sql",
      // 2: one daemon per mailbox; quarantined mail processed again; intake counters.
      R"sql(
CREATE TABLE daemon_locks(
  mailbox TEXT PRIMARY KEY,
  pid INTEGER NOT NULL,
  host TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  heartbeat_at INTEGER NOT NULL);
ALTER TABLE quarantine ADD COLUMN case_id INTEGER REFERENCES cases(id);
CREATE TABLE counters(
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL);
CREATE INDEX outbox_to_created ON outbox(to_addr, created_at);
)sql",
      // 3: code validation against code sets (parsers/code_validation.hpp): status and notes per
      // code, case-level code notes.
      R"sql(
ALTER TABLE codes ADD COLUMN status TEXT;
ALTER TABLE codes ADD COLUMN notes_json TEXT NOT NULL DEFAULT '[]';
ALTER TABLE cases ADD COLUMN code_notes_json TEXT NOT NULL DEFAULT '[]';
)sql",
      // 4: replies about quarantined mail (too_large): an outbox item belongs to a case or to a
      // quarantine record. SQLite cannot drop NOT NULL in place, so the table is rebuilt.
      R"sql(
CREATE TABLE outbox_v4(
  id INTEGER PRIMARY KEY,
  case_id INTEGER REFERENCES cases(id),
  quarantine_id INTEGER REFERENCES quarantine(id),
  kind TEXT NOT NULL,
  state TEXT NOT NULL CHECK(state IN ('pending','sent','failed')),
  message_id TEXT,
  to_addr TEXT,
  raw BLOB,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  sent_at INTEGER,
  CHECK(case_id IS NOT NULL OR quarantine_id IS NOT NULL));
INSERT INTO outbox_v4(id, case_id, kind, state, message_id, to_addr, raw, attempts, next_attempt_at, last_error,
                      created_at, sent_at)
  SELECT id, case_id, kind, state, message_id, to_addr, raw, attempts, next_attempt_at, last_error, created_at, sent_at
  FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v4 RENAME TO outbox;
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
CREATE INDEX outbox_to_created ON outbox(to_addr, created_at);
)sql",
      // 5: the review workflow (priority, owner, lease, due time), internal notes, consultants and
      // their web sessions, registered submitters, full-text search, PHI kinds and narrative
      // suggestions; replies written by consultants and digests in the outbox (rebuilt: a digest
      // belongs to neither a case nor a quarantine record).
      R"sql(
ALTER TABLE cases ADD COLUMN priority TEXT NOT NULL DEFAULT 'normal'
  CHECK(priority IN ('low','normal','high','urgent'));
ALTER TABLE cases ADD COLUMN owner TEXT;
ALTER TABLE cases ADD COLUMN lease_until INTEGER;
ALTER TABLE cases ADD COLUMN due_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN status_changed_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN closed_at INTEGER;
ALTER TABLE cases ADD COLUMN phi_json TEXT NOT NULL DEFAULT '[]';
ALTER TABLE cases ADD COLUMN suggestions_json TEXT NOT NULL DEFAULT '[]';
UPDATE cases SET due_at = created_at + 172800, status_changed_at = updated_at;
CREATE INDEX cases_status_due ON cases(status, due_at);
CREATE INDEX cases_owner ON cases(owner, status);
CREATE INDEX cases_created ON cases(created_at);
CREATE INDEX cases_submitter ON cases(submitter_addr COLLATE NOCASE, created_at);
CREATE TABLE notes(
  id INTEGER PRIMARY KEY,
  case_id INTEGER NOT NULL REFERENCES cases(id),
  at INTEGER NOT NULL,
  author TEXT NOT NULL,
  text TEXT NOT NULL);
CREATE INDEX notes_case ON notes(case_id);
CREATE TABLE users(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  email TEXT NOT NULL,
  role TEXT NOT NULL CHECK(role IN ('consultant','admin')),
  password_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL);
CREATE TABLE web_sessions(
  token_sha256 TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  csrf_token TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL);
CREATE TABLE submitters(
  id INTEGER PRIMARY KEY,
  pattern TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL DEFAULT '',
  quota INTEGER,
  created_at INTEGER NOT NULL);
CREATE VIRTUAL TABLE cases_fts USING fts5(subject, body, codes, tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO cases_fts(rowid, subject, body, codes)
  SELECT c.id, c.subject,
         coalesce((SELECT group_concat(m.body_text, char(10)) FROM messages m WHERE m.case_id = c.id AND m.direction = 'in'), ''),
         coalesce((SELECT group_concat(k.code, ' ') FROM codes k WHERE k.case_id = c.id), '')
  FROM cases c;
CREATE TABLE outbox_v5(
  id INTEGER PRIMARY KEY,
  case_id INTEGER REFERENCES cases(id),
  quarantine_id INTEGER REFERENCES quarantine(id),
  kind TEXT NOT NULL,
  state TEXT NOT NULL CHECK(state IN ('pending','sent','failed')),
  message_id TEXT,
  to_addr TEXT,
  raw BLOB,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  sent_at INTEGER,
  body_text TEXT,
  author TEXT,
  message_row INTEGER REFERENCES messages(id));
INSERT INTO outbox_v5(id, case_id, quarantine_id, kind, state, message_id, to_addr, raw, attempts, next_attempt_at,
                      last_error, created_at, sent_at)
  SELECT id, case_id, quarantine_id, kind, state, message_id, to_addr, raw, attempts, next_attempt_at, last_error,
         created_at, sent_at
  FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v5 RENAME TO outbox;
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
CREATE INDEX outbox_to_created ON outbox(to_addr, created_at);
CREATE INDEX outbox_message_id ON outbox(message_id);
CREATE INDEX outbox_case ON outbox(case_id);
)sql",
      // 6: sync_marks (Store::make_durable writes it to sync the WAL once for a group of commits);
      // listings that read only the page; counts per status, and per status and due hour for the
      // overdue count, kept by triggers. Each (status[, priority], sort column) index range is
      // already in the listing's order, so a page is a merge of a few ranges, not a sort of every
      // open case; per-status counts are kept by triggers so the pager's total is not a scan.
      R"sql(
CREATE INDEX cases_status_priority_due ON cases(status, priority, due_at);
CREATE INDEX cases_status_created ON cases(status, created_at);
CREATE INDEX cases_status_updated ON cases(status, updated_at);
DROP INDEX cases_owner;
CREATE INDEX cases_owner_status_due ON cases(owner, status, due_at);
CREATE INDEX cases_owner_status_created ON cases(owner, status, created_at);
CREATE INDEX cases_owner_status_updated ON cases(owner, status, updated_at);
CREATE TABLE sync_marks(id INTEGER PRIMARY KEY CHECK(id = 1), at INTEGER NOT NULL);
CREATE TABLE case_counts(status TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO case_counts(status, n) SELECT status, count(*) FROM cases GROUP BY status;
CREATE TRIGGER case_counts_insert AFTER INSERT ON cases BEGIN
  INSERT INTO case_counts(status, n) VALUES (new.status, 1) ON CONFLICT(status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER case_counts_delete AFTER DELETE ON cases BEGIN
  UPDATE case_counts SET n = n - 1 WHERE status = old.status;
END;
CREATE TRIGGER case_counts_update AFTER UPDATE OF status ON cases WHEN old.status IS NOT new.status BEGIN
  UPDATE case_counts SET n = n - 1 WHERE status = old.status;
  INSERT INTO case_counts(status, n) VALUES (new.status, 1) ON CONFLICT(status) DO UPDATE SET n = n + 1;
END;
CREATE TABLE due_hours(status TEXT NOT NULL, hour INTEGER NOT NULL, n INTEGER NOT NULL,
  PRIMARY KEY(status, hour)) WITHOUT ROWID;
INSERT INTO due_hours(status, hour, n)
  SELECT status, due_at / 3600, count(*) FROM cases WHERE status IN ('new','in_review') GROUP BY 1, 2;
CREATE TRIGGER due_hours_insert AFTER INSERT ON cases WHEN new.status IN ('new','in_review') BEGIN
  INSERT INTO due_hours(status, hour, n) VALUES (new.status, new.due_at / 3600, 1)
    ON CONFLICT(status, hour) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER due_hours_delete AFTER DELETE ON cases WHEN old.status IN ('new','in_review') BEGIN
  UPDATE due_hours SET n = n - 1 WHERE status = old.status AND hour = old.due_at / 3600;
END;
CREATE TRIGGER due_hours_update_old AFTER UPDATE OF status, due_at ON cases
  WHEN old.status IN ('new','in_review') AND (old.status IS NOT new.status OR old.due_at IS NOT new.due_at) BEGIN
  UPDATE due_hours SET n = n - 1 WHERE status = old.status AND hour = old.due_at / 3600;
END;
CREATE TRIGGER due_hours_update_new AFTER UPDATE OF status, due_at ON cases
  WHEN new.status IN ('new','in_review') AND (old.status IS NOT new.status OR old.due_at IS NOT new.due_at) BEGIN
  INSERT INTO due_hours(status, hour, n) VALUES (new.status, new.due_at / 3600, 1)
    ON CONFLICT(status, hour) DO UPDATE SET n = n + 1;
END;
)sql",
      // What the case view needs, stored at intake so that a view reads neither the raw mail nor
      // the attachments' bytes: each incoming message's attachments (name, type, size, extracted
      // text) and their decoded bytes in chunks of Store::kAttachmentChunk, which a download
      // streams one at a time. message_content: 'stored' (at intake, or on the first view of a
      // message an older release stored: no row yet) or 'purged' (retention removed the raw
      // bytes, and with them the text and the attachments). A table of its own, so that neither
      // writes rewrite a message row with its raw bytes.
      R"sql(
CREATE TABLE message_content(
  message_id INTEGER PRIMARY KEY REFERENCES messages(id),
  state TEXT NOT NULL CHECK(state IN ('stored','purged')),
  at INTEGER);
INSERT INTO message_content(message_id, state, at)
  SELECT id, 'purged', NULL FROM messages WHERE direction = 'in' AND length(raw) = 0;
CREATE TABLE attachments(
  id INTEGER PRIMARY KEY,
  message_id INTEGER NOT NULL REFERENCES messages(id),
  idx INTEGER NOT NULL,
  filename TEXT,
  content_type TEXT NOT NULL,
  size INTEGER,
  text TEXT,
  data_size INTEGER NOT NULL DEFAULT 0,
  UNIQUE(message_id, idx));
CREATE TABLE attachment_chunks(
  id INTEGER PRIMARY KEY,
  attachment_id INTEGER NOT NULL REFERENCES attachments(id),
  seq INTEGER NOT NULL,
  data BLOB NOT NULL,
  UNIQUE(attachment_id, seq));
)sql",
      // A case whose From holds no valid address has a null submitter_addr. Dropping a NOT NULL
      // constraint changes no stored record, so the table's definition is edited in place (the
      // procedure of SQLite's ALTER TABLE documentation, section "Making Other Kinds Of Table
      // Schema Changes"; the loop below bumps schema_version) instead of rebuilding `cases`
      // under its triggers, indexes and foreign keys.
      R"sql(
PRAGMA writable_schema=ON;
UPDATE sqlite_schema SET sql = replace(sql, 'submitter_addr TEXT NOT NULL,', 'submitter_addr TEXT,')
  WHERE type = 'table' AND name = 'cases';
PRAGMA writable_schema=OFF;
)sql",
  };
  return all;
}

}  // namespace

std::string_view to_string(AckState s) {
  switch (s) {
    case AckState::pending: return "pending";
    case AckState::sent: return "sent";
    case AckState::suppressed: return "suppressed";
    case AckState::failed: return "failed";
  }
  return "pending";
}

std::optional<AckState> ack_state_from_string(std::string_view s) {
  for (AckState a : {AckState::pending, AckState::sent, AckState::suppressed, AckState::failed})
    if (to_string(a) == s) return a;
  return std::nullopt;
}

std::string_view to_string(OutboxState s) {
  switch (s) {
    case OutboxState::pending: return "pending";
    case OutboxState::sent: return "sent";
    case OutboxState::failed: return "failed";
  }
  return "pending";
}



Store::Store(StoreOptions options) {
  const std::string where = options.path.string();
  try {
    impl_ = std::make_unique<Impl>(std::move(options));
    auto& db = impl_->db;
    if (where != ":memory:") db.exec("PRAGMA journal_mode=WAL");
    db.exec("PRAGMA synchronous=FULL");
    db.exec("PRAGMA foreign_keys=ON");
    int version = db.execAndGet("PRAGMA user_version").getInt();
    const auto& all = migrations();
    if (version > static_cast<int>(all.size()))
      throw StoreError("cannot open store " + where + ": its schema version " + std::to_string(version) +
                       " is newer than this casedesk's (" + std::to_string(all.size()) + ")");
    for (int v = version; v < static_cast<int>(all.size()); ++v) {
      SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
      // Another process may have migrated while we waited for the write lock.
      if (db.execAndGet("PRAGMA user_version").getInt() > v) continue;
      db.exec(all[v]);
      // A new schema cookie makes every connection (this one too) re-read the schema, which an
      // in-place edit of sqlite_schema needs (DDL bumps it by itself).
      db.exec("PRAGMA schema_version=" + std::to_string(db.execAndGet("PRAGMA schema_version").getInt64() + 1));
      db.exec("PRAGMA user_version=" + std::to_string(v + 1));
      tx.commit();
    }
  } catch (const SQLite::Exception& e) {
    throw StoreError("cannot open store " + where + ": " + e.what());
  }
}

Store::~Store() = default;

int Store::schema_version() const { return impl_->db.execAndGet("PRAGMA user_version").getInt(); }
int Store::latest_schema_version() { return static_cast<int>(migrations().size()); }

namespace {

// The reply a new case gets first: its state is the case's ack_state.
bool is_first_reply_kind(std::string_view kind) {
  return kind == "ack" || kind == "over_quota" || kind == "unknown_sender";
}

std::string domain_of_addr(const std::string& addr) {
  const auto at = addr.rfind('@');
  return at == std::string::npos ? std::string{} : lower(addr.substr(at + 1));
}

// The codes of a mail as one FTS text: "64635 64636-50 M47.816".
std::string codes_text(const std::vector<parsers::Code>& codes) {
  std::string out;
  for (const auto& c : codes) {
    if (!out.empty()) out += ' ';
    out += c.code;
    if (c.range_end) out += ' ' + *c.range_end;
  }
  return out;
}

}  // namespace

std::int64_t ReviewPolicy::sla(Priority p) const {
  switch (p) {
    case Priority::low: return sla_low;
    case Priority::normal: return sla_normal;
    case Priority::high: return sla_high;
    case Priority::urgent: return sla_urgent;
  }
  return sla_normal;
}

void Store::Impl::insert_codes(std::int64_t case_id, std::int64_t message_row, const std::vector<parsers::Code>& codes,
                               bool skip_known) {
  for (const auto& c : codes) {
    if (skip_known) {
      auto k_cached = cached("SELECT 1 FROM codes WHERE case_id = ? AND code = ? AND system = ? LIMIT 1");
      SQLite::Statement& k = *k_cached;
      k.bind(1, case_id);
      k.bind(2, c.code);
      k.bind(3, std::string(parsers::to_string(c.system)));
      if (k.executeStep()) continue;
    }
    auto q_cached = cached("INSERT INTO codes(case_id, message_id, code, system, modifiers_json, units, range_end, "
                        "found_in_json, mentions_json, status, notes_json) VALUES(?,?,?,?,?,?,?,?,?,?,?)");
    SQLite::Statement& q = *q_cached;
    json mentions = parsers::to_json(std::vector<parsers::Code>{c})[0].value("mentions", json::array());
    q.bind(1, case_id);
    q.bind(2, message_row);
    q.bind(3, c.code);
    q.bind(4, std::string(parsers::to_string(c.system)));
    q.bind(5, json(c.modifiers).dump());
    bind_opt(q, 6, c.units);
    bind_opt(q, 7, c.range_end);
    q.bind(8, json(c.found_in).dump());
    q.bind(9, mentions.dump());
    bind_opt(q, 10, c.status);
    q.bind(11, json(c.notes).dump());
    q.exec();
  }
}

std::int64_t Store::Impl::insert_message(std::int64_t case_id, const IncomingMail& mail, const std::string& sha,
                                         const std::string& body_text, const std::vector<std::string>& warnings,
                                         std::int64_t now) {
  const auto& m = mail.message;
  auto q_cached = cached("INSERT INTO messages(case_id, direction, message_id, from_addr, from_name, reply_to_addr, "
                      "reply_to_name, subject, date, date_raw, in_reply_to, references_json, received_at, raw, "
                      "raw_sha256, body_source, body_text, warnings_json, mailbox, uidvalidity, uid) "
                      "VALUES(?,'in',?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  SQLite::Statement& q = *q_cached;
  q.bind(1, case_id);
  bind_opt(q, 2, m.message_id);
  bind_opt(q, 3, m.from_addr);
  bind_opt(q, 4, m.from_name);
  if (m.reply_to) {
    q.bind(5, m.reply_to->addr);
    q.bind(6, m.reply_to->name);
  } else {
    q.bind(5);
    q.bind(6);
  }
  bind_opt(q, 7, m.subject);
  bind_opt(q, 8, m.date);
  bind_opt(q, 9, m.date_raw);
  bind_opt(q, 10, m.in_reply_to);
  q.bind(11, json(m.references).dump());
  q.bind(12, now);
  // Not copied: SQLite builds the row from the caller's bytes (a copy would be the mail's size again).
  q.bindNoCopy(13, static_cast<const void*>(mail.raw.empty() ? "" : mail.raw.data()), static_cast<int>(mail.raw.size()));
  q.bind(14, sha);
  q.bind(15, std::string(parsers::to_string(m.body_source)));
  q.bind(16, body_text);
  q.bind(17, json(warnings).dump());
  if (mail.source) {
    q.bind(18, mail.source->mailbox);
    q.bind(19, mail.source->uidvalidity);
    q.bind(20, mail.source->uid);
  } else {
    q.bind(18);
    q.bind(19);
    q.bind(20);
  }
  q.exec();
  const std::int64_t row = db.getLastInsertRowid();
  store_content(row, mail.raw, m.attachments, now);
  return row;
}

void Store::Impl::queue_reply(std::int64_t case_id, std::string_view kind, const std::string& to_addr,
                              std::int64_t now, const std::optional<std::string>& body_text,
                              const std::optional<std::string>& author, std::optional<std::int64_t> message_row) {
  auto q_cached = cached("INSERT INTO outbox(case_id, kind, state, to_addr, next_attempt_at, created_at, body_text, "
                      "author, message_row) VALUES(?, ?, 'pending', ?, ?, ?, ?, ?, ?)");
  SQLite::Statement& q = *q_cached;
  q.bind(1, case_id);
  q.bind(2, std::string(kind));
  q.bind(3, to_addr);
  q.bind(4, now);
  q.bind(5, now);
  bind_opt(q, 6, body_text);
  bind_opt(q, 7, author);
  bind_opt(q, 8, message_row);
  q.exec();
}

std::optional<std::int64_t> Store::Impl::find_thread(const IncomingMail& mail) {
  const auto& m = mail.message;
  const std::string from = lower(m.from_addr.value_or(""));
  if (from.empty()) return std::nullopt;
  // The case's submitter: its From, or a Reply-To of one of its incoming messages.
  auto from_submitter = [&](std::int64_t case_id) {
    auto q_cached = cached("SELECT 1 FROM cases WHERE id = ?1 AND lower(submitter_addr) = ?2 UNION ALL "
                        "SELECT 1 FROM messages WHERE case_id = ?1 AND direction = 'in' AND "
                        "(lower(from_addr) = ?2 OR lower(reply_to_addr) = ?2) LIMIT 1");
    SQLite::Statement& q = *q_cached;
    q.bind(1, case_id);
    q.bind(2, from);
    return q.executeStep();
  };
  // In-Reply-To / References naming one of our replies or one of the case's own messages
  // (newest reference first: it is the closest ancestor).
  std::vector<std::string> ids;
  if (m.in_reply_to) ids.push_back(*m.in_reply_to);
  for (auto it = m.references.rbegin(); it != m.references.rend(); ++it) ids.push_back(*it);
  for (const auto& id : ids) {
    if (id.empty() || (m.message_id && id == *m.message_id)) continue;
    auto q_cached = cached("SELECT case_id FROM outbox WHERE message_id = ?1 AND case_id IS NOT NULL UNION ALL "
                        "SELECT case_id FROM messages WHERE message_id = ?1 LIMIT 1");
    SQLite::Statement& q = *q_cached;
    q.bind(1, id);
    if (q.executeStep()) {
      const std::int64_t case_id = q.getColumn(0).getInt64();
      q.reset();
      if (from_submitter(case_id)) return case_id;
    }
  }
  // Our reference in the subject ("Re: ... [CD-000042]").
  if (m.subject) {
    if (auto ref = parsers::find_case_ref(*m.subject, options.case_prefix)) {
      auto q_cached = cached("SELECT id FROM cases WHERE ref = ?");
      SQLite::Statement& q = *q_cached;
      q.bind(1, detail::upper(*ref));
      if (q.executeStep()) {
        const std::int64_t case_id = q.getColumn(0).getInt64();
        q.reset();
        if (from_submitter(case_id)) return case_id;
      }
    }
  }
  return std::nullopt;
}

std::int64_t Store::Impl::cases_this_month(const std::string& pattern, std::int64_t now) {
  const bool by_domain = !pattern.empty() && pattern.front() == '@';
  auto c_cached = cached(by_domain ? "SELECT count(*) FROM cases WHERE lower(submitter_addr) LIKE ? ESCAPE '\\' "
                                      "AND created_at >= ? AND status != 'rejected'"
                                    : "SELECT count(*) FROM cases WHERE submitter_addr = ? COLLATE NOCASE "
                                      "AND created_at >= ? AND status != 'rejected'");
  SQLite::Statement& c = *c_cached;
  if (by_domain) {
    std::string like = "%";
    for (char ch : lower(pattern)) {
      if (ch == '%' || ch == '_' || ch == '\\') like += '\\';
      like += ch;
    }
    c.bind(1, like);
  } else {
    c.bind(1, pattern);
  }
  c.bind(2, month_start_utc(now));
  c.executeStep();
  return c.getColumn(0).getInt64();
}

std::optional<std::string> Store::Impl::submitter_refusal(const std::string& addr, std::int64_t now) {
  const std::string a = lower(addr);
  const std::string domain = domain_of_addr(a);
  std::optional<int> quota;
  bool registered = false;
  bool by_domain = false;
  {
    auto q_cached = cached("SELECT pattern, quota FROM submitters WHERE pattern = ? OR pattern = ? "
                            "ORDER BY length(pattern) DESC");
    SQLite::Statement& q = *q_cached;
    q.bind(1, a);
    q.bind(2, "@" + domain);
    // An address entry wins over its domain's entry.
    if (q.executeStep()) {
      registered = true;
      by_domain = q.getColumn(0).getString().front() == '@';
      if (auto v = col_opt_i64(q.getColumn(1))) quota = static_cast<int>(*v);
    }
  }
  if (!registered) {
    if (options.submitters.reject_unknown) return "unknown_sender";
    quota = options.submitters.guest_quota;
  }
  if (!quota || *quota <= 0) return std::nullopt;
  if (cases_this_month(by_domain ? "@" + domain : a, now) >= *quota) return "over_quota";
  return std::nullopt;
}

EnqueueResult Store::enqueue(const IncomingMail& mail, std::int64_t now) try {
  auto& db = impl_->db;
  const auto& m = mail.message;
  const std::string sha = sha256_hex(mail.raw);
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  EnqueueResult result;

  std::optional<std::int64_t> reused;
  if (auto existing = impl_->find_duplicate(mail, sha, reused)) {
    result.outcome = EnqueueResult::Outcome::duplicate;
    result.case_id = *existing;
    result.case_ref = db.execAndGet("SELECT ref FROM cases WHERE id = " + std::to_string(*existing)).getString();
    std::string note = "the same mail arrived again";
    if (mail.source) note += " (uid " + std::to_string(mail.source->uid) + ")";
    impl_->add_event(*existing, now, "intake", "duplicate", std::nullopt, std::nullopt, note);
    if (mail.source) impl_->record_uid(*mail.source, "case", *existing, std::nullopt, now);
    tx.commit();
    return result;
  }

  std::vector<std::string> warnings = m.warnings;
  if (reused) {
    std::string ref = db.execAndGet("SELECT ref FROM cases WHERE id = " + std::to_string(*reused)).getString();
    result.warnings.push_back("Message-ID already used by a different mail (case " + ref + ")");
    warnings.push_back(result.warnings.back());
  }
  const std::string reply_to_addr =
      m.reply_to && parsers::is_valid_mailbox(m.reply_to->addr) ? m.reply_to->addr : m.from_addr.value_or("");

  // A follow-up: the submitter's reply (or their auto-reply) to one of our mails about a case.
  if (auto thread = impl_->find_thread(mail)) {
    const std::int64_t case_id = *thread;
    auto c_cached = impl_->cached("SELECT ref, status, priority FROM cases WHERE id = ?");
    SQLite::Statement& c = *c_cached;
    c.bind(1, case_id);
    c.executeStep();
    result.case_id = case_id;
    result.case_ref = c.getColumn(0).getString();
    const std::string from_status = c.getColumn(1).getString();
    const Priority priority = priority_from_string(c.getColumn(2).getString()).value_or(Priority::normal);
    c.reset();
    const std::string text = m.reply_text.empty() ? m.body_text : m.reply_text;
    const std::int64_t message_row = impl_->insert_message(case_id, mail, sha, text, warnings, now);
    impl_->insert_codes(case_id, message_row, mail.codes, true);
    {
      auto f_cached = impl_->cached("UPDATE cases_fts SET body = body || char(10) || ?, codes = codes || ' ' || ? "
                              "WHERE rowid = ?");
      SQLite::Statement& f = *f_cached;
      f.bind(1, text);
      f.bind(2, codes_text(mail.codes));
      f.bind(3, case_id);
      f.exec();
    }
    const std::string uid_note = mail.source ? "uid " + std::to_string(mail.source->uid) : std::string{};
    if (mail.automated) {
      // An out-of-office reply and the like: kept on the case as a note, the case stays put.
      result.outcome = EnqueueResult::Outcome::note;
      auto n_cached = impl_->cached("INSERT INTO notes(case_id, at, author, text) VALUES(?,?,?,?)");
      SQLite::Statement& n = *n_cached;
      n.bind(1, case_id);
      n.bind(2, now);
      n.bind(3, "intake");
      n.bind(4, "Automated mail from the submitter attached (message " + std::to_string(message_row) +
                    "): " + mail.suppress_ack_reason.value_or("automated"));
      n.exec();
      impl_->add_event(case_id, now, "intake", "automated_mail", std::nullopt, std::nullopt, uid_note);
      auto u_cached = impl_->cached("UPDATE cases SET updated_at = ? WHERE id = ?");
      SQLite::Statement& u = *u_cached;
      u.bind(1, now);
      u.bind(2, case_id);
      u.exec();
    } else {
      result.outcome = EnqueueResult::Outcome::followup;
      std::string to_status = from_status;
      if (from_status == kStatusWaiting || from_status == kStatusAnswered || from_status == kStatusClosed)
        to_status = std::string(kStatusNew);
      result.from_status = from_status;
      result.to_status = to_status;
      if (to_status != from_status) {
        auto u_cached = impl_->cached("UPDATE cases SET status = ?, updated_at = ?, status_changed_at = ?, lease_until = NULL, "
                            "closed_at = NULL, due_at = ? WHERE id = ?");
        SQLite::Statement& u = *u_cached;
        u.bind(1, to_status);
        u.bind(2, now);
        u.bind(3, now);
        u.bind(4, now + impl_->options.review.sla(priority));
        u.bind(5, case_id);
        u.exec();
      } else {
        auto u_cached = impl_->cached("UPDATE cases SET updated_at = ? WHERE id = ?");
        SQLite::Statement& u = *u_cached;
        u.bind(1, now);
        u.bind(2, case_id);
        u.exec();
      }
      impl_->add_event(case_id, now, "intake", "followup", from_status,
                       to_status != from_status ? std::optional<std::string>(to_status) : std::nullopt, uid_note);
      if (from_status == kStatusRejected) {
        impl_->add_event(case_id, now, "intake", "followup_ack_suppressed", std::nullopt, std::nullopt,
                         "the case is rejected");
      } else if (mail.suppress_ack_reason) {
        impl_->add_event(case_id, now, "intake", "followup_ack_suppressed", std::nullopt, std::nullopt,
                         *mail.suppress_ack_reason);
      } else {
        impl_->queue_reply(case_id, "followup_ack", reply_to_addr, now);
      }
    }
    if (mail.source) impl_->record_uid(*mail.source, "case", case_id, std::nullopt, now);
    tx.commit();
    return result;
  }

  // A new case. Unknown senders and submitters over their monthly quota still get a case (nothing
  // is lost), stored as rejected with a reply that says why.
  // No valid address (RFC 5321): the submitter is null, and the unknown-sender and quota rules
  // have nothing to count.
  const std::optional<std::string> submitter =
      m.from_addr && parsers::is_valid_mailbox(*m.from_addr) ? m.from_addr : std::optional<std::string>{};
  const std::optional<std::string> refusal =
      submitter ? impl_->submitter_refusal(*submitter, now) : std::optional<std::string>{};
  // Nobody to answer: no ack (and no reply that could only fail), said on the case.
  std::optional<std::string> ack_reason = mail.suppress_ack_reason;
  if (!ack_reason && !submitter && !(m.reply_to && parsers::is_valid_mailbox(m.reply_to->addr)))
    ack_reason = std::string(kNoValidSender);
  const bool suppressed = ack_reason.has_value();
  const std::string status = refusal ? std::string(kStatusRejected) : std::string(kStatusNew);
  {
    auto q_cached = impl_->cached("INSERT INTO cases(status, ack_state, ack_reason, submitter_addr, submitter_name, subject, "
                        "created_at, updated_at, priority, due_at, status_changed_at, closed_at, phi_json, "
                        "suggestions_json) VALUES(?,?,?,?,?,?,?,?,'normal',?,?,?,?,?)");
    SQLite::Statement& q = *q_cached;
    q.bind(1, status);
    q.bind(2, std::string(to_string(suppressed ? AckState::suppressed : AckState::pending)));
    bind_opt(q, 3, ack_reason);
    bind_opt(q, 4, submitter);
    q.bind(5, m.from_name.value_or(""));
    q.bind(6, m.subject.value_or(""));
    q.bind(7, now);
    q.bind(8, now);
    q.bind(9, now + impl_->options.review.sla(Priority::normal));
    q.bind(10, now);
    if (refusal)
      q.bind(11, now);
    else
      q.bind(11);
    q.bind(12, json(mail.phi).dump());
    q.bind(13, Impl::suggestions_to_json(mail.suggestions).dump());
    q.exec();
  }
  result.case_id = db.getLastInsertRowid();
  result.case_ref = parsers::format_case_ref(impl_->options.case_prefix, result.case_id);
  result.rejected = refusal;
  {
    auto q_cached = impl_->cached("UPDATE cases SET ref = ? WHERE id = ?");
    SQLite::Statement& q = *q_cached;
    q.bind(1, result.case_ref);
    q.bind(2, result.case_id);
    q.exec();
  }
  const std::int64_t message_row = impl_->insert_message(result.case_id, mail, sha, m.body_text, warnings, now);
  impl_->insert_codes(result.case_id, message_row, mail.codes, false);
  if (!mail.code_notes.empty()) {
    auto q_cached = impl_->cached("UPDATE cases SET code_notes_json = ? WHERE id = ?");
    SQLite::Statement& q = *q_cached;
    q.bind(1, json(mail.code_notes).dump());
    q.bind(2, result.case_id);
    q.exec();
  }
  {
    auto f_cached = impl_->cached("INSERT INTO cases_fts(rowid, subject, body, codes) VALUES(?,?,?,?)");
    SQLite::Statement& f = *f_cached;
    f.bind(1, result.case_id);
    f.bind(2, m.subject.value_or(""));
    f.bind(3, m.body_text);
    f.bind(4, codes_text(mail.codes));
    f.exec();
  }
  impl_->add_event(result.case_id, now, "intake", "created", std::nullopt, std::string(kStatusNew),
                   mail.source ? "uid " + std::to_string(mail.source->uid) : std::string{});
  if (refusal)
    impl_->add_event(result.case_id, now, "intake", "rejected", std::string(kStatusNew), std::string(kStatusRejected),
                     *refusal);
  if (suppressed) {
    impl_->add_event(result.case_id, now, "intake", "ack_suppressed", std::nullopt, std::nullopt, *ack_reason);
  } else {
    // The recipient as far as it is known now (compose may still refuse it); counted by the
    // per-sender auto-reply cap.
    impl_->queue_reply(result.case_id, refusal ? *refusal : std::string("ack"), reply_to_addr, now);
  }
  if (mail.source) impl_->record_uid(*mail.source, "case", result.case_id, std::nullopt, now);
  tx.commit();
  return result;
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("enqueue failed: ") + e.what());
}

std::optional<UidRecord> Store::uid_record(const MailSource& s) const try {
  auto q_cached = impl_->cached("SELECT outcome, case_id, quarantine_id, moved_at FROM mailbox_uids "
                      "WHERE mailbox = ? AND uidvalidity = ? AND uid = ?");
  SQLite::Statement& q = *q_cached;
  q.bind(1, s.mailbox);
  q.bind(2, s.uidvalidity);
  q.bind(3, s.uid);
  if (!q.executeStep()) return std::nullopt;
  return UidRecord{q.getColumn(0).getString(), col_opt_i64(q.getColumn(1)), col_opt_i64(q.getColumn(2)),
                   !q.getColumn(3).isNull()};
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("uid lookup failed: ") + e.what());
}

std::optional<std::int64_t> Store::last_uidvalidity(std::string_view mailbox) const try {
  auto q_cached = impl_->cached("SELECT uidvalidity FROM mailbox_uids WHERE mailbox = ? ORDER BY rowid DESC "
                      "LIMIT 1");
  SQLite::Statement& q = *q_cached;
  q.bind(1, std::string(mailbox));
  if (!q.executeStep()) return std::nullopt;
  return q.getColumn(0).getInt64();
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("last_uidvalidity failed: ") + e.what());
}

void Store::mark_moved(const std::vector<MailSource>& sources, std::int64_t now) try {
  SQLite::Transaction tx(impl_->db, SQLite::TransactionBehavior::IMMEDIATE);
  for (const auto& s : sources) mark_moved(s, now);
  tx.commit();
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("mark_moved failed: ") + e.what());
}

void Store::mark_moved(const MailSource& s, std::int64_t now) try {
  auto q_cached = impl_->cached("UPDATE mailbox_uids SET moved_at = ? WHERE mailbox = ? AND uidvalidity = ? AND uid = ?");
  SQLite::Statement& q = *q_cached;
  q.bind(1, now);
  q.bind(2, s.mailbox);
  q.bind(3, s.uidvalidity);
  q.bind(4, s.uid);
  q.exec();
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("mark_moved failed: ") + e.what());
}

std::int64_t Store::quarantine(const std::optional<MailSource>& source, std::string_view raw, std::string_view reason,
                               std::int64_t now, const std::optional<QuarantineReply>& reply) try {
  auto& db = impl_->db;
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  auto q_cached = impl_->cached("INSERT INTO quarantine(at, mailbox, uidvalidity, uid, reason, raw) VALUES(?,?,?,?,?,?)");
  SQLite::Statement& q = *q_cached;
  q.bind(1, now);
  if (source) {
    q.bind(2, source->mailbox);
    q.bind(3, source->uidvalidity);
    q.bind(4, source->uid);
  } else {
    q.bind(2);
    q.bind(3);
    q.bind(4);
  }
  q.bind(5, std::string(reason));
  bind_blob(q, 6, raw);
  q.exec();
  std::int64_t id = db.getLastInsertRowid();
  impl_->add_event(std::nullopt, now, "intake", "quarantined", std::nullopt, std::nullopt,
                   "quarantine " + std::to_string(id) + ": " + std::string(reason));
  if (source) impl_->record_uid(*source, "quarantined", std::nullopt, id, now);
  if (reply) {
    auto r_cached = impl_->cached("INSERT INTO outbox(quarantine_id, kind, state, to_addr, next_attempt_at, created_at) "
                        "VALUES(?, ?, 'pending', ?, ?, ?)");
    SQLite::Statement& r = *r_cached;
    r.bind(1, id);
    r.bind(2, reply->kind);
    r.bind(3, reply->to_addr);
    r.bind(4, now);
    r.bind(5, now);
    r.exec();
  }
  tx.commit();
  return id;
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("quarantine failed: ") + e.what());
}

std::vector<QuarantineRecord> Store::list_quarantine() const try {
  std::vector<QuarantineRecord> out;
  auto q_cached = impl_->cached("SELECT q.id, q.at, q.mailbox, q.uidvalidity, q.uid, q.reason, length(q.raw), c.ref "
                      "FROM quarantine q LEFT JOIN cases c ON c.id = q.case_id ORDER BY q.id");
  SQLite::Statement& q = *q_cached;
  while (q.executeStep()) {
    QuarantineRecord r;
    r.id = q.getColumn(0).getInt64();
    r.at = q.getColumn(1).getInt64();
    if (!q.getColumn(2).isNull())
      r.source = MailSource{q.getColumn(2).getString(), q.getColumn(3).getInt64(), q.getColumn(4).getInt64()};
    r.reason = q.getColumn(5).getString();
    r.size = q.getColumn(6).getInt64();
    r.case_ref = col_opt_str(q.getColumn(7));
    out.push_back(std::move(r));
  }
  return out;
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("list_quarantine failed: ") + e.what());
}

std::optional<std::string> Store::quarantined_raw(std::int64_t id) const try {
  auto q_cached = impl_->cached("SELECT raw FROM quarantine WHERE id = ?");
  SQLite::Statement& q = *q_cached;
  q.bind(1, id);
  if (!q.executeStep()) return std::nullopt;
  const auto& c = q.getColumn(0);
  return std::string(static_cast<const char*>(c.getBlob()), static_cast<std::size_t>(c.getBytes()));
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("quarantined_raw failed: ") + e.what());
}

void Store::mark_quarantine_retried(std::int64_t id, std::int64_t case_id, std::int64_t now) try {
  auto& db = impl_->db;
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  auto q_cached = impl_->cached("UPDATE quarantine SET case_id = ? WHERE id = ?");
  SQLite::Statement& q = *q_cached;
  q.bind(1, case_id);
  q.bind(2, id);
  if (q.exec() != 1) throw StoreError("no quarantined mail " + std::to_string(id));
  impl_->add_event(case_id, now, "quarantine", "retried", std::nullopt, std::nullopt,
                   "from quarantine " + std::to_string(id));
  tx.commit();
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("mark_quarantine_retried failed: ") + e.what());
}

int Store::count_auto_replies_since(std::string_view addr, std::int64_t since) const try {
  auto q_cached = impl_->cached("SELECT count(*) FROM outbox WHERE to_addr = ? COLLATE NOCASE AND created_at >= ?");
  SQLite::Statement& q = *q_cached;
  q.bind(1, std::string(addr));
  q.bind(2, since);
  q.executeStep();
  return q.getColumn(0).getInt();
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("count_auto_replies_since failed: ") + e.what());
}

std::optional<LockHolder> Store::acquire_lock(std::string_view key, std::int64_t pid, std::string_view host,
                                              std::int64_t now, std::int64_t stale_after) try {
  auto& db = impl_->db;
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  auto q_cached = impl_->cached("SELECT pid, host, started_at, heartbeat_at FROM daemon_locks WHERE mailbox = ?");
  SQLite::Statement& q = *q_cached;
  q.bind(1, std::string(key));
  if (q.executeStep()) {
    LockHolder h{q.getColumn(0).getInt64(), q.getColumn(1).getString(), q.getColumn(2).getInt64(),
                 q.getColumn(3).getInt64()};
    q.reset();
    const bool same_host = h.host == host;
    const bool ours = same_host && h.pid == pid;
    const bool dead = same_host && !ours && ::kill(static_cast<pid_t>(h.pid), 0) != 0 && errno == ESRCH;
    const bool stale = now - h.heartbeat_at > stale_after;
    if (!ours && !dead && !stale) return h;
  }
  auto w_cached = impl_->cached("INSERT INTO daemon_locks(mailbox, pid, host, started_at, heartbeat_at) VALUES(?,?,?,?,?) "
                      "ON CONFLICT(mailbox) DO UPDATE SET pid = excluded.pid, host = excluded.host, "
                      "started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at");
  SQLite::Statement& w = *w_cached;
  w.bind(1, std::string(key));
  w.bind(2, pid);
  w.bind(3, std::string(host));
  w.bind(4, now);
  w.bind(5, now);
  w.exec();
  tx.commit();
  return std::nullopt;
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("acquire_lock failed: ") + e.what());
}

void Store::heartbeat_lock(std::string_view key, std::int64_t pid, std::int64_t now) try {
  auto q_cached = impl_->cached("UPDATE daemon_locks SET heartbeat_at = ? WHERE mailbox = ? AND pid = ?");
  SQLite::Statement& q = *q_cached;
  q.bind(1, now);
  q.bind(2, std::string(key));
  q.bind(3, pid);
  q.exec();
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("heartbeat_lock failed: ") + e.what());
}

void Store::release_lock(std::string_view key, std::int64_t pid) try {
  auto q_cached = impl_->cached("DELETE FROM daemon_locks WHERE mailbox = ? AND pid = ?");
  SQLite::Statement& q = *q_cached;
  q.bind(1, std::string(key));
  q.bind(2, pid);
  q.exec();
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("release_lock failed: ") + e.what());
}

std::int64_t Store::first_start_at(std::int64_t now) try {
  auto w_cached = impl_->cached("INSERT INTO counters(name, value, updated_at) VALUES('first_start_at', ?, ?) "
                      "ON CONFLICT(name) DO NOTHING");
  SQLite::Statement& w = *w_cached;
  w.bind(1, now);
  w.bind(2, now);
  w.exec();
  return impl_->db.execAndGet("SELECT value FROM counters WHERE name = 'first_start_at'").getInt64();
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("first_start_at failed: ") + e.what());
}

void Store::add_counter(std::string_view name, std::int64_t delta, std::int64_t now) try {
  auto q_cached = impl_->cached("INSERT INTO counters(name, value, updated_at) VALUES(?,?,?) ON CONFLICT(name) DO UPDATE "
                      "SET value = value + excluded.value, updated_at = excluded.updated_at");
  SQLite::Statement& q = *q_cached;
  q.bind(1, std::string(name));
  q.bind(2, delta);
  q.bind(3, now);
  q.exec();
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("add_counter failed: ") + e.what());
}

std::vector<Store::Counter> Store::counters() const try {
  std::vector<Counter> out;
  auto q_cached = impl_->cached("SELECT name, value, updated_at FROM counters ORDER BY name");
  SQLite::Statement& q = *q_cached;
  while (q.executeStep())
    out.push_back(Counter{q.getColumn(0).getString(), q.getColumn(1).getInt64(), q.getColumn(2).getInt64()});
  return out;
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("counters failed: ") + e.what());
}

Store::Snapshot Store::snapshot() const try {
  Snapshot s;
  auto& db = impl_->db;
  auto c_cached = impl_->cached("SELECT status, count(*) FROM cases GROUP BY status ORDER BY status");
  SQLite::Statement& c = *c_cached;
  while (c.executeStep()) s.cases_by_status.emplace_back(c.getColumn(0).getString(), c.getColumn(1).getInt64());
  auto o_cached = impl_->cached("SELECT state, count(*) FROM outbox GROUP BY state ORDER BY state");
  SQLite::Statement& o = *o_cached;
  while (o.executeStep()) s.outbox_by_state.emplace_back(o.getColumn(0).getString(), o.getColumn(1).getInt64());
  auto p_cached = impl_->cached("SELECT min(created_at) FROM outbox WHERE state = 'pending'");
  SQLite::Statement& p = *p_cached;
  if (p.executeStep()) s.oldest_pending_reply_at = col_opt_i64(p.getColumn(0));
  s.quarantined = db.execAndGet("SELECT count(*) FROM quarantine WHERE case_id IS NULL").getInt64();
  s.cases_reply_failed =
      db.execAndGet("SELECT count(DISTINCT case_id) FROM outbox WHERE state = 'failed' AND case_id IS NOT NULL").getInt64();
  auto l_cached = impl_->cached("SELECT mailbox, pid, host, started_at, heartbeat_at FROM daemon_locks ORDER BY mailbox");
  SQLite::Statement& l = *l_cached;
  while (l.executeStep())
    s.daemons.emplace_back(l.getColumn(0).getString(),
                           LockHolder{l.getColumn(1).getInt64(), l.getColumn(2).getString(), l.getColumn(3).getInt64(),
                                      l.getColumn(4).getInt64()});
  return s;
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("snapshot failed: ") + e.what());
}

std::vector<OutboxItem> Store::due_outbox(std::int64_t now, int limit) const try {
  return impl_->outbox_rows("o.state = 'pending' AND o.next_attempt_at <= ? ORDER BY o.next_attempt_at, o.id LIMIT ?",
                            [&](SQLite::Statement& q) {
                              q.bind(1, now);
                              q.bind(2, limit);
                            });
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("due_outbox failed: ") + e.what());
}

std::optional<std::int64_t> Store::next_outbox_attempt_at() const try {
  auto q_cached = impl_->cached("SELECT min(next_attempt_at) FROM outbox WHERE state = 'pending'");
  SQLite::Statement& q = *q_cached;
  q.executeStep();
  return col_opt_i64(q.getColumn(0));
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("next_outbox_attempt_at failed: ") + e.what());
}

void Store::set_outbox_content(std::int64_t id, std::string_view message_id, std::string_view to_addr,
                               std::string_view raw) try {
  auto q_cached = impl_->cached("UPDATE outbox SET message_id = ?, to_addr = ?, raw = ? WHERE id = ? AND message_id IS NULL");
  SQLite::Statement& q = *q_cached;
  q.bind(1, std::string(message_id));
  q.bind(2, std::string(to_addr));
  bind_blob(q, 3, raw);
  q.bind(4, id);
  if (q.exec() != 1) throw StoreError("outbox item " + std::to_string(id) + " is already composed or gone");
  // A consultant's reply is also a message of its case: it gets the same Message-ID and bytes.
  auto m_cached = impl_->cached("UPDATE messages SET message_id = ?, raw = ?, raw_sha256 = ? WHERE id = "
                      "(SELECT message_row FROM outbox WHERE id = ?)");
  SQLite::Statement& m = *m_cached;
  m.bind(1, std::string(message_id));
  bind_blob(m, 2, raw);
  m.bind(3, sha256_hex(raw));
  m.bind(4, id);
  m.exec();
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("set_outbox_content failed: ") + e.what());
}

void Store::mark_outbox_sent(std::int64_t id, std::int64_t now, std::string_view server_reply) try {
  auto& db = impl_->db;
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  auto q_cached = impl_->cached("UPDATE outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL "
                      "WHERE id = ? AND state = 'pending' RETURNING case_id, kind");
  SQLite::Statement& q = *q_cached;
  q.bind(1, now);
  q.bind(2, id);
  if (!q.executeStep()) throw StoreError("outbox item " + std::to_string(id) + " is not pending");
  const auto case_id = col_opt_i64(q.getColumn(0));
  std::string kind = q.getColumn(1).getString();
  q.reset();
  if (is_first_reply_kind(kind) && case_id) {
    auto u_cached = impl_->cached("UPDATE cases SET ack_state = 'sent', updated_at = ? WHERE id = ?");
    SQLite::Statement& u = *u_cached;
    u.bind(1, now);
    u.bind(2, *case_id);
    u.exec();
  }
  impl_->add_event(case_id, now, "outbox", kind + "_sent", std::nullopt, std::nullopt, std::string(server_reply));
  tx.commit();
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("mark_outbox_sent failed: ") + e.what());
}

void Store::mark_outbox_attempt_failed(std::int64_t id, std::int64_t now, std::string_view error, bool permanent,
                                       std::int64_t next_attempt_at) try {
  auto& db = impl_->db;
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  auto q_cached = impl_->cached("UPDATE outbox SET state = ?, attempts = attempts + 1, last_error = ?, next_attempt_at = ? "
                      "WHERE id = ? AND state = 'pending' RETURNING case_id, kind");
  SQLite::Statement& q = *q_cached;
  q.bind(1, permanent ? "failed" : "pending");
  q.bind(2, std::string(error));
  q.bind(3, next_attempt_at);
  q.bind(4, id);
  if (!q.executeStep()) throw StoreError("outbox item " + std::to_string(id) + " is not pending");
  const auto case_id = col_opt_i64(q.getColumn(0));
  std::string kind = q.getColumn(1).getString();
  q.reset();
  if (permanent && is_first_reply_kind(kind) && case_id) {
    auto u_cached = impl_->cached("UPDATE cases SET ack_state = 'failed', ack_reason = ?, updated_at = ? WHERE id = ?");
    SQLite::Statement& u = *u_cached;
    u.bind(1, std::string(error));
    u.bind(2, now);
    u.bind(3, *case_id);
    u.exec();
  }
  impl_->add_event(case_id, now, "outbox", kind + (permanent ? "_failed" : "_deferred"), std::nullopt, std::nullopt,
                   std::string(error));
  if (permanent && case_id) impl_->note_reply_failed(*case_id, id, kind, now, "outbox", error);
  tx.commit();
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("mark_outbox_attempt_failed failed: ") + e.what());
}

OutboxItem Store::retry_outbox(std::int64_t id, std::string_view actor, std::int64_t now,
                               std::optional<std::string_view> case_ref) try {
  auto& db = impl_->db;
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  auto s_cached = impl_->cached("SELECT o.state, o.case_id, o.kind, o.last_error, c.ref FROM outbox o "
                                "LEFT JOIN cases c ON c.id = o.case_id WHERE o.id = ?");
  SQLite::Statement& s = *s_cached;
  s.bind(1, id);
  const bool found = s.executeStep();
  const std::string state = found ? s.getColumn(0).getString() : "";
  const auto case_id = found ? col_opt_i64(s.getColumn(1)) : std::nullopt;
  const std::string kind = found ? s.getColumn(2).getString() : "";
  const std::string last_error = found ? col_opt_str(s.getColumn(3)).value_or("") : "";
  const std::string ref = found ? col_opt_str(s.getColumn(4)).value_or("") : "";
  s.reset();
  if (!found || (case_ref && detail::upper(*case_ref) != ref))
    throw NotFound("no outbox item " + std::to_string(id) + (case_ref ? " of case " + std::string(*case_ref) : ""));
  if (state != "failed")
    throw TransitionError("outbox item " + std::to_string(id) + " is " + state + ", not failed: only a failed reply is retried");
  // Composed again by the current code: the bytes that failed (an unfoldable header, say) are not
  // sent twice. The new Message-ID is fixed at composition, as for a first attempt.
  auto u_cached = impl_->cached("UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?, created_at = ?, "
                                "message_id = NULL, raw = NULL WHERE id = ? AND state = 'failed'");
  SQLite::Statement& u = *u_cached;
  u.bind(1, now);
  u.bind(2, now);
  u.bind(3, id);
  u.exec();
  if (case_id && is_first_reply_kind(kind)) {
    auto a_cached = impl_->cached("UPDATE cases SET ack_state = 'pending', ack_reason = NULL, updated_at = ? WHERE id = ?");
    SQLite::Statement& a = *a_cached;
    a.bind(1, now);
    a.bind(2, *case_id);
    a.exec();
  }
  impl_->add_event(case_id, now, actor, "reply_retry", std::nullopt, std::nullopt,
                   kind + " (outbox item " + std::to_string(id) + "; it had failed: " + last_error + ")");
  auto rows = impl_->outbox_rows("o.id = ?", [&](SQLite::Statement& q) { q.bind(1, id); });
  tx.commit();
  return std::move(rows.at(0));
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("retry_outbox failed: ") + e.what());
}

std::optional<OutboxItem> Store::outbox_by_message_id(std::string_view message_id) const try {
  const std::string id(message_id);
  auto rows = impl_->outbox_rows("o.message_id = ? ORDER BY o.id LIMIT 1", [&](SQLite::Statement& q) { q.bind(1, id); });
  if (rows.empty()) return std::nullopt;
  return std::move(rows.front());
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("outbox_by_message_id failed: ") + e.what());
}

void Store::mark_outbox_bounced(std::int64_t id, std::int64_t now, std::string_view reason,
                                const std::optional<MailSource>& bounce_source) try {
  auto& db = impl_->db;
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  auto q_cached = impl_->cached("UPDATE outbox SET state = 'failed', last_error = ? WHERE id = ? "
                      "RETURNING case_id, kind, quarantine_id");
  SQLite::Statement& q = *q_cached;
  const std::string why = "bounced: " + std::string(reason);
  q.bind(1, why);
  q.bind(2, id);
  if (!q.executeStep()) throw StoreError("no outbox item " + std::to_string(id));
  const auto case_id = col_opt_i64(q.getColumn(0));
  const std::string kind = q.getColumn(1).getString();
  const auto quarantine_id = col_opt_i64(q.getColumn(2));
  q.reset();
  if (is_first_reply_kind(kind) && case_id) {
    auto u_cached = impl_->cached("UPDATE cases SET ack_state = 'failed', ack_reason = ?, updated_at = ? WHERE id = ?");
    SQLite::Statement& u = *u_cached;
    u.bind(1, why);
    u.bind(2, now);
    u.bind(3, *case_id);
    u.exec();
  }
  impl_->add_event(case_id, now, "intake", kind + "_bounced", std::nullopt, std::nullopt, why);
  if (case_id) impl_->note_reply_failed(*case_id, id, kind, now, "intake", why);
  if (bounce_source)
    impl_->record_uid(*bounce_source, case_id ? "case" : "quarantined", case_id, case_id ? std::nullopt : quarantine_id,
                      now);
  tx.commit();
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("mark_outbox_bounced failed: ") + e.what());
}

void Store::set_group_commit(bool on) try {
  impl_->db.exec(on ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL");
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("set_group_commit failed: ") + e.what());
}

void Store::make_durable(std::int64_t now) try {
  // A commit under synchronous=FULL syncs the WAL file, and with it every frame appended before
  // (the NORMAL commits of the group). It needs a frame of its own: the one-row sync_marks.
  auto& db = impl_->db;
  const bool grouped = db.execAndGet("PRAGMA synchronous").getInt() == 1;
  if (grouped) db.exec("PRAGMA synchronous=FULL");
  try {
    SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
    auto q_cached = impl_->cached("INSERT INTO sync_marks(id, at) VALUES(1, ?) ON CONFLICT(id) DO UPDATE SET at = excluded.at");
    SQLite::Statement& q = *q_cached;
    q.bind(1, now);
    q.exec();
    tx.commit();
  } catch (...) {
    if (grouped) db.exec("PRAGMA synchronous=NORMAL");
    throw;
  }
  if (grouped) db.exec("PRAGMA synchronous=NORMAL");
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("make_durable failed: ") + e.what());
}

std::vector<CaseSummary> Store::list_cases() const try {
  std::vector<CaseSummary> out;
  auto q_cached = impl_->cached(std::string("SELECT ") + Impl::kCaseColumns + " FROM cases c ORDER BY c.id");
  SQLite::Statement& q = *q_cached;
  while (q.executeStep()) out.push_back(impl_->case_from_row(q));
  impl_->load_codes(out);
  return out;
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("list_cases failed: ") + e.what());
}

std::optional<CaseDetail> Store::get_case(std::string_view ref) const try {
  auto q_cached = impl_->cached(std::string("SELECT ") + Impl::kCaseColumns + " FROM cases c WHERE c.ref = ?");
  SQLite::Statement& q = *q_cached;
  q.bind(1, detail::upper(ref));
  std::optional<CaseSummary> s;
  if (q.executeStep()) s = impl_->case_from_row(q);
  return impl_->detail(std::move(s));
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("get_case failed: ") + e.what());
}

std::optional<CaseDetail> Store::get_case(std::int64_t id) const try {
  auto q_cached = impl_->cached(std::string("SELECT ") + Impl::kCaseColumns + " FROM cases c WHERE c.id = ?");
  SQLite::Statement& q = *q_cached;
  q.bind(1, id);
  std::optional<CaseSummary> s;
  if (q.executeStep()) s = impl_->case_from_row(q);
  return impl_->detail(std::move(s));
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("get_case failed: ") + e.what());
}

std::int64_t Store::count_cases() const try {
  return impl_->db.execAndGet("SELECT count(*) FROM cases").getInt64();
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("count_cases failed: ") + e.what());
}

}  // namespace casedesk::queue
