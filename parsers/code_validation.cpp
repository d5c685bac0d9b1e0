#include "parsers/code_validation.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <set>

#include "parsers/cpt_sections.hpp"

namespace casedesk::parsers {
namespace {

// Deleted codes worth a rule: codes people still write years later. Keep it small and sourced;
// sorted by code.
constexpr DeletedCode kDeleted[] = {
    {"64622", "2012-01-01", "64635 (lumbar/sacral facet joint, per joint)",
     "CPT 2012; shared/guide/CODES.md 2.3"},
    {"64623", "2012-01-01", "add-on 64636 (each additional lumbar/sacral facet joint)",
     "CPT 2012; shared/guide/CODES.md 2.3"},
    {"64626", "2012-01-01", "64633 (cervical/thoracic facet joint, per joint)",
     "CPT 2012; shared/guide/CODES.md 2.3"},
    {"64627", "2012-01-01", "add-on 64634 (each additional cervical/thoracic facet joint)",
     "CPT 2012; shared/guide/CODES.md 2.3"},
    {"99201", "2021-01-01", "99202-99205 (new patient office visit by MDM or time)", "CPT 2021 office E/M revision"},
    {"99217", "2023-01-01", "99238-99239 (discharge day management)", "CPT 2023 E/M revision"},
    {"99218", "2023-01-01", "99221-99223 (initial hospital inpatient or observation care)", "CPT 2023 E/M revision"},
    {"99219", "2023-01-01", "99221-99223 (initial hospital inpatient or observation care)", "CPT 2023 E/M revision"},
    {"99220", "2023-01-01", "99221-99223 (initial hospital inpatient or observation care)", "CPT 2023 E/M revision"},
    {"99224", "2023-01-01", "99231-99233 (subsequent hospital inpatient or observation care)",
     "CPT 2023 E/M revision"},
    {"99225", "2023-01-01", "99231-99233 (subsequent hospital inpatient or observation care)",
     "CPT 2023 E/M revision"},
    {"99226", "2023-01-01", "99231-99233 (subsequent hospital inpatient or observation care)",
     "CPT 2023 E/M revision"},
    {"99241", "2023-01-01", "99242-99245 (office consultation)", "CPT 2023 E/M revision"},
    {"99251", "2023-01-01", "99252-99255 (inpatient consultation)", "CPT 2023 E/M revision"},
    {"99343", "2023-01-01", "99341, 99342, 99344, 99345 (home or residence visit, new patient)",
     "CPT 2023 E/M revision"},
    {"99354", "2023-01-01", "99417 (CMS: G2212) prolonged services", "CPT 2023 E/M revision"},
    {"99355", "2023-01-01", "99417 (CMS: G2212) prolonged services", "CPT 2023 E/M revision"},
    {"99356", "2023-01-01", "99418 prolonged inpatient/observation services", "CPT 2023 E/M revision"},
    {"99357", "2023-01-01", "99418 prolonged inpatient/observation services", "CPT 2023 E/M revision"},
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_alnum(char c) { return is_digit(c) || is_upper(c); }

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_digit);
}

bool has(const std::vector<std::string>& v, std::string_view x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

std::string join(const std::vector<std::string>& v, std::string_view sep, std::size_t max = 0) {
  std::string out;
  std::size_t n = max ? std::min(max, v.size()) : v.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (i) out += sep;
    out += v[i];
  }
  if (n < v.size()) out += " and " + std::to_string(v.size() - n) + " more";
  return out;
}

std::string in_version(const std::optional<CodeInfo>& info, std::string_view fallback) {
  if (info && !info->version.empty()) return " (" + info->version + ")";
  return fallback.empty() ? std::string() : " (" + std::string(fallback) + ")";
}

// The display list of an ICD-10-CM header's children: all of them when few, else the next level
// ("S72.00-" = more characters needed).
std::vector<std::string> icd_child_list(const std::string& prefix, const std::vector<CodeInfo>& kids) {
  std::vector<std::string> out;
  if (kids.size() <= 8) {
    for (const auto& k : kids) out.push_back(icd10cm_dotted(normalize_code(k.code)));
    return out;
  }
  std::set<std::string> billable;
  for (const auto& k : kids) billable.insert(normalize_code(k.code));
  std::string last;
  for (const auto& k : kids) {
    std::string key = normalize_code(k.code).substr(0, prefix.size() + 1);
    if (key == last) continue;
    last = key;
    out.push_back(icd10cm_dotted(key) + (billable.count(key) ? "" : "-"));
  }
  return out;
}

void validate_icd10cm(Code& c, const CodeSetLookup* lookup) {
  if (!lookup || !lookup->has(CodeSystem::icd10cm)) {
    c.status = "format-only";
    c.notes.push_back("ICD-10-CM code set not loaded: format checked only");
    return;
  }
  const std::string u = normalize_code(c.code);
  if (auto info = lookup->find(CodeSystem::icd10cm, u)) {
    c.status = "billable";
    return;
  }
  const auto kids = lookup->children(CodeSystem::icd10cm, u);
  if (!kids.empty()) {
    c.status = "header";
    const bool needs_7th = u.size() == 6 && std::all_of(kids.begin(), kids.end(), [](const CodeInfo& k) {
                             return normalize_code(k.code).size() == 7;
                           });
    auto list = icd_child_list(u, kids);
    if (needs_7th)
      c.notes.push_back("not billable: " + c.code + " needs a 7th character, e.g. " + join(list, ", ", 12));
    else
      c.notes.push_back("not billable — " + c.code + " is a category header; use a more specific code such as " +
                        join(list, ", ", 12));
    return;
  }
  c.status = "invalid";
  std::vector<std::string> near;
  auto add_near = [&](const std::string& cand) {
    std::string d = icd10cm_dotted(cand);
    if (!has(near, d)) near.push_back(d);
  };
  // Placeholder X left out: "T78.40A" -> T78.40XA.
  if (u.size() >= 4 && u.size() <= 6 && is_upper(u.back())) {
    std::string cand = u.substr(0, u.size() - 1) + std::string(7 - u.size(), 'X') + u.back();
    if (lookup->find(CodeSystem::icd10cm, cand)) add_near(cand);
  }
  // Letter O / I typed for digit 0 / 1 (and back) after the first character.
  {
    std::string cand = u;
    for (std::size_t i = 1; i < cand.size(); ++i) {
      if (cand[i] == 'O') cand[i] = '0';
      else if (cand[i] == 'I') cand[i] = '1';
    }
    if (cand != u) {
      if (lookup->find(CodeSystem::icd10cm, cand)) add_near(cand);
      else if (!lookup->children(CodeSystem::icd10cm, cand).empty()) add_near(cand);
    }
  }
  // Siblings under the parent.
  if (near.empty() && u.size() > 3) {
    std::string parent = u.substr(0, u.size() - 1);
    auto sib = lookup->children(CodeSystem::icd10cm, parent);
    for (const auto& s : icd_child_list(parent, sib)) near.push_back(s);
  }
  std::string note = c.code + " is not in the ICD-10-CM code set";
  if (!near.empty()) note += "; did you mean " + join(near, ", ", 8) + "?";
  c.notes.push_back(note);
}

void validate_icd10pcs(Code& c, const CodeSetLookup* lookup) {
  if (!lookup || !lookup->has(CodeSystem::icd10pcs)) {
    c.status = "format-only";
    c.notes.push_back("ICD-10-PCS code set not loaded: format checked only");
    return;
  }
  if (lookup->find(CodeSystem::icd10pcs, c.code)) {
    c.status = "billable";
    return;
  }
  c.status = "invalid";
  c.notes.push_back(c.code + " is not in the ICD-10-PCS code set");
}

bool apply_deleted(Code& c) {
  auto d = find_deleted_code(c.code);
  if (!d) return false;
  c.status = "deleted";
  c.notes.push_back(c.code + " was deleted on " + std::string(d->deleted_on) + "; report " +
                    std::string(d->replacement) + " instead");
  return true;
}

void validate_hcpcs(Code& c, const CodeSetLookup* lookup, std::string_view as_of) {
  if (!lookup || !lookup->has(CodeSystem::hcpcs)) {
    if (apply_deleted(c)) return;
    c.status = "format-only";
    c.notes.push_back("HCPCS code set not loaded: format checked only");
    return;
  }
  const std::string u = normalize_code(c.code);
  if (auto info = lookup->find(CodeSystem::hcpcs, u)) {
    if (info->termination_date && *info->termination_date < as_of) {
      c.status = "terminated";
      c.notes.push_back(c.code + " was terminated on " + *info->termination_date + in_version(info, "") +
                        "; it cannot be reported for later dates of service");
      return;
    }
    c.status = "billable";
    if (info->termination_date)
      c.notes.push_back(c.code + " is terminated as of " + *info->termination_date);
    if (info->added_date && *info->added_date > as_of)
      c.notes.push_back(c.code + " is new, effective " + *info->added_date);
    return;
  }
  if (apply_deleted(c)) return;
  if (!u.empty() && u[0] == 'D') {
    c.status = "format-only";
    c.notes.push_back(c.code + " looks like a CDT dental code (ADA), which the CMS HCPCS file does not list");
    return;
  }
  c.status = "invalid";
  c.notes.push_back(c.code + " is not in the CMS HCPCS Level II file");
}

void validate_cpt(Code& c) {
  if (apply_deleted(c)) return;
  c.status = "format-only";
  const std::string u = normalize_code(c.code);
  auto ranges = cpt_ranges_of(u);
  std::vector<std::string> path;
  std::string family;
  for (const auto& r : ranges) {
    if (r.level == "ncci_chapter") continue;
    if (r.level == "code_format") {
      if (!all_digits(u)) family = std::string(r.label);
      continue;
    }
    std::string label(r.label);
    if (auto p = label.find(" ("); p != std::string::npos) label.resize(p);
    path.push_back(label);
  }
  std::string note = "CPT: format and section checked only (no AMA code file)";
  if (!family.empty()) {
    std::string label = family;
    if (auto p = label.find(':'); p != std::string::npos) label.resize(p);
    note += "; " + label;
  }
  if (!path.empty()) note += "; " + join(path, " > ");
  if (all_digits(u) && path.empty()) note += "; not inside any CPT section range — please check the code";
  c.notes.push_back(note);
  if (u.size() == 5 && u[4] == 'F')
    c.notes.push_back("Category II codes are performance-measurement codes: informational, not paid");
}

// The numeric span of a 5-digit CPT code or range, for "is X inside this entry".
struct Span {
  long lo = -1, hi = -1;
};
Span span_of(const Code& c) {
  const std::string u = normalize_code(c.code);
  if (c.system != CodeSystem::cpt || !all_digits(u)) return {};
  long lo = std::stol(u);
  long hi = lo;
  if (c.range_end && all_digits(*c.range_end)) hi = std::max(lo, std::stol(*c.range_end));
  return {lo, hi};
}

bool case_has_code(const std::vector<Code>& codes, const std::string& code, const Code* except) {
  const bool numeric = all_digits(code);
  const long n = numeric && code.size() <= 9 ? std::stol(code) : -1;
  for (const auto& c : codes) {
    if (&c == except) continue;
    if (normalize_code(c.code) == code) return true;
    if (numeric) {
      auto s = span_of(c);
      if (s.lo >= 0 && n >= s.lo && n <= s.hi) return true;
    }
  }
  return false;
}

bool is_em(const Code& c) {
  auto s = span_of(c);
  return s.lo >= 0 && s.hi >= 99202 && s.lo <= 99499;
}

}  // namespace

std::string icd10cm_dotted(std::string_view undotted) {
  std::string u(undotted);
  if (u.size() <= 3 || u.find('.') != std::string::npos) return u;
  return u.substr(0, 3) + "." + u.substr(3);
}

std::string normalize_code(std::string_view code) {
  std::string out;
  for (char ch : code) {
    if (ch == '.' || ch == ' ' || ch == '-' || ch == '\t') continue;
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  return out;
}

std::optional<DeletedCode> find_deleted_code(std::string_view code) {
  const std::string u = normalize_code(code);
  for (const auto& d : kDeleted)
    if (d.code == u) return d;
  return std::nullopt;
}

std::string today_utc() {
  const auto days = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
  const std::chrono::year_month_day ymd{days};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()));
  return buf;
}

std::vector<Code> codes_for_query(std::string_view query) {
  std::string q;
  for (char ch : query)
    if (ch != ' ' && ch != '\t') q += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  const auto dot = q.find('.');
  const std::string u = normalize_code(q);
  std::vector<Code> out;
  auto add = [&](CodeSystem s, std::string code) {
    Code c;
    c.system = s;
    c.code = std::move(code);
    out.push_back(std::move(c));
  };
  if (u.empty() || !std::all_of(u.begin(), u.end(), is_alnum)) return out;
  // ICD-10-CM: letter, digit (or QA0), alphanumeric; 3-7 characters; a dot only after the third.
  const bool icd_shape = u.size() >= 3 && u.size() <= 7 && is_upper(u[0]) &&
                         (is_digit(u[1]) || u.substr(0, 3) == "QA0") &&
                         (dot == std::string::npos || dot == 3);
  if (icd_shape) add(CodeSystem::icd10cm, icd10cm_dotted(u));
  if (dot != std::string::npos) return out;
  const bool pcs_shape = u.size() == 7 && std::all_of(u.begin(), u.end(), [](char ch) {
                           return is_alnum(ch) && ch != 'I' && ch != 'O';
                         });
  if (pcs_shape) add(CodeSystem::icd10pcs, u);
  if (u.size() == 5 && is_upper(u[0]) && all_digits(u.substr(1))) add(CodeSystem::hcpcs, u);
  if (u.size() == 5 && (all_digits(u) || (all_digits(u.substr(0, 4)) && std::string_view("FTUAM").find(u[4]) !=
                                                                             std::string_view::npos)))
    add(CodeSystem::cpt, u);
  return out;
}

void add_pcs_by_table(std::vector<Code>& codes, const std::vector<TextSource>& sources,
                      const CodeSetLookup* lookup) {
  if (!lookup || !lookup->has(CodeSystem::icd10pcs)) return;
  auto pcs_char = [](char ch) { return is_alnum(ch) && ch != 'I' && ch != 'O'; };
  // A neighbour that makes the token part of something longer: "ABC1234-01", "12.3456789".
  auto joins = [](std::string_view t, std::size_t i, int dir) {
    const char c = t[i];
    if (std::isalnum(static_cast<unsigned char>(c))) return true;
    if (c != '-' && c != '.' && c != '/' && c != '_') return false;
    const std::size_t j = dir < 0 ? (i == 0 ? std::string_view::npos : i - 1) : i + 1;
    return j < t.size() && std::isalnum(static_cast<unsigned char>(t[j]));
  };
  const std::size_t first_new = codes.size();
  for (const auto& src : sources) {
    const std::string_view t = src.text;
    const std::string place = src.where.rfind("attachment", 0) == 0 ? "attachment" : src.where;
    for (std::size_t i = 0; i + 7 <= t.size(); ++i) {
      if (i > 0 && joins(t, i - 1, -1)) continue;
      if (i + 7 < t.size() && joins(t, i + 7, +1)) continue;
      const std::string_view tok = t.substr(i, 7);
      if (!std::all_of(tok.begin(), tok.end(), pcs_char)) continue;
      if (!std::any_of(tok.begin(), tok.end(), is_digit) || !std::any_of(tok.begin(), tok.end(), is_upper)) continue;
      const std::string code(tok);
      auto known = std::find_if(codes.begin(), codes.end(), [&](const Code& c) {
        return c.system == CodeSystem::icd10pcs && c.code == code;
      });
      if (known != codes.end() && known - codes.begin() < static_cast<std::ptrdiff_t>(first_new)) continue;
      if (known == codes.end()) {
        if (!lookup->find(CodeSystem::icd10pcs, code)) continue;
        Code c;
        c.code = code;
        c.system = CodeSystem::icd10pcs;
        codes.push_back(std::move(c));
        known = codes.end() - 1;
      }
      if (!has(known->found_in, place)) known->found_in.push_back(place);
      CodeMention m;
      m.where = src.where;
      m.start = i;
      m.end = i + 7;
      known->mentions.push_back(std::move(m));
      i += 6;
    }
  }
}

std::string suggestion_narrative(const Message& message) {
  std::string out = message.subject.value_or("");
  out += '\n';
  out += message.reply_text.empty() ? message.body_text : message.reply_text;
  return out;
}

std::vector<Suggestion> suggest_codes(const CodeSetLookup* lookup, const Message& message,
                                      const std::vector<Code>& extracted, int limit) {
  std::vector<Suggestion> out;
  if (!lookup || limit <= 0 || !lookup->has(CodeSystem::icd10cm)) return out;
  std::set<std::string> named;
  for (const auto& c : extracted) {
    if (c.system == CodeSystem::icd10cm) named.insert(normalize_code(c.code));
    for (const auto& alt : c.alternatives)  // "ICD-10-CM:A01.00": the mail names that reading too
      if (alt.rfind("ICD-10-CM:", 0) == 0) named.insert(normalize_code(alt.substr(10)));
  }
  auto found = lookup->suggest(CodeSystem::icd10cm, suggestion_narrative(message),
                               limit + static_cast<int>(named.size()));
  for (auto& s : found) {
    if (named.count(normalize_code(s.code))) continue;
    out.push_back(std::move(s));
    if (static_cast<int>(out.size()) == limit) break;
  }
  return out;
}

std::vector<std::string> validate_codes(std::vector<Code>& codes, const CodeSetLookup* lookup,
                                        std::string_view as_of_in) {
  const std::string as_of = as_of_in.empty() ? today_utc() : std::string(as_of_in);
  std::vector<std::string> case_notes;
  for (auto& c : codes) {
    c.status.reset();
    c.notes.clear();
    // An alternative reading that is not in its loaded code set is no reading at all (an ICD-10-CM
    // category header still is one).
    if (lookup) {
      std::erase_if(c.alternatives, [&](const std::string& alt) {
        const auto colon = alt.find(':');
        if (colon == std::string::npos) return false;
        const auto sys = code_system_from_string(std::string_view(alt).substr(0, colon));
        if (!sys || !lookup->has(*sys)) return false;
        const std::string_view code = std::string_view(alt).substr(colon + 1);
        if (lookup->find(*sys, code)) return false;
        return !(*sys == CodeSystem::icd10cm && !lookup->children(*sys, code).empty());
      });
    }
    switch (c.system) {
      case CodeSystem::icd10cm: validate_icd10cm(c, lookup); break;
      case CodeSystem::icd10pcs: validate_icd10pcs(c, lookup); break;
      case CodeSystem::hcpcs: validate_hcpcs(c, lookup, as_of); break;
      case CodeSystem::cpt: validate_cpt(c); break;
    }
  }
  const bool aoc = lookup && lookup->has_add_on_edits();
  bool any_em = std::any_of(codes.begin(), codes.end(), is_em);
  for (auto& c : codes) {
    if (c.system != CodeSystem::cpt && c.system != CodeSystem::hcpcs) continue;
    const std::string u = normalize_code(c.code);
    if (aoc) {
      if (auto a = lookup->add_on(u)) {
        if (a->primaries.empty()) {
          c.notes.push_back("add-on code: its primary codes are defined by the Medicare contractor");
        } else {
          c.notes.push_back("add-on code: report it with a primary code (" + join(a->primaries, ", ", 10) + ")");
          const bool found = std::any_of(a->primaries.begin(), a->primaries.end(),
                                         [&](const std::string& p) { return case_has_code(codes, p, &c); });
          if (!found)
            case_notes.push_back(c.code + " is an add-on code: report it with " +
                                 (a->primaries.size() == 1 ? "its primary code " : "one of its primary codes ") +
                                 join(a->primaries, ", ", 10) + " (NCCI add-on code edits" +
                                 (a->version.empty() ? "" : ", " + a->version) +
                                 "); none of them was found in this case.");
        }
      }
    }
    const auto& m = c.modifiers;
    if (has(m, "50") && (has(m, "RT") || has(m, "LT")))
      case_notes.push_back(c.code + " has modifier 50 together with " + (has(m, "RT") && has(m, "LT") ? "RT and LT" : has(m, "RT") ? "RT" : "LT") +
                           ": a bilateral procedure is reported on one line with 50 (Medicare), without RT/LT.");
    if (has(m, "25") && !any_em)
      case_notes.push_back("Modifier 25 on " + c.code +
                           " marks a significant, separately identifiable E/M service, but no E/M code "
                           "(99202-99499) was found in this case.");
    if (has(m, "59")) {
      std::vector<std::string> x;
      for (const char* xm : {"XE", "XS", "XP", "XU"})
        if (has(m, xm)) x.push_back(xm);
      if (!x.empty())
        case_notes.push_back(c.code + " has both 59 and " + join(x, "/") +
                             ": report the X modifier alone, never together with 59.");
      else if (is_em(c))
        case_notes.push_back("Modifier 59 on " + c.code + ": 59 is not for E/M services; use 25.");
      else
        case_notes.push_back("Modifier 59 on " + c.code +
                             ": where one applies, the more specific XE (separate encounter), XS (separate "
                             "structure), XP (separate practitioner) or XU (unusual non-overlapping service) "
                             "is preferred over 59.");
    }
  }
  return case_notes;
}

}  // namespace casedesk::parsers
