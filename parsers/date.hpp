#pragma once
// RFC 5322 (and obsolete RFC 822/850) Date header parsing with the same acceptance rules as
// Python's email.utils.parsedate_to_datetime. Pure; never throws except std::bad_alloc.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace casedesk::parsers {

struct ParsedDate {
  std::string iso;           // "2003-04-23T14:19:23-07:00"; no offset when the zone is unknown or -0000
  std::int64_t epoch = 0;    // Unix seconds (unknown zone read as UTC)
  std::optional<int> offset_minutes;  // nullopt for -0000 / unknown zone
};

// Day name optional, 2-digit years (69-99 -> 19xx, else 20xx), named zones (UT, GMT, EST...),
// missing seconds, '.' time separators, trailing comments. Garbage -> nullopt.
std::optional<ParsedDate> parse_date(std::string_view value);

}  // namespace casedesk::parsers
