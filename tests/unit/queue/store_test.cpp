#include "queue/store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "parsers/codes.hpp"
#include "parsers/message.hpp"

using casedesk::queue::AckState;
using casedesk::queue::CaseDetail;
using casedesk::queue::EnqueueResult;
using casedesk::queue::Event;
using casedesk::queue::IncomingMail;
using casedesk::queue::MailSource;
using casedesk::queue::OutboxState;
using casedesk::queue::Store;
using casedesk::queue::StoreError;
using casedesk::queue::StoreOptions;
using casedesk::queue::CaseFilter;
using casedesk::queue::NotFound;
using casedesk::queue::OutboxItem;
using casedesk::queue::TransitionError;
using casedesk::queue::User;
namespace parsers = casedesk::parsers;

namespace {

constexpr std::int64_t kNow = 1795702500;  // 2026-11-26T14:15:00Z

struct MailSpec {
  std::optional<std::string> message_id = "<m1@clinic.example>";
  std::string from = "Anna Meier <anna.meier@clinic.example>";
  std::string date = "Thu, 26 Nov 2026 09:15:00 -0500";
  std::string subject = "Modifier 50 for 64635?";
  std::string body = "Can we bill 64635-50 x1 with 64636?";
  std::string extra_headers;  // prepended, CRLF-terminated lines
};

std::string raw_of(const MailSpec& s) {
  std::string raw = s.extra_headers;
  raw += "From: " + s.from + "\r\n";
  raw += "To: Case Desk <desk@desk.example>\r\n";
  raw += "Subject: " + s.subject + "\r\n";
  raw += "Date: " + s.date + "\r\n";
  if (s.message_id) raw += "Message-ID: " + *s.message_id + "\r\n";
  raw += "\r\n" + s.body + "\r\n";
  return raw;
}

IncomingMail incoming(const std::string& raw, std::optional<MailSource> source = std::nullopt,
                      std::optional<std::string> suppress = std::nullopt) {
  IncomingMail mail;
  mail.raw = raw;
  mail.message = parsers::parse_message(raw);
  mail.codes = parsers::extract_codes(mail.message);
  mail.source = std::move(source);
  mail.suppress_ack_reason = std::move(suppress);
  return mail;
}

IncomingMail incoming(const MailSpec& spec, std::optional<MailSource> source = std::nullopt,
                      std::optional<std::string> suppress = std::nullopt) {
  return incoming(raw_of(spec), std::move(source), std::move(suppress));
}

StoreOptions memory(std::string prefix = "CD") {
  StoreOptions o;
  o.path = ":memory:";
  o.case_prefix = std::move(prefix);
  return o;
}

std::vector<std::string> event_kinds(const CaseDetail& d) {
  std::vector<std::string> out;
  for (const Event& e : d.events) out.push_back(e.kind);
  return out;
}

bool has_event(const CaseDetail& d, const std::string& kind) {
  auto kinds = event_kinds(d);
  return std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
}

CaseDetail must_get(const Store& store, std::string_view ref) {
  auto d = store.get_case(ref);
  EXPECT_TRUE(d.has_value()) << ref;
  return d.value_or(CaseDetail{});
}

std::int64_t only_outbox_id(const Store& store) {
  auto due = store.due_outbox(kNow);
  EXPECT_EQ(due.size(), 1u);
  return due.empty() ? -1 : due.front().id;
}

void expect_same_codes(const std::vector<parsers::Code>& got, const std::vector<parsers::Code>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE("code #" + std::to_string(i) + " " + want[i].code);
    EXPECT_EQ(got[i].code, want[i].code);
    EXPECT_EQ(got[i].system, want[i].system);
    EXPECT_EQ(got[i].modifiers, want[i].modifiers);
    EXPECT_EQ(got[i].units, want[i].units);
    EXPECT_EQ(got[i].range_end, want[i].range_end);
    EXPECT_EQ(got[i].found_in, want[i].found_in);
    ASSERT_EQ(got[i].mentions.size(), want[i].mentions.size());
    for (std::size_t k = 0; k < want[i].mentions.size(); ++k) {
      EXPECT_EQ(got[i].mentions[k].where, want[i].mentions[k].where);
      EXPECT_EQ(got[i].mentions[k].start, want[i].mentions[k].start);
      EXPECT_EQ(got[i].mentions[k].end, want[i].mentions[k].end);
      EXPECT_EQ(got[i].mentions[k].modifiers, want[i].mentions[k].modifiers);
      EXPECT_EQ(got[i].mentions[k].units, want[i].mentions[k].units);
    }
  }
}

// A fresh directory under the system temp dir, removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "casedesk-store-test-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace

TEST(CaseStore, FreshStoreMigratesToLatestSchema) {
  Store store(memory());
  EXPECT_GE(Store::latest_schema_version(), 1);
  EXPECT_EQ(store.schema_version(), Store::latest_schema_version());
  EXPECT_EQ(store.count_cases(), 0);
  EXPECT_TRUE(store.list_cases().empty());
  EXPECT_TRUE(store.due_outbox(kNow).empty());
  EXPECT_TRUE(store.list_quarantine().empty());
}

TEST(CaseStore, OpeningAnUncreatablePathThrowsStoreError) {
  StoreOptions o;
  o.path = "/nonexistent-casedesk-dir/sub/cases.db";
  EXPECT_THROW(Store{o}, StoreError);
}

TEST(CaseStore, AckStateStringsRoundTrip) {
  for (AckState a : {AckState::pending, AckState::sent, AckState::suppressed, AckState::failed})
    EXPECT_EQ(casedesk::queue::ack_state_from_string(casedesk::queue::to_string(a)), a);
  EXPECT_EQ(casedesk::queue::to_string(AckState::suppressed), "suppressed");
  EXPECT_EQ(casedesk::queue::ack_state_from_string("bogus"), std::nullopt);
  EXPECT_EQ(casedesk::queue::to_string(OutboxState::failed), "failed");
}

TEST(CaseStore, EnqueueCreatesNewCaseWithPendingAckAndDueOutbox) {
  Store store(memory());
  const IncomingMail mail = incoming(MailSpec{});
  EnqueueResult r = store.enqueue(mail, kNow);
  EXPECT_EQ(r.outcome, EnqueueResult::Outcome::created);
  EXPECT_EQ(r.case_ref, "CD-000001");
  EXPECT_GT(r.case_id, 0);
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_EQ(store.count_cases(), 1);

  CaseDetail d = must_get(store, "CD-000001");
  EXPECT_EQ(d.summary.id, r.case_id);
  EXPECT_EQ(d.summary.ref, "CD-000001");
  EXPECT_EQ(d.summary.status, "new");
  EXPECT_EQ(d.summary.ack_state, AckState::pending);
  EXPECT_EQ(d.summary.ack_reason, std::nullopt);
  EXPECT_EQ(d.summary.submitter_addr, "anna.meier@clinic.example");
  EXPECT_EQ(d.summary.submitter_name, "Anna Meier");
  EXPECT_EQ(d.summary.subject, "Modifier 50 for 64635?");
  EXPECT_EQ(d.summary.created_at, kNow);
  EXPECT_EQ(d.summary.updated_at, kNow);

  ASSERT_EQ(d.messages.size(), 1u);
  const auto& m = d.messages[0];
  EXPECT_EQ(m.direction, "in");
  EXPECT_EQ(m.message_id, "<m1@clinic.example>");
  EXPECT_EQ(m.from_addr, "anna.meier@clinic.example");
  EXPECT_EQ(m.subject, "Modifier 50 for 64635?");
  EXPECT_EQ(m.date, mail.message.date);
  EXPECT_EQ(m.received_at, kNow);
  EXPECT_EQ(m.size, static_cast<std::int64_t>(mail.raw.size()));
  EXPECT_EQ(m.body_source, "text/plain");
  EXPECT_NE(m.body_text.find("64635-50"), std::string::npos);
  EXPECT_EQ(m.source, std::nullopt);

  ASSERT_FALSE(d.events.empty());
  EXPECT_EQ(d.events[0].kind, "created");
  EXPECT_EQ(d.events[0].actor, "intake");
  EXPECT_EQ(d.events[0].to_state, "new");
  EXPECT_FALSE(has_event(d, "duplicate"));

  ASSERT_EQ(d.outbox.size(), 1u);
  EXPECT_EQ(d.outbox[0].kind, "ack");
  EXPECT_EQ(d.outbox[0].state, OutboxState::pending);
  EXPECT_EQ(d.outbox[0].message_id, std::nullopt);
  EXPECT_EQ(d.outbox[0].raw, std::nullopt);
  EXPECT_EQ(d.outbox[0].attempts, 0);

  auto due = store.due_outbox(kNow);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].case_id, r.case_id);
  EXPECT_EQ(due[0].case_ref, "CD-000001");
  EXPECT_EQ(due[0].kind, "ack");
  EXPECT_EQ(due[0].id, d.outbox[0].id);
  EXPECT_TRUE(store.due_outbox(kNow - 1).empty());
}

TEST(CaseStore, SecondMailGetsNextRef) {
  Store store(memory());
  store.enqueue(incoming(MailSpec{}), kNow);
  MailSpec other;
  other.message_id = "<m2@clinic.example>";
  other.subject = "Another question";
  EnqueueResult r = store.enqueue(incoming(other), kNow + 5);
  EXPECT_EQ(r.outcome, EnqueueResult::Outcome::created);
  EXPECT_EQ(r.case_ref, "CD-000002");
  auto cases = store.list_cases();
  ASSERT_EQ(cases.size(), 2u);
  EXPECT_EQ(cases[0].ref, "CD-000001");
  EXPECT_EQ(cases[1].ref, "CD-000002");
  EXPECT_EQ(cases[1].subject, "Another question");
  EXPECT_EQ(store.due_outbox(kNow + 5).size(), 2u);
}

TEST(CaseStore, EnqueueTwiceIsIdempotent) {
  Store store(memory());
  const IncomingMail mail = incoming(MailSpec{});
  EnqueueResult first = store.enqueue(mail, kNow);
  EnqueueResult second = store.enqueue(mail, kNow + 60);
  EXPECT_EQ(second.outcome, EnqueueResult::Outcome::duplicate);
  EXPECT_EQ(second.case_id, first.case_id);
  EXPECT_EQ(second.case_ref, "CD-000001");
  EXPECT_EQ(store.count_cases(), 1);

  CaseDetail d = must_get(store, "CD-000001");
  EXPECT_EQ(d.messages.size(), 1u);
  EXPECT_EQ(d.outbox.size(), 1u);
  EXPECT_TRUE(has_event(d, "duplicate"));
}

TEST(CaseStore, DuplicateAddsDuplicateEventOnly) {
  Store store(memory());
  const IncomingMail mail = incoming(MailSpec{});
  store.enqueue(mail, kNow);
  store.enqueue(mail, kNow + 60);
  CaseDetail d = must_get(store, "CD-000001");
  auto kinds = event_kinds(d);
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "created"), 1);
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "duplicate"), 1);
  auto dup = std::find_if(d.events.begin(), d.events.end(), [](const Event& e) { return e.kind == "duplicate"; });
  ASSERT_NE(dup, d.events.end());
  EXPECT_EQ(dup->at, kNow + 60);
  EXPECT_EQ(d.outbox.size(), 1u);
  EXPECT_EQ(store.due_outbox(kNow + 60).size(), 1u);
}

TEST(CaseStore, SameMessageIdSenderAndDateWithOtherBytesIsDuplicate) {
  // The same mail delivered along another path: extra Received header, sender address in
  // another case.
  Store store(memory());
  store.enqueue(incoming(MailSpec{}), kNow);
  MailSpec again;
  again.from = "Anna Meier <Anna.Meier@CLINIC.example>";
  again.extra_headers = "Received: from relay.example by mx.desk.example; Thu, 26 Nov 2026 09:16:00 -0500\r\n";
  EnqueueResult r = store.enqueue(incoming(again), kNow + 1);
  EXPECT_EQ(r.outcome, EnqueueResult::Outcome::duplicate);
  EXPECT_EQ(r.case_ref, "CD-000001");
  EXPECT_EQ(store.count_cases(), 1);
}

TEST(CaseStore, WithoutMessageIdSameBytesAreDuplicate) {
  Store store(memory());
  MailSpec spec;
  spec.message_id = std::nullopt;
  const IncomingMail mail = incoming(spec);
  ASSERT_EQ(mail.message.message_id, std::nullopt);
  EnqueueResult first = store.enqueue(mail, kNow);
  EnqueueResult second = store.enqueue(mail, kNow + 1);
  EXPECT_EQ(first.outcome, EnqueueResult::Outcome::created);
  EXPECT_EQ(second.outcome, EnqueueResult::Outcome::duplicate);
  EXPECT_EQ(second.case_id, first.case_id);
  EXPECT_EQ(store.count_cases(), 1);
  EXPECT_TRUE(has_event(must_get(store, first.case_ref), "duplicate"));
}

TEST(CaseStore, WithoutMessageIdDifferentBytesAreNotDuplicate) {
  Store store(memory());
  MailSpec a;
  a.message_id = std::nullopt;
  MailSpec b = a;
  b.body += " Thanks.";  // same sender, date and subject, other bytes
  EnqueueResult first = store.enqueue(incoming(a), kNow);
  EnqueueResult second = store.enqueue(incoming(b), kNow + 1);
  EXPECT_EQ(second.outcome, EnqueueResult::Outcome::created);
  EXPECT_NE(second.case_id, first.case_id);
  EXPECT_EQ(second.case_ref, "CD-000002");
  EXPECT_EQ(store.count_cases(), 2);
}

TEST(CaseStore, ReusedMessageIdWithOtherDateBecomesNewCaseWithWarning) {
  Store store(memory());
  store.enqueue(incoming(MailSpec{}), kNow);
  MailSpec reuse;
  reuse.date = "Fri, 27 Nov 2026 10:00:00 -0500";
  reuse.subject = "A different question";
  EnqueueResult r = store.enqueue(incoming(reuse), kNow + 3600);
  EXPECT_EQ(r.outcome, EnqueueResult::Outcome::created);
  EXPECT_EQ(r.case_ref, "CD-000002");
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("Message-ID"), std::string::npos) << r.warnings[0];
  EXPECT_NE(r.warnings[0].find("CD-000001"), std::string::npos) << r.warnings[0];

  CaseDetail d = must_get(store, "CD-000002");
  ASSERT_EQ(d.messages.size(), 1u);
  EXPECT_NE(std::find(d.messages[0].warnings.begin(), d.messages[0].warnings.end(), r.warnings[0]),
            d.messages[0].warnings.end());
  EXPECT_EQ(d.outbox.size(), 1u);
}

TEST(CaseStore, ReusedMessageIdFromOtherSenderBecomesNewCase) {
  Store store(memory());
  store.enqueue(incoming(MailSpec{}), kNow);
  MailSpec other;
  other.from = "bob@other.example";
  EnqueueResult r = store.enqueue(incoming(other), kNow + 1);
  EXPECT_EQ(r.outcome, EnqueueResult::Outcome::created);
  EXPECT_FALSE(r.warnings.empty());
  EXPECT_EQ(store.count_cases(), 2);
}

TEST(CaseStore, SuppressedAckHasReasonAndNoOutboxItem) {
  Store store(memory());
  EnqueueResult r = store.enqueue(incoming(MailSpec{}, std::nullopt, "Auto-Submitted: auto-replied"), kNow);
  EXPECT_EQ(r.outcome, EnqueueResult::Outcome::created);
  CaseDetail d = must_get(store, r.case_ref);
  EXPECT_EQ(d.summary.ack_state, AckState::suppressed);
  EXPECT_EQ(d.summary.ack_reason, "Auto-Submitted: auto-replied");
  EXPECT_TRUE(d.outbox.empty());
  EXPECT_TRUE(store.due_outbox(kNow + 100000).empty());
  EXPECT_TRUE(has_event(d, "ack_suppressed"));
}

TEST(CaseStore, CodesAreStoredAndReadBack) {
  Store store(memory());
  IncomingMail mail = incoming(MailSpec{});
  parsers::Code a;
  a.code = "64635";
  a.system = parsers::CodeSystem::cpt;
  a.modifiers = {"50", "RT"};
  a.units = 2;
  a.found_in = {"subject", "body"};
  a.mentions = {parsers::CodeMention{"subject", 21, 26, {}, std::nullopt},
                parsers::CodeMention{"body", 12, 20, {"50", "RT"}, 2}};
  parsers::Code b;
  b.code = "99202";
  b.system = parsers::CodeSystem::cpt;
  b.range_end = "99215";
  b.found_in = {"attachment"};
  b.mentions = {parsers::CodeMention{"attachment:0", 3, 14, {}, std::nullopt}};
  parsers::Code c;
  c.code = "M54.50";
  c.system = parsers::CodeSystem::icd10cm;
  c.found_in = {"body"};
  c.mentions = {parsers::CodeMention{"body", 40, 46, {}, std::nullopt}};
  parsers::Code h;
  h.code = "J1885";
  h.system = parsers::CodeSystem::hcpcs;
  h.units = 3;
  h.found_in = {"body"};
  // Text the quick string-list reader hands to the JSON parser: quotes, backslashes, commas.
  h.notes = {"say \"units\", not \"doses\"", "C:\\path", "ünïcode, with a comma", ""};
  mail.codes = {a, b, c, h};

  EnqueueResult r = store.enqueue(mail, kNow);
  CaseDetail d = must_get(store, r.case_ref);
  expect_same_codes(d.summary.codes, mail.codes);
  EXPECT_EQ(d.summary.codes[3].notes, h.notes);
  auto cases = store.list_cases();
  ASSERT_EQ(cases.size(), 1u);
  expect_same_codes(cases[0].codes, mail.codes);
}

TEST(CaseStore, ExtractedCodesRoundTrip) {
  Store store(memory());
  MailSpec spec;
  spec.body = "Can we bill 64635-50 x2 with 64636? Dx M54.50. E/M 99202-99215, gave J1885 x 3.";
  IncomingMail mail = incoming(spec);
  ASSERT_GE(mail.codes.size(), 2u);
  EnqueueResult r = store.enqueue(mail, kNow);
  expect_same_codes(must_get(store, r.case_ref).summary.codes, mail.codes);
}

TEST(CaseStore, UidRecordAndMarkMoved) {
  Store store(memory());
  const MailSource src{"INBOX", 42, 7};
  EXPECT_EQ(store.uid_record(src), std::nullopt);
  EnqueueResult r = store.enqueue(incoming(MailSpec{}, src), kNow);

  auto rec = store.uid_record(src);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->outcome, "case");
  EXPECT_EQ(rec->case_id, r.case_id);
  EXPECT_EQ(rec->quarantine_id, std::nullopt);
  EXPECT_FALSE(rec->moved);
  EXPECT_EQ(store.uid_record(MailSource{"INBOX", 43, 7}), std::nullopt);
  EXPECT_EQ(store.uid_record(MailSource{"Other", 42, 7}), std::nullopt);
  EXPECT_EQ(store.uid_record(MailSource{"INBOX", 42, 8}), std::nullopt);

  CaseDetail d = must_get(store, r.case_ref);
  ASSERT_EQ(d.messages.size(), 1u);
  ASSERT_TRUE(d.messages[0].source);
  EXPECT_EQ(d.messages[0].source->mailbox, "INBOX");
  EXPECT_EQ(d.messages[0].source->uidvalidity, 42);
  EXPECT_EQ(d.messages[0].source->uid, 7);

  store.mark_moved(src, kNow + 1);
  rec = store.uid_record(src);
  ASSERT_TRUE(rec);
  EXPECT_TRUE(rec->moved);
  EXPECT_EQ(rec->case_id, r.case_id);
}

TEST(CaseStore, DuplicateRecordsItsUidAgainstTheExistingCase) {
  Store store(memory());
  EnqueueResult first = store.enqueue(incoming(MailSpec{}, MailSource{"INBOX", 42, 7}), kNow);
  EnqueueResult second = store.enqueue(incoming(MailSpec{}, MailSource{"INBOX", 42, 9}), kNow + 1);
  ASSERT_EQ(second.outcome, EnqueueResult::Outcome::duplicate);
  auto rec = store.uid_record(MailSource{"INBOX", 42, 9});
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->outcome, "case");
  EXPECT_EQ(rec->case_id, first.case_id);
  EXPECT_FALSE(rec->moved);
}

TEST(CaseStore, QuarantineKeepsMailReasonAndUid) {
  Store store(memory());
  const MailSource src{"INBOX", 42, 11};
  const std::string raw = "this is not a mail\r\n";
  std::int64_t id = store.quarantine(src, raw, "parse failed: no headers", kNow);
  std::int64_t id2 = store.quarantine(std::nullopt, "x", "too large", kNow + 1);
  EXPECT_NE(id, id2);
  EXPECT_EQ(store.count_cases(), 0);

  auto list = store.list_quarantine();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].id, id);
  EXPECT_EQ(list[0].at, kNow);
  EXPECT_EQ(list[0].reason, "parse failed: no headers");
  EXPECT_EQ(list[0].size, static_cast<std::int64_t>(raw.size()));
  ASSERT_TRUE(list[0].source);
  EXPECT_EQ(list[0].source->mailbox, "INBOX");
  EXPECT_EQ(list[0].source->uidvalidity, 42);
  EXPECT_EQ(list[0].source->uid, 11);
  EXPECT_EQ(list[1].id, id2);
  EXPECT_EQ(list[1].reason, "too large");
  EXPECT_EQ(list[1].source, std::nullopt);
  EXPECT_EQ(list[1].size, 1);

  auto rec = store.uid_record(src);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->outcome, "quarantined");
  EXPECT_EQ(rec->quarantine_id, id);
  EXPECT_EQ(rec->case_id, std::nullopt);
  EXPECT_FALSE(rec->moved);
  store.mark_moved(src, kNow + 2);
  EXPECT_TRUE(store.uid_record(src)->moved);
}

TEST(CaseStore, QuarantineOfEmptyMailIsKept) {
  Store store(memory());
  std::int64_t id = store.quarantine(MailSource{"INBOX", 1, 1}, std::string_view{}, "empty mail", kNow);
  auto list = store.list_quarantine();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].id, id);
  EXPECT_EQ(list[0].size, 0);
}

TEST(CaseStore, SetOutboxContentIsFixedOnce) {
  Store store(memory());
  store.enqueue(incoming(MailSpec{}), kNow);
  const std::int64_t id = only_outbox_id(store);
  store.set_outbox_content(id, "<ack-1@desk.example>", "anna.meier@clinic.example", "raw bytes 1");
  EXPECT_THROW(store.set_outbox_content(id, "<ack-2@desk.example>", "other@clinic.example", "raw bytes 2"),
               StoreError);
  auto due = store.due_outbox(kNow);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].message_id, "<ack-1@desk.example>");
  EXPECT_EQ(due[0].to_addr, "anna.meier@clinic.example");
  EXPECT_EQ(due[0].raw, "raw bytes 1");
  EXPECT_EQ(due[0].state, OutboxState::pending);
  EXPECT_THROW(store.set_outbox_content(id + 1000, "<x@y>", "a@b.example", "raw"), StoreError);
}

TEST(CaseStore, OutboxRawKeepsBinaryBytes) {
  Store store(memory());
  store.enqueue(incoming(MailSpec{}), kNow);
  const std::int64_t id = only_outbox_id(store);
  const std::string raw("a\0b\r\n\xff", 6);
  store.set_outbox_content(id, "<ack-1@desk.example>", "anna.meier@clinic.example", raw);
  auto d = must_get(store, "CD-000001");
  ASSERT_EQ(d.outbox.size(), 1u);
  EXPECT_EQ(d.outbox[0].raw, raw);
}

TEST(CaseStore, MarkOutboxSentSetsAckSentAndLeavesDue) {
  Store store(memory());
  store.enqueue(incoming(MailSpec{}), kNow);
  const std::int64_t id = only_outbox_id(store);
  store.set_outbox_content(id, "<ack-1@desk.example>", "anna.meier@clinic.example", "raw");
  store.mark_outbox_sent(id, kNow + 10, "250 2.0.0 queued as 1234");

  EXPECT_TRUE(store.due_outbox(kNow + 100000).empty());
  CaseDetail d = must_get(store, "CD-000001");
  EXPECT_EQ(d.summary.ack_state, AckState::sent);
  EXPECT_EQ(d.summary.updated_at, kNow + 10);
  ASSERT_EQ(d.outbox.size(), 1u);
  EXPECT_EQ(d.outbox[0].state, OutboxState::sent);
  EXPECT_EQ(d.outbox[0].sent_at, kNow + 10);
  EXPECT_EQ(d.outbox[0].attempts, 1);
  EXPECT_EQ(d.outbox[0].message_id, "<ack-1@desk.example>");
  EXPECT_TRUE(has_event(d, "ack_sent"));
  EXPECT_THROW(store.mark_outbox_sent(id, kNow + 20, "250 again"), StoreError);
  EXPECT_THROW(store.mark_outbox_attempt_failed(id, kNow + 20, "late", true, kNow + 80), StoreError);
  EXPECT_EQ(must_get(store, "CD-000001").summary.ack_state, AckState::sent);
}

TEST(CaseStore, PermanentFailureFailsItemAndAck) {
  Store store(memory());
  store.enqueue(incoming(MailSpec{}), kNow);
  const std::int64_t id = only_outbox_id(store);
  store.mark_outbox_attempt_failed(id, kNow + 10, "550 5.1.1 mailbox unavailable", true, kNow + 70);

  EXPECT_TRUE(store.due_outbox(kNow + 100000).empty());
  CaseDetail d = must_get(store, "CD-000001");
  EXPECT_EQ(d.summary.ack_state, AckState::failed);
  EXPECT_EQ(d.summary.ack_reason, "550 5.1.1 mailbox unavailable");
  ASSERT_EQ(d.outbox.size(), 1u);
  EXPECT_EQ(d.outbox[0].state, OutboxState::failed);
  EXPECT_EQ(d.outbox[0].attempts, 1);
  EXPECT_EQ(d.outbox[0].last_error, "550 5.1.1 mailbox unavailable");
  EXPECT_EQ(d.outbox[0].sent_at, std::nullopt);
  EXPECT_TRUE(has_event(d, "ack_failed"));
  EXPECT_THROW(store.mark_outbox_sent(id, kNow + 20, "250"), StoreError);
}

// Issue 12 item 2: a permanently failed reply is visible (reply_failed, filter, gauge count, audit
// event) and can be retried, recomposed, once its cause is fixed.
TEST(AdversarialReplyFailed, PermanentFailureIsVisibleAndRetryable) {
  Store store(memory());
  store.enqueue(incoming(MailSpec{}), kNow);
  const std::int64_t id = only_outbox_id(store);
  store.set_outbox_content(id, "<ack-1@desk.example>", "dana@clinic.example", "Subject: x\r\n\r\nbody\r\n");
  EXPECT_FALSE(must_get(store, "CD-000001").summary.reply_failed);
  store.mark_outbox_attempt_failed(id, kNow + 10, "500 line too long", true, kNow + 70);

  CaseDetail d = must_get(store, "CD-000001");
  EXPECT_TRUE(d.summary.reply_failed);
  EXPECT_TRUE(has_event(d, "reply_failed"));
  EXPECT_EQ(store.snapshot().cases_reply_failed, 1);
  CaseFilter only_failed;
  only_failed.reply_failed_only = true;
  ASSERT_EQ(store.list_cases(only_failed, kNow + 20).size(), 1u);
  EXPECT_EQ(store.count_cases(only_failed, kNow + 20), 1);
  EXPECT_TRUE(store.list_cases(only_failed, kNow + 20).front().reply_failed);

  store.add_user(User{0, "alice", "alice@desk.example", "consultant", kNow}, "hash", kNow);
  EXPECT_THROW(store.retry_outbox(id + 100, "alice", kNow + 30), NotFound);
  EXPECT_THROW(store.retry_outbox(id, "alice", kNow + 30, std::string_view("CD-000099")), NotFound);
  const OutboxItem again = store.retry_outbox(id, "alice", kNow + 30, std::string_view("cd-000001"));
  EXPECT_EQ(again.state, OutboxState::pending);
  EXPECT_EQ(again.attempts, 0);
  EXPECT_EQ(again.raw, std::nullopt);         // recomposed by the current code
  EXPECT_EQ(again.message_id, std::nullopt);
  EXPECT_THROW(store.retry_outbox(id, "alice", kNow + 31), TransitionError);  // only a failed one

  d = must_get(store, "CD-000001");
  EXPECT_FALSE(d.summary.reply_failed);
  EXPECT_EQ(d.summary.ack_state, AckState::pending);
  EXPECT_TRUE(has_event(d, "reply_retry"));
  EXPECT_EQ(store.snapshot().cases_reply_failed, 0);
  EXPECT_EQ(store.count_cases(only_failed, kNow + 40), 0);
  ASSERT_EQ(store.due_outbox(kNow + 30).size(), 1u);
  store.set_outbox_content(id, "<ack-2@desk.example>", "dana@clinic.example", "Subject: y\r\n\r\nbody\r\n");
  store.mark_outbox_sent(id, kNow + 40, "250 ok");
  EXPECT_EQ(must_get(store, "CD-000001").summary.ack_state, AckState::sent);
}

TEST(CaseStore, TemporaryFailureKeepsPendingUntilNextAttempt) {
  Store store(memory());
  store.enqueue(incoming(MailSpec{}), kNow);
  const std::int64_t id = only_outbox_id(store);
  store.mark_outbox_attempt_failed(id, kNow + 10, "451 4.3.0 try later", false, kNow + 70);

  EXPECT_TRUE(store.due_outbox(kNow + 69).empty());
  auto due = store.due_outbox(kNow + 70);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].id, id);
  EXPECT_EQ(due[0].state, OutboxState::pending);
  EXPECT_EQ(due[0].attempts, 1);
  EXPECT_EQ(due[0].next_attempt_at, kNow + 70);
  EXPECT_EQ(due[0].last_error, "451 4.3.0 try later");

  CaseDetail d = must_get(store, "CD-000001");
  EXPECT_EQ(d.summary.ack_state, AckState::pending);
  EXPECT_EQ(d.summary.ack_reason, std::nullopt);
  EXPECT_TRUE(has_event(d, "ack_deferred"));

  store.mark_outbox_attempt_failed(id, kNow + 70, "451 again", false, kNow + 200);
  EXPECT_TRUE(store.due_outbox(kNow + 199).empty());
  due = store.due_outbox(kNow + 200);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].attempts, 2);

  store.mark_outbox_sent(id, kNow + 200, "250 ok");
  d = must_get(store, "CD-000001");
  EXPECT_EQ(d.summary.ack_state, AckState::sent);
  ASSERT_EQ(d.outbox.size(), 1u);
  EXPECT_EQ(d.outbox[0].attempts, 3);
  EXPECT_EQ(d.outbox[0].last_error, std::nullopt);
}

TEST(CaseStore, DueOutboxHonoursLimitAndOrder) {
  Store store(memory());
  for (int i = 1; i <= 3; ++i) {
    MailSpec s;
    s.message_id = "<m" + std::to_string(i) + "@clinic.example>";
    store.enqueue(incoming(s), kNow + i);
  }
  auto due = store.due_outbox(kNow + 10, 2);
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].case_ref, "CD-000001");
  EXPECT_EQ(due[1].case_ref, "CD-000002");
  EXPECT_EQ(store.due_outbox(kNow + 2).size(), 2u);
}

TEST(CaseStore, GetCaseByRefIsCaseInsensitiveAndById) {
  Store store(memory());
  EnqueueResult r = store.enqueue(incoming(MailSpec{}), kNow);
  auto by_lower = store.get_case("cd-000001");
  ASSERT_TRUE(by_lower);
  EXPECT_EQ(by_lower->summary.ref, "CD-000001");
  auto by_id = store.get_case(r.case_id);
  ASSERT_TRUE(by_id);
  EXPECT_EQ(by_id->summary.ref, "CD-000001");
  EXPECT_EQ(by_id->messages.size(), 1u);
  EXPECT_EQ(store.get_case("CD-000002"), std::nullopt);
  EXPECT_EQ(store.get_case("CD-1"), std::nullopt);
  EXPECT_EQ(store.get_case(""), std::nullopt);
  EXPECT_EQ(store.get_case(r.case_id + 1), std::nullopt);
}

// Intake's group commit: commits are visible at once; make_durable syncs them in one go, in or
// out of group mode, as often as asked.
TEST(CaseStore, GroupCommitsAreVisibleAndMadeDurable) {
  TempDir dir;
  StoreOptions o;
  o.path = dir.path() / "cases.db";
  Store intake(o);
  Store reader(o);
  intake.set_group_commit(true);
  EXPECT_EQ(intake.enqueue(incoming(MailSpec{}, MailSource{"INBOX", 1, 1}), kNow).outcome,
            EnqueueResult::Outcome::created);
  EXPECT_EQ(reader.count_cases(), 1);
  intake.make_durable(kNow);
  intake.make_durable(kNow + 1);
  intake.mark_moved(std::vector<MailSource>{MailSource{"INBOX", 1, 1}}, kNow + 1);
  intake.set_group_commit(false);
  intake.make_durable(kNow + 2);
  MailSpec second;
  second.message_id = "<second@clinic.example>";
  EXPECT_EQ(intake.enqueue(incoming(second), kNow + 3).outcome, EnqueueResult::Outcome::created);
  EXPECT_EQ(reader.count_cases(), 2);
  EXPECT_TRUE(reader.uid_record(MailSource{"INBOX", 1, 1})->moved);
}

TEST(CaseStore, FileBackedStoreIsSeenByASecondStore) {
  TempDir dir;
  StoreOptions o;
  o.path = dir.path() / "cases.db";
  {
    Store first(o);
    EnqueueResult r = first.enqueue(incoming(MailSpec{}, MailSource{"INBOX", 1, 5}), kNow);
    ASSERT_EQ(r.case_ref, "CD-000001");

    Store second(o);  // open while the first is still open
    EXPECT_EQ(second.schema_version(), Store::latest_schema_version());
    EXPECT_EQ(second.count_cases(), 1);
    auto d = second.get_case("CD-000001");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->summary.subject, "Modifier 50 for 64635?");
    EXPECT_EQ(second.enqueue(incoming(MailSpec{}), kNow + 1).outcome, EnqueueResult::Outcome::duplicate);
  }
  Store reopened(o);
  EXPECT_EQ(reopened.schema_version(), Store::latest_schema_version());
  EXPECT_EQ(reopened.count_cases(), 1);
  auto rec = reopened.uid_record(MailSource{"INBOX", 1, 5});
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->outcome, "case");
  EXPECT_EQ(reopened.due_outbox(kNow).size(), 1u);
  EXPECT_TRUE(has_event(*reopened.get_case("CD-000001"), "duplicate"));
  MailSpec next;
  next.message_id = "<m2@clinic.example>";
  EXPECT_EQ(reopened.enqueue(incoming(next), kNow + 2).case_ref, "CD-000002");
}

TEST(CaseStore, CustomCasePrefix) {
  Store store(memory("QA"));
  EnqueueResult r = store.enqueue(incoming(MailSpec{}), kNow);
  EXPECT_EQ(r.case_ref, "QA-000001");
  ASSERT_TRUE(store.get_case("qa-000001"));
  EXPECT_EQ(store.get_case("CD-000001"), std::nullopt);
  auto due = store.due_outbox(kNow);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].case_ref, "QA-000001");
}

// Issue 12 item 3: a From with no valid address is still a case (state new), with a null
// submitter, no ack and ack_reason "no_valid_sender"; unknown-sender and quota rules skip it.
TEST(AdversarialSender, FromWithoutValidAddressIsANewCaseWithNullSubmitterAndNoAck) {
  const auto dir = std::filesystem::temp_directory_path() / ("cd-sender-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  StoreOptions o = memory();
  o.path = dir / "casedesk.db";
  o.submitters.reject_unknown = true;  // would reject any address: there is none to reject
  {
    Store store(o);
    MailSpec spec;
    spec.from = "=?utf-8?q?Dana_Smith=0D=0ABcc:_x@y.example?= <dana@@clinic.example>";
    const auto r = store.enqueue(incoming(spec), kNow);
    EXPECT_EQ(r.outcome, EnqueueResult::Outcome::created);
    EXPECT_FALSE(r.rejected);
    const CaseDetail d = must_get(store, r.case_ref);
    EXPECT_EQ(d.summary.status, "new");
    EXPECT_EQ(d.summary.submitter_addr, "");
    EXPECT_EQ(d.summary.ack_state, AckState::suppressed);
    EXPECT_EQ(d.summary.ack_reason, std::optional<std::string>("no_valid_sender"));
    EXPECT_TRUE(store.due_outbox(kNow + 3600).empty());
    // A valid Reply-To is someone to answer, though not a submitter to count.
    MailSpec with_reply_to;
    with_reply_to.message_id = "<m2@clinic.example>";
    with_reply_to.from = "Dana <not an address>";
    with_reply_to.extra_headers = "Reply-To: dana@clinic.example\r\n";
    const auto r2 = store.enqueue(incoming(with_reply_to), kNow);
    EXPECT_EQ(must_get(store, r2.case_ref).summary.ack_state, AckState::pending);
    ASSERT_EQ(store.due_outbox(kNow + 3600).size(), 1u);
    EXPECT_EQ(store.due_outbox(kNow + 3600)[0].to_addr, "dana@clinic.example");
  }
  SQLite::Database db(o.path.string());
  EXPECT_EQ(db.execAndGet("SELECT count(*) FROM cases WHERE submitter_addr IS NULL").getInt(), 2);
  std::filesystem::remove_all(dir);
}

// The migration that lets submitter_addr be null keeps every case of an older store and its
// schema valid.
TEST(AdversarialSender, MigrationDropsTheNotNullOfSubmitterAddrInPlace) {
  const auto dir = std::filesystem::temp_directory_path() / ("cd-migr-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  StoreOptions o = memory();
  o.path = dir / "casedesk.db";
  {
    Store store(o);
    store.enqueue(incoming(MailSpec{}), kNow);
  }
  {
    // Back to the previous schema: submitter_addr NOT NULL, one migration short.
    SQLite::Database db(o.path.string(), SQLite::OPEN_READWRITE);
    db.exec("PRAGMA writable_schema=ON");
    db.exec("UPDATE sqlite_schema SET sql = replace(sql, 'submitter_addr TEXT,', 'submitter_addr TEXT NOT NULL,') "
            "WHERE type = 'table' AND name = 'cases'");
    db.exec("PRAGMA writable_schema=OFF");
    db.exec("PRAGMA user_version=" + std::to_string(Store::latest_schema_version() - 1));
  }
  {
    SQLite::Database db(o.path.string(), SQLite::OPEN_READWRITE);
    EXPECT_THROW(db.exec("UPDATE cases SET submitter_addr = NULL"), SQLite::Exception);
  }
  {
    Store store(o);
    EXPECT_EQ(store.schema_version(), Store::latest_schema_version());
    MailSpec spec;
    spec.message_id = "<m3@clinic.example>";
    spec.from = "nobody";
    const auto r = store.enqueue(incoming(spec), kNow);
    EXPECT_EQ(must_get(store, r.case_ref).summary.ack_reason, std::optional<std::string>("no_valid_sender"));
    EXPECT_EQ(must_get(store, "CD-000001").summary.submitter_addr, "anna.meier@clinic.example");
  }
  SQLite::Database db(o.path.string());
  EXPECT_EQ(db.execAndGet("PRAGMA integrity_check").getString(), "ok");
  std::filesystem::remove_all(dir);
}
