#pragma once
// RFC 2047 encoded words and RFC 2045/2231 header parameters. Pure functions; never throw except
// std::bad_alloc. All results are valid UTF-8.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace casedesk::parsers {

// Decodes every well-formed encoded word (=?charset?B|Q?text?=) in a header value; whitespace
// between two adjacent encoded words is dropped; malformed words stay as written. Raw 8-bit
// text is kept when it is UTF-8, else read as windows-1252.
std::string decode_encoded_words(std::string_view value);

// Strict base64 decoder in the style of Python's email package: skips non-alphabet bytes,
// stops at complete '=' padding, decodes a final partial quantum as if padded.
std::string decode_base64(std::string_view encoded);

// Quoted-printable body decoder (soft breaks, =XX, stray '=' kept, CRLF preserved).
std::string decode_quoted_printable(std::string_view encoded);

struct HeaderParams {
  std::string value;  // the part before the first ';', trimmed, lower-cased
  std::vector<std::pair<std::string, std::string>> params;  // lower-cased names, decoded UTF-8 values
};

// Parses "text/plain; charset=\"utf-8\"; name*0*=utf-8''a%20b; name*1=c" style values: quoted
// strings (';' inside quotes kept), RFC 2231 continuations and charset'lang'value, RFC 2047
// words inside values. A plain parameter wins over its RFC 2231 form, first occurrence wins.
HeaderParams parse_parameterized(std::string_view header_value);

// First parameter called `name` (lower-case).
std::optional<std::string> find_param(const HeaderParams& params, std::string_view name);

// Same parameter, but its bytes before charset decoding are not needed: returns the raw
// (unquoted, not RFC 2047-decoded) value, used for boundary and charset lookups.
std::optional<std::string> find_raw_param(std::string_view header_value, std::string_view name);

}  // namespace casedesk::parsers
