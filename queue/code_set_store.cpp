#include "queue/code_set_store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <unordered_map>

#include "parsers/code_validation.hpp"
#include "queue/sqlite_util.hpp"

namespace casedesk::queue {
namespace {

using detail::bind_opt;
using detail::sha256_hex;

using parsers::CodeSystem;

// Code-set schema, versioned in codeset_meta('schema_version'), independent of the case store's
// PRAGMA user_version. Never edit a released entry: append a new one.
const std::vector<const char*>& codeset_migrations() {
  static const std::vector<const char*> all = {
      R"sql(
CREATE TABLE codeset_imports(
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  source_name TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  row_count INTEGER NOT NULL,
  imported_at INTEGER NOT NULL,
  active INTEGER NOT NULL);
CREATE INDEX codeset_imports_kind ON codeset_imports(kind, active);
CREATE TABLE codeset_codes(
  system TEXT NOT NULL,
  code TEXT NOT NULL,
  import_id INTEGER NOT NULL REFERENCES codeset_imports(id),
  description TEXT NOT NULL,
  short_description TEXT NOT NULL DEFAULT '',
  added_date TEXT,
  effective_date TEXT,
  termination_date TEXT,
  action_code TEXT,
  PRIMARY KEY(system, code)) WITHOUT ROWID;
CREATE INDEX codeset_codes_import ON codeset_codes(import_id);
CREATE TABLE codeset_aoc(
  add_on TEXT NOT NULL,
  primary_code TEXT NOT NULL,
  import_id INTEGER NOT NULL REFERENCES codeset_imports(id),
  edit_type INTEGER NOT NULL,
  add_on_deleted TEXT,
  primary_deleted TEXT,
  edit_effective TEXT,
  edit_deleted TEXT,
  notes TEXT NOT NULL DEFAULT '');
CREATE INDEX codeset_aoc_add_on ON codeset_aoc(add_on);
CREATE INDEX codeset_aoc_import ON codeset_aoc(import_id);
)sql",
      // 2: full-text indexes of the ICD-10-CM and HCPCS descriptions for narrative suggestions,
      // built here for rows imported before; import_file rebuilds a set's index with its rows.
      R"sql(
CREATE VIRTUAL TABLE codeset_fts_icd10cm USING fts5(code UNINDEXED, description,
  tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE codeset_fts_hcpcs USING fts5(code UNINDEXED, description,
  tokenize = 'porter unicode61 remove_diacritics 2');
INSERT INTO codeset_fts_icd10cm(code, description)
  SELECT code, description FROM codeset_codes WHERE system = 'ICD-10-CM';
INSERT INTO codeset_fts_hcpcs(code, description)
  SELECT code, description FROM codeset_codes WHERE system = 'HCPCS';
INSERT INTO codeset_fts_icd10cm(codeset_fts_icd10cm) VALUES('optimize');
INSERT INTO codeset_fts_hcpcs(codeset_fts_hcpcs) VALUES('optimize');
)sql",
  };
  return all;
}

constexpr const char* kModifierSystem = "HCPCS-MODIFIER";

// The description index of a system (schema version 2), or null when it has none.
const char* fts_table(CodeSystem s) {
  switch (s) {
    case CodeSystem::icd10cm: return "codeset_fts_icd10cm";
    case CodeSystem::hcpcs: return "codeset_fts_hcpcs";
    default: return nullptr;
  }
}

std::string system_key(CodeSystem s) { return std::string(parsers::to_string(s)); }

std::optional<CodeSetKind> kind_from_string(std::string_view s) {
  for (auto k : {CodeSetKind::icd10cm, CodeSetKind::icd10pcs, CodeSetKind::hcpcs, CodeSetKind::aoc})
    if (to_string(k) == s) return k;
  return std::nullopt;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_pcs_char(char c) { return (is_digit(c) || is_upper(c)) && c != 'I' && c != 'O'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string_view strip_bom(std::string_view s) {
  if (s.substr(0, 3) == "\xEF\xBB\xBF") s.remove_prefix(3);
  return s;
}

// Header names compared without case, spaces, dashes and underscores: "Add-On_Code" = "addoncode".
std::string header_key(std::string_view s) {
  std::string out;
  for (char c : s)
    if (std::isalnum(static_cast<unsigned char>(c))) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Lines of a text file with their 1-based numbers; CR before LF dropped.
struct LineReader {
  std::string_view rest;
  std::size_t number = 0;
  bool next(std::string_view& line) {
    if (rest.empty()) return false;
    auto nl = rest.find('\n');
    line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    ++number;
    return true;
  }
};

// RFC 4180 records (quoted fields may hold commas, quotes and line breaks); `line` is the line
// the record starts on.
struct CsvReader {
  std::string_view rest;
  std::size_t line_no = 1;
  std::size_t line = 0;
  bool next(std::vector<std::string>& fields) {
    fields.clear();
    if (rest.empty()) return false;
    line = line_no;
    std::string field;
    bool quoted = false;
    std::size_t i = 0;
    for (; i < rest.size(); ++i) {
      char c = rest[i];
      if (quoted) {
        if (c == '"') {
          if (i + 1 < rest.size() && rest[i + 1] == '"') {
            field += '"';
            ++i;
          } else {
            quoted = false;
          }
        } else {
          if (c == '\n') ++line_no;
          field += c;
        }
        continue;
      }
      if (c == '"') {
        quoted = true;
      } else if (c == ',') {
        fields.push_back(std::move(field));
        field.clear();
      } else if (c == '\n') {
        ++line_no;
        ++i;
        break;
      } else if (c != '\r') {
        field += c;
      }
    }
    fields.push_back(std::move(field));
    rest = rest.substr(std::min(i, rest.size()));
    return true;
  }
};

struct CodeRow {
  std::string system;
  std::string code;
  std::string description;
  std::string short_description;
  std::optional<std::string> added, effective, terminated, action;
  std::size_t line = 0;
};

struct AocRow {
  std::string add_on, primary;
  int edit_type = 1;
  std::optional<std::string> add_on_deleted, primary_deleted, effective, deleted;
  std::string notes;
  std::size_t line = 0;
};

struct Parsed {
  std::vector<CodeRow> codes;
  std::vector<AocRow> aoc;
  std::size_t rows() const { return codes.size() + aoc.size(); }
};

std::optional<std::string> opt(std::string_view s) {
  s = trim(s);
  if (s.empty()) return std::nullopt;
  return std::string(s);
}

bool valid_ymd(int y, int m, int d) { return y >= 1900 && y <= 2999 && m >= 1 && m <= 12 && d >= 1 && d <= 31; }

// YYYYMMDD -> YYYY-MM-DD
std::optional<std::string> ymd_date(std::string_view s, const std::filesystem::path& file, std::size_t line,
                                    std::string_view column) {
  s = trim(s);
  if (s.empty()) return std::nullopt;
  if (s.size() != 8 || !std::all_of(s.begin(), s.end(), is_digit) ||
      !valid_ymd(std::stoi(std::string(s.substr(0, 4))), std::stoi(std::string(s.substr(4, 2))),
                 std::stoi(std::string(s.substr(6, 2)))))
    throw CodeSetFormatError(file, line, std::string(column) + ": expected a date YYYYMMDD, got \"" + std::string(s) + "\"");
  return std::string(s.substr(0, 4)) + "-" + std::string(s.substr(4, 2)) + "-" + std::string(s.substr(6, 2));
}

// YYYYJJJ (year + day of year, NCCI) -> YYYY-MM-DD
std::optional<std::string> julian_date(std::string_view s, const std::filesystem::path& file, std::size_t line,
                                       std::string_view column) {
  s = trim(s);
  if (s.empty()) return std::nullopt;
  auto bad = [&] {
    return CodeSetFormatError(file, line,
                              std::string(column) + ": expected a date YYYYJJJ, got \"" + std::string(s) + "\"");
  };
  if (s.size() != 7 || !std::all_of(s.begin(), s.end(), is_digit)) throw bad();
  const int y = std::stoi(std::string(s.substr(0, 4)));
  int doy = std::stoi(std::string(s.substr(4)));
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (y < 1900 || doy < 1 || doy > (leap ? 366 : 365)) throw bad();
  static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int m = 0;
  while (true) {
    int dm = days[m] + (m == 1 && leap ? 1 : 0);
    if (doy <= dm) break;
    doy -= dm;
    ++m;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, m + 1, doy);
  return std::string(buf);
}

// "code, padding, title" lines of the ICD-10-CM and ICD-10-PCS codes files.
bool split_code_line(std::string_view line, std::string_view& code, std::string_view& title) {
  auto sp = line.find(' ');
  if (sp == std::string_view::npos) return false;
  code = line.substr(0, sp);
  title = trim(line.substr(sp));
  return !code.empty() && !title.empty();
}

bool icd10cm_code(std::string_view c) {
  return c.size() >= 3 && c.size() <= 7 && is_upper(c[0]) && (is_digit(c[1]) || c.substr(0, 3) == "QA0") &&
         std::all_of(c.begin(), c.end(), [](char ch) { return is_digit(ch) || is_upper(ch); });
}

bool icd10pcs_code(std::string_view c) { return c.size() == 7 && std::all_of(c.begin(), c.end(), is_pcs_char); }

Parsed parse_line_codes(std::string_view content, const std::filesystem::path& file, CodeSetKind kind) {
  Parsed p;
  LineReader r{strip_bom(content)};
  std::string_view line;
  const bool cm = kind == CodeSetKind::icd10cm;
  while (r.next(line)) {
    if (trim(line).empty()) continue;
    std::string_view code, title;
    if (!split_code_line(line, code, title) || !(cm ? icd10cm_code(code) : icd10pcs_code(code)))
      throw CodeSetFormatError(file, r.number,
                               cm ? "expected an undotted ICD-10-CM code (e.g. M5450) followed by its title"
                                  : "expected a 7-character ICD-10-PCS code followed by a space and its title");
    CodeRow row;
    row.system = system_key(cm ? CodeSystem::icd10cm : CodeSystem::icd10pcs);
    row.code = std::string(code);
    row.description = std::string(title);
    row.line = r.number;
    p.codes.push_back(std::move(row));
  }
  if (p.codes.empty()) throw CodeSetFormatError(file, 0, "no codes");
  return p;
}

std::map<std::string, std::size_t> header_index(const std::vector<std::string>& header) {
  std::map<std::string, std::size_t> idx;
  for (std::size_t i = 0; i < header.size(); ++i) idx.emplace(header_key(header[i]), i);
  return idx;
}

std::size_t need_column(const std::map<std::string, std::size_t>& idx, std::string_view name,
                        const std::filesystem::path& file, std::size_t line) {
  auto it = idx.find(header_key(name));
  if (it == idx.end()) throw CodeSetFormatError(file, line, "header has no column \"" + std::string(name) + "\"");
  return it->second;
}

std::string field(const std::vector<std::string>& f, std::size_t i) { return i < f.size() ? f[i] : std::string(); }

Parsed parse_hcpcs(std::string_view content, const std::filesystem::path& file) {
  Parsed p;
  CsvReader r{strip_bom(content)};
  std::vector<std::string> f;
  if (!r.next(f)) throw CodeSetFormatError(file, 1, "empty file");
  const auto idx = header_index(f);
  const std::size_t hdr = r.line;
  const auto c_code = need_column(idx, "HCPC", file, hdr), c_recid = need_column(idx, "RECID", file, hdr),
             c_long = need_column(idx, "LONG DESCRIPTION", file, hdr),
             c_short = need_column(idx, "SHORT DESCRIPTION", file, hdr), c_add = need_column(idx, "ADD DT", file, hdr),
             c_eff = need_column(idx, "ACT EFF DT", file, hdr), c_term = need_column(idx, "TERM DT", file, hdr),
             c_action = need_column(idx, "ACTION CD", file, hdr);
  while (r.next(f)) {
    if (f.size() == 1 && trim(f[0]).empty()) continue;
    const std::string recid(trim(field(f, c_recid)));
    const std::string code(trim(field(f, c_code)));
    if (recid == "4" || recid == "8") {  // continuation of the previous record's long description
      if (p.codes.empty() || p.codes.back().code != code)
        throw CodeSetFormatError(file, r.line, "continuation record for " + code + " without its main record");
      p.codes.back().description += " " + std::string(trim(field(f, c_long)));
      continue;
    }
    CodeRow row;
    row.line = r.line;
    if (recid == "3") {
      if (code.size() != 5 || !is_upper(code[0]) || !std::all_of(code.begin() + 1, code.end(), is_digit))
        throw CodeSetFormatError(file, r.line, "HCPC: expected a Level II code (letter + 4 digits), got \"" + code + "\"");
      row.system = system_key(CodeSystem::hcpcs);
    } else if (recid == "7") {
      if (code.size() != 2 || !std::all_of(code.begin(), code.end(), [](char c) { return is_digit(c) || is_upper(c); }))
        throw CodeSetFormatError(file, r.line, "HCPC: expected a 2-character modifier, got \"" + code + "\"");
      row.system = kModifierSystem;
    } else {
      throw CodeSetFormatError(file, r.line, "RECID: expected 3, 4, 7 or 8, got \"" + recid + "\"");
    }
    row.code = code;
    row.description = std::string(trim(field(f, c_long)));
    row.short_description = std::string(trim(field(f, c_short)));
    row.added = ymd_date(field(f, c_add), file, r.line, "ADD DT");
    row.effective = ymd_date(field(f, c_eff), file, r.line, "ACT EFF DT");
    row.terminated = ymd_date(field(f, c_term), file, r.line, "TERM DT");
    row.action = opt(field(f, c_action));
    p.codes.push_back(std::move(row));
  }
  if (p.codes.empty()) throw CodeSetFormatError(file, 0, "no HCPCS records");
  return p;
}

bool aoc_header(const std::vector<std::string>& f) {
  bool type = false, add_on = false, primary = false;
  for (const auto& s : f) {
    auto k = header_key(s);
    type = type || (k == "aocedittype" && trim(s).size() <= 16);
    add_on = add_on || (k == "addoncode" && trim(s).size() <= 16);
    primary = primary || (k == "primarycode" && trim(s).size() <= 16);
  }
  return type && add_on && primary;
}

bool code5(std::string_view c) {
  return c.size() == 5 && std::all_of(c.begin(), c.end(), [](char ch) { return is_digit(ch) || is_upper(ch); });
}

Parsed parse_aoc(std::string_view content, const std::filesystem::path& file) {
  Parsed p;
  CsvReader r{strip_bom(content)};
  std::vector<std::string> f;
  bool found = false;
  for (int i = 0; i < 20 && r.next(f); ++i)
    if (aoc_header(f)) {
      found = true;
      break;
    }
  if (!found) throw CodeSetFormatError(file, 0, "no header with Add-On_Code and Primary_Code");
  const auto idx = header_index(f);
  const std::size_t hdr = r.line;
  const auto c_type = need_column(idx, "AOC_Edit_Type", file, hdr), c_add = need_column(idx, "Add-On_Code", file, hdr),
             c_add_del = need_column(idx, "AOC_DelDT", file, hdr), c_prim = need_column(idx, "Primary_Code", file, hdr),
             c_prim_del = need_column(idx, "Primary_Code_DelDT", file, hdr),
             c_eff = need_column(idx, "AOC_Edit_EffDT", file, hdr), c_del = need_column(idx, "AOC_Edit_DelDT", file, hdr);
  const auto notes_it = idx.find("specialinstructionnotes");
  while (r.next(f)) {
    if (f.size() == 1 && trim(f[0]).empty()) continue;
    AocRow row;
    row.line = r.line;
    const std::string type(trim(field(f, c_type)));
    if (type != "1" && type != "2" && type != "3")
      throw CodeSetFormatError(file, r.line, "AOC_Edit_Type: expected 1, 2 or 3, got \"" + type + "\"");
    row.edit_type = type[0] - '0';
    row.add_on = std::string(trim(field(f, c_add)));
    row.primary = std::string(trim(field(f, c_prim)));
    if (!code5(row.add_on))
      throw CodeSetFormatError(file, r.line, "Add-On_Code: expected a 5-character code, got \"" + row.add_on + "\"");
    if (!code5(row.primary))
      throw CodeSetFormatError(file, r.line, "Primary_Code: expected a 5-character code, got \"" + row.primary + "\"");
    row.add_on_deleted = julian_date(field(f, c_add_del), file, r.line, "AOC_DelDT");
    row.primary_deleted = julian_date(field(f, c_prim_del), file, r.line, "Primary_Code_DelDT");
    row.effective = julian_date(field(f, c_eff), file, r.line, "AOC_Edit_EffDT");
    row.deleted = julian_date(field(f, c_del), file, r.line, "AOC_Edit_DelDT");
    if (notes_it != idx.end()) row.notes = std::string(trim(field(f, notes_it->second)));
    p.aoc.push_back(std::move(row));
  }
  if (p.aoc.empty()) throw CodeSetFormatError(file, 0, "no add-on code edits");
  return p;
}

// --- narrative suggestions ---------------------------------------------------------------------

// Words that carry no clinical meaning in a coding question: English function words, the
// vocabulary of mail and of billing itself, and the filler words of ICD-10-CM titles. Sorted.
constexpr std::string_view kSkipWords[] = {
    "abn", "about", "above", "accept", "accepted", "account", "added", "adding", "additional", "advice", "advise",
    "after", "again", "against", "all", "allowed", "also", "always", "and", "another", "any", "anyone", "anything",
    "aoc", "appeal", "appealed", "appeals", "appreciate", "are", "around", "asap", "ask", "asked", "asking",
    "attached", "audit", "auth", "authorization", "because", "been", "before", "being", "below", "best", "better",
    "between", "bill", "billable", "billed", "biller", "billers", "billing", "bills", "both", "but", "call", "called",
    "can", "cannot", "case", "cases", "cdt", "change", "changed", "charge", "charges", "chart", "check", "checked",
    "cheers", "claim", "claims", "clarify", "clinic", "cms", "code", "coded", "coder", "coders", "codes", "coding",
    "colleague", "come", "commercial", "company", "confirm", "confirmed", "correct", "correctly", "could", "coverage",
    "covered", "cpt", "current", "currently", "date", "dates", "day", "days", "dear", "denial", "denials", "denied",
    "denies", "deny", "department", "dept", "did", "doctor", "doctors", "document", "documentation", "documented",
    "does", "doing", "done", "down", "during", "each", "either", "else", "email", "enough", "eob", "era",
    "established", "etc", "even", "ever", "every", "example", "fax", "few", "find", "fine", "follow", "followup",
    "for", "form", "forward", "forwarded", "from", "further", "get", "gets", "getting", "give", "given", "going",
    "good", "got", "guidance", "guideline", "guidelines", "had", "has", "have", "having", "hcpcs", "hello", "help",
    "her", "here", "hers", "hey", "him", "his", "how", "however", "icd", "idea", "instead", "insurance", "insurer",
    "into", "its", "itself", "just", "keep", "know", "last", "later", "let", "like", "line", "lines", "list",
    "listed", "look", "looked", "looking", "looks", "made", "mail", "make", "many", "may", "maybe", "medicaid",
    "medicare", "message", "might", "mine", "mod", "modifier", "modifiers", "month", "months", "more", "most", "much",
    "must", "myself", "ncci", "need", "needed", "needs", "never", "new", "next", "nor", "not", "note", "noted",
    "notes", "now", "npi", "off", "office", "okay", "once", "one", "only", "other", "others", "ought", "our", "ours",
    "ourselves", "out", "over", "own", "paid", "patient", "patients", "pay", "payer", "payers", "payment", "payments",
    "per", "perform", "performed", "phone", "physician", "physicians", "plan", "please", "policy", "posted",
    "practice", "prior", "probably", "procedure", "procedures", "provider", "providers", "put", "question",
    "questions", "quick", "rather", "really", "reason", "received", "regards", "reimbursement", "rejected", "remark",
    "report", "reported", "reporting", "reports", "request", "resubmit", "review", "reviewed", "said", "same", "say",
    "says", "see", "seems", "sent", "separate", "separately", "service", "services", "shall", "she", "should",
    "since", "sincerely", "some", "someone", "something", "staff", "still", "submit", "submitted", "such", "sure",
    "take", "team", "tell", "than", "thank", "thanks", "that", "the", "their", "theirs", "them", "themselves", "then",
    "there", "these", "they", "thing", "think", "this", "those", "though", "thought", "through", "thx", "time",
    "times", "today", "told", "tomorrow", "too", "two", "under", "unit", "units", "unspecified", "until", "upon",
    "use", "used", "using", "very", "via", "visit", "visits", "want", "wanted", "was", "way", "week", "weeks", "well",
    "were", "what", "when", "where", "whether", "which", "while", "who", "whom", "why", "will", "with", "within",
    "without", "wondering", "would", "year", "years", "yes", "yesterday", "yet", "you", "your", "yours", "yourself",
};

// Clinical abbreviations as written in mail, spelled out in the words of ICD-10-CM and HCPCS
// titles. Sorted by abbreviation.
struct Abbreviation {
  std::string_view abbr;
  std::string_view words;
};
constexpr Abbreviation kAbbreviations[] = {
    {"adhd", "attention deficit hyperactivity disorder"},
    {"afib", "atrial fibrillation"},
    {"aki", "acute kidney failure"},
    {"bilat", "bilateral"},
    {"bph", "benign prostatic hyperplasia"},
    {"cad", "coronary atherosclerosis heart disease"},
    {"chf", "congestive heart failure"},
    {"ckd", "chronic kidney disease"},
    {"copd", "chronic obstructive pulmonary disease"},
    {"cva", "cerebral infarction"},
    {"ddd", "intervertebral disc degeneration"},
    {"djd", "osteoarthritis"},
    {"dm", "diabetes mellitus"},
    {"dvt", "deep vein thrombosis"},
    {"esrd", "end stage renal disease"},
    {"fx", "fracture"},
    {"gerd", "gastro esophageal reflux disease"},
    {"hld", "hyperlipidemia"},
    {"htn", "hypertension"},
    {"l", "left"},
    {"lbp", "low back pain"},
    {"lt", "left"},
    {"mdd", "major depressive disorder"},
    {"oa", "osteoarthritis"},
    {"osa", "obstructive sleep apnea"},
    {"pvd", "peripheral vascular disease"},
    {"r", "right"},
    {"ra", "rheumatoid arthritis"},
    {"rt", "right"},
    {"sob", "shortness breath"},
    {"tia", "transient ischemic attack"},
    {"uri", "upper respiratory infection"},
    {"uti", "urinary tract infection"},
};

bool skip_word(std::string_view w) { return std::binary_search(std::begin(kSkipWords), std::end(kSkipWords), w); }

std::optional<std::string_view> spelled_out(std::string_view w) {
  auto it = std::lower_bound(std::begin(kAbbreviations), std::end(kAbbreviations), w,
                             [](const Abbreviation& a, std::string_view x) { return a.abbr < x; });
  if (it != std::end(kAbbreviations) && it->abbr == w) return it->words;
  return std::nullopt;
}

// At most this many distinct words go into one query (the subject's and the first ones written).
constexpr std::size_t kMaxQueryWords = 64;
// At most this many ICD-10-CM suggestions of one category (the first three characters).
constexpr int kPerCategory = 2;
// A word in at least this share of a set's titles is "common": it does not select candidates,
// it only adds to their score.
constexpr double kCommonShare = 0.1;

// The distinct words of a narrative that a suggestion query uses (see suggestion_query).
std::vector<std::string> suggestion_words(std::string_view narrative) {
  std::vector<std::string> words;
  auto add = [&](std::string_view w) {
    if (w.size() < 3 || skip_word(w) || words.size() >= kMaxQueryWords) return;
    if (std::find(words.begin(), words.end(), w) == words.end()) words.emplace_back(w);
  };
  auto take = [&](std::string_view token) {
    if (token.empty()) return;
    std::string w;
    bool digit = false;
    for (char c : token) {
      digit = digit || is_digit(c);
      w += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (digit) return;  // codes, numbers, dates, vertebral levels
    if (auto long_form = spelled_out(w)) {
      std::string_view rest = *long_form;
      while (!rest.empty()) {
        auto sp = rest.find(' ');
        add(rest.substr(0, sp));
        rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
      }
      return;
    }
    add(w);
  };
  // ASCII letters and digits make words; so do UTF-8 Latin-1 letters (C3 xx: "naïve"). Everything
  // else (punctuation, dashes, other scripts) separates them.
  std::size_t start = 0, i = 0;
  while (i < narrative.size()) {
    const unsigned char c = static_cast<unsigned char>(narrative[i]);
    if (std::isalnum(c)) {
      ++i;
    } else if (c == 0xC3 && i + 1 < narrative.size() && (static_cast<unsigned char>(narrative[i + 1]) & 0xC0) == 0x80) {
      i += 2;
    } else {
      take(narrative.substr(start, i - start));
      start = ++i;
    }
  }
  take(narrative.substr(start));
  return words;
}

std::string read_all(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw StoreError("cannot open " + file.string());
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) throw StoreError("cannot read " + file.string());
  return buf.str();
}

}  // namespace

CodeSetFormatError::CodeSetFormatError(std::filesystem::path file, std::size_t line, const std::string& what)
    : StoreError(file.string() + (line ? ":" + std::to_string(line) : std::string()) + ": " + what),
      file_(std::move(file)),
      line_(line) {}

std::string_view to_string(CodeSetKind k) {
  switch (k) {
    case CodeSetKind::icd10cm: return "icd10cm";
    case CodeSetKind::icd10pcs: return "icd10pcs";
    case CodeSetKind::hcpcs: return "hcpcs";
    case CodeSetKind::aoc: return "aoc";
  }
  return "?";
}

std::string_view to_string(ImportResult::Outcome o) {
  switch (o) {
    case ImportResult::Outcome::imported: return "imported";
    case ImportResult::Outcome::replaced: return "replaced";
    case ImportResult::Outcome::unchanged: return "unchanged";
  }
  return "?";
}

std::optional<CodeSetKind> recognise_code_set(std::string_view content) {
  content = strip_bom(content);
  // CSV kinds: by header.
  {
    CsvReader r{content.substr(0, 64 * 1024)};
    std::vector<std::string> f;
    for (int i = 0; i < 20 && r.next(f); ++i) {
      if (aoc_header(f)) return CodeSetKind::aoc;
      if (i == 0) {
        auto idx = header_index(f);
        if (idx.count("hcpc") && idx.count("recid") && idx.count("longdescription")) return CodeSetKind::hcpcs;
      }
    }
  }
  // Line kinds: the first three non-empty lines are "code title" (later lines are checked by the
  // importer, which names the line of a problem).
  LineReader r{content.substr(0, 64 * 1024)};
  std::string_view line;
  int seen = 0;
  bool digit_first = false, all_pcs = true, all_cm = true;
  while (seen < 3 && r.next(line)) {
    if (trim(line).empty()) continue;
    if (r.rest.empty() && content.size() > 64 * 1024) break;  // possibly cut in the middle
    std::string_view code, title;
    if (!split_code_line(line, code, title)) return std::nullopt;
    all_pcs = all_pcs && icd10pcs_code(code) && line.size() > 8 && line[7] == ' ' && line[8] != ' ';
    all_cm = all_cm && icd10cm_code(code);
    digit_first = digit_first || is_digit(code[0]);
    ++seen;
  }
  if (seen == 0) return std::nullopt;
  if (all_pcs && digit_first) return CodeSetKind::icd10pcs;
  if (all_cm) return CodeSetKind::icd10cm;
  return std::nullopt;
}

struct CodeSetStore::Impl {
  SQLite::Database db;
  bool read_only;
  std::vector<CodeSetKind> active;  // kinds with an active import
  bool has_fts = false;             // the description indexes exist (schema version >= 2)

  // Narrative suggestions. SQLite's own tokenizer of the index (porter over unicode61), to stem
  // the narrative's words and the candidates' titles exactly as the index does; and each index's
  // term statistics, read at the first suggest and dropped by an import.
  struct TermStats {
    std::unordered_map<std::string, std::int64_t> doc_freq;  // stem -> titles containing it
    double rows = 0;
    double avg_len = 0;  // tokens per title
  };
  std::map<CodeSystem, TermStats> term_stats;
  fts5_tokenizer porter{};
  Fts5Tokenizer* stemmer = nullptr;
  bool stemmer_failed = false;

  ~Impl() {
    if (stemmer) porter.xDelete(stemmer);  // before the connection that owns the tokenizer module
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  bool ensure_stemmer() {
    if (stemmer || stemmer_failed) return stemmer != nullptr;
    stemmer_failed = true;
    fts5_api* api = nullptr;
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db.getHandle(), "SELECT fts5(?1)", -1, &st, nullptr) != SQLITE_OK) return false;
    sqlite3_bind_pointer(st, 1, static_cast<void*>(&api), "fts5_api_ptr", nullptr);
    sqlite3_step(st);
    sqlite3_finalize(st);
    if (!api || api->iVersion < 2) return false;
    void* user = nullptr;
    if (api->xFindTokenizer(api, "porter", &user, &porter) != SQLITE_OK) return false;
    const char* args[] = {"unicode61", "remove_diacritics", "2"};  // as in the index's tokenize option
    if (porter.xCreate(user, args, 3, &stemmer) != SQLITE_OK) {
      stemmer = nullptr;
      return false;
    }
    stemmer_failed = false;
    return true;
  }

  std::vector<std::string> stems(std::string_view text) {
    std::vector<std::string> out;
    auto add = [](void* ctx, int, const char* token, int n, int, int) -> int {
      static_cast<std::vector<std::string>*>(ctx)->emplace_back(token, static_cast<std::size_t>(n));
      return SQLITE_OK;
    };
    porter.xTokenize(stemmer, &out, FTS5_TOKENIZE_DOCUMENT, text.data(), static_cast<int>(text.size()), add);
    return out;
  }

  const TermStats& stats(CodeSystem system) {
    auto it = term_stats.find(system);
    if (it != term_stats.end()) return it->second;
    TermStats t;
    const std::string table = fts_table(system);
    db.exec("CREATE VIRTUAL TABLE IF NOT EXISTS temp." + table + "_vocab USING fts5vocab(main, " + table + ", 'row')");
    SQLite::Statement q(db, "SELECT term, doc, cnt FROM temp." + table + "_vocab");
    double tokens = 0;
    while (q.executeStep()) {
      t.doc_freq.emplace(q.getColumn(0).getString(), q.getColumn(1).getInt64());
      tokens += static_cast<double>(q.getColumn(2).getInt64());
    }
    SQLite::Statement n(db, "SELECT count(*) FROM codeset_codes WHERE system = ?");
    n.bind(1, system_key(system));
    n.executeStep();
    t.rows = static_cast<double>(n.getColumn(0).getInt64());
    t.avg_len = t.rows > 0 ? tokens / t.rows : 1;
    return term_stats.emplace(system, std::move(t)).first->second;
  }

  explicit Impl(const CodeSetStoreOptions& o)
      : db(o.path.string(), o.read_only ? SQLite::OPEN_READWRITE : (SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE),
           static_cast<int>(o.busy_timeout.count())),
        read_only(o.read_only) {}

  int version() {
    if (!db.tableExists("codeset_meta")) return 0;
    SQLite::Statement q(db, "SELECT value FROM codeset_meta WHERE key = 'schema_version'");
    return q.executeStep() ? std::stoi(q.getColumn(0).getString()) : 0;
  }

  void refresh_active() {
    active.clear();
    has_fts = false;
    if (version() == 0) return;
    has_fts = db.tableExists("codeset_fts_icd10cm") && db.tableExists("codeset_fts_hcpcs");
    SQLite::Statement q(db, "SELECT DISTINCT kind FROM codeset_imports WHERE active = 1");
    while (q.executeStep())
      if (auto k = kind_from_string(q.getColumn(0).getString())) active.push_back(*k);
  }

  bool is_active(CodeSetKind k) const { return std::find(active.begin(), active.end(), k) != active.end(); }

  static parsers::CodeInfo info_from_row(SQLite::Statement& q, CodeSystem system) {
    parsers::CodeInfo i;
    i.system = system;
    const std::string code = q.getColumn(0).getString();
    i.code = system == CodeSystem::icd10cm ? parsers::icd10cm_dotted(code) : code;
    i.description = q.getColumn(1).getString();
    i.short_description = q.getColumn(2).getString();
    auto o = [&](int c) -> std::optional<std::string> {
      if (q.getColumn(c).isNull()) return std::nullopt;
      return q.getColumn(c).getString();
    };
    i.added_date = o(3);
    i.effective_date = o(4);
    i.termination_date = o(5);
    i.version = q.getColumn(6).getString();
    return i;
  }

  static constexpr const char* kInfoColumns =
      "SELECT c.code, c.description, c.short_description, c.added_date, c.effective_date, c.termination_date, "
      "i.source_name FROM codeset_codes c JOIN codeset_imports i ON i.id = c.import_id ";
};

CodeSetStore::CodeSetStore(CodeSetStoreOptions options) {
  const std::string where = options.path.string();
  try {
    impl_ = std::make_unique<Impl>(options);
    auto& db = impl_->db;
    if (!options.read_only) {
      const auto& all = codeset_migrations();
      for (;;) {
        SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
        db.exec("CREATE TABLE IF NOT EXISTS codeset_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)");
        int v = impl_->version();
        if (v > static_cast<int>(all.size()))
          throw StoreError("cannot open code sets in " + where + ": their schema version " + std::to_string(v) +
                           " is newer than this casedesk's (" + std::to_string(all.size()) + ")");
        if (v == static_cast<int>(all.size())) {
          tx.commit();
          break;
        }
        db.exec(all[v]);
        SQLite::Statement q(db, "INSERT OR REPLACE INTO codeset_meta(key, value) VALUES('schema_version', ?)");
        q.bind(1, std::to_string(v + 1));
        q.exec();
        tx.commit();
      }
    }
    impl_->refresh_active();
  } catch (const SQLite::Exception& e) {
    throw StoreError("cannot open code sets in " + where + ": " + e.what());
  }
}

CodeSetStore::~CodeSetStore() = default;

int CodeSetStore::latest_schema_version() { return static_cast<int>(codeset_migrations().size()); }
int CodeSetStore::schema_version() const { return impl_->version(); }

ImportResult CodeSetStore::import_file(const std::filesystem::path& file, std::int64_t now,
                                       const ImportProgress& progress) {
  if (impl_->read_only) throw StoreError("code sets opened read-only");
  const auto t0 = std::chrono::steady_clock::now();
  const std::string content = read_all(file);
  const auto kind = recognise_code_set(content);
  if (!kind)
    throw CodeSetFormatError(file, 0,
                             "not a recognised code-set file (ICD-10-CM or ICD-10-PCS codes file, CMS HCPCS CSV, "
                             "NCCI add-on code edits CSV)");
  ImportResult result;
  result.file = file;
  result.record.kind = *kind;
  result.record.source_name = file.filename().string();
  result.record.sha256 = sha256_hex(content);
  result.record.imported_at = now;
  result.record.active = true;
  auto& db = impl_->db;
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  try {
    {
      SQLite::Statement q(db,
                          "SELECT id, row_count, imported_at FROM codeset_imports WHERE kind = ? AND sha256 = ? "
                          "AND active = 1");
      q.bind(1, std::string(to_string(*kind)));
      q.bind(2, result.record.sha256);
      if (q.executeStep()) {
        result.record.id = q.getColumn(0).getInt64();
        result.record.row_count = q.getColumn(1).getInt64();
        result.record.imported_at = q.getColumn(2).getInt64();
        result.outcome = ImportResult::Outcome::unchanged;
        result.seconds = elapsed();
        return result;
      }
    }
    Parsed parsed = *kind == CodeSetKind::hcpcs  ? parse_hcpcs(content, file)
                    : *kind == CodeSetKind::aoc ? parse_aoc(content, file)
                                                : parse_line_codes(content, file, *kind);
    const std::size_t total = parsed.rows();
    result.record.row_count = static_cast<std::int64_t>(total);

    SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
    {
      SQLite::Statement q(db, "SELECT count(*) FROM codeset_imports WHERE kind = ? AND active = 1");
      q.bind(1, std::string(to_string(*kind)));
      q.executeStep();
      if (q.getColumn(0).getInt() > 0) result.outcome = ImportResult::Outcome::replaced;
    }
    for (const char* sql : {"DELETE FROM codeset_codes WHERE import_id IN (SELECT id FROM codeset_imports WHERE kind = ?)",
                            "DELETE FROM codeset_aoc WHERE import_id IN (SELECT id FROM codeset_imports WHERE kind = ?)",
                            "UPDATE codeset_imports SET active = 0 WHERE kind = ?"}) {
      SQLite::Statement q(db, sql);
      q.bind(1, std::string(to_string(*kind)));
      q.exec();
    }
    {
      SQLite::Statement q(db,
                          "INSERT INTO codeset_imports(kind, source_name, sha256, row_count, imported_at, active) "
                          "VALUES(?,?,?,?,?,1)");
      q.bind(1, std::string(to_string(*kind)));
      q.bind(2, result.record.source_name);
      q.bind(3, result.record.sha256);
      q.bind(4, result.record.row_count);
      q.bind(5, now);
      q.exec();
      result.record.id = db.getLastInsertRowid();
    }
    std::size_t done = 0;
    auto tick = [&] {
      if (progress && (++done % 2000 == 0 || done == total)) progress(file, *kind, done, total);
    };
    if (!parsed.codes.empty()) {
      SQLite::Statement q(db,
                          "INSERT INTO codeset_codes(system, code, import_id, description, short_description, "
                          "added_date, effective_date, termination_date, action_code) VALUES(?,?,?,?,?,?,?,?,?)");
      for (const auto& row : parsed.codes) {
        q.bind(1, row.system);
        q.bind(2, row.code);
        q.bind(3, result.record.id);
        q.bind(4, row.description);
        q.bind(5, row.short_description);
        bind_opt(q, 6, row.added);
        bind_opt(q, 7, row.effective);
        bind_opt(q, 8, row.terminated);
        bind_opt(q, 9, row.action);
        try {
          q.exec();
        } catch (const SQLite::Exception& e) {
          if (e.getExtendedErrorCode() == SQLITE_CONSTRAINT_PRIMARYKEY)
            throw CodeSetFormatError(file, row.line, "duplicate code " + row.code);
          throw;
        }
        q.reset();
        tick();
      }
    }
    if (!parsed.aoc.empty()) {
      SQLite::Statement q(db,
                          "INSERT INTO codeset_aoc(add_on, primary_code, import_id, edit_type, add_on_deleted, "
                          "primary_deleted, edit_effective, edit_deleted, notes) VALUES(?,?,?,?,?,?,?,?,?)");
      for (const auto& row : parsed.aoc) {
        q.bind(1, row.add_on);
        q.bind(2, row.primary);
        q.bind(3, result.record.id);
        q.bind(4, row.edit_type);
        bind_opt(q, 5, row.add_on_deleted);
        bind_opt(q, 6, row.primary_deleted);
        bind_opt(q, 7, row.effective);
        bind_opt(q, 8, row.deleted);
        q.bind(9, row.notes);
        q.exec();
        q.reset();
        tick();
      }
    }
    // The description index follows the set's rows in the same transaction.
    for (CodeSystem sys : {CodeSystem::icd10cm, CodeSystem::hcpcs}) {
      const bool mine = (sys == CodeSystem::icd10cm && *kind == CodeSetKind::icd10cm) ||
                        (sys == CodeSystem::hcpcs && *kind == CodeSetKind::hcpcs);
      if (!mine) continue;
      const std::string table = fts_table(sys);
      db.exec("DELETE FROM " + table);
      SQLite::Statement q(db, "INSERT INTO " + table +
                                  "(code, description) SELECT code, description FROM codeset_codes WHERE system = ?");
      q.bind(1, system_key(sys));
      q.exec();
      db.exec("INSERT INTO " + table + "(" + table + ") VALUES('optimize')");
    }
    tx.commit();
  } catch (const SQLite::Exception& e) {
    throw StoreError("importing " + file.string() + ": " + e.what());
  }
  impl_->refresh_active();
  impl_->term_stats.clear();
  result.seconds = elapsed();
  return result;
}

std::vector<ImportResult> CodeSetStore::import_paths(const std::vector<std::filesystem::path>& paths,
                                                     std::int64_t now, const ImportProgress& progress,
                                                     std::vector<std::filesystem::path>* skipped) {
  std::vector<ImportResult> out;
  for (const auto& p : paths) {
    std::error_code ec;
    if (!std::filesystem::is_directory(p, ec)) {
      out.push_back(import_file(p, now, progress));
      continue;
    }
    std::vector<std::filesystem::path> files;
    for (auto it = std::filesystem::recursive_directory_iterator(p, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
      if (it->is_regular_file()) files.push_back(it->path());
    if (ec) throw StoreError("cannot list " + p.string() + ": " + ec.message());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::string head;
      {
        std::ifstream in(f, std::ios::binary);
        head.resize(64 * 1024);
        in.read(head.data(), static_cast<std::streamsize>(head.size()));
        head.resize(static_cast<std::size_t>(in.gcount()));
      }
      if (!recognise_code_set(head)) {
        if (skipped) skipped->push_back(f);
        continue;
      }
      out.push_back(import_file(f, now, progress));
    }
  }
  return out;
}

std::vector<CodeSetImport> CodeSetStore::imports(bool active_only) const {
  std::vector<CodeSetImport> out;
  if (impl_->version() == 0) return out;
  SQLite::Statement q(impl_->db,
                      std::string("SELECT id, kind, source_name, sha256, row_count, imported_at, active FROM "
                                  "codeset_imports ") +
                          (active_only ? "WHERE active = 1 " : "") + "ORDER BY id DESC");
  while (q.executeStep()) {
    CodeSetImport r;
    r.id = q.getColumn(0).getInt64();
    r.kind = kind_from_string(q.getColumn(1).getString()).value_or(CodeSetKind::icd10cm);
    r.source_name = q.getColumn(2).getString();
    r.sha256 = q.getColumn(3).getString();
    r.row_count = q.getColumn(4).getInt64();
    r.imported_at = q.getColumn(5).getInt64();
    r.active = q.getColumn(6).getInt() != 0;
    out.push_back(std::move(r));
  }
  return out;
}

bool CodeSetStore::has(CodeSystem system) const {
  switch (system) {
    case CodeSystem::icd10cm: return impl_->is_active(CodeSetKind::icd10cm);
    case CodeSystem::icd10pcs: return impl_->is_active(CodeSetKind::icd10pcs);
    case CodeSystem::hcpcs: return impl_->is_active(CodeSetKind::hcpcs);
    case CodeSystem::cpt: return false;
  }
  return false;
}

bool CodeSetStore::has_add_on_edits() const { return impl_->is_active(CodeSetKind::aoc); }

std::optional<parsers::CodeInfo> CodeSetStore::find(CodeSystem system, std::string_view code) const {
  if (!has(system)) return std::nullopt;
  SQLite::Statement q(impl_->db, std::string(Impl::kInfoColumns) + "WHERE c.system = ? AND c.code = ?");
  q.bind(1, system_key(system));
  q.bind(2, parsers::normalize_code(code));
  if (!q.executeStep()) return std::nullopt;
  return Impl::info_from_row(q, system);
}

std::optional<parsers::CodeInfo> CodeSetStore::find_modifier(std::string_view modifier) const {
  if (!has(CodeSystem::hcpcs)) return std::nullopt;
  SQLite::Statement q(impl_->db, std::string(Impl::kInfoColumns) + "WHERE c.system = ? AND c.code = ?");
  q.bind(1, kModifierSystem);
  q.bind(2, parsers::normalize_code(modifier));
  if (!q.executeStep()) return std::nullopt;
  return Impl::info_from_row(q, CodeSystem::hcpcs);
}

std::vector<parsers::CodeInfo> CodeSetStore::children(CodeSystem system, std::string_view prefix) const {
  std::vector<parsers::CodeInfo> out;
  if (!has(system)) return out;
  const std::string p = parsers::normalize_code(prefix);
  if (p.empty()) return out;
  SQLite::Statement q(impl_->db,
                      std::string(Impl::kInfoColumns) + "WHERE c.system = ? AND c.code > ? AND c.code < ? ORDER BY c.code");
  q.bind(1, system_key(system));
  q.bind(2, p);
  q.bind(3, p + "\x7f");
  while (q.executeStep()) out.push_back(Impl::info_from_row(q, system));
  return out;
}

std::optional<parsers::AddOnInfo> CodeSetStore::add_on(std::string_view code) const {
  if (!has_add_on_edits()) return std::nullopt;
  const std::string today = parsers::today_utc();
  SQLite::Statement q(impl_->db,
                      "SELECT a.edit_type, a.primary_code, a.primary_deleted, i.source_name FROM codeset_aoc a "
                      "JOIN codeset_imports i ON i.id = a.import_id "
                      "WHERE a.add_on = ? AND (a.edit_deleted IS NULL OR a.edit_deleted > ?) "
                      "AND (a.add_on_deleted IS NULL OR a.add_on_deleted > ?) ORDER BY a.primary_code");
  q.bind(1, parsers::normalize_code(code));
  q.bind(2, today);
  q.bind(3, today);
  std::optional<parsers::AddOnInfo> out;
  while (q.executeStep()) {
    if (!out) {
      out.emplace();
      out->code = parsers::normalize_code(code);
      out->edit_type = q.getColumn(0).getInt();
      out->version = q.getColumn(3).getString();
    }
    const std::string primary = q.getColumn(1).getString();
    const bool gone = !q.getColumn(2).isNull() && q.getColumn(2).getString() <= today;
    if (primary == "CCCCC" || gone) continue;
    if (std::find(out->primaries.begin(), out->primaries.end(), primary) == out->primaries.end())
      out->primaries.push_back(primary);
  }
  return out;
}

std::string suggestion_query(std::string_view narrative) {
  std::string query;
  for (const auto& w : suggestion_words(narrative)) {
    if (!query.empty()) query += " OR ";
    query += '"' + w + '"';
  }
  return query;
}

std::vector<parsers::Suggestion> CodeSetStore::suggest(CodeSystem system, std::string_view narrative, int limit) const {
  std::vector<parsers::Suggestion> out;
  const char* table = fts_table(system);
  if (limit <= 0 || !table || !has(system) || !impl_->has_fts) return out;
  const auto words = suggestion_words(narrative);
  if (words.empty()) return out;
  // bm25 over every matching title costs about as much per title as the rest of the query
  // together, and words like "right", "left" or "fracture" match a fifth of ICD-10-CM. So the
  // index is searched with the rarer words, and the common ones add their bm25 share (same idf
  // and length normalisation as FTS5's bm25, k1 = 1.2, b = 0.75) to the candidates found.
  std::vector<std::string> search;                      // words whose stem is in fewer titles
  std::vector<std::pair<std::string, double>> common;   // stem, idf
  if (impl_->ensure_stemmer()) {
    const auto& st = impl_->stats(system);
    const double common_from = std::max(50.0, kCommonShare * st.rows);
    std::vector<std::string> seen;
    for (const auto& w : words) {
      for (const auto& stem : impl_->stems(w)) {
        if (std::find(seen.begin(), seen.end(), stem) != seen.end()) continue;
        seen.push_back(stem);
        auto df = st.doc_freq.find(stem);
        if (df == st.doc_freq.end()) continue;  // in no title: nothing to match
        const double n = static_cast<double>(df->second);
        if (n < common_from)
          search.push_back(w);
        else
          common.emplace_back(stem, std::max(std::log((st.rows - n + 0.5) / (n + 0.5)), 1e-6));
      }
    }
    if (search.empty()) {  // only common words: search with them
      for (const auto& w : words) search.push_back(w);
      common.clear();
    }
  } else {
    search = words;
  }
  if (search.empty()) return out;
  std::string match;
  for (const auto& w : search) {
    if (!match.empty()) match += " OR ";
    match += '"' + w + '"';
  }
  const std::string t(table);
  std::string sql = "SELECT f.code, f.description, bm25(" + t + ") AS s FROM " + t + " f ";
  if (system == CodeSystem::hcpcs)
    sql += "JOIN codeset_codes c ON c.system = 'HCPCS' AND c.code = f.code WHERE " + t +
           " MATCH ? AND (c.termination_date IS NULL OR c.termination_date > ?) ";
  else
    sql += "WHERE " + t + " MATCH ? ";
  sql += "ORDER BY s, f.code LIMIT ?";
  SQLite::Statement q(impl_->db, sql);
  int n = 1;
  q.bind(n++, match);
  if (system == CodeSystem::hcpcs) q.bind(n++, parsers::today_utc());
  q.bind(n, std::max(limit * 40, 200));
  struct Row {
    std::string code, description;
    double score;
  };
  std::vector<Row> rows;
  while (q.executeStep())
    rows.push_back({q.getColumn(0).getString(), q.getColumn(1).getString(), -q.getColumn(2).getDouble()});
  if (!common.empty()) {
    const auto& st = impl_->stats(system);
    constexpr double k1 = 1.2, b = 0.75;
    for (auto& r : rows) {
      const auto tokens = impl_->stems(r.description);
      const double len_norm = k1 * (1 - b + b * static_cast<double>(tokens.size()) / st.avg_len);
      for (const auto& [stem, idf] : common) {
        const auto tf = static_cast<double>(std::count(tokens.begin(), tokens.end(), stem));
        if (tf > 0) r.score += idf * tf * (k1 + 1) / (tf + len_norm);
      }
    }
  }
  // Equal scores (the same words matched in titles of the same length) in code order, so the
  // result does not depend on the index layout: right (1) before left (2).
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return a.score != b.score ? a.score > b.score : a.code < b.code;
  });
  // A few different conditions rather than variants of one: codes that differ only in the 7th
  // character count once, and at most kPerCategory codes come from one category. The variant
  // shown is the initial encounter (A) unless the narrative speaks of a subsequent encounter or
  // a sequela; the group ranks by its best member.
  std::string lower(narrative);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const char wanted_7th = lower.find("sequela") != std::string::npos      ? 'S'
                          : lower.find("subsequent") != std::string::npos ? 'D'
                                                                          : 'A';
  std::vector<std::string> variants;
  std::map<std::string, int> per_category;
  for (std::size_t i = 0; i < rows.size() && static_cast<int>(out.size()) < limit; ++i) {
    const Row* row = &rows[i];
    if (system == CodeSystem::icd10cm) {
      const std::string variant = row->code.size() == 7 ? row->code.substr(0, 6) : row->code;
      if (std::find(variants.begin(), variants.end(), variant) != variants.end()) continue;
      if (per_category[row->code.substr(0, 3)] >= kPerCategory) continue;
      variants.push_back(variant);
      ++per_category[row->code.substr(0, 3)];
      if (row->code.size() == 7 && row->code[6] != wanted_7th)
        for (std::size_t j = i + 1; j < rows.size(); ++j)
          if (rows[j].code.size() == 7 && rows[j].code.compare(0, 6, variant) == 0 && rows[j].code[6] == wanted_7th) {
            rows[j].score = row->score;  // the group's rank
            row = &rows[j];
            break;
          }
    }
    parsers::Suggestion sg;
    sg.system = system;
    sg.code = system == CodeSystem::icd10cm ? parsers::icd10cm_dotted(row->code) : row->code;
    sg.description = row->description;
    sg.score = row->score;
    out.push_back(std::move(sg));
  }
  return out;
}

std::unique_ptr<parsers::CodeSetLookup> open_code_sets(const std::filesystem::path& db) {
  std::error_code ec;
  if (db.empty() || !std::filesystem::exists(db, ec)) return nullptr;
  auto store = std::make_unique<CodeSetStore>(CodeSetStoreOptions{db, std::chrono::milliseconds(5000), true});
  if (store->imports().empty()) return nullptr;
  return store;
}

}  // namespace casedesk::queue
