#include "config/config.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>

namespace casedesk::config {
namespace {

using namespace std::chrono_literals;

TEST(Duration, ParsesEveryUnit) {
  EXPECT_EQ(parse_duration("500ms"), Duration(500));
  EXPECT_EQ(parse_duration("30s"), Duration(30s));
  EXPECT_EQ(parse_duration("5m"), Duration(5min));
  EXPECT_EQ(parse_duration("24h"), Duration(24h));
  EXPECT_EQ(parse_duration("2d"), Duration(48h));
  EXPECT_EQ(parse_duration("0s"), Duration(0));
  EXPECT_EQ(parse_duration("007s"), Duration(7s));
}

TEST(Duration, RejectsOtherForms) {
  for (const char* text : {"", "30", "s", "-5s", "+5s", "1.5h", "5 s", " 5s", "5s ", "5S", "5sec",
                           "5ms5", "1h30m", "5w", "5us", "99999999999999999999s"}) {
    EXPECT_FALSE(parse_duration(text).has_value()) << text;
  }
}

TEST(Duration, RejectsOverflow) {
  EXPECT_FALSE(parse_duration("9223372036854775807d").has_value());
  EXPECT_EQ(parse_duration("9223372036854775807ms"), Duration(9223372036854775807LL));
}

TEST(Size, ParsesUnitsAndPlainBytes) {
  EXPECT_EQ(parse_size("0"), std::uint64_t{0});
  EXPECT_EQ(parse_size("1048576"), std::uint64_t{1048576});
  EXPECT_EQ(parse_size("100B"), std::uint64_t{100});
  EXPECT_EQ(parse_size("512KB"), std::uint64_t{512} * 1024);
  EXPECT_EQ(parse_size("25MB"), std::uint64_t{25} * 1024 * 1024);
  EXPECT_EQ(parse_size("1GB"), std::uint64_t{1024} * 1024 * 1024);
}

TEST(Size, RejectsOtherForms) {
  for (const char* text : {"", "MB", "25 MB", "25mb", "25M", "2.5MB", "-1", "+1", "1TB", " 1",
                           "1KiB", "99999999999999999999", "18446744073709551615GB"}) {
    EXPECT_FALSE(parse_size(text).has_value()) << text;
  }
}

}  // namespace
}  // namespace casedesk::config
