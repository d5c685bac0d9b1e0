#include "queue/code_set_store.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <unistd.h>

#include "parsers/code_validation.hpp"

namespace casedesk::queue {
namespace {

namespace fs = std::filesystem;
using parsers::CodeSystem;

const fs::path kFixtures = fs::path(CASEDESK_FIXTURES) / "codesets";
const fs::path kMalformed = fs::path(CASEDESK_FIXTURES) / "codesets-malformed";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream b;
  b << in.rdbuf();
  return b.str();
}

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("casedesk-codesets-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

CodeSetStore memory_store() { return CodeSetStore(CodeSetStoreOptions{":memory:"}); }

TEST(CodeSetStore, RecognisesEachFileByContent) {
  EXPECT_EQ(recognise_code_set(slurp(kFixtures / "icd10cm/icd10cm-codes-mini.txt")), CodeSetKind::icd10cm);
  EXPECT_EQ(recognise_code_set(slurp(kFixtures / "icd10pcs/pcs-codes-mini.txt")), CodeSetKind::icd10pcs);
  EXPECT_EQ(recognise_code_set(slurp(kFixtures / "hcpcs/hcpcs-anweb-mini.csv")), CodeSetKind::hcpcs);
  EXPECT_EQ(recognise_code_set(slurp(kFixtures / "ncci/aoc-mini.csv")), CodeSetKind::aoc);
  EXPECT_EQ(recognise_code_set(slurp(kFixtures / "README.md")), std::nullopt);
  EXPECT_EQ(recognise_code_set("code,description\nA00,Cholera\n"), std::nullopt);
  EXPECT_EQ(recognise_code_set(""), std::nullopt);
}

TEST(CodeSetStore, RecognitionIgnoresTheFileName) {
  TempDir dir;
  fs::copy_file(kFixtures / "hcpcs/hcpcs-anweb-mini.csv", dir.path / "icd10cm-codes-2026.txt");
  auto store = memory_store();
  auto r = store.import_file(dir.path / "icd10cm-codes-2026.txt", 100);
  EXPECT_EQ(r.record.kind, CodeSetKind::hcpcs);
}

TEST(CodeSetStore, ImportsAFolderRecursivelyAndSkipsOtherFiles) {
  auto store = memory_store();
  std::vector<fs::path> skipped;
  auto results = store.import_paths({kFixtures}, 100, {}, &skipped);
  ASSERT_EQ(results.size(), 4u);
  std::map<CodeSetKind, std::int64_t> rows;
  for (const auto& r : results) {
    EXPECT_EQ(r.outcome, ImportResult::Outcome::imported);
    rows[r.record.kind] = r.record.row_count;
  }
  EXPECT_EQ(rows[CodeSetKind::icd10cm], 30);
  EXPECT_EQ(rows[CodeSetKind::icd10pcs], 4);
  EXPECT_EQ(rows[CodeSetKind::hcpcs], 14);  // 7 codes + 7 modifiers
  EXPECT_EQ(rows[CodeSetKind::aoc], 16);
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped[0].filename(), "README.md");
  EXPECT_EQ(store.imports().size(), 4u);
  EXPECT_TRUE(store.has(CodeSystem::icd10cm));
  EXPECT_TRUE(store.has(CodeSystem::icd10pcs));
  EXPECT_TRUE(store.has(CodeSystem::hcpcs));
  EXPECT_FALSE(store.has(CodeSystem::cpt));
  EXPECT_TRUE(store.has_add_on_edits());
}

TEST(CodeSetStore, ReimportingTheSameFileChangesNothing) {
  TempDir dir;
  const auto db = dir.path / "codes.db";
  {
    CodeSetStore store(CodeSetStoreOptions{db});
    store.import_paths({kFixtures}, 100);
  }
  CodeSetStore store(CodeSetStoreOptions{db});
  auto again = store.import_paths({kFixtures}, 200);
  ASSERT_EQ(again.size(), 4u);
  for (const auto& r : again) {
    EXPECT_EQ(r.outcome, ImportResult::Outcome::unchanged);
    EXPECT_EQ(r.record.imported_at, 100);
  }
  EXPECT_EQ(store.imports(false).size(), 4u);
}

TEST(CodeSetStore, ANewVersionReplacesTheOldRows) {
  TempDir dir;
  auto store = memory_store();
  store.import_file(kFixtures / "icd10cm/icd10cm-codes-mini.txt", 100);
  ASSERT_TRUE(store.find(CodeSystem::icd10cm, "M54.50"));
  {
    std::ofstream out(dir.path / "next.txt", std::ios::binary);
    out << "M5450   Low back pain, unspecified\r\nZ7989   Other long term (current) drug therapy\r\n";
  }
  auto r = store.import_file(dir.path / "next.txt", 300);
  EXPECT_EQ(r.outcome, ImportResult::Outcome::replaced);
  EXPECT_EQ(r.record.row_count, 2);
  EXPECT_TRUE(store.find(CodeSystem::icd10cm, "M54.50"));
  EXPECT_FALSE(store.find(CodeSystem::icd10cm, "M54.51"));
  EXPECT_TRUE(store.find(CodeSystem::icd10cm, "Z79.89"));
  auto active = store.imports();
  ASSERT_EQ(active.size(), 1u);
  EXPECT_EQ(active[0].source_name, "next.txt");
  EXPECT_EQ(store.imports(false).size(), 2u);
}

TEST(CodeSetStore, MalformedLinesAreReportedWithTheirLineNumber) {
  auto store = memory_store();
  const std::vector<std::pair<std::string, std::size_t>> cases = {
      {"icd10cm-bad-line5.txt", 5}, {"hcpcs-bad-date-line4.csv", 4}, {"aoc-bad-type-line5.csv", 5}};
  for (const auto& [name, line] : cases) {
    try {
      store.import_file(kMalformed / name, 100);
      ADD_FAILURE() << name << " was imported";
    } catch (const CodeSetFormatError& e) {
      EXPECT_EQ(e.line(), line) << e.what();
      EXPECT_NE(std::string(e.what()).find(name + ":" + std::to_string(line) + ":"), std::string::npos) << e.what();
    }
  }
  EXPECT_TRUE(store.imports(false).empty());  // nothing half-imported
}

TEST(CodeSetStore, AnUnrecognisedFileNamedExplicitlyIsAnError) {
  auto store = memory_store();
  EXPECT_THROW(store.import_file(kFixtures / "README.md", 100), CodeSetFormatError);
  EXPECT_THROW(store.import_file(kFixtures / "missing.txt", 100), StoreError);
}

TEST(CodeSetStore, Lookup) {
  auto store = memory_store();
  store.import_paths({kFixtures}, 100);
  auto m = store.find(CodeSystem::icd10cm, "m54.50");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->code, "M54.50");
  EXPECT_EQ(m->description, "Low back pain, unspecified");
  EXPECT_EQ(m->version, "icd10cm-codes-mini.txt");
  EXPECT_FALSE(store.find(CodeSystem::icd10cm, "M54.5"));
  auto kids = store.children(CodeSystem::icd10cm, "M54.5");
  ASSERT_EQ(kids.size(), 3u);
  EXPECT_EQ(kids[0].code, "M54.50");
  EXPECT_EQ(kids[2].code, "M54.59");

  auto term = store.find(CodeSystem::hcpcs, "M1000");
  ASSERT_TRUE(term);
  EXPECT_EQ(term->termination_date, "2019-12-31");
  EXPECT_EQ(term->short_description, "Pain scr as mod to sevr");
  auto j = store.find(CodeSystem::hcpcs, "J1885");
  ASSERT_TRUE(j);
  EXPECT_FALSE(j->termination_date);
  EXPECT_EQ(j->added_date, "1993-01-01");
  EXPECT_TRUE(store.find_modifier("RT"));
  EXPECT_FALSE(store.find(CodeSystem::hcpcs, "RT"));

  EXPECT_TRUE(store.find(CodeSystem::icd10pcs, "0016070"));

  auto aoc = store.add_on("64636");
  ASSERT_TRUE(aoc);
  EXPECT_EQ(aoc->edit_type, 1);
  EXPECT_EQ(aoc->primaries, std::vector<std::string>{"64635"});
  auto two = store.add_on("64492");
  ASSERT_TRUE(two);
  EXPECT_EQ(two->primaries, (std::vector<std::string>{"64490", "64491"}));
  auto contractor = store.add_on("0054T");
  ASSERT_TRUE(contractor);
  EXPECT_EQ(contractor->edit_type, 2);
  EXPECT_TRUE(contractor->primaries.empty());
  EXPECT_FALSE(store.add_on("99481"));  // its only edit was deleted in 2014
  EXPECT_FALSE(store.add_on("64635"));
}

TEST(CodeSetStore, ValidatesAgainstTheImportedSets) {
  auto store = memory_store();
  store.import_paths({kFixtures}, 100);
  std::vector<parsers::Code> codes(4);
  codes[0].code = "M54.5";
  codes[0].system = CodeSystem::icd10cm;
  codes[1].code = "M1000";
  codes[1].system = CodeSystem::hcpcs;
  codes[2].code = "64636";
  codes[2].system = CodeSystem::cpt;
  codes[3].code = "J1885";
  codes[3].system = CodeSystem::hcpcs;
  auto notes = parsers::validate_codes(codes, &store, "2026-06-01");
  EXPECT_EQ(codes[0].status, "header");
  EXPECT_EQ(codes[1].status, "terminated");
  EXPECT_EQ(codes[2].status, "format-only");
  EXPECT_EQ(codes[3].status, "billable");
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("64635"), std::string::npos);
}

TEST(CodeSetStore, OpenCodeSetsIsNullWithoutCodeSets) {
  TempDir dir;
  EXPECT_EQ(open_code_sets(dir.path / "nothing.db"), nullptr);
  EXPECT_FALSE(fs::exists(dir.path / "nothing.db"));
  const auto db = dir.path / "store.db";
  {
    Store cases(StoreOptions{db});  // the case store's own tables only
  }
  EXPECT_EQ(open_code_sets(db), nullptr);
  {
    CodeSetStore store(CodeSetStoreOptions{db});
    EXPECT_EQ(open_code_sets(db), nullptr);  // tables, but nothing imported
    store.import_file(kFixtures / "icd10cm/icd10cm-codes-mini.txt", 100);
  }
  auto lookup = open_code_sets(db);
  ASSERT_NE(lookup, nullptr);
  EXPECT_TRUE(lookup->has(CodeSystem::icd10cm));
  EXPECT_FALSE(lookup->has(CodeSystem::hcpcs));
  EXPECT_TRUE(lookup->find(CodeSystem::icd10cm, "M54.51"));
  // The case store still opens and migrates the shared file.
  Store cases(StoreOptions{db});
  EXPECT_EQ(cases.schema_version(), Store::latest_schema_version());
}

TEST(CodeSetStore, RealFilesWhenPresent) {
  const fs::path shared = fs::path(CASEDESK_SHARED) / "codesets";
  if (!fs::exists(shared / "icd10cm/icd10cm-codes-2026.txt")) GTEST_SKIP() << shared << " is absent";
  auto store = memory_store();
  auto r = store.import_file(shared / "icd10cm/icd10cm-codes-2026.txt", 100);
  EXPECT_EQ(r.record.row_count, 74719);
  EXPECT_TRUE(store.find(CodeSystem::icd10cm, "M47.816"));
  EXPECT_EQ(store.children(CodeSystem::icd10cm, "M54.5").size(), 3u);
}

}  // namespace
}  // namespace casedesk::queue
