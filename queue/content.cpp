// Stored message content: the attachments of incoming mail, kept at intake so that the case view
// and downloads never parse the raw mail (issue 12). Their bytes are rows of kAttachmentChunk
// each: writing one costs one chunk of memory, reading one is a short read of its own.

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <algorithm>

#include "parsers/message.hpp"
#include "queue/store.hpp"
#include "queue/store_impl.hpp"

namespace casedesk::queue {

using detail::bind_opt;
using detail::col_opt_i64;
using detail::col_opt_str;

void Store::Impl::store_content(std::int64_t message_row, std::string_view raw,
                                const std::vector<parsers::Attachment>& attachments, std::int64_t now) {
  auto insert_attachment = [&](std::size_t index, const parsers::Attachment& meta, std::int64_t data_size) {
    auto a_cached = cached("INSERT INTO attachments(message_id, idx, filename, content_type, size, text, data_size) "
                           "VALUES(?,?,?,?,?,?,?)");
    SQLite::Statement& a = *a_cached;
    a.bind(1, message_row);
    a.bind(2, static_cast<std::int64_t>(index));
    bind_opt(a, 3, meta.filename);
    a.bind(4, meta.content_type);
    if (meta.size)
      a.bind(5, static_cast<std::int64_t>(*meta.size));
    else
      a.bind(5);
    bind_opt(a, 6, meta.text);
    a.bind(7, data_size);
    a.exec();
    return db.getLastInsertRowid();
  };
  std::size_t walked = 0;
  if (!attachments.empty()) {
    walked = parsers::for_each_attachment(raw, [&](std::size_t index, const parsers::Attachment& found,
                                                   std::string_view bytes) {
      // The parse's own list carries the extracted text; the walk gives the same entries in order.
      const parsers::Attachment& meta = index < attachments.size() ? attachments[index] : found;
      const std::int64_t id = insert_attachment(index, meta, static_cast<std::int64_t>(bytes.size()));
      std::int64_t seq = 0;
      for (std::size_t off = 0; off < bytes.size(); off += kAttachmentChunk, ++seq) {
        const std::size_t n = std::min(kAttachmentChunk, bytes.size() - off);
        auto c_cached = cached("INSERT INTO attachment_chunks(attachment_id, seq, data) VALUES(?,?,?)");
        SQLite::Statement& c = *c_cached;
        c.bind(1, id);
        c.bind(2, seq);
        c.bindNoCopy(3, static_cast<const void*>(bytes.data() + off), static_cast<int>(n));
        c.exec();
      }
    });
  }
  // Listed by the parse but not found again by the walk (it cannot happen for the same bytes):
  // listed, without bytes to download.
  for (std::size_t i = walked; i < attachments.size(); ++i) insert_attachment(i, attachments[i], 0);
  auto s_cached = cached("INSERT INTO message_content(message_id, state, at) VALUES(?, 'stored', ?)");
  SQLite::Statement& st = *s_cached;
  st.bind(1, message_row);
  st.bind(2, now);
  st.exec();
}

namespace {

// The message's direction and content state ("" when none is recorded: an older release stored
// it), or nullopt when it is not a message of case `ref`.
struct ContentRow {
  std::string direction;
  std::string state;
  std::optional<std::int64_t> at;
};

std::optional<ContentRow> content_row(Store::Impl& impl, std::string_view ref, std::int64_t message_id) {
  auto q_cached = impl.cached(
      "SELECT m.direction, coalesce(mc.state, ''), mc.at FROM messages m JOIN cases c ON c.id = m.case_id "
      "LEFT JOIN message_content mc ON mc.message_id = m.id WHERE c.ref = ? AND m.id = ?");
  SQLite::Statement& q = *q_cached;
  q.bind(1, detail::upper(ref));
  q.bind(2, message_id);
  if (!q.executeStep()) return std::nullopt;
  return ContentRow{q.getColumn(0).getString(), q.getColumn(1).getString(), col_opt_i64(q.getColumn(2))};
}

// Stores the content of an incoming message an older release stored, from its raw mail; a
// message whose raw bytes are gone is recorded as purged. Returns whether it stored anything.
bool backfill(Store::Impl& impl, std::int64_t message_id, std::int64_t now) {
  auto& db = impl.db;
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  {
    // Another connection may have done it while we waited for the write lock.
    auto k_cached = impl.cached("SELECT 1 FROM message_content WHERE message_id = ?");
    SQLite::Statement& k = *k_cached;
    k.bind(1, message_id);
    if (k.executeStep()) return false;
  }
  // The raw bytes are read in place (SQLite's copy of the column), not copied once more.
  auto r_cached = impl.cached("SELECT raw FROM messages WHERE id = ?");
  SQLite::Statement& r = *r_cached;
  r.bind(1, message_id);
  if (!r.executeStep()) return false;
  const auto& c = r.getColumn(0);
  std::string_view raw;
  if (!c.isNull() && c.getBytes() > 0)
    raw = std::string_view(static_cast<const char*>(c.getBlob()), static_cast<std::size_t>(c.getBytes()));
  if (raw.empty()) {
    auto p_cached = impl.cached("INSERT INTO message_content(message_id, state, at) VALUES(?, 'purged', NULL)");
    SQLite::Statement& p = *p_cached;
    p.bind(1, message_id);
    p.exec();
  } else {
    const auto attachments = parsers::parse_message(raw).attachments;
    impl.store_content(message_id, raw, attachments, now);
  }
  r.reset();  // done with the raw bytes before the commit
  tx.commit();
  return true;
}

Store::StoredAttachment attachment_from_row(SQLite::Statement& q) {
  Store::StoredAttachment a;
  a.id = q.getColumn(0).getInt64();
  a.index = static_cast<std::size_t>(q.getColumn(1).getInt64());
  a.filename = col_opt_str(q.getColumn(2));
  a.content_type = q.getColumn(3).getString();
  a.size = col_opt_i64(q.getColumn(4));
  a.data_size = q.getColumn(5).getInt64();
  return a;
}

}  // namespace

std::optional<Store::MessageContent> Store::message_content(std::string_view ref, std::int64_t message_id,
                                                            std::int64_t now) try {
  auto row = content_row(*impl_, ref, message_id);
  if (!row) return std::nullopt;
  MessageContent out;
  if (row->direction != "in") return out;  // our own replies carry no attachments
  if (row->state.empty()) {
    out.backfilled = backfill(*impl_, message_id, now);
    row = content_row(*impl_, ref, message_id);
    if (!row) return std::nullopt;
  }
  if (row->state == "purged") {
    out.purged = true;
    out.purged_at = row->at;
    return out;
  }
  auto q_cached = impl_->cached("SELECT id, idx, filename, content_type, size, data_size, text FROM attachments "
                                "WHERE message_id = ? ORDER BY idx");
  SQLite::Statement& q = *q_cached;
  q.bind(1, message_id);
  while (q.executeStep()) {
    auto a = attachment_from_row(q);
    a.text = col_opt_str(q.getColumn(6));
    out.attachments.push_back(std::move(a));
  }
  return out;
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("message_content failed: ") + e.what());
}

std::optional<Store::StoredAttachment> Store::find_attachment(std::string_view ref, std::int64_t message_id,
                                                              std::size_t index, std::int64_t now) try {
  auto row = content_row(*impl_, ref, message_id);
  if (!row || row->direction != "in") return std::nullopt;
  if (row->state.empty()) backfill(*impl_, message_id, now);
  auto q_cached = impl_->cached(
      "SELECT a.id, a.idx, a.filename, a.content_type, a.size, a.data_size FROM attachments a "
      "JOIN message_content mc ON mc.message_id = a.message_id AND mc.state = 'stored' "
      "WHERE a.message_id = ? AND a.idx = ?");
  SQLite::Statement& q = *q_cached;
  q.bind(1, message_id);
  q.bind(2, static_cast<std::int64_t>(index));
  if (!q.executeStep()) return std::nullopt;
  return attachment_from_row(q);
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("find_attachment failed: ") + e.what());
}

std::optional<std::string> Store::attachment_chunk(std::int64_t attachment_id, std::int64_t seq) const try {
  auto q_cached = impl_->cached("SELECT data FROM attachment_chunks WHERE attachment_id = ? AND seq = ?");
  SQLite::Statement& q = *q_cached;
  q.bind(1, attachment_id);
  q.bind(2, seq);
  if (!q.executeStep()) return std::nullopt;
  const auto& c = q.getColumn(0);
  return std::string(static_cast<const char*>(c.getBlob()), static_cast<std::size_t>(c.getBytes()));
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("attachment_chunk failed: ") + e.what());
}

std::optional<std::int64_t> Store::message_raw_size(std::string_view ref, std::int64_t message_id) const try {
  auto q_cached = impl_->cached(
      "SELECT length(m.raw) FROM messages m JOIN cases c ON c.id = m.case_id WHERE c.ref = ? AND m.id = ?");
  SQLite::Statement& q = *q_cached;
  q.bind(1, detail::upper(ref));
  q.bind(2, message_id);
  if (!q.executeStep()) return std::nullopt;
  return q.getColumn(0).isNull() ? 0 : q.getColumn(0).getInt64();
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("message_raw_size failed: ") + e.what());
}

namespace {

struct BlobCloser {
  void operator()(sqlite3_blob* b) const { sqlite3_blob_close(b); }
};

}  // namespace

std::optional<std::string> Store::message_raw_piece(std::int64_t message_id, std::int64_t offset, std::size_t n) const {
  sqlite3* db = impl_->db.getHandle();
  sqlite3_blob* raw_blob = nullptr;
  const int rc = sqlite3_blob_open(db, "main", "messages", "raw", message_id, 0, &raw_blob);
  std::unique_ptr<sqlite3_blob, BlobCloser> blob(raw_blob);
  if (rc != SQLITE_OK) {
    // No such row, or the column holds no blob any more (NULL after a purge).
    if (rc == SQLITE_ERROR) return std::nullopt;
    throw StoreError(std::string("message_raw_piece failed: ") + sqlite3_errmsg(db));
  }
  const std::int64_t size = sqlite3_blob_bytes(blob.get());
  if (offset < 0 || offset >= size) return std::string();
  const auto take = static_cast<int>(std::min<std::int64_t>(static_cast<std::int64_t>(n), size - offset));
  std::string out(static_cast<std::size_t>(take), '\0');
  if (sqlite3_blob_read(blob.get(), out.data(), take, static_cast<int>(offset)) != SQLITE_OK)
    throw StoreError(std::string("message_raw_piece failed: ") + sqlite3_errmsg(db));
  return out;
}

}  // namespace casedesk::queue
