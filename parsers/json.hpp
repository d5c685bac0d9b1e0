#pragma once
// JSON shapes of parser values, as printed by `casedesk parse --json` and embedded in queue output.

#include <nlohmann/json.hpp>
#include <vector>

#include "parsers/codes.hpp"
#include "parsers/message.hpp"

namespace casedesk::parsers {

// Every field of the `parse --json` object except "file", "codes", "case_ref" and "error":
// message_id, from_addr, from_name, to, subject, date, in_reply_to, references, auto_submitted,
// precedence, automated, body_source, body_text, reply_text, attachments, warnings.
nlohmann::json to_json(const Message& message);

// [{"code","system","modifiers","units","range_end","found_in","alternatives","mentions","status","notes"}]
// ("status" null and "notes" [] when the codes were not validated against code sets)
nlohmann::json to_json(const std::vector<Code>& codes);

}  // namespace casedesk::parsers
