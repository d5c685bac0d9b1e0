#pragma once
// casedesk configuration: one TOML file (+ secrets from the environment or files) -> plain structs.
// Leaf module: depends on nothing else in casedesk. Only main.cpp calls load_config().

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace casedesk::config {

using Duration = std::chrono::milliseconds;

// How a connection is secured, derived from the URL scheme, the host and allow_insecure.
enum class TlsMode {
  implicit,           // imaps:// or smtps://: TLS from the first byte
  starttls_required,  // imap:// or smtp:// to a non-loopback host: STARTTLS or fail
  starttls_optional,  // imap:// or smtp:// to loopback, or allow_insecure = true: STARTTLS if offered
};

struct Endpoint {
  std::string url;     // as written in the file
  std::string scheme;  // "imaps", "imap", "smtps", "smtp"
  std::string host;    // without brackets for IPv6
  int port = 0;        // explicit or the scheme's default
  std::string path;    // percent-decoded path without the leading '/' ("INBOX"); empty for SMTP
  TlsMode tls = TlsMode::implicit;
  bool loopback = false;  // host is 127.0.0.0/8, ::1 or "localhost"
};

struct ImapConfig {
  Endpoint endpoint;             // from `url`; endpoint.path is the intake mailbox (default INBOX)
  std::string username;
  std::string password;          // resolved from password_env | password_file | password
  // XOAUTH2 instead of a password (at most one of these and no password source). Not read at
  // load time: tokens expire, so the daemon reads them each time it logs in.
  std::string oauth2_token_file;     // absolute (relative paths resolved against the config folder)
  std::string oauth2_token_command;  // run with /bin/sh -c; its stdout, trimmed, is the token
  std::string ca_file;           // absolute or empty (system CAs)
  bool allow_insecure = false;
  std::string processed_folder = "Processed";
  std::string failed_folder = "Failed";
  Duration poll_interval = std::chrono::seconds(30);
  Duration timeout = std::chrono::seconds(60);  // deadline for each IMAP command
  bool idle = true;              // wait in IMAP IDLE when the server offers it, else poll
};

struct SmtpConfig {
  Endpoint endpoint;
  std::string username;  // optional; empty = no AUTH
  std::string password;
  std::string oauth2_token_file;     // as in ImapConfig
  std::string oauth2_token_command;
  std::string ca_file;
  bool allow_insecure = false;
  std::string from;          // "Coding Desk <desk@example.test>" as written
  std::string from_addr;     // "desk@example.test"
  std::string from_name;     // "Coding Desk"
  Duration timeout = std::chrono::seconds(60);
};

struct StoreConfig {
  std::filesystem::path path;  // absolute (relative paths resolved against the config folder)
};

struct TemplatesConfig {
  std::filesystem::path dir;  // absolute or empty
};

struct DeskConfig {
  std::string name = "Coding Desk";
  std::string case_prefix = "CD";
};

struct LimitsConfig {
  std::uint64_t max_message_size = 25ull * 1024 * 1024;  // larger mail is quarantined unparsed
  int auto_replies_per_sender = 20;                      // automatic replies to one address per window
  Duration auto_reply_window = std::chrono::hours(1);    // the window of that cap
};

struct IntakeConfig {
  // Mail that reached the server longer than this before the daemon's first start is imported
  // without an acknowledgement.
  Duration ack_window = std::chrono::hours(24);
};

struct OutboxConfig {
  Duration retry_for = std::chrono::hours(48);  // temporary SMTP failures are retried this long
};

// The consultants' review workflow.
struct ReviewConfig {
  Duration claim_lease = std::chrono::hours(4);      // a claim lapses back to `new` after this
  Duration auto_close = std::chrono::hours(24 * 14);  // `answered` without a follow-up -> `closed`
  // Time to answer by priority: due_at = received + sla[priority].
  Duration sla_low = std::chrono::hours(72);
  Duration sla_normal = std::chrono::hours(48);
  Duration sla_high = std::chrono::hours(24);
  Duration sla_urgent = std::chrono::hours(4);
};

struct SubmittersConfig {
  bool reject_unknown = false;  // unknown = "reject" (true) | "accept_as_guest" (false)
  int guest_quota = 0;          // cases per calendar month (UTC) for guests; 0 = unlimited
};

struct NotifyConfig {
  bool consultants = false;                    // mail consultants a digest of new and overdue cases
  Duration digest_every = std::chrono::hours(1);
};

// A host:port to listen on (loopback by default).
struct ListenAddress {
  std::string text;  // as written
  std::string host;  // without brackets for IPv6
  int port = 0;      // 0 = any free port
};

struct WebConfig {
  bool enabled = true;
  ListenAddress listen{"127.0.0.1:8080", "127.0.0.1", 8080};
  Duration session_timeout = std::chrono::hours(12);  // idle web sessions end after this
  int max_connections = 512;            // open connections in all
  int max_connections_per_client = 32;  // per client address (the forwarded one behind trusted_proxies)
  Duration header_timeout = std::chrono::seconds(10);  // a request's head must arrive within this
  Duration body_timeout = std::chrono::seconds(30);    // and its body within this after the head
  std::vector<std::string> trusted_proxies;  // IP addresses whose X-Forwarded-For (and -Proto) count
  bool tls_proxy = false;       // behind a TLS-terminating proxy: Secure cookies, X-Forwarded-Proto
  bool allow_insecure = false;  // a non-loopback listen without tls_proxy, knowingly over plain HTTP
};

struct MetricsConfig {
  bool enabled = true;
  ListenAddress listen{"127.0.0.1:9464", "127.0.0.1", 9464};
  std::string token_file;  // absolute or empty; needed on a non-loopback listen
  std::string token;       // its content (Bearer token for /metrics), read when secrets are resolved
};

struct RetentionConfig {
  Duration raw_mail = std::chrono::hours(24 * 365);  // raw bytes of older messages are removed; 0 = keep
  Duration closed_cases = Duration::zero();          // closed cases older than this are removed; 0 = keep
};

struct Config {
  std::filesystem::path source;  // the file it was read from
  ImapConfig imap;
  SmtpConfig smtp;
  StoreConfig store;
  TemplatesConfig templates;
  DeskConfig desk;
  LimitsConfig limits;
  IntakeConfig intake;
  OutboxConfig outbox;
  ReviewConfig review;
  SubmittersConfig submitters;
  NotifyConfig notify;
  WebConfig web;
  MetricsConfig metrics;
  RetentionConfig retention;
};

// One problem found in a config file. line is 1-based; 0 when no line applies.
struct ConfigIssue {
  std::string file;
  int line = 0;
  std::string message;
  std::string to_string() const;  // "file:line: message"
};

class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<ConfigIssue> issues);
  const std::vector<ConfigIssue>& issues() const noexcept { return issues_; }

 private:
  std::vector<ConfigIssue> issues_;
};

struct LoadOptions {
  // false: check that each password source is well-formed but do not read it (the environment
  // variable or file may be absent); the password fields stay empty. For commands that only use
  // the store.
  bool resolve_secrets = true;
};

// Reads, validates and resolves a config file (relative paths, secrets).
// @throw ConfigError listing every problem found (unreadable file, TOML syntax, unknown keys,
//        wrong types, missing required keys, bad values, unresolvable secrets), each with file:line.
Config load_config(const std::filesystem::path& file, LoadOptions options = {});

// Same, from text; `source` names the file for messages and anchors relative paths.
Config load_config_from_string(std::string_view toml_text, const std::filesystem::path& source,
                              LoadOptions options = {});

// "500ms", "30s", "5m", "24h", "2d" -> Duration. Empty optional on any other form.
std::optional<Duration> parse_duration(std::string_view text);

// "512KB", "25MB", "1GB", "100B" or plain "1048576" -> bytes. Units are binary (KB = 1024 bytes)
// and uppercase; a non-negative integer and at most one unit, no spaces. Empty optional on any
// other form or on overflow.
std::optional<std::uint64_t> parse_size(std::string_view text);

// "127.0.0.1:8080", "[::1]:8080", "localhost:0" -> ListenAddress. Empty optional on any other form.
std::optional<ListenAddress> parse_listen_address(std::string_view text);

// true for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(std::string_view host);

}  // namespace casedesk::config
