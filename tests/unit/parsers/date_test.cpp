#include <gtest/gtest.h>

#include "parsers/date.hpp"

using namespace casedesk::parsers;

namespace {
std::string iso(std::string_view v) {
  auto d = parse_date(v);
  return d ? d->iso : "null";
}
}  // namespace

TEST(Date, Rfc5322Forms) {
  EXPECT_EQ(iso("Wed, 23 Apr 2003 14:19:23 -0700"), "2003-04-23T14:19:23-07:00");
  EXPECT_EQ(iso("23 Apr 2003 14:19:23 +0000"), "2003-04-23T14:19:23+00:00");
  EXPECT_EQ(iso("Thu, 26 Nov 2026 09:15:00 +0530 (IST)"), "2026-11-26T09:15:00+05:30");
  auto d = parse_date("Thu, 26 Nov 2026 09:15:00 -0500");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->epoch, 1795702500);
  EXPECT_EQ(d->offset_minutes, -300);
}

TEST(Date, MinusZeroAndUnknownZonesHaveNoOffset) {
  EXPECT_EQ(iso("Tue, 3 Mar 2026 12:30:00 -0000"), "2026-03-03T12:30:00");
  EXPECT_EQ(iso("Tue, 3 Mar 2026 12:30:00 XYZ"), "2026-03-03T12:30:00");
  EXPECT_EQ(iso("Tue, 3 Mar 2026 12:30:00"), "2026-03-03T12:30:00");
  auto d = parse_date("Thu, 1 Jan 1970 00:00:10 -0000");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->epoch, 10);
  EXPECT_FALSE(d->offset_minutes);
}

TEST(Date, ObsoleteForms) {
  EXPECT_EQ(iso("Sat, 7 Mar 26 10:11 EST"), "2026-03-07T10:11:00-05:00");
  EXPECT_EQ(iso("7 Mar 99 10:11:12 GMT"), "1999-03-07T10:11:12+00:00");
  EXPECT_EQ(iso("Monday, 07-Mar-05 10:11:12 PDT"), "2005-03-07T10:11:12-07:00");
  EXPECT_EQ(iso("Mar 7 2005 10:11:12 +0100"), "2005-03-07T10:11:12+01:00");
  EXPECT_EQ(iso("Fri,4 May 2001 14:05:44 -0400"), "2001-05-04T14:05:44-04:00");
  EXPECT_EQ(iso("  Fri,   04   May   2001   14.05.44   -0400  "), "2001-05-04T14:05:44-04:00");
  EXPECT_EQ(iso("4 May 2001 14:05:44-0400"), "2001-05-04T14:05:44-04:00");
  EXPECT_EQ(iso("4 January 2001 14:05:44 UT"), "2001-01-04T14:05:44+00:00");
}

TEST(Date, GarbageIsRejected) {
  EXPECT_EQ(iso(""), "null");
  EXPECT_EQ(iso("yesterday"), "null");
  EXPECT_EQ(iso("Malformed Date"), "null");
  EXPECT_EQ(iso("31 Feb 2003 10:00:00 +0000"), "null");
  EXPECT_EQ(iso("1 Foo 2003 10:00:00 +0000"), "null");
  EXPECT_EQ(iso("1 Jan 2003 25:00:00 +0000"), "null");
  EXPECT_EQ(iso("1 Jan 2003 10:00:00 +99999"), "null");
  EXPECT_EQ(iso("1 Jan 99999999999999 10:00:00 +0000"), "null");
}
