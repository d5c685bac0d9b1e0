#include "daemon/editor.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

extern char** environ;

namespace casedesk::daemon {
namespace {

// A private temporary file: the descriptor is closed and the name unlinked on destruction.
class TempFile {
 public:
  TempFile() {
    const char* dir = std::getenv("TMPDIR");
    std::string name = std::string(dir && *dir ? dir : "/tmp") + "/casedesk-text-XXXXXX";
    fd_ = ::mkstemp(name.data());  // mode 0600
    if (fd_ >= 0) path_ = std::move(name);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    close();
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  bool ok() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }
  bool write_all(std::string_view data) {
    while (!data.empty()) {
      const auto n = ::write(fd_, data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  bool close() {
    if (fd_ < 0) return true;
    const bool closed = ::close(fd_) == 0;
    fd_ = -1;
    return closed;
  }

 private:
  int fd_ = -1;
  std::string path_;
};

// SIGINT and SIGQUIT ignored for this object's life; the previous actions restored after.
class IgnoreInterrupts {
 public:
  IgnoreInterrupts() {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    ::sigemptyset(&ignore.sa_mask);
    ::sigaction(SIGINT, &ignore, &old_int_);
    ::sigaction(SIGQUIT, &ignore, &old_quit_);
  }
  IgnoreInterrupts(const IgnoreInterrupts&) = delete;
  IgnoreInterrupts& operator=(const IgnoreInterrupts&) = delete;
  ~IgnoreInterrupts() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGQUIT, &old_quit_, nullptr);
  }

 private:
  struct sigaction old_int_ {};
  struct sigaction old_quit_ {};
};

// posix_spawnattr_t with its destroy.
class SpawnAttr {
 public:
  SpawnAttr() { ::posix_spawnattr_init(&attr_); }
  SpawnAttr(const SpawnAttr&) = delete;
  SpawnAttr& operator=(const SpawnAttr&) = delete;
  ~SpawnAttr() { ::posix_spawnattr_destroy(&attr_); }
  posix_spawnattr_t* get() { return &attr_; }

 private:
  posix_spawnattr_t attr_;
};

}  // namespace

EditorAccess editor_access() {
  EditorAccess access;
  access.interactive = ::isatty(STDIN_FILENO) == 1 && ::isatty(STDOUT_FILENO) == 1;
  access.command = "vi";
  for (const char* var : {"VISUAL", "EDITOR"}) {
    if (const char* value = std::getenv(var); value && *value) {
      access.command = value;
      break;
    }
  }
  return access;
}

EditedText edit_in_editor(const std::string& command, const std::string& initial) {
  TempFile file;
  if (!file.ok()) return {std::nullopt, std::string("cannot create a temporary file: ") + std::strerror(errno)};
  if (!file.write_all(initial) || !file.close())
    return {std::nullopt, std::string("cannot write the temporary file: ") + std::strerror(errno)};

  // As git: the command is a shell snippet, so EDITOR="code --wait" and the like work.
  const std::string script = command + " \"$@\"";
  std::vector<char*> argv{const_cast<char*>("sh"), const_cast<char*>("-c"), const_cast<char*>(script.c_str()),
                          const_cast<char*>(command.c_str()), const_cast<char*>(file.path().c_str()), nullptr};
  int status = 0;
  {
    IgnoreInterrupts ignore;
    SpawnAttr attr;
    sigset_t defaults;
    ::sigemptyset(&defaults);
    ::sigaddset(&defaults, SIGINT);
    ::sigaddset(&defaults, SIGQUIT);
    ::posix_spawnattr_setsigdefault(attr.get(), &defaults);
    ::posix_spawnattr_setflags(attr.get(), POSIX_SPAWN_SETSIGDEF);
    pid_t pid = 0;
    if (const int rc = ::posix_spawn(&pid, "/bin/sh", nullptr, attr.get(), argv.data(), environ); rc != 0)
      return {std::nullopt, std::string("cannot run /bin/sh: ") + std::strerror(rc)};
    while (::waitpid(pid, &status, 0) < 0) {
      if (errno != EINTR) return {std::nullopt, std::string("waiting for the editor: ") + std::strerror(errno)};
    }
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const std::string how = WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                              : "signal " + std::to_string(WTERMSIG(status));
    return {std::nullopt, "there was a problem with the editor '" + command + "' (" + how + ")"};
  }
  std::ifstream in(file.path(), std::ios::binary);
  if (!in) return {std::nullopt, "the editor left no file to read"};
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return {std::nullopt, "cannot read the edited file"};
  return {buf.str(), ""};
}

std::string strip_comment_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto end = text.find('\n');
    auto line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (!line.empty() && line.front() == '#') continue;
    const auto last = line.find_last_not_of(" \t\r");
    lines.push_back(last == std::string_view::npos ? std::string_view{} : line.substr(0, last + 1));
  }
  std::size_t first = 0, past = lines.size();
  while (first < past && lines[first].empty()) ++first;
  while (past > first && lines[past - 1].empty()) --past;
  std::string out;
  for (std::size_t i = first; i < past; ++i) (out += lines[i]) += '\n';
  return out;
}

}  // namespace casedesk::daemon
