// load_config: the example file, defaults, every error kind with its line, paths and secrets.
#include "config/config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace casedesk::config {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A fresh folder under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = fs::temp_directory_path() / ("casedesk-config-test-" + std::to_string(::getpid()) +
                                         "-" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }

  fs::path write(const fs::path& name, const std::string& content) const {
    const auto file = path_ / name;
    fs::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << content;
    return file;
  }

 private:
  fs::path path_;
};

// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() { ::unsetenv(name_.c_str()); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
};

const fs::path kSource = "/srv/casedesk/casedesk.toml";

// Line numbers in the tests below refer to this text:
//  1 [imap]
//  2 url = ...
//  3 username = ...
//  4 password = ...
//  5 [smtp]
//  6 url = ...
//  7 from = ...
const std::string kMinimal =
    "[imap]\n"
    "url = \"imaps://mail.example.test/INBOX\"\n"
    "username = \"intake@example.test\"\n"
    "password = \"hunter2\"\n"
    "[smtp]\n"
    "url = \"smtps://mail.example.test\"\n"
    "from = \"Coding Desk <desk@example.test>\"\n";

std::vector<ConfigIssue> issues_of(const std::string& text, const fs::path& source = kSource) {
  try {
    load_config_from_string(text, source);
  } catch (const ConfigError& e) {
    return e.issues();
  }
  ADD_FAILURE() << "expected a ConfigError for:\n" << text;
  return {};
}

// Exactly one issue, at `line`, with `message`.
void expect_issue(const std::string& text, int line, const std::string& message) {
  const auto issues = issues_of(text);
  ASSERT_EQ(issues.size(), 1u) << (issues.empty() ? "" : issues[0].to_string());
  EXPECT_EQ(issues[0].line, line) << issues[0].to_string();
  EXPECT_EQ(issues[0].message, message);
  EXPECT_EQ(issues[0].file, kSource.string());
}

// Exactly one issue, at `line`, whose message contains `part`.
void expect_issue_containing(const std::string& text, int line, const std::string& part) {
  const auto issues = issues_of(text);
  ASSERT_EQ(issues.size(), 1u) << (issues.empty() ? "" : issues[0].to_string());
  EXPECT_EQ(issues[0].line, line) << issues[0].to_string();
  EXPECT_NE(issues[0].message.find(part), std::string::npos) << issues[0].message;
}

std::string replace(std::string text, const std::string& from, const std::string& to) {
  const auto pos = text.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos != std::string::npos) text.replace(pos, from.size(), to);
  return text;
}

// --- the example and defaults -----------------------------------------------------------------

TEST(Config, LoadsExampleFile) {
  const fs::path example = fs::path(CASEDESK_FIXTURES) / ".." / ".." / "config" /
                           "casedesk.example.toml";
  ASSERT_TRUE(fs::exists(example)) << example;
  ScopedEnv env("CASEDESK_IMAP_PASSWORD", "example-secret");

  const auto cfg = load_config(example);
  const auto folder = fs::absolute(example).lexically_normal().parent_path();
  EXPECT_EQ(cfg.source, fs::absolute(example).lexically_normal());
  EXPECT_EQ(cfg.imap.endpoint.host, "127.0.0.1");
  EXPECT_EQ(cfg.imap.endpoint.port, 10993);
  EXPECT_EQ(cfg.imap.endpoint.path, "INBOX");
  EXPECT_EQ(cfg.imap.endpoint.tls, TlsMode::implicit);
  EXPECT_EQ(cfg.imap.username, "intake@example.test");
  EXPECT_EQ(cfg.imap.password, "example-secret");
  EXPECT_EQ(cfg.imap.ca_file, "");
  EXPECT_FALSE(cfg.imap.allow_insecure);
  EXPECT_EQ(cfg.imap.processed_folder, "Processed");
  EXPECT_EQ(cfg.imap.failed_folder, "Failed");
  EXPECT_EQ(cfg.imap.poll_interval, 30s);
  EXPECT_EQ(cfg.imap.timeout, 60s);
  EXPECT_EQ(cfg.smtp.endpoint.scheme, "smtp");
  EXPECT_EQ(cfg.smtp.endpoint.port, 2525);
  EXPECT_EQ(cfg.smtp.endpoint.tls, TlsMode::starttls_optional);
  EXPECT_EQ(cfg.smtp.username, "");
  EXPECT_EQ(cfg.smtp.password, "");
  EXPECT_EQ(cfg.smtp.from, "Coding Desk <desk@example.test>");
  EXPECT_EQ(cfg.smtp.from_name, "Coding Desk");
  EXPECT_EQ(cfg.smtp.from_addr, "desk@example.test");
  EXPECT_EQ(cfg.smtp.timeout, 60s);
  EXPECT_EQ(cfg.store.path, folder / "casedesk.db");
  EXPECT_EQ(cfg.templates.dir, fs::path());
  EXPECT_EQ(cfg.desk.name, "Coding Desk");
  EXPECT_EQ(cfg.desk.case_prefix, "CD");
}

TEST(Config, ExampleFailsWithoutTheEnvironmentVariable) {
  const fs::path example = fs::path(CASEDESK_FIXTURES) / ".." / ".." / "config" /
                           "casedesk.example.toml";
  ScopedEnv env("CASEDESK_IMAP_PASSWORD", nullptr);
  try {
    load_config(example);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    ASSERT_EQ(e.issues().size(), 1u);
    EXPECT_EQ(e.issues()[0].message,
              "imap.password_env: environment variable CASEDESK_IMAP_PASSWORD is not set");
    EXPECT_GT(e.issues()[0].line, 1);
  }
}

TEST(Config, MinimalFileGetsDefaults) {
  const auto cfg = load_config_from_string(kMinimal, kSource);
  EXPECT_EQ(cfg.source, kSource);
  EXPECT_EQ(cfg.imap.password, "hunter2");
  EXPECT_EQ(cfg.imap.processed_folder, "Processed");
  EXPECT_EQ(cfg.imap.failed_folder, "Failed");
  EXPECT_EQ(cfg.imap.poll_interval, 30s);
  EXPECT_EQ(cfg.imap.timeout, 60s);
  EXPECT_EQ(cfg.imap.ca_file, "");
  EXPECT_FALSE(cfg.imap.allow_insecure);
  EXPECT_EQ(cfg.smtp.username, "");
  EXPECT_EQ(cfg.smtp.password, "");
  EXPECT_EQ(cfg.smtp.timeout, 60s);
  EXPECT_EQ(cfg.store.path, fs::path("/srv/casedesk/casedesk.db"));
  EXPECT_TRUE(cfg.templates.dir.empty());
  EXPECT_EQ(cfg.desk.name, "Coding Desk");
  EXPECT_EQ(cfg.desk.case_prefix, "CD");
}

TEST(Config, ReadsEveryKey) {
  TempDir dir;
  const auto source = dir.path() / "casedesk.toml";
  dir.write("smtp.pw", "smtp-secret\n");
  const auto cfg = load_config_from_string(
      "[imap]\n"
      "url = \"imap://mail.example.test:1143/Desk\"\n"
      "username = \"intake\"\n"
      "password = \"imap-secret\"\n"
      "ca_file = \"ca.pem\"\n"
      "allow_insecure = true\n"
      "processed_folder = \"Done\"\n"
      "failed_folder = \"Broken\"\n"
      "poll_interval = \"500ms\"\n"
      "timeout = \"2m\"\n"
      "[smtp]\n"
      "url = \"smtp://mail.example.test:587\"\n"
      "username = \"desk\"\n"
      "password_file = \"smtp.pw\"\n"
      "ca_file = \"/etc/ssl/ca.pem\"\n"
      "allow_insecure = false\n"
      "from = \"desk@example.test\"\n"
      "timeout = \"1h\"\n"
      "[store]\n"
      "path = \"data/cases.db\"\n"
      "[templates]\n"
      "dir = \"tpl\"\n"
      "[desk]\n"
      "name = \"Help Desk\"\n"
      "case_prefix = \"HD2\"\n",
      source);
  EXPECT_EQ(cfg.imap.endpoint.path, "Desk");
  EXPECT_EQ(cfg.imap.endpoint.tls, TlsMode::starttls_optional);
  EXPECT_EQ(cfg.imap.username, "intake");
  EXPECT_EQ(cfg.imap.password, "imap-secret");
  EXPECT_EQ(cfg.imap.ca_file, (dir.path() / "ca.pem").string());
  EXPECT_TRUE(cfg.imap.allow_insecure);
  EXPECT_EQ(cfg.imap.processed_folder, "Done");
  EXPECT_EQ(cfg.imap.failed_folder, "Broken");
  EXPECT_EQ(cfg.imap.poll_interval, 500ms);
  EXPECT_EQ(cfg.imap.timeout, 2min);
  EXPECT_EQ(cfg.smtp.endpoint.tls, TlsMode::starttls_required);
  EXPECT_EQ(cfg.smtp.username, "desk");
  EXPECT_EQ(cfg.smtp.password, "smtp-secret");
  EXPECT_EQ(cfg.smtp.ca_file, "/etc/ssl/ca.pem");
  EXPECT_EQ(cfg.smtp.from_name, "");
  EXPECT_EQ(cfg.smtp.from_addr, "desk@example.test");
  EXPECT_EQ(cfg.smtp.timeout, 1h);
  EXPECT_EQ(cfg.store.path, dir.path() / "data" / "cases.db");
  EXPECT_EQ(cfg.templates.dir, dir.path() / "tpl");
  EXPECT_EQ(cfg.desk.name, "Help Desk");
  EXPECT_EQ(cfg.desk.case_prefix, "HD2");
}

// --- error kinds with their lines -----------------------------------------------------------

TEST(Config, UnknownKeyReportsLine) {
  expect_issue(replace(kMinimal, "password = \"hunter2\"\n", "password = \"hunter2\"\nfoo = 1\n"),
               5, "unknown key imap.foo");
}

TEST(Config, UnknownTableReportsLine) {
  expect_issue(kMinimal + "\n[limitz]\nmax = 1\n", 9, "unknown table limitz");
}

TEST(Config, UnknownRootKeyReportsLine) {
  expect_issue("verbose = true\n" + kMinimal, 1, "unknown key verbose");
}

TEST(Config, UnknownSubtableReportsLine) {
  expect_issue(kMinimal + "[imap.tls]\nx = 1\n", 8, "unknown key imap.tls");
}

TEST(Config, WrongTypeReportsLine) {
  expect_issue(kMinimal + "[desk]\nname = 5\n", 9, "desk.name: expected a string");
  expect_issue(replace(kMinimal, "[smtp]\n", "allow_insecure = \"yes\"\n[smtp]\n"), 5,
               "imap.allow_insecure: expected a boolean");
  expect_issue(replace(kMinimal, "[smtp]\n", "poll_interval = 30\n[smtp]\n"), 5,
               "imap.poll_interval: expected a string");
}

TEST(Config, TableOfWrongTypeReportsLine) {
  expect_issue("desk = \"x\"\n" + kMinimal, 1, "desk: expected a table");
  expect_issue(kMinimal + "[[store]]\npath = \"a\"\n", 8, "store: expected a table");
}

TEST(Config, MissingRequiredKeyReportsTableLine) {
  expect_issue(replace(kMinimal, "username = \"intake@example.test\"\n", ""), 1,
               "missing required key imap.username");
  expect_issue("# comment\n\n" + replace(kMinimal, "from = \"Coding Desk <desk@example.test>\"\n", ""),
               7, "missing required key smtp.from");
  expect_issue(replace(kMinimal, "url = \"smtps://mail.example.test\"\n", ""), 5,
               "missing required key smtp.url");
}

TEST(Config, MissingTableReportsLineOne) {
  const auto issues = issues_of(
      "# only imap\n"
      "[imap]\n"
      "url = \"imaps://h\"\n"
      "username = \"u\"\n"
      "password = \"p\"\n");
  ASSERT_EQ(issues.size(), 2u);
  EXPECT_EQ(issues[0].line, 1);
  EXPECT_EQ(issues[0].message, "missing required key smtp.url");
  EXPECT_EQ(issues[1].line, 1);
  EXPECT_EQ(issues[1].message, "missing required key smtp.from");
}

TEST(Config, EmptyFileReportsEveryRequiredKey) {
  const auto issues = issues_of("");
  std::vector<std::string> messages;
  for (const auto& issue : issues) {
    EXPECT_EQ(issue.line, 1);
    messages.push_back(issue.message);
  }
  EXPECT_EQ(messages, (std::vector<std::string>{
                          "missing required key imap.url",
                          "missing required key imap.username",
                          "imap: one of password_env, password_file, password is required",
                          "missing required key smtp.url",
                          "missing required key smtp.from",
                      }));
}

TEST(Config, SyntaxErrorReportsLine) {
  const auto issues = issues_of(replace(kMinimal, "username = \"intake@example.test\"\n",
                                        "username = \"intake@example.test\n"));
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].line, 3);
  EXPECT_FALSE(issues[0].message.empty());
  EXPECT_EQ(issues[0].file, kSource.string());

  const auto dup = issues_of(kMinimal + "[imap]\n");
  ASSERT_EQ(dup.size(), 1u);
  EXPECT_EQ(dup[0].line, 8);
}

TEST(Config, CollectsAllIssuesSortedByLine) {
  const std::string text =
      "[desk]\n"                          // 1
      "case_prefix = \"cd\"\n"            // 2  bad prefix
      "[imap]\n"                          // 3  missing url (reported here)
      "username = \"u\"\n"                // 4
      "password = \"p\"\n"                // 5
      "poll_interval = \"soon\"\n"        // 6  bad duration
      "bogus = true\n"                    // 7  unknown key
      "[smtp]\n"                          // 8
      "url = \"smtp://h\"\n"              // 9
      "from = \"desk\"\n"                 // 10 no '@'
      "allow_insecure = 1\n";             // 11 wrong type
  try {
    load_config_from_string(text, kSource);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    const auto& issues = e.issues();
    ASSERT_EQ(issues.size(), 6u) << e.what();
    const std::vector<int> lines = {2, 3, 6, 7, 10, 11};
    for (std::size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(issues[i].line, lines[i]) << e.what();
    EXPECT_EQ(issues[1].message, "missing required key imap.url");
    EXPECT_EQ(issues[3].message, "unknown key imap.bogus");
    EXPECT_EQ(issues[5].message, "smtp.allow_insecure: expected a boolean");
    EXPECT_NE(issues[2].message.find("imap.poll_interval"), std::string::npos);
    EXPECT_NE(issues[4].message.find("smtp.from"), std::string::npos);

    std::string joined;
    for (const auto& issue : issues) joined += (joined.empty() ? "" : "\n") + issue.to_string();
    EXPECT_EQ(std::string(e.what()), joined);
  }
}

TEST(ConfigIssue, ToString) {
  EXPECT_EQ((ConfigIssue{"a.toml", 3, "bad"}).to_string(), "a.toml:3: bad");
  EXPECT_EQ((ConfigIssue{"a.toml", 0, "bad"}).to_string(), "a.toml: bad");
}

TEST(Config, UnreadableFileIsAnIssueWithoutLine) {
  TempDir dir;
  const auto missing = dir.path() / "nope.toml";
  try {
    load_config(missing);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    ASSERT_EQ(e.issues().size(), 1u);
    EXPECT_EQ(e.issues()[0].line, 0);
    EXPECT_EQ(e.issues()[0].file, missing.string());
    EXPECT_EQ(std::string(e.what()).rfind(missing.string() + ": ", 0), 0u) << e.what();
  }
  EXPECT_THROW(load_config(dir.path()), ConfigError);
}

// --- values ---------------------------------------------------------------------------------

TEST(Config, DurationErrorsNameTheKey) {
  expect_issue_containing(replace(kMinimal, "[smtp]\n", "timeout = \"60\"\n[smtp]\n"), 5,
                          "imap.timeout: invalid duration \"60\"");
  expect_issue_containing(kMinimal + "timeout = \"1.5s\"\n", 8, "smtp.timeout: invalid duration");
  expect_issue(replace(kMinimal, "[smtp]\n", "poll_interval = \"0s\"\n[smtp]\n"), 5,
               "imap.poll_interval: must be greater than zero");
}

TEST(Config, CasePrefixRules) {
  for (const char* ok : {"CD", "X", "ABCDEFGHIJ", "A1B2"}) {
    EXPECT_EQ(load_config_from_string(kMinimal + "[desk]\ncase_prefix = \"" + ok + "\"\n", kSource)
                  .desk.case_prefix,
              ok);
  }
  for (const char* bad : {"", "cd", "1CD", "ABCDEFGHIJK", "C-D", "C D", "CÄ"}) {
    expect_issue_containing(kMinimal + "[desk]\ncase_prefix = \"" + bad + "\"\n", 9,
                            "desk.case_prefix");
  }
}

TEST(Config, DeskNameRules) {
  expect_issue(kMinimal + "[desk]\nname = \"\"\n", 9, "desk.name: must not be empty");
  expect_issue_containing(kMinimal + "[desk]\nname = \"Desk\\r\\nBcc: x@y\"\n", 9, "desk.name");
}

TEST(Config, FromAddressForms) {
  const auto from = [](const std::string& value) {
    return load_config_from_string(
               replace(kMinimal, "Coding Desk <desk@example.test>", value), kSource)
        .smtp;
  };
  auto smtp = from("Coding Desk <desk@example.test>");
  EXPECT_EQ(smtp.from_name, "Coding Desk");
  EXPECT_EQ(smtp.from_addr, "desk@example.test");

  smtp = from("desk@example.test");
  EXPECT_EQ(smtp.from_name, "");
  EXPECT_EQ(smtp.from_addr, "desk@example.test");
  EXPECT_EQ(smtp.from, "desk@example.test");

  smtp = from("<desk@example.test>");
  EXPECT_EQ(smtp.from_name, "");
  EXPECT_EQ(smtp.from_addr, "desk@example.test");

  smtp = from("\\\"Desk, Coding\\\" <desk@example.test>");
  EXPECT_EQ(smtp.from_name, "Desk, Coding");
  EXPECT_EQ(smtp.from_addr, "desk@example.test");
}

TEST(Config, FromAddressRejectsLineBreaks) {
  // TOML escapes \r and \n put real CR/LF into the value.
  for (const char* bad : {"Desk <desk@example.test>\\r\\nBcc: victim@example.test",
                          "Desk\\n <desk@example.test>", "desk@example.test\\r",
                          "desk@example.test\\u0000"}) {
    expect_issue_containing(replace(kMinimal, "Coding Desk <desk@example.test>", bad), 7,
                            "smtp.from: must not contain line breaks");
  }
}

TEST(Config, FromAddressRejectsMalformed) {
  for (const char* bad : {"Coding Desk", "desk", "Desk <desk>", "Desk <desk@example.test",
                          "Desk <desk@example.test> x", "desk@example.test, other@example.test",
                          "Desk <a@b@c>", "Desk, Coding <desk@example.test>", "<>", "",
                          "desk@", "@example.test", "Desk <de sk@example.test>"}) {
    expect_issue_containing(replace(kMinimal, "Coding Desk <desk@example.test>", bad), 7,
                            "smtp.from: ");
  }
  expect_issue_containing(replace(kMinimal, "Coding Desk <desk@example.test>", "desk"), 7,
                          "missing '@'");
}

TEST(Config, FolderNamesMustBeSingleLine) {
  expect_issue_containing(replace(kMinimal, "[smtp]\n", "failed_folder = \"a\\nb\"\n[smtp]\n"), 5,
                          "imap.failed_folder");
}

// --- paths -------------------------------------------------------------------------------------

TEST(Config, RelativePathsResolveAgainstConfigFolder) {
  const auto cfg = load_config_from_string(
      replace(replace(kMinimal, "[smtp]\n", "ca_file = \"certs/ca.pem\"\n[smtp]\n"),
              "from =", "ca_file = \"../shared/ca.pem\"\nfrom =") +
          "[store]\npath = \"var/cases.db\"\n[templates]\ndir = \"./templates\"\n",
      kSource);
  EXPECT_EQ(cfg.imap.ca_file, "/srv/casedesk/certs/ca.pem");
  EXPECT_EQ(cfg.smtp.ca_file, "/srv/shared/ca.pem");
  EXPECT_EQ(cfg.store.path, fs::path("/srv/casedesk/var/cases.db"));
  EXPECT_EQ(cfg.templates.dir, fs::path("/srv/casedesk/templates"));
}

TEST(Config, AbsoluteAndEmptyPathsStay) {
  const auto cfg = load_config_from_string(
      replace(kMinimal, "[smtp]\n", "ca_file = \"\"\n[smtp]\n") +
          "[store]\npath = \"/var/lib/casedesk/cases.db\"\n[templates]\ndir = \"\"\n",
      kSource);
  EXPECT_EQ(cfg.imap.ca_file, "");
  EXPECT_EQ(cfg.store.path, fs::path("/var/lib/casedesk/cases.db"));
  EXPECT_TRUE(cfg.templates.dir.empty());
}

TEST(Config, RelativeSourceIsMadeAbsolute) {
  const auto cfg = load_config_from_string(kMinimal, "conf/casedesk.toml");
  EXPECT_TRUE(cfg.source.is_absolute());
  EXPECT_EQ(cfg.store.path, (fs::current_path() / "conf" / "casedesk.db").lexically_normal());
}

TEST(Config, LoadConfigResolvesAgainstTheFilesFolder) {
  TempDir dir;
  const auto file = dir.write("etc/casedesk.toml", kMinimal + "[templates]\ndir = \"tpl\"\n");
  const auto cfg = load_config(file);
  EXPECT_EQ(cfg.source, file);
  EXPECT_EQ(cfg.store.path, dir.path() / "etc" / "casedesk.db");
  EXPECT_EQ(cfg.templates.dir, dir.path() / "etc" / "tpl");
}

TEST(Config, EmptyStorePathIsAnError) {
  expect_issue(kMinimal + "[store]\npath = \"\"\n", 9, "store.path: must not be empty");
}

// --- secrets -------------------------------------------------------------------------------------

const std::string kNoPassword = replace(kMinimal, "password = \"hunter2\"\n", "");

TEST(Secrets, FromEnvironment) {
  ScopedEnv env("CASEDESK_TEST_IMAP_PW", "s3cret value");
  const auto cfg = load_config_from_string(
      replace(kMinimal, "password = \"hunter2\"", "password_env = \"CASEDESK_TEST_IMAP_PW\""),
      kSource);
  EXPECT_EQ(cfg.imap.password, "s3cret value");
}

TEST(Secrets, EnvironmentVariableUnsetOrEmpty) {
  const auto text =
      replace(kMinimal, "password = \"hunter2\"", "password_env = \"CASEDESK_TEST_IMAP_PW\"");
  {
    ScopedEnv env("CASEDESK_TEST_IMAP_PW", nullptr);
    expect_issue(text, 4, "imap.password_env: environment variable CASEDESK_TEST_IMAP_PW is not set");
  }
  {
    ScopedEnv env("CASEDESK_TEST_IMAP_PW", "");
    expect_issue(text, 4, "imap.password_env: environment variable CASEDESK_TEST_IMAP_PW is not set");
  }
}

TEST(Secrets, FromFile) {
  TempDir dir;
  dir.write("secrets/imap", "file secret\n");
  dir.write("secrets/smtp", "smtp secret\r\n");
  dir.write("secrets/raw", "no newline");
  const auto source = dir.path() / "casedesk.toml";
  const auto cfg = load_config_from_string(
      replace(replace(kMinimal, "password = \"hunter2\"", "password_file = \"secrets/imap\""),
              "from =", "username = \"desk\"\npassword_file = \"secrets/smtp\"\nfrom ="),
      source);
  EXPECT_EQ(cfg.imap.password, "file secret");
  EXPECT_EQ(cfg.smtp.password, "smtp secret");

  const auto raw = load_config_from_string(
      replace(kMinimal, "password = \"hunter2\"",
              "password_file = \"" + (dir.path() / "secrets/raw").string() + "\""),
      kSource);
  EXPECT_EQ(raw.imap.password, "no newline");
}

TEST(Secrets, FileProblems) {
  TempDir dir;
  dir.write("two-newlines", "secret\n\n");
  dir.write("empty", "");
  const auto source = dir.path() / "casedesk.toml";
  const auto issue_for = [&](const std::string& name) {
    try {
      load_config_from_string(
          replace(kMinimal, "password = \"hunter2\"", "password_file = \"" + name + "\""), source);
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.issues().size(), 1u) << e.what();
      EXPECT_EQ(e.issues()[0].line, 4) << e.what();
      return e.issues()[0].message;
    }
    ADD_FAILURE() << "expected a ConfigError for " << name;
    return std::string();
  };
  EXPECT_EQ(issue_for("missing").rfind("imap.password_file: cannot read " +
                                           (dir.path() / "missing").string(),
                                       0),
            0u);
  EXPECT_NE(issue_for("two-newlines").find("line breaks"), std::string::npos);
  EXPECT_NE(issue_for("empty").find("is empty"), std::string::npos);
  EXPECT_NE(issue_for(".").find("cannot read"), std::string::npos);  // a directory
}

TEST(Secrets, ImapNeedsExactlyOneSource) {
  expect_issue(kNoPassword, 1, "imap: one of password_env, password_file, password is required");
  expect_issue(replace(kMinimal, "password = \"hunter2\"\n",
                       "password = \"hunter2\"\npassword_env = \"X\"\n"),
               5, "imap: only one of password_env, password_file, password may be set");
}

TEST(Secrets, SmtpPasswordOnlyWithUsername) {
  const auto with_user = replace(kMinimal, "from =", "username = \"desk\"\nfrom =");
  expect_issue(with_user, 5, "smtp: one of password_env, password_file, password is required");

  const auto cfg = load_config_from_string(
      replace(kMinimal, "from =", "username = \"desk\"\npassword = \"pw\"\nfrom ="), kSource);
  EXPECT_EQ(cfg.smtp.username, "desk");
  EXPECT_EQ(cfg.smtp.password, "pw");

  expect_issue(replace(kMinimal, "from =", "username = \"desk\"\npassword = \"a\"\n"
                                           "password_file = \"b\"\nfrom ="),
               9, "smtp: only one of password_env, password_file, password may be set");
  expect_issue_containing(replace(kMinimal, "from =", "password = \"pw\"\nfrom ="), 7,
                          "smtp.password: set but smtp.username is empty");
}

TEST(Secrets, EmptyInlinePasswordIsAnError) {
  expect_issue(replace(kMinimal, "hunter2", ""), 4, "imap.password: must not be empty");
}

}  // namespace
}  // namespace casedesk::config

namespace {
TEST(Config, LoadWithoutSecretsSkipsTheEnvironment) {
  const char* text =
      "[imap]\nurl = \"imaps://127.0.0.1:10993/INBOX\"\nusername = \"u@example.test\"\n"
      "password_env = \"CASEDESK_TEST_SURELY_UNSET_VARIABLE\"\n"
      "[smtp]\nurl = \"smtp://127.0.0.1:2525\"\nfrom = \"Desk <desk@example.test>\"\n";
  EXPECT_THROW(casedesk::config::load_config_from_string(text, "/tmp/x.toml"), casedesk::config::ConfigError);
  auto cfg = casedesk::config::load_config_from_string(text, "/tmp/x.toml", casedesk::config::LoadOptions{false});
  EXPECT_TRUE(cfg.imap.password.empty());
  EXPECT_EQ(cfg.imap.username, "u@example.test");
}
}  // namespace

namespace {
TEST(Config, LimitsIntakeAndOutboxKeys) {
  const char* base =
      "[imap]\nurl = \"imaps://127.0.0.1:10993/INBOX\"\nusername = \"u@example.test\"\npassword = \"p\"\n"
      "idle = false\n"
      "[smtp]\nurl = \"smtp://127.0.0.1:2525\"\nfrom = \"Desk <desk@example.test>\"\n"
      "[limits]\nmax_message_size = \"512KB\"\nauto_replies_per_sender = 3\n"
      "[intake]\nack_window = \"2h\"\n[outbox]\nretry_for = \"5m\"\n";
  auto cfg = casedesk::config::load_config_from_string(base, "/tmp/x.toml");
  EXPECT_FALSE(cfg.imap.idle);
  EXPECT_EQ(cfg.limits.max_message_size, 512u * 1024u);
  EXPECT_EQ(cfg.limits.auto_replies_per_sender, 3);
  EXPECT_EQ(cfg.intake.ack_window, std::chrono::hours(2));
  EXPECT_EQ(cfg.outbox.retry_for, std::chrono::minutes(5));
  std::string bad = std::string(base) + "";
  bad.replace(bad.find("\"512KB\""), 7, "\"lots\"");
  try {
    casedesk::config::load_config_from_string(bad, "/tmp/x.toml");
    FAIL() << "expected ConfigError";
  } catch (const casedesk::config::ConfigError& e) {
    ASSERT_EQ(e.issues().size(), 1u);
    EXPECT_EQ(e.issues()[0].line, 10);
    EXPECT_NE(e.issues()[0].message.find("limits.max_message_size"), std::string::npos);
  }
}
}  // namespace
