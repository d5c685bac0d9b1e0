#include <gtest/gtest.h>

#include "daemon/imap_client.hpp"

using casedesk::daemon::parse_fetch_listing;
using casedesk::daemon::parse_internal_date;

TEST(ImapParsing, InternalDateWithOffsets) {
  EXPECT_EQ(parse_internal_date("01-Jan-1970 00:00:00 +0000"), 0);
  EXPECT_EQ(parse_internal_date("26-Nov-2026 19:40:16 +0000"), 1795722016);
  EXPECT_EQ(parse_internal_date("26-Nov-2026 14:40:16 -0500"), 1795722016);
  EXPECT_EQ(parse_internal_date(" 6-Nov-2026 00:00:00 +0100"), parse_internal_date("05-Nov-2026 23:00:00 +0000"));
  EXPECT_EQ(parse_internal_date("garbage"), -1);
  EXPECT_EQ(parse_internal_date("26-Foo-2026 19:40:16 +0000"), -1);
}

TEST(ImapParsing, FetchListingInAnyItemOrder) {
  const std::string response =
      "* 2 FETCH (UID 9 RFC822.SIZE 1211 INTERNALDATE \"26-Nov-2026 20:14:26 +0000\")\r\n"
      "* 1 FETCH (INTERNALDATE \"26-Nov-2026 20:14:25 +0000\" RFC822.SIZE 757 UID 4)\r\n"
      "* 3 EXISTS\r\n"
      "* 3 FETCH (FLAGS (\\Seen))\r\n";
  auto list = parse_fetch_listing(response);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].uid, 4);
  EXPECT_EQ(list[0].size, 757);
  EXPECT_EQ(list[0].internal_date, parse_internal_date("26-Nov-2026 20:14:25 +0000"));
  EXPECT_EQ(list[1].uid, 9);
  EXPECT_EQ(list[1].size, 1211);
  EXPECT_TRUE(parse_fetch_listing("").empty());
}
