#include "daemon/replies.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "daemon/intake.hpp"
#include "daemon/outbox.hpp"
#include "parsers/codes.hpp"
#include "parsers/compose.hpp"
#include "parsers/message.hpp"
#include "queue/store.hpp"
#include "templates/renderer.hpp"

using casedesk::daemon::ack_suppression_reason;
using casedesk::daemon::compose_ack;
using casedesk::daemon::ComposedReply;
using casedesk::daemon::DeskIdentity;
using casedesk::daemon::reply_subject;
using casedesk::daemon::retry_delay_seconds;
namespace parsers = casedesk::parsers;
namespace queue = casedesk::queue;
namespace templates = casedesk::templates;

namespace {

constexpr std::int64_t kNow = 1795702500;

DeskIdentity desk() { return DeskIdentity{"Coding Desk", parsers::Address{"desk@desk.example", "Coding Desk"}}; }

// Enqueues raw into a fresh in-memory store and returns the case as get_case() reads it back.
queue::CaseDetail case_from(const std::string& raw) {
  queue::Store store(queue::StoreOptions{":memory:", "CD", std::chrono::milliseconds(1000)});
  queue::IncomingMail mail;
  mail.raw = raw;
  mail.message = parsers::parse_message(raw);
  mail.codes = parsers::extract_codes(mail.message);
  auto r = store.enqueue(mail, kNow);
  auto d = store.get_case(r.case_ref);
  if (!d) throw std::runtime_error("case not found");
  return *d;
}

const std::string kPlainMail =
    "From: Anna Meier <anna.meier@clinic.example>\r\n"
    "To: desk@desk.example\r\n"
    "Subject: Modifier 50 for 64635?\r\n"
    "Date: Thu, 26 Nov 2026 09:15:00 -0500\r\n"
    "Message-ID: <m1@clinic.example>\r\n"
    "References: <r0@clinic.example>\r\n"
    "\r\n"
    "Can we bill 64635-50 x1?\r\n";

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Physical header lines of raw RFC 5322 bytes.
std::vector<std::string> header_lines(const std::string& raw) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < raw.size()) {
    std::size_t end = raw.find("\r\n", pos);
    if (end == std::string::npos || end == pos) break;
    out.push_back(raw.substr(pos, end - pos));
    pos = end + 2;
  }
  return out;
}

bool has_line(const std::string& raw, const std::string& line) {
  auto lines = header_lines(raw);
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

queue::StoredMessage stored_in(std::optional<std::string> from, std::optional<std::string> message_id) {
  queue::StoredMessage m;
  m.direction = "in";
  m.from_addr = std::move(from);
  m.from_name = "";
  m.message_id = std::move(message_id);
  return m;
}

queue::CaseDetail hand_case(std::vector<queue::StoredMessage> messages) {
  queue::CaseDetail d;
  d.summary.id = 7;
  d.summary.ref = "CD-000007";
  d.summary.status = "new";
  d.summary.subject = "Question";
  d.summary.submitter_addr = "anna@clinic.example";
  d.messages = std::move(messages);
  return d;
}

parsers::Message normal_message() {
  parsers::Message m;
  m.from_addr = "anna.meier@clinic.example";
  m.from_name = "Anna Meier";
  m.subject = "Question";
  return m;
}

}  // namespace

TEST(ReplySubject, AddsReAndRef) {
  EXPECT_EQ(reply_subject("Modifier 50 for 64635?", "CD-000001"), "Re: Modifier 50 for 64635? [CD-000001]");
}

TEST(ReplySubject, DoesNotDoubleRe) {
  EXPECT_EQ(reply_subject("Re: Modifier 50", "CD-000001"), "Re: Modifier 50 [CD-000001]");
  EXPECT_EQ(reply_subject("RE: Modifier 50", "CD-000001"), "RE: Modifier 50 [CD-000001]");
  EXPECT_EQ(reply_subject("re: Modifier 50", "CD-000001"), "re: Modifier 50 [CD-000001]");
}

TEST(ReplySubject, DoesNotDoubleRef) {
  EXPECT_EQ(reply_subject("Re: Modifier 50 [CD-000001]", "CD-000001"), "Re: Modifier 50 [CD-000001]");
  EXPECT_EQ(reply_subject("Modifier 50 [CD-000001]", "CD-000001"), "Re: Modifier 50 [CD-000001]");
  // Another case's ref is not this one.
  EXPECT_EQ(reply_subject("Re: x [CD-000002]", "CD-000001"), "Re: x [CD-000002] [CD-000001]");
}

TEST(ReplySubject, EmptySubject) { EXPECT_EQ(reply_subject("", "CD-000001"), "Re: Your case [CD-000001]"); }

TEST(ReplySubject, ReplyPrefixNeedsColon) {
  EXPECT_EQ(reply_subject("Request for 99213", "CD-000001"), "Re: Request for 99213 [CD-000001]");
}

TEST(ComposeAck, ThreadsToFirstIncomingMessage) {
  const queue::CaseDetail c = case_from(kPlainMail);
  ASSERT_EQ(c.summary.ref, "CD-000001");
  templates::Renderer renderer;
  ComposedReply reply = compose_ack(c, renderer, desk(), kNow + 5);

  EXPECT_EQ(reply.to_addr, "anna.meier@clinic.example");
  EXPECT_TRUE(parsers::is_valid_msg_id(reply.message_id)) << reply.message_id;
  EXPECT_NE(reply.message_id.find("@desk.example>"), std::string::npos) << reply.message_id;

  parsers::Message m = parsers::parse_message(reply.raw);
  EXPECT_EQ(m.message_id, reply.message_id);
  EXPECT_EQ(m.in_reply_to, "<m1@clinic.example>");
  EXPECT_EQ(m.references, (std::vector<std::string>{"<r0@clinic.example>", "<m1@clinic.example>"}));
  EXPECT_EQ(m.subject, "Re: Modifier 50 for 64635? [CD-000001]");
  EXPECT_EQ(m.from_addr, "desk@desk.example");
  ASSERT_EQ(m.to.size(), 1u);
  EXPECT_EQ(m.to[0].addr, "anna.meier@clinic.example");
  EXPECT_EQ(m.to[0].name, "Anna Meier");
  EXPECT_EQ(m.date_epoch, kNow + 5);
  EXPECT_TRUE(has_line(reply.raw, "Auto-Submitted: auto-replied")) << reply.raw;
  EXPECT_TRUE(has_line(reply.raw, "X-Casedesk-Case: CD-000001")) << reply.raw;
  EXPECT_NE(m.body_text.find("CD-000001"), std::string::npos) << m.body_text;
  EXPECT_NE(m.body_text.find("64635"), std::string::npos) << m.body_text;
  EXPECT_NE(reply.raw.find("multipart/alternative"), std::string::npos);
}

TEST(ComposeAck, SendsToReplyToWhenPresent) {
  std::string raw = kPlainMail;
  raw.insert(0, "Reply-To: Anna Replies <anna+replies@clinic.example>\r\n");
  const queue::CaseDetail c = case_from(raw);
  ASSERT_FALSE(c.messages.empty());
  ASSERT_TRUE(c.messages[0].reply_to);
  ComposedReply reply = compose_ack(c, templates::Renderer{}, desk(), kNow);
  EXPECT_EQ(reply.to_addr, "anna+replies@clinic.example");
  parsers::Message m = parsers::parse_message(reply.raw);
  ASSERT_EQ(m.to.size(), 1u);
  EXPECT_EQ(m.to[0].addr, "anna+replies@clinic.example");
  EXPECT_EQ(m.to[0].name, "Anna Replies");
}

TEST(ComposeAck, UnusableReplyToFallsBackToFrom) {
  auto in = stored_in("anna@clinic.example", "<m1@clinic.example>");
  in.reply_to = parsers::Address{"not an address", ""};
  ComposedReply reply = compose_ack(hand_case({in}), templates::Renderer{}, desk(), kNow);
  EXPECT_EQ(reply.to_addr, "anna@clinic.example");
}

TEST(ComposeAck, UsesFirstIncomingNotOutgoingOrLater) {
  auto out = stored_in("desk@desk.example", "<ack@desk.example>");
  out.direction = "out";
  auto first = stored_in("first@clinic.example", "<first@clinic.example>");
  auto later = stored_in("later@clinic.example", "<later@clinic.example>");
  ComposedReply reply = compose_ack(hand_case({out, first, later}), templates::Renderer{}, desk(), kNow);
  EXPECT_EQ(reply.to_addr, "first@clinic.example");
  parsers::Message m = parsers::parse_message(reply.raw);
  EXPECT_EQ(m.in_reply_to, "<first@clinic.example>");
  EXPECT_EQ(m.references, std::vector<std::string>{"<first@clinic.example>"});
  EXPECT_EQ(m.subject, "Re: Question [CD-000007]");
}

TEST(ComposeAck, WithoutMessageIdHasNoThreadingHeaders) {
  ComposedReply reply = compose_ack(hand_case({stored_in("anna@clinic.example", std::nullopt)}),
                                    templates::Renderer{}, desk(), kNow);
  parsers::Message m = parsers::parse_message(reply.raw);
  EXPECT_EQ(m.in_reply_to, std::nullopt);
  EXPECT_TRUE(m.references.empty());
  for (const auto& l : header_lines(reply.raw)) {
    EXPECT_NE(lower(l).rfind("in-reply-to:", 0), 0u) << l;
    EXPECT_NE(lower(l).rfind("references:", 0), 0u) << l;
  }
}

TEST(ComposeAck, ThrowsWithoutUsableRecipient) {
  templates::Renderer renderer;
  EXPECT_THROW(compose_ack(hand_case({stored_in(std::nullopt, "<m1@clinic.example>")}), renderer, desk(), kNow),
               std::runtime_error);
  EXPECT_THROW(compose_ack(hand_case({stored_in("", "<m1@clinic.example>")}), renderer, desk(), kNow),
               std::runtime_error);
  EXPECT_THROW(compose_ack(hand_case({stored_in("a@b.example\r\nBcc: x@y.example", "<m1@clinic.example>")}),
                           renderer, desk(), kNow),
               std::runtime_error);
  EXPECT_THROW(compose_ack(hand_case({}), renderer, desk(), kNow), std::runtime_error);
  auto out_only = stored_in("anna@clinic.example", "<m1@clinic.example>");
  out_only.direction = "out";
  EXPECT_THROW(compose_ack(hand_case({out_only}), renderer, desk(), kNow), std::runtime_error);
}

TEST(AckContext, CarriesCaseCodesAndNullsForAbsentValues) {
  queue::CaseDetail c = hand_case({});
  parsers::Code code;
  code.code = "64635";
  code.modifiers = {"50", "RT"};
  code.units = 2;
  c.summary.codes = {code};
  nlohmann::json j = casedesk::daemon::ack_context(c, desk());
  EXPECT_EQ(j["case_ref"], "CD-000007");
  EXPECT_EQ(j["subject"], "Question");
  EXPECT_EQ(j["desk_name"], "Coding Desk");
  EXPECT_TRUE(j["submitter_name"].is_null());
  EXPECT_EQ(j["has_codes"], true);
  ASSERT_EQ(j["codes"].size(), 1u);
  EXPECT_EQ(j["codes"][0]["modifiers_text"], "50, RT");
  EXPECT_EQ(j["codes"][0]["units"], 2);
  EXPECT_TRUE(j["codes"][0]["range_end"].is_null());
}

TEST(AckSuppression, NormalMailGetsAnAck) {
  EXPECT_EQ(ack_suppression_reason(normal_message(), {"desk@desk.example"}), std::nullopt);
}

TEST(AckSuppression, AutoSubmitted) {
  parsers::Message m = normal_message();
  m.auto_submitted = "auto-replied";
  auto reason = ack_suppression_reason(m, {});
  ASSERT_TRUE(reason);
  EXPECT_NE(reason->find("auto-replied"), std::string::npos) << *reason;
  m.auto_submitted = "auto-generated";
  EXPECT_TRUE(ack_suppression_reason(m, {}));
}

TEST(AckSuppression, AutoSubmittedNoIsNotSuppressed) {
  parsers::Message m = normal_message();
  m.auto_submitted = "no";
  EXPECT_EQ(ack_suppression_reason(m, {}), std::nullopt);
  m.auto_submitted = "No";
  EXPECT_EQ(ack_suppression_reason(m, {}), std::nullopt);
}

TEST(AckSuppression, AutomatedFlagFromParser) {
  parsers::Message m = normal_message();
  m.automated = true;
  m.automated_reason = "multipart/report";
  auto reason = ack_suppression_reason(m, {});
  ASSERT_TRUE(reason);
  EXPECT_NE(reason->find("multipart/report"), std::string::npos) << *reason;
}

TEST(AckSuppression, BulkListJunkPrecedence) {
  for (const std::string p : {"bulk", "list", "junk", "Bulk", "JUNK"}) {
    parsers::Message m = normal_message();
    m.precedence = p;
    EXPECT_TRUE(ack_suppression_reason(m, {})) << p;
  }
  parsers::Message m = normal_message();
  m.precedence = "first-class";
  EXPECT_EQ(ack_suppression_reason(m, {}), std::nullopt);
}

TEST(AckSuppression, MailerDaemonAndPostmaster) {
  for (const std::string from : {"mailer-daemon@mx.clinic.example", "MAILER-DAEMON@mx.clinic.example",
                                 "postmaster@clinic.example", "Postmaster@clinic.example"}) {
    parsers::Message m = normal_message();
    m.from_addr = from;
    EXPECT_TRUE(ack_suppression_reason(m, {})) << from;
  }
  parsers::Message m = normal_message();
  m.from_addr = "postmaster.office@clinic.example";
  EXPECT_EQ(ack_suppression_reason(m, {}), std::nullopt);
}

TEST(AckSuppression, OwnAddress) {
  parsers::Message m = normal_message();
  m.from_addr = "Desk@Desk.Example";
  EXPECT_TRUE(ack_suppression_reason(m, {"other@desk.example", "desk@desk.example"}));
  parsers::Message r = normal_message();
  r.reply_to = parsers::Address{"desk@desk.example", "Desk"};
  EXPECT_TRUE(ack_suppression_reason(r, {"desk@desk.example"}));
  EXPECT_EQ(ack_suppression_reason(normal_message(), {"desk@desk.example"}), std::nullopt);
}

TEST(AckSuppression, NoFrom) {
  parsers::Message m = normal_message();
  m.from_addr = std::nullopt;
  m.from_name = std::nullopt;
  EXPECT_TRUE(ack_suppression_reason(m, {}));
  m.from_addr = "";
  EXPECT_TRUE(ack_suppression_reason(m, {}));
}

TEST(AckSuppression, ParsedHeaders) {
  auto parse = [](const std::string& extra, const std::string& from = "anna@clinic.example") {
    return parsers::parse_message(extra + "From: " + from +
                                  "\r\nTo: desk@desk.example\r\nSubject: Q\r\n"
                                  "Message-ID: <p1@clinic.example>\r\n\r\nHello\r\n");
  };
  EXPECT_EQ(ack_suppression_reason(parse(""), {"desk@desk.example"}), std::nullopt);
  EXPECT_EQ(ack_suppression_reason(parse("Auto-Submitted: no\r\n"), {}), std::nullopt);
  EXPECT_TRUE(ack_suppression_reason(parse("Auto-Submitted: auto-replied\r\n"), {}));
  EXPECT_TRUE(ack_suppression_reason(parse("Precedence: bulk\r\n"), {}));
  EXPECT_TRUE(ack_suppression_reason(parse("Precedence: list\r\n"), {}));
  EXPECT_TRUE(ack_suppression_reason(parse("Precedence: junk\r\n"), {}));
  EXPECT_TRUE(ack_suppression_reason(parse("", "MAILER-DAEMON@mx.clinic.example"), {}));
  EXPECT_TRUE(ack_suppression_reason(parse("", "postmaster@clinic.example"), {}));
  EXPECT_TRUE(ack_suppression_reason(parse("", "Desk <desk@desk.example>"), {"desk@desk.example"}));
  EXPECT_TRUE(ack_suppression_reason(
      parsers::parse_message("To: desk@desk.example\r\nSubject: Q\r\n\r\nHello\r\n"), {}));
}

TEST(RetryDelay, StartsAtOneMinuteDoublesAndCapsAtOneHour) {
  EXPECT_EQ(retry_delay_seconds(0), 60);
  EXPECT_EQ(retry_delay_seconds(1), 120);
  EXPECT_EQ(retry_delay_seconds(2), 240);
  EXPECT_EQ(retry_delay_seconds(3), 480);
  EXPECT_EQ(retry_delay_seconds(4), 960);
  EXPECT_EQ(retry_delay_seconds(5), 1920);
  EXPECT_EQ(retry_delay_seconds(6), 3600);
  EXPECT_EQ(retry_delay_seconds(7), 3600);
  EXPECT_EQ(retry_delay_seconds(1000), 3600);
  EXPECT_EQ(retry_delay_seconds(std::numeric_limits<int>::max()), 3600);
  EXPECT_EQ(retry_delay_seconds(-1), 60);
}

TEST(ReplySubject, KeepsAnExistingReferenceWhateverItsCase) {
  EXPECT_EQ(casedesk::daemon::reply_subject("Re: knee [cd-000001]", "CD-000001"), "Re: knee [cd-000001]");
  EXPECT_EQ(casedesk::daemon::reply_subject("Re: knee [CD-000002]", "CD-000001"),
            "Re: knee [CD-000002] [CD-000001]");
}
