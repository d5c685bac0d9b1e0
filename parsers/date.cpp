#include "parsers/date.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <vector>

namespace casedesk::parsers {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

std::vector<std::string> split_ws(std::string_view s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size() && out.size() < 64) {
    while (i < s.size() && is_space(s[i])) ++i;
    std::size_t b = i;
    while (i < s.size() && !is_space(s[i])) ++i;
    if (i > b) out.emplace_back(s.substr(b, i - b));
  }
  return out;
}

constexpr std::array<std::string_view, 24> kMonths{
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december"};
constexpr std::array<std::string_view, 7> kDays{"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

int month_index(const std::string& m) {
  for (std::size_t i = 0; i < kMonths.size(); ++i) {
    if (kMonths[i] == m) return static_cast<int>(i % 12) + 1;
  }
  return 0;
}

// Python int(): optional sign, digits, surrounding whitespace already gone.
std::optional<long long> to_int(std::string_view s) {
  if (s.empty()) return std::nullopt;
  bool neg = false;
  std::size_t i = 0;
  if (s[0] == '+' || s[0] == '-') {
    neg = s[0] == '-';
    i = 1;
  }
  if (i == s.size() || s.size() - i > 12) return std::nullopt;
  long long v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] == '_' || s[i] < '0' || s[i] > '9') return std::nullopt;
    v = v * 10 + (s[i] - '0');
  }
  return neg ? -v : v;
}

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool leap(long long y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(long long y, int m) {
  static constexpr std::array<int, 12> kLen{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : kLen[static_cast<std::size_t>(m - 1)];
}

std::optional<int> named_zone(const std::string& tz) {
  struct Z {
    std::string_view name;
    int hhmm;
  };
  static constexpr std::array<Z, 14> kZones{Z{"UT", 0},     Z{"UTC", 0},    Z{"GMT", 0},    Z{"Z", 0},
                                            Z{"AST", -400}, Z{"ADT", -300}, Z{"EST", -500}, Z{"EDT", -400},
                                            Z{"CST", -600}, Z{"CDT", -500}, Z{"MST", -700}, Z{"MDT", -600},
                                            Z{"PST", -800}, Z{"PDT", -700}};
  for (const Z& z : kZones) {
    if (z.name == tz) return z.hhmm;
  }
  return std::nullopt;
}

}  // namespace

std::optional<ParsedDate> parse_date(std::string_view value) {
  std::vector<std::string> data = split_ws(value);
  if (data.empty()) return std::nullopt;
  if (data[0].back() == ',' ||
      std::find(kDays.begin(), kDays.end(), lower(data[0])) != kDays.end()) {
    data.erase(data.begin());
  } else if (auto c = data[0].rfind(','); c != std::string::npos) {
    data[0] = data[0].substr(c + 1);
  }
  if (data.size() == 3) {  // RFC 850: "23-Apr-03 14:19:23 GMT"
    std::vector<std::string> stuff;
    std::size_t b = 0;
    const std::string& d0 = data[0];
    for (std::size_t i = 0; i <= d0.size(); ++i) {
      if (i == d0.size() || d0[i] == '-') {
        stuff.push_back(d0.substr(b, i - b));
        b = i + 1;
      }
    }
    if (stuff.size() == 3) {
      stuff.push_back(data[1]);
      stuff.push_back(data[2]);
      data = std::move(stuff);
    }
  }
  if (data.size() == 4) {
    std::string s = data[3];
    auto i = s.find('+');
    if (i == std::string::npos) i = s.find('-');
    if (i != std::string::npos && i > 0) {
      data[3] = s.substr(0, i);
      data.push_back(s.substr(i));
    } else {
      data.emplace_back();
    }
  }
  if (data.size() < 5) return std::nullopt;
  std::string dd = data[0], mm = lower(data[1]), yy = data[2], tm = data[3], tz = data[4];
  if (dd.empty() || mm.empty() || yy.empty()) return std::nullopt;
  int month = month_index(mm);
  if (month == 0) {
    std::string tmp = lower(dd);
    dd = data[1];
    mm = tmp;
    month = month_index(mm);
    if (month == 0) return std::nullopt;
  }
  if (!dd.empty() && dd.back() == ',') dd.pop_back();
  if (auto c = yy.find(':'); c != std::string::npos && c > 0) std::swap(yy, tm);
  if (!yy.empty() && yy.back() == ',') {
    yy.pop_back();
    if (yy.empty()) return std::nullopt;
  }
  if (yy.empty()) return std::nullopt;
  if (!(yy[0] >= '0' && yy[0] <= '9')) std::swap(yy, tz);
  if (tm.empty()) return std::nullopt;
  if (tm.back() == ',') tm.pop_back();
  std::vector<std::string> t;
  auto split_on = [](const std::string& s, char sep) {
    std::vector<std::string> r;
    std::size_t b = 0;
    for (std::size_t i = 0; i <= s.size(); ++i) {
      if (i == s.size() || s[i] == sep) {
        r.push_back(s.substr(b, i - b));
        b = i + 1;
      }
    }
    return r;
  };
  t = split_on(tm, ':');
  if (t.size() == 1 && tm.find('.') != std::string::npos) t = split_on(tm, '.');
  if (t.size() == 2) t.emplace_back("0");
  if (t.size() != 3) return std::nullopt;
  auto year = to_int(yy), day = to_int(dd), hh = to_int(t[0]), mi = to_int(t[1]), ss = to_int(t[2]);
  if (!year || !day || !hh || !mi || !ss) return std::nullopt;
  long long y = *year;
  if (y < 100) y += y > 68 ? 1900 : 2000;
  std::optional<int> offset;  // minutes
  std::string tzu = tz;
  for (char& c : tzu) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  std::optional<long long> hhmm;
  if (auto z = named_zone(tzu)) {
    hhmm = *z;
  } else if (auto v = to_int(tzu)) {
    hhmm = *v;
    if (*v == 0 && !tzu.empty() && tzu[0] == '-') hhmm.reset();
  }
  if (hhmm) {
    long long v = *hhmm < 0 ? -*hhmm : *hhmm;
    long long minutes = (v / 100) * 60 + v % 100;
    if (minutes >= 24 * 60) return std::nullopt;  // Python's timezone() rejects it
    offset = static_cast<int>(*hhmm < 0 ? -minutes : minutes);
  }
  if (y < 1 || y > 9999 || *day < 1 || *day > days_in_month(y, month) || *hh < 0 || *hh > 23 ||
      *mi < 0 || *mi > 59 || *ss < 0 || *ss > 59) {
    return std::nullopt;
  }
  ParsedDate out;
  out.offset_minutes = offset;
  std::int64_t local = days_from_civil(y, static_cast<unsigned>(month), static_cast<unsigned>(*day)) * 86400 +
                       *hh * 3600 + *mi * 60 + *ss;
  out.epoch = local - (offset ? static_cast<std::int64_t>(*offset) * 60 : 0);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02d-%02lldT%02lld:%02lld:%02lld", y, month, *day, *hh, *mi, *ss);
  out.iso = buf;
  if (offset) {
    int o = *offset < 0 ? -*offset : *offset;
    std::snprintf(buf, sizeof buf, "%c%02d:%02d", *offset < 0 ? '-' : '+', o / 60, o % 60);
    out.iso += buf;
  }
  return out;
}

}  // namespace casedesk::parsers
