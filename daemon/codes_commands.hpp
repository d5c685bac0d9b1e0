#pragma once
// `casedesk codes ...`: import official code sets and look codes up; and the code-set choice of
// `parse`. Each command returns the process exit code and writes only to the given streams.

#include <filesystem>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "parsers/code_sets.hpp"

namespace casedesk::daemon {

inline constexpr int kExitDataErr = 65;  // a code-set file is malformed or not recognised

// Where the code sets live: --db FILE, else the store database of the config file.
struct CodesDb {
  std::optional<std::filesystem::path> db;
  std::optional<std::filesystem::path> config;  // used when db is unset (resolve_config_path)
};

// Imports files and folders (searched recursively). Progress on stderr when it is a terminal.
int cmd_codes_import(const CodesDb& where, const std::vector<std::string>& paths, std::ostream& out,
                     std::ostream& err);
// Looks one code up in every system whose format it fits (0 found, 1 not found).
int cmd_codes_lookup(const CodesDb& where, const std::string& code, bool json, std::ostream& out, std::ostream& err);
// Lists the active imports.
int cmd_codes_list(const CodesDb& where, bool json, std::ostream& out, std::ostream& err);

// The code sets `parse` validates against: --codes-db FILE (which must hold code sets: else an
// error is written to `err` and `ok` is false), else the store database of `config` when it holds
// any, else null (no validation).
std::unique_ptr<parsers::CodeSetLookup> parse_code_sets(const std::optional<std::filesystem::path>& codes_db,
                                                        const std::optional<std::filesystem::path>& store_db,
                                                        bool& ok, std::ostream& err);

}  // namespace casedesk::daemon
