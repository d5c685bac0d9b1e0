#pragma once
// The subcommands of the casedesk executable, without the command-line parsing (main.cpp).
// Each returns the process exit code and writes only to the given streams.

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace casedesk::daemon {

// --config FILE, else $CASEDESK_CONFIG, else /etc/casedesk/casedesk.toml.
std::filesystem::path resolve_config_path(const std::optional<std::string>& flag);

int cmd_check_config(const std::filesystem::path& file, std::ostream& out, std::ostream& err);
// codes_db: validate codes against these code sets (else the config's store database, when it holds any).
int cmd_parse(const std::vector<std::string>& files, bool json, const std::optional<std::filesystem::path>& config,
              std::ostream& out, std::ostream& err, const std::optional<std::filesystem::path>& codes_db = std::nullopt);
int cmd_serve(const std::filesystem::path& config, bool once, std::ostream& err);
// queue list / show and the review workflow: daemon/review_commands.hpp.

int cmd_status(const std::filesystem::path& config, bool json, std::ostream& out, std::ostream& err);
int cmd_quarantine_list(const std::filesystem::path& config, bool json, std::ostream& out, std::ostream& err);
int cmd_quarantine_retry(const std::filesystem::path& config, std::int64_t id, std::ostream& out, std::ostream& err);

}  // namespace casedesk::daemon
