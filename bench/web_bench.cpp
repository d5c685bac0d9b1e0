// Web UI under load: N synthetic cases (default 100,000) in a store, the daemon's HttpServer +
// WebUi on loopback, C concurrent keep-alive clients (default 20) sharing one signed-in session,
// each fetching queue pages (default view, filters, sorting, deep pages) and search results.
// Prints p50 / p95 / p99 / max latency per page kind and overall throughput.
//
//   web_bench [--cases N] [--clients C] [--requests R] [--db FILE]
//
// The store is built once at FILE (default /tmp/casedesk-web-bench-v2-N.db; v2: the seed since claims go round five users) and reused while it
// holds N cases, since seeding 100,000 cases through Store::enqueue takes a minute or two.
#include <SQLiteCpp/SQLiteCpp.h>
#include <arpa/inet.h>
#include <functional>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "daemon/http_server.hpp"
#include "daemon/password.hpp"
#include "daemon/web_ui.hpp"
#include "parsers/codes.hpp"
#include "parsers/message.hpp"
#include "queue/store.hpp"

using namespace casedesk;
using Clock = std::chrono::steady_clock;

namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

const char* kSubjects[] = {"Facet injections bilateral", "Knee arthroscopy with meniscectomy", "E/M with procedure",
                           "J-code units", "Modifier 59 or XS?", "Colonoscopy with biopsy", "Cataract surgery",
                           "Lumbar fusion levels", "Wound debridement depth", "Telehealth visit coding"};
const char* kBodies[] = {
    "Can we bill 64635-50 with 64636-50, dx M47.816?",
    "Medial and lateral meniscectomy 29881 with 29877, dx M23.221.",
    "Office visit 99214-25 plus 20610 joint injection, dx M17.11.",
    "Ketorolac 60 mg IV: how many units of J1885? dx R52.",
    "Two lesions removed, 11402 and 11403-59, dx D48.5.",
    "Screening colonoscopy turned diagnostic 45380-PT, dx Z12.11 and K63.5.",
    "Complex cataract 66982-RT, dx H25.11.",
    "Posterior fusion 22612 with 22614 x2, dx M43.16.",
    "Debridement 11042 and 11045, dx L97.412.",
    "Audio-video visit 99213-95, dx J06.9."};

queue::IncomingMail synthetic_mail(int i, std::mt19937& rng) {
  int k = static_cast<int>(rng() % 10);
  std::string raw = "From: Biller " + std::to_string(i % 500) + " <biller" + std::to_string(i % 500) +
                    "@clinic" + std::to_string(i % 37) + ".example>\r\nTo: desk@desk.example\r\nSubject: " +
                    kSubjects[k] + " #" + std::to_string(i) +
                    "\r\nDate: Thu, 26 Nov 2026 09:15:00 -0500\r\nMessage-ID: <bench-" + std::to_string(i) +
                    "@clinic.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello desk,\r\n\r\n" +
                    kBodies[k] + "\r\nThe note is attached to the chart.\r\n\r\nThanks\r\n";
  queue::IncomingMail mail;
  mail.raw = raw;
  mail.message = parsers::parse_message(raw);
  mail.codes = parsers::extract_codes(mail.message);
  mail.suppress_ack_reason = "bench";
  return mail;
}

void seed(const std::filesystem::path& db, int n) {
  queue::StoreOptions o;
  o.path = db;
  queue::Store store(o);
  if (store.count_cases() >= n) {
    std::printf("store: reusing %s (%lld cases)\n", db.c_str(), static_cast<long long>(store.count_cases()));
    return;
  }
  auto t0 = Clock::now();
  std::int64_t now = unix_now();
  if (!store.find_user("bench"))
    store.add_user({0, "bench", "bench@desk.example", "consultant", 0}, daemon::hash_password("bench-password"), now);
  for (int u = 1; u <= 5; ++u) {
    std::string name = "consultant" + std::to_string(u);
    if (!store.find_user(name)) store.add_user({0, name, name + "@desk.example", "consultant", 0}, "x", now);
  }
  std::mt19937 rng(42);
  std::vector<std::string> refs;
  for (int i = static_cast<int>(store.count_cases()); i < n; ++i) {
    // Received over the last 90 days: many are past their due time.
    std::int64_t at = now - static_cast<std::int64_t>(rng() % (90 * 86400));
    auto r = store.enqueue(synthetic_mail(i, rng), at);
    refs.push_back(r.case_ref);
    if ((i + 1) % 10000 == 0) std::printf("store: %d cases\n", i + 1), std::fflush(stdout);
  }
  // Some workflow: a fifth claimed, half of those answered, some closed; a tenth re-prioritised.
  static const queue::Priority prios[] = {queue::Priority::low, queue::Priority::high, queue::Priority::urgent};
  for (std::size_t i = 0; i < refs.size(); ++i) {
    // Claims go round the bench user and four consultants, so "mine" is a real listing.
    const std::size_t turn = (i / 5) % 5;
    std::string who = turn == 0 ? std::string("bench") : "consultant" + std::to_string(turn);
    if (i % 10 == 3) store.set_priority(refs[i], who, prios[i % 3], now);
    if (i % 5 != 0) continue;
    store.claim(refs[i], who, now);
    if (i % 10 == 0) store.answer(refs[i], who, "Answer text", now);
    if (i % 20 == 0) store.close(refs[i], who, now);
  }
  std::printf("store: seeded %d cases in %.1f s\n", n,
              std::chrono::duration<double>(Clock::now() - t0).count());
}

// A blocking HTTP/1.1 keep-alive client for one connection.
class Client {
 public:
  explicit Client(int port) : port_(port) { connect_now(); }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }

  // Returns the status; fills body and headers.
  int request(const std::string& method, const std::string& target, const std::string& cookie,
              const std::string& body, std::string& out_body, std::string& out_headers) {
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) +
                      "\r\nOrigin: http://127.0.0.1:" + std::to_string(port_) + "\r\n";
    if (!cookie.empty()) req += "Cookie: " + cookie + "\r\n";
    if (method == "POST")
      req += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " + std::to_string(body.size()) +
             "\r\n";
    req += "\r\n" + body;
    send_all(req);
    // Headers.
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) read_more();
    out_headers = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    int status = std::stoi(out_headers.substr(9, 3));
    std::size_t length = 0;
    std::string lower = out_headers;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (auto p = lower.find("content-length:"); p != std::string::npos) length = std::stoul(lower.substr(p + 15));
    while (buf_.size() < length) read_more();
    out_body = buf_.substr(0, length);
    buf_.erase(0, length);
    return status;
  }

 private:
  void connect_now() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw std::runtime_error("connect");
  }
  void send_all(const std::string& s) {
    std::size_t off = 0;
    while (off < s.size()) {
      auto n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send");
      off += static_cast<std::size_t>(n);
    }
  }
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

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// The store's listing, filter, count and search calls on one connection, without HTTP: what
// `casedesk queue list|search` and each web page ask of the store.
void store_queries(const std::filesystem::path& db, int cases) {
  queue::StoreOptions o;
  o.path = db;
  queue::Store store(o);
  const std::int64_t now = unix_now();
  auto filter = [](auto&& set) {
    queue::CaseFilter f;
    f.limit = 50;
    set(f);
    return f;
  };
  struct Query {
    std::string name;
    std::function<std::size_t()> run;
  };
  const std::vector<Query> queries = {
      {"list open, due (default)", [&] { return store.list_cases(filter([](auto& f) { f.open_only = true; }), now).size(); }},
      {"list status=new, received", [&] {
         return store.list_cases(filter([](auto& f) { f.status = "new"; f.sort = "received"; }), now).size();
       }},
      {"list priority=urgent", [&] { return store.list_cases(filter([](auto& f) { f.priority = "urgent"; }), now).size(); }},
      {"list owner (mine)", [&] { return store.list_cases(filter([](auto& f) { f.owner = "bench"; }), now).size(); }},
      {"list overdue, by priority", [&] {
         return store.list_cases(filter([](auto& f) { f.overdue_only = true; f.sort = "priority"; }), now).size();
       }},
      {"list all, page 500", [&] { return store.list_cases(filter([](auto& f) { f.offset = 24950; }), now).size(); }},
      {"list 100 with full codes (CLI)", [&] {
         return store.list_cases(filter([](auto& f) { f.open_only = true; f.limit = 100; }), now).size();
       }},
      {"count open", [&] {
         return static_cast<std::size_t>(store.count_cases(filter([](auto& f) { f.open_only = true; }), now));
       }},
      {"count overdue", [&] {
         return static_cast<std::size_t>(store.count_cases(filter([](auto& f) { f.overdue_only = true; }), now));
       }},
      {"search common word", [&] { return store.search_cases("meniscectomy", now).size(); }},
      {"search code M47.816", [&] { return store.search_cases("M47.816", now).size(); }},
      {"search rare (one case)", [&] { return store.search_cases(std::to_string(cases / 2), now).size(); }},
  };
  // References: the same default listing as one sorted SELECT over every open case (what
  // list_cases did before migration 6), and the overdue-first sort with it.
  SQLite::Database raw(db.string(), SQLite::OPEN_READONLY);
  auto reference = [&](const char* order) {
    SQLite::Statement q(raw, std::string("SELECT c.id FROM cases c WHERE c.status IN "
                                         "('new','in_review','waiting_on_submitter','answered') ORDER BY ") +
                                 order + " LIMIT 50");
    q.bind(":now", now);
    std::size_t n = 0;
    while (q.executeStep()) ++n;
    return n;
  };
  const std::vector<Query> references = {
      {"ref: one sorted SELECT, due", [&] {
         return reference("(c.status IN ('new','in_review') AND c.due_at < :now) DESC, c.due_at, c.id");
       }},
  };
  constexpr int kRuns = 200;
  std::printf("\nstore queries: %d cases, one connection, %d runs each (page size 50)\n", cases, kRuns);
  std::printf("%-34s %8s %9s %9s %9s\n", "query", "rows", "p50 ms", "p95 ms", "max ms");
  std::map<std::string, double> p50;
  auto all = queries;
  all.insert(all.end(), references.begin(), references.end());
  for (const auto& q : all) {
    std::vector<double> ms;
    std::size_t rows = 0;
    const int runs = q.name.rfind("ref:", 0) == 0 ? 20 : kRuns;
    for (int i = 0; i < runs; ++i) {
      auto start = Clock::now();
      rows = q.run();
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
    std::printf("%-34s %8zu %9.2f %9.2f %9.2f\n", q.name.c_str(), rows, percentile(ms, 0.5), percentile(ms, 0.95),
                percentile(ms, 1.0));
    p50[q.name] = percentile(ms, 0.5);
  }
  std::printf("default listing: merged index ranges %.0fx faster than one sorted SELECT (p50, ids only for the "
              "reference, whole cases for ours)\n",
              p50["ref: one sorted SELECT, due"] / p50["list open, due (default)"]);
}

}  // namespace

int main(int argc, char** argv) {
  int cases = 100000, clients = 20, requests = 50;
  std::string db;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--cases") cases = std::stoi(argv[i + 1]);
    else if (a == "--clients") clients = std::stoi(argv[i + 1]);
    else if (a == "--requests") requests = std::stoi(argv[i + 1]);
    else if (a == "--db") db = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: web_bench [--cases N] [--clients C] [--requests R] [--db FILE]\n");
      return 2;
    }
  }
  if (db.empty()) db = "/tmp/casedesk-web-bench-v2-" + std::to_string(cases) + ".db";
  seed(db, cases);

  store_queries(db, cases);

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

  // Sign in once; every client uses the session (the cookie) like 20 tabs of one consultant would.
  std::string cookie;
  {
    Client c(server.port());
    std::string body, headers;
    int st = c.request("POST", "/login", "", "user=bench&password=bench-password", body, headers);
    auto p = headers.find("Set-Cookie: ");
    if (st != 303 || p == std::string::npos) {
      std::fprintf(stderr, "login failed: %d\n", st);
      return 1;
    }
    cookie = headers.substr(p + 12, headers.find(';', p) - p - 12);
  }

  const std::vector<std::pair<std::string, std::string>> pages = {
      {"queue (default: open, due)", "/queue"},
      {"queue status=new sort=received", "/queue?status=new&sort=received"},
      {"queue overdue, priority", "/queue?overdue=1&sort=priority"},
      {"queue all, page 500", "/queue?status=all&page=500"},
      {"queue mine", "/queue?mine=1"},
      {"search \"meniscectomy\"", "/search?q=meniscectomy"},
  };
  std::map<std::string, std::vector<double>> lat;
  std::mutex lat_mutex;
  std::atomic<int> errors{0};
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      std::map<std::string, std::vector<double>> mine;
      try {
        Client client(server.port());
        std::string body, headers;
        for (int r = 0; r < requests; ++r) {
          const auto& [name, target] = pages[static_cast<std::size_t>(c + r) % pages.size()];
          auto start = Clock::now();
          int st = client.request("GET", target, cookie, "", body, headers);
          double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
          if (st != 200 || body.size() < 1000) ++errors;
          mine[name].push_back(ms);
        }
      } catch (const std::exception& e) {
        ++errors;
      }
      std::lock_guard lock(lat_mutex);
      for (auto& [k, v] : mine) lat[k].insert(lat[k].end(), v.begin(), v.end());
    });
  }
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  server.stop();
  io.stop();
  loop.join();

  std::vector<double> all;
  std::printf("\nweb_bench: %d cases, %d concurrent keep-alive clients x %d requests, one session, loopback\n",
              cases, clients, requests);
  std::printf("%-34s %6s %9s %9s %9s %9s\n", "page", "n", "p50 ms", "p95 ms", "p99 ms", "max ms");
  for (const auto& [name, _] : pages) {
    auto& v = lat[name];
    all.insert(all.end(), v.begin(), v.end());
    std::printf("%-34s %6zu %9.1f %9.1f %9.1f %9.1f\n", name.c_str(), v.size(), percentile(v, 0.5),
                percentile(v, 0.95), percentile(v, 0.99), percentile(v, 1.0));
  }
  std::printf("%-34s %6zu %9.1f %9.1f %9.1f %9.1f\n", "all queue and search pages", all.size(), percentile(all, 0.5),
              percentile(all, 0.95), percentile(all, 0.99), percentile(all, 1.0));
  std::printf("throughput: %.0f pages/s over %.1f s; errors: %d\n", static_cast<double>(all.size()) / secs, secs,
              errors.load());
  return errors.load() == 0 ? 0 : 1;
}
