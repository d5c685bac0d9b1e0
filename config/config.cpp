#include "config/config.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>
#include <variant>

#include <toml++/toml.h>

namespace casedesk::config {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// ConfigIssue / ConfigError

std::string ConfigIssue::to_string() const {
  if (line > 0) return file + ":" + std::to_string(line) + ": " + message;
  return file + ": " + message;
}

namespace {

std::string join_issues(const std::vector<ConfigIssue>& issues) {
  if (issues.empty()) return "invalid configuration";
  std::string text;
  for (const auto& issue : issues) {
    if (!text.empty()) text += '\n';
    text += issue.to_string();
  }
  return text;
}

}  // namespace

ConfigError::ConfigError(std::vector<ConfigIssue> issues)
    : std::runtime_error(join_issues(issues)), issues_(std::move(issues)) {}

// ---------------------------------------------------------------------------------------------
// Small text helpers

namespace {

bool has_control_chars(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

bool has_line_break(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

std::string to_lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view trim(std::string_view text) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

// Strict dotted quad: four decimal parts of 1-3 digits, each <= 255.
std::optional<std::uint32_t> parse_ipv4(std::string_view text) {
  std::uint32_t address = 0;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (text.empty() || text.front() != '.') return std::nullopt;
      text.remove_prefix(1);
    }
    std::size_t digits = 0;
    unsigned value = 0;
    while (digits < text.size() && is_digit(text[digits])) {
      value = value * 10 + static_cast<unsigned>(text[digits] - '0');
      if (++digits > 3) return std::nullopt;
    }
    if (digits == 0 || value > 255) return std::nullopt;
    text.remove_prefix(digits);
    address = (address << 8) | value;
  }
  if (!text.empty()) return std::nullopt;
  return address;
}

std::optional<in6_addr> parse_ipv6(std::string_view text) {
  const std::string copy(text);
  in6_addr address{};
  if (::inet_pton(AF_INET6, copy.c_str(), &address) != 1) return std::nullopt;
  return address;
}

}  // namespace

bool is_loopback_host(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (to_lower(host) == "localhost") return true;
  if (const auto v4 = parse_ipv4(host)) return (*v4 >> 24) == 127;
  if (host.find(':') != std::string_view::npos) {
    if (const auto v6 = parse_ipv6(host)) {
      if (IN6_IS_ADDR_LOOPBACK(&*v6)) return true;
      // ::ffff:127.x.y.z reaches the IPv4 loopback network.
      if (IN6_IS_ADDR_V4MAPPED(&*v6)) return v6->s6_addr[12] == 127;
    }
  }
  return false;
}

std::optional<ListenAddress> parse_listen_address(std::string_view text) {
  std::string_view host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
    if (!parse_ipv6(host)) return std::nullopt;
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return std::nullopt;  // IPv6 needs brackets
    if (host != "localhost" && !parse_ipv4(host)) return std::nullopt;
  }
  if (host.empty() || port_text.empty() || port_text.size() > 5) return std::nullopt;
  int port = 0;
  for (char c : port_text) {
    if (c < '0' || c > '9') return std::nullopt;
    port = port * 10 + (c - '0');
  }
  if (port > 65535) return std::nullopt;
  return ListenAddress{std::string(text), std::string(host), port};
}

// ---------------------------------------------------------------------------------------------
// URL and address parsing (errors are messages without the key prefix)

namespace {

using Error = std::optional<std::string>;

bool is_reg_name(std::string_view host) {
  if (host.empty()) return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_';
  });
}

Error percent_decode(std::string_view text, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size() || !is_hex(text[i + 1]) || !is_hex(text[i + 2])) {
      return "invalid percent-encoding in the path";
    }
    out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
    i += 2;
  }
  return std::nullopt;
}

// Parses `url` for an [imap] (imap = true) or [smtp] table. Fills everything but `tls`.
Error parse_endpoint(std::string_view url, bool imap, Endpoint& out) {
  Endpoint ep;
  ep.url = std::string(url);
  const std::string_view expected = imap ? "imaps:// or imap://" : "smtps:// or smtp://";

  if (url.empty()) return "must not be empty";
  if (has_control_chars(url) || url.find(' ') != std::string_view::npos) {
    return "must not contain spaces or control characters";
  }
  const auto sep = url.find("://");
  if (sep == std::string_view::npos) return "expected a URL starting with " + std::string(expected);
  ep.scheme = to_lower(url.substr(0, sep));
  if (imap ? (ep.scheme != "imaps" && ep.scheme != "imap")
           : (ep.scheme != "smtps" && ep.scheme != "smtp")) {
    return "scheme must be " + std::string(expected) + ", not \"" + std::string(url.substr(0, sep)) +
           "://\"";
  }
  std::string_view rest = url.substr(sep + 3);
  if (rest.find('#') != std::string_view::npos) return "a fragment (#...) is not supported";
  if (rest.find('?') != std::string_view::npos) return "a query (?...) is not supported";

  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  const std::string_view raw_path = slash == std::string_view::npos ? "" : rest.substr(slash);

  if (authority.find('@') != std::string_view::npos) {
    return "credentials in the URL are not supported; use username and password_env, "
           "password_file or password";
  }

  std::string_view port_text;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return "unterminated '[' in the host";
    const auto literal = authority.substr(1, close - 1);
    if (!parse_ipv6(literal)) return "invalid IPv6 address \"" + std::string(literal) + "\"";
    ep.host = std::string(literal);
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return "unexpected characters after the IPv6 address";
      has_port = true;
      port_text = after.substr(1);
    }
  } else {
    const auto colon = authority.find(':');
    const auto host = authority.substr(0, colon);
    if (host.empty()) return "missing host";
    if (!is_reg_name(host)) return "invalid host \"" + std::string(host) + "\"";
    ep.host = std::string(host);
    if (colon != std::string_view::npos) {
      has_port = true;
      port_text = authority.substr(colon + 1);
    }
  }

  if (has_port) {
    if (port_text.empty() || port_text.size() > 5 ||
        !std::all_of(port_text.begin(), port_text.end(), is_digit)) {
      return "invalid port \"" + std::string(port_text) + "\"";
    }
    const int port = std::stoi(std::string(port_text));
    if (port < 1 || port > 65535) return "port " + std::to_string(port) + " is out of range";
    ep.port = port;
  } else if (ep.scheme == "imaps") {
    ep.port = 993;
  } else if (ep.scheme == "imap") {
    ep.port = 143;
  } else if (ep.scheme == "smtps") {
    ep.port = 465;
  } else {
    ep.port = 25;
  }

  if (imap) {
    const auto path = raw_path.empty() ? raw_path : raw_path.substr(1);
    if (path.find(';') != std::string_view::npos) {
      return "IMAP URL parameters (;UID=, ;UIDVALIDITY=, ...) are not supported; give only the "
             "mailbox";
    }
    if (auto error = percent_decode(path, ep.path)) return error;
    if (has_control_chars(ep.path)) return "the mailbox name must not contain control characters";
    if (ep.path.empty()) ep.path = "INBOX";
  } else if (!raw_path.empty() && raw_path != "/") {
    return "a path is not supported in an SMTP URL";
  }

  ep.loopback = is_loopback_host(ep.host);
  out = std::move(ep);
  return std::nullopt;
}

bool is_addr_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u >= 0x7f) return false;
  return std::string_view("<>()[],;:\"\\").find(c) == std::string_view::npos;
}

Error parse_address(std::string_view addr) {
  if (addr.empty()) return "missing the e-mail address";
  const auto at = addr.find('@');
  if (at == std::string_view::npos) {
    return "\"" + std::string(addr) + "\" is not an e-mail address (missing '@')";
  }
  if (addr.find('@', at + 1) != std::string_view::npos) {
    return "\"" + std::string(addr) + "\" contains more than one '@'";
  }
  if (!std::all_of(addr.begin(), addr.end(), is_addr_char)) {
    return "\"" + std::string(addr) + "\" contains characters not allowed in an e-mail address";
  }
  const auto local = addr.substr(0, at);
  const auto domain = addr.substr(at + 1);
  if (local.empty() || domain.empty() || domain.front() == '.' || domain.back() == '.') {
    return "\"" + std::string(addr) + "\" is not an e-mail address";
  }
  return std::nullopt;
}

// "Name <addr>", "\"Name\" <addr>", "<addr>" or "addr".
Error parse_from(std::string_view from, std::string& name, std::string& addr) {
  if (has_control_chars(from)) {
    return "must not contain line breaks or other control characters";
  }
  const auto text = trim(from);
  if (text.empty()) return "must not be empty";
  const auto open = text.find('<');
  if (open == std::string_view::npos) {
    if (text.find('>') != std::string_view::npos) return "expected \"Name <addr>\" or \"addr\"";
    if (auto error = parse_address(text)) return error;
    name.clear();
    addr = std::string(text);
    return std::nullopt;
  }
  if (text.back() != '>' || text.find('>') != text.size() - 1 ||
      text.find('<', open + 1) != std::string_view::npos) {
    return "expected \"Name <addr>\" or \"addr\"";
  }
  const auto address = text.substr(open + 1, text.size() - open - 2);
  if (auto error = parse_address(address)) return error;

  const auto display = trim(text.substr(0, open));
  std::string decoded;
  if (display.size() >= 2 && display.front() == '"' && display.back() == '"') {
    const auto inner = display.substr(1, display.size() - 2);
    for (std::size_t i = 0; i < inner.size(); ++i) {
      if (inner[i] == '\\') {
        if (i + 1 >= inner.size()) return "the quoted display name ends with a backslash";
        decoded += inner[++i];
      } else if (inner[i] == '"') {
        return "unescaped '\"' in the quoted display name";
      } else {
        decoded += inner[i];
      }
    }
  } else {
    if (display.find_first_of("\"<>,;:@()[]\\") != std::string_view::npos) {
      return "a display name containing any of \"<>,;:@()[]\\ must be in double quotes";
    }
    decoded = std::string(display);
  }
  name = std::move(decoded);
  addr = std::string(address);
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Loader state and the table-driven schema

struct SecretSource {
  std::string kind;   // "password_env", "password_file", "password", "oauth2_token_file" or "oauth2_token_command"
  std::string value;  // as written (password_file already resolved)
  int line = 0;
};

struct Loader {
  std::string file;   // for messages
  LoadOptions options;
  fs::path base_dir;  // relative paths are resolved against this
  Config cfg;
  std::vector<ConfigIssue> issues;
  std::map<std::string, int, std::less<>> seen;  // "imap.url" -> line, for keys with valid types
  std::map<std::string, std::vector<SecretSource>, std::less<>> secrets;  // "imap" -> sources

  void issue(int line, std::string message) {
    issues.push_back(ConfigIssue{file, line, std::move(message)});
  }

  fs::path resolve(std::string_view path) const {
    if (path.empty()) return {};
    fs::path p(path);
    if (p.is_relative()) p = base_dir / p;
    return p.lexically_normal();
  }
};

// Where a value came from: its dotted key ("imap.url") and line.
struct Field {
  std::string key;
  int line = 0;
};

enum class Kind { boolean, integer, string, table, array };
using Value = std::variant<bool, std::int64_t, std::string, const toml::table*, const toml::array*>;
using Apply = void (*)(Loader&, const Field&, const Value&);

struct KeySpec {
  std::string_view name;
  Kind kind;
  bool required;
  Apply apply;
};

// finish runs after all keys of the table were applied (also when the table is absent);
// table_line is the header's line, or 1 when the table is absent.
using Finish = void (*)(Loader&, int table_line);

struct TableSpec {
  std::string_view name;
  std::vector<KeySpec> keys;
  Finish finish;
};

const std::string& str(const Value& v) { return std::get<std::string>(v); }
bool boolean(const Value& v) { return std::get<bool>(v); }

// -- reusable value handlers ------------------------------------------------------------------

void set_text(Loader& l, const Field& f, const Value& v, std::string& out, bool allow_empty) {
  const auto& s = str(v);
  if (!allow_empty && s.empty()) {
    l.issue(f.line, f.key + ": must not be empty");
  } else if (has_control_chars(s)) {
    l.issue(f.line, f.key + ": must not contain line breaks or other control characters");
  } else {
    out = s;
  }
}

void set_duration(Loader& l, const Field& f, const Value& v, Duration& out) {
  const auto d = parse_duration(str(v));
  if (!d) {
    l.issue(f.line, f.key + ": invalid duration \"" + str(v) +
                        "\" (expected a whole number and a unit: 500ms, 30s, 5m, 24h, 2d)");
  } else if (d->count() <= 0) {
    l.issue(f.line, f.key + ": must be greater than zero");
  } else {
    out = *d;
  }
}

// A duration where "0" means "never" (keep forever, no limit).
void set_duration_or_zero(Loader& l, const Field& f, const Value& v, Duration& out) {
  if (str(v) == "0") {
    out = Duration::zero();
    return;
  }
  set_duration(l, f, v, out);
}

void set_listen(Loader& l, const Field& f, const Value& v, ListenAddress& out) {
  if (auto a = parse_listen_address(str(v))) {
    out = *a;
  } else {
    l.issue(f.line, f.key + ": invalid listen address \"" + str(v) +
                        "\" (expected host:port, e.g. 127.0.0.1:8080 or [::1]:8080)");
  }
}

void set_int_range(Loader& l, const Field& f, const Value& v, int& out, std::int64_t lo, std::int64_t hi) {
  const auto n = std::get<std::int64_t>(v);
  if (n < lo || n > hi) {
    l.issue(f.line, f.key + ": must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  } else {
    out = static_cast<int>(n);
  }
}

// [review] sla = { low = "72h", normal = "48h", high = "24h", urgent = "4h" } (any subset).
void set_sla(Loader& l, const Field& f, const Value& v) {
  const toml::table& table = *std::get<const toml::table*>(v);
  for (auto&& [key, node] : table) {
    int line = static_cast<int>(key.source().begin.line);
    if (line <= 0) line = f.line;
    const std::string name(key.str());
    Duration* target = name == "low"      ? &l.cfg.review.sla_low
                       : name == "normal" ? &l.cfg.review.sla_normal
                       : name == "high"   ? &l.cfg.review.sla_high
                       : name == "urgent" ? &l.cfg.review.sla_urgent
                                          : nullptr;
    const Field sub{f.key + "." + name, line};
    if (!target) {
      l.issue(line, "unknown key " + sub.key + " (expected low, normal, high, urgent)");
    } else if (const auto* text = node.as_string()) {
      set_duration(l, sub, Value(text->get()), *target);
    } else {
      l.issue(line, sub.key + ": expected a string");
    }
  }
}

void set_path(Loader& l, const Field& f, const Value& v, fs::path& out) {
  const auto& s = str(v);
  if (s.find('\0') != std::string::npos) {
    l.issue(f.line, f.key + ": must not contain NUL characters");
    return;
  }
  out = l.resolve(s);
}

void set_path_string(Loader& l, const Field& f, const Value& v, std::string& out) {
  fs::path p;
  set_path(l, f, v, p);
  out = p.string();
}

void add_secret(Loader& l, const Field& f, const Value& v, std::string_view table,
                std::string_view kind) {
  std::string value = str(v);
  if ((kind == "password_file" || kind == "oauth2_token_file") && !value.empty()) {
    value = l.resolve(value).string();
  }
  auto it = l.secrets.find(table);
  if (it == l.secrets.end()) it = l.secrets.emplace(std::string(table), std::vector<SecretSource>{}).first;
  it->second.push_back(SecretSource{std::string(kind), std::move(value), f.line});
}

std::optional<std::string> read_secret_file(const std::string& path, std::string& error) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  std::string data;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) data.append(buffer, n);
  const bool failed = std::ferror(file) != 0;
  const int saved = errno;
  std::fclose(file);
  if (failed) {
    error = std::strerror(saved);
    return std::nullopt;
  }
  return data;
}

// Resolves the table's single password source into `out`. Reports none/several at the right line.
// An oauth2_token_file / oauth2_token_command is only checked and stored here, never read or run:
// tokens expire, so the daemon fetches them each time it logs in.
void resolve_secret(Loader& l, std::string_view table, int table_line, bool needed,
                    std::string& out, std::string& token_file, std::string& token_command) {
  const auto it = l.secrets.find(table);
  const std::vector<SecretSource> none;
  const auto& sources = it == l.secrets.end() ? none : it->second;
  const std::string t(table);

  if (!needed) {
    for (const auto& s : sources) {
      l.issue(s.line, t + "." + s.kind + ": set but " + t +
                          ".username is empty (set a username or remove the password)");
    }
    return;
  }
  if (sources.empty()) {
    l.issue(table_line, t + ": one of password_env, password_file, password is required");
    return;
  }
  if (sources.size() > 1) {
    const auto last = std::max_element(sources.begin(), sources.end(),
                                       [](const auto& a, const auto& b) { return a.line < b.line; });
    const bool oauth2 = std::any_of(sources.begin(), sources.end(),
                                    [](const auto& s) { return s.kind.rfind("oauth2_", 0) == 0; });
    l.issue(last->line, t + (oauth2 ? ": only one of password_env, password_file, password, "
                                      "oauth2_token_file, oauth2_token_command may be set"
                                    : ": only one of password_env, password_file, password may be set"));
    return;
  }

  const auto& s = sources.front();
  const std::string key = t + "." + s.kind;
  if (s.kind == "oauth2_token_file" || s.kind == "oauth2_token_command") {
    if (s.value.empty()) {
      l.issue(s.line, key + ": must not be empty");
    } else if (s.value.find('\0') != std::string::npos ||
               (s.kind == "oauth2_token_command" && has_line_break(s.value))) {
      l.issue(s.line, key + ": must not contain line breaks or NUL characters");
    } else if (s.kind == "oauth2_token_file") {
      token_file = s.value;
    } else {
      token_command = s.value;
    }
    return;
  }
  if (!l.options.resolve_secrets) return;
  std::string secret;
  if (s.kind == "password_env") {
    if (s.value.empty() || s.value.find('=') != std::string::npos ||
        s.value.find('\0') != std::string::npos) {
      l.issue(s.line, key + ": invalid environment variable name \"" + s.value + "\"");
      return;
    }
    const char* env = std::getenv(s.value.c_str());
    if (!env || !*env) {
      l.issue(s.line, key + ": environment variable " + s.value + " is not set");
      return;
    }
    secret = env;
  } else if (s.kind == "password_file") {
    if (s.value.empty()) {
      l.issue(s.line, key + ": must not be empty");
      return;
    }
    std::string error;
    auto data = read_secret_file(s.value, error);
    if (!data) {
      l.issue(s.line, key + ": cannot read " + s.value + ": " + error);
      return;
    }
    if (!data->empty() && data->back() == '\n') {
      data->pop_back();
      if (!data->empty() && data->back() == '\r') data->pop_back();
    }
    if (data->empty()) {
      l.issue(s.line, key + ": " + s.value + " is empty");
      return;
    }
    secret = std::move(*data);
  } else {
    secret = s.value;
    if (secret.empty()) {
      l.issue(s.line, key + ": must not be empty");
      return;
    }
  }
  if (has_line_break(secret)) {
    l.issue(s.line, key + ": the password must not contain line breaks or NUL characters");
    return;
  }
  out = std::move(secret);
}

void set_endpoint(Loader& l, const Field& f, const Value& v, bool imap, Endpoint& out) {
  if (auto error = parse_endpoint(str(v), imap, out)) l.issue(f.line, f.key + ": " + *error);
}

void finish_tls(Endpoint& ep, bool allow_insecure) {
  if (ep.scheme.empty()) return;  // url missing or invalid; already reported
  if (ep.scheme == "imaps" || ep.scheme == "smtps") {
    ep.tls = TlsMode::implicit;
  } else if (ep.loopback || allow_insecure) {
    ep.tls = TlsMode::starttls_optional;
  } else {
    ep.tls = TlsMode::starttls_required;
  }
}

// [web] trusted_proxies = ["10.0.0.5", "::1"]: IP addresses only (no names, no ranges).
void set_trusted_proxies(Loader& l, const Field& f, const Value& v) {
  const toml::array& array = *std::get<const toml::array*>(v);
  l.cfg.web.trusted_proxies.clear();
  for (const auto& node : array) {
    int line = static_cast<int>(node.source().begin.line);
    if (line <= 0) line = f.line;
    const auto* text = node.as_string();
    if (!text) {
      l.issue(line, f.key + ": expected an array of IP addresses (strings)");
      continue;
    }
    const std::string& a = text->get();
    unsigned char buf[sizeof(in6_addr)];
    if (::inet_pton(AF_INET, a.c_str(), buf) != 1 && ::inet_pton(AF_INET6, a.c_str(), buf) != 1) {
      l.issue(line, f.key + ": \"" + a + "\" is not an IP address");
      continue;
    }
    l.cfg.web.trusted_proxies.push_back(a);
  }
}

int seen_line(const Loader& l, std::string_view key, int fallback) {
  const auto it = l.seen.find(key);
  return it == l.seen.end() ? fallback : it->second;
}

// A web UI on a non-loopback address sends passwords and session cookies over the network: it
// needs a TLS proxy in front (tls_proxy) or an explicit allow_insecure.
void finish_web(Loader& l, int table_line) {
  const auto& w = l.cfg.web;
  if (w.max_connections_per_client > w.max_connections)
    l.issue(seen_line(l, "web.max_connections_per_client", table_line),
            "web.max_connections_per_client: must not exceed web.max_connections (" +
                std::to_string(w.max_connections) + ")");
  if (!w.enabled || is_loopback_host(w.listen.host) || w.tls_proxy || w.allow_insecure) return;
  l.issue(seen_line(l, "web.listen", table_line),
          "web.listen: \"" + w.listen.text +
              "\" is not a loopback address; put a TLS proxy in front and set web.tls_proxy = true "
              "(Secure cookies), or set web.allow_insecure = true to serve plain HTTP knowingly");
}

// /metrics on a non-loopback address needs a Bearer token (token_file).
void finish_metrics(Loader& l, int table_line) {
  auto& m = l.cfg.metrics;
  const int file_line = seen_line(l, "metrics.token_file", table_line);
  if (!m.token_file.empty() && l.options.resolve_secrets) {
    std::string error;
    auto data = read_secret_file(m.token_file, error);
    if (!data) {
      l.issue(file_line, "metrics.token_file: cannot read " + m.token_file + ": " + error);
    } else {
      while (!data->empty() && (data->back() == '\n' || data->back() == '\r')) data->pop_back();
      if (data->empty()) {
        l.issue(file_line, "metrics.token_file: " + m.token_file + " is empty");
      } else if (has_control_chars(*data) || data->find(' ') != std::string::npos) {
        l.issue(file_line, "metrics.token_file: the token must be one line without spaces");
      } else {
        m.token = std::move(*data);
      }
    }
  }
  if (!m.enabled || is_loopback_host(m.listen.host) || !m.token_file.empty()) return;
  l.issue(seen_line(l, "metrics.listen", table_line),
          "metrics.listen: \"" + m.listen.text +
              "\" is not a loopback address; set metrics.token_file (a Bearer token scrapers must send)");
}

// -- the schema ---------------------------------------------------------------------------------
// To add a key: append a KeySpec to its table (and a field to the struct in config.hpp).
// To add a table: append a TableSpec. Cross-key checks go into the table's finish function.

const std::vector<TableSpec>& schema() {
  static const std::vector<TableSpec> tables = {
      {"imap",
       {
           {"url", Kind::string, true,
            [](Loader& l, const Field& f, const Value& v) {
              set_endpoint(l, f, v, true, l.cfg.imap.endpoint);
            }},
           {"username", Kind::string, true,
            [](Loader& l, const Field& f, const Value& v) {
              set_text(l, f, v, l.cfg.imap.username, false);
            }},
           {"password_env", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) {
              add_secret(l, f, v, "imap", "password_env");
            }},
           {"password_file", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) {
              add_secret(l, f, v, "imap", "password_file");
            }},
           {"password", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) {
              add_secret(l, f, v, "imap", "password");
            }},
           {"oauth2_token_file", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) {
              add_secret(l, f, v, "imap", "oauth2_token_file");
            }},
           {"oauth2_token_command", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) {
              add_secret(l, f, v, "imap", "oauth2_token_command");
            }},
           {"ca_file", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) {
              set_path_string(l, f, v, l.cfg.imap.ca_file);
            }},
           {"allow_insecure", Kind::boolean, false,
            [](Loader& l, const Field&, const Value& v) {
              l.cfg.imap.allow_insecure = boolean(v);
            }},
           {"processed_folder", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) {
              set_text(l, f, v, l.cfg.imap.processed_folder, false);
            }},
           {"failed_folder", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) {
              set_text(l, f, v, l.cfg.imap.failed_folder, false);
            }},
           {"poll_interval", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) {
              set_duration(l, f, v, l.cfg.imap.poll_interval);
            }},
           {"timeout", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) {
              set_duration(l, f, v, l.cfg.imap.timeout);
            }},
           {"idle", Kind::boolean, false,
            [](Loader& l, const Field&, const Value& v) { l.cfg.imap.idle = boolean(v); }},
       },
       [](Loader& l, int table_line) {
         resolve_secret(l, "imap", table_line, true, l.cfg.imap.password, l.cfg.imap.oauth2_token_file,
                        l.cfg.imap.oauth2_token_command);
         finish_tls(l.cfg.imap.endpoint, l.cfg.imap.allow_insecure);
       }},
      {"smtp",
       {
           {"url", Kind::string, true,
            [](Loader& l, const Field& f, const Value& v) {
              set_endpoint(l, f, v, false, l.cfg.smtp.endpoint);
            }},
           {"username", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) {
              set_text(l, f, v, l.cfg.smtp.username, true);
            }},
           {"password_env", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) {
              add_secret(l, f, v, "smtp", "password_env");
            }},
           {"password_file", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) {
              add_secret(l, f, v, "smtp", "password_file");
            }},
           {"password", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) {
              add_secret(l, f, v, "smtp", "password");
            }},
           {"oauth2_token_file", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) {
              add_secret(l, f, v, "smtp", "oauth2_token_file");
            }},
           {"oauth2_token_command", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) {
              add_secret(l, f, v, "smtp", "oauth2_token_command");
            }},
           {"ca_file", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) {
              set_path_string(l, f, v, l.cfg.smtp.ca_file);
            }},
           {"allow_insecure", Kind::boolean, false,
            [](Loader& l, const Field&, const Value& v) {
              l.cfg.smtp.allow_insecure = boolean(v);
            }},
           {"from", Kind::string, true,
            [](Loader& l, const Field& f, const Value& v) {
              auto& smtp = l.cfg.smtp;
              if (auto error = parse_from(str(v), smtp.from_name, smtp.from_addr)) {
                l.issue(f.line, f.key + ": " + *error);
              } else {
                smtp.from = str(v);
              }
            }},
           {"timeout", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) {
              set_duration(l, f, v, l.cfg.smtp.timeout);
            }},
       },
       [](Loader& l, int table_line) {
         resolve_secret(l, "smtp", table_line, !l.cfg.smtp.username.empty(), l.cfg.smtp.password,
                        l.cfg.smtp.oauth2_token_file, l.cfg.smtp.oauth2_token_command);
         finish_tls(l.cfg.smtp.endpoint, l.cfg.smtp.allow_insecure);
       }},
      {"store",
       {
           {"path", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) {
              if (str(v).empty()) {
                l.issue(f.line, f.key + ": must not be empty");
              } else {
                set_path(l, f, v, l.cfg.store.path);
              }
            }},
       },
       nullptr},
      {"templates",
       {
           {"dir", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) {
              set_path(l, f, v, l.cfg.templates.dir);
            }},
       },
       nullptr},
      {"limits",
       {
           {"max_message_size", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) {
              const auto n = parse_size(str(v));
              if (!n || *n == 0) {
                l.issue(f.line, f.key + ": invalid size \"" + str(v) +
                                    "\" (expected a whole number and a unit: 512KB, 25MB, 1GB)");
              } else {
                l.cfg.limits.max_message_size = *n;
              }
            }},
           {"auto_replies_per_sender", Kind::integer, false,
            [](Loader& l, const Field& f, const Value& v) {
              const auto n = std::get<std::int64_t>(v);
              if (n < 0 || n > 1000000) {
                l.issue(f.line, f.key + ": must be between 0 and 1000000");
              } else {
                l.cfg.limits.auto_replies_per_sender = static_cast<int>(n);
              }
            }},
           {"auto_reply_window", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) {
              set_duration(l, f, v, l.cfg.limits.auto_reply_window);
            }},
       },
       nullptr},
      {"intake",
       {
           {"ack_window", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) {
              set_duration(l, f, v, l.cfg.intake.ack_window);
            }},
       },
       nullptr},
      {"outbox",
       {
           {"retry_for", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) {
              set_duration(l, f, v, l.cfg.outbox.retry_for);
            }},
       },
       nullptr},
      {"review",
       {
           {"claim_lease", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) { set_duration(l, f, v, l.cfg.review.claim_lease); }},
           {"auto_close", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) { set_duration_or_zero(l, f, v, l.cfg.review.auto_close); }},
           {"sla", Kind::table, false, [](Loader& l, const Field& f, const Value& v) { set_sla(l, f, v); }},
       },
       nullptr},
      {"submitters",
       {
           {"unknown", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) {
              if (str(v) == "reject") {
                l.cfg.submitters.reject_unknown = true;
              } else if (str(v) == "accept_as_guest") {
                l.cfg.submitters.reject_unknown = false;
              } else {
                l.issue(f.line, f.key + ": \"" + str(v) + "\" must be \"accept_as_guest\" or \"reject\"");
              }
            }},
           {"guest_quota", Kind::integer, false,
            [](Loader& l, const Field& f, const Value& v) {
              set_int_range(l, f, v, l.cfg.submitters.guest_quota, 0, 1000000);
            }},
       },
       nullptr},
      {"notify",
       {
           {"consultants", Kind::boolean, false,
            [](Loader& l, const Field&, const Value& v) { l.cfg.notify.consultants = boolean(v); }},
           {"digest_every", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) { set_duration(l, f, v, l.cfg.notify.digest_every); }},
       },
       nullptr},
      {"web",
       {
           {"enabled", Kind::boolean, false,
            [](Loader& l, const Field&, const Value& v) { l.cfg.web.enabled = boolean(v); }},
           {"listen", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) { set_listen(l, f, v, l.cfg.web.listen); }},
           {"session_timeout", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) { set_duration(l, f, v, l.cfg.web.session_timeout); }},
           {"max_connections", Kind::integer, false,
            [](Loader& l, const Field& f, const Value& v) {
              set_int_range(l, f, v, l.cfg.web.max_connections, 1, 100000);
            }},
           {"max_connections_per_client", Kind::integer, false,
            [](Loader& l, const Field& f, const Value& v) {
              set_int_range(l, f, v, l.cfg.web.max_connections_per_client, 1, 100000);
            }},
           {"header_timeout", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) { set_duration(l, f, v, l.cfg.web.header_timeout); }},
           {"body_timeout", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) { set_duration(l, f, v, l.cfg.web.body_timeout); }},
           {"trusted_proxies", Kind::array, false, set_trusted_proxies},
           {"tls_proxy", Kind::boolean, false,
            [](Loader& l, const Field&, const Value& v) { l.cfg.web.tls_proxy = boolean(v); }},
           {"allow_insecure", Kind::boolean, false,
            [](Loader& l, const Field&, const Value& v) { l.cfg.web.allow_insecure = boolean(v); }},
       },
       finish_web},
      {"metrics",
       {
           {"enabled", Kind::boolean, false,
            [](Loader& l, const Field&, const Value& v) { l.cfg.metrics.enabled = boolean(v); }},
           {"listen", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) { set_listen(l, f, v, l.cfg.metrics.listen); }},
           {"token_file", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) {
              set_path_string(l, f, v, l.cfg.metrics.token_file);
              if (str(v).empty()) l.issue(f.line, f.key + ": must not be empty");
            }},
       },
       finish_metrics},
      {"retention",
       {
           {"raw_mail", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) { set_duration_or_zero(l, f, v, l.cfg.retention.raw_mail); }},
           {"closed_cases", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) {
              set_duration_or_zero(l, f, v, l.cfg.retention.closed_cases);
            }},
       },
       nullptr},
      {"desk",
       {
           {"name", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) {
              set_text(l, f, v, l.cfg.desk.name, false);
            }},
           {"case_prefix", Kind::string, false,
            [](Loader& l, const Field& f, const Value& v) {
              const auto& s = str(v);
              const bool ok = !s.empty() && s.size() <= 10 && s.front() >= 'A' &&
                              s.front() <= 'Z' &&
                              std::all_of(s.begin(), s.end(), [](char c) {
                                return (c >= 'A' && c <= 'Z') || is_digit(c);
                              });
              if (!ok) {
                l.issue(f.line, f.key + ": \"" + s +
                                    "\" must be 1-10 characters A-Z or 0-9, starting with a letter");
              } else {
                l.cfg.desk.case_prefix = s;
              }
            }},
       },
       nullptr},
  };
  return tables;
}

// -- walking the document -----------------------------------------------------------------------

int line_of(const toml::source_region& region) { return static_cast<int>(region.begin.line); }

int key_line(const toml::key& key, const toml::node& node) {
  const int line = line_of(key.source());
  return line > 0 ? line : line_of(node.source());
}

std::string_view kind_name(Kind kind) {
  switch (kind) {
    case Kind::boolean: return "a boolean";
    case Kind::integer: return "an integer";
    case Kind::string: return "a string";
    case Kind::table: return "a table";
    case Kind::array: return "an array";
  }
  return "a value";
}

std::optional<Value> typed_value(const toml::node& node, Kind kind) {
  switch (kind) {
    case Kind::boolean:
      if (const auto* b = node.as_boolean()) return Value(b->get());
      break;
    case Kind::integer:
      if (const auto* i = node.as_integer()) return Value(i->get());
      break;
    case Kind::string:
      if (const auto* s = node.as_string()) return Value(s->get());
      break;
    case Kind::table:
      if (const auto* t = node.as_table()) return Value(t);
      break;
    case Kind::array:
      if (const auto* a = node.as_array()) return Value(a);
      break;
  }
  return std::nullopt;
}

void load_table(Loader& l, const TableSpec& spec, const toml::table& table) {
  const std::string prefix = std::string(spec.name) + ".";
  for (auto&& [key, node] : table) {
    const std::string full = prefix + std::string(key.str());
    const int line = key_line(key, node);
    const auto it = std::find_if(spec.keys.begin(), spec.keys.end(),
                                 [&](const KeySpec& k) { return k.name == key.str(); });
    if (it == spec.keys.end()) {
      l.issue(line, "unknown key " + full);
      continue;
    }
    const auto value = typed_value(node, it->kind);
    if (!value) {
      l.issue(line, full + ": expected " + std::string(kind_name(it->kind)));
      continue;
    }
    l.seen.emplace(full, line);
    it->apply(l, Field{full, line}, *value);
  }
}

Config load_document(const toml::table& root, Loader& l) {
  const auto& tables = schema();

  std::map<std::string_view, std::pair<const toml::table*, int>> present;
  for (auto&& [key, node] : root) {
    const int line = key_line(key, node);
    const auto spec = std::find_if(tables.begin(), tables.end(),
                                   [&](const TableSpec& t) { return t.name == key.str(); });
    if (spec == tables.end()) {
      l.issue(line, std::string(node.is_table() ? "unknown table " : "unknown key ") +
                        std::string(key.str()));
      continue;
    }
    const auto* table = node.as_table();
    if (!table) {
      l.issue(line, std::string(key.str()) + ": expected a table");
      continue;
    }
    present[spec->name] = {table, line_of(table->source()) > 0 ? line_of(table->source()) : line};
  }

  for (const auto& spec : tables) {
    const auto it = present.find(spec.name);
    int table_line = 1;
    if (it != present.end()) {
      table_line = it->second.second;
      load_table(l, spec, *it->second.first);
    }
    for (const auto& key : spec.keys) {
      const std::string full = std::string(spec.name) + "." + std::string(key.name);
      if (key.required && !l.seen.contains(full)) {
        l.issue(table_line, "missing required key " + full);
      }
    }
    if (spec.finish) spec.finish(l, table_line);
  }
  return l.cfg;
}

[[noreturn]] void fail(std::vector<ConfigIssue> issues) {
  std::stable_sort(issues.begin(), issues.end(),
                   [](const ConfigIssue& a, const ConfigIssue& b) { return a.line < b.line; });
  throw ConfigError(std::move(issues));
}

}  // namespace

Config load_config_from_string(std::string_view toml_text, const fs::path& source, LoadOptions options) {
  Loader l;
  l.options = options;
  l.file = source.string();
  std::error_code ec;
  const auto absolute = source.empty() ? fs::current_path(ec) / "casedesk.toml"
                                       : fs::absolute(source, ec);
  l.base_dir = absolute.lexically_normal().parent_path();
  l.cfg.source = absolute.lexically_normal();
  l.cfg.store.path = l.resolve("casedesk.db");

  toml::table root;
  try {
    root = toml::parse(toml_text, std::string_view(l.file));
  } catch (const toml::parse_error& e) {
    l.issue(line_of(e.source()), std::string(e.description()));
    fail(std::move(l.issues));
  }

  Config cfg = load_document(root, l);
  if (!l.issues.empty()) fail(std::move(l.issues));
  return cfg;
}

Config load_config(const fs::path& file, LoadOptions options) {
  const std::string name = file.string();
  std::error_code ec;
  if (fs::is_directory(file, ec)) {
    throw ConfigError({ConfigIssue{name, 0, "cannot read config file: it is a directory"}});
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    const int saved = errno;
    throw ConfigError({ConfigIssue{
        name, 0, std::string("cannot read config file: ") + (saved ? std::strerror(saved) : "open failed")}});
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    throw ConfigError({ConfigIssue{name, 0, "cannot read config file: read error"}});
  }
  return load_config_from_string(text.str(), file, options);
}

}  // namespace casedesk::config
