#pragma once
// Usage errors of the casedesk command line. CLI11's parse errors (codes 100 and above) become one
// message that names the unknown word and the closest command or option, and exit 64 (sysexits.h
// EX_USAGE); --help and --version keep CLI11's output and exit 0. Every line starts "casedesk: ".

#include <cstddef>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
class ParseError;
}  // namespace CLI

namespace casedesk::daemon {

// Levenshtein distance counting a swap of two adjacent characters as one edit (optimal string
// alignment), ASCII case-insensitive: edit_distance("lsit", "list") == 1.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate `word` most likely is a typo of: the closest one within two edits (and fewer edits
// than `word` has characters), else the only candidate `word` is a prefix of (two characters at
// least); the first in order on a tie; nullopt when none is close.
std::optional<std::string> closest_word(std::string_view word, const std::vector<std::string>& candidates);

// The message for a parse error of `app` (the root, after app.parse threw `e`), one or more lines:
//   casedesk: unknown command 'lst'; did you mean 'list'?
//   casedesk: see 'casedesk queue --help'
// An unknown word is the first word left unparsed by the innermost command given; it is an option
// when it starts with '-', a command when that command has subcommands, else an extra argument.
std::string usage_error_message(const CLI::App& app, const CLI::ParseError& e);

// The one catch point of app.parse: --help / --version print to `out` and return 0; any other
// parse error prints usage_error_message to `err` and returns 64.
int report_parse_error(const CLI::App& app, const CLI::ParseError& e, std::ostream& out, std::ostream& err);

}  // namespace casedesk::daemon
