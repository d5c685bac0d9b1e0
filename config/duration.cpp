#include "config/config.hpp"

#include <cstdint>
#include <limits>

namespace casedesk::config {
namespace {

// Splits "123unit" into the number and the unit. Rejects signs, spaces, empty digits and overflow.
bool split_number(std::string_view text, std::uint64_t& number, std::string_view& unit) {
  std::size_t i = 0;
  std::uint64_t value = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    const auto digit = static_cast<std::uint64_t>(text[i] - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return false;
    value = value * 10 + digit;
    ++i;
  }
  if (i == 0) return false;
  number = value;
  unit = text.substr(i);
  return true;
}

std::optional<std::uint64_t> checked_multiply(std::uint64_t value, std::uint64_t factor,
                                              std::uint64_t limit) {
  if (value > limit / factor) return std::nullopt;
  return value * factor;
}

}  // namespace

std::optional<Duration> parse_duration(std::string_view text) {
  std::uint64_t number = 0;
  std::string_view unit;
  if (!split_number(text, number, unit)) return std::nullopt;

  std::uint64_t factor = 0;
  if (unit == "ms") {
    factor = 1;
  } else if (unit == "s") {
    factor = 1000;
  } else if (unit == "m") {
    factor = 60 * 1000;
  } else if (unit == "h") {
    factor = 60 * 60 * 1000;
  } else if (unit == "d") {
    factor = 24 * 60 * 60 * 1000;
  } else {
    return std::nullopt;
  }
  const auto limit = static_cast<std::uint64_t>(std::numeric_limits<Duration::rep>::max());
  const auto ms = checked_multiply(number, factor, limit);
  if (!ms) return std::nullopt;
  return Duration(static_cast<Duration::rep>(*ms));
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::uint64_t number = 0;
  std::string_view unit;
  if (!split_number(text, number, unit)) return std::nullopt;

  std::uint64_t factor = 0;
  if (unit.empty() || unit == "B") {
    factor = 1;
  } else if (unit == "KB") {
    factor = 1024;
  } else if (unit == "MB") {
    factor = 1024 * 1024;
  } else if (unit == "GB") {
    factor = 1024 * 1024 * 1024;
  } else {
    return std::nullopt;
  }
  return checked_multiply(number, factor, std::numeric_limits<std::uint64_t>::max());
}

}  // namespace casedesk::config
