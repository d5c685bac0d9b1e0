#pragma once
// `casedesk backup` and `casedesk purge`, and the pieces of them the daemon reuses (its daily
// retention run, the store's file modes). Each command returns the process exit code and writes
// only to the given streams.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <string>

#include "config/config.hpp"
#include "queue/store.hpp"

namespace casedesk::daemon {

inline constexpr int kExitCantCreate = 73;  // sysexits.h EX_CANTCREAT: the backup cannot be written

// backup --config FILE DEST: a consistent copy of the store while the daemon runs. DEST is a new
// file, or an existing folder (the copy is then named casedesk-YYYYMMDDTHHMMSSZ.db in it).
// 0 ok, 73 DEST exists or cannot be written, 70 the store cannot be read, 78 config error.
int cmd_backup(const std::filesystem::path& config, const std::string& dest, std::ostream& out, std::ostream& err);

// purge --config FILE [--dry-run]: applies [retention]. 0 ok, 70 store failure, 78 config error.
int cmd_purge(const std::filesystem::path& config, bool dry_run, std::ostream& out, std::ostream& err);

// The cut-offs [retention] implies at `now` (a zero duration keeps that kind of data).
queue::Store::RetentionPolicy retention_policy(const config::RetentionConfig& retention, std::int64_t now);

// One line for logs and the CLI: what a purge removed (or would remove).
std::string describe(const queue::Store::PurgeReport& report);

// "365d", "24h", "90s", "500ms": the shortest exact form of a duration, as the config accepts it.
std::string format_duration(std::chrono::milliseconds d);

// Creates the store's folder (mode 0700) when it is missing and narrows an existing store file
// (and its -wal/-shm files) that group or others can read to 0600, logging what it changed.
void secure_store_location(const std::filesystem::path& store_path);

}  // namespace casedesk::daemon
