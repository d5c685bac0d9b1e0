// The consultants' side of the store: the review workflow with its transition table, internal
// notes, search, users, submitters and web sessions. Every state change runs in one IMMEDIATE
// transaction that re-reads the case, checks the table and writes an audit event.

#include <algorithm>
#include <cctype>

#include "queue/store.hpp"
#include "queue/store_impl.hpp"

namespace casedesk::queue {
namespace {

using detail::bind_blob;
using detail::sha256_hex;

constexpr std::string_view kPriorities[] = {"low", "normal", "high", "urgent"};

bool is_open(std::string_view status) {
  return status == kStatusNew || status == kStatusInReview || status == kStatusWaiting || status == kStatusAnswered;
}

// The current state of a case inside a write transaction.
struct CaseRow {
  std::int64_t id = 0;
  std::string ref;
  std::string status;
  std::string priority;
  std::optional<std::string> owner;
  std::optional<std::int64_t> lease_until;
};

CaseRow load_case(SQLite::Database& db, std::string_view ref) {
  SQLite::Statement q(db, "SELECT id, ref, status, priority, owner, lease_until FROM cases WHERE ref = ?");
  q.bind(1, detail::upper(ref));
  if (!q.executeStep()) throw NotFound("no case " + std::string(ref));
  return CaseRow{q.getColumn(0).getInt64(), q.getColumn(1).getString(),      q.getColumn(2).getString(),
                 q.getColumn(3).getString(), col_opt_str(q.getColumn(4)), col_opt_i64(q.getColumn(5))};
}

struct UserRow {
  std::int64_t id = 0;
  std::string name;
  std::string email;
  std::string role;
};

std::optional<UserRow> load_user(SQLite::Database& db, std::string_view name) {
  SQLite::Statement q(db, "SELECT id, name, email, role FROM users WHERE name = ?");
  q.bind(1, std::string(name));
  if (!q.executeStep()) return std::nullopt;
  return UserRow{q.getColumn(0).getInt64(), q.getColumn(1).getString(), q.getColumn(2).getString(),
                 q.getColumn(3).getString()};
}

UserRow require_user(SQLite::Database& db, std::string_view name) {
  if (name.empty()) throw NotFound("no acting user given");
  auto u = load_user(db, name);
  if (!u) throw NotFound("no user " + std::string(name) + " (add one with `casedesk user add`)");
  return *u;
}

[[noreturn]] void refuse(const CaseRow& c, std::string_view action, std::string_view why) {
  throw TransitionError("cannot " + std::string(action) + " " + c.ref + ": " + std::string(why));
}

void require_status(const CaseRow& c, std::string_view action, std::initializer_list<std::string_view> allowed) {
  if (std::find(allowed.begin(), allowed.end(), c.status) != allowed.end()) return;
  std::string list;
  for (auto a : allowed) list += (list.empty() ? "" : " or ") + std::string(a);
  refuse(c, action, "it is " + c.status + " (needs " + list + ")");
}

// Owner-only actions on a claimed case: its owner, or an admin.
void require_owner(const CaseRow& c, const UserRow& actor, std::string_view action) {
  if (actor.role == "admin") return;
  if (c.owner && *c.owner == actor.name) return;
  refuse(c, action, "it is claimed by " + c.owner.value_or("nobody") + ", not " + actor.name);
}

// The submitter's address for a reply: Reply-To of the latest incoming message, else its From.
std::string reply_address(SQLite::Database& db, std::int64_t case_id) {
  SQLite::Statement q(db, "SELECT coalesce(reply_to_addr, from_addr, '') FROM messages WHERE case_id = ? AND direction = "
                      "'in' ORDER BY id DESC LIMIT 1");
  q.bind(1, case_id);
  return q.executeStep() ? q.getColumn(0).getString() : std::string{};
}

// Turns user text into an FTS5 query that cannot be a syntax error: every word becomes a quoted
// phrase (prefix-matched), all must match. "64635 facet" -> "64635"* "facet"*.
std::string fts_query(std::string_view text) {
  std::string out;
  std::string word;
  auto flush = [&] {
    if (word.empty()) return;
    if (!out.empty()) out += ' ';
    out += '"' + word + "\"*";
    word.clear();
  };
  for (char ch : text) {
    const auto u = static_cast<unsigned char>(ch);
    if (std::isalnum(u) || u >= 0x80 || ch == '.' || ch == '-' || ch == '_' || ch == '@') {
      word += ch;
    } else {
      flush();
    }
  }
  flush();
  return out;
}

}  // namespace

const std::vector<std::string_view>& all_statuses() {
  static const std::vector<std::string_view> all = {kStatusNew,      kStatusInReview, kStatusWaiting,
                                                    kStatusAnswered, kStatusClosed,   kStatusRejected};
  return all;
}

std::string_view to_string(Priority p) { return kPriorities[static_cast<int>(p)]; }

std::optional<Priority> priority_from_string(std::string_view s) {
  for (int i = 0; i < 4; ++i)
    if (kPriorities[i] == s) return static_cast<Priority>(i);
  return std::nullopt;
}

// ---- queries -----------------------------------------------------------------------------------

namespace {

bool is_sla_status(std::string_view s) { return s == kStatusNew || s == kStatusInReview; }

// A listing is planned as an ordered list of groups; every case of group i sorts before every case
// of group i+1, and inside a group the cases of its branches (one status, maybe one priority) are
// merged by the sort key. Each branch is an index range in the sort's order, so SQLite merges them
// (MERGE (UNION ALL)) and stops after the page instead of sorting every open case: with 100,000
// cases that was 100–500 ms a page, now it is a few index steps.
struct Group {
  std::vector<std::string> branches;  // conditions over `cases c`; literals only from fixed lists
};

struct ListingPlan {
  std::vector<Group> groups;
  const char* key = "c.due_at";        // the column each branch is ordered by (then c.id)
  bool descending = false;
};

std::string literal(std::string_view fixed) { return "'" + std::string(fixed) + "'"; }

ListingPlan plan_listing(const CaseFilter& f) {
  ListingPlan plan;
  std::vector<std::string_view> statuses;
  for (auto s : all_statuses()) {
    if (f.status && *f.status != s) continue;
    if (f.open_only && !is_open(s)) continue;
    if (f.overdue_only && !is_sla_status(s)) continue;
    statuses.push_back(s);
  }
  std::string extra;
  if (f.owner) extra += " AND c.owner = :owner";
  if (f.priority) extra += " AND c.priority = :priority";
  if (f.reply_failed_only) extra += " AND EXISTS(SELECT 1 FROM outbox o WHERE o.case_id = c.id AND o.state = 'failed')";

  if (f.sort == "received" || f.sort == "updated") {
    plan.key = f.sort == "received" ? "c.created_at" : "c.updated_at";
    plan.descending = true;
    Group g;
    for (auto s : statuses)
      g.branches.push_back("c.status = " + literal(s) + extra + (f.overdue_only ? " AND c.due_at < :now" : ""));
    if (!g.branches.empty()) plan.groups.push_back(std::move(g));
    return plan;
  }
  // "due": overdue cases (new or in review past their due time) first, then the rest, each by due
  // time. "priority": the same inside each priority, urgent first.
  std::vector<std::string> priorities{""};
  if (f.sort == "priority" && !f.priority) priorities = {" AND c.priority = 'urgent'", " AND c.priority = 'high'",
                                                         " AND c.priority = 'normal'", " AND c.priority = 'low'"};
  for (const auto& p : priorities) {
    Group overdue, rest;
    for (auto s : statuses) {
      const std::string base = "c.status = " + literal(s) + p + extra;
      if (is_sla_status(s)) {
        overdue.branches.push_back(base + " AND c.due_at < :now");
        if (!f.overdue_only) rest.branches.push_back(base + " AND c.due_at >= :now");
      } else {
        rest.branches.push_back(base);  // only reached without overdue_only
      }
    }
    if (!overdue.branches.empty()) plan.groups.push_back(std::move(overdue));
    if (!rest.branches.empty()) plan.groups.push_back(std::move(rest));
  }
  return plan;
}

void bind_filter(SQLite::Statement& q, const CaseFilter& f, std::int64_t now) {
  if (int i = q.getIndex(":now"); i > 0) q.bind(i, now);
  if (int i = q.getIndex(":owner"); i > 0) q.bind(i, f.owner.value_or(""));
  if (int i = q.getIndex(":priority"); i > 0) q.bind(i, f.priority.value_or(""));
}

// Listing statements come from a bounded set of plans, so they are kept prepared like the rest.
std::int64_t count_group(Store::Impl& impl, const Group& g, const CaseFilter& f, std::int64_t now) {
  std::string sql = "SELECT 0";
  for (const auto& b : g.branches) sql += " + (SELECT count(*) FROM cases c WHERE " + b + ")";
  auto q_cached = impl.cached(sql);
  SQLite::Statement& q = *q_cached;
  bind_filter(q, f, now);
  q.executeStep();
  return q.getColumn(0).getInt64();
}

// Up to `limit` ids of group g from `offset` on, in the listing's order.
std::vector<std::int64_t> group_page(Store::Impl& impl, const ListingPlan& plan, const Group& g,
                                     const CaseFilter& f, std::int64_t now, std::int64_t limit, std::int64_t offset) {
  std::string sql;
  for (const auto& b : g.branches) {
    if (!sql.empty()) sql += " UNION ALL ";
    sql += std::string("SELECT c.id AS id, ") + plan.key + " AS k FROM cases c WHERE " + b;
  }
  sql += plan.descending ? " ORDER BY k DESC, id DESC" : " ORDER BY k, id";
  sql += " LIMIT :limit OFFSET :offset";
  auto q_cached = impl.cached(sql);
  SQLite::Statement& q = *q_cached;
  bind_filter(q, f, now);
  q.bind(":limit", limit);
  q.bind(":offset", offset);
  std::vector<std::int64_t> ids;
  while (q.executeStep()) ids.push_back(q.getColumn(0).getInt64());
  return ids;
}

}  // namespace

std::vector<CaseSummary> Store::list_cases(const CaseFilter& filter, std::int64_t now) const try {
  const ListingPlan plan = plan_listing(filter);
  std::int64_t limit = std::max(0, filter.limit);
  std::int64_t offset = std::max(0, filter.offset);
  std::vector<std::int64_t> ids;
  for (const auto& g : plan.groups) {
    if (limit == 0) break;
    auto part = group_page(*impl_, plan, g, filter, now, limit, offset);
    if (part.empty() && offset > 0) {
      // The page starts past this group: skip it whole.
      offset = std::max<std::int64_t>(0, offset - count_group(*impl_, g, filter, now));
      continue;
    }
    limit -= static_cast<std::int64_t>(part.size());
    ids.insert(ids.end(), part.begin(), part.end());
    offset = 0;  // a group that gave rows held the whole offset
  }
  return impl_->cases_by_ids(ids, now, filter.brief);
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("list_cases failed: ") + e.what());
}

std::int64_t Store::count_cases(const CaseFilter& filter, std::int64_t now) const try {
  const ListingPlan plan = plan_listing(filter);
  if (!filter.owner && !filter.priority && !filter.overdue_only && !filter.reply_failed_only) {
    // Whole statuses: the trigger-kept per-status counts (migration 6), not a scan.
    std::int64_t n = 0;
    auto q_cached = impl_->cached("SELECT n FROM case_counts WHERE status = ?");
    SQLite::Statement& q = *q_cached;
    for (auto s : all_statuses()) {
      if (filter.status && *filter.status != s) continue;
      if (filter.open_only && !is_open(s)) continue;
      q.bind(1, std::string(s));
      if (q.executeStep()) n += q.getColumn(0).getInt64();
      q.reset();
    }
    return n;
  }
  if (filter.overdue_only && !filter.owner && !filter.priority && !filter.reply_failed_only) {
    // Overdue = new or in review with due_at < now: the trigger-kept counts of every due hour
    // before the current one, plus an index range for the current hour's part.
    const std::int64_t hour = now / 3600;
    auto q_cached = impl_->cached(
        "SELECT coalesce((SELECT sum(n) FROM due_hours WHERE status = ?1 AND hour < ?2), 0) + "
        "(SELECT count(*) FROM cases WHERE status = ?1 AND due_at >= ?2 * 3600 AND due_at < ?3)");
    SQLite::Statement& q = *q_cached;
    std::int64_t n = 0;
    for (auto s : all_statuses()) {
      if (!is_sla_status(s)) continue;
      if (filter.status && *filter.status != s) continue;
      q.bind(1, std::string(s));
      q.bind(2, hour);
      q.bind(3, now);
      if (q.executeStep()) n += q.getColumn(0).getInt64();
      q.reset();
    }
    return n;
  }
  std::int64_t n = 0;
  for (const auto& g : plan.groups) n += count_group(*impl_, g, filter, now);
  return n;
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("count_cases failed: ") + e.what());
}

std::vector<CaseSummary> Store::search_cases(std::string_view query, std::int64_t now, int limit,
                                            bool brief) const try {
  const std::string match = fts_query(query);
  if (match.empty() || limit <= 0) return {};
  // Ranking scores every match, so it is kept for queries with at most kRankedMatches matches
  // (about 2 ms); a commoner word (a code on 10% of the cases, say) lists its newest matches, which
  // FTS5 reads straight off the doclist in rowid order.
  constexpr int kRankedMatches = 1000;
  std::vector<std::int64_t> ids;
  auto newest_cached = impl_->cached("SELECT rowid FROM cases_fts WHERE cases_fts MATCH ? ORDER BY rowid DESC LIMIT ?");
  SQLite::Statement& newest = *newest_cached;
  newest.bind(1, match);
  newest.bind(2, kRankedMatches + 1);
  while (newest.executeStep()) ids.push_back(newest.getColumn(0).getInt64());
  if (ids.size() <= static_cast<std::size_t>(kRankedMatches)) {
    ids.clear();
    auto ranked_cached = impl_->cached("SELECT rowid FROM cases_fts WHERE cases_fts MATCH ? "
                                        "ORDER BY bm25(cases_fts, 4.0, 1.0, 8.0), rowid DESC LIMIT ?");
    SQLite::Statement& ranked = *ranked_cached;
    ranked.bind(1, match);
    ranked.bind(2, limit);
    while (ranked.executeStep()) ids.push_back(ranked.getColumn(0).getInt64());
  } else if (ids.size() > static_cast<std::size_t>(limit)) {
    ids.resize(static_cast<std::size_t>(limit));
  }
  return impl_->cases_by_ids(ids, now, brief);
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("search failed: ") + e.what());
}

std::optional<CaseSummary> Store::find_case(std::string_view ref, std::int64_t now) const try {
  auto q_cached = impl_->cached(std::string("SELECT ") + Impl::kCaseColumns + " FROM cases c WHERE c.ref = ?");
  SQLite::Statement& q = *q_cached;
  q.bind(1, detail::upper(ref));
  if (!q.executeStep()) return std::nullopt;
  auto c = impl_->case_from_row(q, now);
  q.reset();
  c.codes = impl_->codes_of(c.id);
  return c;
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("find_case failed: ") + e.what());
}

// ---- transitions -------------------------------------------------------------------------------

namespace {

// Moves a case to `to` (owner/lease as given), with an audit event.
void move_case(Store::Impl& impl, const CaseRow& c, std::string_view to, const std::optional<std::string>& owner,
               std::optional<std::int64_t> lease_until, std::string_view actor, std::string_view kind,
               std::string_view note, std::int64_t now) {
  SQLite::Statement u(impl.db,
                      "UPDATE cases SET status = ?, owner = ?, lease_until = ?, updated_at = ?, "
                      "status_changed_at = CASE WHEN status = ? THEN status_changed_at ELSE ? END, "
                      "closed_at = CASE WHEN ? = 'closed' OR ? = 'rejected' THEN ? ELSE NULL END WHERE id = ?");
  u.bind(1, std::string(to));
  detail::bind_opt(u, 2, owner);
  detail::bind_opt(u, 3, lease_until);
  u.bind(4, now);
  u.bind(5, std::string(to));
  u.bind(6, now);
  u.bind(7, std::string(to));
  u.bind(8, std::string(to));
  u.bind(9, now);
  u.bind(10, c.id);
  u.exec();
  impl.add_event(c.id, now, actor, kind, c.status,
                 c.status == to ? std::nullopt : std::optional<std::string>(std::string(to)), note);
}

}  // namespace

void Store::claim(std::string_view ref, std::string_view actor, std::int64_t now) try {
  auto& db = impl_->db;
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  const UserRow user = require_user(db, actor);
  const CaseRow c = load_case(db, ref);
  const std::int64_t lease = now + impl_->options.review.claim_lease;
  if (c.status == kStatusInReview) {
    const bool mine = c.owner && *c.owner == user.name;
    const bool lapsed = !c.lease_until || *c.lease_until <= now;
    if (!mine && !lapsed) refuse(c, "claim", "it is claimed by " + c.owner.value_or("someone") + " until the lease ends");
    move_case(*impl_, c, kStatusInReview, user.name, lease, user.name, mine ? "lease_renewed" : "claimed",
              mine ? "" : "lease of " + c.owner.value_or("nobody") + " had run out", now);
  } else {
    require_status(c, "claim", {kStatusNew});
    move_case(*impl_, c, kStatusInReview, user.name, lease, user.name, "claimed", "", now);
  }
  tx.commit();
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("claim failed: ") + e.what());
}

void Store::release(std::string_view ref, std::string_view actor, std::int64_t now) try {
  auto& db = impl_->db;
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  const UserRow user = require_user(db, actor);
  const CaseRow c = load_case(db, ref);
  require_status(c, "release", {kStatusInReview});
  require_owner(c, user, "release");
  move_case(*impl_, c, kStatusNew, std::nullopt, std::nullopt, user.name, "released", "", now);
  tx.commit();
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("release failed: ") + e.what());
}

void Store::assign(std::string_view ref, std::string_view actor, std::string_view to_user, std::int64_t now) try {
  auto& db = impl_->db;
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  const UserRow user = require_user(db, actor);
  const UserRow target = require_user(db, to_user);
  const CaseRow c = load_case(db, ref);
  require_status(c, "assign", {kStatusNew, kStatusInReview});
  if (c.status == kStatusInReview && c.owner && *c.owner != user.name && user.role != "admin" &&
      c.lease_until && *c.lease_until > now)
    refuse(c, "assign", "it is claimed by " + *c.owner + " (only they or an admin can hand it over)");
  move_case(*impl_, c, kStatusInReview, target.name, now + impl_->options.review.claim_lease, user.name, "assigned",
            "to " + target.name, now);
  tx.commit();
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("assign failed: ") + e.what());
}

void Store::add_note(std::string_view ref, std::string_view actor, std::string_view text, std::int64_t now) try {
  auto& db = impl_->db;
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  const UserRow user = require_user(db, actor);
  const CaseRow c = load_case(db, ref);
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) refuse(c, "add a note to", "the note is empty");
  auto n_cached = impl_->cached("INSERT INTO notes(case_id, at, author, text) VALUES(?,?,?,?)");
  SQLite::Statement& n = *n_cached;
  n.bind(1, c.id);
  n.bind(2, now);
  n.bind(3, user.name);
  n.bind(4, std::string(text));
  n.exec();
  auto u_cached = impl_->cached("UPDATE cases SET updated_at = ? WHERE id = ?");
  SQLite::Statement& u = *u_cached;
  u.bind(1, now);
  u.bind(2, c.id);
  u.exec();
  impl_->add_event(c.id, now, user.name, "note", std::nullopt, std::nullopt,
                   "note " + std::to_string(db.getLastInsertRowid()));
  tx.commit();
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("add_note failed: ") + e.what());
}

namespace {

// A consultant's reply (answer, question): an outgoing message of the case and its outbox item.
std::int64_t consultant_reply(Store::Impl& impl, const CaseRow& c, const UserRow& user, std::string_view kind,
                              std::string_view text, std::int64_t now) {
  const std::string to = reply_address(impl.db, c.id);
  SQLite::Statement m(impl.db,
                      "INSERT INTO messages(case_id, direction, from_addr, from_name, references_json, received_at, "
                      "raw, raw_sha256, body_source, body_text, warnings_json) "
                      "VALUES(?, 'out', NULL, ?, '[]', ?, ?, ?, 'text/plain', ?, '[]')");
  m.bind(1, c.id);
  m.bind(2, user.name);
  m.bind(3, now);
  bind_blob(m, 4, "");
  m.bind(5, sha256_hex(""));
  m.bind(6, std::string(text));
  m.exec();
  const std::int64_t message_row = impl.db.getLastInsertRowid();
  impl.queue_reply(c.id, kind, to, now, std::string(text), user.name, message_row);
  return impl.db.getLastInsertRowid();
}

}  // namespace

namespace {

// in_review -> `to` by the case's owner (or an admin), with a consultant reply of `kind`.
std::int64_t reply_and_move(Store::Impl& impl, std::string_view ref, std::string_view actor, std::string_view text,
                            std::int64_t now, std::string_view action, std::string_view kind, std::string_view to,
                            std::string_view event) {
  SQLite::Transaction tx(impl.db, SQLite::TransactionBehavior::IMMEDIATE);
  const UserRow user = require_user(impl.db, actor);
  const CaseRow c = load_case(impl.db, ref);
  require_status(c, action, {kStatusInReview});
  require_owner(c, user, action);
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) refuse(c, action, "the text is empty");
  const std::int64_t id = consultant_reply(impl, c, user, kind, text, now);
  move_case(impl, c, to, c.owner, std::nullopt, user.name, event, "", now);
  tx.commit();
  return id;
}

}  // namespace

std::int64_t Store::answer(std::string_view ref, std::string_view actor, std::string_view text, std::int64_t now) try {
  return reply_and_move(*impl_, ref, actor, text, now, "answer", "answer", kStatusAnswered, "answered");
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("answer failed: ") + e.what());
}

std::int64_t Store::ask(std::string_view ref, std::string_view actor, std::string_view text, std::int64_t now) try {
  return reply_and_move(*impl_, ref, actor, text, now, "ask about", "question", kStatusWaiting, "asked");
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("ask failed: ") + e.what());
}

void Store::close(std::string_view ref, std::string_view actor, std::int64_t now) try {
  auto& db = impl_->db;
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  const UserRow user = require_user(db, actor);
  const CaseRow c = load_case(db, ref);
  require_status(c, "close", {kStatusAnswered});
  move_case(*impl_, c, kStatusClosed, c.owner, std::nullopt, user.name, "closed", "", now);
  tx.commit();
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("close failed: ") + e.what());
}

void Store::reopen(std::string_view ref, std::string_view actor, std::int64_t now) try {
  auto& db = impl_->db;
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  const UserRow user = require_user(db, actor);
  const CaseRow c = load_case(db, ref);
  require_status(c, "reopen", {kStatusAnswered, kStatusClosed});
  move_case(*impl_, c, kStatusNew, c.owner, std::nullopt, user.name, "reopened", "", now);
  auto d_cached = impl_->cached("UPDATE cases SET due_at = ? WHERE id = ?");
  SQLite::Statement& d = *d_cached;
  d.bind(1, now + impl_->options.review.sla(priority_from_string(c.priority).value_or(Priority::normal)));
  d.bind(2, c.id);
  d.exec();
  tx.commit();
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("reopen failed: ") + e.what());
}

std::int64_t Store::reject(std::string_view ref, std::string_view actor, std::string_view reason, std::int64_t now) try {
  auto& db = impl_->db;
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  const UserRow user = require_user(db, actor);
  const CaseRow c = load_case(db, ref);
  if (!is_open(c.status)) refuse(c, "reject", "it is " + c.status + " (needs an open case)");
  if (c.status == kStatusInReview) require_owner(c, user, "reject");
  if (reason.find_first_not_of(" \t\r\n") == std::string_view::npos) refuse(c, "reject", "a reason is required");
  impl_->queue_reply(c.id, "rejected", reply_address(db, c.id), now, std::string(reason), user.name);
  const std::int64_t id = db.getLastInsertRowid();
  move_case(*impl_, c, kStatusRejected, c.owner, std::nullopt, user.name, "rejected", reason, now);
  tx.commit();
  return id;
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("reject failed: ") + e.what());
}

void Store::set_priority(std::string_view ref, std::string_view actor, Priority priority, std::int64_t now) try {
  auto& db = impl_->db;
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  const UserRow user = require_user(db, actor);
  const CaseRow c = load_case(db, ref);
  // The due time counts from when the case last became new (received, reopened, followed up).
  auto u_cached = impl_->cached("UPDATE cases SET priority = :priority, due_at = (CASE WHEN status IN ('new', 'in_review') "
                      "THEN max(created_at, coalesce((SELECT max(at) FROM events WHERE case_id = :id AND "
                      "to_state = 'new'), 0)) ELSE created_at END) + :sla, updated_at = :now WHERE id = :id");
  SQLite::Statement& u = *u_cached;
  u.bind(":id", c.id);
  u.bind(":priority", std::string(to_string(priority)));
  u.bind(":sla", impl_->options.review.sla(priority));
  u.bind(":now", now);
  u.exec();
  impl_->add_event(c.id, now, user.name, "priority", std::nullopt, std::nullopt,
                   c.priority + " -> " + std::string(to_string(priority)));
  tx.commit();
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("set_priority failed: ") + e.what());
}

Store::Housekeeping Store::housekeeping(std::int64_t now) try {
  auto& db = impl_->db;
  Housekeeping h;
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  {
    auto q_cached = impl_->cached("SELECT ref FROM cases WHERE status = 'in_review' AND lease_until IS NOT NULL AND "
                            "lease_until <= ?");
    SQLite::Statement& q = *q_cached;
    q.bind(1, now);
    std::vector<std::string> refs;
    while (q.executeStep()) refs.push_back(q.getColumn(0).getString());
    for (const auto& ref : refs) {
      const CaseRow c = load_case(db, ref);
      move_case(*impl_, c, kStatusNew, c.owner, std::nullopt, "system", "lease_expired",
                "claim of " + c.owner.value_or("nobody") + " ran out", now);
      ++h.leases_expired;
    }
  }
  if (impl_->options.review.auto_close > 0) {
    auto q_cached = impl_->cached("SELECT ref FROM cases WHERE status = 'answered' AND status_changed_at <= ?");
    SQLite::Statement& q = *q_cached;
    q.bind(1, now - impl_->options.review.auto_close);
    std::vector<std::string> refs;
    while (q.executeStep()) refs.push_back(q.getColumn(0).getString());
    for (const auto& ref : refs) {
      const CaseRow c = load_case(db, ref);
      move_case(*impl_, c, kStatusClosed, c.owner, std::nullopt, "system", "auto_closed",
                "no follow-up within the auto-close time", now);
      ++h.auto_closed;
    }
  }
  tx.commit();
  return h;
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("housekeeping failed: ") + e.what());
}

int Store::queue_digests(std::int64_t now, std::int64_t every) try {
  auto& db = impl_->db;
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  {
    auto last_cached = impl_->cached("SELECT max(created_at) FROM outbox WHERE kind = 'digest'");
    SQLite::Statement& last = *last_cached;
    last.executeStep();
    if (!last.getColumn(0).isNull() && last.getColumn(0).getInt64() > now - every) return 0;
  }
  std::string text;
  int lines = 0;
  auto section = [&](const char* title, const char* where) {
    auto q_cached = impl_->cached(std::string("SELECT ref, status, priority, due_at, coalesce(owner, '') FROM cases WHERE ") +
                                where + " ORDER BY due_at LIMIT 50");
    SQLite::Statement& q = *q_cached;
    q.bind(1, now);
    std::string body;
    while (q.executeStep()) {
      body += "  " + q.getColumn(0).getString() + "  " + q.getColumn(1).getString() + "  " +
              q.getColumn(2).getString() + (q.getColumn(4).getString().empty() ? "" : "  " + q.getColumn(4).getString()) +
              "\n";
      ++lines;
    }
    if (!body.empty()) text += std::string(title) + ":\n" + body + "\n";
  };
  section("Overdue", "status IN ('new','in_review') AND due_at < ?1");
  section("New", "status = 'new' AND due_at >= ?1");
  if (lines == 0) return 0;
  auto users_cached = impl_->cached("SELECT name, email FROM users WHERE email != '' ORDER BY id");
  SQLite::Statement& users = *users_cached;
  std::vector<std::pair<std::string, std::string>> to;
  while (users.executeStep()) to.emplace_back(users.getColumn(0).getString(), users.getColumn(1).getString());
  for (const auto& [name, email] : to) {
    auto q_cached = impl_->cached("INSERT INTO outbox(kind, state, to_addr, next_attempt_at, created_at, body_text, author) "
                        "VALUES('digest', 'pending', ?, ?, ?, ?, ?)");
    SQLite::Statement& q = *q_cached;
    q.bind(1, email);
    q.bind(2, now);
    q.bind(3, now);
    q.bind(4, text);
    q.bind(5, name);
    q.exec();
  }
  tx.commit();
  return static_cast<int>(to.size());
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("queue_digests failed: ") + e.what());
}

std::optional<std::string> Store::message_raw(std::string_view ref, std::int64_t message_id) const try {
  auto q_cached = impl_->cached("SELECT m.raw FROM messages m JOIN cases c ON c.id = m.case_id WHERE c.ref = ? AND m.id = ?");
  SQLite::Statement& q = *q_cached;
  q.bind(1, detail::upper(ref));
  q.bind(2, message_id);
  if (!q.executeStep() || q.getColumn(0).isNull()) return std::nullopt;
  const auto& c = q.getColumn(0);
  return std::string(static_cast<const char*>(c.getBlob()), static_cast<std::size_t>(c.getBytes()));
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("message_raw failed: ") + e.what());
}

std::vector<std::string> Store::sent_message_ids(std::int64_t case_id) const try {
  std::vector<std::string> out;
  auto q_cached = impl_->cached("SELECT message_id FROM outbox WHERE case_id = ? AND message_id IS NOT NULL ORDER BY id");
  SQLite::Statement& q = *q_cached;
  q.bind(1, case_id);
  while (q.executeStep()) out.push_back(q.getColumn(0).getString());
  return out;
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("sent_message_ids failed: ") + e.what());
}

// ---- users ---------------------------------------------------------------------------------------

void Store::add_user(const User& user, std::string_view password_hash, std::int64_t now) try {
  if (user.name.empty()) throw StoreError("a user needs a name");
  if (user.role != "consultant" && user.role != "admin")
    throw StoreError("role must be consultant or admin, not " + user.role);
  auto& db = impl_->db;
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  if (load_user(db, user.name)) throw StoreError("user " + user.name + " exists already");
  auto q_cached = impl_->cached("INSERT INTO users(name, email, role, password_hash, created_at, updated_at) VALUES(?,?,?,?,?,?)");
  SQLite::Statement& q = *q_cached;
  q.bind(1, user.name);
  q.bind(2, user.email);
  q.bind(3, user.role);
  q.bind(4, std::string(password_hash));
  q.bind(5, now);
  q.bind(6, now);
  q.exec();
  impl_->add_event(std::nullopt, now, "admin", "user_added", std::nullopt, std::nullopt, user.name);
  tx.commit();
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("add_user failed: ") + e.what());
}

std::vector<User> Store::list_users() const try {
  std::vector<User> out;
  auto q_cached = impl_->cached("SELECT id, name, email, role, created_at FROM users ORDER BY name");
  SQLite::Statement& q = *q_cached;
  while (q.executeStep())
    out.push_back(User{q.getColumn(0).getInt64(), q.getColumn(1).getString(), q.getColumn(2).getString(),
                       q.getColumn(3).getString(), q.getColumn(4).getInt64()});
  return out;
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("list_users failed: ") + e.what());
}

std::optional<User> Store::find_user(std::string_view name) const try {
  auto q_cached = impl_->cached("SELECT id, name, email, role, created_at FROM users WHERE name = ?");
  SQLite::Statement& q = *q_cached;
  q.bind(1, std::string(name));
  if (!q.executeStep()) return std::nullopt;
  return User{q.getColumn(0).getInt64(), q.getColumn(1).getString(), q.getColumn(2).getString(),
              q.getColumn(3).getString(), q.getColumn(4).getInt64()};
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("find_user failed: ") + e.what());
}

std::optional<std::string> Store::password_hash(std::string_view name) const try {
  auto q_cached = impl_->cached("SELECT password_hash FROM users WHERE name = ?");
  SQLite::Statement& q = *q_cached;
  q.bind(1, std::string(name));
  if (!q.executeStep()) return std::nullopt;
  return q.getColumn(0).getString();
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("password_hash failed: ") + e.what());
}

void Store::set_password_hash(std::string_view name, std::string_view hash, std::int64_t now) try {
  auto& db = impl_->db;
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  auto q_cached = impl_->cached("UPDATE users SET password_hash = ?, updated_at = ? WHERE name = ?");
  SQLite::Statement& q = *q_cached;
  q.bind(1, std::string(hash));
  q.bind(2, now);
  q.bind(3, std::string(name));
  if (q.exec() != 1) throw NotFound("no user " + std::string(name));
  // A new password ends every session of that user.
  auto d_cached = impl_->cached("DELETE FROM web_sessions WHERE user_id = (SELECT id FROM users WHERE name = ?)");
  SQLite::Statement& d = *d_cached;
  d.bind(1, std::string(name));
  d.exec();
  impl_->add_event(std::nullopt, now, "admin", "password_changed", std::nullopt, std::nullopt, std::string(name));
  tx.commit();
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("set_password_hash failed: ") + e.what());
}

// ---- submitters ----------------------------------------------------------------------------------

namespace {

std::string submitter_pattern(std::string_view pattern) {
  std::string p = lower(pattern);
  const auto at = p.find('@');
  const bool ok = at != std::string::npos && p.find('@', at + 1) == std::string::npos && at + 1 < p.size() &&
                  p.find_first_of(" \t\r\n<>,;\"") == std::string::npos;
  if (!ok) throw StoreError("\"" + std::string(pattern) + "\" is neither an address nor @domain");
  return p;
}

}  // namespace

void Store::add_submitter(std::string_view pattern, std::string_view name, std::optional<int> quota,
                          std::int64_t now) try {
  const std::string p = submitter_pattern(pattern);
  if (quota && *quota < 0) throw StoreError("quota must be 0 (unlimited) or more");
  auto q_cached = impl_->cached("INSERT INTO submitters(pattern, name, quota, created_at) VALUES(?,?,?,?) "
                      "ON CONFLICT(pattern) DO UPDATE SET name = excluded.name, quota = excluded.quota");
  SQLite::Statement& q = *q_cached;
  q.bind(1, p);
  q.bind(2, std::string(name));
  detail::bind_opt(q, 3, quota);
  q.bind(4, now);
  q.exec();
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("add_submitter failed: ") + e.what());
}

bool Store::remove_submitter(std::string_view pattern) try {
  auto q_cached = impl_->cached("DELETE FROM submitters WHERE pattern = ?");
  SQLite::Statement& q = *q_cached;
  q.bind(1, lower(pattern));
  return q.exec() > 0;
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("remove_submitter failed: ") + e.what());
}

std::vector<Submitter> Store::list_submitters(std::int64_t now) const try {
  std::vector<Submitter> out;
  auto q_cached = impl_->cached("SELECT id, pattern, name, quota, created_at FROM submitters ORDER BY pattern");
  SQLite::Statement& q = *q_cached;
  while (q.executeStep()) {
    Submitter s;
    s.id = q.getColumn(0).getInt64();
    s.pattern = q.getColumn(1).getString();
    s.name = q.getColumn(2).getString();
    if (auto v = col_opt_i64(q.getColumn(3))) s.quota = static_cast<int>(*v);
    s.created_at = q.getColumn(4).getInt64();
    out.push_back(std::move(s));
  }
  for (auto& s : out) s.cases_this_month = impl_->cases_this_month(s.pattern, now);
  return out;
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("list_submitters failed: ") + e.what());
}

// ---- web sessions --------------------------------------------------------------------------------

void Store::create_session(std::string_view token_sha256, std::string_view user, std::string_view csrf_token,
                           std::int64_t now, std::int64_t expires_at) try {
  auto& db = impl_->db;
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  const auto u = load_user(db, user);
  if (!u) throw NotFound("no user " + std::string(user));
  auto gc_cached = impl_->cached("DELETE FROM web_sessions WHERE expires_at <= ?");
  SQLite::Statement& gc = *gc_cached;
  gc.bind(1, now);
  gc.exec();
  auto q_cached = impl_->cached("INSERT INTO web_sessions(token_sha256, user_id, csrf_token, created_at, expires_at) "
                      "VALUES(?,?,?,?,?)");
  SQLite::Statement& q = *q_cached;
  q.bind(1, std::string(token_sha256));
  q.bind(2, u->id);
  q.bind(3, std::string(csrf_token));
  q.bind(4, now);
  q.bind(5, expires_at);
  q.exec();
  tx.commit();
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("create_session failed: ") + e.what());
}

std::optional<WebSession> Store::find_session(std::string_view token_sha256, std::int64_t now) const try {
  auto q_cached = impl_->cached("SELECT u.name, u.role, s.csrf_token, s.created_at, s.expires_at FROM web_sessions s "
                      "JOIN users u ON u.id = s.user_id WHERE s.token_sha256 = ? AND s.expires_at > ?");
  SQLite::Statement& q = *q_cached;
  q.bind(1, std::string(token_sha256));
  q.bind(2, now);
  if (!q.executeStep()) return std::nullopt;
  return WebSession{q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getString(),
                    q.getColumn(3).getInt64(), q.getColumn(4).getInt64()};
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("find_session failed: ") + e.what());
}

void Store::touch_session(std::string_view token_sha256, std::int64_t expires_at) try {
  auto q_cached = impl_->cached("UPDATE web_sessions SET expires_at = ? WHERE token_sha256 = ?");
  SQLite::Statement& q = *q_cached;
  q.bind(1, expires_at);
  q.bind(2, std::string(token_sha256));
  q.exec();
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("touch_session failed: ") + e.what());
}

void Store::delete_session(std::string_view token_sha256) try {
  auto q_cached = impl_->cached("DELETE FROM web_sessions WHERE token_sha256 = ?");
  SQLite::Statement& q = *q_cached;
  q.bind(1, std::string(token_sha256));
  q.exec();
} catch (const SQLite::Exception& e) {
  throw StoreError(std::string("delete_session failed: ") + e.what());
}

}  // namespace casedesk::queue
