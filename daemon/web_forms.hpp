#pragma once
// Small HTTP helpers for the web UI: URL targets, query strings and form bodies
// (application/x-www-form-urlencoded), cookies, and safe header values. Pure functions.

#include <map>
#include <string>
#include <string_view>

namespace casedesk::daemon {

// "%41+b" -> "A b" (with plus_is_space); malformed escapes are kept as written.
std::string url_decode(std::string_view s, bool plus_is_space = true);
// Percent-encodes everything but unreserved characters (RFC 3986).
std::string url_encode(std::string_view s);

// "/queue?status=new" -> path "/queue" (percent-decoded), query "status=new".
struct Target {
  std::string path;
  std::string query;
};
Target split_target(std::string_view target);

// "a=1&b=x+y" -> {a: "1", b: "x y"}. The first of repeated names wins; at most 200 fields.
std::map<std::string, std::string> parse_form(std::string_view body);

// "a=1; b=2" -> {a: "1", b: "2"} (the first of repeated names wins).
std::map<std::string, std::string> parse_cookies(std::string_view header);

// Equal strings, in time that does not depend on where they differ.
bool constant_time_equal(std::string_view a, std::string_view b);

// A Content-Disposition value for a download: `attachment; filename="ascii"; filename*=UTF-8''...`.
// Quotes, backslashes and control characters never reach the quoted form.
std::string attachment_disposition(std::string_view filename);

// A local redirect target: starts with one "/", no "//", no backslash, no control characters;
// anything else -> `fallback`.
std::string safe_local_path(std::string_view next, std::string_view fallback);

}  // namespace casedesk::daemon
