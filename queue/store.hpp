#pragma once
// The case store: cases, their messages (raw bytes kept), extracted codes, audit events, the
// outbox of replies, quarantined mail and IMAP UID bookkeeping, in one SQLite database (WAL).
//
// Threading: a Store owns one SQLite connection and shall not be shared by multiple threads.
// Several Store objects (in one or several processes) may open the same file; writers wait up to
// the busy timeout. Broken invariants and database failures throw StoreError; duplicates are a
// normal return value.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "parsers/codes.hpp"
#include "parsers/message.hpp"

namespace casedesk::queue {

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Case status. This foundation has only "new" (waiting for a consultant); review states are added
// by the review workflow.
inline constexpr std::string_view kStatusNew = "new";

// Acknowledgement state of a case.
enum class AckState { pending, sent, suppressed, failed };
std::string_view to_string(AckState s);
std::optional<AckState> ack_state_from_string(std::string_view s);

enum class OutboxState { pending, sent, failed };
std::string_view to_string(OutboxState s);

// Where a mail came from on the IMAP server.
struct MailSource {
  std::string mailbox;
  std::int64_t uidvalidity = 0;
  std::int64_t uid = 0;
};

struct IncomingMail {
  std::string raw;                    // the exact bytes as fetched
  parsers::Message message;           // parse_message(raw)
  std::vector<parsers::Code> codes;   // extract_codes(message), then validate_codes when code sets are loaded
  std::vector<std::string> code_notes;  // the case-level notes validate_codes returned
  std::optional<MailSource> source;
  std::optional<std::string> suppress_ack_reason;  // set: no ack is due, for this reason
};

struct EnqueueResult {
  enum class Outcome { created, duplicate };
  Outcome outcome = Outcome::created;
  std::int64_t case_id = 0;
  std::string case_ref;
  std::vector<std::string> warnings;  // e.g. a reused Message-ID
};

struct CaseSummary {
  std::int64_t id = 0;
  std::string ref;
  std::string status;
  AckState ack_state = AckState::pending;
  std::optional<std::string> ack_reason;
  std::string submitter_addr;
  std::string submitter_name;
  std::string subject;
  std::int64_t created_at = 0;  // Unix seconds
  std::int64_t updated_at = 0;
  std::vector<parsers::Code> codes;       // with status/notes when validated at intake
  std::vector<std::string> code_notes;    // case-level code notes (add-on without primary, modifiers)
};

struct StoredMessage {
  std::int64_t id = 0;
  std::string direction;  // "in" | "out"
  std::optional<std::string> message_id;
  std::optional<std::string> from_addr;
  std::optional<std::string> from_name;
  std::optional<parsers::Address> reply_to;
  std::optional<std::string> subject;
  std::optional<std::string> date;  // ISO 8601 as parsed
  std::optional<std::string> in_reply_to;
  std::vector<std::string> references;
  std::int64_t received_at = 0;
  std::int64_t size = 0;  // raw bytes
  std::string body_source;
  std::string body_text;
  std::vector<std::string> warnings;
  std::optional<MailSource> source;
};

struct Event {
  std::int64_t id = 0;
  std::int64_t at = 0;
  std::string actor;  // "intake", "outbox", a consultant's name
  std::string kind;   // "created", "ack_sent", "ack_failed", "duplicate", ...
  std::optional<std::string> from_state;
  std::optional<std::string> to_state;
  std::string note;   // never mail content
};

struct OutboxItem {
  std::int64_t id = 0;
  std::int64_t case_id = 0;                  // 0 for a reply about quarantined mail
  std::optional<std::int64_t> quarantine_id;  // set for a reply about quarantined mail
  std::string case_ref;                      // "CD-000123", or "quarantine N"
  std::string kind;  // "ack"
  OutboxState state = OutboxState::pending;
  std::optional<std::string> message_id;  // fixed once composed: every attempt sends the same one
  std::optional<std::string> to_addr;
  std::optional<std::string> raw;         // composed RFC 5322 bytes, once composed
  int attempts = 0;
  std::int64_t next_attempt_at = 0;
  std::optional<std::string> last_error;
  std::int64_t created_at = 0;
  std::optional<std::int64_t> sent_at;
};

struct CaseDetail {
  CaseSummary summary;
  std::vector<StoredMessage> messages;
  std::vector<Event> events;
  std::vector<OutboxItem> outbox;
};

// What the store recorded for one IMAP UID.
struct UidRecord {
  std::string outcome;  // "case" | "quarantined"
  std::optional<std::int64_t> case_id;
  std::optional<std::int64_t> quarantine_id;
  bool moved = false;   // moved out of the intake mailbox
};

struct QuarantineRecord {
  std::int64_t id = 0;
  std::int64_t at = 0;
  std::optional<MailSource> source;
  std::string reason;
  std::int64_t size = 0;
  std::optional<std::string> case_ref;  // set once `quarantine retry` turned it into a case
};

// Who holds the daemon lock of a mailbox.
struct LockHolder {
  std::int64_t pid = 0;
  std::string host;
  std::int64_t started_at = 0;
  std::int64_t heartbeat_at = 0;
};

struct StoreOptions {
  std::filesystem::path path;               // ":memory:" for tests
  std::string case_prefix = "CD";
  std::chrono::milliseconds busy_timeout{5000};
};

class Store {
 public:
  // Opens or creates the database and runs pending schema migrations.
  // @throw StoreError when the file cannot be opened or migrated.
  explicit Store(StoreOptions options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  int schema_version() const;
  static int latest_schema_version();

  // Stores a mail as a new case, in one transaction with its messages, codes, an audit event, the
  // ack in the outbox (unless suppressed) and its UID record. The same mail twice (same
  // Message-ID, sender and Date; without a Message-ID: the same bytes) returns the existing case
  // as `duplicate` and records the UID against it.
  EnqueueResult enqueue(const IncomingMail& mail, std::int64_t now);

  // UID bookkeeping, keyed by (mailbox, uidvalidity, uid).
  std::optional<UidRecord> uid_record(const MailSource& source) const;
  void mark_moved(const MailSource& source, std::int64_t now);

  // Keeps a mail that could not become a case, with the reason; records its UID and, when
  // `reply` is set, queues that reply (e.g. "too_large") in the same transaction. Returns its id.
  struct QuarantineReply {
    std::string kind;
    std::string to_addr;
  };
  std::int64_t quarantine(const std::optional<MailSource>& source, std::string_view raw,
                          std::string_view reason, std::int64_t now,
                          const std::optional<QuarantineReply>& reply = std::nullopt);
  std::vector<QuarantineRecord> list_quarantine() const;
  // The stored raw bytes of a quarantined mail; nullopt for an unknown id.
  std::optional<std::string> quarantined_raw(std::int64_t id) const;
  // Links a quarantined mail to the case `quarantine retry` made of it.
  void mark_quarantine_retried(std::int64_t id, std::int64_t case_id, std::int64_t now);

  // Automatic replies (outbox items of any state) to `addr` created at or after `since`.
  int count_auto_replies_since(std::string_view addr, std::int64_t since) const;

  // One daemon per mailbox. Takes the lock for `key` unless a live holder has it: a holder on
  // this host whose pid is gone, or whose heartbeat is older than stale_after seconds, is replaced.
  // Returns the holder that refused us, or nullopt when we hold the lock now.
  std::optional<LockHolder> acquire_lock(std::string_view key, std::int64_t pid, std::string_view host,
                                         std::int64_t now, std::int64_t stale_after);
  void heartbeat_lock(std::string_view key, std::int64_t pid, std::int64_t now);
  void release_lock(std::string_view key, std::int64_t pid);

  // The first time a daemon started on this store (recorded by the first call, then kept).
  std::int64_t first_start_at(std::int64_t now);

  // Named counters (mails seen, cases created, ...), kept across restarts.
  void add_counter(std::string_view name, std::int64_t delta, std::int64_t now);
  struct Counter {
    std::string name;
    std::int64_t value = 0;
    std::int64_t updated_at = 0;
  };
  std::vector<Counter> counters() const;

  // Sizes for `casedesk status`: cases by status, outbox items by state, quarantine, lock holders.
  struct Snapshot {
    std::vector<std::pair<std::string, std::int64_t>> cases_by_status;
    std::vector<std::pair<std::string, std::int64_t>> outbox_by_state;
    std::optional<std::int64_t> oldest_pending_reply_at;  // created_at of the oldest pending item
    std::int64_t quarantined = 0;
    std::vector<std::pair<std::string, LockHolder>> daemons;  // lock key -> holder
  };
  Snapshot snapshot() const;

  // Outbox.
  std::vector<OutboxItem> due_outbox(std::int64_t now, int limit = 100) const;
  // When the earliest pending outbox item is due (Unix seconds), if any.
  std::optional<std::int64_t> next_outbox_attempt_at() const;
  // Fixes the composed bytes and Message-ID of an item before its first attempt.
  void set_outbox_content(std::int64_t id, std::string_view message_id, std::string_view to_addr,
                          std::string_view raw);
  void mark_outbox_sent(std::int64_t id, std::int64_t now, std::string_view server_reply);
  // A failed attempt: permanent -> state failed (and the case's ack failed); otherwise stays
  // pending until next_attempt_at.
  void mark_outbox_attempt_failed(std::int64_t id, std::int64_t now, std::string_view error, bool permanent,
                                  std::int64_t next_attempt_at);

  // The outbox item that was sent with this Message-ID ("<id@host>"), if any.
  std::optional<OutboxItem> outbox_by_message_id(std::string_view message_id) const;
  // A delivery-status report says this reply did not arrive: state failed, the case's ack failed
  // (for an ack), an event; the bounce itself is recorded against the case's UID bookkeeping.
  void mark_outbox_bounced(std::int64_t id, std::int64_t now, std::string_view reason,
                           const std::optional<MailSource>& bounce_source);

  // Queries.
  std::vector<CaseSummary> list_cases() const;
  std::optional<CaseDetail> get_case(std::string_view ref) const;
  std::optional<CaseDetail> get_case(std::int64_t id) const;
  std::int64_t count_cases() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace casedesk::queue
