#include "parsers/code_validation.hpp"

#include <gtest/gtest.h>

#include <map>

#include "parsers/cpt_sections.hpp"
#include "parsers/json.hpp"

namespace casedesk::parsers {
namespace {

CodeInfo info(CodeSystem s, std::string code, std::string title) {
  CodeInfo i;
  i.system = s;
  i.code = std::move(code);
  i.description = std::move(title);
  return i;
}

// An in-memory code set: ICD-10-CM undotted, HCPCS with optional termination dates, AOC edits.
class FakeLookup : public CodeSetLookup {
 public:
  std::map<std::string, std::string> icd;                 // undotted -> title
  std::map<std::string, std::optional<std::string>> hcpcs;  // code -> termination date
  std::map<std::string, AddOnInfo> aoc;

  bool has(CodeSystem s) const override {
    return (s == CodeSystem::icd10cm && !icd.empty()) || (s == CodeSystem::hcpcs && !hcpcs.empty());
  }
  bool has_add_on_edits() const override { return !aoc.empty(); }
  std::optional<CodeInfo> find(CodeSystem s, std::string_view code) const override {
    const std::string u = normalize_code(code);
    if (s == CodeSystem::icd10cm && icd.count(u)) return info(s, icd10cm_dotted(u), icd.at(u));
    if (s == CodeSystem::hcpcs && hcpcs.count(u)) {
      CodeInfo i = info(s, u, "x");
      i.termination_date = hcpcs.at(u);
      i.version = "HCPC-test.csv";
      return i;
    }
    return std::nullopt;
  }
  std::vector<CodeInfo> children(CodeSystem s, std::string_view prefix) const override {
    std::vector<CodeInfo> out;
    const std::string p = normalize_code(prefix);
    if (s != CodeSystem::icd10cm) return out;
    for (const auto& [code, title] : icd)
      if (code.size() > p.size() && code.compare(0, p.size(), p) == 0)
        out.push_back(info(s, icd10cm_dotted(code), title));
    return out;
  }
  std::optional<AddOnInfo> add_on(std::string_view code) const override {
    auto it = aoc.find(normalize_code(code));
    if (it == aoc.end()) return std::nullopt;
    return it->second;
  }
};

FakeLookup fake() {
  FakeLookup f;
  for (const char* c : {"M5450", "M5451", "M5459", "M47816", "T7840XA", "T7840XD", "T7840XS", "S72001A", "S72001B",
                        "S72001D", "S72001S", "E1140", "I10"})
    f.icd[c] = "title";
  f.hcpcs = {{"J1885", std::nullopt}, {"M1000", "2019-12-31"}, {"G2211", std::nullopt}};
  f.aoc["64636"] = AddOnInfo{"64636", 1, {"64635"}, "AOC-test.csv"};
  f.aoc["22614"] = AddOnInfo{"22614", 1, {"22600", "22610", "22612", "22630", "22633"}, "AOC-test.csv"};
  f.aoc["0054T"] = AddOnInfo{"0054T", 2, {}, "AOC-test.csv"};
  return f;
}

Code code(std::string c, CodeSystem s, std::vector<std::string> mods = {}) {
  Code x;
  x.code = std::move(c);
  x.system = s;
  x.modifiers = std::move(mods);
  return x;
}

bool any_contains(const std::vector<std::string>& v, std::string_view needle) {
  for (const auto& s : v)
    if (s.find(needle) != std::string::npos) return true;
  return false;
}

TEST(CodeValidation, BillableIcdCode) {
  auto f = fake();
  std::vector<Code> codes{code("M54.50", CodeSystem::icd10cm)};
  EXPECT_TRUE(validate_codes(codes, &f, "2026-06-01").empty());
  EXPECT_EQ(codes[0].status, "billable");
  EXPECT_TRUE(codes[0].notes.empty());
}

TEST(CodeValidation, IcdHeaderNamesItsBillableChildren) {
  auto f = fake();
  std::vector<Code> codes{code("M54.5", CodeSystem::icd10cm)};
  validate_codes(codes, &f, "2026-06-01");
  EXPECT_EQ(codes[0].status, "header");
  ASSERT_EQ(codes[0].notes.size(), 1u);
  EXPECT_NE(codes[0].notes[0].find("M54.50, M54.51, M54.59"), std::string::npos) << codes[0].notes[0];
  EXPECT_NE(codes[0].notes[0].find("not billable"), std::string::npos);
}

TEST(CodeValidation, IcdCodeMissingItsSeventhCharacterIsAHeaderThatSaysSo) {
  auto f = fake();
  std::vector<Code> codes{code("S72.001", CodeSystem::icd10cm)};
  validate_codes(codes, &f, "2026-06-01");
  EXPECT_EQ(codes[0].status, "header");
  EXPECT_TRUE(any_contains(codes[0].notes, "7th character")) << codes[0].notes[0];
  EXPECT_TRUE(any_contains(codes[0].notes, "S72.001A"));
}

TEST(CodeValidation, InvalidIcdCodeSuggestsThePlaceholderX) {
  auto f = fake();
  std::vector<Code> codes{code("T78.40A", CodeSystem::icd10cm)};
  validate_codes(codes, &f, "2026-06-01");
  EXPECT_EQ(codes[0].status, "invalid");
  EXPECT_TRUE(any_contains(codes[0].notes, "T78.40XA")) << codes[0].notes[0];
}

TEST(CodeValidation, InvalidIcdCodeSuggestsSiblings) {
  auto f = fake();
  std::vector<Code> codes{code("M54.52", CodeSystem::icd10cm)};
  validate_codes(codes, &f, "2026-06-01");
  EXPECT_EQ(codes[0].status, "invalid");
  EXPECT_TRUE(any_contains(codes[0].notes, "M54.50")) << codes[0].notes[0];
}

TEST(CodeValidation, InvalidIcdCodeSuggestsDigitForLetterO) {
  auto f = fake();
  std::vector<Code> codes{code("E11.4O", CodeSystem::icd10cm)};
  validate_codes(codes, &f, "2026-06-01");
  EXPECT_EQ(codes[0].status, "invalid");
  EXPECT_TRUE(any_contains(codes[0].notes, "E11.40")) << codes[0].notes[0];
}

TEST(CodeValidation, HcpcsTerminatedAfterItsTerminationDate) {
  auto f = fake();
  std::vector<Code> codes{code("M1000", CodeSystem::hcpcs), code("J1885", CodeSystem::hcpcs),
                          code("J9999", CodeSystem::hcpcs)};
  validate_codes(codes, &f, "2026-06-01");
  EXPECT_EQ(codes[0].status, "terminated");
  EXPECT_TRUE(any_contains(codes[0].notes, "2019-12-31"));
  EXPECT_EQ(codes[1].status, "billable");
  EXPECT_EQ(codes[2].status, "invalid");
  // Still valid on its last day.
  std::vector<Code> earlier{code("M1000", CodeSystem::hcpcs)};
  validate_codes(earlier, &f, "2019-12-31");
  EXPECT_EQ(earlier[0].status, "billable");
}

TEST(CodeValidation, DeletedCptCodeNamesItsReplacement) {
  auto f = fake();
  std::vector<Code> codes{code("64623", CodeSystem::cpt)};
  validate_codes(codes, &f, "2026-06-01");
  EXPECT_EQ(codes[0].status, "deleted");
  EXPECT_TRUE(any_contains(codes[0].notes, "2012-01-01"));
  EXPECT_TRUE(any_contains(codes[0].notes, "64636"));
  // 64624 and 64625 were reused in 2020 (genicular, SI joint): not in the table.
  EXPECT_FALSE(find_deleted_code("64624"));
  EXPECT_FALSE(find_deleted_code("64625"));
}

TEST(CodeValidation, CptIsFormatOnlyWithItsSection) {
  std::vector<Code> codes{code("64635", CodeSystem::cpt), code("99213", CodeSystem::cpt, {"25"}),
                          code("3074F", CodeSystem::cpt), code("0275T", CodeSystem::cpt),
                          code("02500", CodeSystem::cpt)};
  validate_codes(codes, nullptr, "2026-06-01");
  for (const auto& c : codes) EXPECT_EQ(c.status, "format-only") << c.code;
  EXPECT_TRUE(any_contains(codes[0].notes, "Surgery")) << codes[0].notes[0];
  EXPECT_TRUE(any_contains(codes[0].notes, "Nervous system"));
  EXPECT_TRUE(any_contains(codes[1].notes, "Evaluation and Management"));
  EXPECT_TRUE(any_contains(codes[2].notes, "Category II"));
  EXPECT_TRUE(any_contains(codes[3].notes, "Category III"));
  EXPECT_TRUE(any_contains(codes[4].notes, "not inside any CPT section"));
}

TEST(CodeValidation, WithoutCodeSetsEverythingIsFormatOnly) {
  std::vector<Code> codes{code("M54.5", CodeSystem::icd10cm), code("J1885", CodeSystem::hcpcs)};
  validate_codes(codes, nullptr, "2026-06-01");
  EXPECT_EQ(codes[0].status, "format-only");
  EXPECT_EQ(codes[1].status, "format-only");
}

TEST(CodeValidation, AddOnWithoutItsPrimaryIsACaseNote) {
  auto f = fake();
  std::vector<Code> codes{code("64636", CodeSystem::cpt), code("22614", CodeSystem::cpt)};
  auto notes = validate_codes(codes, &f, "2026-06-01");
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_NE(notes[0].find("64636 is an add-on code"), std::string::npos) << notes[0];
  EXPECT_NE(notes[0].find("its primary code 64635"), std::string::npos) << notes[0];
  EXPECT_NE(notes[1].find("22600, 22610, 22612, 22630, 22633"), std::string::npos) << notes[1];
  EXPECT_TRUE(any_contains(codes[0].notes, "add-on code"));
}

TEST(CodeValidation, AddOnWithItsPrimaryOrInsideARangeIsFine) {
  auto f = fake();
  std::vector<Code> codes{code("64635", CodeSystem::cpt, {"50"}), code("64636", CodeSystem::cpt, {"50"})};
  EXPECT_TRUE(validate_codes(codes, &f, "2026-06-01").empty());
  Code range = code("22600", CodeSystem::cpt);
  range.range_end = "22612";
  std::vector<Code> with_range{range, code("22614", CodeSystem::cpt)};
  EXPECT_TRUE(validate_codes(with_range, &f, "2026-06-01").empty());
  std::vector<Code> contractor{code("0054T", CodeSystem::cpt)};
  EXPECT_TRUE(validate_codes(contractor, &f, "2026-06-01").empty());
  EXPECT_TRUE(any_contains(contractor[0].notes, "contractor"));
}

TEST(CodeValidation, ModifierNotes) {
  std::vector<Code> codes{code("64635", CodeSystem::cpt, {"50", "RT"}), code("20610", CodeSystem::cpt, {"25"}),
                          code("11042", CodeSystem::cpt, {"59"}), code("11043", CodeSystem::cpt, {"59", "XS"})};
  auto notes = validate_codes(codes, nullptr, "2026-06-01");
  ASSERT_EQ(notes.size(), 4u);
  EXPECT_NE(notes[0].find("50 together with RT"), std::string::npos) << notes[0];
  EXPECT_NE(notes[1].find("no E/M code"), std::string::npos) << notes[1];
  EXPECT_NE(notes[2].find("XE"), std::string::npos) << notes[2];
  EXPECT_NE(notes[3].find("both 59 and XS"), std::string::npos) << notes[3];
}

TEST(CodeValidation, TwentyFiveWithAnEmCodeIsFine) {
  std::vector<Code> codes{code("99213", CodeSystem::cpt, {"25"}), code("20610", CodeSystem::cpt)};
  EXPECT_TRUE(validate_codes(codes, nullptr, "2026-06-01").empty());
  Code range = code("99202", CodeSystem::cpt);
  range.range_end = "99215";
  std::vector<Code> with_range{range, code("11042", CodeSystem::cpt, {"25"})};
  EXPECT_TRUE(validate_codes(with_range, nullptr, "2026-06-01").empty());
}

TEST(CodeValidation, JsonCarriesStatusAndNotes) {
  std::vector<Code> codes{code("64623", CodeSystem::cpt), code("99213", CodeSystem::cpt)};
  auto before = to_json(codes);
  EXPECT_TRUE(before[0]["status"].is_null());
  EXPECT_EQ(before[0]["notes"], nlohmann::json::array());
  validate_codes(codes, nullptr, "2026-06-01");
  auto after = to_json(codes);
  EXPECT_EQ(after[0]["status"], "deleted");
  EXPECT_EQ(after[0]["notes"].size(), 1u);
}

TEST(CodeValidation, QueryReadings) {
  auto systems = [](std::string_view q) {
    std::vector<std::string> out;
    for (const auto& c : codes_for_query(q)) out.push_back(std::string(to_string(c.system)) + ":" + c.code);
    return out;
  };
  EXPECT_EQ(systems("a0100"), (std::vector<std::string>{"ICD-10-CM:A01.00", "HCPCS:A0100"}));
  EXPECT_EQ(systems("M54.5"), (std::vector<std::string>{"ICD-10-CM:M54.5"}));
  EXPECT_EQ(systems("64635"), (std::vector<std::string>{"CPT:64635"}));
  EXPECT_EQ(systems("0016070"), (std::vector<std::string>{"ICD-10-PCS:0016070"}));
  EXPECT_TRUE(systems("hello").empty());
}

TEST(CptSections, RangesOfACode) {
  auto r = cpt_ranges_of("64635");
  bool surgery = false;
  for (const auto& x : r) surgery = surgery || (x.level == "section" && x.label == "Surgery");
  EXPECT_TRUE(surgery);
  EXPECT_TRUE(cpt_ranges_of("64A35").empty());
  EXPECT_FALSE(cpt_ranges_of("0275T").empty());
}

}  // namespace
}  // namespace casedesk::parsers
