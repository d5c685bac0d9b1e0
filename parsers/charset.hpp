#pragma once
// Charset conversion to UTF-8 (glibc iconv). Pure functions, thread-safe, never throw except
// std::bad_alloc.

#include <string>
#include <string_view>

namespace casedesk::parsers {

// True when `bytes` is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF).
bool is_valid_utf8(std::string_view bytes);

// Copy of `bytes` with every ill-formed UTF-8 sequence replaced by U+FFFD.
std::string sanitize_utf8(std::string_view bytes);

// Canonical iconv name for a MIME charset label ("latin1" -> "ISO-8859-1",
// "ks_c_5601-1987" -> "CP949"); "" for labels that name no real charset ("x-unknown").
std::string canonical_charset(std::string_view label);

// Decodes `bytes` labelled `charset` into valid UTF-8. Ill-formed input becomes U+FFFD.
// An empty label means us-ascii. When the label is unknown (or names no charset), valid UTF-8
// passes through, else the bytes are read as windows-1252, and `warning` (if given) is set.
std::string to_utf8(std::string_view bytes, std::string_view charset, std::string* warning = nullptr);

// Appends code point `cp` as UTF-8 (invalid code points become U+FFFD).
void append_utf8(std::string& out, char32_t cp);

}  // namespace casedesk::parsers

namespace casedesk::parsers {

// Collapses every run of whitespace (ASCII and the Unicode spaces Python's str.isspace() knows,
// e.g. U+00A0, U+2003, U+3000) to one ' ' and trims both ends. Input must be valid UTF-8.
std::string collapse_whitespace(std::string_view utf8);

}  // namespace casedesk::parsers
