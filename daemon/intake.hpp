#pragma once
// One intake pass: every message in the intake mailbox becomes a committed case (or a quarantine
// record) before it is moved to the processed (or failed) folder. A crash anywhere leaves the mail
// in the mailbox or its case committed; the UID record lets the next pass finish the move.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "daemon/imap_client.hpp"
#include "parsers/code_sets.hpp"
#include "queue/store.hpp"

namespace casedesk::daemon {

struct IntakeOptions {
  std::string processed_folder = "Processed";
  std::string failed_folder = "Failed";
  std::vector<std::string> own_addresses;  // mail from these gets no ack (loop protection)
  std::string own_domain;                  // the domain of our Message-IDs (bounce matching)
  const parsers::CodeSetLookup* code_sets = nullptr;  // validates extracted codes when set
  int auto_replies_per_sender = 20;        // cap per window; 0 = no cap
  std::int64_t auto_reply_window_seconds = 3600;
  std::function<std::int64_t()> now;       // Unix seconds
  std::uint64_t max_message_size = 25ull * 1024 * 1024;  // larger mail is quarantined unfetched
  // Mail that reached the server before this instant (the first start minus the ack window) is
  // imported without an acknowledgement. 0 = no such cut-off.
  std::int64_t ack_cutoff = 0;
  // Called after each batch of mail is committed and moved (and at the end of the pass): the
  // replies of those cases are in the outbox now. Optional.
  std::function<void()> on_committed;
};

struct IntakeStats {
  int seen = 0;         // UIDs in the mailbox
  int created = 0;      // new cases
  int duplicates = 0;   // mail already stored as a case
  int suppressed = 0;   // new cases that get no acknowledgement
  int quarantined = 0;  // could not become a case; kept with a reason
  int moved = 0;
  int move_failures = 0;  // left in the mailbox; the next pass retries the move
  int fetch_failures = 0;
  int imported = 0;     // old mail at first start: cases without an ack
  int too_large = 0;    // quarantined without fetching the body
  int bounces = 0;      // delivery reports for our own replies (no case)
  int followups = 0;    // mail attached to an existing case (replies of its submitter, their auto-replies)
  int rejected = 0;     // new cases stored as rejected (unknown sender, over quota)
  bool uidvalidity_changed = false;  // the mailbox was renumbered since the last recorded UID
  // Per new case (not imported): seconds from the server's INTERNALDATE to the commit (/metrics).
  std::vector<double> latencies;
};

// The reason no acknowledgement is due for a mail, or nullopt when one is.
std::optional<std::string> ack_suppression_reason(const parsers::Message& message,
                                                  const std::vector<std::string>& own_addresses);

// Parses raw mail, extracts its codes and decides whether an ack is due. Throws only on failures
// that cannot become a case (the caller quarantines the mail then).
queue::IncomingMail prepare_incoming(std::string raw, std::optional<queue::MailSource> source,
                                     const IntakeOptions& options);

// The same without a copy of the bytes (the intake pass): takes them from `raw`, and gives them
// back when it throws, so the mail can still be quarantined.
queue::IncomingMail take_incoming(std::string& raw, std::optional<queue::MailSource> source,
                                  const IntakeOptions& options);

// @throw MailError (unreachable/cancelled) when the server cannot be used; per-message problems
//        are handled inside (quarantine, retry next pass). @throw queue::StoreError if the store fails.
IntakeStats run_intake_pass(ImapClient& imap, queue::Store& store, const IntakeOptions& options);

}  // namespace casedesk::daemon
