// Usage errors of the command line: the unknown word named with the closest command or option,
// exit 64 for every usage error, --help still 0. Pure: a small CLI11 app shaped like main.cpp's.
#include "daemon/cli_usage.hpp"

#include <CLI/CLI.hpp>
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace casedesk::daemon {
namespace {

TEST(AdversarialCliUsage, EditDistanceCountsSwapsAsOneEdit) {
  EXPECT_EQ(edit_distance("list", "list"), 0u);
  EXPECT_EQ(edit_distance("lst", "list"), 1u);
  EXPECT_EQ(edit_distance("lsit", "list"), 1u);
  EXPECT_EQ(edit_distance("LIST", "list"), 0u);
  EXPECT_EQ(edit_distance("", "show"), 4u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

TEST(AdversarialCliUsage, ClosestWordIsALikelyTypoOrAUniquePrefix) {
  const std::vector<std::string> queue{"list", "show", "search", "claim", "release", "assign", "note",
                                       "answer", "ask", "close", "reopen", "reject", "priority"};
  EXPECT_EQ(closest_word("lst", queue), "list");
  EXPECT_EQ(closest_word("shwo", queue), "show");
  EXPECT_EQ(closest_word("anwser", queue), "answer");
  EXPECT_EQ(closest_word("prio", queue), "priority");  // a unique prefix
  EXPECT_EQ(closest_word("re", queue), std::nullopt);   // release, reopen, reject: ambiguous
  EXPECT_EQ(closest_word("bogus", queue), std::nullopt);
  EXPECT_EQ(closest_word("x", queue), std::nullopt);    // one letter is no evidence
  EXPECT_EQ(closest_word("--jsn", {"--help", "--json", "--config", "--as"}), "--json");
  EXPECT_EQ(closest_word("--stat", {"--help", "--status", "--sort"}), "--status");
}

// main.cpp's shape in small: required subcommands at two levels, a positional, a required option.
class AdversarialCliUsageApp : public ::testing::Test {
 protected:
  AdversarialCliUsageApp() {
    app_.require_subcommand(1);
    app_.set_version_flag("--version", "casedesk 1.2.3");
    auto* queue = app_.add_subcommand("queue", "the queue");
    queue->require_subcommand(1);
    auto* list = queue->add_subcommand("list", "list cases");
    list->add_flag("--json", json_, "json");
    list->add_option("--status", status_, "status");
    list->add_option("--limit", limit_, "limit");
    auto* show = queue->add_subcommand("show", "one case");
    show->add_option("ref", ref_, "ref")->required();
    auto* answer = queue->add_subcommand("answer", "answer");
    answer->add_option("ref", ref_, "ref")->required();
    answer->add_option("--file", file_, "file")->required();
    app_.add_subcommand("status", "status");
    app_.add_subcommand("serve", "serve");
  }

  // The exit code; the streams in out_ and err_.
  int parse(std::vector<std::string> args) {
    std::vector<char*> argv{const_cast<char*>("/usr/bin/casedesk")};
    for (auto& a : args) argv.push_back(a.data());
    std::ostringstream out, err;
    int rc = -1;
    try {
      app_.parse(static_cast<int>(argv.size()), argv.data());
      rc = 0;
    } catch (const CLI::ParseError& e) {
      rc = report_parse_error(app_, e, out, err);
    }
    out_ = out.str();
    err_ = err.str();
    return rc;
  }
  std::string first_line() const { return err_.substr(0, err_.find('\n')); }

  CLI::App app_{"casedesk"};
  bool json_ = false;
  std::string status_, ref_, file_;
  int limit_ = 0;
  std::string out_, err_;
};

TEST_F(AdversarialCliUsageApp, UnknownTopLevelCommandIsNamed) {
  EXPECT_EQ(parse({"bogus"}), 64);
  EXPECT_EQ(first_line(), "casedesk: unknown command 'bogus'");
  EXPECT_NE(err_.find("casedesk: see 'casedesk --help'"), std::string::npos) << err_;
}

TEST_F(AdversarialCliUsageApp, UnknownSubcommandGetsTheClosestOne) {
  EXPECT_EQ(parse({"queue", "lst", "--config", "x.toml"}), 64);
  EXPECT_EQ(first_line(), "casedesk: unknown command 'lst'; did you mean 'list'?");
  EXPECT_NE(err_.find("casedesk: see 'casedesk queue --help'"), std::string::npos) << err_;
  EXPECT_EQ(parse({"stauts"}), 64);
  EXPECT_EQ(first_line(), "casedesk: unknown command 'stauts'; did you mean 'status'?");
}

TEST_F(AdversarialCliUsageApp, UnknownOptionGetsTheClosestOne) {
  EXPECT_EQ(parse({"queue", "list", "--jsn"}), 64);
  EXPECT_EQ(first_line(), "casedesk: unknown option '--jsn'; did you mean '--json'?");
  EXPECT_NE(err_.find("casedesk: see 'casedesk queue list --help'"), std::string::npos) << err_;
  EXPECT_EQ(parse({"queue", "list", "--stat=new"}), 64);
  EXPECT_EQ(first_line(), "casedesk: unknown option '--stat'; did you mean '--status'?");
  // The typo is named, not the required option it hid.
  EXPECT_EQ(parse({"queue", "answer", "CD-1", "--fiel", "a.txt"}), 64);
  EXPECT_EQ(first_line(), "casedesk: unknown option '--fiel'; did you mean '--file'?");
}

TEST_F(AdversarialCliUsageApp, MissingAndExtraArgumentsAreUsageErrors) {
  EXPECT_EQ(parse({"queue", "show"}), 64);
  EXPECT_EQ(first_line(), "casedesk: queue show: ref is required");
  EXPECT_EQ(parse({"queue", "show", "CD-1", "CD-2"}), 64);
  EXPECT_EQ(first_line(), "casedesk: unexpected argument 'CD-2'");
  EXPECT_EQ(parse({"queue", "list", "--status"}), 64);
  EXPECT_EQ(first_line().rfind("casedesk: queue list: --status", 0), 0u) << err_;
  EXPECT_EQ(parse({"queue", "list", "--limit", "many"}), 64);
  EXPECT_EQ(first_line().rfind("casedesk: queue list: ", 0), 0u) << err_;
  EXPECT_EQ(parse({"queue"}), 64);
  EXPECT_EQ(first_line(), "casedesk: a command after 'casedesk queue' is required (list, show, answer)");
  EXPECT_EQ(parse({}), 64);
  EXPECT_EQ(first_line(), "casedesk: a command is required (queue, status, serve)");
  EXPECT_EQ(parse({"--bogus"}), 64);
  EXPECT_EQ(first_line(), "casedesk: unknown option '--bogus'");
}

TEST_F(AdversarialCliUsageApp, EveryErrorLineIsPrefixedAndControlsAreNotEchoed) {
  EXPECT_EQ(parse({"queue", "l\x1b[2Jst"}), 64);
  EXPECT_EQ(err_.find('\x1b'), std::string::npos);
  std::istringstream lines(err_);
  for (std::string line; std::getline(lines, line);) EXPECT_EQ(line.rfind("casedesk: ", 0), 0u) << line;
}

TEST_F(AdversarialCliUsageApp, HelpAndVersionStayExitZero) {
  EXPECT_EQ(parse({"--help"}), 0);
  EXPECT_NE(out_.find("queue"), std::string::npos);
  EXPECT_EQ(err_, "");
  EXPECT_EQ(parse({"queue", "list", "--help"}), 0);
  EXPECT_NE(out_.find("--status"), std::string::npos);
  EXPECT_EQ(parse({"--version"}), 0);
  EXPECT_NE(out_.find("casedesk 1.2.3"), std::string::npos);
}

}  // namespace
}  // namespace casedesk::daemon
