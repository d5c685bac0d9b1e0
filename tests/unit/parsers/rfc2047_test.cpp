#include <gtest/gtest.h>

#include "parsers/rfc2047.hpp"

using namespace casedesk::parsers;

TEST(EncodedWords, DecodesBAndQ) {
  EXPECT_EQ(decode_encoded_words("=?ISO-8859-1?Q?J=F6rg_M=FCller?="), "J\xC3\xB6rg M\xC3\xBCller");
  EXPECT_EQ(decode_encoded_words("=?utf-8?B?R3LDvMOfZQ==?="), "Gr\xC3\xBC\xC3\x9F" "e");
  EXPECT_EQ(decode_encoded_words("=?UTF-8*de?q?a=3Db?="), "a=b");
}

TEST(EncodedWords, JoinsAdjacentWordsAndKeepsOtherText) {
  EXPECT_EQ(decode_encoded_words("=?utf-8?q?a?= =?utf-8?q?b?="), "ab");
  EXPECT_EQ(decode_encoded_words("=?utf-8?q?a?=\r\n =?utf-8?q?b?= c"), "ab c");
  EXPECT_EQ(decode_encoded_words("Re: =?utf-8?q?x?= y =?utf-8?q?z?="), "Re: x y z");
  // A UTF-8 character split across two words is reassembled.
  EXPECT_EQ(decode_encoded_words("=?utf-8?B?w6k=?= =?utf-8?B?w6k=?="), "\xC3\xA9\xC3\xA9");
  EXPECT_EQ(decode_encoded_words("=?utf-8?B?4oI=?= =?utf-8?B?rA==?="), "\xE2\x82\xAC");
}

TEST(EncodedWords, LeavesMalformedWordsAlone) {
  EXPECT_EQ(decode_encoded_words("=?utf-8?x?abc?="), "=?utf-8?x?abc?=");
  EXPECT_EQ(decode_encoded_words("=?utf-8?q?unterminated"), "=?utf-8?q?unterminated");
  EXPECT_EQ(decode_encoded_words("plain text"), "plain text");
  EXPECT_EQ(decode_encoded_words("=?"), "=?");
}

TEST(EncodedWords, RawEightBitTextBecomesUtf8) {
  EXPECT_EQ(decode_encoded_words("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(decode_encoded_words("caf\xE9"), "caf\xC3\xA9");
}

TEST(Base64, StopsAtPaddingAndSkipsJunk) {
  EXPECT_EQ(decode_base64("aGVsbG8="), "hello");
  EXPECT_EQ(decode_base64("aGVs\r\nbG8=|||junk"), "hello");
  EXPECT_EQ(decode_base64("aGVsbG8"), "hello");  // missing padding
  EXPECT_EQ(decode_base64("aGVs bG8h"), "hello!");
  EXPECT_EQ(decode_base64(""), "");
}

TEST(QuotedPrintable, HandlesSoftBreaksAndStrayEquals) {
  EXPECT_EQ(decode_quoted_printable("caf=E9 =\r\nnext\r\n"), "caf\xE9 next\r\n");
  EXPECT_EQ(decode_quoted_printable("a=3db"), "a=b");
  EXPECT_EQ(decode_quoted_printable("50% = half"), "50% = half");
  EXPECT_EQ(decode_quoted_printable("end="), "end");
  EXPECT_EQ(decode_quoted_printable("line  \nnext\n\n"), "line  \nnext\n\n");
  EXPECT_EQ(decode_quoted_printable("soft=  \nbreak"), "softbreak");
}

TEST(HeaderParams, ParsesQuotedValuesWithSemicolons) {
  HeaderParams p = parse_parameterized(" Text/Plain ; charset=\"UTF-8\"; name=\"a;b \\\"c\\\".txt\"; format=flowed");
  EXPECT_EQ(p.value, "text/plain");
  EXPECT_EQ(find_param(p, "charset"), "UTF-8");
  EXPECT_EQ(find_param(p, "name"), "a;b \"c\".txt");
  EXPECT_EQ(find_param(p, "format"), "flowed");
  EXPECT_FALSE(find_param(p, "missing"));
}

TEST(HeaderParams, DecodesRfc2231Continuations) {
  HeaderParams p = parse_parameterized(
      "attachment; filename*0*=utf-8'de'Gr%C3%BC; filename*1*=%C3%9Fe; filename*2=\".txt\"");
  EXPECT_EQ(find_param(p, "filename"), "Gr\xC3\xBC\xC3\x9F" "e.txt");
  HeaderParams single = parse_parameterized("attachment; filename*=iso-8859-1''caf%E9.pdf");
  EXPECT_EQ(find_param(single, "filename"), "caf\xC3\xA9.pdf");
}

TEST(HeaderParams, PlainParameterWinsOverRfc2231Form) {
  HeaderParams p = parse_parameterized("attachment; filename*=utf-8''b.txt; filename=\"a.txt\"");
  EXPECT_EQ(find_param(p, "filename"), "a.txt");
}

TEST(HeaderParams, DecodesEncodedWordsInValues) {
  HeaderParams p = parse_parameterized("application/pdf; name=\"=?utf-8?B?VGhpcyBpcyBhIHRlc3QucGRm?=\"");
  EXPECT_EQ(find_param(p, "name"), "This is a test.pdf");
}

TEST(HeaderParams, UnquotedTokenEndsAtTspecial) {
  EXPECT_EQ(find_param(parse_parameterized("attachment; filename=attach/01"), "filename"), "attach");
  EXPECT_EQ(find_raw_param("multipart/mixed; boundary=----=_Part_1", "boundary"), "----=_Part_1");
}
