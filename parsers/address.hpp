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

// An address we may send to and count by: an RFC 5321 §4.1.2 Mailbox (Dot-string or
// Quoted-string local part of at most 64 octets, "@", a domain of LDH labels or an address
// literal), at most 254 octets, with no space, CR, LF, NUL or other control character anywhere.
// UTF-8 (RFC 6531) is allowed in atoms and labels. parse_address_list keeps what the header said;
// this decides whether that is an address at all.
bool is_valid_mailbox(std::string_view addr);

}  // namespace casedesk::parsers
