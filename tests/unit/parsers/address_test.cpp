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
