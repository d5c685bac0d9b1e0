// The editor for texts written without -m or --file: a real editor process (a shell script) on a
// private temporary file that is gone afterwards; '#' lines stripped.
#include "daemon/editor.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace casedesk::daemon {
namespace {

namespace fs = std::filesystem;

TEST(AdversarialEditor, CommentLinesAndOuterBlankLinesAreStripped) {
  EXPECT_EQ(strip_comment_lines(""), "");
  EXPECT_EQ(strip_comment_lines("\n# only a comment\n#\n"), "");
  EXPECT_EQ(strip_comment_lines("  \n\t\n"), "");
  EXPECT_EQ(strip_comment_lines("\n\nYes, bill both.  \n\nRegards\n\n# CD-000001  in_review\n"),
            "Yes, bill both.\n\nRegards\n");
  EXPECT_EQ(strip_comment_lines("a # not a comment\r\n #indented stays\n"), "a # not a comment\n #indented stays\n");
  EXPECT_EQ(strip_comment_lines("no newline at the end"), "no newline at the end\n");
}

class AdversarialEditorProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("casedesk-editor-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // An editor script: records its file's name, mode and first contents, then runs `body`.
  std::string editor(const std::string& body) {
    const auto script = dir_ / "fake-editor";
    std::ofstream(script) << "#!/bin/sh\n"
                             "printf '%s\\n' \"$1\" > '" << (dir_ / "name").string() << "'\n"
                             "stat -c %a \"$1\" > '" << (dir_ / "mode").string() << "'\n"
                             "cp \"$1\" '" << (dir_ / "seen").string() << "'\n"
                          << body << "\n";
    fs::permissions(script, fs::perms::owner_all);
    return "'" + script.string() + "'";
  }
  std::string slurp(const std::string& name) {
    std::ifstream in(dir_ / name);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::string edited_file() {
    auto n = slurp("name");
    return n.substr(0, n.find('\n'));
  }

  fs::path dir_;
};

TEST_F(AdversarialEditorProcess, TheEditorEditsAPrivateFileThatIsRemovedAfter) {
  const auto r = edit_in_editor(editor("printf 'Yes, bill both.\\n' | cat - \"$1\" > \"$1.new\" && mv \"$1.new\" \"$1\""),
                                "\n# CD-000001 summary\n");
  ASSERT_TRUE(r.text) << r.error;
  EXPECT_EQ(*r.text, "Yes, bill both.\n\n# CD-000001 summary\n");
  EXPECT_EQ(slurp("seen"), "\n# CD-000001 summary\n");
  EXPECT_EQ(slurp("mode"), "600\n");
  ASSERT_FALSE(edited_file().empty());
  EXPECT_FALSE(fs::exists(edited_file()));  // the editor replaced it by rename; still removed
}

TEST_F(AdversarialEditorProcess, EditorCommandIsAShellSnippetLikeGits) {
  // EDITOR="code --wait" and the like work: the command line goes through sh -c 'COMMAND "$@"'.
  const auto r = edit_in_editor("printf '%s|%s\\n' \"$0\" written >", "");
  ASSERT_TRUE(r.text) << r.error;
  EXPECT_EQ(*r.text, "printf '%s|%s\\n' \"$0\" written >|written\n");
}

TEST_F(AdversarialEditorProcess, AFailingEditorIsAnErrorAndTheFileIsStillRemoved) {
  const auto r = edit_in_editor(editor("exit 3"), "# x\n");
  EXPECT_FALSE(r.text);
  EXPECT_NE(r.error.find("exit 3"), std::string::npos) << r.error;
  EXPECT_FALSE(fs::exists(edited_file()));
}

}  // namespace
}  // namespace casedesk::daemon
