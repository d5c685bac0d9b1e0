#include "daemon/oauth2_token.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include <spdlog/spdlog.h>

#include "daemon/mail_error.hpp"

extern char** environ;

namespace casedesk::daemon {
namespace {

using clock = std::chrono::steady_clock;

constexpr std::size_t kMaxToken = 64 * 1024;

[[noreturn]] void token_error(const std::string& what) { throw MailError(MailError::Kind::unreachable, what); }

void wipe(std::string& s) {
  volatile char* p = s.data();
  for (std::size_t i = 0; i < s.size(); ++i) p[i] = 0;
  s.clear();
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::string read_token_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) token_error("OAuth2 token file " + path + ": cannot read: " + std::strerror(errno));
  std::string data;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0 && data.size() <= kMaxToken) data.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) token_error("OAuth2 token file " + path + ": read error");
  if (data.size() > kMaxToken) token_error("OAuth2 token file " + path + ": larger than 64 KB");
  return data;
}

}  // namespace

std::string clean_token(const std::string& raw) {
  const auto is_blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  std::size_t b = 0, e = raw.size();
  while (b < e && is_blank(raw[b])) ++b;
  while (e > b && is_blank(raw[e - 1])) --e;
  for (std::size_t i = b; i < e; ++i) {
    const auto u = static_cast<unsigned char>(raw[i]);
    if (u < 0x20 || u == 0x7f) return {};
  }
  return raw.substr(b, e - b);
}

std::string run_token_command(const std::string& command, std::chrono::milliseconds timeout) {
  const auto deadline = clock::now() + timeout;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) token_error(std::string("OAuth2 token command: pipe failed: ") + std::strerror(errno));
  Fd read_end{fds[0]};
  Fd write_end{fds[1]};

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, write_end.fd, 1);
  // Its own process group, so a timeout kills the shell and whatever it started.
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, "/bin/sh", &actions, &attr, const_cast<char* const*>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) token_error(std::string("OAuth2 token command: cannot start /bin/sh: ") + std::strerror(rc));
  ::close(write_end.fd);
  write_end.fd = -1;

  auto kill_and_reap = [&] {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
  };

  std::string out;
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
    if (left <= 0) {
      kill_and_reap();
      wipe(out);
      token_error("OAuth2 token command timed out after " + std::to_string(timeout.count()) + " ms");
    }
    pollfd p{read_end.fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;  // the deadline check above handles the timeout
    const ssize_t n = ::read(read_end.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF (or an error: treat as the end of its output)
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > kMaxToken) {
      kill_and_reap();
      wipe(out);
      token_error("OAuth2 token command: output larger than 64 KB");
    }
  }
  std::memset(buf, 0, sizeof buf);

  // Its stdout is closed; wait for it to exit, still within the deadline.
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) {
      wipe(out);
      token_error(std::string("OAuth2 token command: waitpid failed: ") + std::strerror(errno));
    }
    if (clock::now() >= deadline) {
      kill_and_reap();
      wipe(out);
      token_error("OAuth2 token command timed out after " + std::to_string(timeout.count()) + " ms");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (WIFSIGNALED(status)) {
    wipe(out);
    token_error("OAuth2 token command killed by signal " + std::to_string(WTERMSIG(status)));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    wipe(out);
    token_error("OAuth2 token command exited with status " + std::to_string(WEXITSTATUS(status)));
  }
  return out;
}

TokenSource::TokenSource(std::string label, std::string file, std::string command, std::chrono::milliseconds timeout)
    : label_(std::move(label)), file_(std::move(file)), command_(std::move(command)), timeout_(timeout) {}

std::shared_ptr<TokenSource> TokenSource::make(std::string label, const std::string& file, const std::string& command,
                                               std::chrono::milliseconds timeout) {
  if (file.empty() && command.empty()) return nullptr;
  return std::make_shared<TokenSource>(std::move(label), file, command, timeout);
}

std::string TokenSource::where() const {
  return file_.empty() ? std::string("oauth2_token_command") : "oauth2_token_file " + file_;
}

std::string TokenSource::read_locked() {
  try {
    std::string raw = file_.empty() ? run_token_command(command_, timeout_) : read_token_file(file_);
    std::string token = clean_token(raw);
    wipe(raw);
    if (token.empty()) token_error("[" + label_ + "] " + where() + ": empty token or control characters in it");
    wipe(cached_);
    cached_ = std::move(token);
    return cached_;
  } catch (const std::exception& e) {
    failed_locked(std::string("no token: ") + e.what());
    throw;
  }
}

void TokenSource::failed_locked(const std::string& reason) {
  ++failures_;
  wipe(cached_);  // the next login reads it again
  if (!in_outage_) {
    in_outage_ = true;
    spdlog::error("OAuth2 login to the {} server failed ({}); fix the token source ({}) - counted as "
                  "oauth2_failures in casedesk status",
                  label_, reason, where());
  }
}

std::string TokenSource::token() {
  std::lock_guard lock(mutex_);
  if (!cached_.empty()) return cached_;
  return read_locked();
}

std::string TokenSource::refresh() {
  std::lock_guard lock(mutex_);
  wipe(cached_);
  return read_locked();
}

void TokenSource::login_failed(const std::string& reason) {
  std::lock_guard lock(mutex_);
  failed_locked("refused even with the token read again: " + reason);
}

void TokenSource::login_succeeded() {
  std::lock_guard lock(mutex_);
  if (in_outage_) spdlog::info("OAuth2 login to the {} server works again", label_);
  in_outage_ = false;
}

std::int64_t TokenSource::take_failures() {
  std::lock_guard lock(mutex_);
  const auto n = failures_;
  failures_ = 0;
  return n;
}

}  // namespace casedesk::daemon
