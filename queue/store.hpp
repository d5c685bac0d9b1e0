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

// Case status (the review workflow; the store refuses illegal transitions):
//   new -> in_review (claim, assign) -> answered (answer) | waiting_on_submitter (ask) | new (release,
//   lease expiry); waiting_on_submitter -> new (the submitter's follow-up); answered -> closed (close,
//   auto-close) | new (reopen, follow-up); closed -> new (reopen, follow-up); any open state -> rejected.
inline constexpr std::string_view kStatusNew = "new";
inline constexpr std::string_view kStatusInReview = "in_review";
inline constexpr std::string_view kStatusAnswered = "answered";
inline constexpr std::string_view kStatusWaiting = "waiting_on_submitter";
// ack_reason of a case whose From and Reply-To hold no valid address (RFC 5321): it is created
// as usual (state new) with a null submitter, gets no ack, and no sender rule counts it.
inline constexpr std::string_view kNoValidSender = "no_valid_sender";
inline constexpr std::string_view kStatusClosed = "closed";
inline constexpr std::string_view kStatusRejected = "rejected";
// All statuses, in workflow order.
const std::vector<std::string_view>& all_statuses();

enum class Priority { low, normal, high, urgent };
std::string_view to_string(Priority p);
std::optional<Priority> priority_from_string(std::string_view s);

// A request the workflow refuses (claim of an answered case, answer by someone who does not own it).
class TransitionError : public StoreError {
 public:
  using StoreError::StoreError;
};

// An unknown case reference, user or submitter.
class NotFound : public StoreError {
 public:
  using StoreError::StoreError;
};

// A narrative suggestion (an ICD-10-CM code for the case's text), never an extracted code.
struct Suggestion {
  std::string code;
  std::string system;  // "ICD-10-CM", "HCPCS" (parsers::to_string of the system, as for codes)
  std::string description;
  double score = 0;
};

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
  // Automated mail (auto-reply, list, DSN, own address): a follow-up of this kind attaches to its
  // case as a note without moving the case and gets no reply.
  bool automated = false;
  std::vector<std::string> phi;          // kinds of likely PHI found (parsers::detect_phi)
  std::vector<Suggestion> suggestions;   // narrative suggestions (top ICD-10-CM codes)
};

struct EnqueueResult {
  // created: a new case; duplicate: the same mail again; followup: attached to an existing case
  // (its submitter replied); note: automated mail attached to its case as a note.
  enum class Outcome { created, duplicate, followup, note };
  Outcome outcome = Outcome::created;
  std::int64_t case_id = 0;
  std::string case_ref;
  std::vector<std::string> warnings;  // e.g. a reused Message-ID
  std::optional<std::string> rejected;  // a new case stored as rejected: "over_quota" | "unknown_sender"
  std::optional<std::string> from_status;  // followup: the case's status before and after
  std::optional<std::string> to_status;
};

struct CaseSummary {
  std::int64_t id = 0;
  std::string ref;
  std::string status;
  AckState ack_state = AckState::pending;
  std::optional<std::string> ack_reason;
  std::string submitter_addr;  // empty: the From held no valid address (null in the store and the JSON)
  std::string submitter_name;
  std::string subject;
  std::int64_t created_at = 0;  // Unix seconds
  std::int64_t updated_at = 0;
  std::vector<parsers::Code> codes;       // with status/notes when validated at intake
  std::vector<std::string> code_notes;    // case-level code notes (add-on without primary, modifiers)
  std::string priority = "normal";        // low | normal | high | urgent
  std::optional<std::string> owner;       // the consultant who claimed it
  std::optional<std::int64_t> lease_until;  // in_review: the claim lapses then
  std::int64_t due_at = 0;                // created_at + sla[priority]
  bool overdue = false;                   // open (new, in_review) and past due_at (as of the query)
  std::int64_t status_changed_at = 0;
  std::int64_t message_count = 0;
  std::vector<std::string> phi;           // kinds of likely PHI found at intake
  std::vector<Suggestion> suggestions;    // narrative suggestions
  // A reply of the case (ack included) failed permanently (or bounced) and was not retried since.
  bool reply_failed = false;
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
  // "ack", "followup_ack", "answer", "question", "rejected", "over_quota", "unknown_sender",
  // "too_large", "digest"
  std::string kind;
  OutboxState state = OutboxState::pending;
  std::optional<std::string> message_id;  // fixed once composed: every attempt sends the same one
  std::optional<std::string> to_addr;
  std::optional<std::string> raw;         // composed RFC 5322 bytes, once composed
  int attempts = 0;
  std::int64_t next_attempt_at = 0;
  std::optional<std::string> last_error;
  std::int64_t created_at = 0;
  std::optional<std::int64_t> sent_at;
  std::optional<std::string> body_text;   // a consultant's answer / question / reject reason; a digest's text
  std::optional<std::string> author;      // the consultant (user name) who wrote body_text
  std::optional<std::int64_t> message_row;  // the outgoing StoredMessage this reply is (answer, question)
};

// An internal note of consultants (never sent to the submitter).
struct Note {
  std::int64_t id = 0;
  std::int64_t at = 0;
  std::string author;
  std::string text;
};

struct CaseDetail {
  CaseSummary summary;
  std::vector<StoredMessage> messages;
  std::vector<Event> events;
  std::vector<OutboxItem> outbox;
  std::vector<Note> notes;
};

// A consultant or an administrator (CLI `user`, web UI login).
struct User {
  std::int64_t id = 0;
  std::string name;
  std::string email;
  std::string role;  // "consultant" | "admin"
  std::int64_t created_at = 0;
};

// A registered submitter: one address ("coder@clinic.test") or a whole domain ("@clinic.test").
struct Submitter {
  std::int64_t id = 0;
  std::string pattern;  // lower case
  std::string name;
  std::optional<int> quota;  // cases per calendar month (UTC); nullopt or 0 = unlimited
  std::int64_t created_at = 0;
  std::int64_t cases_this_month = 0;  // non-rejected cases from it since the month began
};

// A web UI session (the token itself is never stored, only its SHA-256).
struct WebSession {
  std::string user;
  std::string role;
  std::string csrf_token;
  std::int64_t created_at = 0;
  std::int64_t expires_at = 0;
};

// Which cases `list_cases` returns and in what order.
struct CaseFilter {
  std::optional<std::string> status;    // one status
  std::optional<std::string> owner;     // cases claimed by this user
  std::optional<std::string> priority;
  bool overdue_only = false;
  bool reply_failed_only = false;       // cases with a permanently failed reply (CaseSummary::reply_failed)
  bool open_only = false;               // new, in_review, waiting_on_submitter, answered
  // "due" (overdue first, then by due time; the default), "received" (newest first), "updated"
  // (newest first), "priority" (urgent first, then due).
  std::string sort = "due";
  int limit = 100;
  int offset = 0;
  // What a listing shows, for a fraction of the work: codes with only code, system, modifiers,
  // units, range and status (no mentions, places found or notes), and no code suggestions.
  bool brief = false;
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

// The review workflow's timings, in seconds.
struct ReviewPolicy {
  std::int64_t claim_lease = 4 * 3600;
  std::int64_t auto_close = 14 * 86400;  // 0 = never
  std::int64_t sla_low = 72 * 3600;
  std::int64_t sla_normal = 48 * 3600;
  std::int64_t sla_high = 24 * 3600;
  std::int64_t sla_urgent = 4 * 3600;
  std::int64_t sla(Priority p) const;
};

// Who may open cases: registered submitters, and guests unless reject_unknown.
struct SubmitterPolicy {
  bool reject_unknown = false;
  int guest_quota = 0;  // cases per calendar month (UTC) per guest address; 0 = unlimited
};

struct StoreOptions {
  std::filesystem::path path;               // ":memory:" for tests
  std::string case_prefix = "CD";
  std::chrono::milliseconds busy_timeout{5000};
  ReviewPolicy review;
  SubmitterPolicy submitters;
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

  // Group commit. While on, commits do not wait for the disk (synchronous=NORMAL in WAL mode): a
  // crash of the process keeps them, a power loss may drop the latest. make_durable() then
  // waits for all of them with one sync. Intake commits a batch of cases this way and makes it
  // durable before it moves their mail on the server, so no mail is moved whose case could be
  // lost (a power loss can at worst repeat an ack for mail still in the mailbox).
  void set_group_commit(bool on);
  void make_durable(std::int64_t now);

  // UID bookkeeping, keyed by (mailbox, uidvalidity, uid).
  std::optional<UidRecord> uid_record(const MailSource& source) const;
  void mark_moved(const MailSource& source, std::int64_t now);
  void mark_moved(const std::vector<MailSource>& sources, std::int64_t now);  // in one transaction
  // The UIDVALIDITY under which the latest UID of `mailbox` was recorded, if any (a change means
  // the server renumbered the mailbox).
  std::optional<std::int64_t> last_uidvalidity(std::string_view mailbox) const;

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
    std::int64_t cases_reply_failed = 0;  // cases with a permanently failed reply
    std::vector<std::pair<std::string, LockHolder>> daemons;  // lock key -> holder
  };
  Snapshot snapshot() const;

  // Outbox.
  static constexpr int kOutboxPage = 100;
  std::vector<OutboxItem> due_outbox(std::int64_t now, int limit = kOutboxPage) const;
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

  // A permanently failed (or bounced) reply goes out again once its cause is fixed: back to pending,
  // due now, attempts and the retry window counted afresh, recomposed by the current code (a new
  // Message-ID; nothing of the failed attempt reached its recipient). An audit event names `actor`
  // (a registered user). With `case_ref`, the item must be a reply of that case. Returns the item
  // as it is now.
  // @throw NotFound (no such item, or not of case_ref), TransitionError (the item is not failed).
  OutboxItem retry_outbox(std::int64_t id, std::string_view actor, std::int64_t now,
                          std::optional<std::string_view> case_ref = std::nullopt);

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

  // --- review workflow (queue/review.cpp) ---
  // Every change checks the transition table, runs in one transaction and writes an audit event
  // (who, when, from -> to, note). `actor` must be a registered user.
  // @throw NotFound (unknown case or user), TransitionError (refused).

  // Cases with their codes, one page (filter.limit, filter.offset) in filter.sort order.
  std::vector<CaseSummary> list_cases(const CaseFilter& filter, std::int64_t now) const;
  std::int64_t count_cases(const CaseFilter& filter, std::int64_t now) const;
  // Full-text search (SQLite FTS5) over subject, mail text and codes; best matches first. Any
  // user text is accepted (it is quoted, not interpreted as FTS syntax).
  std::vector<CaseSummary> search_cases(std::string_view query, std::int64_t now, int limit = 50,
                                        bool brief = false) const;
  // The case's state, its owner and lease; nullopt for an unknown reference.
  std::optional<CaseSummary> find_case(std::string_view ref, std::int64_t now) const;

  // new -> in_review with owner = actor and a lease; also takes over an in_review case whose lease
  // has run out. Claiming one's own in_review case renews the lease.
  void claim(std::string_view ref, std::string_view actor, std::int64_t now);
  // in_review -> new (by its owner or an admin).
  void release(std::string_view ref, std::string_view actor, std::int64_t now);
  // Gives the case to `user`: new or in_review -> in_review with that owner and a fresh lease.
  void assign(std::string_view ref, std::string_view actor, std::string_view user, std::int64_t now);
  // An internal note; does not change the state.
  void add_note(std::string_view ref, std::string_view actor, std::string_view text, std::int64_t now);
  // in_review -> answered / waiting_on_submitter (by its owner or an admin); the reply goes to the
  // outbox (kind "answer" / "question"). Returns the outbox item's id.
  std::int64_t answer(std::string_view ref, std::string_view actor, std::string_view text, std::int64_t now);
  std::int64_t ask(std::string_view ref, std::string_view actor, std::string_view text, std::int64_t now);
  // answered -> closed.
  void close(std::string_view ref, std::string_view actor, std::int64_t now);
  // answered or closed -> new.
  void reopen(std::string_view ref, std::string_view actor, std::int64_t now);
  // Any open state -> rejected; a "rejected" reply with the reason goes to the outbox. Returns
  // its outbox id.
  std::int64_t reject(std::string_view ref, std::string_view actor, std::string_view reason, std::int64_t now);
  // Priority (and the due time that follows from it); any state.
  void set_priority(std::string_view ref, std::string_view actor, Priority priority, std::int64_t now);

  // Time-driven transitions: claims past their lease -> new, answered cases without a follow-up
  // for auto_close -> closed. Returns how many of each.
  struct Housekeeping {
    int leases_expired = 0;
    int auto_closed = 0;
  };
  Housekeeping housekeeping(std::int64_t now);

  // Consultant digest: queues one "digest" mail per user with an email, listing new and overdue
  // cases, unless one was queued less than `every` seconds ago or there is nothing to report.
  // Returns the number of digests queued.
  int queue_digests(std::int64_t now, std::int64_t every);

  // The stored raw bytes of one of a case's messages (to download the original message); nullopt
  // when the message does not belong to that case or its raw mail was purged.
  std::optional<std::string> message_raw(std::string_view ref, std::int64_t message_id) const;

  // --- stored message content (queue/content.cpp) ---
  // What the case view shows of an incoming message besides its text: its attachments, stored at
  // intake with their decoded bytes (in chunks), so that a view never parses the raw mail.
  static constexpr std::size_t kAttachmentChunk = 256 * 1024;
  struct StoredAttachment {
    std::int64_t id = 0;
    std::size_t index = 0;                  // position in parse_message(raw).attachments
    std::optional<std::string> filename;
    std::string content_type;
    std::optional<std::int64_t> size;       // decoded bytes; nullopt for message/* parts
    std::optional<std::string> text;        // extracted text (text/*, PDF, message/rfc822 body)
    std::int64_t data_size = 0;             // bytes stored for download
  };
  struct MessageContent {
    // Retention ([retention] raw_mail) removed the raw mail and with it the text and the
    // attachments; purged_at is when (nullopt: purged by a release that did not record it).
    bool purged = false;
    std::optional<std::int64_t> purged_at;
    bool backfilled = false;  // stored just now from the raw mail (a message of an older release)
    std::vector<StoredAttachment> attachments;
  };
  // The stored content of message `message_id` of case `ref`; nullopt when the message does not
  // belong to that case. An incoming message stored by an older release has no stored content
  // yet: it is stored now from its raw mail, in one transaction (once; later calls only read).
  // @throw StoreError
  std::optional<MessageContent> message_content(std::string_view ref, std::int64_t message_id, std::int64_t now);
  // Attachment `index` of a case's incoming message, without its text; nullopt when there is no
  // such attachment or its bytes are gone. Content made by an older release is stored first.
  std::optional<StoredAttachment> find_attachment(std::string_view ref, std::int64_t message_id, std::size_t index,
                                                  std::int64_t now);
  // Bytes [seq * kAttachmentChunk, (seq + 1) * kAttachmentChunk) of a stored attachment (the last
  // chunk may be shorter); nullopt when it is gone (purged since). Each call is its own short
  // read, so a download holds no transaction open between chunks.
  std::optional<std::string> attachment_chunk(std::int64_t attachment_id, std::int64_t seq) const;
  // The size of the raw bytes of message `message_id` of case `ref` (0: purged by retention);
  // nullopt when the message does not belong to that case. Reads the size only.
  std::optional<std::int64_t> message_raw_size(std::string_view ref, std::int64_t message_id) const;
  // Up to `n` raw bytes of a message from `offset` on, read in place (SQLite incremental blob I/O,
  // so only those pages are read): downloading the original message holds one piece at a time.
  // Empty at or past the end; nullopt when the message is gone. Each call is its own short read.
  std::optional<std::string> message_raw_piece(std::int64_t message_id, std::int64_t offset, std::size_t n) const;
  // --- end stored message content ---

  // Users.
  void add_user(const User& user, std::string_view password_hash, std::int64_t now);  // @throw StoreError if taken
  std::vector<User> list_users() const;
  std::optional<User> find_user(std::string_view name) const;
  std::optional<std::string> password_hash(std::string_view name) const;
  void set_password_hash(std::string_view name, std::string_view hash, std::int64_t now);  // @throw NotFound

  // Submitters. `pattern` is an address or "@domain" (stored lower case).
  void add_submitter(std::string_view pattern, std::string_view name, std::optional<int> quota, std::int64_t now);
  bool remove_submitter(std::string_view pattern);
  std::vector<Submitter> list_submitters(std::int64_t now) const;

  // Web sessions, keyed by the SHA-256 of the session token.
  void create_session(std::string_view token_sha256, std::string_view user, std::string_view csrf_token,
                      std::int64_t now, std::int64_t expires_at);
  // The live session (expires_at > now), or nullopt.
  std::optional<WebSession> find_session(std::string_view token_sha256, std::int64_t now) const;
  void touch_session(std::string_view token_sha256, std::int64_t expires_at);
  void delete_session(std::string_view token_sha256);

  // The Message-IDs of replies we sent for a case (acks, answers, ...), for threading.
  std::vector<std::string> sent_message_ids(std::int64_t case_id) const;
  // --- end review workflow ---

  // --- maintenance (backup, retention) --- queue/maintenance.cpp
  struct BackupResult {
    std::filesystem::path path;  // the finished copy
    std::int64_t bytes = 0;
    std::int64_t cases = 0;      // cases in the copy
    int schema_version = 0;
  };
  // A consistent copy of the database at `source` (one read transaction of SQLite's online backup
  // API, so writers in other connections or processes keep going) written to `dest` (mode 0600,
  // journal mode DELETE: one self-contained file). It is written under a temporary name, checked
  // (quick_check) and renamed into place, so `dest` never holds a partial copy. Does not migrate
  // the source. @throw StoreError (source unreadable, dest exists or cannot be written, check failed).
  static BackupResult backup(const std::filesystem::path& source, const std::filesystem::path& dest,
                             std::chrono::milliseconds busy_timeout = std::chrono::milliseconds(5000));

  // What retention removes; a cut-off is Unix seconds, nullopt keeps everything of that kind.
  struct RetentionPolicy {
    std::optional<std::int64_t> raw_mail_before;      // raw bytes of messages received before
    std::optional<std::int64_t> closed_cases_before;  // closed cases closed before (closed_at, else updated_at)
    std::string raw_mail_rule;                        // for audit notes, e.g. "raw_mail = 365d"
    std::string closed_cases_rule;
  };
  struct PurgeReport {
    bool dry_run = false;
    std::int64_t raw_messages = 0;    // stored messages whose raw bytes went
    std::int64_t raw_cases = 0;       // cases those messages belong to
    std::int64_t quarantine_raw = 0;  // quarantined mails whose raw bytes went
    std::int64_t outbox_raw = 0;      // sent or failed replies whose composed bytes went
    std::int64_t raw_bytes = 0;       // bytes removed from all three
    std::int64_t content_messages = 0;  // incoming messages whose stored text and attachments went
    std::int64_t content_bytes = 0;     // stored attachment bytes removed with them
    std::vector<std::string> closed_cases;  // refs of the closed cases removed with all their rows
  };
  // Applies a retention policy in one transaction: raw bytes are emptied, and with those of
  // incoming mail its stored text (also in the search index) and attachments (the case, its
  // subject, codes, notes and events stay; pending replies are never touched), closed cases are deleted with every row that
  // refers to them and their full-text entry — except the newest case of the store, kept until a
  // newer one exists so that its number (the row id) is never handed out again. Each case that
  // lost raw bytes gets a `raw_mail_purged` event; each removed case
  // leaves a case-less `case_purged` event naming its ref. With dry_run the same work is done and
  // rolled back, so the report is exact. Freed pages are overwritten (secure_delete).
  PurgeReport purge(const RetentionPolicy& policy, std::int64_t now, bool dry_run);

  // Figures for /metrics and /healthz that `snapshot()` does not hold.
  struct OpsSnapshot {
    std::int64_t overdue_cases = 0;    // new or in_review and past due_at (0 without the review schema)
    std::int64_t outbox_pending = 0;
    std::int64_t outbox_due = 0;       // pending and due now
    std::optional<std::int64_t> oldest_due_reply_at;  // created_at of the oldest pending reply due now
  };
  OpsSnapshot ops_snapshot(std::int64_t now) const;
  // --- end maintenance ---

  // Opaque outside queue/ (defined in the module-internal queue/store_impl.hpp).
  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace casedesk::queue
