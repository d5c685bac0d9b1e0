// casedesk: the only composition root. Parses the command line, sets up logging and libcurl, and
// hands over to the subcommands.

#include <CLI/CLI.hpp>
#include <spdlog/cfg/env.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <sys/stat.h>

#include <algorithm>
#include <iostream>

#include "daemon/cli_usage.hpp"
#include "daemon/codes_commands.hpp"
#include "daemon/commands.hpp"
#include "daemon/curl_handle.hpp"
#include "daemon/logging.hpp"
#include "daemon/maintenance_commands.hpp"
#include "daemon/review_commands.hpp"
#include "daemon/service.hpp"

#ifndef CASEDESK_VERSION
#define CASEDESK_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  using namespace casedesk::daemon;
  CurlGlobal curl_global;  // before any thread
  setup_logging();  // journald-aware; SPDLOG_LEVEL=debug
  ::umask(077);     // the store, its -wal/-shm files, backups and new folders: owner only

  CLI::App app{"casedesk - an email consultation desk for medical coding"};
  app.set_version_flag("--version", "casedesk " CASEDESK_VERSION);
  app.require_subcommand(1);

  std::optional<std::string> config_flag;
  const std::string config_help = "config file (default: $CASEDESK_CONFIG, then /etc/casedesk/casedesk.toml)";

  auto* serve = app.add_subcommand("serve", "run the daemon: IMAP intake, case queue, acknowledgements");
  bool once = false;
  serve->add_option("--config", config_flag, config_help);
  serve->add_flag("--once", once, "one intake pass and one outbox pass, then exit (0 ok, 75 server unusable)");

  auto* parse = app.add_subcommand("parse", "parse mail files and print what casedesk understands");
  std::vector<std::string> files;
  bool parse_json = false;
  parse->add_flag("--json", parse_json, "one JSON object per line per file");
  parse->add_option("--config", config_flag, "config file (for the case reference prefix)");
  parse->add_option("files", files, "mail files (RFC 5322)")->required();
  std::optional<std::string> parse_codes_db;
  parse->add_option("--codes-db", parse_codes_db,
                    "validate codes against the code sets in this database (default with --config: the store's)");

  auto* check = app.add_subcommand("check-config", "validate a config file (exit 78 on problems)");
  std::string check_file;
  check->add_option("file", check_file, "config file")->required();

  // --- queue, user, submitter: the review workflow (daemon/review_commands.hpp) ---
  ReviewContext review;
  const std::string as_help = "acting user (default: $CASEDESK_USER)";
  auto* queue = app.add_subcommand("queue", "work the case queue: list, show, claim, answer, ...");
  queue->require_subcommand(1);
  QueueListOptions list_options;
  auto* list = queue->add_subcommand("list", "list cases (overdue first)");
  list->add_option("--status", list_options.status, "only this status (new, in_review, waiting_on_submitter, answered, closed, rejected)");
  list->add_flag("--mine", list_options.mine, "only cases the acting user owns");
  list->add_flag("--overdue", list_options.overdue, "only open cases past their due time");
  list->add_flag("--reply-failed", list_options.reply_failed,
                 "only cases with a reply (ack included) that failed permanently");
  list->add_option("--priority", list_options.priority, "only this priority (low, normal, high, urgent)");
  list->add_flag("--open", list_options.open, "only open cases (new, in_review, waiting_on_submitter, answered)");
  list->add_option("--sort", list_options.sort, "due (default), received, updated or priority");
  list->add_option("--limit", list_options.limit, "at most this many cases (default: all)");
  list->add_option("--offset", list_options.offset, "skip this many cases first (pages: --limit 50 --offset 100)");
  auto* show = queue->add_subcommand("show", "one case with its messages, codes, notes and events");
  std::string ref;
  show->add_option("ref", ref, "case reference, e.g. CD-000123")->required();
  auto* search = queue->add_subcommand("search", "full-text search over subjects, mail text and codes");
  std::vector<std::string> search_words;
  int search_limit = 50;
  search->add_option("query", search_words, "words or codes")->required();
  search->add_option("--limit", search_limit, "at most this many cases (default 50)");
  std::vector<std::pair<CLI::App*, QueueAction>> changes;
  std::string change_arg;
  auto add_change = [&](const char* name, const char* help, QueueAction action) {
    auto* sub = queue->add_subcommand(name, help);
    sub->add_option("ref", ref, "case reference, e.g. CD-000123")->required();
    changes.emplace_back(sub, action);
    return sub;
  };
  add_change("claim", "new -> in_review, owned by the acting user (renews one's own claim)", QueueAction::claim);
  add_change("release", "in_review -> new", QueueAction::release);
  add_change("assign", "give the case to USER (in_review)", QueueAction::assign)
      ->add_option("user", change_arg, "user name")->required();
  // note, answer, ask: the text as git commit takes it (-m, --file, else $VISUAL/$EDITOR on a terminal).
  TextInput text_input;
  std::vector<CLI::App*> writes;
  auto add_text = [&](CLI::App* sub, const char* what) {
    sub->add_option("-m,--message", text_input.messages,
                    std::string("the ") + what + "'s text; repeat for more paragraphs (else --file, else $VISUAL or $EDITOR)")
        ->expected(1)
        ->allow_extra_args(false)
        ->take_all();
    sub->add_option("--file", text_input.file, std::string("the ") + what + "'s text from a file (- for stdin)");
    writes.push_back(sub);
    return sub;
  };
  add_text(add_change("note", "add an internal note (never sent)", QueueAction::note), "note")
      ->add_option("text", text_input.words, "the note (or -m, --file, or an editor)");
  add_text(add_change("answer", "in_review -> answered; the answer is mailed to the submitter", QueueAction::answer),
           "answer");
  add_text(add_change("ask", "in_review -> waiting_on_submitter; the question is mailed to the submitter", QueueAction::ask),
           "question");
  add_change("close", "answered -> closed", QueueAction::close);
  add_change("reopen", "answered or closed -> new", QueueAction::reopen);
  add_change("reject", "any open state -> rejected; the reason is mailed to the submitter", QueueAction::reject)
      ->add_option("--reason", change_arg, "why (spam, out of scope, ...)")->required();
  add_change("priority", "set the priority (and so the due time)", QueueAction::priority)
      ->add_option("priority", change_arg, "low, normal, high or urgent")->required();
  for (auto* sub : queue->get_subcommands({})) {
    sub->add_option("--config", config_flag, config_help);
    sub->add_option("--as", review.as, as_help);
    sub->add_flag("--json", review.json, "print JSON (a change prints the case after it)");
  }

  auto* user = app.add_subcommand("user", "consultants' and administrators' accounts");
  user->require_subcommand(1);
  std::string user_name, user_email, user_role = "consultant";
  bool password_stdin = false;
  auto* user_add = user->add_subcommand("add", "add a user; the password is read from stdin");
  user_add->add_option("name", user_name, "user name (letters, digits, . _ -)")->required();
  user_add->add_option("--email", user_email, "the user's address (digests)")->required();
  user_add->add_option("--role", user_role, "consultant (default) or admin");
  auto* user_list = user->add_subcommand("list", "list users (never their password hashes)");
  auto* user_passwd = user->add_subcommand("passwd", "set a user's password, read from stdin");
  user_passwd->add_option("name", user_name, "user name")->required();
  for (auto* sub : {user_add, user_passwd})
    sub->add_flag("--password-stdin", password_stdin, "read the password from the first line of stdin")->required();
  user_list->add_flag("--json", review.json, "print a JSON array");

  auto* submitter = app.add_subcommand("submitter", "registered submitters and their monthly quotas");
  submitter->require_subcommand(1);
  std::string submitter_pattern, submitter_name;
  std::optional<int> submitter_quota;
  auto* submitter_add = submitter->add_subcommand("add", "register an address or a whole @domain");
  submitter_add->add_option("pattern", submitter_pattern, "ADDRESS or @DOMAIN")->required();
  submitter_add->add_option("--name", submitter_name, "shown in the queue");
  submitter_add->add_option("--quota", submitter_quota, "cases per calendar month (0 = unlimited, the default)");
  auto* submitter_list = submitter->add_subcommand("list", "list registered submitters with this month's cases");
  submitter_list->add_flag("--json", review.json, "print a JSON array");
  auto* submitter_remove = submitter->add_subcommand("remove", "unregister an address or @domain");
  submitter_remove->add_option("pattern", submitter_pattern, "ADDRESS or @DOMAIN")->required();
  for (auto* sub : {user_add, user_list, user_passwd, submitter_add, submitter_list, submitter_remove})
    sub->add_option("--config", config_flag, config_help);
  // --- end queue, user, submitter ---

  // --- backup, purge: store maintenance (daemon/maintenance_commands.hpp) ---
  auto* backup = app.add_subcommand("backup", "consistent copy of the store, also while the daemon runs");
  std::string backup_dest;
  backup->add_option("--config", config_flag, config_help);
  backup->add_option("dest", backup_dest, "new file, or a folder for casedesk-YYYYMMDDTHHMMSSZ.db")->required();
  auto* purge = app.add_subcommand("purge", "remove raw mail and closed cases past [retention] ages");
  bool purge_dry_run = false;
  purge->add_option("--config", config_flag, config_help);
  purge->add_flag("--dry-run", purge_dry_run, "show what would be removed; change nothing");
  // --- end backup, purge ---

  // --- codes: code sets (daemon/codes_commands.hpp) ---
  auto* codes = app.add_subcommand("codes", "import official code sets and look codes up");
  codes->require_subcommand(1);
  CodesDb codes_db;
  std::optional<std::string> codes_db_flag;
  auto* codes_import = codes->add_subcommand("import", "import code-set files and folders (recognised by content)");
  std::vector<std::string> codes_paths;
  codes_import->add_option("paths", codes_paths, "files or folders (searched recursively)")->required();
  auto* codes_lookup = codes->add_subcommand("lookup", "look a code up in the loaded code sets");
  std::string codes_code;
  bool codes_lookup_json = false;
  codes_lookup->add_option("code", codes_code, "a code, e.g. M54.5, 64635, J1885, RT")->required();
  codes_lookup->add_flag("--json", codes_lookup_json, "print JSON");
  auto* codes_list = codes->add_subcommand("list", "list the loaded code sets");
  bool codes_list_json = false;
  codes_list->add_flag("--json", codes_list_json, "print JSON");
  for (auto* sub : {codes_import, codes_lookup, codes_list}) {
    auto* db_opt = sub->add_option("--db", codes_db_flag, "code-set database file (instead of the store's)");
    sub->add_option("--config", config_flag, "config file: use its store database")->excludes(db_opt);
  }
  // --- end codes ---

  auto* status = app.add_subcommand("status", "intake counters, queue and outbox sizes, the running daemon");
  bool status_json = false;
  status->add_flag("--json", status_json, "print a JSON object");
  status->add_option("--config", config_flag, config_help);

  auto* quarantine = app.add_subcommand("quarantine", "mail that could not become a case");
  quarantine->require_subcommand(1);
  auto* qlist = quarantine->add_subcommand("list", "list quarantined mail with the reasons");
  bool qlist_json = false;
  qlist->add_flag("--json", qlist_json, "print a JSON array");
  qlist->add_option("--config", config_flag, config_help);
  auto* qretry = quarantine->add_subcommand("retry", "process a quarantined mail's stored bytes again");
  std::int64_t quarantine_id = 0;
  qretry->add_option("id", quarantine_id, "quarantine id (from quarantine list)")->required();
  qretry->add_option("--config", config_flag, config_help);

  auto* outbox = app.add_subcommand("outbox", "replies waiting, sent or failed");
  outbox->require_subcommand(1);
  auto* outbox_retry = outbox->add_subcommand("retry", "send a permanently failed reply again, once its cause is fixed");
  std::int64_t outbox_id = 0;
  outbox_retry->add_option("id", outbox_id, "outbox item id (queue show lists them as #ID)")->required();
  outbox_retry->add_option("--config", config_flag, config_help);
  outbox_retry->add_option("--as", review.as, as_help);
  outbox_retry->add_flag("--json", review.json, "print the item as JSON");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return report_parse_error(app, e, std::cout, std::cerr);  // usage errors: exit 64, the unknown word named
  }

  try {
    if (*serve) return cmd_serve(resolve_config_path(config_flag), once, std::cerr);
    if (*parse) {
      std::optional<std::filesystem::path> cfg;
      if (config_flag) cfg = *config_flag;
      std::optional<std::filesystem::path> codes_db_file;
      if (parse_codes_db) codes_db_file = *parse_codes_db;
      return cmd_parse(files, parse_json, cfg, std::cout, std::cerr, codes_db_file);
    }
    if (*codes) {  // codes subcommands
      if (codes_db_flag) codes_db.db = *codes_db_flag;
      if (config_flag) codes_db.config = *config_flag;
      if (*codes_import) return cmd_codes_import(codes_db, codes_paths, std::cout, std::cerr);
      if (*codes_lookup) return cmd_codes_lookup(codes_db, codes_code, codes_lookup_json, std::cout, std::cerr);
      if (*codes_list) return cmd_codes_list(codes_db, codes_list_json, std::cout, std::cerr);
    }
    if (*check) return cmd_check_config(check_file, std::cout, std::cerr);
    // --- backup, purge ---
    if (*backup) return cmd_backup(resolve_config_path(config_flag), backup_dest, std::cout, std::cerr);
    if (*purge) return cmd_purge(resolve_config_path(config_flag), purge_dry_run, std::cout, std::cerr);
    // --- end backup, purge ---
    // --- queue, user, submitter ---
    if (*queue || *user || *submitter || *outbox) review.config = resolve_config_path(config_flag);
    if (*outbox_retry) return cmd_outbox_retry(review, outbox_id, std::cout, std::cerr);
    if (*list) return cmd_queue_list(review, list_options, std::cout, std::cerr);
    if (*show) return cmd_queue_show(review, ref, std::cout, std::cerr);
    if (*search) return cmd_queue_search(review, join_words(search_words), search_limit, std::cout, std::cerr);
    for (const auto& [sub, action] : changes) {
      if (!*sub) continue;
      if (std::find(writes.begin(), writes.end(), sub) != writes.end())
        return cmd_queue_write(review, action, ref, text_input, editor_access(), std::cin, std::cout, std::cerr);
      return cmd_queue_change(review, action, ref, change_arg, std::cin, std::cout, std::cerr);
    }
    if (*user_add) return cmd_user_add(review, user_name, user_email, user_role, std::cin, std::cout, std::cerr);
    if (*user_list) return cmd_user_list(review, std::cout, std::cerr);
    if (*user_passwd) return cmd_user_passwd(review, user_name, std::cin, std::cout, std::cerr);
    if (*submitter_add)
      return cmd_submitter_add(review, submitter_pattern, submitter_name, submitter_quota, std::cout, std::cerr);
    if (*submitter_list) return cmd_submitter_list(review, std::cout, std::cerr);
    if (*submitter_remove) return cmd_submitter_remove(review, submitter_pattern, std::cout, std::cerr);
    // --- end queue, user, submitter ---
    if (*status) return cmd_status(resolve_config_path(config_flag), status_json, std::cout, std::cerr);
    if (*qlist) return cmd_quarantine_list(resolve_config_path(config_flag), qlist_json, std::cout, std::cerr);
    if (*qretry) return cmd_quarantine_retry(resolve_config_path(config_flag), quarantine_id, std::cout, std::cerr);
  } catch (const std::exception& e) {
    std::cerr << "casedesk: " << e.what() << "\n";
    return kExitSoftware;
  }
  return kExitSoftware;
}
