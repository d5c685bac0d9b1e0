// format=flowed, uuencode, TNEF, delivery reports and the robustness fixtures (robustness/).

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

#include "parsers/charset.hpp"
#include "parsers/message.hpp"
#include "parser_test_support.hpp"

using casedesk::parsers::BodySource;
using casedesk::parsers::Message;
using casedesk::parsers::parse_message;

namespace {

using casedesk::parsers::testing::has_warning;
using casedesk::parsers::testing::squash;
const auto& read_fixture = casedesk::parsers::testing::fixture;

}  // namespace

TEST(FormatFlowed, JoinsFlowedLinesAndUnstuffs) {
  Message m = parse_message(read_fixture("flowed.eml"));
  EXPECT_EQ(m.body_text,
            "This paragraph was wrapped by the sender's mail program and flows.\n"
            "From the chart: space-stuffed line.\n"
            ">Quoted and flowed.\n"
            "Fixed line \n"
            "-- \n"
            "Sig\n");
  EXPECT_EQ(m.reply_text,
            "This paragraph was wrapped by the sender's mail program and flows.\n"
            "From the chart: space-stuffed line.\nFixed line");
}

TEST(FormatFlowed, DelSpYesDeletesTheFlowSpace) {
  Message m = parse_message(read_fixture("flowed_delsp.eml"));
  EXPECT_EQ(m.body_text, "Supercalifragilistic word split.\nNext.\n");
}

TEST(FormatFlowed, FixedTextIsUntouchedAndQuoteDepthChangesBreak) {
  Message fixed = parse_message("From: a@b.example\nContent-Type: text/plain\n\nline one \nline two\n");
  EXPECT_EQ(fixed.body_text, "line one \nline two\n");
  Message depth = parse_message(
      "From: a@b.example\nContent-Type: text/plain; format=flowed\n\n> a \n>> b\n> c\nno newline at end");
  EXPECT_EQ(depth.body_text, "> a \n>> b\n> c\nno newline at end");
}

TEST(Uuencode, BlockIsListedAsAttachmentAndRemovedFromBody) {
  Message m = parse_message(read_fixture("uuencode.eml"));
  EXPECT_EQ(squash(m.body_text), "Here is the scan: Thanks.");
  ASSERT_EQ(m.attachments.size(), 1u);
  EXPECT_EQ(m.attachments[0].filename, "scan.bin");
  EXPECT_EQ(m.attachments[0].content_type, "application/octet-stream");
  EXPECT_EQ(m.attachments[0].size, 768u);
  EXPECT_TRUE(has_warning(m, "uuencoded"));
}

TEST(Uuencode, LookalikesStayText) {
  Message no_end = parse_message("From: a@b.example\n\nbegin 644 x.txt\nM86)C\nno end line here\n");
  EXPECT_TRUE(no_end.attachments.empty());
  EXPECT_NE(no_end.body_text.find("begin 644"), std::string::npos);
  Message prose = parse_message("From: a@b.example\n\nbegin 644 is a file mode\nend\n");
  EXPECT_EQ(prose.attachments.size(), 1u);  // an empty block is still a block
  Message words = parse_message("From: a@b.example\n\nbegin here: the plan\nend\n");
  EXPECT_TRUE(words.attachments.empty());
}

TEST(Tnef, WinmailDatIsListedWithAWarning) {
  Message m = parse_message(read_fixture("tnef.eml"));
  EXPECT_EQ(squash(m.body_text), "See attached.");
  ASSERT_EQ(m.attachments.size(), 1u);
  EXPECT_EQ(m.attachments[0].filename, "winmail.dat");
  EXPECT_EQ(m.attachments[0].content_type, "application/ms-tnef");
  EXPECT_EQ(m.attachments[0].size, 24u);
  EXPECT_TRUE(has_warning(m, "TNEF (winmail.dat) attachment: contents not decoded"));
}

TEST(Automated, DeliveryStatusPartMarksAutomated) {
  Message m = parse_message(read_fixture("delivery_status.eml"));
  EXPECT_TRUE(m.automated);
  EXPECT_EQ(m.automated_reason, "message/delivery-status");
  EXPECT_EQ(squash(m.body_text), "Delivery failed.");
}

TEST(Robustness, NulBytesInBody) {
  Message m = parse_message(read_fixture("robustness/nul_body.eml"));
  EXPECT_TRUE(has_warning(m, "NUL bytes"));
  EXPECT_EQ(m.subject, "nul");
  EXPECT_TRUE(casedesk::parsers::is_valid_utf8(m.body_text));
  EXPECT_EQ(m.body_text.substr(0, 6), "before");
}

TEST(Robustness, MissingBoundaryParameter) {
  Message m = parse_message(read_fixture("robustness/missing_boundary.eml"));
  EXPECT_TRUE(has_warning(m, "multipart without boundary"));
  EXPECT_NE(m.body_text.find("hello"), std::string::npos);  // raw text shown rather than nothing
}

TEST(Robustness, WrongBoundaryParameter) {
  Message m = parse_message(read_fixture("robustness/wrong_boundary.eml"));
  EXPECT_TRUE(has_warning(m, "multipart boundary not found"));
  EXPECT_NE(m.body_text.find("hello"), std::string::npos);
}

TEST(Robustness, LinesLongerThan998Bytes) {
  Message m = parse_message(read_fixture("robustness/long_lines.eml"));
  EXPECT_TRUE(has_warning(m, "line longer than 998 bytes"));
  EXPECT_EQ(m.body_text.size(), 10000u + 1 + 4);
}

TEST(Robustness, BadBase64) {
  Message m = parse_message(read_fixture("robustness/bad_base64.eml"));
  EXPECT_TRUE(has_warning(m, "invalid base64"));
  ASSERT_EQ(m.attachments.size(), 1u);
  EXPECT_EQ(m.attachments[0].filename, "x.pdf");
  ASSERT_TRUE(m.attachments[0].size);
  EXPECT_GT(*m.attachments[0].size, 0u);
  EXPECT_EQ(squash(m.body_text), "body");
}

TEST(Robustness, NestingDeeperThanTheLimit) {
  Message m = parse_message(read_fixture("robustness/deep_nesting.eml"));
  EXPECT_TRUE(has_warning(m, "MIME nesting too deep"));
  EXPECT_EQ(m.subject, "deep");
}
