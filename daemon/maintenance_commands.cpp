#include "daemon/maintenance_commands.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <ostream>

#include "daemon/service.hpp"
#include "daemon/store_options.hpp"

namespace casedesk::daemon {
namespace {

namespace fs = std::filesystem;

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::optional<config::Config> load_for_store(const fs::path& file, std::ostream& err) {
  try {
    return config::load_config(file, config::LoadOptions{false});
  } catch (const config::ConfigError& e) {
    for (const auto& issue : e.issues()) err << "casedesk: " << issue.to_string() << "\n";
    return std::nullopt;
  }
}

std::string utc_stamp(std::int64_t t, const char* format) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

std::string human_bytes(std::int64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

}  // namespace

std::string format_duration(std::chrono::milliseconds d) {
  const std::int64_t ms = d.count();
  if (ms == 0) return "0";
  struct Unit {
    std::int64_t ms;
    const char* suffix;
  };
  for (const Unit u : {Unit{86400000, "d"}, Unit{3600000, "h"}, Unit{60000, "m"}, Unit{1000, "s"}})
    if (ms % u.ms == 0) return std::to_string(ms / u.ms) + u.suffix;
  return std::to_string(ms) + "ms";
}

queue::Store::RetentionPolicy retention_policy(const config::RetentionConfig& r, std::int64_t now) {
  queue::Store::RetentionPolicy p;
  const auto secs = [](config::Duration d) { return std::chrono::duration_cast<std::chrono::seconds>(d).count(); };
  if (r.raw_mail > config::Duration::zero()) p.raw_mail_before = now - secs(r.raw_mail);
  if (r.closed_cases > config::Duration::zero()) p.closed_cases_before = now - secs(r.closed_cases);
  p.raw_mail_rule = "retention raw_mail = " + format_duration(r.raw_mail);
  p.closed_cases_rule = "retention closed_cases = " + format_duration(r.closed_cases);
  return p;
}

std::string describe(const queue::Store::PurgeReport& r) {
  const char* verb = r.dry_run ? "would remove" : "removed";
  std::string s = std::string(verb) + " raw mail of " + std::to_string(r.raw_messages) + " message(s) in " +
                  std::to_string(r.raw_cases) + " case(s), " + std::to_string(r.quarantine_raw) +
                  " quarantined mail(s) and " + std::to_string(r.outbox_raw) + " sent reply(ies) (" +
                  human_bytes(r.raw_bytes) + "); " + std::to_string(r.closed_cases.size()) + " closed case(s)";
  return s;
}

int cmd_backup(const fs::path& file, const std::string& dest_arg, std::ostream& out, std::ostream& err) {
  auto cfg = load_for_store(file, err);
  if (!cfg) return kExitConfig;
  fs::path dest = dest_arg;
  std::error_code ec;
  if (fs::is_directory(dest, ec)) dest /= "casedesk-" + utc_stamp(unix_now(), "%Y%m%dT%H%M%SZ") + ".db";
  if (fs::exists(dest, ec)) {
    err << "casedesk: " << dest.string() << " exists; choose a new name\n";
    return kExitCantCreate;
  }
  const fs::path folder = dest.parent_path().empty() ? fs::path(".") : dest.parent_path();
  if (!fs::is_directory(folder, ec) || ::access(folder.c_str(), W_OK | X_OK) != 0) {
    err << "casedesk: cannot write into " << folder.string() << "\n";
    return kExitCantCreate;
  }
  if (!fs::exists(cfg->store.path, ec)) {
    err << "casedesk: no store at " << cfg->store.path.string() << "\n";
    return kExitSoftware;
  }
  const auto started = std::chrono::steady_clock::now();
  queue::Store::BackupResult r;
  try {
    r = queue::Store::backup(cfg->store.path, dest);
  } catch (const queue::StoreError& e) {
    err << "casedesk: " << e.what() << "\n";
    return kExitSoftware;
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  out << "backup: " << r.path.string() << " (" << r.cases << " case(s), schema " << r.schema_version << ", "
      << human_bytes(r.bytes) << ", " << ms.count() << " ms)\n";
  return kExitOk;
}

int cmd_purge(const fs::path& file, bool dry_run, std::ostream& out, std::ostream& err) {
  auto cfg = load_for_store(file, err);
  if (!cfg) return kExitConfig;
  const auto& r = cfg->retention;
  const std::int64_t now = unix_now();
  const auto policy = retention_policy(r, now);
  queue::Store store(store_options(*cfg));
  const auto report = store.purge(policy, now, dry_run);
  out << (dry_run ? "dry run: nothing is changed\n" : "");
  if (policy.raw_mail_before)
    out << "raw mail received before " << utc_stamp(*policy.raw_mail_before, "%Y-%m-%dT%H:%M:%SZ") << " ("
        << policy.raw_mail_rule << "): " << report.raw_messages << " message(s) in " << report.raw_cases
        << " case(s), " << report.quarantine_raw << " quarantined mail(s), " << report.outbox_raw
        << " sent reply(ies), " << human_bytes(report.raw_bytes) << "\n";
  else
    out << "raw mail: kept (" << policy.raw_mail_rule << ")\n";
  if (policy.closed_cases_before) {
    out << "closed cases closed before " << utc_stamp(*policy.closed_cases_before, "%Y-%m-%dT%H:%M:%SZ") << " ("
        << policy.closed_cases_rule << "): " << report.closed_cases.size() << "\n";
    for (const auto& ref : report.closed_cases) out << "  " << ref << "\n";
  } else {
    out << "closed cases: kept (" << policy.closed_cases_rule << ")\n";
  }
  out << describe(report) << "\n";
  return kExitOk;
}

void secure_store_location(const fs::path& store_path) {
  if (store_path.empty() || store_path == ":memory:") return;
  std::error_code ec;
  const fs::path folder = store_path.parent_path();
  if (!folder.empty() && !fs::exists(folder, ec)) {
    fs::create_directories(folder, ec);
    if (!ec) fs::permissions(folder, fs::perms::owner_all, fs::perm_options::replace, ec);
    if (ec)
      spdlog::warn("cannot create the store's folder {}: {}", folder.string(), ec.message());
    else
      spdlog::info("created the store's folder {} (mode 0700)", folder.string());
  }
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const fs::path p = store_path.string() + suffix;
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0 || (st.st_mode & 077) == 0) continue;
    if (::chmod(p.c_str(), st.st_mode & 0700) == 0)
      spdlog::warn("{} was readable by group or others (mode {:o}); now {:o}", p.string(), st.st_mode & 0777,
                   st.st_mode & 0700);
    else
      spdlog::warn("{} is readable by group or others (mode {:o}) and cannot be changed", p.string(),
                   st.st_mode & 0777);
  }
}

}  // namespace casedesk::daemon
