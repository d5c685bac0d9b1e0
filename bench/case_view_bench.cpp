// The case view of one large case (issue 12 item 10): a store with one case made of a generated
// ~50 MB mail (five base64 attachments of ~7 MB each, a CSV, text + HTML), the daemon's HttpServer
// + WebUi on loopback, and keep-alive clients sharing one signed-in session:
//   1. one client, V views of /case/REF one after the other: p50 / p95 / max;
//   2. C clients at once, V views each: p50 / p95 / max, and the peak RSS of the process;
//   3. C clients at once, each downloading one attachment (round robin) twice: MB/s, peak RSS.
// The clients read the downloads without keeping them, so the process's RSS is the server's.
//
//   build/bench/case_view_bench [--mb 50] [--clients 8] [--views 30]
//
// The store is made (and the reference measured) in a child process, so this process's peak RSS
// (VmHWM) is the serving only. Reference in the same run: one parse_message of the case's raw mail,
// which is what every case view did before the attachments were stored at intake.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "big_mail.hpp"
#include "config/config.hpp"
#include "daemon/http_server.hpp"
#include "daemon/intake.hpp"
#include "daemon/password.hpp"
#include "daemon/web_ui.hpp"
#include "parsers/message.hpp"
#include "queue/store.hpp"

using namespace casedesk;
using Clock = std::chrono::steady_clock;

namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// VmRSS or VmHWM of this process, MiB.
double status_mb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stod(line.substr(std::string(key).size())) / 1024.0;
  return -1;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// A blocking HTTP/1.1 keep-alive client (Content-Length responses); keep_body = false counts the
// body's bytes without keeping them.
class Client {
 public:
  explicit Client(int port) : port_(port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw std::runtime_error("connect");
  }
  ~Client() { ::close(fd_); }

  int request(const std::string& method, const std::string& target, const std::string& cookie,
              const std::string& body, std::string& out_body, std::string& out_headers, bool keep_body = true,
              std::size_t* body_bytes = nullptr) {
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) +
                      "\r\nOrigin: http://127.0.0.1:" + std::to_string(port_) + "\r\n";
    if (!cookie.empty()) req += "Cookie: " + cookie + "\r\n";
    if (method == "POST")
      req += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " + std::to_string(body.size()) +
             "\r\n";
    req += "\r\n" + body;
    for (std::size_t off = 0; off < req.size();) {
      auto n = ::send(fd_, req.data() + off, req.size() - off, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send");
      off += static_cast<std::size_t>(n);
    }
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) read_more();
    out_headers = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    int status = std::stoi(out_headers.substr(9, 3));
    std::string lower = out_headers;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    std::size_t length = 0;
    if (auto p = lower.find("content-length:"); p != std::string::npos) length = std::stoul(lower.substr(p + 15));
    std::size_t got = 0;
    out_body.clear();
    while (got < length) {
      if (buf_.empty()) read_more();
      std::size_t take = std::min(buf_.size(), length - got);
      if (keep_body) out_body.append(buf_, 0, take);
      buf_.erase(0, take);
      got += take;
    }
    if (body_bytes) *body_bytes = got;
    return status;
  }

 private:
  void read_more() {
    char tmp[65536];
    auto n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) throw std::runtime_error("connection closed");
    buf_.append(tmp, static_cast<std::size_t>(n));
  }
  int port_;
  int fd_ = -1;
  std::string buf_;
};

struct Made {
  char ref[32] = {};
  double parse_ms = 0;      // reference: one parse_message of the raw mail (median of 5)
  double mail_mb = 0;
};

// The store with one large case, made in a child process; the reference is measured there too.
Made make_store(const std::string& db, double mb) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe");
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    Made made;
    queue::StoreOptions so;
    so.path = db;
    queue::Store store(so);
    store.add_user({0, "bench", "bench@desk.example", "consultant", 0}, daemon::hash_password("bench-password"),
                   unix_now());
    std::string raw = bench::make_message(static_cast<std::size_t>(mb * 1024 * 1024));
    made.mail_mb = static_cast<double>(raw.size()) / (1024.0 * 1024.0);
    std::vector<double> ms;
    for (int i = 0; i < 5; ++i) {
      auto t0 = Clock::now();
      auto m = parsers::parse_message(raw);
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    made.parse_ms = percentile(ms, 0.5);
    daemon::IntakeOptions options;
    options.now = unix_now;
    auto mail = daemon::prepare_incoming(std::move(raw), queue::MailSource{"INBOX", 1, 1}, options);
    auto r = store.enqueue(mail, unix_now());
    std::snprintf(made.ref, sizeof made.ref, "%s", r.case_ref.c_str());
    if (write(fds[1], &made, sizeof made) != sizeof made) _exit(1);
    _exit(0);
  }
  close(fds[1]);
  Made made;
  bool ok = read(fds[0], &made, sizeof made) == sizeof made;
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!ok || !WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("making the store failed");
  return made;
}

void print_row(const char* what, const std::vector<double>& ms) {
  std::printf("  %-34s n=%4zu  p50 %7.2f  p95 %7.2f  max %7.2f ms\n", what, ms.size(), percentile(ms, 0.5),
              percentile(ms, 0.95), ms.empty() ? 0.0 : *std::max_element(ms.begin(), ms.end()));
}

}  // namespace

int main(int argc, char** argv) {
  double mb = 50;
  int clients = 8, views = 30;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--mb") mb = std::stod(argv[i + 1]);
    else if (a == "--clients") clients = std::stoi(argv[i + 1]);
    else if (a == "--views") views = std::stoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: case_view_bench [--mb 50] [--clients 8] [--views 30]\n");
      return 2;
    }
  }
  const std::string db = "/tmp/casedesk-case-view-bench-" + std::to_string(getpid()) + ".db";
  auto t0 = Clock::now();
  Made made = make_store(db, mb);
  std::printf("store: case %s of one %.1f MiB mail made in %.1f s (child process)\n", made.ref, made.mail_mb,
              std::chrono::duration<double>(Clock::now() - t0).count());

  int rc = 0;
  {
    config::Config config;
    config.store.path = db;
    daemon::WebUi ui(config);
    boost::asio::io_context io;
    daemon::HttpServer server(io, "127.0.0.1", 0, ui.handler());
    server.start();
    std::thread loop([&] {
      auto guard = boost::asio::make_work_guard(io);
      io.run();
    });

    std::string cookie, body, headers;
    {
      Client c(server.port());
      int st = c.request("POST", "/login", "", "user=bench&password=bench-password", body, headers);
      auto p = headers.find("Set-Cookie: ");
      if (st != 303 || p == std::string::npos) {
        std::fprintf(stderr, "login failed: %d\n", st);
        return 1;
      }
      cookie = headers.substr(p + 12, headers.find(';', p) - p - 12);
    }
    const std::string page = std::string("/case/") + made.ref;
    std::vector<std::string> downloads;
    std::vector<double> first_ms;
    {
      Client c(server.port());
      auto t = Clock::now();
      int st = c.request("GET", page, cookie, "", body, headers);
      first_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
      if (st != 200) {
        std::fprintf(stderr, "case page: %d\n", st);
        return 1;
      }
      std::regex href("href=\"(/case/[^\"]+/message/[0-9]+/attachment/[0-9]+)\"");
      for (std::sregex_iterator it(body.begin(), body.end(), href), e; it != e; ++it) downloads.push_back((*it)[1]);
      std::printf("case page: %zu bytes, %zu attachment links\n", body.size(), downloads.size());
    }
    const double rss_idle = status_mb("VmRSS:");
    const double hwm_idle = status_mb("VmHWM:");

    std::atomic<int> errors{0};
    std::vector<double> seq;
    {
      Client c(server.port());
      for (int i = 0; i < views; ++i) {
        auto t = Clock::now();
        int st = c.request("GET", page, cookie, "", body, headers);
        seq.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
        if (st != 200) ++errors;
      }
    }

    std::vector<double> par;
    std::mutex mu;
    auto t_par = Clock::now();
    {
      std::vector<std::thread> threads;
      for (int k = 0; k < clients; ++k)
        threads.emplace_back([&] {
          Client c(server.port());
          std::string b, h;
          std::vector<double> mine;
          for (int i = 0; i < views; ++i) {
            auto t = Clock::now();
            if (c.request("GET", page, cookie, "", b, h) != 200) ++errors;
            mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
          }
          std::lock_guard lock(mu);
          par.insert(par.end(), mine.begin(), mine.end());
        });
      for (auto& t : threads) t.join();
    }
    const double par_s = std::chrono::duration<double>(Clock::now() - t_par).count();
    const double hwm_views = status_mb("VmHWM:");

    std::atomic<std::size_t> bytes{0};
    std::vector<double> dl;
    auto t_dl = Clock::now();
    if (!downloads.empty()) {
      std::vector<std::thread> threads;
      for (int k = 0; k < clients; ++k)
        threads.emplace_back([&, k] {
          Client c(server.port());
          std::string b, h;
          for (int i = 0; i < 2; ++i) {
            std::size_t n = 0;
            auto t = Clock::now();
            const auto& target = downloads[static_cast<std::size_t>(k) % downloads.size()];
            if (c.request("GET", target, cookie, "", b, h, false, &n) != 200 || n == 0) ++errors;
            bytes += n;
            std::lock_guard lock(mu);
            dl.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
          }
        });
      for (auto& t : threads) t.join();
    }
    const double dl_s = std::chrono::duration<double>(Clock::now() - t_dl).count();
    const double hwm_dl = status_mb("VmHWM:");

    server.stop();
    io.stop();
    loop.join();

    std::printf("\ncase view of a %.1f MiB case (%d views per client)\n", made.mail_mb, views);
    print_row("first view", first_ms);
    print_row("1 client, one after the other", seq);
    char label[64];
    std::snprintf(label, sizeof label, "%d clients at once", clients);
    print_row(label, par);
    std::printf("  %d clients: %.1f pages/s\n", clients, static_cast<double>(par.size()) / par_s);
    print_row("attachment downloads", dl);
    std::printf("  downloads: %.1f MiB in %.2f s = %.0f MiB/s\n", static_cast<double>(bytes) / 1048576.0, dl_s,
                static_cast<double>(bytes) / 1048576.0 / dl_s);
    std::printf("reference, one parse_message of the raw mail (each view before): %.1f ms; case page p50 / it = %.3f\n",
                made.parse_ms, percentile(seq, 0.5) / made.parse_ms);
    std::printf("RSS: after the first view %.1f MiB (peak %.1f); peak after %d parallel views %.1f MiB; "
                "after the downloads %.1f MiB (goal <= 128)\n",
                rss_idle, hwm_idle, clients, hwm_views, hwm_dl);
    std::printf("goals: p95 <= 20 ms (1 client %.2f, %d clients %.2f); peak RSS <= 128 MiB (%.1f)\n",
                percentile(seq, 0.95), clients, percentile(par, 0.95), hwm_dl);
    std::printf("errors: %d\n", errors.load());
    if (errors) rc = 1;
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix);
  return rc;
}
