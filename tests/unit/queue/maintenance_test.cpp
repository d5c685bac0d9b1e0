// Store maintenance: backup, purge (retention) and the ops snapshot.
#include <gtest/gtest.h>
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
  // The case keeps its text, codes and gets an audit event naming the rule.
  auto d = store.get_case(old_ref);
  ASSERT_TRUE(d);
  EXPECT_NE(d->messages[0].body_text.find("99213-25"), std::string::npos);
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
