#pragma once
// CPT section ranges: numeric facts only (no AMA descriptors), for format-only CPT validation.

#include <string_view>
#include <vector>

namespace casedesk::parsers {

struct CptRange {
  std::string_view level;     // "code_format", "section", "ncci_chapter", "surgery_subsection", ...
  std::string_view start;     // "10004", "0001F"
  std::string_view end;
  std::string_view label;     // generic section / anatomy name
  bool verified = false;      // false: boundaries compiled, not checked against the AMA book
};

// The whole table, in its order (broad to narrow).
const std::vector<CptRange>& cpt_ranges();

// The ranges that contain a CPT code ("64635", "3074F"), in table order; empty when none.
std::vector<CptRange> cpt_ranges_of(std::string_view code);

}  // namespace casedesk::parsers
