#pragma once
// The consultants' CLI: `casedesk queue ...` (the review workflow), `casedesk user ...` and
// `casedesk submitter ...`, without the command-line parsing (main.cpp). Each function loads the
// config (no secrets needed), opens the store with store_options(), writes only to the given
// streams and returns the process exit code. Answer, question and note texts are never logged.
//
// Exit codes: kExitOk; kExitNotFound (no such case, user or submitter); kExitRefused (the workflow
// refuses the change, e.g. claiming an answered case or answering someone else's case; a user
// name that is taken); kExitUsage (no acting user for a change, a bad argument value, an empty
// text or password, no text and no terminal for the editor); kExitNoInput (the --file cannot be
// read, the editor failed); 70 (store unusable, from main);
// 78 (config).

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "daemon/editor.hpp"

namespace casedesk::daemon {

inline constexpr int kExitNotFound = 1;
inline constexpr int kExitRefused = 3;
inline constexpr int kExitUsage = 64;    // sysexits.h EX_USAGE
inline constexpr int kExitNoInput = 66;  // sysexits.h EX_NOINPUT

// Options every queue/user/submitter command shares.
struct ReviewContext {
  std::filesystem::path config;     // resolve_config_path(--config)
  std::optional<std::string> as;    // --as USER, else $CASEDESK_USER (see acting_user)
  bool json = false;                // --json (reads)
};

// The words of a positional argument the shell split (`queue note REF needs op note`), joined by
// single spaces.
std::string join_words(const std::vector<std::string>& words);

// --as USER, else $CASEDESK_USER when set and not empty.
std::optional<std::string> acting_user(const std::optional<std::string>& flag);

struct QueueListOptions {
  std::optional<std::string> status;    // one of queue::all_statuses()
  std::optional<std::string> priority;  // low | normal | high | urgent
  bool mine = false;                    // owner = the acting user
  bool overdue = false;
  bool reply_failed = false;            // only cases with a permanently failed reply
  bool open = false;                    // new, in_review, waiting_on_submitter, answered
  std::string sort = "due";             // due | received | updated | priority
  int limit = 0;                        // 0 = every matching case
  int offset = 0;                       // skip this many first (paging with limit)
};

int cmd_queue_list(const ReviewContext& ctx, const QueueListOptions& options, std::ostream& out, std::ostream& err);
// `outbox retry ID`: a permanently failed reply goes out again (recomposed) with the next outbox
// pass; an audit event names the acting user. Exit 1 no such item, 3 the item is not failed.
int cmd_outbox_retry(const ReviewContext& ctx, std::int64_t id, std::ostream& out, std::ostream& err);
int cmd_queue_show(const ReviewContext& ctx, const std::string& ref, std::ostream& out, std::ostream& err);
int cmd_queue_search(const ReviewContext& ctx, const std::string& query, int limit, std::ostream& out,
                     std::ostream& err);

// The workflow's changes. `argument` is: the user (assign), the note text (note), the file
// name or "-" for stdin (answer, ask), the reason (reject), the priority name (priority); unused
// otherwise. `in` is read when the file is "-".
enum class QueueAction { claim, release, assign, note, answer, ask, close, reopen, reject, priority };
int cmd_queue_change(const ReviewContext& ctx, QueueAction action, const std::string& ref,
                     const std::string& argument, std::istream& in, std::ostream& out, std::ostream& err);

// Where the text of `queue note|answer|ask` comes from, as with `git commit`: -m TEXT (repeatable,
// one paragraph each, joined by a blank line), --file F ("-" = `in`), the note's words; at most one
// of them. With none, the editor opens on the case's summary in '#' lines once the acting user
// and the case are checked, if `editor.interactive`; else exit 64 at once. A text that is empty
// (for the editor: once '#' lines are stripped) exits 64; a failed editor exits 66.
struct TextInput {
  std::vector<std::string> messages;   // -m
  std::optional<std::string> file;     // --file
  std::vector<std::string> words;      // note REF WORDS...
};
int cmd_queue_write(const ReviewContext& ctx, QueueAction action, const std::string& ref, const TextInput& input,
                    const EditorAccess& editor, std::istream& in, std::ostream& out, std::ostream& err);

// Users. The password is the first line of `in` (--password-stdin; a trailing CR/LF is removed).
int cmd_user_add(const ReviewContext& ctx, const std::string& name, const std::string& email,
                 const std::string& role, std::istream& in, std::ostream& out, std::ostream& err);
int cmd_user_list(const ReviewContext& ctx, std::ostream& out, std::ostream& err);
int cmd_user_passwd(const ReviewContext& ctx, const std::string& name, std::istream& in, std::ostream& out,
                    std::ostream& err);

// Submitters: an address ("coder@clinic.test") or a domain ("@clinic.test").
int cmd_submitter_add(const ReviewContext& ctx, const std::string& pattern, const std::string& name,
                      std::optional<int> quota, std::ostream& out, std::ostream& err);
int cmd_submitter_list(const ReviewContext& ctx, std::ostream& out, std::ostream& err);
int cmd_submitter_remove(const ReviewContext& ctx, const std::string& pattern, std::ostream& out,
                         std::ostream& err);

}  // namespace casedesk::daemon
