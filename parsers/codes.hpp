#pragma once
// Billing-code extraction from the decoded text of a mail. Pure functions, no I/O.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parsers/message.hpp"

namespace casedesk::parsers {

enum class CodeSystem { cpt, hcpcs, icd10cm, icd10pcs };
std::string_view to_string(CodeSystem s);  // "CPT", "HCPCS", "ICD-10-CM", "ICD-10-PCS"
std::optional<CodeSystem> code_system_from_string(std::string_view s);

struct CodeMention {
  std::string where;  // "subject", "body", "attachment:N" (N = index into Message::attachments)
  std::size_t start = 0;  // byte offsets into that place's decoded UTF-8 text
  std::size_t end = 0;
  std::vector<std::string> modifiers;
  std::optional<int> units;
};

struct Code {
  std::string code;               // CPT "64635", "3074F"; HCPCS "J1885"; ICD-10-CM dotted "M54.50"
  CodeSystem system = CodeSystem::cpt;
  std::vector<std::string> modifiers;   // merged across mentions, first-seen order, no duplicates
  std::optional<int> units;
  std::optional<std::string> range_end; // "99215" for "99202-99215"
  std::vector<std::string> found_in;    // distinct of "subject", "body", "attachment", first-seen order
  // Other readings of an ambiguous token, "SYSTEM:CODE" ("ICD-10-CM:A01.00" for HCPCS A0100 read
  // by context); never a second Code entry.
  std::vector<std::string> alternatives;
  std::vector<CodeMention> mentions;
  // Set by validate_codes (parsers/code_validation.hpp); nullopt/empty when not validated.
  std::optional<std::string> status;  // "billable" | "header" | "invalid" | "terminated" | "deleted" | "format-only"
  std::vector<std::string> notes;     // plain-language remarks on this code
};

struct TextSource {
  std::string where;       // "subject", "body", "attachment:N"
  std::string_view text;   // must outlive the call
};

struct CodeExtraction {
  std::vector<Code> codes;                        // as extract_codes
  std::vector<std::string> unattached_modifiers;  // modifiers named without any code ("modifier 59?"), first-seen order
};

// One entry per distinct code, in order of first mention.
std::vector<Code> extract_codes(const std::vector<TextSource>& sources);

// Subject, body_text and the text of text and PDF attachments of a parsed message.
std::vector<Code> extract_codes(const Message& message);

// Codes plus the modifiers written without a code.
CodeExtraction extract_code_info(const std::vector<TextSource>& sources);
CodeExtraction extract_code_info(const Message& message);

// The sources extract_codes(const Message&) reads: subject, body, text of attachments.
std::vector<TextSource> code_sources(const Message& message);

}  // namespace casedesk::parsers
