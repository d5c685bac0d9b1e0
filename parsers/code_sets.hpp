#pragma once
// The contract between code validation (parsers/, pure) and a store of official code sets
// (queue/code_set_store: SQLite). Value types only; no I/O here.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parsers/codes.hpp"

namespace casedesk::parsers {

// One code of an official code set.
struct CodeInfo {
  CodeSystem system = CodeSystem::icd10cm;
  std::string code;                  // display form: ICD-10-CM dotted "M54.50"; others as printed
  bool billable = true;              // false: a non-billable header (a strict prefix of billable codes)
  std::string description;           // long title (ICD, PCS, HCPCS long description)
  std::string short_description;     // HCPCS short description; empty when the set has none
  std::optional<std::string> added_date;        // YYYY-MM-DD, where the set says
  std::optional<std::string> effective_date;    // YYYY-MM-DD, where the set says (HCPCS action date)
  std::optional<std::string> termination_date;  // YYYY-MM-DD (HCPCS TERM DT)
  std::string version;               // source of the loaded set, e.g. "icd10cm-codes-2026.txt"
};

// The NCCI add-on code edits for one add-on code (active edits only).
struct AddOnInfo {
  std::string code;
  int edit_type = 1;                  // 1: listed primaries only; 2: contractor-defined; 3: listed + contractor
  std::vector<std::string> primaries; // sorted; empty for type 2 ("CCCCC")
  std::string version;                // e.g. "AOC_V2026Q2-MCR.csv"
};

// A code whose description fits a free-text narrative (a suggestion for a consultant, never an
// extracted code).
struct Suggestion {
  CodeSystem system = CodeSystem::icd10cm;
  std::string code;         // display form, as CodeInfo::code
  std::string description;
  double score = 0;         // higher is better; comparable only within one result list
};

// Read access to loaded code sets. Implementations document their own threading; none of the
// methods throws for an unknown code (that is an empty result).
class CodeSetLookup {
 public:
  virtual ~CodeSetLookup() = default;

  // Whether a code set of this system is loaded (without it, validation is format-only).
  virtual bool has(CodeSystem system) const = 0;
  virtual bool has_add_on_edits() const = 0;

  // A code of the set, exactly (ICD-10-CM dotted or undotted, case-insensitive).
  virtual std::optional<CodeInfo> find(CodeSystem system, std::string_view code) const = 0;

  // Every code of the set that starts with `prefix` and is longer than it (ICD-10-CM dotted or
  // undotted), in code order.
  virtual std::vector<CodeInfo> children(CodeSystem system, std::string_view prefix) const = 0;

  // The add-on code edits of `code`, or nullopt when it is not an add-on code (or no AOC edits are
  // loaded).
  virtual std::optional<AddOnInfo> add_on(std::string_view code) const = 0;

  // Up to `limit` codes of `system` whose descriptions best fit the words of `narrative` (a mail's
  // text), best first. Empty when the set is not loaded, the narrative has no usable words, or the
  // implementation has no description index (the default).
  virtual std::vector<Suggestion> suggest(CodeSystem system, std::string_view narrative, int limit = 5) const {
    (void)system;
    (void)narrative;
    (void)limit;
    return {};
  }
};

// "M5450" -> "M54.50"; 3 characters stay as they are.
std::string icd10cm_dotted(std::string_view undotted);
// Upper case without dots, spaces and dashes: "m54.50" -> "M5450".
std::string normalize_code(std::string_view code);

}  // namespace casedesk::parsers
