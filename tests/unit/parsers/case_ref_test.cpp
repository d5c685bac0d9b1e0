#include "parsers/case_ref.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>

using casedesk::parsers::find_case_ref;
using casedesk::parsers::format_case_ref;

TEST(CaseRef, FormatPadsToSixDigits) {
  EXPECT_EQ(format_case_ref("CD", 123), "CD-000123");
  EXPECT_EQ(format_case_ref("CD", 1), "CD-000001");
  EXPECT_EQ(format_case_ref("CD", 999999), "CD-999999");
  EXPECT_EQ(format_case_ref("QA", 42), "QA-000042");
}

TEST(CaseRef, FormatKeepsAllDigitsBeyondSix) {
  EXPECT_EQ(format_case_ref("CD", 1234567), "CD-1234567");
  EXPECT_EQ(format_case_ref("CD", 123456789012), "CD-123456789012");
}

TEST(CaseRef, FindsBracketedRefInSubject) {
  EXPECT_EQ(find_case_ref("Re: foo [CD-000123]", "CD"), "CD-000123");
  EXPECT_EQ(find_case_ref("[CD-000123] at the start", "CD"), "CD-000123");
  EXPECT_EQ(find_case_ref("Re: [CD-1234567] long", "CD"), "CD-1234567");
}

TEST(CaseRef, PrefixIsCaseInsensitiveAndReturnedAsConfigured) {
  EXPECT_EQ(find_case_ref("Re: foo [cd-000123]", "CD"), "CD-000123");
  EXPECT_EQ(find_case_ref("Re: foo [Cd-000123]", "CD"), "CD-000123");
  EXPECT_EQ(find_case_ref("Re: foo [CD-000123]", "cd"), "cd-000123");
}

TEST(CaseRef, IgnoresUnbracketedAndMalformedRefs) {
  EXPECT_EQ(find_case_ref("Re: foo CD-000123", "CD"), std::nullopt);
  EXPECT_EQ(find_case_ref("Re: [CDX-1]", "CD"), std::nullopt);
  EXPECT_EQ(find_case_ref("Re: [CD-]", "CD"), std::nullopt);
  EXPECT_EQ(find_case_ref("Re: [CD-12a]", "CD"), std::nullopt);
  EXPECT_EQ(find_case_ref("Re: [CD-000123", "CD"), std::nullopt);
  EXPECT_EQ(find_case_ref("Re: [CD 000123]", "CD"), std::nullopt);
  EXPECT_EQ(find_case_ref("Re: [XCD-000123]", "CD"), std::nullopt);
  EXPECT_EQ(find_case_ref("Re: [QA-000123]", "CD"), std::nullopt);
  EXPECT_EQ(find_case_ref("", "CD"), std::nullopt);
  EXPECT_EQ(find_case_ref("[", "CD"), std::nullopt);
  EXPECT_EQ(find_case_ref("[CD-", "CD"), std::nullopt);
  EXPECT_EQ(find_case_ref("[CD-1", "CD"), std::nullopt);
  EXPECT_EQ(find_case_ref("[CD-000123]", ""), std::nullopt);
}

TEST(CaseRef, TooManyDigitsIsNotARef) {
  EXPECT_EQ(find_case_ref("[CD-1234567890123]", "CD"), std::nullopt);
  EXPECT_EQ(find_case_ref("[CD-123456789012]", "CD"), "CD-123456789012");
}

TEST(CaseRef, ReturnsFirstOfSeveral) {
  EXPECT_EQ(find_case_ref("Re: [CD-000002] was [CD-000001]", "CD"), "CD-000002");
  EXPECT_EQ(find_case_ref("[CD-] [CDX-3] [CD-000007] [CD-000008]", "CD"), "CD-000007");
  EXPECT_EQ(find_case_ref("[[CD-000009]]", "CD"), "CD-000009");
}

TEST(CaseRef, MinimalRefAtEndOfText) {
  EXPECT_EQ(find_case_ref("x [CD-1]", "CD"), "CD-1");
  EXPECT_EQ(find_case_ref("[CD-1]", "CD"), "CD-1");
}

TEST(CaseRef, RoundTripsWithFormat) {
  for (std::int64_t n : {1, 42, 999999, 1000000, 98765432}) {
    std::string ref = format_case_ref("CD", n);
    EXPECT_EQ(find_case_ref("Re: question [" + ref + "]", "CD"), ref);
  }
}
