#include "daemon/review_commands.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

#include "config/config.hpp"
#include "daemon/case_json.hpp"
#include "daemon/editor.hpp"
#include "daemon/password.hpp"
#include "daemon/service.hpp"
#include "daemon/store_options.hpp"
#include "parsers/codes.hpp"
#include "queue/store.hpp"

namespace casedesk::daemon {
namespace {

using nlohmann::json;

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string dump(const json& j) { return j.dump(2, ' ', false, json::error_handler_t::replace); }

// The store of the config, or null after printing the config's problems (exit 78). Only the
// store is used, so the mail passwords need not be resolvable here.
std::unique_ptr<queue::Store> open_store(const std::filesystem::path& file, std::ostream& err) {
  std::optional<config::Config> cfg;
  try {
    cfg = config::load_config(file, config::LoadOptions{false});
  } catch (const config::ConfigError& e) {
    for (const auto& issue : e.issues()) err << "casedesk: " << issue.to_string() << "\n";
    return nullptr;
  }
  return std::make_unique<queue::Store>(store_options(*cfg));
}

// Mail text may carry terminal control sequences (ESC [ ... would let a mail recolour or rewrite
// the consultant's terminal): show C0/C1 controls other than newline and tab as \xNN.
std::string terminal_safe(std::string_view text, bool keep_newlines = true) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\r' && keep_newlines && i + 1 < text.size() && text[i + 1] == '\n') {
      continue;  // CRLF line ends print as plain newlines
    } else if ((c == '\n' && keep_newlines) || c == '\t') {
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else if (c == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      char buf[12];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(text[i + 1]));
      out += buf;
      ++i;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string one_line(std::string_view text) { return terminal_safe(text, false); }

std::string codes_text(const std::vector<parsers::Code>& codes) {
  std::string out;
  for (const auto& c : codes) {
    if (!out.empty()) out += ' ';
    out += c.code;
    for (const auto& m : c.modifiers) out += "-" + m;
    if (c.range_end) out += ".." + *c.range_end;
  }
  return out;
}

std::string clip(std::string s, std::size_t width) {
  if (s.size() > width) s = s.substr(0, width - 3) + "...";
  return s;
}

// "2026-11-26 09:15Z" (list columns).
std::string short_time(std::int64_t t) {
  auto s = iso_utc(t);  // 2026-11-26T09:15:00Z
  return s.substr(0, 10) + " " + s.substr(11, 5) + "Z";
}

void print_table(const std::vector<queue::CaseSummary>& cases, std::ostream& out) {
  out << std::left << std::setw(11) << "REF" << std::setw(21) << "STATUS" << std::setw(8) << "PRIO" << std::setw(13)
      << "OWNER" << std::setw(27) << "DUE" << std::setw(24) << "CODES"
      << "SUBJECT\n";
  for (const auto& c : cases) {
    const std::string due = short_time(c.due_at) + (c.overdue ? " OVERDUE" : "");
    out << std::left << std::setw(11) << c.ref << std::setw(21) << c.status << std::setw(8) << c.priority
        << std::setw(13) << clip(c.owner.value_or("-"), 12) << std::setw(27) << due << std::setw(24)
        << clip(codes_text(c.codes), 22) << (c.reply_failed ? "[REPLY FAILED] " : "") << one_line(c.subject) << "\n";
  }
  out << cases.size() << " case(s)\n";
}

bool valid_user_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
           ch == '_' || ch == '-';
  });
}

std::string lower(std::string s) {
  for (auto& ch : s)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  return s;
}

bool no_space_or_control(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char ch) { return static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f; });
}

// local@domain with a non-empty local part and a dotted domain; no spaces or controls.
bool valid_address(std::string_view addr) {
  const auto at = addr.find('@');
  if (at == std::string_view::npos || at == 0 || addr.find('@', at + 1) != std::string_view::npos) return false;
  const auto domain = addr.substr(at + 1);
  return no_space_or_control(addr) && addr.size() <= 254 && !domain.empty() && domain.find('.') != std::string_view::npos &&
         domain.front() != '.' && domain.back() != '.';
}

// An address or "@domain".
bool valid_submitter_pattern(std::string_view pattern) {
  if (!pattern.empty() && pattern.front() == '@') {
    const auto domain = pattern.substr(1);
    return !domain.empty() && no_space_or_control(domain) && domain.find('@') == std::string_view::npos &&
           domain.find('.') != std::string_view::npos && domain.front() != '.' && domain.back() != '.';
  }
  return valid_address(pattern);
}

// The first line of `in` without its line end (--password-stdin).
std::string read_password(std::istream& in) {
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  return line;
}

// The contents of `path`, or of `in` for "-"; nullopt after printing why not.
std::optional<std::string> read_text(const std::string& path, std::istream& in, std::ostream& err) {
  std::ostringstream buf;
  if (path == "-") {
    buf << in.rdbuf();
    return buf.str();
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    err << "casedesk: cannot open " << path << ": " << std::strerror(errno) << "\n";
    return std::nullopt;
  }
  buf << file.rdbuf();
  if (file.bad()) {
    err << "casedesk: cannot read " << path << "\n";
    return std::nullopt;
  }
  return buf.str();
}

bool blank(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'; });
}

// Runs one store call and maps the store's refusals to exit codes with their message.
template <class F>
int guarded(std::ostream& err, F&& f) {
  try {
    return f();
  } catch (const queue::NotFound& e) {
    err << "casedesk: " << e.what() << "\n";
    return kExitNotFound;
  } catch (const queue::TransitionError& e) {
    err << "casedesk: refused: " << e.what() << "\n";
    return kExitRefused;
  } catch (const PasswordError& e) {
    err << "casedesk: " << e.what() << "\n";
    return kExitSoftware;
  }
}

// The acting user for a change: given and registered, else an error (exit code in `rc`).
std::optional<queue::User> require_actor(const ReviewContext& ctx, const queue::Store& store, std::ostream& err,
                                         int& rc) {
  const auto name = acting_user(ctx.as);
  if (!name) {
    err << "casedesk: who is acting? pass --as USER or set CASEDESK_USER\n";
    rc = kExitUsage;
    return std::nullopt;
  }
  auto user = store.find_user(*name);
  if (!user) {
    err << "casedesk: no user " << *name << " (add one with: casedesk user add)\n";
    rc = kExitNotFound;
    return std::nullopt;
  }
  return user;
}

std::string_view action_name(QueueAction a) {
  switch (a) {
    case QueueAction::claim: return "claim";
    case QueueAction::release: return "release";
    case QueueAction::assign: return "assign";
    case QueueAction::note: return "note";
    case QueueAction::answer: return "answer";
    case QueueAction::ask: return "ask";
    case QueueAction::close: return "close";
    case QueueAction::reopen: return "reopen";
    case QueueAction::reject: return "reject";
    case QueueAction::priority: return "priority";
  }
  return "?";
}

std::vector<queue::CaseSummary> list_all(const queue::Store& store, queue::CaseFilter filter, int limit, int offset,
                                         std::int64_t now) {
  if (limit > 0) {
    filter.limit = limit;
    filter.offset = offset;
    return store.list_cases(filter, now);
  }
  // Every matching case from offset on, a page at a time (the store's filter always has a limit).
  std::vector<queue::CaseSummary> all;
  constexpr int kPage = 1000;
  filter.limit = kPage;
  for (filter.offset = offset;; filter.offset += kPage) {
    auto page = store.list_cases(filter, now);
    const bool last = static_cast<int>(page.size()) < kPage;
    std::move(page.begin(), page.end(), std::back_inserter(all));
    if (last) break;
  }
  return all;
}

// A listing's output: an array of case objects with --json, else the table.
void print_cases(const ReviewContext& ctx, const std::vector<queue::CaseSummary>& cases, std::ostream& out) {
  if (!ctx.json) {
    print_table(cases, out);
    return;
  }
  json arr = json::array();
  for (const auto& c : cases) arr.push_back(case_summary_json(c));
  out << dump(arr) << "\n";
}

}  // namespace

std::string join_words(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

std::optional<std::string> acting_user(const std::optional<std::string>& flag) {
  if (flag && !flag->empty()) return *flag;
  if (const char* env = std::getenv("CASEDESK_USER"); env && *env) return std::string(env);
  return std::nullopt;
}

int cmd_queue_list(const ReviewContext& ctx, const QueueListOptions& options, std::ostream& out, std::ostream& err) {
  queue::CaseFilter filter;
  if (options.status) {
    const auto& all = queue::all_statuses();
    if (std::find(all.begin(), all.end(), *options.status) == all.end()) {
      err << "casedesk: unknown status " << one_line(*options.status) << " (one of:";
      for (auto s : all) err << " " << s;
      err << ")\n";
      return kExitUsage;
    }
    filter.status = *options.status;
  }
  if (options.priority) {
    if (!queue::priority_from_string(*options.priority)) {
      err << "casedesk: unknown priority " << one_line(*options.priority) << " (low, normal, high, urgent)\n";
      return kExitUsage;
    }
    filter.priority = *options.priority;
  }
  if (options.mine) {
    auto me = acting_user(ctx.as);
    if (!me) {
      err << "casedesk: --mine needs the acting user: pass --as USER or set CASEDESK_USER\n";
      return kExitUsage;
    }
    filter.owner = *me;
  }
  if (options.sort != "due" && options.sort != "received" && options.sort != "updated" && options.sort != "priority") {
    err << "casedesk: --sort is due, received, updated or priority\n";
    return kExitUsage;
  }
  if (options.limit < 0 || options.offset < 0) {
    err << "casedesk: --limit and --offset are counts (0 or more)\n";
    return kExitUsage;
  }
  filter.overdue_only = options.overdue;
  filter.reply_failed_only = options.reply_failed;
  filter.open_only = options.open;
  filter.sort = options.sort;
  auto store = open_store(ctx.config, err);
  if (!store) return kExitConfig;
  const auto cases = list_all(*store, filter, options.limit, options.offset, now_seconds());
  print_cases(ctx, cases, out);
  return kExitOk;
}

int cmd_outbox_retry(const ReviewContext& ctx, std::int64_t id, std::ostream& out, std::ostream& err) {
  if (!acting_user(ctx.as)) {
    err << "casedesk: who is acting? pass --as USER or set CASEDESK_USER\n";
    return kExitUsage;
  }
  auto store = open_store(ctx.config, err);
  if (!store) return kExitConfig;
  int rc = kExitOk;
  const auto actor = require_actor(ctx, *store, err, rc);
  if (!actor) return rc;
  return guarded(err, [&] {
    const auto item = store->retry_outbox(id, actor->name, now_seconds());
    if (ctx.json) {
      out << dump(json{{"id", item.id}, {"case", item.case_ref}, {"kind", item.kind},
                       {"state", std::string(queue::to_string(item.state))}})
          << "\n";
    } else {
      out << "outbox item " << item.id << " (" << item.kind << " of " << item.case_ref
          << ") goes out again with the next outbox pass\n";
    }
    return kExitOk;
  });
}

int cmd_queue_search(const ReviewContext& ctx, const std::string& query, int limit, std::ostream& out,
                     std::ostream& err) {
  if (blank(query)) {
    err << "casedesk: the search query is empty\n";
    return kExitUsage;
  }
  auto store = open_store(ctx.config, err);
  if (!store) return kExitConfig;
  const auto cases = store->search_cases(query, now_seconds(), limit > 0 ? limit : 50);
  print_cases(ctx, cases, out);
  return kExitOk;
}

int cmd_queue_show(const ReviewContext& ctx, const std::string& ref, std::ostream& out, std::ostream& err) {
  auto store = open_store(ctx.config, err);
  if (!store) return kExitConfig;
  auto c = store->get_case(ref);
  if (!c) {
    err << "casedesk: no case " << one_line(ref) << "\n";
    return kExitNotFound;
  }
  // find_case computes `overdue` as of now; get_case has no clock.
  if (auto now_summary = store->find_case(ref, now_seconds())) c->summary = std::move(*now_summary);
  const auto contents = message_contents(*store, *c, now_seconds());
  if (ctx.json) {
    out << dump(case_detail_json(*c, contents)) << "\n";
    return kExitOk;
  }
  const auto& s = c->summary;
  out << s.ref << "  " << s.status << "  priority " << s.priority << "  ack " << queue::to_string(s.ack_state);
  if (s.ack_reason) out << " (" << one_line(*s.ack_reason) << ")";
  out << "\n";
  out << "Subject:   " << one_line(s.subject) << "\n";
  out << "Submitter: " << one_line(s.submitter_name) << (s.submitter_name.empty() ? "" : " ");
  if (s.submitter_addr.empty())
    out << "(no valid address)\n";
  else
    out << "<" << one_line(s.submitter_addr) << ">\n";
  out << "Owner:     " << s.owner.value_or("-");
  if (s.lease_until) out << " (claim until " << iso_utc(*s.lease_until) << ")";
  out << "\n";
  out << "Received:  " << iso_utc(s.created_at) << "\n";
  out << "Due:       " << iso_utc(s.due_at) << (s.overdue ? "  OVERDUE" : "") << "\n";
  if (s.reply_failed) {
    out << "Reply:     FAILED:";
    for (const auto& o : c->outbox)
      if (o.state == queue::OutboxState::failed) out << " " << o.kind << " (outbox item " << o.id << ")";
    out << "; once the cause is fixed: casedesk outbox retry ID\n";
  }
  if (!s.phi.empty()) {
    out << "PHI:       likely";
    for (const auto& k : s.phi) out << " " << k;
    out << "\n";
  }
  out << "Codes:\n";
  if (s.codes.empty()) out << "  (none)\n";
  for (const auto& code : s.codes) {
    out << "  " << std::left << std::setw(10) << code.code << std::setw(11) << parsers::to_string(code.system);
    if (!code.modifiers.empty()) {
      out << "mod";
      for (const auto& m : code.modifiers) out << " " << m;
      out << "  ";
    }
    if (code.units) out << "units " << *code.units << "  ";
    if (code.range_end) out << "through " << *code.range_end << "  ";
    if (code.status) out << "[" << *code.status << "]";
    if (!code.notes.empty()) out << " " << one_line(code.notes.front());
    out << "\n";
  }
  for (const auto& n : s.code_notes) out << "  note: " << one_line(n) << "\n";
  if (!s.suggestions.empty()) {
    out << "Suggestions (from the narrative, not extracted):\n";
    for (const auto& sg : s.suggestions) out << "  " << sg.code << "  " << one_line(sg.description) << "\n";
  }
  for (const auto& m : c->messages) {
    out << "\n--- " << (m.direction == "in" ? "received " : "sent ") << iso_utc(m.received_at) << " "
        << one_line(m.from_addr.value_or("")) << " " << one_line(m.message_id.value_or("")) << "\n";
    out << terminal_safe(m.body_text) << "\n";
    if (auto it = contents.find(m.id); it != contents.end()) {
      if (it->second.purged)
        out << "(purged by retention" << (it->second.purged_at ? " on " + iso_utc(*it->second.purged_at) : "")
            << ": the text, the attachments and the original of this mail were removed)\n";
      for (const auto& a : it->second.attachments)
        out << "Attachment " << a.index << ": " << one_line(a.filename.value_or("(no name)")) << "  "
            << one_line(a.content_type) << "  " << (a.size ? std::to_string(*a.size) + " bytes" : "-") << "\n";
    }
  }
  if (!c->notes.empty()) {
    out << "\nNotes:\n";
    for (const auto& n : c->notes) {
      out << "  " << iso_utc(n.at) << "  " << one_line(n.author) << ":\n";
      std::istringstream lines(n.text);
      for (std::string line; std::getline(lines, line);) out << "    " << one_line(line) << "\n";
    }
  }
  if (!c->outbox.empty()) {
    out << "\nOutbox:\n";
    for (const auto& o : c->outbox) {
      out << "  " << iso_utc(o.created_at) << "  #" << std::left << std::setw(6) << o.id << std::setw(15) << o.kind
          << std::setw(8) << queue::to_string(o.state);
      if (o.author) out << "  by " << one_line(*o.author);
      if (o.last_error) out << "  (" << one_line(*o.last_error) << ")";
      out << "\n";
    }
  }
  out << "\nEvents:\n";
  for (const auto& e : c->events) {
    out << "  " << iso_utc(e.at) << "  " << one_line(e.actor) << "  " << e.kind;
    if (e.to_state) out << "  " << (e.from_state ? *e.from_state + " -> " : "-> ") << *e.to_state;
    if (!e.note.empty()) out << "  (" << one_line(e.note) << ")";
    out << "\n";
  }
  return kExitOk;
}

namespace {

// The comment lines under the editor's empty first line, like git commit's: what the text is for
// and the case's summary as `queue show` prints it to the same consultant.
std::string editor_template(QueueAction action, const queue::CaseSummary& s) {
  std::string purpose;
  switch (action) {
    case QueueAction::answer: purpose = "your answer to " + s.ref + "; it is mailed to the submitter"; break;
    case QueueAction::ask: purpose = "your question on " + s.ref + "; it is mailed to the submitter"; break;
    default: purpose = "your internal note on " + s.ref + "; it is never mailed"; break;
  }
  std::string t = "\n# Write " + purpose + ".\n# Lines starting with '#' are ignored; an empty text aborts.\n#\n";
  t += "# " + s.ref + "  " + s.status + "  priority " + s.priority + "  owner " + one_line(s.owner.value_or("-")) + "\n";
  t += "# Subject:   " + one_line(s.subject) + "\n";
  t += "# Submitter: " + one_line(s.submitter_name) + (s.submitter_name.empty() ? "" : " ") + "<" +
       one_line(s.submitter_addr) + ">\n";
  if (!s.codes.empty()) t += "# Codes:     " + one_line(codes_text(s.codes)) + "\n";
  return t;
}

// Asked for the text once the acting user and the case are known (the editor shows its summary);
// nullopt with `rc` set after printing why not.
using LateText = std::function<std::optional<std::string>(const queue::CaseSummary&, const queue::User&, int& rc)>;

int change_case(const ReviewContext& ctx, QueueAction action, const std::string& ref, const std::string& argument,
                std::string text, const LateText& late_text, std::ostream& out, std::ostream& err) {
  std::optional<queue::Priority> priority;
  if (action == QueueAction::priority) priority = queue::priority_from_string(argument);
  if (!acting_user(ctx.as)) {
    err << "casedesk: who is acting? pass --as USER or set CASEDESK_USER\n";
    return kExitUsage;
  }
  auto store = open_store(ctx.config, err);
  if (!store) return kExitConfig;
  int rc = kExitOk;
  const auto actor = require_actor(ctx, *store, err, rc);
  if (!actor) return rc;
  auto now = now_seconds();
  const auto before = store->find_case(ref, now);
  if (!before) {
    err << "casedesk: no case " << one_line(ref) << "\n";
    return kExitNotFound;
  }
  if (action == QueueAction::assign && !store->find_user(argument)) {
    err << "casedesk: no user " << one_line(argument) << " (add one with: casedesk user add)\n";
    return kExitNotFound;
  }
  if (late_text) {
    auto written = late_text(*before, *actor, rc);
    if (!written) return rc;
    text = std::move(*written);
    now = now_seconds();  // the editor may have been open for a while
  }
  std::optional<std::int64_t> outbox_id;
  rc = guarded(err, [&] {
    switch (action) {
      case QueueAction::claim: store->claim(ref, actor->name, now); break;
      case QueueAction::release: store->release(ref, actor->name, now); break;
      case QueueAction::assign: store->assign(ref, actor->name, argument, now); break;
      case QueueAction::note: store->add_note(ref, actor->name, text, now); break;
      case QueueAction::answer: outbox_id = store->answer(ref, actor->name, text, now); break;
      case QueueAction::ask: outbox_id = store->ask(ref, actor->name, text, now); break;
      case QueueAction::close: store->close(ref, actor->name, now); break;
      case QueueAction::reopen: store->reopen(ref, actor->name, now); break;
      case QueueAction::reject: outbox_id = store->reject(ref, actor->name, text, now); break;
      case QueueAction::priority: store->set_priority(ref, actor->name, *priority, now); break;
    }
    return kExitOk;
  });
  if (rc != kExitOk) return rc;
  const auto after = store->find_case(ref, now);
  if (ctx.json) {
    json j = after ? case_summary_json(*after) : json(nullptr);
    if (outbox_id) j["outbox_id"] = *outbox_id;
    out << dump(j) << "\n";
    return kExitOk;
  }
  out << before->ref << ": " << action_name(action);
  if (after && after->status != before->status) out << ", " << before->status << " -> " << after->status;
  else if (after) out << ", " << after->status;
  if (after && after->owner) out << ", owner " << *after->owner;
  if (after && after->lease_until && after->status == queue::kStatusInReview)
    out << " until " << iso_utc(*after->lease_until);
  if (action == QueueAction::priority && after) out << ", priority " << after->priority << ", due " << iso_utc(after->due_at);
  if (outbox_id) out << "; the reply goes out with the next outbox pass";
  out << "\n";
  return kExitOk;
}

}  // namespace

int cmd_queue_change(const ReviewContext& ctx, QueueAction action, const std::string& ref,
                     const std::string& argument, std::istream& in, std::ostream& out, std::ostream& err) {
  // Arguments first: a typo should not need the store.
  if (action == QueueAction::priority && !queue::priority_from_string(argument)) {
    err << "casedesk: unknown priority " << one_line(argument) << " (low, normal, high, urgent)\n";
    return kExitUsage;
  }
  std::string text = argument;
  if (action == QueueAction::answer || action == QueueAction::ask) {
    auto body = read_text(argument, in, err);
    if (!body) return kExitNoInput;
    text = std::move(*body);
  }
  if ((action == QueueAction::note || action == QueueAction::answer || action == QueueAction::ask ||
       action == QueueAction::reject) &&
      blank(text)) {
    err << "casedesk: " << action_name(action) << ": the text is empty\n";
    return kExitUsage;
  }
  return change_case(ctx, action, ref, argument, std::move(text), nullptr, out, err);
}

std::string join_paragraphs(const std::vector<std::string>& paragraphs) {
  std::string out;
  for (const auto& p : paragraphs) {
    if (!out.empty()) out += "\n\n";
    out += p;
  }
  return out;
}

int cmd_queue_write(const ReviewContext& ctx, QueueAction action, const std::string& ref, const TextInput& input,
                    const EditorAccess& editor, std::istream& in, std::ostream& out, std::ostream& err) {
  const std::string name(action_name(action));
  if (action != QueueAction::note && action != QueueAction::answer && action != QueueAction::ask) {
    err << "casedesk: " << name << " takes no text\n";
    return kExitUsage;
  }
  const int ways = !input.messages.empty() + input.file.has_value() + !input.words.empty();
  if (ways > 1) {
    err << "casedesk: queue " << name << ": give the text one way: -m TEXT, --file FILE"
        << (action == QueueAction::note ? " or words" : "") << "\n";
    return kExitUsage;
  }
  if (ways == 1) {
    std::string text;
    if (!input.messages.empty()) {
      text = join_paragraphs(input.messages);
    } else if (input.file) {
      auto body = read_text(*input.file, in, err);
      if (!body) return kExitNoInput;
      text = std::move(*body);
    } else {
      text = join_words(input.words);
    }
    if (blank(text)) {
      err << "casedesk: " << name << ": the text is empty\n";
      return kExitUsage;
    }
    return change_case(ctx, action, ref, "", std::move(text), nullptr, out, err);
  }
  // No text given: the editor, for a person at a terminal only (a script must never hang).
  if (!editor.interactive) {
    err << "casedesk: queue " << name << ": no text: pass -m TEXT or --file FILE"
        << " (an editor opens only when stdin and stdout are terminals)\n";
    return kExitUsage;
  }
  return change_case(ctx, action, ref, "", "",
                     [&](const queue::CaseSummary& c, const queue::User& actor, int& rc) -> std::optional<std::string> {
                       // The store decides, but a refusal it is sure to give should not cost a written text.
                       if (action != QueueAction::note) {
                         std::string why;
                         if (c.status != queue::kStatusInReview)
                           why = "it is " + c.status + " (needs in_review; claim it first)";
                         else if (actor.role != "admin" && c.owner != actor.name)
                           why = "it is claimed by " + c.owner.value_or("nobody") + ", not " + actor.name;
                         if (!why.empty()) {
                           err << "casedesk: refused: cannot " << (action == QueueAction::ask ? "ask about " : "answer ")
                               << c.ref << ": " << why << "\n";
                           rc = kExitRefused;
                           return std::nullopt;
                         }
                       }
                       auto edited = edit_in_editor(editor.command, editor_template(action, c));
                       if (!edited.text) {
                         err << "casedesk: " << edited.error << "\n";
                         rc = kExitNoInput;
                         return std::nullopt;
                       }
                       auto text = strip_comment_lines(*edited.text);
                       if (blank(text)) {
                         err << "casedesk: aborting: empty message\n";
                         rc = kExitUsage;
                         return std::nullopt;
                       }
                       return text;
                     },
                     out, err);
}

int cmd_user_add(const ReviewContext& ctx, const std::string& name, const std::string& email,
                 const std::string& role, std::istream& in, std::ostream& out, std::ostream& err) {
  if (!valid_user_name(name)) {
    err << "casedesk: a user name is 1-64 letters, digits, '.', '_' or '-'\n";
    return kExitUsage;
  }
  if (!valid_address(email)) {
    err << "casedesk: --email must be an address like name@example.org\n";
    return kExitUsage;
  }
  if (role != "consultant" && role != "admin") {
    err << "casedesk: --role is consultant or admin\n";
    return kExitUsage;
  }
  const auto password = read_password(in);
  if (password.empty()) {
    err << "casedesk: no password on stdin (--password-stdin reads its first line)\n";
    return kExitUsage;
  }
  auto store = open_store(ctx.config, err);
  if (!store) return kExitConfig;
  if (store->find_user(name)) {
    err << "casedesk: user " << name << " exists (casedesk user passwd changes a password)\n";
    return kExitRefused;
  }
  return guarded(err, [&] {
    queue::User user;
    user.name = name;
    user.email = email;
    user.role = role;
    store->add_user(user, hash_password(password), now_seconds());
    out << "user " << name << " added (" << role << ")\n";
    return kExitOk;
  });
}

int cmd_user_list(const ReviewContext& ctx, std::ostream& out, std::ostream& err) {
  auto store = open_store(ctx.config, err);
  if (!store) return kExitConfig;
  const auto users = store->list_users();  // User carries no password hash: nothing to leak
  if (ctx.json) {
    json arr = json::array();
    for (const auto& u : users)
      arr.push_back({{"name", u.name}, {"email", u.email}, {"role", u.role}, {"created_at", iso_utc(u.created_at)}});
    out << dump(arr) << "\n";
    return kExitOk;
  }
  out << std::left << std::setw(20) << "NAME" << std::setw(12) << "ROLE" << std::setw(22) << "CREATED"
      << "EMAIL\n";
  for (const auto& u : users)
    out << std::left << std::setw(20) << u.name << std::setw(12) << u.role << std::setw(22) << iso_utc(u.created_at)
        << one_line(u.email) << "\n";
  out << users.size() << " user(s)\n";
  return kExitOk;
}

int cmd_user_passwd(const ReviewContext& ctx, const std::string& name, std::istream& in, std::ostream& out,
                    std::ostream& err) {
  const auto password = read_password(in);
  if (password.empty()) {
    err << "casedesk: no password on stdin (--password-stdin reads its first line)\n";
    return kExitUsage;
  }
  auto store = open_store(ctx.config, err);
  if (!store) return kExitConfig;
  if (!store->find_user(name)) {
    err << "casedesk: no user " << one_line(name) << "\n";
    return kExitNotFound;
  }
  return guarded(err, [&] {
    store->set_password_hash(name, hash_password(password), now_seconds());
    out << "password of " << name << " changed\n";
    return kExitOk;
  });
}

int cmd_submitter_add(const ReviewContext& ctx, const std::string& pattern, const std::string& name,
                      std::optional<int> quota, std::ostream& out, std::ostream& err) {
  if (!valid_submitter_pattern(pattern)) {
    err << "casedesk: a submitter is an address (coder@clinic.example) or a domain (@clinic.example)\n";
    return kExitUsage;
  }
  if (quota && *quota < 0) {
    err << "casedesk: --quota is a number of cases per month, 0 = unlimited\n";
    return kExitUsage;
  }
  auto store = open_store(ctx.config, err);
  if (!store) return kExitConfig;
  return guarded(err, [&] {
    store->add_submitter(lower(pattern), name, quota, now_seconds());
    out << "submitter " << one_line(pattern) << " added";
    if (quota && *quota > 0) out << " (quota " << *quota << " cases a month)";
    out << "\n";
    return kExitOk;
  });
}

int cmd_submitter_list(const ReviewContext& ctx, std::ostream& out, std::ostream& err) {
  auto store = open_store(ctx.config, err);
  if (!store) return kExitConfig;
  const auto submitters = store->list_submitters(now_seconds());
  if (ctx.json) {
    json arr = json::array();
    for (const auto& s : submitters)
      arr.push_back({{"pattern", s.pattern},
                     {"name", s.name},
                     {"quota", s.quota && *s.quota > 0 ? json(*s.quota) : json(nullptr)},
                     {"cases_this_month", s.cases_this_month},
                     {"created_at", iso_utc(s.created_at)}});
    out << dump(arr) << "\n";
    return kExitOk;
  }
  out << std::left << std::setw(36) << "SUBMITTER" << std::setw(8) << "QUOTA" << std::setw(12) << "THIS MONTH"
      << "NAME\n";
  for (const auto& s : submitters)
    out << std::left << std::setw(36) << one_line(s.pattern) << std::setw(8)
        << (s.quota && *s.quota > 0 ? std::to_string(*s.quota) : "-") << std::setw(12) << s.cases_this_month
        << one_line(s.name) << "\n";
  out << submitters.size() << " submitter(s)\n";
  return kExitOk;
}

int cmd_submitter_remove(const ReviewContext& ctx, const std::string& pattern, std::ostream& out,
                         std::ostream& err) {
  auto store = open_store(ctx.config, err);
  if (!store) return kExitConfig;
  if (!store->remove_submitter(lower(pattern))) {
    err << "casedesk: no submitter " << one_line(pattern) << "\n";
    return kExitNotFound;
  }
  out << "submitter " << one_line(pattern) << " removed\n";
  return kExitOk;
}

}  // namespace casedesk::daemon
