// Replies written by consultants (answer, question, rejected) and automatic follow-up replies:
// threading to the submitter's latest message, recipient, subject reference, RFC 3834 headers.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "daemon/replies.hpp"
#include "parsers/codes.hpp"
#include "parsers/message.hpp"
#include "queue/store.hpp"
#include "templates/renderer.hpp"

namespace casedesk::daemon {
namespace {

constexpr std::int64_t kNow = 1795702500;

DeskIdentity desk() { return DeskIdentity{"Coding Desk", parsers::Address{"desk@desk.example", "Coding Desk"}}; }

queue::IncomingMail incoming(const std::string& raw) {
  queue::IncomingMail mail;
  mail.raw = raw;
  mail.message = parsers::parse_message(raw);
  mail.codes = parsers::extract_codes(mail.message);
  return mail;
}

std::string header(const std::string& raw, const std::string& name) {
  const auto m = parsers::parse_message(raw);
  for (const auto& [n, v] : m.headers)
    if (n == name) return v;
  return {};
}

class CaseReply : public ::testing::Test {
 protected:
  CaseReply() : store(queue::StoreOptions{":memory:", "CD"}), renderer(std::filesystem::path{}) {
    store.add_user(queue::User{0, "ann", "ann@desk.example", "consultant", 0}, "h", kNow);
    ref = store
              .enqueue(incoming("From: Anna Meier <anna@clinic.example>\r\nTo: desk@desk.example\r\n"
                                "Subject: Modifier 50 for 64635?\r\nDate: Thu, 26 Nov 2026 09:15:00 -0500\r\n"
                                "Message-ID: <m1@clinic.example>\r\n\r\nCan we bill 64635-50? dx M47.816\r\n"),
                       kNow)
              .case_ref;
    // Her follow-up, with a Reply-To: replies go there and thread to it.
    store.enqueue(incoming("From: Anna Meier <anna@clinic.example>\r\nReply-To: Billing <billing@clinic.example>\r\n"
                           "To: desk@desk.example\r\nSubject: Re: Modifier 50 for 64635? [" +
                           ref +
                           "]\r\nDate: Thu, 26 Nov 2026 10:15:00 -0500\r\nMessage-ID: <m2@clinic.example>\r\n"
                           "In-Reply-To: <m1@clinic.example>\r\nReferences: <m1@clinic.example>\r\n\r\n"
                           "It was both sides.\r\n"),
                  kNow + 60);
  }
  queue::Store store;
  templates::Renderer renderer;
  std::string ref;
};

TEST_F(CaseReply, AnswerIsThreadedToTheLatestMessageAndCarriesTheText) {
  store.claim(ref, "ann", kNow);
  store.answer(ref, "ann", "Report 64635-50 once.\nDo not add RT/LT.", kNow);
  const auto c = store.get_case(ref);
  const auto& item = c->outbox.back();
  ASSERT_EQ(item.kind, "answer");
  const auto reply = compose_case_reply(*c, item, renderer, desk(), kNow);
  EXPECT_EQ(reply.to_addr, "billing@clinic.example");
  const auto m = parsers::parse_message(reply.raw);
  EXPECT_EQ(m.in_reply_to, "<m2@clinic.example>");
  ASSERT_EQ(m.references.size(), 2u);
  EXPECT_EQ(m.references[0], "<m1@clinic.example>");
  EXPECT_EQ(m.references[1], "<m2@clinic.example>");
  EXPECT_NE(m.subject->find("[" + ref + "]"), std::string::npos);
  EXPECT_EQ(m.subject->rfind("Re: ", 0), 0u);
  EXPECT_NE(m.body_text.find("Do not add RT/LT."), std::string::npos);
  EXPECT_NE(m.body_text.find("ann"), std::string::npos);     // the consultant's name
  EXPECT_NE(m.body_text.find("64635"), std::string::npos);   // the case's codes
  EXPECT_EQ(header(reply.raw, "Auto-Submitted"), "");        // a person wrote it
  EXPECT_EQ(header(reply.raw, "X-Casedesk-Case"), ref);
}

TEST_F(CaseReply, AnswerHtmlIsEscaped) {
  store.claim(ref, "ann", kNow);
  store.answer(ref, "ann", "Use <b>50</b> & not RT/LT", kNow);
  const auto c = store.get_case(ref);
  const auto reply = compose_case_reply(*c, c->outbox.back(), renderer, desk(), kNow);
  // The text part carries it literally; the HTML part only escaped.
  const auto html = reply.raw.find("Content-Type: text/html");
  ASSERT_NE(html, std::string::npos);
  EXPECT_EQ(reply.raw.find("<b>50</b>", html), std::string::npos);
  EXPECT_NE(reply.raw.find("&lt;b&gt;50&lt;/b&gt; &amp; not", html), std::string::npos);
}

TEST_F(CaseReply, AutomaticKindsCarryLoopProtection) {
  const auto c = store.get_case(ref);
  const queue::OutboxItem* followup = nullptr;
  for (const auto& o : c->outbox)
    if (o.kind == "followup_ack") followup = &o;
  ASSERT_NE(followup, nullptr);
  const auto reply = compose_case_reply(*c, *followup, renderer, desk(), kNow);
  EXPECT_EQ(header(reply.raw, "Auto-Submitted"), "auto-replied");
  EXPECT_EQ(header(reply.raw, "X-Auto-Response-Suppress"), "All");
  for (const char* kind : {"question", "rejected", "over_quota", "unknown_sender"}) {
    queue::OutboxItem item;
    item.kind = kind;
    item.body_text = "Which level?";
    item.author = "ann";
    EXPECT_NO_THROW(compose_case_reply(*c, item, renderer, desk(), kNow)) << kind;
  }
  queue::OutboxItem bogus;
  bogus.kind = "bogus";
  EXPECT_THROW(compose_case_reply(*c, bogus, renderer, desk(), kNow), std::runtime_error);
}

TEST_F(CaseReply, DigestGoesToTheConsultant) {
  ASSERT_EQ(store.queue_digests(kNow, 3600), 1);
  const auto items = store.due_outbox(kNow);
  const queue::OutboxItem* digest = nullptr;
  for (const auto& o : items)
    if (o.kind == "digest") digest = &o;
  ASSERT_NE(digest, nullptr);
  const auto reply = compose_digest(*digest, renderer, desk(), kNow);
  EXPECT_EQ(reply.to_addr, "ann@desk.example");
  EXPECT_NE(reply.raw.find(ref), std::string::npos);
  EXPECT_EQ(header(reply.raw, "Auto-Submitted"), "auto-generated");
}

}  // namespace
}  // namespace casedesk::daemon
