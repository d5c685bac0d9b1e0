#pragma once
// The consultant's text editor, for `queue answer|ask|note` given neither -m nor --file, as
// `git commit` does: $VISUAL, else $EDITOR, else vi, run through /bin/sh on a private temporary
// file. Only for a person at a terminal: a script without one gets a usage error instead.

#include <optional>
#include <string>
#include <string_view>

namespace casedesk::daemon {

// Whether an editor may be opened, and which.
struct EditorAccess {
  bool interactive = false;  // stdin and stdout are terminals
  std::string command;       // a shell command line: run as sh -c 'COMMAND "$@"' editor FILE
};

// From isatty(0), isatty(1), $VISUAL, $EDITOR (empty values skipped; default "vi").
EditorAccess editor_access();

struct EditedText {
  std::optional<std::string> text;  // the file's contents after the editor exited 0
  std::string error;                // why not, when text is empty (one line, no file contents)
};

// Writes `initial` to a new file of mode 0600 (mkstemp in $TMPDIR, else /tmp), runs the editor on
// it with the terminal inherited and waits for it, then reads the file back by name (editors may
// replace it). The file is removed in every case. No deadline: a person is typing. While the
// editor runs, SIGINT and SIGQUIT are ignored here (the editor gets them as usual), as git does.
EditedText edit_in_editor(const std::string& command, const std::string& initial);

// `text` without lines starting with '#', trailing white space on each line, and leading and
// trailing blank lines; ends with one newline unless nothing is left ("").
std::string strip_comment_lines(std::string_view text);

}  // namespace casedesk::daemon
