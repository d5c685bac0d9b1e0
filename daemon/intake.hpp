#pragma once
// One intake pass: every message in the intake mailbox becomes a committed case (or a quarantine
// record) before it is moved to the processed (or failed) folder. A crash anywhere leaves the mail
// in the mailbox or its case committed; the UID record lets the next pass finish the move.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "daemon/imap_client.hpp"
#include "queue/store.hpp"

namespace casedesk::daemon {

struct IntakeOptions {
  std::string processed_folder = "Processed";
  std::string failed_folder = "Failed";
  std::vector<std::string> own_addresses;  // mail from these gets no ack (loop protection)
  std::function<std::int64_t()> now;       // Unix seconds
};

struct IntakeStats {
  int seen = 0;         // UIDs in the mailbox
  int created = 0;      // new cases
  int duplicates = 0;   // mail already stored as a case
  int quarantined = 0;  // could not become a case; kept with a reason
  int moved = 0;
  int move_failures = 0;  // left in the mailbox; the next pass retries the move
  int fetch_failures = 0;
};

// The reason no acknowledgement is due for a mail, or nullopt when one is.
std::optional<std::string> ack_suppression_reason(const parsers::Message& message,
                                                  const std::vector<std::string>& own_addresses);

// @throw MailError (unreachable/cancelled) when the server cannot be used; per-message problems
//        are handled inside (quarantine, retry next pass). @throw queue::StoreError if the store fails.
IntakeStats run_intake_pass(ImapClient& imap, queue::Store& store, const IntakeOptions& options);

}  // namespace casedesk::daemon
