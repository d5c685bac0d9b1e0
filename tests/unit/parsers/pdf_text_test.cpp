#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "parsers/codes.hpp"
#include "parsers/message.hpp"
#include "parsers/pdf_text.hpp"

namespace {

using namespace casedesk::parsers;

std::string read_fixture(const std::string& name) {
  std::ifstream in(std::string(CASEDESK_FIXTURES "/mail/parsers/pdf/") + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(PdfText, AttachmentTextIsExtractedAndCodesFound) {
  Message m = parse_message(read_fixture("pdf_attachment.eml"));
  ASSERT_EQ(m.attachments.size(), 2u);
  EXPECT_EQ(m.attachments[0].content_type, "application/pdf");
  ASSERT_TRUE(m.attachments[0].text.has_value());
  EXPECT_NE(m.attachments[0].text->find("95811"), std::string::npos);
  EXPECT_NE(m.attachments[0].text->find("G47.33"), std::string::npos);
  // The broken PDF gives no text and a warning, never a crash.
  EXPECT_FALSE(m.attachments[1].text.has_value());
  bool warned = false;
  for (const auto& w : m.warnings) warned = warned || w.find("PDF") != std::string::npos;
  EXPECT_TRUE(warned);

  auto codes = extract_codes(m);
  auto find = [&](const std::string& c) -> const Code* {
    for (const auto& x : codes) if (x.code == c) return &x;
    return nullptr;
  };
  ASSERT_NE(find("95811"), nullptr);
  EXPECT_EQ(find("95811")->found_in, std::vector<std::string>{"attachment"});
  EXPECT_EQ(find("95811")->mentions[0].where, "attachment:0");
  ASSERT_NE(find("G47.33"), nullptr);
  ASSERT_NE(find("E0601"), nullptr);
  EXPECT_EQ(find("E0601")->modifiers, (std::vector<std::string>{"RR", "KX"}));
}

TEST(PdfText, GarbageNeverThrows) {
  EXPECT_FALSE(pdf_text("").text);
  EXPECT_TRUE(pdf_text("").warning);
  EXPECT_FALSE(pdf_text("not a pdf at all").text);
  std::string junk = "%PDF-1.7\n";
  for (int i = 0; i < 5000; ++i) junk += static_cast<char>((i * 7919) & 0xff);
  PdfText r = pdf_text(junk);  // must not crash or throw
  EXPECT_TRUE(r.warning || r.text);
  std::string truncated = read_fixture("pdf_attachment.eml");
  EXPECT_NO_THROW(pdf_text(truncated));
  std::string big(kMaxPdfBytes + 1, ' ');
  big.replace(0, 8, "%PDF-1.4");
  PdfText b = pdf_text(big);
  EXPECT_FALSE(b.text);
  ASSERT_TRUE(b.warning);
  EXPECT_NE(b.warning->find("too large"), std::string::npos);
}

}  // namespace
