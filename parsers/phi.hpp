#pragma once
// PHI guard: which kinds of likely protected health information a mail contains. Pure, no I/O.
// Returns kinds only, never the values: callers must not log the matched text either.

#include <string>
#include <vector>

#include "parsers/codes.hpp"  // TextSource

namespace casedesk::parsers {

// Kinds, in this order when present: "ssn", "dob", "mrn", "member_id", "phone", "patient_name".
std::vector<std::string> detect_phi(const std::vector<TextSource>& sources);

}  // namespace casedesk::parsers
