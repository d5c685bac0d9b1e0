// The review workflow in the store: every transition of the table and its refusals, follow-up
// threading, submitters and quotas, search, users and sessions.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
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
