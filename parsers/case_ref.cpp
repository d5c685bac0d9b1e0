#include "parsers/case_ref.hpp"

#include <cctype>
#include <cstdio>

namespace casedesk::parsers {

std::string format_case_ref(std::string_view prefix, std::int64_t number) {
  char digits[32];
  std::snprintf(digits, sizeof digits, "%06lld", static_cast<long long>(number));
  std::string out(prefix);
  out += '-';
  out += digits;
  return out;
}

std::optional<std::string> find_case_ref(std::string_view text, std::string_view prefix) {
  if (prefix.empty()) return std::nullopt;
  for (std::size_t pos = text.find('['); pos != std::string_view::npos; pos = text.find('[', pos + 1)) {
    std::size_t i = pos + 1;
    if (text.size() - i < prefix.size() + 2) break;
    bool match = true;
    for (std::size_t k = 0; k < prefix.size(); ++k) {
      if (std::toupper(static_cast<unsigned char>(text[i + k])) !=
          std::toupper(static_cast<unsigned char>(prefix[k]))) {
        match = false;
        break;
      }
    }
    if (!match) continue;
    i += prefix.size();
    if (text[i] != '-') continue;
    ++i;
    std::size_t digits_begin = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    std::size_t ndigits = i - digits_begin;
    if (ndigits == 0 || ndigits > 12 || i >= text.size() || text[i] != ']') continue;
    std::string ref(prefix);
    ref += '-';
    ref.append(text.substr(digits_begin, ndigits));
    return ref;
  }
  return std::nullopt;
}

}  // namespace casedesk::parsers
