// The consultants' CLI layer: exit codes, the acting user, argument checks, terminal-safe text and
// the JSON fields, on a store in a temporary folder (no mail servers).
#include "daemon/review_commands.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

#include "daemon/store_options.hpp"
#include "parsers/codes.hpp"
#include "parsers/message.hpp"
#include "queue/store.hpp"

namespace casedesk::daemon {
namespace {

namespace fs = std::filesystem;

class ReviewCommands : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv("CASEDESK_USER");
    dir_ = fs::temp_directory_path() /
           ("casedesk-review-cli-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    ctx_.config = dir_ / "casedesk.toml";
    std::ofstream(ctx_.config) << "[imap]\nurl = \"imaps://127.0.0.1/INBOX\"\nusername = \"u\"\n"
                                  "password_env = \"SURELY_UNSET_CASEDESK\"\n"
                                  "[smtp]\nurl = \"smtp://127.0.0.1:2525\"\nfrom = \"desk@example.test\"\n"
                                  "[store]\npath = \"desk.db\"\n";
    ref_ = seed("Coder <coder@clinic.example>", "Facet \x1b[31minjection\x1b[0m", "Can we bill 64635-50? dx M47.816");
    std::istringstream pw("secret-pw\n");
    ASSERT_EQ(run([&](auto& out, auto& err) { return cmd_user_add(ctx_, "ann", "ann@desk.example", "consultant", pw, out, err); }), 0)
        << err_;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string seed(const std::string& from, const std::string& subject, const std::string& body) {
    queue::Store store(store_options(config::load_config(ctx_.config, config::LoadOptions{false})));
    queue::IncomingMail mail;
    mail.raw = "From: " + from + "\r\nSubject: " + subject +
               "\r\nDate: Thu, 26 Nov 2026 09:15:00 -0500\r\nMessage-ID: <" + std::to_string(++seq_) +
               "@clinic.example>\r\n\r\n" + body + "\r\n";
    mail.message = parsers::parse_message(mail.raw);
    mail.codes = parsers::extract_codes(mail.message);
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    return store.enqueue(mail, now).case_ref;
  }

  template <class F>
  int run(F&& f) {
    std::ostringstream out, err;
    const int rc = f(out, err);
    out_ = out.str();
    err_ = err.str();
    return rc;
  }
  int change(QueueAction action, const std::string& arg = "", const std::string& stdin_text = "") {
    std::istringstream in(stdin_text);
    return run([&](auto& out, auto& err) { return cmd_queue_change(ctx_, action, ref_, arg, in, out, err); });
  }

  fs::path dir_;
  ReviewContext ctx_;
  std::string ref_, out_, err_;
  int seq_ = 0;
};

TEST_F(ReviewCommands, ChangesNeedAnActingUser) {
  EXPECT_EQ(change(QueueAction::claim), kExitUsage);
  EXPECT_NE(err_.find("--as"), std::string::npos);
  ::setenv("CASEDESK_USER", "ann", 1);
  EXPECT_EQ(change(QueueAction::claim), 0) << err_;
  EXPECT_NE(out_.find("new -> in_review"), std::string::npos) << out_;
  ::unsetenv("CASEDESK_USER");
}

TEST_F(ReviewCommands, FlagWinsOverEnvironment) {
  ::setenv("CASEDESK_USER", "env-user", 1);
  EXPECT_EQ(acting_user(std::string("flag-user")), "flag-user");
  EXPECT_EQ(acting_user(std::nullopt), "env-user");
  ::unsetenv("CASEDESK_USER");
  EXPECT_EQ(acting_user(std::nullopt), std::nullopt);
}

TEST_F(ReviewCommands, UnknownActorCaseAndRefusalsHaveTheirExitCodes) {
  ctx_.as = "ghost";
  EXPECT_EQ(change(QueueAction::claim), kExitNotFound);
  EXPECT_NE(err_.find("ghost"), std::string::npos);
  ctx_.as = "ann";
  EXPECT_EQ(change(QueueAction::close), kExitRefused);
  EXPECT_NE(err_.find("refused"), std::string::npos);
  ref_ = "CD-999999";
  EXPECT_EQ(change(QueueAction::claim), kExitNotFound);
}

TEST_F(ReviewCommands, TextsAndPrioritiesAreChecked) {
  ctx_.as = "ann";
  EXPECT_EQ(change(QueueAction::priority, "asap"), kExitUsage);
  EXPECT_EQ(change(QueueAction::note, " \n"), kExitUsage);
  EXPECT_EQ(change(QueueAction::answer, "-", "\n"), kExitUsage);
  EXPECT_EQ(change(QueueAction::answer, (dir_ / "missing.txt").string()), kExitNoInput);
  EXPECT_EQ(change(QueueAction::priority, "urgent"), 0) << err_;
  EXPECT_NE(out_.find("priority urgent"), std::string::npos) << out_;
}

TEST_F(ReviewCommands, AnswerFromStdinQueuesTheReply) {
  ctx_.as = "ann";
  ASSERT_EQ(change(QueueAction::claim), 0) << err_;
  ctx_.json = true;
  ASSERT_EQ(change(QueueAction::answer, "-", "Yes, bill both.\n"), 0) << err_;
  const auto j = nlohmann::json::parse(out_);
  EXPECT_EQ(j["status"], "answered");
  EXPECT_TRUE(j["outbox_id"].is_number());
}

TEST_F(ReviewCommands, ShowEscapesTerminalControlsAndJsonHasTheContract) {
  ASSERT_EQ(run([&](auto& out, auto& err) { return cmd_queue_show(ctx_, ref_, out, err); }), 0) << err_;
  EXPECT_EQ(out_.find('\x1b'), std::string::npos);
  EXPECT_NE(out_.find("\\x1b[31minjection"), std::string::npos) << out_;
  ctx_.json = true;
  ASSERT_EQ(run([&](auto& out, auto& err) { return cmd_queue_show(ctx_, ref_, out, err); }), 0);
  const auto j = nlohmann::json::parse(out_);
  for (const char* key : {"ref", "status", "priority", "owner", "submitter", "subject", "received_at", "due_at",
                          "codes", "messages", "events", "notes", "outbox", "overdue", "lease_until"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["submitter"]["addr"], "coder@clinic.example");
}

TEST_F(ReviewCommands, ListFiltersAreChecked) {
  QueueListOptions options;
  options.status = "pending";
  EXPECT_EQ(run([&](auto& out, auto& err) { return cmd_queue_list(ctx_, options, out, err); }), kExitUsage);
  options = {};
  options.mine = true;
  EXPECT_EQ(run([&](auto& out, auto& err) { return cmd_queue_list(ctx_, options, out, err); }), kExitUsage);
  options = {};
  options.sort = "random";
  EXPECT_EQ(run([&](auto& out, auto& err) { return cmd_queue_list(ctx_, options, out, err); }), kExitUsage);
  options = {};
  ASSERT_EQ(run([&](auto& out, auto& err) { return cmd_queue_list(ctx_, options, out, err); }), 0) << err_;
  EXPECT_NE(out_.find(ref_), std::string::npos);
  EXPECT_NE(out_.find("normal"), std::string::npos);
  EXPECT_EQ(out_.find('\x1b'), std::string::npos);
}

TEST_F(ReviewCommands, ListPagesWithLimitAndOffset) {
  ctx_.json = true;
  auto refs = [&](int limit, int offset) {
    QueueListOptions options;
    options.limit = limit;
    options.offset = offset;
    EXPECT_EQ(run([&](auto& out, auto& err) { return cmd_queue_list(ctx_, options, out, err); }), 0) << err_;
    std::vector<std::string> out;
    for (const auto& c : nlohmann::json::parse(out_)) out.push_back(c["ref"]);
    return out;
  };
  EXPECT_EQ(refs(0, 0), std::vector<std::string>{ref_});
  EXPECT_EQ(refs(1, 0), std::vector<std::string>{ref_});
  EXPECT_TRUE(refs(1, 1).empty());
  EXPECT_TRUE(refs(0, 1).empty());
  QueueListOptions bad;
  bad.offset = -1;
  EXPECT_EQ(run([&](auto& out, auto& err) { return cmd_queue_list(ctx_, bad, out, err); }), kExitUsage);
}

TEST_F(ReviewCommands, UsersAreValidatedAndListedWithoutHashes) {
  std::istringstream pw("pw\n");
  EXPECT_EQ(run([&](auto& out, auto& err) { return cmd_user_add(ctx_, "ann", "a@desk.example", "consultant", pw, out, err); }),
            kExitRefused);
  std::istringstream empty("");
  EXPECT_EQ(run([&](auto& out, auto& err) { return cmd_user_add(ctx_, "bo", "b@desk.example", "consultant", empty, out, err); }),
            kExitUsage);
  std::istringstream pw2("pw\n");
  EXPECT_EQ(run([&](auto& out, auto& err) { return cmd_user_add(ctx_, "bad name", "b@desk.example", "admin", pw2, out, err); }),
            kExitUsage);
  std::istringstream pw3("pw\n");
  EXPECT_EQ(run([&](auto& out, auto& err) { return cmd_user_add(ctx_, "bo", "not-an-address", "admin", pw3, out, err); }),
            kExitUsage);
  ctx_.json = true;
  ASSERT_EQ(run([&](auto& out, auto& err) { return cmd_user_list(ctx_, out, err); }), 0);
  EXPECT_EQ(out_.find("argon2"), std::string::npos);
  EXPECT_EQ(out_.find("secret-pw"), std::string::npos);
  const auto j = nlohmann::json::parse(out_);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["name"], "ann");
  EXPECT_EQ(j[0]["role"], "consultant");
}

TEST_F(ReviewCommands, SubmitterPatternsAreAddressesOrDomains) {
  for (const char* bad : {"", "@", "nodomain", "a@b", "two@@x.example", "sp ace@x.example", "@.example"})
    EXPECT_EQ(run([&](auto& out, auto& err) { return cmd_submitter_add(ctx_, bad, "", std::nullopt, out, err); }),
              kExitUsage)
        << bad;
  EXPECT_EQ(run([&](auto& out, auto& err) { return cmd_submitter_add(ctx_, "@Clinic.Example", "Clinic", 3, out, err); }), 0)
      << err_;
  EXPECT_EQ(run([&](auto& out, auto& err) { return cmd_submitter_remove(ctx_, "@clinic.example", out, err); }), 0) << err_;
  EXPECT_EQ(run([&](auto& out, auto& err) { return cmd_submitter_remove(ctx_, "@clinic.example", out, err); }),
            kExitNotFound);
}

// queue note|answer|ask text as git commit takes it: -m paragraphs, --file, words, else the editor.
class AdversarialQueueWrite : public ReviewCommands {
 protected:
  int write(QueueAction action, const TextInput& input, const EditorAccess& editor = {}, const std::string& in_text = "") {
    std::istringstream in(in_text);
    return run([&](auto& out, auto& err) { return cmd_queue_write(ctx_, action, ref_, input, editor, in, out, err); });
  }
  std::vector<std::string> notes() {
    ReviewContext show = ctx_;
    show.json = true;
    std::ostringstream out, err;
    EXPECT_EQ(cmd_queue_show(show, ref_, out, err), 0) << err.str();
    std::vector<std::string> texts;
    const auto shown = nlohmann::json::parse(out.str());
    for (const auto& n : shown["notes"]) texts.push_back(n["text"]);
    return texts;
  }
  // A real editor process: a script that checks the '#' summary it is given, then writes `text`.
  EditorAccess editor_writing(const std::string& text) {
    const auto script = dir_ / "fake-editor";
    std::ofstream(script) << "#!/bin/sh\ngrep -q '^# " << ref_ << "  ' \"$1\" || exit 9\n"
                          << "cp \"$1\" '" << (dir_ / "template").string() << "'\n"
                          << "printf '" << text << "' | cat - \"$1\" > \"$1.new\" && mv \"$1.new\" \"$1\"\n";
    fs::permissions(script, fs::perms::owner_all);
    return EditorAccess{true, script.string()};
  }
};

TEST_F(AdversarialQueueWrite, RepeatedMessagesAreParagraphs) {
  ctx_.as = "ann";
  TextInput input;
  input.messages = {"checked NCCI edits", "64636 is an add-on"};
  ASSERT_EQ(write(QueueAction::note, input), 0) << err_;
  EXPECT_EQ(notes(), std::vector<std::string>{"checked NCCI edits\n\n64636 is an add-on"});
}

TEST_F(AdversarialQueueWrite, OneWayOnlyAndNoEmptyText) {
  ctx_.as = "ann";
  TextInput both;
  both.messages = {"a"};
  both.file = "-";
  EXPECT_EQ(write(QueueAction::answer, both), kExitUsage);
  EXPECT_EQ(err_.rfind("casedesk: ", 0), 0u) << err_;
  TextInput empty;
  empty.messages = {"", " "};
  EXPECT_EQ(write(QueueAction::note, empty), kExitUsage);
  TextInput file;
  file.file = "-";
  EXPECT_EQ(write(QueueAction::ask, file, {}, "\n"), kExitUsage);
  EXPECT_TRUE(notes().empty());
}

TEST_F(AdversarialQueueWrite, WithoutATerminalThereIsNoEditorButAUsageError) {
  ctx_.as = "ann";
  const auto before = std::chrono::steady_clock::now();
  EXPECT_EQ(write(QueueAction::answer, {}, EditorAccess{false, "sleep 30"}), kExitUsage);
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(5));
  EXPECT_NE(err_.find("-m TEXT or --file FILE"), std::string::npos) << err_;
}

TEST_F(AdversarialQueueWrite, TheEditorGetsTheSummaryAndItsTextIsStored) {
  ctx_.as = "ann";
  ASSERT_EQ(write(QueueAction::note, {}, editor_writing("Checked the edits.\\n\\nAll fine.\\n")), 0) << err_;
  EXPECT_EQ(notes(), std::vector<std::string>{"Checked the edits.\n\nAll fine.\n"});
  std::ifstream t(dir_ / "template");
  std::ostringstream seen;
  seen << t.rdbuf();
  EXPECT_NE(seen.str().find("# Write your internal note on " + ref_), std::string::npos) << seen.str();
  EXPECT_NE(seen.str().find("# Subject:   Facet \\x1b[31minjection"), std::string::npos) << seen.str();
  EXPECT_EQ(seen.str().find('\x1b'), std::string::npos);  // the subject's controls are escaped
  EXPECT_NE(seen.str().find("64635-50"), std::string::npos) << seen.str();
}

TEST_F(AdversarialQueueWrite, AnEmptyEditedMessageAborts) {
  ctx_.as = "ann";
  EXPECT_EQ(write(QueueAction::note, {}, editor_writing("\\n\\n")), kExitUsage);
  EXPECT_EQ(err_, "casedesk: aborting: empty message\n");
  EXPECT_TRUE(notes().empty());
}

TEST_F(AdversarialQueueWrite, TheEditorOpensOnlyForAnExistingCaseAndAnActingUser) {
  ref_ = "CD-999999";
  EXPECT_EQ(write(QueueAction::note, {}, EditorAccess{true, "exit 7; :"}), kExitUsage);  // no acting user
  ctx_.as = "ann";
  EXPECT_EQ(write(QueueAction::note, {}, EditorAccess{true, "exit 7; :"}), kExitNotFound);
  EXPECT_EQ(err_, "casedesk: no case CD-999999\n");
}

TEST_F(AdversarialQueueWrite, NoEditorForAnAnswerTheWorkflowWouldRefuse) {
  ctx_.as = "ann";
  EXPECT_EQ(write(QueueAction::answer, {}, EditorAccess{true, "exit 7; :"}), kExitRefused);  // not claimed
  EXPECT_NE(err_.find("casedesk: refused: cannot answer " + ref_ + ": it is new"), std::string::npos) << err_;
  ASSERT_EQ(change(QueueAction::claim), 0) << err_;
  EXPECT_EQ(write(QueueAction::ask, {}, EditorAccess{true, "exit 7; :"}), kExitNoInput);  // now it opens (and fails)
  EXPECT_NE(err_.find("exit 7"), std::string::npos) << err_;
}

TEST(JoinWords, JoinsWithSingleSpaces) {
  EXPECT_EQ(join_words({}), "");
  EXPECT_EQ(join_words({"checked", "NCCI", "edits"}), "checked NCCI edits");
}

}  // namespace
}  // namespace casedesk::daemon
