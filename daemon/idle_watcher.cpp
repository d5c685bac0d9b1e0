#include "daemon/idle_watcher.hpp"

#include <poll.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cctype>

namespace casedesk::daemon {
namespace asio = boost::asio;
using clock = std::chrono::steady_clock;

namespace {

bool is_exists_line(const std::string& line) {
  // "* 23 EXISTS" (RECENT is obsolete in IMAP4rev2 but still sent by some servers).
  if (line.rfind("* ", 0) != 0) return false;
  std::size_t i = 2;
  while (i < line.size() && std::isdigit(static_cast<unsigned char>(line[i]))) ++i;
  if (i == 2) return false;
  std::string rest = line.substr(i);
  return rest.rfind(" EXISTS", 0) == 0 || rest.rfind(" RECENT", 0) == 0;
}

}  // namespace

struct IdleWatcher::Impl {
  asio::io_context& io;
  ImapOptions options;
  std::function<void()> on_change;
  std::function<void(const std::string&)> on_failure;
  CurlEasy curl;
  char error_buffer[CURL_ERROR_SIZE] = {};
  std::optional<asio::posix::stream_descriptor> socket;  // a dup() of curl's socket, for waiting only
  asio::steady_timer reissue_timer;
  std::string inbox;     // bytes received, not yet split into lines
  int tag_counter = 0;
  std::string idle_tag;
  bool running = false;

  Impl(asio::io_context& io_, ImapOptions o, std::function<void()> change, std::function<void(const std::string&)> fail)
      : io(io_), options(std::move(o)), on_change(std::move(change)), on_failure(std::move(fail)), reissue_timer(io_) {}

  curl_socket_t raw_socket() {
    curl_socket_t fd = CURL_SOCKET_BAD;
    curl_easy_getinfo(curl.get(), CURLINFO_ACTIVESOCKET, &fd);
    return fd;
  }

  void close() {
    running = false;
    reissue_timer.cancel();
    if (socket) {
      boost::system::error_code ec;
      socket->cancel(ec);
      socket->close(ec);
      socket.reset();
    }
    curl.reset();  // closes the connection
    inbox.clear();
  }

  std::string next_tag() { return "i" + std::to_string(++tag_counter); }

  // Waits for the socket with poll(); false on timeout.
  bool wait_fd(short events, clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
    if (left <= 0) return false;
    pollfd p{raw_socket(), events, 0};
    return ::poll(&p, 1, static_cast<int>(left)) > 0;
  }

  void send_line(const std::string& line, clock::time_point deadline) {
    std::string data = line + "\r\n";
    std::size_t off = 0;
    while (off < data.size()) {
      std::size_t n = 0;
      CURLcode rc = curl_easy_send(curl.get(), data.data() + off, data.size() - off, &n);
      if (rc == CURLE_AGAIN) {
        if (!wait_fd(POLLOUT, deadline)) throw MailError(MailError::Kind::unreachable, "IDLE connection: send timed out");
        continue;
      }
      if (rc != CURLE_OK)
        throw MailError(MailError::Kind::unreachable, std::string("IDLE connection: send failed: ") + curl_easy_strerror(rc));
      off += n;
    }
  }

  // Reads what is available without blocking. false when the server closed the connection.
  bool drain() {
    char buf[4096];
    for (;;) {
      std::size_t n = 0;
      CURLcode rc = curl_easy_recv(curl.get(), buf, sizeof buf, &n);
      if (rc == CURLE_AGAIN) return true;
      if (rc != CURLE_OK || n == 0) return false;
      inbox.append(buf, n);
      if (inbox.size() > (1u << 20)) inbox.erase(0, inbox.size() - (1u << 16));  // a chatty server cannot grow us
    }
  }

  std::optional<std::string> pop_line() {
    auto nl = inbox.find('\n');
    if (nl == std::string::npos) return std::nullopt;
    std::string line = inbox.substr(0, nl);
    inbox.erase(0, nl + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }

  // Reads lines until one starts with `prefix` ("i3 " for a tagged reply, "+" for a continuation);
  // returns every line read. Untagged EXISTS lines seen meanwhile are reported through *changed.
  std::string read_until(const std::string& prefix, clock::time_point deadline, bool* changed = nullptr) {
    std::string all;
    for (;;) {
      while (auto line = pop_line()) {
        all += *line + "\n";
        if (changed && is_exists_line(*line)) *changed = true;
        if (line->rfind(prefix, 0) == 0) return all;
      }
      if (!wait_fd(POLLIN, deadline)) throw MailError(MailError::Kind::unreachable, "IDLE connection: no reply in time");
      if (!drain()) throw MailError(MailError::Kind::unreachable, "IDLE connection: closed by the server");
    }
  }

  void command_ok(const std::string& command, clock::time_point deadline, std::string* reply = nullptr) {
    const std::string tag = next_tag();
    send_line(tag + " " + command, deadline);
    std::string lines = read_until(tag + " ", deadline);
    const auto last = lines.rfind(tag + " ");
    if (lines.compare(last + tag.size() + 1, 2, "OK") != 0)
      throw MailError(MailError::Kind::command, "IDLE connection: " + command.substr(0, command.find(' ')) + " refused");
    if (reply) *reply = std::move(lines);
  }

  void enter_idle(clock::time_point deadline) {
    idle_tag = next_tag();
    send_line(idle_tag + " IDLE", deadline);
    read_until("+", deadline);
  }

  void connect() {
    // With OAuth2, a refused login is retried once with the token read again (it may have expired).
    SecretString bearer;
    if (options.oauth2) bearer = SecretString(options.oauth2->token());
    CURLcode rc = CURLE_OK;
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (attempt > 0) bearer = SecretString(options.oauth2->refresh());
      curl.reset(curl_easy_init());
      if (!curl) throw MailError(MailError::Kind::unreachable, "curl_easy_init failed");
      CURL* h = curl.get();
      const std::string url = endpoint_url(options.endpoint) + "/";
      curl_easy_setopt(h, CURLOPT_URL, url.c_str());
      apply_login(h, options.username, options.password, options.oauth2 ? &bearer.str() : nullptr);
      apply_transfer_options(h, options.endpoint, options.ca_file, options.timeout, options.stop, error_buffer);
      curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
      rc = curl_easy_perform(h);  // connect, TLS, login
      if (rc != CURLE_LOGIN_DENIED || !options.oauth2) break;
    }
    if (options.oauth2) {
      if (rc == CURLE_OK) options.oauth2->login_succeeded();
      if (rc == CURLE_LOGIN_DENIED)
        options.oauth2->login_failed(error_buffer[0] ? std::string(error_buffer) : curl_easy_strerror(rc));
    }
    CURL* h = curl.get();
    if (rc != CURLE_OK)
      throw MailError(classify_curl_error(rc), std::string("IDLE connection: login failed: ") +
                                                   (error_buffer[0] ? error_buffer : curl_easy_strerror(rc)));
    // With CONNECT_ONLY the transfer has ended: no total deadline may cut the connection later.
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 0L);
  }

  void arm() {
    if (!running || !socket) return;
    socket->async_wait(asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
      if (ec == asio::error::operation_aborted || !running) return;
      if (ec) return fail("IDLE connection: " + ec.message());
      on_readable();
    });
  }

  void on_readable() {
    bool open = drain();
    bool changed = false;
    while (auto line = pop_line()) {
      if (is_exists_line(*line)) changed = true;
      if (line->rfind("* BYE", 0) == 0) open = false;
    }
    if (changed) on_change();
    if (!open) return fail("IDLE connection closed by the server");
    arm();
  }

  void schedule_reissue() {
    reissue_timer.expires_after(kReissueEvery);
    reissue_timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec || !running) return;
      try {
        const auto deadline = clock::now() + options.timeout;
        send_line("DONE", deadline);
        bool changed = false;
        read_until(idle_tag + " ", deadline, &changed);
        enter_idle(deadline);
        if (changed) on_change();
        schedule_reissue();
      } catch (const std::exception& e) {
        fail(e.what());
      }
    });
  }

  void fail(const std::string& reason) {
    if (!running) return;
    close();
    on_failure(reason);  // may destroy or restart us: nothing after this line
  }
};

IdleWatcher::IdleWatcher(asio::io_context& io, ImapOptions options, std::function<void()> on_change,
                         std::function<void(const std::string&)> on_failure)
    : impl_(std::make_unique<Impl>(io, std::move(options), std::move(on_change), std::move(on_failure))) {}

IdleWatcher::~IdleWatcher() { impl_->close(); }

std::optional<std::string> IdleWatcher::start() {
  auto& d = *impl_;
  d.close();
  try {
    d.connect();
    const auto deadline = clock::now() + d.options.timeout;
    std::string caps;
    d.command_ok("CAPABILITY", deadline, &caps);
    bool has_idle = false;
    for (std::size_t pos = caps.find("IDLE"); pos != std::string::npos; pos = caps.find("IDLE", pos + 1)) {
      const bool left = pos == 0 || caps[pos - 1] == ' ';
      const bool right = pos + 4 == caps.size() || caps[pos + 4] == ' ' || caps[pos + 4] == '\n' || caps[pos + 4] == '\r';
      if (left && right) has_idle = true;
    }
    if (!has_idle) {
      d.close();
      return std::string("the server does not offer IDLE");
    }
    d.command_ok("SELECT " + imap_quote(d.options.endpoint.path), deadline);
    d.enter_idle(deadline);
    int fd = ::dup(d.raw_socket());
    if (fd < 0) throw MailError(MailError::Kind::unreachable, "IDLE connection: dup failed");
    d.socket.emplace(d.io, fd);
    d.running = true;
    d.schedule_reissue();
    // Anything that arrived with the IDLE continuation is handled by the first wake-up.
    if (!d.inbox.empty()) asio::post(d.io, [this] { if (impl_->running) impl_->on_readable(); });
    else d.arm();
    return std::nullopt;
  } catch (const std::exception& e) {
    d.close();
    return std::string(e.what());
  }
}

void IdleWatcher::stop() { impl_->close(); }

bool IdleWatcher::active() const noexcept { return impl_->running; }

}  // namespace casedesk::daemon
