// Narrative suggestions: the FTS5 description index of ICD-10-CM and HCPCS, its query built from a
// mail's words, the schema upgrade that indexes rows imported before it, and suggest_codes.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "parsers/code_validation.hpp"
#include "queue/code_set_store.hpp"

namespace casedesk::queue {
namespace {

namespace fs = std::filesystem;
using parsers::CodeSystem;
using parsers::Suggestion;

const fs::path kFixtures = fs::path(CASEDESK_FIXTURES) / "codesets";

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("casedesk-suggest-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::vector<std::string> codes_of(const std::vector<Suggestion>& list) {
  std::vector<std::string> out;
  for (const auto& s : list) out.push_back(s.code);
  return out;
}

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// A store with the fixture ICD-10-CM and HCPCS sets.
std::unique_ptr<CodeSetStore> fixture_store() {
  auto store = std::make_unique<CodeSetStore>(CodeSetStoreOptions{":memory:"});
  store->import_file(kFixtures / "icd10cm/icd10cm-codes-mini.txt", 100);
  store->import_file(kFixtures / "hcpcs/hcpcs-anweb-mini.csv", 100);
  return store;
}

TEST(SuggestionQuery, KeepsClinicalWordsOnly) {
  EXPECT_EQ(suggestion_query("Pt with R knee OA, dx M17.11 on 2025-01-15; thanks!"),
            R"("right" OR "knee" OR "osteoarthritis")");
  // Codes, numbers, dates, stop words, mail and billing words and short words all go.
  EXPECT_EQ(suggestion_query("Hi team, can we bill 99213-25 with M54.50 x2 units? Thanks, Ana"), R"("ana")");
  EXPECT_EQ(suggestion_query("Thanks! 99213-25 M54.50 2025-01-15 $120.00"), "");
  EXPECT_EQ(suggestion_query(""), "");
  // Each word once, in the order written; abbreviations spelled out; case and punctuation ignored.
  EXPECT_EQ(suggestion_query("HTN; htn. Low-back PAIN (LBP)"),
            R"("hypertension" OR "low" OR "back" OR "pain")");
  // Quotes and FTS syntax in the mail cannot reach the query.
  EXPECT_EQ(suggestion_query(R"(knee" OR NEAR(x) * "hip)"), R"("knee" OR "near" OR "hip")");
  // Accented letters stay inside their word; other non-ASCII text separates words.
  EXPECT_EQ(suggestion_query("naïve—fracture"), R"("naïve" OR "fracture")");
}

TEST(CodeSetSuggest, RanksTheFittingDescriptionFirst) {
  auto store = fixture_store();
  auto s = store->suggest(CodeSystem::icd10cm, "Our patient has had low back pain for months, no radiation.");
  ASSERT_FALSE(s.empty());
  EXPECT_EQ(s[0].code, "M54.50");  // the shortest title with every word
  EXPECT_EQ(s[0].system, CodeSystem::icd10cm);
  EXPECT_EQ(s[0].description, "Low back pain, unspecified");
  for (std::size_t i = 1; i < s.size(); ++i) EXPECT_GE(s[i - 1].score, s[i].score);
  EXPECT_GT(s[0].score, 0);
  // Dotted display form, as everywhere else.
  for (const auto& x : s) EXPECT_NE(x.code.find('.'), std::string::npos) << x.code;

  auto htn = store->suggest(CodeSystem::icd10cm, "long-standing HTN, on lisinopril");
  ASSERT_FALSE(htn.empty());
  EXPECT_EQ(htn[0].code, "I10");
}

TEST(CodeSetSuggest, OneEncounterVariantAndAtMostTwoPerCategory) {
  auto store = fixture_store();
  auto head = codes_of(store->suggest(CodeSystem::icd10cm, "head injury after a fall", 5));
  ASSERT_FALSE(head.empty());
  EXPECT_EQ(head[0], "S09.90XA");  // the initial encounter stands for D and S
  EXPECT_FALSE(contains(head, "S09.90XD"));
  EXPECT_FALSE(contains(head, "S09.90XS"));

  auto back = codes_of(store->suggest(CodeSystem::icd10cm, "low back pain", 5));
  EXPECT_EQ(std::count_if(back.begin(), back.end(), [](const std::string& c) { return c.rfind("M54.", 0) == 0; }), 2)
      << ::testing::PrintToString(back);
}

TEST(CodeSetSuggest, LimitAndEmptyCases) {
  auto store = fixture_store();
  EXPECT_EQ(store->suggest(CodeSystem::icd10cm, "pain fracture injury allergy hypertension", 2).size(), 2u);
  EXPECT_TRUE(store->suggest(CodeSystem::icd10cm, "low back pain", 0).empty());
  EXPECT_TRUE(store->suggest(CodeSystem::icd10cm, "thanks, see attached claim 123456").empty());
  EXPECT_TRUE(store->suggest(CodeSystem::icd10cm, "zebra xylophone").empty());
  // No index for PCS or CPT; a system whose set is not loaded suggests nothing.
  EXPECT_TRUE(store->suggest(CodeSystem::cpt, "low back pain").empty());
  EXPECT_TRUE(store->suggest(CodeSystem::icd10pcs, "low back pain").empty());
  CodeSetStore empty(CodeSetStoreOptions{":memory:"});
  EXPECT_TRUE(empty.suggest(CodeSystem::icd10cm, "low back pain").empty());
}

TEST(CodeSetSuggest, HcpcsLeavesTerminatedCodesOut) {
  auto store = fixture_store();
  auto s = codes_of(store->suggest(CodeSystem::hcpcs, "severe pain, ketorolac injection", 5));
  EXPECT_TRUE(contains(s, "J1885")) << ::testing::PrintToString(s);
  EXPECT_FALSE(contains(s, "M1000")) << ::testing::PrintToString(s);  // terminated 2019
  auto crutches = store->suggest(CodeSystem::hcpcs, "adjustable underarm crutches", 1);
  ASSERT_EQ(crutches.size(), 1u);
  EXPECT_EQ(crutches[0].code, "E0114");
  EXPECT_EQ(crutches[0].system, CodeSystem::hcpcs);
}

TEST(CodeSetSuggest, ReimportReplacesTheIndex) {
  TempDir dir;
  auto store = fixture_store();
  ASSERT_FALSE(store->suggest(CodeSystem::icd10cm, "typhoid fever").empty());
  {
    std::ofstream f(dir.path / "icd10cm-codes-next.txt");
    f << "A0100   Typhoid fever, unspecified\nR509    Fever, unspecified\n";
  }
  store->import_file(dir.path / "icd10cm-codes-next.txt", 200);
  EXPECT_TRUE(store->suggest(CodeSystem::icd10cm, "low back pain").empty());  // old rows gone from the index
  auto s = codes_of(store->suggest(CodeSystem::icd10cm, "fever"));
  EXPECT_EQ(s, (std::vector<std::string>{"R50.9", "A01.00"}));
}

void exec_sql(const fs::path& db, const char* sql) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(h, sql, nullptr, nullptr, &err);
  const std::string msg = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(h);
  ASSERT_EQ(rc, SQLITE_OK) << msg;
}

TEST(CodeSetSuggest, UpgradeIndexesRowsImportedBefore) {
  TempDir dir;
  const auto db = dir.path / "codes.db";
  {
    CodeSetStore store(CodeSetStoreOptions{db});
    EXPECT_EQ(store.schema_version(), CodeSetStore::latest_schema_version());
    EXPECT_GE(CodeSetStore::latest_schema_version(), 2);
    store.import_file(kFixtures / "icd10cm/icd10cm-codes-mini.txt", 100);
  }
  // Back to a version-1 database: the rows without their index.
  exec_sql(db,
           "DROP TABLE codeset_fts_icd10cm; DROP TABLE codeset_fts_hcpcs; "
           "UPDATE codeset_meta SET value = '1' WHERE key = 'schema_version';");
  {
    // Read-only (the intake) never upgrades: lookups work, suggestions are empty.
    auto lookup = open_code_sets(db);
    ASSERT_NE(lookup, nullptr);
    EXPECT_TRUE(lookup->find(CodeSystem::icd10cm, "M54.50"));
    EXPECT_TRUE(lookup->suggest(CodeSystem::icd10cm, "low back pain").empty());
  }
  {
    CodeSetStore store(CodeSetStoreOptions{db});  // read-write: upgrades
    EXPECT_EQ(store.schema_version(), CodeSetStore::latest_schema_version());
    auto s = store.suggest(CodeSystem::icd10cm, "low back pain");
    ASSERT_FALSE(s.empty());
    EXPECT_EQ(s[0].code, "M54.50");
  }
  // Through the read-only lookup interface (what the intake and `parse` hold).
  auto lookup = open_code_sets(db);
  ASSERT_NE(lookup, nullptr);
  auto s = lookup->suggest(CodeSystem::icd10cm, "low back pain", 1);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].code, "M54.50");
}

TEST(CodeSetSuggest, DefaultLookupSuggestsNothing) {
  struct Plain : parsers::CodeSetLookup {
    bool has(CodeSystem) const override { return true; }
    bool has_add_on_edits() const override { return false; }
    std::optional<parsers::CodeInfo> find(CodeSystem, std::string_view) const override { return std::nullopt; }
    std::vector<parsers::CodeInfo> children(CodeSystem, std::string_view) const override { return {}; }
    std::optional<parsers::AddOnInfo> add_on(std::string_view) const override { return std::nullopt; }
  } plain;
  EXPECT_TRUE(plain.suggest(CodeSystem::icd10cm, "low back pain").empty());
  parsers::Message m;
  m.subject = "low back pain";
  EXPECT_TRUE(parsers::suggest_codes(&plain, m, {}).empty());
  EXPECT_TRUE(parsers::suggest_codes(nullptr, m, {}).empty());
}

TEST(SuggestCodes, ReadsSubjectAndNewTextAndLeavesNamedCodesOut) {
  auto store = fixture_store();
  parsers::Message m;
  m.subject = "Low back pain";
  m.body_text = "Dx M54.50 for now.\n\n> On Monday you wrote:\n> essential hypertension\n";
  m.reply_text = "Dx M54.50 for now.";
  EXPECT_EQ(parsers::suggestion_narrative(m), "Low back pain\nDx M54.50 for now.");
  parsers::Code named;
  named.code = "M54.50";
  named.system = CodeSystem::icd10cm;
  auto s = codes_of(parsers::suggest_codes(store.get(), m, {named}, 5));
  ASSERT_FALSE(s.empty());
  EXPECT_FALSE(contains(s, "M54.50")) << ::testing::PrintToString(s);  // written in the mail: an extracted code
  EXPECT_TRUE(contains(s, "M54.59") || contains(s, "M54.51")) << ::testing::PrintToString(s);
  EXPECT_FALSE(contains(s, "I10")) << "quoted history is not read";
  // The alternative ICD reading of an ambiguous HCPCS token counts as named too.
  parsers::Message typhoid;
  typhoid.subject = "typhoid fever, taxi";
  parsers::Code a0100;
  a0100.code = "A0100";
  a0100.system = CodeSystem::hcpcs;
  a0100.alternatives = {"ICD-10-CM:A01.00"};
  EXPECT_FALSE(contains(codes_of(parsers::suggest_codes(store.get(), typhoid, {a0100}, 5)), "A01.00"));
  EXPECT_TRUE(contains(codes_of(parsers::suggest_codes(store.get(), typhoid, {}, 5)), "A01.00"));
}

// Validation against the same store: alternative readings must exist in their loaded set.
TEST(CodeSetValidation, AlternativesNotInTheLoadedSetsAreDropped) {
  auto store = fixture_store();
  parsers::Code taxi;  // A0100: HCPCS taxi and ICD-10-CM A01.00 (both in the fixture sets)
  taxi.code = "A0100";
  taxi.system = CodeSystem::hcpcs;
  taxi.alternatives = {"ICD-10-CM:A01.00"};
  parsers::Code ketorolac;  // J1885 read as ICD-10-CM J18.85: no such code or category
  ketorolac.code = "J1885";
  ketorolac.system = CodeSystem::hcpcs;
  ketorolac.alternatives = {"ICD-10-CM:J18.85"};
  parsers::Code header;  // a category header is still a reading
  header.code = "J3301";
  header.system = CodeSystem::hcpcs;
  header.alternatives = {"ICD-10-CM:M54.5"};
  parsers::Code dx;  // an ICD reading whose HCPCS alternative is not in the HCPCS set
  dx.code = "E11.40";
  dx.system = CodeSystem::icd10cm;
  dx.alternatives = {"HCPCS:E1140", "ICD-10-PCS:0FT44ZZ"};
  std::vector<parsers::Code> codes = {taxi, ketorolac, header, dx};
  parsers::validate_codes(codes, store.get(), "2026-06-01");
  EXPECT_EQ(codes[0].alternatives, (std::vector<std::string>{"ICD-10-CM:A01.00"}));
  EXPECT_TRUE(codes[1].alternatives.empty());
  EXPECT_EQ(codes[2].alternatives, (std::vector<std::string>{"ICD-10-CM:M54.5"}));
  // PCS is not loaded in this store: its reading cannot be checked and stays.
  EXPECT_EQ(codes[3].alternatives, (std::vector<std::string>{"ICD-10-PCS:0FT44ZZ"}));
  // Without code sets nothing is dropped.
  std::vector<parsers::Code> unchecked = {ketorolac};
  parsers::validate_codes(unchecked, nullptr, "2026-06-01");
  EXPECT_EQ(unchecked[0].alternatives, (std::vector<std::string>{"ICD-10-CM:J18.85"}));
}

TEST(CodeSetValidation, PcsCodesAreFoundByTableHit) {
  auto store = fixture_store();
  const std::string body =
      "Inpatient: 0FT44ZZ done, then 0FT44ZZ again; claim 0FT44ZZ-01 and ref X0FT44ZZ, lower 0ft44zz, "
      "all digits 0016070, unknown 0FT44ZY.";
  const std::vector<parsers::TextSource> sources = {{"subject", "gallbladder"}, {"body", body}};
  std::vector<parsers::Code> codes;
  parsers::add_pcs_by_table(codes, sources, store.get());
  EXPECT_TRUE(codes.empty()) << "no PCS set loaded";
  store->import_file(kFixtures / "icd10pcs/pcs-codes-mini.txt", 100);
  parsers::add_pcs_by_table(codes, sources, store.get());
  ASSERT_EQ(codes.size(), 1u);
  EXPECT_EQ(codes[0].code, "0FT44ZZ");
  EXPECT_EQ(codes[0].system, CodeSystem::icd10pcs);
  EXPECT_EQ(codes[0].found_in, (std::vector<std::string>{"body"}));
  ASSERT_EQ(codes[0].mentions.size(), 2u);
  EXPECT_EQ(body.substr(codes[0].mentions[0].start, 7), "0FT44ZZ");
  EXPECT_EQ(codes[0].mentions[1].start, body.find("0FT44ZZ again"));
  // A code already extracted (after a PCS cue) is not added again.
  parsers::add_pcs_by_table(codes, sources, store.get());
  EXPECT_EQ(codes.size(), 1u);
  EXPECT_EQ(codes[0].mentions.size(), 2u);
  parsers::validate_codes(codes, store.get(), "2026-06-01");
  EXPECT_EQ(codes[0].status, "billable");
}

TEST(CodeSetValidation, DeletedEmCodesNameTheirReplacement) {
  auto d = parsers::find_deleted_code("99201");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->deleted_on, "2021-01-01");
  EXPECT_NE(std::string(d->replacement).find("99202-99205"), std::string::npos);
  for (const char* live : {"99202", "99205", "99211", "99215", "99221", "99242", "99252", "99341", "99417"})
    EXPECT_FALSE(parsers::find_deleted_code(live)) << live;
  for (const char* gone : {"99217", "99218", "99220", "99224", "99226", "99241", "99251", "99343", "99354", "99357"})
    EXPECT_TRUE(parsers::find_deleted_code(gone)) << gone;
  std::vector<parsers::Code> codes(1);
  codes[0].code = "99201";
  parsers::validate_codes(codes, nullptr, "2026-06-01");
  EXPECT_EQ(codes[0].status, "deleted");
  ASSERT_FALSE(codes[0].notes.empty());
  EXPECT_NE(codes[0].notes[0].find("99201 was deleted on 2021-01-01; report 99202-99205"), std::string::npos)
      << codes[0].notes[0];
}

TEST(CodeSetSuggest, RealFilesWhenPresent) {
  const char* env = std::getenv("CASEDESK_SHARED");
  const fs::path shared = fs::path(env && *env ? env : CASEDESK_SHARED) / "codesets";
  if (!fs::exists(shared / "icd10cm/icd10cm-codes-2026.txt"))
    GTEST_SKIP() << shared << " is absent (optional test data; set CASEDESK_SHARED)";
  CodeSetStore store(CodeSetStoreOptions{":memory:"});
  store.import_file(shared / "icd10cm/icd10cm-codes-2026.txt", 100);
  auto knee = codes_of(store.suggest(CodeSystem::icd10cm, "primary osteoarthritis of the right knee", 5));
  EXPECT_TRUE(contains(knee, "M17.11")) << ::testing::PrintToString(knee);
  auto apnea = codes_of(store.suggest(CodeSystem::icd10cm, "CPAP for obstructive sleep apnea", 5));
  EXPECT_TRUE(contains(apnea, "G47.33")) << ::testing::PrintToString(apnea);
}

}  // namespace
}  // namespace casedesk::queue
