#include "daemon/commands.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "config/config.hpp"
#include "daemon/case_json.hpp"
#include "daemon/service.hpp"
#include "parsers/case_ref.hpp"
#include "parsers/codes.hpp"
#include "parsers/json.hpp"
#include "parsers/message.hpp"
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
    for (const auto& issue : e.issues()) err << issue.to_string() << "\n";
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
    err << file.string() << ": " << e.what() << "\n";
    return kExitConfig;
  }
  out << file.string() << ": OK\n";
  return kExitOk;
}

int cmd_parse(const std::vector<std::string>& files, bool as_json, const std::optional<std::filesystem::path>& config,
              std::ostream& out, std::ostream& err) {
  std::string prefix = "CD";
  if (config) {
    auto cfg = load_or_report(*config, false, err);
    if (!cfg) return kExitConfig;
    prefix = cfg->desk.case_prefix;
  }
  int rc = kExitOk;
  for (const auto& file : files) {
    std::string error;
    auto raw = read_file(file, error);
    json j;
    std::vector<parsers::Code> codes;
    parsers::Message message;
    if (raw) {
      message = parsers::parse_message(*raw);
      codes = parsers::extract_codes(message);
    } else {
      rc = 1;
    }
    j = parsers::to_json(message);
    j["file"] = file;
    j["codes"] = parsers::to_json(codes);
    auto ref = message.subject ? parsers::find_case_ref(*message.subject, prefix) : std::nullopt;
    j["case_ref"] = ref ? json(*ref) : json(nullptr);
    j["error"] = raw ? json(nullptr) : json(error);
    if (as_json) {
      out << j.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
      continue;
    }
    if (!raw) {
      err << file << ": " << error << "\n";
      continue;
    }
    out << file << "\n";
    out << "  from:    " << message.from_addr.value_or("(none)") << "\n";
    out << "  subject: " << message.subject.value_or("(none)") << "\n";
    out << "  date:    " << message.date.value_or("(none)") << "\n";
    out << "  body:    " << parsers::to_string(message.body_source) << ", " << message.body_text.size() << " bytes\n";
    out << "  attachments: " << message.attachments.size() << "\n";
    out << "  codes:   " << (codes.empty() ? "(none)" : codes_text(codes)) << "\n";
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
    err << file.string() << ": " << e.what() << "\n";
    return kExitConfig;
  } catch (const queue::StoreError& e) {
    spdlog::critical("{}", e.what());
    return kExitSoftware;
  }
}

int cmd_queue_list(const std::filesystem::path& file, bool as_json, std::ostream& out, std::ostream& err) {
  auto cfg = load_or_report(file, false, err);
  if (!cfg) return kExitConfig;
  queue::Store store(queue::StoreOptions{cfg->store.path, cfg->desk.case_prefix});
  auto cases = store.list_cases();
  if (as_json) {
    json arr = json::array();
    for (const auto& c : cases) arr.push_back(case_summary_json(c));
    out << arr.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return kExitOk;
  }
  out << std::left << std::setw(11) << "REF" << std::setw(10) << "STATUS" << std::setw(11) << "ACK" << std::setw(21)
      << "CREATED" << std::setw(28) << "CODES"
      << "SUBJECT\n";
  for (const auto& c : cases) {
    std::string codes = codes_text(c.codes);
    if (codes.size() > 26) codes = codes.substr(0, 23) + "...";
    out << std::left << std::setw(11) << c.ref << std::setw(10) << c.status << std::setw(11)
        << queue::to_string(c.ack_state) << std::setw(21) << iso_utc(c.created_at) << std::setw(28) << codes
        << c.subject << "\n";
  }
  out << cases.size() << " case(s)\n";
  return kExitOk;
}

int cmd_queue_show(const std::filesystem::path& file, const std::string& ref, bool as_json, std::ostream& out,
                   std::ostream& err) {
  auto cfg = load_or_report(file, false, err);
  if (!cfg) return kExitConfig;
  queue::Store store(queue::StoreOptions{cfg->store.path, cfg->desk.case_prefix});
  auto c = store.get_case(ref);
  if (!c) {
    err << "no case " << ref << "\n";
    return 1;
  }
  if (as_json) {
    out << case_detail_json(*c).dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return kExitOk;
  }
  const auto& s = c->summary;
  out << s.ref << "  " << s.status << "  ack " << queue::to_string(s.ack_state);
  if (s.ack_reason) out << " (" << *s.ack_reason << ")";
  out << "\n";
  out << "Subject:   " << s.subject << "\n";
  out << "Submitter: " << s.submitter_name << (s.submitter_name.empty() ? "" : " ") << "<" << s.submitter_addr
      << ">\n";
  out << "Created:   " << iso_utc(s.created_at) << "\n";
  out << "Codes:\n";
  for (const auto& code : s.codes) {
    out << "  " << std::left << std::setw(10) << code.code << std::setw(11) << parsers::to_string(code.system);
    if (!code.modifiers.empty()) {
      out << "mod";
      for (const auto& m : code.modifiers) out << " " << m;
    }
    if (code.units) out << "  units " << *code.units;
    if (code.range_end) out << "  through " << *code.range_end;
    out << "\n";
  }
  for (const auto& m : c->messages) {
    out << "\n--- " << (m.direction == "in" ? "received " : "sent ") << iso_utc(m.received_at) << " "
        << m.message_id.value_or("") << "\n";
    out << m.body_text << "\n";
  }
  out << "\nEvents:\n";
  for (const auto& e : c->events) {
    out << "  " << iso_utc(e.at) << "  " << e.actor << "  " << e.kind;
    if (e.to_state) out << " -> " << *e.to_state;
    if (!e.note.empty()) out << "  (" << e.note << ")";
    out << "\n";
  }
  return kExitOk;
}

}  // namespace casedesk::daemon
