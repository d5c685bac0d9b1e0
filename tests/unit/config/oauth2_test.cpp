// [imap]/[smtp] oauth2_token_file and oauth2_token_command: parsed, never read at load time.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace casedesk::config {
namespace {

namespace fs = std::filesystem;

const fs::path kSource = "/srv/casedesk/casedesk.toml";

std::string with_imap_secret(const std::string& secret_lines, const std::string& smtp_extra = "") {
  return "[imap]\n"
         "url = \"imaps://mail.example.test/INBOX\"\n"
         "username = \"intake@example.test\"\n" +
         secret_lines +
         "[smtp]\n"
         "url = \"smtps://mail.example.test\"\n"
         "from = \"Coding Desk <desk@example.test>\"\n" +
         smtp_extra;
}

std::vector<ConfigIssue> issues_of(const std::string& text, LoadOptions options = {}) {
  try {
    load_config_from_string(text, kSource, options);
  } catch (const ConfigError& e) {
    return e.issues();
  }
  ADD_FAILURE() << "expected a ConfigError for:\n" << text;
  return {};
}

TEST(OAuth2Config, TokenFileIsResolvedAgainstTheConfigFolderAndNotRead) {
  // The file does not exist: tokens are read when connecting, not at load time.
  const auto cfg = load_config_from_string(with_imap_secret("oauth2_token_file = \"secrets/imap.token\"\n"), kSource);
  EXPECT_EQ(cfg.imap.oauth2_token_file, "/srv/casedesk/secrets/imap.token");
  EXPECT_TRUE(cfg.imap.oauth2_token_command.empty());
  EXPECT_TRUE(cfg.imap.password.empty());
}

TEST(OAuth2Config, AbsoluteTokenFileStaysAsIs) {
  const auto cfg = load_config_from_string(with_imap_secret("oauth2_token_file = \"/run/tokens/imap\"\n"), kSource);
  EXPECT_EQ(cfg.imap.oauth2_token_file, "/run/tokens/imap");
}

TEST(OAuth2Config, TokenCommandIsKeptVerbatimAndNotRun) {
  const auto cfg = load_config_from_string(
      with_imap_secret("oauth2_token_command = \"touch /tmp/casedesk-must-not-exist && echo x\"\n"), kSource);
  EXPECT_EQ(cfg.imap.oauth2_token_command, "touch /tmp/casedesk-must-not-exist && echo x");
  EXPECT_FALSE(fs::exists("/tmp/casedesk-must-not-exist"));
  EXPECT_TRUE(cfg.imap.oauth2_token_file.empty());
}

TEST(OAuth2Config, KeptWithoutResolvingSecretsToo) {
  LoadOptions options;
  options.resolve_secrets = false;
  const auto cfg = load_config_from_string(with_imap_secret("oauth2_token_command = \"get-token imap\"\n"), kSource,
                                           options);
  EXPECT_EQ(cfg.imap.oauth2_token_command, "get-token imap");
}

TEST(OAuth2Config, SmtpTokenWithUsername) {
  const auto cfg = load_config_from_string(
      with_imap_secret("password = \"x\"\n",
                       "username = \"desk@example.test\"\noauth2_token_file = \"smtp.token\"\n"),
      kSource);
  EXPECT_EQ(cfg.smtp.oauth2_token_file, "/srv/casedesk/smtp.token");
  EXPECT_TRUE(cfg.smtp.password.empty());
  const auto cfg2 = load_config_from_string(
      with_imap_secret("password = \"x\"\n",
                       "username = \"desk@example.test\"\noauth2_token_command = \"printf tok\"\n"),
      kSource);
  EXPECT_EQ(cfg2.smtp.oauth2_token_command, "printf tok");
}

TEST(OAuth2Config, SmtpTokenWithoutUsernameIsAnError) {
  const auto issues = issues_of(with_imap_secret("password = \"x\"\n", "oauth2_token_command = \"printf tok\"\n"));
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].line, 8);
  EXPECT_NE(issues[0].message.find("smtp.oauth2_token_command: set but smtp.username is empty"), std::string::npos)
      << issues[0].message;
}

TEST(OAuth2Config, TokenAndPasswordTogetherIsAnError) {
  const auto issues =
      issues_of(with_imap_secret("password = \"hunter2\"\noauth2_token_file = \"imap.token\"\n"));
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].line, 5);
  EXPECT_EQ(issues[0].message,
            "imap: only one of password_env, password_file, password, oauth2_token_file, oauth2_token_command "
            "may be set");
  // The password is not echoed.
  EXPECT_EQ(issues[0].to_string().find("hunter2"), std::string::npos);
}

TEST(OAuth2Config, TokenFileAndCommandTogetherIsAnError) {
  const auto issues =
      issues_of(with_imap_secret("oauth2_token_file = \"imap.token\"\noauth2_token_command = \"printf tok\"\n"));
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].line, 5);
  EXPECT_NE(issues[0].message.find("only one of"), std::string::npos);
}

TEST(OAuth2Config, EmptyValuesAreErrors) {
  for (const std::string key : {"oauth2_token_file", "oauth2_token_command"}) {
    const auto issues = issues_of(with_imap_secret(key + " = \"\"\n"));
    ASSERT_EQ(issues.size(), 1u) << key;
    EXPECT_EQ(issues[0].line, 4);
    EXPECT_EQ(issues[0].message, "imap." + key + ": must not be empty");
  }
}

TEST(OAuth2Config, CommandWithLineBreakIsAnError) {
  const auto issues = issues_of(with_imap_secret("oauth2_token_command = \"printf a\\nprintf b\"\n"));
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].message, "imap.oauth2_token_command: must not contain line breaks or NUL characters");
}

TEST(OAuth2Config, WrongTypeIsAnError) {
  const auto issues = issues_of(with_imap_secret("oauth2_token_file = 5\n"));
  bool found = false;
  for (const auto& issue : issues)
    found = found || (issue.line == 4 && issue.message == "imap.oauth2_token_file: expected a string");
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace casedesk::config
