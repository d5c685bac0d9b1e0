// PHI guard: hand-written scanners (no std::regex: bounded work on hostile input).

#include "parsers/phi.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <initializer_list>
#include <string_view>

namespace casedesk::parsers {

namespace {

constexpr std::size_t kMaxScan = 4u * 1024 * 1024;  // bytes per source

bool dig(char c) { return c >= '0' && c <= '9'; }
bool alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool alnum(char c) { return dig(c) || alpha(c); }
char low(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

struct Text {
  std::string_view t;
  char at(std::size_t i) const { return i < t.size() ? t[i] : '\0'; }
  std::size_t digits(std::size_t i) const {
    std::size_t e = i;
    while (e < t.size() && dig(t[e])) ++e;
    return e - i;
  }
  // Case-insensitive word (may contain spaces/punctuation) at i, bounded on both sides.
  bool phrase_at(std::size_t i, std::string_view lower_phrase) const {
    if (i + lower_phrase.size() > t.size()) return false;
    if (i > 0 && alnum(t[i - 1])) return false;
    for (std::size_t k = 0; k < lower_phrase.size(); ++k) {
      if (low(t[i + k]) != lower_phrase[k]) return false;
    }
    return !alnum(at(i + lower_phrase.size()));
  }
};

// ###-##-#### not glued to other digits or dashes.
bool has_ssn(const Text& x) {
  const auto& t = x.t;
  for (std::size_t i = 0; i + 11 <= t.size(); ++i) {
    if (i > 0 && (dig(t[i - 1]) || t[i - 1] == '-')) continue;
    if (x.digits(i) == 3 && t[i + 3] == '-' && x.digits(i + 4) == 2 && t[i + 6] == '-' && x.digits(i + 7) == 4 &&
        x.at(i + 11) != '-' && !dig(x.at(i + 11))) {
      return true;
    }
  }
  return false;
}

// A date at i: 1/2/1960, 01-02-60, 1960-01-02, Jan 2 1960, 2 January 1960.
bool date_at(const Text& x, std::size_t i) {
  std::size_t a = x.digits(i);
  if (a >= 1 && a <= 4) {
    char sep = x.at(i + a);
    if ((sep == '/' || sep == '-' || sep == '.') && x.digits(i + a + 1) >= 1 && x.digits(i + a + 1) <= 2) {
      std::size_t j = i + a + 1 + x.digits(i + a + 1);
      if (x.at(j) == sep && x.digits(j + 1) >= 2 && x.digits(j + 1) <= 4) return true;
    }
  }
  static constexpr std::array<std::string_view, 12> kMonths{"jan", "feb", "mar", "apr", "may", "jun",
                                                            "jul", "aug", "sep", "oct", "nov", "dec"};
  std::size_t j = i;
  if (a >= 1 && a <= 2) j = i + a + 1;  // "2 January 1960"
  for (auto m : kMonths) {
    bool ok = j + 3 <= x.t.size();
    for (std::size_t k = 0; ok && k < 3; ++k) ok = low(x.t[j + k]) == m[k];
    if (ok) {
      std::size_t e = j + 3;
      while (alpha(x.at(e))) ++e;
      for (std::size_t k = e; k < e + 4 && k < x.t.size(); ++k) {
        if (dig(x.at(k))) return true;
      }
    }
  }
  return false;
}

// A cue followed (within a few characters of ':', '#', '-', spaces, "is", "no.") by what `value` accepts.
template <typename F>
bool cue_then(const Text& x, std::initializer_list<std::string_view> cues, F value) {
  const auto& t = x.t;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (!alpha(t[i]) || (i > 0 && alnum(t[i - 1]))) continue;
    for (auto cue : cues) {
      if (!x.phrase_at(i, cue)) continue;
      std::size_t j = i + cue.size();
      for (std::size_t k = 0; k < 12 && j < t.size(); ++k) {
        char c = t[j];
        if (c == ':' || c == '#' || c == ' ' || c == '\t' || c == '-' || c == '.' || c == '=') {
          ++j;
        } else if (x.phrase_at(j, "no") || x.phrase_at(j, "is")) {
          j += 2;
        } else if (x.phrase_at(j, "number") || x.phrase_at(j, "id")) {
          j += x.phrase_at(j, "id") ? 2 : 6;
        } else {
          break;
        }
      }
      if (j < t.size() && value(j)) return true;
    }
  }
  return false;
}

// An identifier: 5-20 alphanumerics (dashes allowed) with at least 4 digits.
bool id_at(const Text& x, std::size_t i) {
  std::size_t e = i, d = 0;
  while (e < x.t.size() && (alnum(x.t[e]) || (x.t[e] == '-' && alnum(x.at(e + 1)))) && e - i < 24) {
    d += dig(x.t[e]);
    ++e;
  }
  return e - i >= 5 && e - i <= 20 && d >= 4;
}

// (555) 123-4567, 555-123-4567, 555.123.4567, +1 555 123 4567.
bool has_phone(const Text& x) {
  const auto& t = x.t;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (i > 0 && (dig(t[i - 1]) || t[i - 1] == '-' || t[i - 1] == '.' || t[i - 1] == '/')) continue;
    std::size_t j = i;
    if (t[j] == '(') {
      if (x.digits(j + 1) != 3 || x.at(j + 4) != ')') continue;
      j += 5;
      if (x.at(j) == ' ') ++j;
    } else if (x.digits(j) == 3) {
      j += 3;
      char s = x.at(j);
      if (s != '-' && s != '.' && s != ' ') continue;
      ++j;
    } else {
      continue;
    }
    if (x.digits(j) != 3) continue;
    j += 3;
    char s = x.at(j);
    if (s != '-' && s != '.' && s != ' ') continue;
    ++j;
    if (x.digits(j) != 4) continue;
    j += 4;
    if (dig(x.at(j)) || (x.at(j) == '-' && dig(x.at(j + 1)))) continue;
    return true;
  }
  return false;
}

bool capitalized_name_at(const Text& x, std::size_t i) {
  // "John Smith", "J. Smith", "SMITH, JOHN", "Smith, John"
  auto word = [&](std::size_t p) -> std::size_t {
    if (!(x.at(p) >= 'A' && x.at(p) <= 'Z')) return 0;
    std::size_t e = p + 1;
    while (alpha(x.at(e)) || x.at(e) == '\'') ++e;
    return e - p;
  };
  std::size_t a = word(i);
  if (a == 0) return false;
  std::size_t j = i + a;
  if (x.at(j) == '.' || x.at(j) == ',') ++j;
  if (x.at(j) != ' ') return false;
  return word(j + 1) >= 2;
}

}  // namespace

std::vector<std::string> detect_phi(const std::vector<TextSource>& sources) {
  bool ssn = false, dob = false, mrn = false, member = false, phone = false, name = false;
  for (const TextSource& src : sources) {
    Text x{src.text.substr(0, std::min(src.text.size(), kMaxScan))};
    ssn = ssn || has_ssn(x) ||
          cue_then(x, {"ssn", "social security", "social security number"}, [&](std::size_t j) { return x.digits(j) == 9; });
    dob = dob || cue_then(x, {"dob", "d.o.b", "date of birth", "birth date", "birthdate", "born"},
                          [&](std::size_t j) { return date_at(x, j); });
    mrn = mrn || cue_then(x, {"mrn", "mr", "medical record", "med rec", "chart"},
                          [&](std::size_t j) { return id_at(x, j); });
    member = member || cue_then(x, {"member", "member id", "subscriber", "subscriber id", "policy", "mbi", "medicare",
                                    "medicaid", "insurance id", "hicn"},
                                [&](std::size_t j) { return id_at(x, j); });
    phone = phone || has_phone(x);
    name = name || cue_then(x, {"patient", "patient name", "pt name", "pt", "patient's name", "name of patient"},
                            [&](std::size_t j) {
                              // only "Patient: Name" (a colon right after the cue), not "patient Smith"
                              std::size_t k = j;
                              while (k > 0 && (x.at(k - 1) == ' ' || x.at(k - 1) == '\t')) --k;
                              return k > 0 && x.at(k - 1) == ':' && capitalized_name_at(x, j);
                            });
  }
  std::vector<std::string> kinds;
  if (ssn) kinds.emplace_back("ssn");
  if (dob) kinds.emplace_back("dob");
  if (mrn) kinds.emplace_back("mrn");
  if (member) kinds.emplace_back("member_id");
  if (phone) kinds.emplace_back("phone");
  if (name) kinds.emplace_back("patient_name");
  return kinds;
}

}  // namespace casedesk::parsers
