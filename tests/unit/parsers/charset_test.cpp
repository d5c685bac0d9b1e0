#include <gtest/gtest.h>

#include "parsers/charset.hpp"

using namespace casedesk::parsers;

TEST(Charset, ConvertsTheCommonCharsets) {
  EXPECT_EQ(to_utf8("caf\xC3\xA9", "utf-8"), "caf\xC3\xA9");
  EXPECT_EQ(to_utf8("caf\xC3\xA9", "UTF8"), "caf\xC3\xA9");
  EXPECT_EQ(to_utf8("plain", "us-ascii"), "plain");
  EXPECT_EQ(to_utf8("caf\xE9", "iso-8859-1"), "caf\xC3\xA9");
  EXPECT_EQ(to_utf8("caf\xE9", "latin1"), "caf\xC3\xA9");
  EXPECT_EQ(to_utf8("\x93q\x94 \x80", "windows-1252"), "\xE2\x80\x9Cq\xE2\x80\x9D \xE2\x82\xAC");
  EXPECT_EQ(to_utf8("\xA4", "\"ISO-8859-15\""), "\xE2\x82\xAC");
  EXPECT_EQ(to_utf8("\x1b$B$3$s$K$A$O\x1b(B", "iso-2022-jp"),
            "\xE3\x81\x93\xE3\x82\x93\xE3\x81\xAB\xE3\x81\xA1\xE3\x81\xAF");
}

TEST(Charset, MapsMailAliases) {
  EXPECT_EQ(canonical_charset("ks_c_5601-1987"), "CP949");
  EXPECT_EQ(canonical_charset("windows-874"), "CP874");
  EXPECT_EQ(canonical_charset("x-unknown"), "");
  EXPECT_EQ(canonical_charset("utf8"), "UTF-8");
  EXPECT_EQ(to_utf8("\xB0\xA1", "ks_c_5601-1987"), "\xEA\xB0\x80");
  EXPECT_EQ(to_utf8("\xA1", "windows-874"), "\xE0\xB8\x81");
}

TEST(Charset, UnknownCharsetFallsBackAndWarns) {
  std::string warning;
  EXPECT_EQ(to_utf8("caf\xC3\xA9", "x-unknown", &warning), "caf\xC3\xA9");
  EXPECT_NE(warning.find("unknown charset"), std::string::npos);
  warning.clear();
  EXPECT_EQ(to_utf8("caf\xE9 \x80", "klingon-1", &warning), "caf\xC3\xA9 \xE2\x82\xAC");
  EXPECT_FALSE(warning.empty());
  EXPECT_EQ(to_utf8("caf\xE9", "us-ascii"), "caf\xC3\xA9");  // lying us-ascii label
}

TEST(Charset, OutputIsAlwaysValidUtf8) {
  EXPECT_EQ(to_utf8("a\xFF" "b", "utf-8"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(sanitize_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_TRUE(is_valid_utf8(to_utf8("\x81\x82\x83", "shift_jis")));
  EXPECT_TRUE(is_valid_utf8(to_utf8("\xFF\xFE\x00", "utf-16")));
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));
  EXPECT_TRUE(is_valid_utf8("\xF0\x9F\x98\x80"));
}

TEST(Charset, CollapsesUnicodeWhitespace) {
  EXPECT_EQ(collapse_whitespace("  a \t\r\n b\xC2\xA0\xC2\xA0" "c\xE3\x80\x80 "), "a b c");
  EXPECT_EQ(collapse_whitespace("x\xE2\x80\x8By"), "x\xE2\x80\x8By");  // zero-width space is not whitespace
  EXPECT_EQ(collapse_whitespace(""), "");
}
