#include <gtest/gtest.h>

#include <string>

#include "parser_test_support.hpp"
#include "parsers/message.hpp"

using casedesk::parsers::attachment_data;
using casedesk::parsers::parse_message;
using casedesk::parsers::testing::fixture;

TEST(AttachmentData, DecodesBase64AndPlainPartsInListOrder) {
  std::string raw = fixture("rfc2231_attachment.eml");
  auto m = parse_message(raw);
  ASSERT_EQ(m.attachments.size(), 2u);
  auto pdf = attachment_data(raw, 0);
  ASSERT_TRUE(pdf);
  EXPECT_EQ(pdf->first.filename, m.attachments[0].filename);
  EXPECT_EQ(pdf->first.content_type, "application/pdf");
  EXPECT_EQ(pdf->second.substr(0, 8), "%PDF-1.4");
  EXPECT_EQ(pdf->second.size(), *m.attachments[0].size);
  auto csv = attachment_data(raw, 1);
  ASSERT_TRUE(csv);
  EXPECT_EQ(csv->first.content_type, "text/csv");
  EXPECT_EQ(csv->second, "a,b\n1,2");
  EXPECT_FALSE(attachment_data(raw, 2));
}

TEST(AttachmentData, DecodesUuencodedBlocks) {
  std::string raw = fixture("uuencode.eml");
  auto m = parse_message(raw);
  ASSERT_EQ(m.attachments.size(), 1u);
  auto a = attachment_data(raw, 0);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->first.filename, "scan.bin");
  ASSERT_EQ(a->second.size(), *m.attachments[0].size);
  // The fixture carries the bytes 0..255 repeated.
  for (std::size_t i = 0; i < a->second.size(); ++i)
    ASSERT_EQ(static_cast<unsigned char>(a->second[i]), i % 256) << i;
}

TEST(AttachmentData, NestedMessageIsItsOwnBytes) {
  std::string raw = fixture("forward_rfc822.eml");
  auto a = attachment_data(raw, 0);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->first.content_type, "message/rfc822");
  EXPECT_NE(a->second.find("Subject: Original question"), std::string::npos);
}

TEST(AttachmentData, BadMailGivesNothing) {
  EXPECT_FALSE(attachment_data("", 0));
  EXPECT_FALSE(attachment_data("garbage without headers", 0));
}
