// The review workflow in the store: every transition of the table and its refusals, follow-up
// threading, submitters and quotas, search, users and sessions.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "parsers/codes.hpp"
#include "parsers/message.hpp"
#include "queue/store.hpp"

namespace casedesk::queue {
namespace {

constexpr std::int64_t kNow = 1795702500;  // 2026-11-26T14:15:00Z
constexpr std::int64_t kHour = 3600;

std::string mail_text(const std::string& from, const std::string& subject, const std::string& body,
                      const std::string& message_id, const std::string& extra = "") {
  return extra + "From: " + from + "\r\nTo: desk@desk.example\r\nSubject: " + subject +
         "\r\nDate: Thu, 26 Nov 2026 09:15:00 -0500\r\nMessage-ID: " + message_id + "\r\n\r\n" + body + "\r\n";
}

IncomingMail incoming(const std::string& raw, bool automated = false) {
  IncomingMail mail;
  mail.raw = raw;
  mail.message = parsers::parse_message(raw);
  mail.codes = parsers::extract_codes(mail.message);
  mail.automated = automated;
  if (automated) mail.suppress_ack_reason = "automated mail: test";
  return mail;
}

class Review : public ::testing::Test {
 protected:
  Review() : store(options()) {
    store.add_user(User{0, "ann", "ann@desk.example", "consultant", 0}, "hash-a", kNow);
    store.add_user(User{0, "bob", "bob@desk.example", "consultant", 0}, "hash-b", kNow);
    store.add_user(User{0, "root", "", "admin", 0}, "hash-r", kNow);
  }
  static StoreOptions options() {
    StoreOptions o;
    o.path = ":memory:";
    return o;
  }
  std::string new_case(const std::string& from = "Coder <coder@clinic.example>",
                       const std::string& body = "Can we bill 64635-50 with 64636? dx M47.816",
                       const std::string& id = "<q1@clinic.example>") {
    auto r = store.enqueue(incoming(mail_text(from, "Facet injections", body, id)), kNow);
    EXPECT_EQ(r.outcome, EnqueueResult::Outcome::created);
    return r.case_ref;
  }
  std::string status(const std::string& ref) { return store.find_case(ref, kNow)->status; }
  std::vector<std::string> kinds(const std::string& ref) {
    std::vector<std::string> out;
    for (const auto& o : store.get_case(ref)->outbox) out.push_back(o.kind);
    return out;
  }
  Store store;
};

TEST_F(Review, NewCaseHasPriorityAndDueTime) {
  const auto ref = new_case();
  const auto c = store.find_case(ref, kNow);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, "new");
  EXPECT_EQ(c->priority, "normal");
  EXPECT_EQ(c->due_at, kNow + 48 * kHour);
  EXPECT_FALSE(c->overdue);
  EXPECT_TRUE(store.find_case(ref, kNow + 49 * kHour)->overdue);
  EXPECT_FALSE(c->owner);
}

TEST_F(Review, ClaimAnswerClose) {
  const auto ref = new_case();
  store.claim(ref, "ann", kNow);
  auto c = store.find_case(ref, kNow);
  EXPECT_EQ(c->status, "in_review");
  EXPECT_EQ(c->owner, "ann");
  EXPECT_EQ(c->lease_until, kNow + 4 * kHour);
  const auto id = store.answer(ref, "ann", "Yes: report 64635-50 and 64636-50.", kNow + 60);
  EXPECT_GT(id, 0);
  EXPECT_EQ(status(ref), "answered");
  auto d = store.get_case(ref);
  ASSERT_EQ(d->outbox.size(), 2u);
  EXPECT_EQ(d->outbox[1].kind, "answer");
  EXPECT_EQ(d->outbox[1].body_text, "Yes: report 64635-50 and 64636-50.");
  EXPECT_EQ(d->outbox[1].author, "ann");
  EXPECT_EQ(d->outbox[1].to_addr, "coder@clinic.example");
  ASSERT_EQ(d->messages.size(), 2u);
  EXPECT_EQ(d->messages[1].direction, "out");
  EXPECT_EQ(d->outbox[1].message_row, d->messages[1].id);
  store.close(ref, "bob", kNow + 120);
  EXPECT_EQ(status(ref), "closed");
  // Every change is an audit event with who and from -> to.
  d = store.get_case(ref);
  std::vector<std::string> trail;
  for (const auto& e : d->events)
    if (e.to_state) trail.push_back(e.actor + ":" + e.from_state.value_or("") + ">" + *e.to_state);
  EXPECT_EQ(trail, (std::vector<std::string>{"intake:>new", "ann:new>in_review", "ann:in_review>answered",
                                             "bob:answered>closed"}));
}

TEST_F(Review, RefusesIllegalTransitions) {
  const auto ref = new_case();
  EXPECT_THROW(store.answer(ref, "ann", "x", kNow), TransitionError);   // new: not claimed
  EXPECT_THROW(store.ask(ref, "ann", "x", kNow), TransitionError);
  EXPECT_THROW(store.release(ref, "ann", kNow), TransitionError);
  EXPECT_THROW(store.close(ref, "ann", kNow), TransitionError);
  EXPECT_THROW(store.reopen(ref, "ann", kNow), TransitionError);
  store.claim(ref, "ann", kNow);
  EXPECT_THROW(store.claim(ref, "bob", kNow), TransitionError);          // ann holds the lease
  EXPECT_THROW(store.answer(ref, "bob", "x", kNow), TransitionError);    // not the owner
  EXPECT_THROW(store.release(ref, "bob", kNow), TransitionError);
  EXPECT_THROW(store.answer(ref, "ann", "  \n", kNow), TransitionError);  // empty answer
  EXPECT_THROW(store.claim(ref, "nobody", kNow), NotFound);
  EXPECT_THROW(store.claim("CD-999999", "ann", kNow), NotFound);
  store.answer(ref, "ann", "Done.", kNow);
  EXPECT_THROW(store.claim(ref, "ann", kNow), TransitionError);
  EXPECT_THROW(store.answer(ref, "ann", "again", kNow), TransitionError);
  store.close(ref, "ann", kNow);
  EXPECT_THROW(store.close(ref, "ann", kNow), TransitionError);
  EXPECT_THROW(store.reject(ref, "ann", "spam", kNow), TransitionError);  // closed is not open
  // Refusals leave no trace: state and outbox are as before.
  EXPECT_EQ(status(ref), "closed");
  EXPECT_EQ(kinds(ref), (std::vector<std::string>{"ack", "answer"}));
}

TEST_F(Review, AdminMayActOnAnyClaim) {
  const auto ref = new_case();
  store.claim(ref, "ann", kNow);
  store.answer(ref, "root", "Answered by the admin.", kNow);
  EXPECT_EQ(status(ref), "answered");
}

TEST_F(Review, ReleaseAndLeaseExpiry) {
  const auto a = new_case();
  const auto b = new_case("Other <other@clinic.example>", "Is 99213-25 ok?", "<q2@clinic.example>");
  store.claim(a, "ann", kNow);
  store.release(a, "ann", kNow + 10);
  EXPECT_EQ(status(a), "new");
  EXPECT_FALSE(store.find_case(a, kNow)->lease_until);
  store.claim(b, "ann", kNow);
  // Someone else may take over a claim whose lease ran out, even before housekeeping runs.
  EXPECT_THROW(store.claim(b, "bob", kNow + 4 * kHour - 1), TransitionError);
  store.claim(b, "bob", kNow + 4 * kHour);
  EXPECT_EQ(store.find_case(b, kNow)->owner, "bob");
  const auto h = store.housekeeping(kNow + 9 * kHour);
  EXPECT_EQ(h.leases_expired, 1);
  EXPECT_EQ(status(b), "new");
}

TEST_F(Review, AskThenFollowUpReturnsToNew) {
  const auto ref = new_case();
  store.claim(ref, "ann", kNow);
  store.ask(ref, "ann", "Which level was injected?", kNow + 60);
  EXPECT_EQ(status(ref), "waiting_on_submitter");
  const auto question_id = store.get_case(ref)->outbox.back().id;
  store.set_outbox_content(question_id, "<q-reply@desk.example>", "coder@clinic.example", "raw");
  // The submitter replies to our question (In-Reply-To names it), without our reference.
  auto r = store.enqueue(incoming(mail_text("Coder <coder@clinic.example>", "Re: Facet injections",
                                            "L4-L5 on both sides.\r\n\r\n> Which level?", "<f1@clinic.example>",
                                            "In-Reply-To: <q-reply@desk.example>\r\n")),
                         kNow + 600);
  EXPECT_EQ(r.outcome, EnqueueResult::Outcome::followup);
  EXPECT_EQ(r.case_ref, ref);
  EXPECT_EQ(r.from_status, "waiting_on_submitter");
  EXPECT_EQ(r.to_status, "new");
  const auto d = store.get_case(ref);
  EXPECT_EQ(d->summary.status, "new");
  EXPECT_EQ(d->summary.owner, "ann");  // the consultant who asked sees it under --mine
  ASSERT_EQ(d->messages.size(), 3u);
  EXPECT_EQ(d->messages[2].body_text, "L4-L5 on both sides.");  // the reply text, quote removed
  EXPECT_EQ(kinds(ref), (std::vector<std::string>{"ack", "question", "followup_ack"}));
  EXPECT_EQ(store.count_cases(), 1);
  // The message row of the question got the Message-ID (threading by References works on it).
  EXPECT_EQ(d->messages[1].message_id, "<q-reply@desk.example>");
}

TEST_F(Review, FollowUpBySubjectReferenceReopensAnsweredAndClosed) {
  const auto ref = new_case();
  store.claim(ref, "ann", kNow);
  store.answer(ref, "ann", "Yes.", kNow);
  auto r = store.enqueue(incoming(mail_text("coder@clinic.example", "Re: Facet injections [" + ref + "]",
                                            "One more question.", "<f2@clinic.example>")),
                         kNow + 60);
  EXPECT_EQ(r.outcome, EnqueueResult::Outcome::followup);
  EXPECT_EQ(status(ref), "new");
  store.claim(ref, "bob", kNow + 120);
  store.answer(ref, "bob", "Answered again.", kNow + 180);
  store.close(ref, "bob", kNow + 240);
  r = store.enqueue(incoming(mail_text("coder@clinic.example", "Re: Facet injections [" + ref + "]", "Thanks, but...",
                                       "<f3@clinic.example>")),
                    kNow + 300);
  EXPECT_EQ(r.from_status, "closed");
  EXPECT_EQ(status(ref), "new");
}

TEST_F(Review, StrangerWithOurReferenceGetsANewCase) {
  const auto ref = new_case();
  auto r = store.enqueue(incoming(mail_text("someone@else.example", "Re: Facet injections [" + ref + "]",
                                            "Hijack attempt", "<s1@else.example>")),
                         kNow);
  EXPECT_EQ(r.outcome, EnqueueResult::Outcome::created);
  EXPECT_NE(r.case_ref, ref);
}

TEST_F(Review, AutomatedFollowUpIsANoteAndDoesNotMoveTheCase) {
  const auto ref = new_case();
  store.claim(ref, "ann", kNow);
  store.ask(ref, "ann", "Which level?", kNow);
  auto r = store.enqueue(incoming(mail_text("coder@clinic.example", "Out of office: Re: Facet injections [" + ref + "]",
                                            "I am away until Monday.", "<ooo@clinic.example>"),
                                  true),
                         kNow + 60);
  EXPECT_EQ(r.outcome, EnqueueResult::Outcome::note);
  EXPECT_EQ(status(ref), "waiting_on_submitter");
  const auto d = store.get_case(ref);
  ASSERT_EQ(d->notes.size(), 1u);
  EXPECT_EQ(d->notes[0].author, "intake");
  EXPECT_EQ(kinds(ref), (std::vector<std::string>{"ack", "question"}));  // no reply to an auto-reply
}

TEST_F(Review, RejectWithReasonAndReopen) {
  const auto ref = new_case();
  store.reject(ref, "ann", "Out of scope: this is a payer policy question.", kNow);
  EXPECT_EQ(status(ref), "rejected");
  const auto d = store.get_case(ref);
  EXPECT_EQ(d->outbox.back().kind, "rejected");
  EXPECT_EQ(d->outbox.back().body_text, "Out of scope: this is a payer policy question.");
  EXPECT_THROW(store.reopen(ref, "ann", kNow), TransitionError);
  EXPECT_THROW(store.reject(ref, "ann", "", kNow), TransitionError);
  const auto other = new_case("x@clinic.example", "Is 99213-25 ok?", "<q9@clinic.example>");
  EXPECT_THROW(store.reject(other, "ann", "  ", kNow), TransitionError);
}

TEST_F(Review, ReopenAnsweredAndAutoClose) {
  const auto a = new_case();
  store.claim(a, "ann", kNow);
  store.answer(a, "ann", "Yes.", kNow);
  store.reopen(a, "bob", kNow + 10);
  EXPECT_EQ(status(a), "new");
  store.claim(a, "ann", kNow + 20);
  store.answer(a, "ann", "Yes, really.", kNow + 30);
  EXPECT_EQ(store.housekeeping(kNow + 13 * 24 * kHour).auto_closed, 0);
  EXPECT_EQ(store.housekeeping(kNow + 14 * 24 * kHour + 30).auto_closed, 1);
  EXPECT_EQ(status(a), "closed");
}

TEST_F(Review, AssignAndPriority) {
  const auto ref = new_case();
  store.assign(ref, "ann", "bob", kNow);
  auto c = store.find_case(ref, kNow);
  EXPECT_EQ(c->status, "in_review");
  EXPECT_EQ(c->owner, "bob");
  EXPECT_THROW(store.assign(ref, "ann", "ann", kNow), TransitionError);  // bob's claim, ann is no admin
  store.assign(ref, "bob", "ann", kNow);
  EXPECT_EQ(store.find_case(ref, kNow)->owner, "ann");
  store.set_priority(ref, "ann", Priority::urgent, kNow + 60);
  c = store.find_case(ref, kNow);
  EXPECT_EQ(c->priority, "urgent");
  EXPECT_EQ(c->due_at, kNow + 4 * kHour);
  EXPECT_THROW(store.assign(ref, "ann", "ghost", kNow), NotFound);
}

TEST_F(Review, ListFiltersAndOverdueFirst) {
  const auto a = new_case("a@clinic.example", "64635?", "<a@x>");
  const auto b = new_case("b@clinic.example", "99213?", "<b@x>");
  const auto c = new_case("c@clinic.example", "J1885?", "<c@x>");
  store.set_priority(b, "ann", Priority::urgent, kNow);  // due kNow + 4h
  store.claim(c, "ann", kNow);
  const std::int64_t later = kNow + 5 * kHour;           // b is overdue now
  auto all = store.list_cases(CaseFilter{}, later);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].ref, b);
  EXPECT_TRUE(all[0].overdue);
  CaseFilter mine;
  mine.owner = "ann";
  EXPECT_EQ(store.list_cases(mine, later).size(), 1u);
  CaseFilter overdue;
  overdue.overdue_only = true;
  EXPECT_EQ(store.count_cases(overdue, later), 1);
  CaseFilter in_review;
  in_review.status = "in_review";
  ASSERT_EQ(store.list_cases(in_review, later).size(), 1u);
  EXPECT_EQ(store.list_cases(in_review, later)[0].ref, c);
  CaseFilter page;
  page.limit = 1;
  page.offset = 1;
  page.sort = "received";
  EXPECT_EQ(store.list_cases(page, later).size(), 1u);
  (void)a;
}

// The listing planner (index-range merges per status, priority and overdue group) against the
// listing's definition applied in plain C++ to every case, for every filter, sort and page.
TEST_F(Review, ListingMatchesItsDefinitionForEveryFilterSortAndPage) {
  const char* statuses_cycle[] = {"new", "in_review", "waiting_on_submitter", "answered", "closed", "rejected"};
  const Priority prios[] = {Priority::low, Priority::normal, Priority::high, Priority::urgent};
  const char* owners[] = {"ann", "bob"};
  for (int i = 0; i < 90; ++i) {
    const std::int64_t at = kNow - (i % 7) * 20 * kHour - (i % 5) * 60;  // over a week, with ties
    const std::string from = "s" + std::to_string(i) + "@clinic.example";
    auto r = store.enqueue(incoming(mail_text(from, "Case " + std::to_string(i), "Bill 99213?",
                                              "<l" + std::to_string(i) + "@x>")),
                           at);
    ASSERT_EQ(r.outcome, EnqueueResult::Outcome::created);
    const std::string ref = r.case_ref;
    const std::string target = statuses_cycle[(i * 7) % 6];
    const char* owner = owners[i % 2];
    if (i % 3) store.set_priority(ref, owner, prios[(i / 3) % 4], at + 10);
    if (target == "new") continue;
    if (target == "rejected") {
      store.reject(ref, owner, "out of scope", at + 20);
      continue;
    }
    store.claim(ref, owner, at + 20);
    if (target == "in_review") continue;
    if (target == "waiting_on_submitter") {
      store.ask(ref, owner, "Which level?", at + 30);
      continue;
    }
    store.answer(ref, owner, "Yes.", at + 30);
    if (target == "closed") store.close(ref, owner, at + 40);
  }
  const std::int64_t now = kNow + 20 * kHour;  // some due times passed, some not
  const auto everything = store.list_cases();
  ASSERT_EQ(everything.size(), 90u);

  auto prank = [](const std::string& p) { return p == "urgent" ? 0 : p == "high" ? 1 : p == "normal" ? 2 : 3; };
  auto sla_overdue = [&](const CaseSummary& c) {
    return (c.status == "new" || c.status == "in_review") && c.due_at < now;
  };
  auto is_open_status = [](const std::string& s) { return s != "closed" && s != "rejected"; };
  int overdue_seen = 0;
  for (const auto& c : everything) overdue_seen += sla_overdue(c);
  ASSERT_GT(overdue_seen, 5);
  ASSERT_LT(overdue_seen, 40);

  std::vector<std::optional<std::string>> status_choices{std::nullopt};
  for (auto s : all_statuses()) status_choices.emplace_back(std::string(s));
  int checked = 0;
  for (const auto& status : status_choices)
    for (bool open_only : {false, true})
      for (bool overdue_only : {false, true})
        for (const std::optional<std::string>& owner : {std::optional<std::string>{}, std::optional<std::string>{"bob"}})
          for (const std::optional<std::string>& priority :
               {std::optional<std::string>{}, std::optional<std::string>{"urgent"}})
            for (const std::string sort : {"due", "priority", "received", "updated"}) {
              CaseFilter f;
              f.status = status;
              f.open_only = open_only;
              f.overdue_only = overdue_only;
              f.owner = owner;
              f.priority = priority;
              f.sort = sort;
              std::vector<CaseSummary> want;
              for (const auto& c : everything) {
                if (status && c.status != *status) continue;
                if (open_only && !is_open_status(c.status)) continue;
                if (overdue_only && !sla_overdue(c)) continue;
                if (owner && c.owner != owner) continue;
                if (priority && c.priority != *priority) continue;
                want.push_back(c);
              }
              std::stable_sort(want.begin(), want.end(), [&](const CaseSummary& a, const CaseSummary& b) {
                if (sort == "received") return std::tie(b.created_at, b.id) < std::tie(a.created_at, a.id);
                if (sort == "updated") return std::tie(b.updated_at, b.id) < std::tie(a.updated_at, a.id);
                const int pa = sort == "priority" ? prank(a.priority) : 0;
                const int pb = sort == "priority" ? prank(b.priority) : 0;
                const int oa = sla_overdue(a) ? 0 : 1;
                const int ob = sla_overdue(b) ? 0 : 1;
                return std::tie(pa, oa, a.due_at, a.id) < std::tie(pb, ob, b.due_at, b.id);
              });
              SCOPED_TRACE("status=" + status.value_or("-") + " open=" + std::to_string(open_only) +
                           " overdue=" + std::to_string(overdue_only) + " owner=" + owner.value_or("-") +
                           " priority=" + priority.value_or("-") + " sort=" + sort);
              ASSERT_EQ(store.count_cases(f, now), static_cast<std::int64_t>(want.size()));
              for (int limit : {7, 100})
                for (int offset = 0; offset <= static_cast<int>(want.size()) + 3; offset += limit == 7 ? 5 : 50) {
                  f.limit = limit;
                  f.offset = offset;
                  std::vector<std::string> got_refs, want_refs;
                  for (const auto& c : store.list_cases(f, now)) got_refs.push_back(c.ref);
                  for (int k = offset; k < std::min<int>(offset + limit, want.size()); ++k)
                    want_refs.push_back(want[k].ref);
                  ASSERT_EQ(got_refs, want_refs) << "limit " << limit << " offset " << offset;
                  ++checked;
                }
            }
  EXPECT_GT(checked, 1000);
  // Codes come along with a page, like with one case.
  CaseFilter first;
  first.limit = 3;
  for (const auto& c : store.list_cases(first, now)) {
    ASSERT_EQ(c.codes.size(), 1u) << c.ref;
    EXPECT_EQ(c.codes[0].code, "99213");
    EXPECT_FALSE(c.codes[0].mentions.empty());
  }
  // Brief: the same cases and codes, without what a listing does not show.
  first.brief = true;
  const auto brief = store.list_cases(first, now);
  first.brief = false;
  const auto full = store.list_cases(first, now);
  ASSERT_EQ(brief.size(), full.size());
  for (std::size_t i = 0; i < brief.size(); ++i) {
    EXPECT_EQ(brief[i].ref, full[i].ref);
    ASSERT_EQ(brief[i].codes.size(), full[i].codes.size());
    EXPECT_EQ(brief[i].codes[0].code, full[i].codes[0].code);
    EXPECT_EQ(brief[i].codes[0].modifiers, full[i].codes[0].modifiers);
    EXPECT_EQ(brief[i].codes[0].status, full[i].codes[0].status);
    EXPECT_TRUE(brief[i].codes[0].mentions.empty());
    EXPECT_TRUE(brief[i].suggestions.empty());
  }
}

// Counts kept by triggers follow every change of status, including deletion by the retention purge.
TEST_F(Review, StatusCountsFollowTransitions) {
  const auto a = new_case("a@clinic.example", "64635?", "<a@x>");
  const auto b = new_case("b@clinic.example", "99213?", "<b@x>");
  auto count = [&](const char* status) {
    CaseFilter f;
    f.status = status;
    return store.count_cases(f, kNow);
  };
  EXPECT_EQ(count("new"), 2);
  store.claim(a, "ann", kNow);
  EXPECT_EQ(count("new"), 1);
  EXPECT_EQ(count("in_review"), 1);
  store.answer(a, "ann", "Yes.", kNow);
  store.reject(b, "ann", "spam", kNow);
  EXPECT_EQ(count("new"), 0);
  EXPECT_EQ(count("answered"), 1);
  EXPECT_EQ(count("rejected"), 1);
  CaseFilter open;
  open.open_only = true;
  EXPECT_EQ(store.count_cases(open, kNow), 1);
  EXPECT_EQ(store.count_cases(CaseFilter{}, kNow), 2);
}

// A store made before migration 6 gets its per-status counts from the cases already there.
TEST(ReviewMigration, CountsOfAnOlderStoreAreBuiltFromItsCases) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("casedesk-migration6-" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(path);
  StoreOptions o;
  o.path = path;
  {
    Store store(o);
    store.add_user(User{0, "ann", "ann@desk.example", "consultant", 0}, "hash-a", kNow);
    for (int i = 0; i < 3; ++i) {
      auto r = store.enqueue(incoming(mail_text("s" + std::to_string(i) + "@clinic.example", "Case", "99213?",
                                                "<m" + std::to_string(i) + "@x>")),
                             kNow);
      if (i == 0) store.claim(r.case_ref, "ann", kNow);
    }
  }
  {
    // Back to schema 5 as an older casedesk left it.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    const char* downgrade =
        "DROP TRIGGER case_counts_insert; DROP TRIGGER case_counts_delete; DROP TRIGGER case_counts_update;"
        "DROP TRIGGER due_hours_insert; DROP TRIGGER due_hours_delete; DROP TRIGGER due_hours_update_old;"
        "DROP TRIGGER due_hours_update_new; DROP TABLE due_hours;"
        "DROP TABLE case_counts; DROP TABLE sync_marks; DROP INDEX cases_status_priority_due; DROP INDEX cases_status_created;"
        "DROP INDEX cases_status_updated; DROP INDEX cases_owner_status_due; DROP INDEX cases_owner_status_created;"
        "DROP INDEX cases_owner_status_updated; CREATE INDEX cases_owner ON cases(owner, status);"
        "DROP TABLE attachment_chunks; DROP TABLE attachments; DROP TABLE message_content;"
        "PRAGMA user_version = 5;";
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, downgrade, nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  }
  {
    Store store(o);
    EXPECT_EQ(store.schema_version(), Store::latest_schema_version());
    CaseFilter f;
    f.status = "new";
    EXPECT_EQ(store.count_cases(f, kNow), 2);
    f.status = "in_review";
    EXPECT_EQ(store.count_cases(f, kNow), 1);
    EXPECT_EQ(store.count_cases(CaseFilter{}, kNow), 3);
  }
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::remove(path.string() + "-shm");
}

TEST_F(Review, SearchBySubjectTextAndCode) {
  const auto a = new_case("a@clinic.example", "Lumbar facet radiofrequency ablation 64635, dx M47.816", "<a@x>");
  const auto b = new_case("b@clinic.example", "Established patient visit with 99213-25 and a biopsy", "<b@x>");
  auto hits = store.search_cases("64635", kNow);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].ref, a);
  hits = store.search_cases("biops", kNow);  // prefix match
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].ref, b);
  EXPECT_TRUE(store.search_cases("\"unbalanced AND (", kNow).empty());  // never an FTS syntax error
  EXPECT_TRUE(store.search_cases("", kNow).empty());
  hits = store.search_cases("M47.816", kNow);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].ref, a);
}

TEST_F(Review, UnknownSendersRejectedWhenConfigured) {
  StoreOptions o = options();
  o.submitters.reject_unknown = true;
  Store s(o);
  s.add_submitter("@clinic.example", "Clinic", std::nullopt, kNow);
  auto known = s.enqueue(incoming(mail_text("coder@Clinic.example", "q", "64635?", "<k@x>")), kNow);
  EXPECT_FALSE(known.rejected);
  auto unknown = s.enqueue(incoming(mail_text("stranger@else.example", "q", "64635?", "<u@x>")), kNow);
  EXPECT_EQ(unknown.rejected, "unknown_sender");
  const auto d = s.get_case(unknown.case_ref);
  EXPECT_EQ(d->summary.status, "rejected");  // stored all the same: nothing is lost
  ASSERT_EQ(d->outbox.size(), 1u);
  EXPECT_EQ(d->outbox[0].kind, "unknown_sender");
}

TEST_F(Review, QuotasPerMonth) {
  StoreOptions o = options();
  o.submitters.guest_quota = 2;
  Store s(o);
  s.add_submitter("vip@clinic.example", "VIP", 0, kNow);  // 0 = unlimited
  s.add_submitter("@small.example", "Small practice", 1, kNow);
  for (int i = 0; i < 3; ++i) {
    auto r = s.enqueue(incoming(mail_text("guest@else.example", "q", "64635?", "<g" + std::to_string(i) + "@x>")),
                       kNow);
    EXPECT_EQ(r.rejected.has_value(), i == 2) << i;
    auto v = s.enqueue(incoming(mail_text("vip@clinic.example", "q", "64635?", "<v" + std::to_string(i) + "@x>")),
                       kNow);
    EXPECT_FALSE(v.rejected) << i;
  }
  auto first = s.enqueue(incoming(mail_text("a@small.example", "q", "64635?", "<s1@x>")), kNow);
  auto second = s.enqueue(incoming(mail_text("b@small.example", "q", "64635?", "<s2@x>")), kNow);
  EXPECT_FALSE(first.rejected);
  EXPECT_EQ(second.rejected, "over_quota");  // the domain's quota is shared
  EXPECT_EQ(s.get_case(second.case_ref)->outbox[0].kind, "over_quota");
  // A new month starts a new count (kNow is in November; December 1st).
  auto december = s.enqueue(incoming(mail_text("guest@else.example", "q", "64635?", "<g9@x>")), 1796083200 + 60);
  EXPECT_FALSE(december.rejected);
  const auto list = s.list_submitters(kNow);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].pattern, "@small.example");
  EXPECT_EQ(list[0].cases_this_month, 1);
  EXPECT_TRUE(s.remove_submitter("@SMALL.example"));
  EXPECT_FALSE(s.remove_submitter("@small.example"));
  EXPECT_THROW(s.add_submitter("not an address", "", std::nullopt, kNow), StoreError);
}

TEST_F(Review, UsersAndSessions) {
  EXPECT_THROW(store.add_user(User{0, "ann", "a@x", "consultant", 0}, "h", kNow), StoreError);
  EXPECT_THROW(store.add_user(User{0, "eve", "e@x", "superuser", 0}, "h", kNow), StoreError);
  ASSERT_EQ(store.list_users().size(), 3u);
  EXPECT_EQ(store.password_hash("ann"), "hash-a");
  store.create_session("sha-1", "ann", "csrf-1", kNow, kNow + kHour);
  auto s = store.find_session("sha-1", kNow + 10);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->user, "ann");
  EXPECT_EQ(s->csrf_token, "csrf-1");
  EXPECT_FALSE(store.find_session("sha-1", kNow + kHour));  // expired
  store.touch_session("sha-1", kNow + 2 * kHour);
  EXPECT_TRUE(store.find_session("sha-1", kNow + kHour));
  store.set_password_hash("ann", "hash-a2", kNow);  // ends her sessions
  EXPECT_FALSE(store.find_session("sha-1", kNow + 10));
  EXPECT_THROW(store.set_password_hash("ghost", "h", kNow), NotFound);
  store.create_session("sha-2", "bob", "csrf-2", kNow, kNow + kHour);
  store.delete_session("sha-2");
  EXPECT_FALSE(store.find_session("sha-2", kNow));
}

TEST_F(Review, NotesAndDigest) {
  const auto ref = new_case();
  store.add_note(ref, "ann", "Checked the LCD; bilateral is fine.", kNow);
  EXPECT_THROW(store.add_note(ref, "ann", " ", kNow), TransitionError);
  const auto d = store.get_case(ref);
  ASSERT_EQ(d->notes.size(), 1u);
  EXPECT_EQ(d->notes[0].author, "ann");
  EXPECT_EQ(status(ref), "new");
  EXPECT_EQ(store.queue_digests(kNow, kHour), 2);  // ann and bob have email addresses
  EXPECT_EQ(store.queue_digests(kNow + 60, kHour), 0);  // not again within the hour
  EXPECT_EQ(store.queue_digests(kNow + kHour, kHour), 2);
}

}  // namespace
}  // namespace casedesk::queue
