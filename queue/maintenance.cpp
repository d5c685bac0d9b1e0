// Store maintenance: online backup, retention (purge) and outbox depth for monitoring.

#include <SQLiteCpp/Backup.h>
#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <set>
#include <thread>

#include "queue/store.hpp"
#include "queue/store_impl.hpp"

namespace casedesk::queue {
namespace {

bool has_column(SQLite::Database& db, const std::string& table, const std::string& column) {
  SQLite::Statement q(db, "SELECT 1 FROM pragma_table_info(?) WHERE name = ?");
  q.bind(1, table);
  q.bind(2, column);
  return q.executeStep();
}

bool has_table(SQLite::Database& db, const std::string& table) {
  SQLite::Statement q(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
  q.bind(1, table);
  return q.executeStep();
}

std::string quoted(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

struct ForeignKey {
  std::string child;
  std::string from;  // column in child
  std::string to;    // column in parent
};

// parent table -> the foreign keys pointing at it, read from the schema itself so that tables added
// by later migrations are covered without a change here.
std::map<std::string, std::vector<ForeignKey>> foreign_keys(SQLite::Database& db) {
  std::map<std::string, std::vector<ForeignKey>> out;
  SQLite::Statement tables(db,
                           "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                           "AND sql NOT LIKE 'CREATE VIRTUAL%'");
  while (tables.executeStep()) {
    const std::string child = tables.getColumn(0).getString();
    SQLite::Statement fk(db, "SELECT \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?)");
    fk.bind(1, child);
    while (fk.executeStep()) {
      std::string to = fk.getColumn(2).isNull() ? "id" : fk.getColumn(2).getString();
      out[fk.getColumn(0).getString()].push_back(ForeignKey{child, fk.getColumn(1).getString(), to});
    }
  }
  return out;
}

// Links that only record where something came from: cut (set NULL) rather than deleting the row
// (the quarantine record and the UID bookkeeping outlive the case).
bool cut_instead_of_delete(const ForeignKey& fk) {
  return (fk.child == "quarantine" && fk.from == "case_id") || (fk.child == "mailbox_uids" && fk.from == "case_id");
}

// Deletes the rows of `table` matching `where`, children first.
void delete_cascade(SQLite::Database& db, const std::map<std::string, std::vector<ForeignKey>>& fks,
                    const std::string& table, const std::string& where, int depth = 0) {
  if (depth > 8) throw StoreError("purge: foreign keys nest deeper than expected below " + table);
  if (auto it = fks.find(table); it != fks.end()) {
    for (const auto& fk : it->second) {
      const std::string parent_keys = "SELECT " + quoted(fk.to) + " FROM " + quoted(table) + " WHERE " + where;
      const std::string child_where = quoted(fk.from) + " IN (" + parent_keys + ")";
      if (fk.child == table) continue;  // self-reference: the rows go together
      if (cut_instead_of_delete(fk))
        db.exec("UPDATE " + quoted(fk.child) + " SET " + quoted(fk.from) + " = NULL WHERE " + child_where);
      else
        delete_cascade(db, fks, fk.child, child_where, depth + 1);
    }
  }
  db.exec("DELETE FROM " + quoted(table) + " WHERE " + where);
}

std::string iso_date(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

void fsync_path(const std::filesystem::path& p, int flags) {
  int fd = ::open(p.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace

Store::BackupResult Store::backup(const std::filesystem::path& source, const std::filesystem::path& dest,
                                  std::chrono::milliseconds busy_timeout) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(source, ec)) throw StoreError("backup: no store at " + source.string());
  if (fs::exists(dest, ec)) throw StoreError("backup: " + dest.string() + " exists; choose a new name");
  const fs::path tmp = dest.string() + ".partial-" + std::to_string(::getpid());
  BackupResult result;
  try {
    {
      // Created before SQLite opens it, so it is 0600 whatever the umask.
      int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd < 0) throw StoreError("backup: cannot create " + tmp.string() + ": " + std::strerror(errno));
      ::close(fd);
    }
    SQLite::Database src(source.string(), SQLite::OPEN_READONLY, static_cast<int>(busy_timeout.count()));
    SQLite::Database dst(tmp.string(), SQLite::OPEN_READWRITE, static_cast<int>(busy_timeout.count()));
    {
      SQLite::Backup backup(dst, src);
      // All pages in one step: one read transaction on the source, hence one consistent state.
      // A writer holding the lock at that moment makes the step report busy: try again.
      const auto deadline = std::chrono::steady_clock::now() + busy_timeout;
      for (;;) {
        const int rc = backup.executeStep(-1);
        if (rc == SQLITE_DONE) break;
        if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && std::chrono::steady_clock::now() < deadline) {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
          continue;
        }
        throw StoreError("backup: step failed: " + std::string(sqlite3_errstr(rc)));
      }
    }
    dst.exec("PRAGMA journal_mode=DELETE");
    const std::string check = dst.execAndGet("PRAGMA quick_check").getString();
    if (check != "ok") throw StoreError("backup: the copy fails quick_check: " + check);
    result.schema_version = dst.execAndGet("PRAGMA user_version").getInt();
    if (has_table(dst, "cases")) result.cases = dst.execAndGet("SELECT count(*) FROM cases").getInt64();
  } catch (const SQLite::Exception& e) {
    fs::remove(tmp, ec);
    throw StoreError(std::string("backup failed: ") + e.what());
  } catch (...) {
    fs::remove(tmp, ec);
    throw;
  }
  fsync_path(tmp, O_RDONLY);
  // link() + unlink() instead of rename(): a file that appeared at dest meanwhile is not replaced.
  if (::link(tmp.c_str(), dest.c_str()) != 0) {
    const int err = errno;
    fs::remove(tmp, ec);
    throw StoreError("backup: cannot create " + dest.string() + ": " + std::strerror(err));
  }
  fs::remove(tmp, ec);
  fsync_path(dest.parent_path().empty() ? fs::path(".") : dest.parent_path(), O_RDONLY | O_DIRECTORY);
  result.path = dest;
  result.bytes = static_cast<std::int64_t>(fs::file_size(dest, ec));
  return result;
}

Store::PurgeReport Store::purge(const RetentionPolicy& policy, std::int64_t now, bool dry_run) try {
  auto& db = impl_->db;
  PurgeReport report;
  report.dry_run = dry_run;
  // Removed patient data must not linger in free pages of the file.
  const int secure_before = db.execAndGet("PRAGMA secure_delete").getInt();
  db.exec("PRAGMA secure_delete=ON");
  struct RestoreSecureDelete {
    SQLite::Database& db;
    int value;
    ~RestoreSecureDelete() {
      try {
        db.exec("PRAGMA secure_delete=" + std::to_string(value));
      } catch (const SQLite::Exception&) {
        // Only this connection's setting; it stays ON, which is safe.
      }
    }
  } restore{db, secure_before};

  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);

  if (policy.raw_mail_before) {
    const std::int64_t cutoff = *policy.raw_mail_before;
    // Per case first, for the audit events.
    std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t>> per_case;  // case, messages, bytes
    {
      SQLite::Statement q(db,
                          "SELECT case_id, count(*), sum(length(raw)) FROM messages "
                          "WHERE received_at < ? AND length(raw) > 0 GROUP BY case_id ORDER BY case_id");
      q.bind(1, cutoff);
      while (q.executeStep())
        per_case.emplace_back(q.getColumn(0).getInt64(), q.getColumn(1).getInt64(), q.getColumn(2).getInt64());
    }
    if (has_table(db, "message_content")) {
      // The stored content of incoming mail goes with its raw bytes: the text, the attachments
      // and their bytes (also the text an older release kept after purging the raw bytes).
      db.exec("CREATE TEMP TABLE IF NOT EXISTS purge_message_ids(id INTEGER PRIMARY KEY, case_id INTEGER)");
      db.exec("DELETE FROM temp.purge_message_ids");
      SQLite::Statement q(db,
                          "INSERT INTO temp.purge_message_ids(id, case_id) SELECT m.id, m.case_id FROM messages m "
                          "WHERE m.received_at < ? AND m.direction = 'in' AND (length(m.raw) > 0 OR m.body_text <> '' "
                          "OR NOT EXISTS (SELECT 1 FROM message_content mc WHERE mc.message_id = m.id "
                          "AND mc.state = 'purged'))");
      q.bind(1, cutoff);
      q.exec();
      SQLite::Statement b(db, "SELECT count(*), coalesce(sum(a.data_size), 0) FROM temp.purge_message_ids p "
                              "LEFT JOIN attachments a ON a.message_id = p.id");
      b.executeStep();
      report.content_bytes = b.getColumn(1).getInt64();
      report.content_messages = db.execAndGet("SELECT count(*) FROM temp.purge_message_ids").getInt64();
      db.exec("DELETE FROM attachment_chunks WHERE attachment_id IN (SELECT a.id FROM attachments a "
              "JOIN temp.purge_message_ids p ON p.id = a.message_id)");
      db.exec("DELETE FROM attachments WHERE message_id IN (SELECT id FROM temp.purge_message_ids)");
      SQLite::Statement c(db, "INSERT INTO message_content(message_id, state, at) SELECT id, 'purged', ? "
                              "FROM temp.purge_message_ids WHERE true "
                              "ON CONFLICT(message_id) DO UPDATE SET state = 'purged', at = excluded.at");
      c.bind(1, now);
      c.exec();
      db.exec("UPDATE messages SET raw = X'', body_text = '' WHERE id IN (SELECT id FROM temp.purge_message_ids)");
      if (has_table(db, "cases_fts"))
        db.exec("UPDATE cases_fts SET body = coalesce((SELECT group_concat(m.body_text, char(10)) FROM messages m "
                "WHERE m.case_id = cases_fts.rowid AND m.direction = 'in' AND m.body_text <> ''), '') "
                "WHERE rowid IN (SELECT case_id FROM temp.purge_message_ids)");
      db.exec("DELETE FROM temp.purge_message_ids");
    }
    {
      SQLite::Statement q(db, "UPDATE messages SET raw = X'' WHERE received_at < ? AND length(raw) > 0");
      q.bind(1, cutoff);
      q.exec();
    }
    for (const auto& [case_id, n, bytes] : per_case) {
      report.raw_messages += n;
      report.raw_bytes += bytes;
      ++report.raw_cases;
      impl_->add_event(case_id, now, "retention", "raw_mail_purged", std::nullopt, std::nullopt,
                       std::to_string(n) + " message(s), " + std::to_string(bytes) +
                           " bytes of raw mail removed, with their stored text and attachments (" +
                           policy.raw_mail_rule + ")");
    }
    {
      SQLite::Statement c(db, "SELECT count(*), coalesce(sum(length(raw)), 0) FROM quarantine "
                              "WHERE at < ? AND length(raw) > 0");
      c.bind(1, cutoff);
      c.executeStep();
      report.quarantine_raw = c.getColumn(0).getInt64();
      report.raw_bytes += c.getColumn(1).getInt64();
      SQLite::Statement u(db, "UPDATE quarantine SET raw = X'' WHERE at < ? AND length(raw) > 0");
      u.bind(1, cutoff);
      u.exec();
    }
    {
      // Composed replies quote the subject and the codes; pending ones still have to go out.
      SQLite::Statement c(db, "SELECT count(*), coalesce(sum(length(raw)), 0) FROM outbox "
                              "WHERE state <> 'pending' AND created_at < ? AND raw IS NOT NULL");
      c.bind(1, cutoff);
      c.executeStep();
      report.outbox_raw = c.getColumn(0).getInt64();
      report.raw_bytes += c.getColumn(1).getInt64();
      SQLite::Statement u(db, "UPDATE outbox SET raw = NULL WHERE state <> 'pending' AND created_at < ? "
                              "AND raw IS NOT NULL");
      u.bind(1, cutoff);
      u.exec();
    }
    if (report.quarantine_raw > 0)
      impl_->add_event(std::nullopt, now, "retention", "raw_mail_purged", std::nullopt, std::nullopt,
                       std::to_string(report.quarantine_raw) + " quarantined mail(s): raw bytes removed (" +
                           policy.raw_mail_rule + ")");
  }

  if (policy.closed_cases_before) {
    // When the case was closed: the review workflow's own column when the schema has one.
    std::string closed_at = "updated_at";
    if (has_column(db, "cases", "closed_at"))
      closed_at = "coalesce(closed_at, updated_at)";
    else if (has_column(db, "cases", "status_changed_at"))
      closed_at = "coalesce(status_changed_at, updated_at)";
    db.exec("CREATE TEMP TABLE IF NOT EXISTS purge_case_ids(id INTEGER PRIMARY KEY, ref TEXT, closed_at INTEGER)");
    db.exec("DELETE FROM temp.purge_case_ids");
    {
      // Case numbers come from the row id, which SQLite hands out again after the highest row is
      // deleted: the newest case stays until a newer one exists, so no reference is ever reused.
      SQLite::Statement q(db, "INSERT INTO temp.purge_case_ids(id, ref, closed_at) SELECT id, ref, " + closed_at +
                                  " FROM cases WHERE status = 'closed' AND " + closed_at +
                                  " < ? AND id < (SELECT max(id) FROM cases)");
      q.bind(1, *policy.closed_cases_before);
      q.exec();
    }
    std::vector<std::pair<std::string, std::int64_t>> removed;
    {
      SQLite::Statement q(db, "SELECT ref, closed_at FROM temp.purge_case_ids ORDER BY id");
      while (q.executeStep()) removed.emplace_back(q.getColumn(0).getString(), q.getColumn(1).getInt64());
    }
    if (!removed.empty()) {
      // The full-text index (rowid = case id) holds subject, text and codes too.
      if (has_table(db, "cases_fts"))
        db.exec("DELETE FROM cases_fts WHERE rowid IN (SELECT id FROM temp.purge_case_ids)");
      delete_cascade(db, foreign_keys(db), "cases", "id IN (SELECT id FROM temp.purge_case_ids)");
      for (const auto& [ref, closed] : removed) {
        report.closed_cases.push_back(ref);
        impl_->add_event(std::nullopt, now, "retention", "case_purged", std::nullopt, std::nullopt,
                         ref + " removed with its messages, codes, events and replies (closed " + iso_date(closed) +
                             "; " + policy.closed_cases_rule + ")");
      }
    }
    db.exec("DELETE FROM temp.purge_case_ids");
  }

  if (!dry_run) tx.commit();  // else the Transaction's destructor rolls everything back
  return report;
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("purge failed: ") + e.what());
}

Store::OpsSnapshot Store::ops_snapshot(std::int64_t now) const try {
  OpsSnapshot d;
  auto& db = impl_->db;
  SQLite::Statement q(db,
                      "SELECT count(*), coalesce(sum(next_attempt_at <= ?1), 0), "
                      "min(CASE WHEN next_attempt_at <= ?1 THEN created_at END) FROM outbox WHERE state = 'pending'");
  q.bind(1, now);
  q.executeStep();
  d.outbox_pending = q.getColumn(0).getInt64();
  d.outbox_due = q.getColumn(1).getInt64();
  d.oldest_due_reply_at = detail::col_opt_i64(q.getColumn(2));
  if (has_column(db, "cases", "due_at")) {
    SQLite::Statement o(db, "SELECT count(*) FROM cases WHERE status IN ('new', 'in_review') AND due_at > 0 "
                            "AND due_at < ?");
    o.bind(1, now);
    o.executeStep();
    d.overdue_cases = o.getColumn(0).getInt64();
  }
  return d;
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("ops_snapshot failed: ") + e.what());
}

}  // namespace casedesk::queue
