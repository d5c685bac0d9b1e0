#pragma once
// Official code sets (ICD-10-CM, ICD-10-PCS, HCPCS Level II with its modifiers, NCCI add-on code
// edits) in SQLite: an importer that recognises each file by its content, and a CodeSetLookup for
// validation (parsers/code_validation.hpp).
//
// The tables live beside the case store's (same file with `--config`) or in a file of their own.
// Their schema has its own version in `codeset_meta` and never touches the case store's
// migrations (PRAGMA user_version). One import record per file (kind, source name, sha256, rows,
// time); per kind one import is active, and a new version replaces the old one's rows in one
// transaction. Re-importing an active file changes nothing.
//
// Threading: a CodeSetStore owns one SQLite connection and shall not be shared by multiple threads.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parsers/code_sets.hpp"
#include "queue/store.hpp"

namespace casedesk::queue {

// A file that is not (or not entirely) in a recognised format: `file:line: what`.
class CodeSetFormatError : public StoreError {
 public:
  CodeSetFormatError(std::filesystem::path file, std::size_t line, const std::string& what);
  const std::filesystem::path& file() const { return file_; }
  std::size_t line() const { return line_; }  // 1-based; 0 = the file as a whole

 private:
  std::filesystem::path file_;
  std::size_t line_;
};

enum class CodeSetKind { icd10cm, icd10pcs, hcpcs, aoc };
std::string_view to_string(CodeSetKind k);  // "icd10cm", "icd10pcs", "hcpcs", "aoc"

// Recognises a code-set file by its first lines:
//   icd10cm   CDC ICD-10-CM codes file: undotted code (letter first) padded to 8 columns, title
//   icd10pcs  CMS ICD-10-PCS codes file: 7-character code (digit-first section), a space, title
//   hcpcs     CSV of the CMS Alpha-Numeric HCPCS file: header with HCPC, RECID, LONG DESCRIPTION, ...
//   aoc       CSV of the CMS NCCI add-on code edits: header with Add-On_Code and Primary_Code
//             (any notice lines above the header are skipped)
std::optional<CodeSetKind> recognise_code_set(std::string_view content);

struct CodeSetImport {
  std::int64_t id = 0;
  CodeSetKind kind = CodeSetKind::icd10cm;
  std::string source_name;  // file name without folders
  std::string sha256;
  std::int64_t row_count = 0;
  std::int64_t imported_at = 0;  // Unix seconds
  bool active = false;
};

struct ImportResult {
  std::filesystem::path file;
  CodeSetImport record;
  enum class Outcome { imported, replaced, unchanged } outcome = Outcome::imported;
  double seconds = 0;
};
std::string_view to_string(ImportResult::Outcome o);

// Progress of one file: rows stored so far of `total`.
using ImportProgress =
    std::function<void(const std::filesystem::path& file, CodeSetKind kind, std::size_t done, std::size_t total)>;

struct CodeSetStoreOptions {
  std::filesystem::path path;  // ":memory:" for tests
  std::chrono::milliseconds busy_timeout{5000};
  bool read_only = false;      // true: never creates the file or its tables (for lookups)
};

class CodeSetStore : public parsers::CodeSetLookup {
 public:
  // Opens the database and creates or upgrades the code-set tables (unless read_only).
  // @throw StoreError when it cannot be opened or upgraded.
  explicit CodeSetStore(CodeSetStoreOptions options);
  ~CodeSetStore() override;
  CodeSetStore(const CodeSetStore&) = delete;
  CodeSetStore& operator=(const CodeSetStore&) = delete;

  static int latest_schema_version();
  int schema_version() const;  // 0: no code-set tables

  // Imports one file (kind recognised by content).
  // @throw CodeSetFormatError for an unrecognised or malformed file (nothing is changed then);
  //        StoreError when the file cannot be read or the database fails.
  ImportResult import_file(const std::filesystem::path& file, std::int64_t now, const ImportProgress& progress = {});

  // Files as import_file; folders are searched recursively and every recognised file imported
  // (in path order); the files of a folder that were not recognised are appended to `skipped`.
  std::vector<ImportResult> import_paths(const std::vector<std::filesystem::path>& paths, std::int64_t now,
                                         const ImportProgress& progress = {},
                                         std::vector<std::filesystem::path>* skipped = nullptr);

  // Import records, newest first.
  std::vector<CodeSetImport> imports(bool active_only = true) const;

  // A Level II modifier from the HCPCS file ("RT", "XS").
  std::optional<parsers::CodeInfo> find_modifier(std::string_view modifier) const;

  // parsers::CodeSetLookup
  bool has(parsers::CodeSystem system) const override;
  bool has_add_on_edits() const override;
  std::optional<parsers::CodeInfo> find(parsers::CodeSystem system, std::string_view code) const override;
  std::vector<parsers::CodeInfo> children(parsers::CodeSystem system, std::string_view prefix) const override;
  std::optional<parsers::AddOnInfo> add_on(std::string_view code) const override;
  // Ranks the descriptions of ICD-10-CM or HCPCS (terminated HCPCS codes left out) against the
  // narrative's words with the FTS5 index and bm25; score = -bm25. Other systems, or a database
  // whose code-set schema predates the index (read-only opens; `codes import` upgrades it): {}.
  std::vector<parsers::Suggestion> suggest(parsers::CodeSystem system, std::string_view narrative,
                                           int limit = 5) const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The FTS5 query CodeSetStore::suggest runs for a narrative: its distinct words, OR-ed, each
// quoted. Words are lower-cased ASCII letters (accented letters kept); common clinical
// abbreviations are spelled out ("htn" -> hypertension, "R" -> right); tokens with digits (codes,
// numbers, dates), stop words, mail and billing vocabulary and words under 3 letters are dropped.
// Empty when no word is left.
std::string suggestion_query(std::string_view narrative);

// What the intake calls: the code sets loaded in the database `db` (e.g. the store's file), or null
// when the file does not exist or holds no code sets. Read-only; the returned object has its own
// connection and the threading rule of CodeSetStore.
// @throw StoreError when the file exists but cannot be opened.
std::unique_ptr<parsers::CodeSetLookup> open_code_sets(const std::filesystem::path& db);

}  // namespace casedesk::queue
