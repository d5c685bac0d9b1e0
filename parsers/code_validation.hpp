#pragma once
// Validation of extracted codes against loaded code sets (see parsers/code_sets.hpp). Pure: all
// code-set facts come through the CodeSetLookup; the CPT section table and the deleted-code rule
// table are compiled in.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parsers/code_sets.hpp"
#include "parsers/codes.hpp"
#include "parsers/message.hpp"

namespace casedesk::parsers {

// Fills Code::status and Code::notes of every code and returns the case-level notes (add-on codes
// without a primary, 50 with RT/LT, 25 without an E/M code, 59 where XE/XS/XP/XU is more specific).
//   status: "billable"    in the loaded set (HCPCS: not terminated as of `as_of`)
//           "header"      ICD-10-CM strict prefix of billable codes; the notes name its children
//           "invalid"     well-formed, not in the loaded set; the notes suggest near matches
//           "terminated"  HCPCS termination date before `as_of`
//           "deleted"     in the compiled deleted-code table (CPT/HCPCS), with the replacement
//           "format-only" CPT (no AMA file) or a system whose set is not loaded
// `lookup` may be null (everything format-only; modifier notes still apply).
// `as_of`: YYYY-MM-DD; empty means today (UTC).
std::vector<std::string> validate_codes(std::vector<Code>& codes, const CodeSetLookup* lookup,
                                        std::string_view as_of = {});

// ICD-10-PCS codes written without a "PCS" cue, found by table hit: 7-character tokens of the PCS
// alphabet (0-9, A-H, J-N, P-Z) with at least one digit and one letter, standing alone (not part of
// a longer token, a hyphen chain or a dotted number), that are in the loaded ICD-10-PCS set and not
// extracted yet. They are appended to `codes` with their mentions (found_in, start/end), in order
// of first mention. Nothing happens when `lookup` is null or has no ICD-10-PCS set.
void add_pcs_by_table(std::vector<Code>& codes, const std::vector<TextSource>& sources,
                      const CodeSetLookup* lookup);

// The text narrative suggestions read: the subject and the new text of the body
// (Message::reply_text; body_text when that is empty), one per line.
std::string suggestion_narrative(const Message& message);

// Up to `limit` ICD-10-CM codes whose descriptions fit the message's narrative, best first, leaving
// out codes the mail itself names (`extracted`): suggestions never repeat or replace extracted
// codes. Empty when `lookup` is null or has no ICD-10-CM set.
std::vector<Suggestion> suggest_codes(const CodeSetLookup* lookup, const Message& message,
                                      const std::vector<Code>& extracted, int limit = 5);

// A code deleted from CPT/HCPCS, from the rule table maintained in code_validation.cpp.
struct DeletedCode {
  std::string_view code;
  std::string_view deleted_on;   // YYYY-MM-DD
  std::string_view replacement;  // plain words, e.g. "64633-64636 (per facet joint)"
  std::string_view source;
};
std::optional<DeletedCode> find_deleted_code(std::string_view code);

// The readings of a looked-up string ("M54.5", "a0100", "64635"): one Code per system whose format
// it fits, in the order ICD-10-CM, ICD-10-PCS, HCPCS, CPT. Empty when it fits none.
std::vector<Code> codes_for_query(std::string_view query);

// Today's date in UTC as YYYY-MM-DD.
std::string today_utc();

}  // namespace casedesk::parsers
