#pragma once
// RFC 5322 address lists as found in real mail (groups, comments, obsolete routes, missing
// brackets). Pure functions; never throw except std::bad_alloc.

#include <string_view>
#include <vector>

#include "parsers/message.hpp"

namespace casedesk::parsers {

// Every mailbox of an address-list header value (unfolded), groups flattened, in order.
// Display names are RFC 2047 decoded, comments dropped, whitespace runs collapsed (quoted
// strings kept verbatim). Junk that names no mailbox is skipped.
std::vector<Address> parse_address_list(std::string_view value);

}  // namespace casedesk::parsers
