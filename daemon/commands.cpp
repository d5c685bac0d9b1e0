#include "daemon/commands.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "config/config.hpp"
#include "daemon/case_json.hpp"
#include "daemon/intake.hpp"
#include "daemon/codes_commands.hpp"
#include "daemon/service.hpp"
#include "daemon/store_options.hpp"
#include "parsers/case_ref.hpp"
#include "parsers/code_validation.hpp"
#include "parsers/codes.hpp"
#include "parsers/json.hpp"
#include "parsers/message.hpp"
#include "parsers/phi.hpp"
#include "queue/store.hpp"
#include "templates/renderer.hpp"

namespace casedesk::daemon {
namespace {

using nlohmann::json;

// Loads a config or prints its problems; nullopt means "exit 78".
std::optional<config::Config> load_or_report(const std::filesystem::path& file, bool need_secrets,
                                             std::ostream& err) {
  try {
    return config::load_config(file, config::LoadOptions{need_secrets});
  } catch (const config::ConfigError& e) {
    for (const auto& issue : e.issues()) err << "casedesk: " << issue.to_string() << "\n";
    return std::nullopt;
  }
}

std::optional<std::string> read_file(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) {
    error = "cannot read " + path;
    return std::nullopt;
  }
  return buf.str();
}

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

}  // namespace

std::filesystem::path resolve_config_path(const std::optional<std::string>& flag) {
  if (flag && !flag->empty()) return *flag;
  if (const char* env = std::getenv("CASEDESK_CONFIG"); env && *env) return env;
  return "/etc/casedesk/casedesk.toml";
}

int cmd_check_config(const std::filesystem::path& file, std::ostream& out, std::ostream& err) {
  auto cfg = load_or_report(file, true, err);
  if (!cfg) return kExitConfig;
  try {
    templates::Renderer renderer(cfg->templates.dir);  // override templates must compile too
  } catch (const templates::TemplateError& e) {
    err << "casedesk: " << file.string() << ": " << e.what() << "\n";
    return kExitConfig;
  }
  out << file.string() << ": OK\n";
  return kExitOk;
}

int cmd_parse(const std::vector<std::string>& files, bool as_json, const std::optional<std::filesystem::path>& config,
              std::ostream& out, std::ostream& err, const std::optional<std::filesystem::path>& codes_db) {
  std::string prefix = "CD";
  std::optional<std::filesystem::path> store_db;
  if (config) {
    auto cfg = load_or_report(*config, false, err);
    if (!cfg) return kExitConfig;
    prefix = cfg->desk.case_prefix;
    store_db = cfg->store.path;
  }
  bool code_sets_ok = true;
  const auto code_sets = parse_code_sets(codes_db, store_db, code_sets_ok, err);  // null: no validation
  if (!code_sets_ok) return 1;
  int rc = kExitOk;
  for (const auto& file : files) {
    std::string error;
    auto raw = read_file(file, error);
    json j;
    std::vector<parsers::Code> codes;
    std::vector<std::string> code_notes;
    std::vector<std::string> unattached_modifiers;
    std::vector<std::string> phi;  // kinds only; never logged
    std::vector<parsers::Suggestion> suggestions;  // from the narrative; never mixed into `codes`
    parsers::Message message;
    if (raw) {
      message = parsers::parse_message(*raw);
      auto extraction = parsers::extract_code_info(message);
      codes = std::move(extraction.codes);
      unattached_modifiers = std::move(extraction.unattached_modifiers);
      phi = parsers::detect_phi(parsers::code_sources(message));
      if (code_sets) {
        parsers::add_pcs_by_table(codes, parsers::code_sources(message), code_sets.get());
        code_notes = parsers::validate_codes(codes, code_sets.get());
        suggestions = parsers::suggest_codes(code_sets.get(), message, codes);
      }
    } else {
      rc = 1;
    }
    j = parsers::to_json(message);
    j["file"] = file;
    j["codes"] = parsers::to_json(codes);
    j["unattached_modifiers"] = unattached_modifiers;
    j["phi"] = phi;
    j["notes"] = code_notes;
    if (code_sets) {
      json list = json::array();
      for (const auto& s : suggestions)
        list.push_back({{"code", s.code},
                        {"system", std::string(parsers::to_string(s.system))},
                        {"description", s.description},
                        {"score", s.score}});
      j["suggestions"] = std::move(list);
    }
    auto ref = message.subject ? parsers::find_case_ref(*message.subject, prefix) : std::nullopt;
    j["case_ref"] = ref ? json(*ref) : json(nullptr);
    j["error"] = raw ? json(nullptr) : json(error);
    if (as_json) {
      out << j.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
      continue;
    }
    if (!raw) {
      err << "casedesk: " << file << ": " << error << "\n";
      continue;
    }
    out << file << "\n";
    out << "  from:    " << message.from_addr.value_or("(none)") << "\n";
    out << "  subject: " << message.subject.value_or("(none)") << "\n";
    out << "  date:    " << message.date.value_or("(none)") << "\n";
    out << "  body:    " << parsers::to_string(message.body_source) << ", " << message.body_text.size() << " bytes\n";
    out << "  attachments: " << message.attachments.size() << "\n";
    out << "  codes:   " << (codes.empty() ? "(none)" : codes_text(codes)) << "\n";
    for (const auto& c : codes)
      if (c.status) out << "    " << c.code << ": " << *c.status << (c.notes.empty() ? "" : " — " + c.notes.front()) << "\n";
    for (const auto& n : code_notes) out << "  note:    " << n << "\n";
    if (ref) out << "  case:    " << *ref << "\n";
    for (const auto& w : message.warnings) out << "  warning: " << w << "\n";
  }
  return rc;
}

int cmd_serve(const std::filesystem::path& file, bool once, std::ostream& err) {
  auto cfg = load_or_report(file, true, err);
  if (!cfg) return kExitConfig;
  try {
    Service service(std::move(*cfg));
    return once ? service.run_once() : service.run();
  } catch (const templates::TemplateError& e) {
    err << "casedesk: " << file.string() << ": " << e.what() << "\n";
    return kExitConfig;
  } catch (const queue::StoreError& e) {
    spdlog::critical("{}", e.what());
    return kExitSoftware;
  } catch (const LockRefused& e) {
    err << "casedesk: " << e.what() << "\n";
    return kExitTempFail;
  }
}

int cmd_status(const std::filesystem::path& file, bool as_json, std::ostream& out, std::ostream& err) {
  auto cfg = load_or_report(file, false, err);
  if (!cfg) return kExitConfig;
  queue::Store store(store_options(*cfg));
  const auto counters = store.counters();
  const auto snap = store.snapshot();
  json j;
  j["counters"] = json::object();
  json last_intake = nullptr;
  json first_start = nullptr;
  for (const auto& c : counters) {
    if (c.name == "first_start_at") {
      first_start = iso_utc(c.value);
      continue;
    }
    j["counters"][c.name] = c.value;
    if (c.name == "intake_passes_ok") last_intake = iso_utc(c.updated_at);
  }
  j["last_successful_intake"] = last_intake;
  j["first_start"] = first_start;
  j["cases"] = json::object();
  for (const auto& [status, n] : snap.cases_by_status) j["cases"][status] = n;
  j["outbox"] = json::object();
  for (const auto& [state, n] : snap.outbox_by_state) j["outbox"][state] = n;
  j["oldest_pending_reply"] = snap.oldest_pending_reply_at ? json(iso_utc(*snap.oldest_pending_reply_at)) : json(nullptr);
  j["quarantined"] = snap.quarantined;
  j["daemons"] = json::array();
  for (const auto& [key, h] : snap.daemons)
    j["daemons"].push_back({{"mailbox", key}, {"pid", h.pid}, {"host", h.host}, {"started_at", iso_utc(h.started_at)},
                            {"heartbeat_at", iso_utc(h.heartbeat_at)}});
  if (as_json) {
    out << j.dump(2) << "\n";
    return kExitOk;
  }
  out << "last successful intake: " << (last_intake.is_null() ? "never" : last_intake.get<std::string>()) << "\n";
  for (const auto& d : j["daemons"])
    out << "daemon: pid " << d["pid"] << " on " << d["host"].get<std::string>() << ", heartbeat "
        << d["heartbeat_at"].get<std::string>() << "\n";
  if (j["daemons"].empty()) out << "daemon: not running\n";
  out << "cases:";
  for (const auto& [k, v] : j["cases"].items()) out << " " << k << "=" << v;
  out << "\noutbox:";
  for (const auto& [k, v] : j["outbox"].items()) out << " " << k << "=" << v;
  out << "\nquarantined: " << snap.quarantined << "\ncounters:";
  for (const auto& [k, v] : j["counters"].items()) out << " " << k << "=" << v;
  out << "\n";
  return kExitOk;
}

int cmd_quarantine_list(const std::filesystem::path& file, bool as_json, std::ostream& out, std::ostream& err) {
  auto cfg = load_or_report(file, false, err);
  if (!cfg) return kExitConfig;
  queue::Store store(store_options(*cfg));
  auto records = store.list_quarantine();
  if (as_json) {
    json arr = json::array();
    for (const auto& r : records) {
      arr.push_back({{"id", r.id},
                     {"at", iso_utc(r.at)},
                     {"mailbox", r.source ? json(r.source->mailbox) : json(nullptr)},
                     {"uidvalidity", r.source ? json(r.source->uidvalidity) : json(nullptr)},
                     {"uid", r.source ? json(r.source->uid) : json(nullptr)},
                     {"reason", r.reason},
                     {"size", r.size},
                     {"case_ref", r.case_ref ? json(*r.case_ref) : json(nullptr)}});
    }
    out << arr.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return kExitOk;
  }
  out << std::left << std::setw(6) << "ID" << std::setw(21) << "AT" << std::setw(8) << "UID" << std::setw(10)
      << "SIZE" << std::setw(11) << "CASE"
      << "REASON\n";
  for (const auto& r : records) {
    out << std::left << std::setw(6) << r.id << std::setw(21) << iso_utc(r.at) << std::setw(8)
        << (r.source ? std::to_string(r.source->uid) : "-") << std::setw(10) << r.size << std::setw(11)
        << r.case_ref.value_or("-") << r.reason << "\n";
  }
  out << records.size() << " quarantined mail(s)\n";
  return kExitOk;
}

int cmd_quarantine_retry(const std::filesystem::path& file, std::int64_t id, std::ostream& out, std::ostream& err) {
  auto cfg = load_or_report(file, false, err);
  if (!cfg) return kExitConfig;
  queue::Store store(store_options(*cfg));
  auto raw = store.quarantined_raw(id);
  if (!raw) {
    err << "casedesk: no quarantined mail " << id << "\n";
    return 1;
  }
  if (raw->empty()) {  // casedesk purge removed it ([retention] raw_mail)
    err << "casedesk: quarantined mail " << id << " has no bytes left (removed by retention)\n";
    return 1;
  }
  IntakeOptions options;
  options.own_addresses = {cfg->smtp.from_addr, cfg->imap.username};
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  try {
    auto mail = prepare_incoming(std::move(*raw), std::nullopt, options);
    auto result = store.enqueue(mail, now);
    store.mark_quarantine_retried(id, result.case_id, now);
    out << "quarantine " << id << " -> case " << result.case_ref
        << (result.outcome == queue::EnqueueResult::Outcome::duplicate ? " (already a case)" : "")
        << (mail.suppress_ack_reason ? "" : "; its acknowledgement goes out with the next outbox pass") << "\n";
    return kExitOk;
  } catch (const queue::StoreError&) {
    throw;
  } catch (const std::exception& e) {
    err << "casedesk: quarantine " << id << " still fails: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace casedesk::daemon
