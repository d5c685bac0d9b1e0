#pragma once
// Our own case references ("CD-000123") as they appear in subjects ("[CD-000123]").

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace casedesk::parsers {

// "CD", 123 -> "CD-000123" (at least six digits).
std::string format_case_ref(std::string_view prefix, std::int64_t number);

// The first "[PREFIX-digits]" in text (prefix compared case-insensitively), as "PREFIX-digits"
// with the prefix as configured. nullopt when there is none.
std::optional<std::string> find_case_ref(std::string_view text, std::string_view prefix);

}  // namespace casedesk::parsers
