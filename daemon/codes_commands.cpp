#include "daemon/codes_commands.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "daemon/case_json.hpp"
#include "daemon/commands.hpp"
#include "daemon/service.hpp"
#include "parsers/code_validation.hpp"
#include "queue/code_set_store.hpp"

namespace casedesk::daemon {
namespace {

using nlohmann::json;

// The database file, or nullopt after reporting a config problem.
std::optional<std::filesystem::path> resolve_db(const CodesDb& where, std::ostream& err) {
  if (where.db) return *where.db;
  std::optional<std::string> flag;
  if (where.config) flag = where.config->string();
  const auto file = resolve_config_path(flag);
  try {
    return config::load_config(file, config::LoadOptions{false}).store.path;
  } catch (const config::ConfigError& e) {
    for (const auto& issue : e.issues()) err << "casedesk: " << issue.to_string() << "\n";
    return std::nullopt;
  }
}

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

json opt_json(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }

json info_json(const parsers::CodeInfo& i) {
  return {{"description", i.description},
          {"short_description", i.short_description.empty() ? json(nullptr) : json(i.short_description)},
          {"added_date", opt_json(i.added_date)},
          {"effective_date", opt_json(i.effective_date)},
          {"termination_date", opt_json(i.termination_date)},
          {"version", i.version}};
}

}  // namespace

int cmd_codes_import(const CodesDb& where, const std::vector<std::string>& paths, std::ostream& out,
                     std::ostream& err) {
  auto db = resolve_db(where, err);
  if (!db) return kExitConfig;
  const bool tty = &err == &std::cerr && ::isatty(STDERR_FILENO);
  queue::ImportProgress progress;
  if (tty) {
    progress = [&err](const std::filesystem::path& file, queue::CodeSetKind, std::size_t done, std::size_t total) {
      const int width = 30;
      const int filled = total ? static_cast<int>(width * done / total) : width;
      err << "\r  " << file.filename().string() << " [" << std::string(filled, '#') << std::string(width - filled, ' ')
          << "] " << (total ? 100 * done / total : 100) << "%" << (done == total ? "\r\x1b[K" : "") << std::flush;
    };
  }
  queue::CodeSetStore store(queue::CodeSetStoreOptions{*db});
  std::vector<std::filesystem::path> inputs(paths.begin(), paths.end());
  std::vector<std::filesystem::path> skipped;
  int changed = 0, unchanged = 0;
  double seconds = 0;
  // One path at a time so the files imported before a malformed one are reported.
  for (const auto& p : inputs) {
    std::vector<queue::ImportResult> results;
    try {
      results = store.import_paths({p}, now_seconds(), progress, &skipped);
    } catch (const queue::CodeSetFormatError& e) {
      if (tty) err << "\r\x1b[K";
      err << "casedesk: " << e.what() << "\n";
      return kExitDataErr;
    } catch (const queue::StoreError& e) {
      if (tty) err << "\r\x1b[K";
      err << "casedesk: " << e.what() << "\n";
      return 1;
    }
    for (const auto& r : results) {
      (r.outcome == queue::ImportResult::Outcome::unchanged ? unchanged : changed)++;
      seconds += r.seconds;
      char secs[32];
      std::snprintf(secs, sizeof secs, "%.2f s", r.seconds);
      out << std::left << std::setw(9) << queue::to_string(r.record.kind) << std::setw(10)
          << queue::to_string(r.outcome) << std::right << std::setw(8) << r.record.row_count << " rows  "
          << std::setw(7) << secs << "  " << r.file.string() << "\n";
    }
  }
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.2f s", seconds);
  out << changed << " imported, " << unchanged << " unchanged";
  if (!skipped.empty()) out << ", " << skipped.size() << " file(s) not recognised and skipped";
  out << " (" << secs << ") into " << db->string() << "\n";
  if (changed + unchanged == 0) {
    err << "casedesk: no code-set files found\n";
    return kExitDataErr;
  }
  return kExitOk;
}

int cmd_codes_lookup(const CodesDb& where, const std::string& code, bool as_json, std::ostream& out,
                     std::ostream& err) {
  auto db = resolve_db(where, err);
  if (!db) return kExitConfig;
  std::unique_ptr<queue::CodeSetStore> store;
  std::error_code ec;
  if (std::filesystem::exists(*db, ec))
    store = std::make_unique<queue::CodeSetStore>(queue::CodeSetStoreOptions{*db, std::chrono::milliseconds(5000), true});
  const parsers::CodeSetLookup* lookup = store ? store.get() : nullptr;

  auto readings = parsers::codes_for_query(code);
  (void)parsers::validate_codes(readings, lookup);
  const bool any_valid = std::any_of(readings.begin(), readings.end(),
                                     [](const parsers::Code& c) { return c.status != "invalid"; });
  json results = json::array();
  for (const auto& c : readings) {
    if (any_valid && c.status == "invalid") continue;
    json r{{"code", c.code},
           {"system", std::string(parsers::to_string(c.system))},
           {"status", c.status ? json(*c.status) : json(nullptr)},
           {"notes", c.notes}};
    std::optional<parsers::CodeInfo> info;
    if (lookup) info = lookup->find(c.system, c.code);
    r["info"] = info ? info_json(*info) : json(nullptr);
    std::optional<parsers::AddOnInfo> aoc;
    if (lookup && (c.system == parsers::CodeSystem::cpt || c.system == parsers::CodeSystem::hcpcs))
      aoc = lookup->add_on(c.code);
    r["add_on"] = aoc ? json{{"edit_type", aoc->edit_type}, {"primaries", aoc->primaries}, {"version", aoc->version}}
                      : json(nullptr);
    results.push_back(std::move(r));
  }
  json modifier = nullptr;
  if (store && code.size() == 2)
    if (auto m = store->find_modifier(code)) {
      modifier = info_json(*m);
      modifier["code"] = m->code;
    }
  const bool found = any_valid || !modifier.is_null();
  if (as_json) {
    out << json{{"query", code}, {"results", results}, {"modifier", modifier}}.dump(2, ' ', false,
                                                                                 json::error_handler_t::replace)
        << "\n";
    return found ? kExitOk : 1;
  }
  if (!modifier.is_null())
    out << modifier["code"].get<std::string>() << "  HCPCS modifier  " << modifier["description"].get<std::string>()
        << "\n";
  for (const auto& r : results) {
    out << r["code"].get<std::string>() << "  " << r["system"].get<std::string>() << "  "
        << (r["status"].is_null() ? std::string("?") : r["status"].get<std::string>());
    if (!r["info"].is_null()) out << "  " << r["info"]["description"].get<std::string>();
    out << "\n";
    for (const auto& n : r["notes"]) out << "    " << n.get<std::string>() << "\n";
  }
  if (!found && results.empty()) err << "casedesk: " << code << ": not a code of any known format\n";
  else if (!found) err << "casedesk: " << code << ": not found\n";
  return found ? kExitOk : 1;
}

int cmd_codes_list(const CodesDb& where, bool as_json, std::ostream& out, std::ostream& err) {
  auto db = resolve_db(where, err);
  if (!db) return kExitConfig;
  std::vector<queue::CodeSetImport> imports;
  std::error_code ec;
  if (std::filesystem::exists(*db, ec))
    imports = queue::CodeSetStore(queue::CodeSetStoreOptions{*db, std::chrono::milliseconds(5000), true}).imports();
  if (as_json) {
    json arr = json::array();
    for (const auto& i : imports)
      arr.push_back({{"kind", std::string(queue::to_string(i.kind))},
                     {"source", i.source_name},
                     {"sha256", i.sha256},
                     {"rows", i.row_count},
                     {"imported_at", iso_utc(i.imported_at)}});
    out << arr.dump(2) << "\n";
    return kExitOk;
  }
  for (const auto& i : imports)
    out << std::left << std::setw(9) << queue::to_string(i.kind) << std::right << std::setw(8) << i.row_count
        << " rows  " << iso_utc(i.imported_at) << "  " << i.source_name << "\n";
  if (imports.empty()) out << "no code sets loaded in " << db->string() << "\n";
  return kExitOk;
}

std::unique_ptr<parsers::CodeSetLookup> parse_code_sets(const std::optional<std::filesystem::path>& codes_db,
                                                        const std::optional<std::filesystem::path>& store_db,
                                                        bool& ok, std::ostream& err) {
  ok = true;
  try {
    if (codes_db) {
      auto lookup = queue::open_code_sets(*codes_db);
      if (!lookup) {
        err << "casedesk: " << codes_db->string() << ": no code sets loaded (see casedesk codes import)\n";
        ok = false;
      }
      return lookup;
    }
    if (store_db) return queue::open_code_sets(*store_db);
  } catch (const queue::StoreError& e) {
    err << "casedesk: " << e.what() << "\n";
    ok = false;
  }
  return nullptr;
}

}  // namespace casedesk::daemon
