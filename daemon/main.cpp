// casedesk: the only composition root. Parses the command line, sets up logging and libcurl, and
// hands over to the subcommands.

#include <CLI/CLI.hpp>
#include <spdlog/cfg/env.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "daemon/codes_commands.hpp"
#include "daemon/commands.hpp"
#include "daemon/curl_handle.hpp"
#include "daemon/service.hpp"

#ifndef CASEDESK_VERSION
#define CASEDESK_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  using namespace casedesk::daemon;
  CurlGlobal curl_global;  // before any thread
  auto logger = spdlog::stderr_color_mt("casedesk");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::cfg::load_env_levels();  // SPDLOG_LEVEL=debug

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

  auto* queue = app.add_subcommand("queue", "inspect the case queue");
  queue->require_subcommand(1);
  auto* list = queue->add_subcommand("list", "list cases");
  bool list_json = false;
  list->add_flag("--json", list_json, "print a JSON array of case objects");
  list->add_option("--config", config_flag, config_help);
  auto* show = queue->add_subcommand("show", "show one case with its messages, codes and events");
  std::string ref;
  bool show_json = false;
  show->add_option("ref", ref, "case reference, e.g. CD-000123")->required();
  show->add_flag("--json", show_json, "print the case as JSON");
  show->add_option("--config", config_flag, config_help);

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

  CLI11_PARSE(app, argc, argv);

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
    if (*list) return cmd_queue_list(resolve_config_path(config_flag), list_json, std::cout, std::cerr);
    if (*show) return cmd_queue_show(resolve_config_path(config_flag), ref, show_json, std::cout, std::cerr);
    if (*status) return cmd_status(resolve_config_path(config_flag), status_json, std::cout, std::cerr);
    if (*qlist) return cmd_quarantine_list(resolve_config_path(config_flag), qlist_json, std::cout, std::cerr);
    if (*qretry) return cmd_quarantine_retry(resolve_config_path(config_flag), quarantine_id, std::cout, std::cerr);
  } catch (const std::exception& e) {
    std::cerr << "casedesk: " << e.what() << "\n";
    return kExitSoftware;
  }
  return kExitSoftware;
}
