// TokenSource: token files and commands (trimmed, deadline, failures never show the token).
#include "daemon/oauth2_token.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "daemon/mail_error.hpp"

namespace casedesk::daemon {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("casedesk-oauth2-test-" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name, std::ios::binary) << text;
    return path / name;
  }
};

TEST(OAuth2Token, CleanTokenTrimsAndRejectsControlCharacters) {
  EXPECT_EQ(clean_token("  ya29.abc-_~+/=\r\n"), "ya29.abc-_~+/=");
  EXPECT_EQ(clean_token("\n\n"), "");
  EXPECT_EQ(clean_token("a\nb"), "");
  EXPECT_EQ(clean_token(std::string("a\0b", 3)), "");
}

TEST(OAuth2Token, MakeReturnsNullWithoutASource) {
  EXPECT_EQ(TokenSource::make("IMAP", "", "", 1s), nullptr);
}

TEST(OAuth2Token, FileIsReadAgainOnRefresh) {
  TempDir dir;
  const auto file = dir.write("token", "first-token\n");
  auto source = TokenSource::make("IMAP", file.string(), "", 1s);
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(source->token(), "first-token");
  dir.write("token", "second-token\n");
  EXPECT_EQ(source->token(), "first-token");  // cached until a login is refused
  EXPECT_EQ(source->refresh(), "second-token");
  EXPECT_EQ(source->take_failures(), 0);
}

TEST(OAuth2Token, MissingFileIsAnUnreachableErrorAndCounted) {
  TokenSource source("IMAP", "/nonexistent/casedesk/token", "", 1s);
  try {
    source.token();
    FAIL() << "expected a MailError";
  } catch (const MailError& e) {
    EXPECT_EQ(e.kind(), MailError::Kind::unreachable);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/casedesk/token"), std::string::npos);
  }
  EXPECT_EQ(source.take_failures(), 1);
  EXPECT_EQ(source.take_failures(), 0);
}

TEST(OAuth2Token, CommandOutputIsTrimmed) {
  TokenSource source("SMTP", "", "printf '  tok-from-command\\n'", 5s);
  EXPECT_EQ(source.token(), "tok-from-command");
}

TEST(OAuth2Token, FailingCommandDoesNotLeakItsOutput) {
  TokenSource source("SMTP", "", "echo secret-partial-token; exit 3", 5s);
  try {
    source.token();
    FAIL() << "expected a MailError";
  } catch (const MailError& e) {
    EXPECT_NE(std::string(e.what()).find("status 3"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("secret-partial-token"), std::string::npos);
  }
}

TEST(OAuth2Token, EmptyOutputIsAnError) {
  TokenSource source("SMTP", "", "true", 5s);
  EXPECT_THROW(source.token(), MailError);
}

TEST(OAuth2Token, CommandHasADeadline) {
  const auto start = std::chrono::steady_clock::now();
  // The background sleep keeps stdout open too: the whole process group is killed.
  EXPECT_THROW(run_token_command("sleep 30 & sleep 30", 300ms), MailError);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(OAuth2Token, LoginFailuresAreCountedAndEndWithASuccess) {
  TempDir dir;
  TokenSource source("IMAP", dir.write("token", "t\n").string(), "", 1s);
  EXPECT_EQ(source.token(), "t");
  source.login_failed("Login denied");
  source.login_failed("Login denied");
  EXPECT_EQ(source.take_failures(), 2);
  source.login_succeeded();
  EXPECT_EQ(source.take_failures(), 0);
}

}  // namespace
}  // namespace casedesk::daemon
