// Store maintenance: backup, purge (retention) and the ops snapshot.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "parsers/codes.hpp"
#include "parsers/message.hpp"
#include "queue/store.hpp"

using casedesk::queue::IncomingMail;
using casedesk::queue::Store;
using casedesk::queue::StoreError;
using casedesk::queue::StoreOptions;
namespace fs = std::filesystem;
namespace parsers = casedesk::parsers;

namespace {

constexpr std::int64_t kNow = 1795702500;  // 2026-11-26T14:15:00Z
constexpr std::int64_t kDay = 86400;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "cd-maint-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

IncomingMail mail(int n) {
  const std::string raw = "From: Coder " + std::to_string(n) + " <coder" + std::to_string(n) +
                          "@clinic.example>\r\nTo: desk@desk.example\r\nSubject: Case " + std::to_string(n) +
                          ": 99213-25\r\nDate: Thu, 26 Nov 2026 09:15:00 -0500\r\nMessage-ID: <m" + std::to_string(n) +
                          "@clinic.example>\r\n\r\nCan we bill 99213-25 with 20610?\r\n";
  IncomingMail m;
  m.raw = raw;
  m.message = parsers::parse_message(raw);
  m.codes = parsers::extract_codes(m.message);
  return m;
}

StoreOptions at(const fs::path& path) {
  StoreOptions o;
  o.path = path;
  return o;
}

Store::RetentionPolicy raw_before(std::int64_t t) {
  Store::RetentionPolicy p;
  p.raw_mail_before = t;
  p.raw_mail_rule = "retention raw_mail = 30d";
  return p;
}

std::int64_t raw_size(const Store& store, const std::string& ref) {
  auto d = store.get_case(ref);
  return d ? d->messages.at(0).size : -1;
}

std::string close_case(Store& store, const std::string& ref, std::int64_t at) {
  if (!store.find_user("ops")) store.add_user({0, "ops", "ops@desk.example", "admin", at}, "x", at);
  store.claim(ref, "ops", at);
  store.answer(ref, "ops", "Yes, with modifier 25.", at);
  store.close(ref, "ops", at);
  return ref;
}

}  // namespace

TEST(StoreMaintenance, PurgeEmptiesRawMailOfOldMessagesOnly) {
  Store store(at(":memory:"));
  const auto old_ref = store.enqueue(mail(1), kNow - 40 * kDay).case_ref;
  const auto new_ref = store.enqueue(mail(2), kNow - 10 * kDay).case_ref;
  ASSERT_GT(raw_size(store, old_ref), 0);

  auto report = store.purge(raw_before(kNow - 30 * kDay), kNow, false);
  EXPECT_FALSE(report.dry_run);
  EXPECT_EQ(report.raw_messages, 1);
  EXPECT_EQ(report.raw_cases, 1);
  EXPECT_GT(report.raw_bytes, 0);
  EXPECT_TRUE(report.closed_cases.empty());
  EXPECT_EQ(raw_size(store, old_ref), 0);
  EXPECT_GT(raw_size(store, new_ref), 0);
  // The case keeps its subject and codes and gets an audit event naming the rule; the stored text
  // goes with the raw bytes (issue 12 item 10).
  auto d = store.get_case(old_ref);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->messages[0].body_text, "");
  EXPECT_FALSE(d->summary.subject.empty());
  EXPECT_FALSE(d->summary.codes.empty());
  bool audited = false;
  for (const auto& e : d->events)
    if (e.kind == "raw_mail_purged") audited = e.actor == "retention" && e.note.find("raw_mail = 30d") != std::string::npos;
  EXPECT_TRUE(audited);
  // Idempotent.
  EXPECT_EQ(store.purge(raw_before(kNow - 30 * kDay), kNow, false).raw_messages, 0);
}

TEST(StoreMaintenance, DryRunReportsTheSameAndChangesNothing) {
  Store store(at(":memory:"));
  const auto ref = store.enqueue(mail(1), kNow - 40 * kDay).case_ref;
  const auto before = store.get_case(ref);
  ASSERT_TRUE(before);
  const auto events_before = before->events.size();
  auto dry = store.purge(raw_before(kNow - 30 * kDay), kNow, true);
  EXPECT_TRUE(dry.dry_run);
  EXPECT_EQ(dry.raw_messages, 1);
  EXPECT_GT(raw_size(store, ref), 0);
  const auto after = store.get_case(ref);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->events.size(), events_before);
  auto real = store.purge(raw_before(kNow - 30 * kDay), kNow, false);
  EXPECT_EQ(real.raw_messages, dry.raw_messages);
  EXPECT_EQ(real.raw_bytes, dry.raw_bytes);
}

TEST(StoreMaintenance, ClosedCasesPastTheirAgeGoWithEveryRowButLeaveAnAuditEvent) {
  Store store(at(":memory:"));
  const auto old_closed = close_case(store, store.enqueue(mail(1), kNow - 200 * kDay).case_ref, kNow - 100 * kDay);
  const auto new_closed = close_case(store, store.enqueue(mail(2), kNow - 20 * kDay).case_ref, kNow - 10 * kDay);
  const auto open_old = store.enqueue(mail(3), kNow - 200 * kDay).case_ref;

  Store::RetentionPolicy p;
  p.closed_cases_before = kNow - 90 * kDay;
  p.closed_cases_rule = "retention closed_cases = 90d";
  auto dry = store.purge(p, kNow, true);
  EXPECT_EQ(dry.closed_cases, std::vector<std::string>{old_closed});
  EXPECT_TRUE(store.get_case(old_closed));

  auto report = store.purge(p, kNow, false);
  EXPECT_EQ(report.closed_cases, std::vector<std::string>{old_closed});
  EXPECT_FALSE(store.get_case(old_closed));
  EXPECT_TRUE(store.get_case(new_closed));
  EXPECT_TRUE(store.get_case(open_old));
  EXPECT_EQ(store.count_cases(), 2);
  // The same mail arriving again is a new case now (nothing of the old one is left to match).
  EXPECT_EQ(store.enqueue(mail(1), kNow).outcome, casedesk::queue::EnqueueResult::Outcome::created);
}

TEST(StoreMaintenance, TheNewestCaseStaysSoItsNumberIsNeverReused) {
  Store store(at(":memory:"));
  const auto first = store.enqueue(mail(1), kNow - 200 * kDay).case_ref;
  const auto newest = close_case(store, store.enqueue(mail(2), kNow - 200 * kDay).case_ref, kNow - 100 * kDay);
  Store::RetentionPolicy p;
  p.closed_cases_before = kNow - 90 * kDay;
  EXPECT_TRUE(store.purge(p, kNow, false).closed_cases.empty());
  EXPECT_TRUE(store.get_case(newest));
  // Once a newer case exists it goes, and the next case gets a fresh number.
  const auto third = store.enqueue(mail(3), kNow).case_ref;
  EXPECT_EQ(store.purge(p, kNow, false).closed_cases, std::vector<std::string>{newest});
  const auto fourth = store.enqueue(mail(4), kNow).case_ref;
  EXPECT_NE(fourth, newest);
  EXPECT_NE(fourth, third);
  EXPECT_NE(fourth, first);
  // Search does not find the removed case's text, and the index takes new cases.
  EXPECT_TRUE(store.search_cases("Case 2", kNow).empty() ||
              store.search_cases("Case 2", kNow).front().ref != newest);
}

TEST(StoreMaintenance, OpsSnapshotCountsDueRepliesAndTheirAge) {
  Store store(at(":memory:"));
  store.enqueue(mail(1), kNow - 600);
  store.enqueue(mail(2), kNow - 60);
  auto s = store.ops_snapshot(kNow);
  EXPECT_EQ(s.outbox_pending, 2);
  EXPECT_EQ(s.outbox_due, 2);
  ASSERT_TRUE(s.oldest_due_reply_at);
  EXPECT_EQ(*s.oldest_due_reply_at, kNow - 600);
  EXPECT_EQ(store.ops_snapshot(kNow - 3600).outbox_due, 0);
}

TEST(StoreMaintenance, BackupIsAConsistentSelfContainedPrivateCopy) {
  TempDir dir;
  const fs::path db = dir.path() / "casedesk.db";
  {
    Store store(at(db));
    for (int i = 0; i < 5; ++i) store.enqueue(mail(i), kNow);
    // Held open (WAL with uncheckpointed pages) while the copy is made.
    const fs::path dest = dir.path() / "copy.db";
    auto r = Store::backup(db, dest);
    EXPECT_EQ(r.cases, 5);
    EXPECT_EQ(r.schema_version, Store::latest_schema_version());
    EXPECT_GT(r.bytes, 0);
    struct stat st {};
    ASSERT_EQ(::stat(dest.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_FALSE(fs::exists(dest.string() + "-wal"));
    // Never over an existing file, and nothing partial is left behind.
    EXPECT_THROW(Store::backup(db, dest), StoreError);
    EXPECT_THROW(Store::backup(dir.path() / "missing.db", dir.path() / "x.db"), StoreError);
    for (const auto& e : fs::directory_iterator(dir.path()))
      EXPECT_EQ(e.path().filename().string().find(".partial"), std::string::npos) << e.path();
  }
  Store copy(at(dir.path() / "copy.db"));
  EXPECT_EQ(copy.count_cases(), 5);
}

// ---- issue 12 item 10: what the case view needs is stored at intake --------------------------

namespace {

// A mail with a text body, a base64 attachment of `bytes` bytes (more than one stored chunk
// when large) and a small text/csv attachment.
IncomingMail mail_with_attachments(int n, std::size_t bytes) {
  static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string b64;
  for (std::size_t i = 0; i < bytes / 3; ++i) {
    b64 += abc[(i * 7) % 64];
    b64 += abc[(i * 13) % 64];
    b64 += abc[(i * 17) % 64];
    b64 += abc[(i * 19) % 64];
    if ((i + 1) % 19 == 0) b64 += "\r\n";
  }
  std::string raw = "From: Coder <coder" + std::to_string(n) + "@clinic.example>\r\nTo: desk@desk.example\r\n"
                    "Subject: Scans 99213-25\r\nDate: Thu, 26 Nov 2026 09:15:00 -0500\r\nMessage-ID: <att" +
                    std::to_string(n) + "@clinic.example>\r\nMIME-Version: 1.0\r\n"
                    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n"
                    "Content-Type: text/plain; charset=utf-8\r\n\r\nCan we bill 99213-25 with 20610?\r\n--b1\r\n"
                    "Content-Type: application/pdf; name=\"scan.pdf\"\r\nContent-Transfer-Encoding: base64\r\n"
                    "Content-Disposition: attachment; filename=\"scan.pdf\"\r\n\r\n" +
                    b64 + "\r\n--b1\r\nContent-Type: text/csv; charset=utf-8\r\n"
                    "Content-Disposition: attachment; filename=\"claims.csv\"\r\n\r\ncode,units\r\n20610,1\r\n--b1--\r\n";
  IncomingMail m;
  m.raw = raw;
  m.message = parsers::parse_message(raw);
  m.codes = parsers::extract_codes(m.message);
  return m;
}

std::string download(const Store& store, const Store::StoredAttachment& a) {
  std::string out;
  for (std::int64_t seq = 0;; ++seq) {
    auto chunk = store.attachment_chunk(a.id, seq);
    if (!chunk) break;
    out += *chunk;
  }
  return out;
}

std::int64_t first_message(const Store& store, const std::string& ref) { return store.get_case(ref)->messages.at(0).id; }

}  // namespace

TEST(AdversarialStoredContent, AttachmentsAreStoredAtIntakeWithTheirBytesInChunks) {
  Store store(at(":memory:"));
  auto in = mail_with_attachments(1, 700 * 1024);
  const std::string ref = store.enqueue(in, kNow).case_ref;
  const std::int64_t id = first_message(store, ref);
  auto content = store.message_content(ref, id, kNow);
  ASSERT_TRUE(content);
  EXPECT_FALSE(content->purged);
  EXPECT_FALSE(content->backfilled);  // stored at intake, not on this first view
  ASSERT_EQ(content->attachments.size(), 2u);
  EXPECT_EQ(content->attachments[0].filename, "scan.pdf");
  EXPECT_EQ(content->attachments[1].content_type, "text/csv");
  EXPECT_EQ(content->attachments[1].text, "code,units\r\n20610,1");
  for (std::size_t i = 0; i < 2; ++i) {
    auto a = store.find_attachment(ref, id, i, kNow);
    ASSERT_TRUE(a);
    const std::string bytes = download(store, *a);
    EXPECT_EQ(bytes, parsers::attachment_data(in.raw, i)->second) << i;
    EXPECT_EQ(static_cast<std::int64_t>(bytes.size()), a->data_size);
  }
  EXPECT_GT(content->attachments[0].data_size, static_cast<std::int64_t>(2 * Store::kAttachmentChunk));
  EXPECT_FALSE(store.find_attachment(ref, id, 2, kNow));
  EXPECT_FALSE(store.find_attachment("CD-999999", id, 0, kNow));  // not a message of that case
  EXPECT_FALSE(store.message_content("CD-999999", id, kNow));
}

TEST(AdversarialStoredContent, RetentionPurgesTheStoredTextAndAttachmentsWithTheRawBytes) {
  Store store(at(":memory:"));
  const std::string old_ref = store.enqueue(mail_with_attachments(1, 300 * 1024), kNow - 40 * kDay).case_ref;
  const std::string new_ref = store.enqueue(mail_with_attachments(2, 1000), kNow - 10 * kDay).case_ref;
  const std::int64_t old_id = first_message(store, old_ref);
  auto before = store.find_attachment(old_ref, old_id, 0, kNow);
  ASSERT_TRUE(before);

  auto report = store.purge(raw_before(kNow - 30 * kDay), kNow, false);
  EXPECT_EQ(report.raw_messages, 1);
  EXPECT_EQ(report.content_messages, 1);
  EXPECT_GT(report.content_bytes, 300 * 1000);
  auto content = store.message_content(old_ref, old_id, kNow);
  ASSERT_TRUE(content);
  EXPECT_TRUE(content->purged);
  EXPECT_EQ(content->purged_at, kNow);
  EXPECT_TRUE(content->attachments.empty());
  EXPECT_FALSE(store.find_attachment(old_ref, old_id, 0, kNow));
  EXPECT_FALSE(store.attachment_chunk(before->id, 0));
  EXPECT_EQ(store.get_case(old_ref)->messages[0].body_text, "");
  EXPECT_FALSE(store.message_raw(old_ref, old_id).value_or("x").size() > 0);
  // The search index forgets the text too; the subject and codes stay searchable.
  for (const auto& c : store.search_cases("bill", kNow)) EXPECT_NE(c.ref, old_ref);
  // The newer case keeps everything.
  auto kept = store.message_content(new_ref, first_message(store, new_ref), kNow);
  ASSERT_TRUE(kept);
  EXPECT_FALSE(kept->purged);
  EXPECT_EQ(kept->attachments.size(), 2u);
  // Idempotent.
  EXPECT_EQ(store.purge(raw_before(kNow - 30 * kDay), kNow, false).content_messages, 0);
}

TEST(AdversarialStoredContent, AStoreOfThePreviousSchemaIsBackfilledOnFirstView) {
  TempDir dir;
  const fs::path path = dir.path() / "old.db";
  auto in = mail_with_attachments(1, 400 * 1024);
  std::string ref, purged_ref;
  {
    Store store(at(path));
    ref = store.enqueue(in, kNow).case_ref;
    purged_ref = store.enqueue(mail_with_attachments(2, 1000), kNow - 400 * kDay).case_ref;
  }
  {
    // Back to the previous schema, as the release before this one left it: no stored content,
    // and the older case's raw bytes purged by that release (its text kept).
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    const std::string downgrade =
        "DROP TABLE attachment_chunks; DROP TABLE attachments; DROP TABLE message_content;"
        "UPDATE messages SET raw = X'' WHERE received_at < " + std::to_string(kNow - 300 * kDay) +
        "; PRAGMA user_version = " + std::to_string(Store::latest_schema_version() - 2) +
        ";";  // before the stored content (the last migration but one)
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, downgrade.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  }
  Store store(at(path));
  EXPECT_EQ(store.schema_version(), Store::latest_schema_version());
  const std::int64_t id = first_message(store, ref);
  auto first = store.message_content(ref, id, kNow);
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->backfilled);
  ASSERT_EQ(first->attachments.size(), 2u);
  EXPECT_EQ(download(store, *store.find_attachment(ref, id, 0, kNow)), parsers::attachment_data(in.raw, 0)->second);
  auto again = store.message_content(ref, id, kNow);
  EXPECT_FALSE(again->backfilled);
  EXPECT_EQ(again->attachments.size(), 2u);
  // Purged by the older release: shown as purged (no attachments), its kept text still there.
  auto old = store.message_content(purged_ref, first_message(store, purged_ref), kNow);
  ASSERT_TRUE(old);
  EXPECT_TRUE(old->purged);
  EXPECT_FALSE(old->purged_at);
}
