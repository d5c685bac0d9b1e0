#include <gtest/gtest.h>

#include "parsers/address.hpp"

using namespace casedesk::parsers;

namespace {
std::vector<std::pair<std::string, std::string>> pairs(std::string_view v) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Address& a : parse_address_list(v)) out.emplace_back(a.name, a.addr);
  return out;
}
using P = std::vector<std::pair<std::string, std::string>>;
}  // namespace

TEST(AddressList, NameAddrAndBareForms) {
  EXPECT_EQ(pairs("Foo Bar <foo@bar.com>, Baz <baz@x>"), (P{{"Foo Bar", "foo@bar.com"}, {"Baz", "baz@x"}}));
  EXPECT_EQ(pairs("bare@example.com"), (P{{"", "bare@example.com"}}));
  EXPECT_EQ(pairs("<angle@example.com>"), (P{{"", "angle@example.com"}}));
  EXPECT_EQ(pairs("foo"), (P{{"", "foo"}}));
}

TEST(AddressList, QuotedNamesWithEscapesAndCommas) {
  EXPECT_EQ(pairs("\"Doe, John\" <j@x.com>"), (P{{"Doe, John", "j@x.com"}}));
  EXPECT_EQ(pairs("\"a\\\"b\" <j@x>"), (P{{"a\"b", "j@x"}}));
  EXPECT_EQ(pairs("\"a  b\" <j@x>"), (P{{"a  b", "j@x"}}));
  EXPECT_EQ(pairs("\"x\" y <j@x>"), (P{{"x y", "j@x"}}));
  EXPECT_EQ(pairs("\"john doe\"@x.com"), (P{{"", "\"john doe\"@x.com"}}));
  EXPECT_EQ(pairs("\"john\"@x.com"), (P{{"", "john@x.com"}}));
}

TEST(AddressList, CommentsAreDropped) {
  EXPECT_EQ(pairs("John (middle) Doe <j@x.com>"), (P{{"John Doe", "j@x.com"}}));
  EXPECT_EQ(pairs("j@x.com (John Doe)"), (P{{"", "j@x.com"}}));
  EXPECT_EQ(pairs("John  \t Doe <j@x>"), (P{{"John Doe", "j@x"}}));
}

TEST(AddressList, GroupsAreFlattened) {
  EXPECT_TRUE(parse_address_list("undisclosed-recipients:;").empty());
  EXPECT_TRUE(parse_address_list("undisclosed-recipients:").empty());
  EXPECT_EQ(pairs("G: a@b, c@d;"), (P{{"", "a@b"}, {"", "c@d"}}));
  EXPECT_EQ(pairs("G: a@b, c@d; e@f"), (P{{"", "a@b"}, {"", "c@d"}, {"", "e@f"}}));
}

TEST(AddressList, EncodedWordNames) {
  EXPECT_EQ(pairs("=?ISO-8859-1?Q?J=F6rg?= <j@x>"), (P{{"J\xC3\xB6rg", "j@x"}}));
  EXPECT_EQ(pairs("=?utf-8?q?a?= =?utf-8?q?b?= <j@x>"), (P{{"ab", "j@x"}}));
  EXPECT_EQ(pairs("\"=?utf-8?q?a?=\" <j@x>"), (P{{"a", "j@x"}}));
  EXPECT_EQ(pairs("J\xC3\xB6rg <j@x>"), (P{{"J\xC3\xB6rg", "j@x"}}));
}

TEST(AddressList, ObsoleteAndBrokenForms) {
  EXPECT_EQ(pairs("<@route,@r2:j@x>"), (P{{"", "j@x"}}));
  EXPECT_EQ(pairs("j @ x . com"), (P{{"", "j@x.com"}}));
  EXPECT_EQ(pairs("Name <j@x"), (P{{"Name", "j@x"}}));
  EXPECT_EQ(pairs("John Q. Public <j@x>"), (P{{"John Q. Public", "j@x"}}));
  EXPECT_EQ(pairs("a@b, , c@d"), (P{{"", "a@b"}, {"", "c@d"}}));
  EXPECT_EQ(pairs("<j@x> Name"), (P{{"", "j@x"}}));
  EXPECT_TRUE(parse_address_list("").empty());
  EXPECT_TRUE(parse_address_list(" , ;; <> ").empty());
}

// Issue 12 item 3: an encoded-word in the display name is a phrase atom: decoded, it may contain
// '@', ':' or CR LF, but it never becomes (or hides) the address.
TEST(AdversarialAddress, EncodedDisplayNameNeverBecomesTheAddress) {
  auto at = parse_address_list("=?utf-8?q?victim@elsewhere.example?= <eve@evil.example>");
  ASSERT_EQ(at.size(), 1u);
  EXPECT_EQ(at[0].addr, "eve@evil.example");
  EXPECT_EQ(at[0].name, "victim@elsewhere.example");

  auto colon = parse_address_list("=?utf-8?q?a:b?= <eve@evil.example>");
  ASSERT_EQ(colon.size(), 1u);
  EXPECT_EQ(colon[0].addr, "eve@evil.example");
  EXPECT_EQ(colon[0].name, "a:b");

  auto crlf = parse_address_list("=?utf-8?q?Eve=0D=0ABcc:_victim@elsewhere.example?= <eve@evil.example>");
  ASSERT_EQ(crlf.size(), 1u);
  EXPECT_EQ(crlf[0].addr, "eve@evil.example");

  auto b64 = parse_address_list("=?utf-8?b?dmljdGltQGVsc2V3aGVyZS5leGFtcGxl?= <eve@evil.example>");
  ASSERT_EQ(b64.size(), 1u);
  EXPECT_EQ(b64[0].addr, "eve@evil.example");
  EXPECT_EQ(b64[0].name, "victim@elsewhere.example");

  // Several encoded-words still make one name.
  auto two = parse_address_list("=?utf-8?q?Dana?= =?utf-8?q?_Biller?= <dana@clinic.example>");
  ASSERT_EQ(two.size(), 1u);
  EXPECT_EQ(two[0].name, "Dana Biller");
  EXPECT_EQ(two[0].addr, "dana@clinic.example");
}

// Issue 12 item 3: what parse_address_list found is an address only when RFC 5321 says so, with
// no space or control character anywhere (an encoded CR LF in a name must never reach an RCPT).
TEST(AdversarialAddress, ValidMailboxIsRfc5321WithoutControlsOrSpace) {
  for (const char* ok : {"dana@clinic.example", "a.b+tag@sub.clinic.example", "x@localhost", "o'brien@x.example",
                         "\"odd.\\\"q\"@x.example", "user@[192.0.2.1]", "jürgen@bücher.example", "a@b-c.d"}) {
    EXPECT_TRUE(is_valid_mailbox(ok)) << ok;
  }
  for (const char* bad : {"", "plain", "@x.example", "a@", "a@@x.example", "a b@x.example", "a@x .example",
                          "a\r\nBcc: evil@x.example@y.example", "a@x.example\r\nBcc: e@x", "\"john doe\"@x.example",
                          ".a@x.example", "a.@x.example", "a..b@x.example", "a@-x.example", "a@x-.example",
                          "a@x..example", "a@x.example.", "=?utf-8?q?victim@elsewhere.example?=", "a<b>@x.example",
                          "a,b@x.example", "a@[1.2.3.4", "a@x_y.example"}) {
    EXPECT_FALSE(is_valid_mailbox(bad)) << bad;
  }
  EXPECT_FALSE(is_valid_mailbox(std::string("a\0b@x.example", 13)));
  EXPECT_FALSE(is_valid_mailbox(std::string(65, 'a') + "@x.example"));
  EXPECT_TRUE(is_valid_mailbox(std::string(64, 'a') + "@x.example"));
  EXPECT_FALSE(is_valid_mailbox("a@" + std::string(64, 'b') + ".example"));
  // The structure is parsed first: the encoded "address" of the name stays in the name.
  const auto boxes = parse_address_list("=?utf-8?q?victim@elsewhere.example?= <eve@evil.example>");
  ASSERT_EQ(boxes.size(), 1u);
  EXPECT_TRUE(is_valid_mailbox(boxes[0].addr)) << boxes[0].addr;
  EXPECT_EQ(boxes[0].addr, "eve@evil.example");
}
