// Extraction depth: tables, diagnoses in parentheses, ICD-10-PCS, units forms, alternatives,
// unattached modifiers. Own fixtures (not the shared cases).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "parsers/codes.hpp"
#include "parsers/json.hpp"

namespace {

using namespace casedesk::parsers;
using Strings = std::vector<std::string>;

CodeExtraction run(std::string_view body) { return extract_code_info(std::vector<TextSource>{{"body", body}}); }

const Code* find(const std::vector<Code>& codes, std::string_view code) {
  for (const auto& c : codes) {
    if (c.code == code) return &c;
  }
  return nullptr;
}

TEST(CodeDepth, PlainTextTableModifierAndUnitsColumns) {
  auto r = run(
      "Superbill:\n"
      "CPT      Mod     Units   Dx\n"
      "-----    ----    -----   ------\n"
      "27447    RT      1       M17.11\n"
      "20610            2       M25.561\n"
      "64493    50, XS  1       M47.816\n"
      "\n"
      "Thanks\n");
  const Code* tka = find(r.codes, "27447");
  ASSERT_NE(tka, nullptr);
  EXPECT_EQ(tka->modifiers, Strings{"RT"});
  EXPECT_EQ(tka->units, 1);
  const Code* inj = find(r.codes, "20610");
  ASSERT_NE(inj, nullptr);
  EXPECT_TRUE(inj->modifiers.empty());
  EXPECT_EQ(inj->units, 2);
  const Code* facet = find(r.codes, "64493");
  ASSERT_NE(facet, nullptr);
  EXPECT_EQ(facet->modifiers, (Strings{"50", "XS"}));
  EXPECT_NE(find(r.codes, "M17.11"), nullptr);
}

TEST(CodeDepth, PipeAndTabTablesWithUndottedDxColumn) {
  auto r = run("| Code | Modifier | Dx |\n|---|---|---|\n| 11055 | Q8 | L84 |\n\nLine\tHCPCS\tMod\tDx\n1\tG0127\tQ8\tB351\n");
  const Code* paring = find(r.codes, "11055");
  ASSERT_NE(paring, nullptr);
  EXPECT_EQ(paring->modifiers, Strings{"Q8"});
  ASSERT_NE(find(r.codes, "L84"), nullptr);
  EXPECT_EQ(find(r.codes, "L84")->system, CodeSystem::icd10cm);
  ASSERT_NE(find(r.codes, "G0127"), nullptr);
  EXPECT_EQ(find(r.codes, "G0127")->modifiers, Strings{"Q8"});
  EXPECT_NE(find(r.codes, "B35.1"), nullptr);
}

TEST(CodeDepth, NumbersInOtherColumnsAreNotModifiers) {
  auto r = run("Line  CPT    Units  Mod\n1     99213  25\n");
  const Code* em = find(r.codes, "99213");
  ASSERT_NE(em, nullptr);
  EXPECT_TRUE(em->modifiers.empty());
  EXPECT_EQ(em->units, 25);
}

TEST(CodeDepth, DiagnosisInParenthesesAfterConditionNeedsANeighbourCode) {
  auto r = run("Seen for syncope (R55) after the loop recorder check, 93298 billed.");
  ASSERT_NE(find(r.codes, "R55"), nullptr);
  EXPECT_EQ(find(r.codes, "R55")->system, CodeSystem::icd10cm);
  // alone, without any other code: not enough evidence
  EXPECT_TRUE(run("Seen for syncope (R55) last week.").codes.empty());
  // traps in parentheses stay out
  auto t = run("MRI of the spine (T12) and vitamin (B12), stage (T2N0M0), 99213 billed.");
  EXPECT_EQ(find(t.codes, "T12"), nullptr);
  EXPECT_EQ(find(t.codes, "B12"), nullptr);
  EXPECT_EQ(t.codes.size(), 1u);
}

TEST(CodeDepth, IcdPcsOnlyWithCue) {
  auto r = run("Inpatient ICD-10-PCS: 0SRC0J9 for the right knee.");
  ASSERT_NE(find(r.codes, "0SRC0J9"), nullptr);
  EXPECT_EQ(find(r.codes, "0SRC0J9")->system, CodeSystem::icd10pcs);
  EXPECT_TRUE(run("Claim ref 0SRC0J9 was denied.").codes.empty());
  EXPECT_TRUE(run("Tracking 1Z99999 shipped.").codes.empty());
}

TEST(CodeDepth, UnitsForms) {
  auto r = run("We gave 2 units of J3301 and billed 96372 units: 1. Also J1885 units 4.");
  ASSERT_NE(find(r.codes, "J3301"), nullptr);
  EXPECT_EQ(find(r.codes, "J3301")->units, 2);
  EXPECT_EQ(find(r.codes, "96372")->units, 1);
  EXPECT_EQ(find(r.codes, "J1885")->units, 4);
}

TEST(CodeDepth, AmbiguousTokenGetsOneReadingAndAnAlternative) {
  auto dx = run("Dx: E1140 and I10");
  ASSERT_NE(find(dx.codes, "E11.40"), nullptr);
  EXPECT_EQ(find(dx.codes, "E11.40")->alternatives, Strings{"HCPCS:E1140"});
  EXPECT_EQ(find(dx.codes, "E1140"), nullptr);
  auto hc = run("Is A0100 covered for this trip?");
  ASSERT_NE(find(hc.codes, "A0100"), nullptr);
  EXPECT_EQ(find(hc.codes, "A0100")->system, CodeSystem::hcpcs);
  EXPECT_EQ(find(hc.codes, "A0100")->alternatives, Strings{"ICD-10-CM:A01.00"});
  EXPECT_EQ(hc.codes.size(), 1u);
  // a HCPCS code that is no ICD-10-CM code (J33.01) has no alternative
  auto clear = run("Injection J3301 x2 units");
  ASSERT_NE(find(clear.codes, "J3301"), nullptr);
  EXPECT_TRUE(find(clear.codes, "J3301")->alternatives.empty());
  auto j = to_json(hc.codes);
  EXPECT_EQ(j[0]["alternatives"][0], "ICD-10-CM:A01.00");
}

TEST(CodeDepth, UnattachedModifiers) {
  EXPECT_EQ(run("Do we need a 59 on one of them?").unattached_modifiers, Strings{"59"});
  EXPECT_EQ(run("The payer said it should be modifier 78?? Odd.").unattached_modifiers, Strings{"78"});
  EXPECT_EQ(run("Is there an ordering rule (KH/KI/KJ?) for month 4?").unattached_modifiers,
            (Strings{"KH", "KI", "KJ"}));
  EXPECT_EQ(run("Payer C still wants GT?").unattached_modifiers, Strings{"GT"});
  EXPECT_EQ(run("For audio-only visits, do we add 93 or FQ?").unattached_modifiers, (Strings{"93", "FQ"}));
  EXPECT_EQ(run("Is a 25 modifier enough?").unattached_modifiers, Strings{"25"});
  EXPECT_EQ(run("And is JZ needed on anything?").unattached_modifiers, Strings{"JZ"});
  // tied to a code: not unattached
  auto tied = run("Billed 99213 with modifier 25 and 20610.");
  EXPECT_TRUE(tied.unattached_modifiers.empty());
  EXPECT_EQ(find(tied.codes, "99213")->modifiers, Strings{"25"});
  // quantities, words and lower case are not modifiers
  EXPECT_TRUE(run("We need 25 minutes. I use the PA and MD staff. need a 2.").unattached_modifiers.empty());
  // extract_codes keeps working for existing callers
  EXPECT_EQ(extract_codes(std::vector<TextSource>{{"body", "99213-25"}}).size(), 1u);
}

}  // namespace
