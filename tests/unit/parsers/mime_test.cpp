#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

#include "parsers/charset.hpp"
#include "parsers/json.hpp"
#include "parsers/message.hpp"
#include "parser_test_support.hpp"

using casedesk::parsers::BodySource;
using casedesk::parsers::Message;
using casedesk::parsers::parse_message;

namespace {

using casedesk::parsers::testing::has_warning;
using casedesk::parsers::testing::squash;
using casedesk::parsers::testing::fixture;

}  // namespace

TEST(ParseMessage, MultipartAlternativePrefersPlainText) {
  Message m = parse_message(fixture("alternative.eml"));
  EXPECT_EQ(m.from_addr, "anna.meier@clinic.example");
  EXPECT_EQ(m.from_name, "Dr. Anna Meier");
  ASSERT_EQ(m.to.size(), 2u);
  EXPECT_EQ(m.to[0].name, "Case Desk");
  EXPECT_EQ(m.to[1].addr, "bob@desk.example");
  ASSERT_TRUE(m.reply_to);
  EXPECT_EQ(m.reply_to->addr, "anna+replies@clinic.example");
  EXPECT_EQ(m.date, "2026-11-26T09:15:00-05:00");
  EXPECT_EQ(m.date_epoch, 1795702500);
  EXPECT_EQ(m.message_id, "<alt-001@clinic.example>");
  EXPECT_EQ(m.in_reply_to, "<case-0042@desk.example>");
  EXPECT_EQ(m.references, (std::vector<std::string>{"<case-0041@desk.example>", "<case-0042@desk.example>"}));
  EXPECT_EQ(m.body_source, BodySource::text_plain);
  EXPECT_EQ(squash(m.body_text), "Hello, the patient was seen today.");
  EXPECT_TRUE(m.attachments.empty());
  EXPECT_FALSE(m.automated);
  EXPECT_GE(m.headers.size(), 10u);
  EXPECT_EQ(m.headers.front().first, "From");
}

TEST(ParseMessage, HtmlOnlyBodyBecomesReadableText) {
  Message m = parse_message(fixture("html_only.eml"));
  EXPECT_EQ(m.body_source, BodySource::text_html);
  std::string text = squash(m.body_text);
  EXPECT_NE(text.find("News & notes"), std::string::npos) << text;
  EXPECT_NE(m.body_text.find("News\xC2\xA0&"), std::string::npos);
  EXPECT_NE(text.find("- First <item>"), std::string::npos) << text;
  EXPECT_NE(text.find("Second \xE2\x98\xBA"), std::string::npos) << text;
  EXPECT_NE(text.find("Visit our site."), std::string::npos) << text;
  EXPECT_EQ(text.find("not text"), std::string::npos);
  EXPECT_EQ(text.find("Ignored title"), std::string::npos);
  EXPECT_EQ(text.find("color"), std::string::npos);
  EXPECT_TRUE(m.automated);
  EXPECT_EQ(m.automated_reason, "Precedence: bulk");
  EXPECT_EQ(m.date, "2025-01-05T10:00:00+00:00");
}

TEST(ParseMessage, DecodesBase64Latin1Body) {
  Message m = parse_message(fixture("base64_latin1.eml"));
  EXPECT_EQ(m.from_name, "J\xC3\xB6rg M\xC3\xBCller");
  EXPECT_EQ(squash(m.body_text), "Gr\xC3\xBC\xC3\x9F" "e aus K\xC3\xB6ln, Fr\xC3\xBCh" "st\xC3\xBC" "ck um 8.");
}

TEST(ParseMessage, DecodesQuotedPrintableWindows1252AndEncodedSubject) {
  Message m = parse_message(fixture("qp_cp1252.eml"));
  EXPECT_EQ(m.subject, "Re: \xE2\x80\x9C" "Offer\xE2\x80\x9D for caf\xC3\xA9 \xE2\x82\xAC tail");
  EXPECT_EQ(m.date, "2026-03-03T12:30:00");  // -0000: zone unknown, no offset
  std::string text = squash(m.body_text);
  EXPECT_EQ(text.rfind("\xE2\x80\x9CQuoted\xE2\x80\x9D text \xE2\x80\x93 caf\xC3\xA9 \xE2\x82\xAC" "5", 0), 0u) << text;
  EXPECT_NE(text.find("beyond seventy-six characters."), std::string::npos);
  EXPECT_EQ(text.find("="), std::string::npos);
}

TEST(ParseMessage, Rfc2231AndEncodedWordFilenames) {
  Message m = parse_message(fixture("rfc2231_attachment.eml"));
  EXPECT_EQ(squash(m.body_text), "Please find the report attached.");
  ASSERT_EQ(m.attachments.size(), 2u);
  EXPECT_EQ(m.attachments[0].filename, "Befund M\xC3\xBCller \xE2\x80\x93 final.pdf");
  EXPECT_EQ(m.attachments[0].content_type, "application/pdf");
  EXPECT_EQ(m.attachments[0].size, 54u);
  EXPECT_FALSE(m.attachments[0].text);
  EXPECT_EQ(m.attachments[1].filename, "Werte \xC3\xBC.csv");
  EXPECT_EQ(m.attachments[1].content_type, "text/csv");
  EXPECT_EQ(m.attachments[1].size, 7u);
  EXPECT_EQ(m.attachments[1].text, "a,b\n1,2");
}

TEST(ParseMessage, ForwardedMessageIsListedWithItsText) {
  Message m = parse_message(fixture("forward_rfc822.eml"));
  EXPECT_EQ(squash(m.body_text), "See the forwarded message below.");
  ASSERT_EQ(m.attachments.size(), 1u);
  EXPECT_EQ(m.attachments[0].content_type, "message/rfc822");
  EXPECT_FALSE(m.attachments[0].size);
  EXPECT_FALSE(m.attachments[0].filename);
  ASSERT_TRUE(m.attachments[0].text);
  EXPECT_EQ(squash(*m.attachments[0].text), "Is the appointment still on? Gr\xC3\xBC\xC3\x9F" "e");
}

TEST(ParseMessage, DeliveryReportIsAutomated) {
  Message m = parse_message(fixture("dsn_report.eml"));
  EXPECT_TRUE(m.automated);
  EXPECT_EQ(m.automated_reason, "Auto-Submitted: auto-replied");
  EXPECT_EQ(m.auto_submitted, "auto-replied");
  EXPECT_EQ(m.from_addr, "MAILER-DAEMON@mx.desk.example");
  EXPECT_EQ(m.date, "2026-03-06T07:00:00+00:00");
  EXPECT_EQ(squash(m.body_text),
            "This is the mail system at host mx.desk.example. Your message could not be delivered.");
  EXPECT_TRUE(m.attachments.empty());  // delivery-status and rfc822-headers are not attachments
}

TEST(ParseMessage, AutomatedBySenderOrReportType) {
  Message daemon = parse_message("From: postmaster@x.example\r\nSubject: hi\r\n\r\nbody\r\n");
  EXPECT_TRUE(daemon.automated);
  EXPECT_EQ(daemon.automated_reason, "sender postmaster");
  Message report = parse_message(
      "From: a@x.example\nContent-Type: multipart/report; boundary=b\n\n--b\n\ntext\n--b--\n");
  EXPECT_TRUE(report.automated);
  EXPECT_EQ(report.automated_reason, "multipart/report");
  Message human = parse_message("From: a@x.example\nAuto-Submitted: no\nPrecedence: first-class\n\nhi\n");
  EXPECT_FALSE(human.automated);
}

TEST(ParseMessage, MalformedBoundariesStillSplit) {
  Message m = parse_message(fixture("malformed_boundary.eml"));
  EXPECT_EQ(squash(m.body_text), "First part; the next line only starts like a boundary. --XYZZY is not a boundary");
  ASSERT_EQ(m.attachments.size(), 1u);
  EXPECT_EQ(m.attachments[0].filename, "dot.gif");
  EXPECT_EQ(m.attachments[0].size, 14u);  // decoding stops at the '=' padding
  EXPECT_TRUE(m.to.empty());
  EXPECT_EQ(m.date, "2026-03-07T10:11:00-05:00");
  EXPECT_TRUE(has_warning(m, "closing boundary"));
}

TEST(ParseMessage, MessageWithoutFromAfterMboxLineAndBom) {
  Message m = parse_message(fixture("no_from.eml"));
  EXPECT_FALSE(m.from_addr);
  EXPECT_FALSE(m.from_name);
  EXPECT_EQ(m.subject, "No sender here");
  ASSERT_EQ(m.to.size(), 1u);
  EXPECT_EQ(m.to[0].name, "Desk, Cases");
  EXPECT_EQ(squash(m.body_text), "Body without a From header.");
  EXPECT_TRUE(has_warning(m, "no From header"));
}

TEST(ParseMessage, HeaderAtEndOfInputWithoutNewline) {
  Message m = parse_message("From: a@b.example\r\nSubject: last line");
  EXPECT_EQ(m.subject, "last line");
  EXPECT_EQ(m.body_source, BodySource::text_plain);
  EXPECT_EQ(m.body_text, "");
}

TEST(ParseMessage, NulBytesAndBadHeaderLinesAreRepaired) {
  static const char kRaw[] = "From: a@b.example\nSubject: x\0y\nno colon here\nTo: c@d.example\n\nbody\n";
  const std::string raw(kRaw, sizeof kRaw - 1);
  Message m = parse_message(raw);
  EXPECT_EQ(m.subject, "x y no colon here");
  ASSERT_EQ(m.to.size(), 1u);
  EXPECT_EQ(squash(m.body_text), "body");
}

TEST(ParseMessage, UnknownCharsetFallsBackWithWarning) {
  Message m = parse_message("From: a@b.example\nContent-Type: text/plain; charset=x-klingon\n\ncaf\xE9\n");
  EXPECT_EQ(squash(m.body_text), "caf\xC3\xA9");
  EXPECT_TRUE(has_warning(m, "unknown charset"));
}

TEST(ParseMessage, NeverThrowsOnGarbage) {
  const std::string inputs[] = {
      "", "\n\n\n", std::string("\0\0\0", 3), "From:", ":::", "Content-Type: multipart/mixed\n\n--\n--\n",
      "Content-Type: multipart/mixed; boundary=\"\"\n\n--\nx\n", "To: undisclosed-recipients:\n\n",
      "Date: Mon, 32 Foo 99999 99:99:99 +99999\n\n", "Content-Transfer-Encoding: base64\n\n====|||\n",
      "Content-Type: text/plain; charset=\"\n\n\xff\xfe",
  };
  for (const std::string& in : inputs) {
    EXPECT_NO_THROW({
      Message m = parse_message(in);
      EXPECT_TRUE(casedesk::parsers::is_valid_utf8(m.body_text));
    });
  }
}

TEST(ParseMessage, DeepNestingIsCappedWithoutRecursion) {
  std::string raw = "From: a@b.example\n";
  const int depth = 20000;
  for (int i = 0; i < depth; ++i) {
    raw += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\n\n--b" + std::to_string(i) + "\n";
  }
  raw += "Content-Type: text/plain\n\ndeep\n";
  Message m = parse_message(raw);
  EXPECT_TRUE(has_warning(m, "too deep"));
}

TEST(ParseMessage, PartCountAndHeaderSizeAreCapped) {
  std::string raw = "From: a@b.example\nSubject: " + std::string(1 << 20, 'x') +
                    "\nContent-Type: multipart/mixed; boundary=p\n\n";
  for (int i = 0; i < 10000; ++i) raw += "--p\nContent-Type: application/octet-stream\n\nz\n";
  raw += "--p--\n";
  Message m = parse_message(raw);
  ASSERT_TRUE(m.subject);
  EXPECT_LE(m.subject->size(), 64u * 1024u);
  EXPECT_LE(m.attachments.size(), 2000u);
  EXPECT_TRUE(has_warning(m, "too many MIME parts"));
  EXPECT_TRUE(has_warning(m, "truncated"));
}

TEST(MessageJson, HasExactlyTheDocumentedKeys) {
  Message m = parse_message(fixture("rfc2231_attachment.eml"));
  nlohmann::json j = casedesk::parsers::to_json(m);
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  std::sort(keys.begin(), keys.end());
  std::vector<std::string> want{"attachments", "auto_submitted", "automated", "body_source", "body_text",
                                "date", "from_addr", "from_name", "in_reply_to", "message_id",
                                "precedence", "references", "reply_text", "subject", "to", "warnings"};
  EXPECT_EQ(keys, want);
  EXPECT_TRUE(j["in_reply_to"].is_null());
  EXPECT_EQ(j["body_source"], "text/plain");
  ASSERT_EQ(j["attachments"].size(), 2u);
  EXPECT_EQ(j["attachments"][0]["size"], 54);
  EXPECT_FALSE(j["attachments"][1].contains("text"));
  EXPECT_EQ(j["attachments"][1].size(), 3u);
}

TEST(MessageJson, BodySourceNames) {
  EXPECT_EQ(casedesk::parsers::to_string(BodySource::text_plain), "text/plain");
  EXPECT_EQ(casedesk::parsers::to_string(BodySource::text_html), "text/html");
  EXPECT_EQ(casedesk::parsers::to_string(BodySource::text_other), "text/other");
  EXPECT_EQ(casedesk::parsers::to_string(BodySource::none), "none");
}

// Issue 12 item 4: a NUL byte in a text body shows as U+FFFD, in any charset and transfer encoding.
TEST(AdversarialNul, NulInTextBodyBecomesReplacementCharacter) {
  const std::string head = "From: a@b.example\r\nSubject: nul\r\n";
  Message plain = parse_message(head + "Content-Type: text/plain; charset=utf-8\r\n\r\nab" + std::string(1, '\0') +
                                "cd 99213\r\n");
  EXPECT_EQ(plain.body_text.find('\0'), std::string::npos);
  EXPECT_NE(plain.body_text.find("ab\xEF\xBF\xBD" "cd 99213"), std::string::npos) << plain.body_text;
  // Latin-1 quoted-printable: =00 decodes to NUL, then the charset is converted.
  Message qp = parse_message(head + "Content-Type: text/plain; charset=iso-8859-1\r\n"
                                    "Content-Transfer-Encoding: quoted-printable\r\n\r\nx=00y=80z\r\n");
  EXPECT_EQ(qp.body_text.find('\0'), std::string::npos);
  EXPECT_NE(qp.body_text.find("x\xEF\xBF\xBDy"), std::string::npos) << qp.body_text;
  // Several NULs in a row, at the start and the end.
  Message many = parse_message(head + "Content-Type: text/plain\r\n\r\n" + std::string(2, '\0') + "mid" +
                               std::string(1, '\0'));
  EXPECT_EQ(many.body_text.rfind("\xEF\xBF\xBD\xEF\xBF\xBDmid\xEF\xBF\xBD", 0), 0u) << many.body_text;
}
