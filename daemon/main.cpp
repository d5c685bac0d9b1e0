// casedesk: the only composition root. Parses the command line, sets up logging and libcurl, and
// hands over to the subcommands.

#include <CLI/CLI.hpp>
#include <spdlog/cfg/env.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

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

  CLI11_PARSE(app, argc, argv);

  try {
    if (*serve) return cmd_serve(resolve_config_path(config_flag), once, std::cerr);
    if (*parse) {
      std::optional<std::filesystem::path> cfg;
      if (config_flag) cfg = *config_flag;
      return cmd_parse(files, parse_json, cfg, std::cout, std::cerr);
    }
    if (*check) return cmd_check_config(check_file, std::cout, std::cerr);
    if (*list) return cmd_queue_list(resolve_config_path(config_flag), list_json, std::cout, std::cerr);
    if (*show) return cmd_queue_show(resolve_config_path(config_flag), ref, show_json, std::cout, std::cerr);
  } catch (const std::exception& e) {
    std::cerr << "casedesk: " << e.what() << "\n";
    return kExitSoftware;
  }
  return kExitSoftware;
}
