// The HTTP server under hostile clients (issue 12 items 6, 7, 8): slow clients, connection caps,
// idle keep-alive eviction, trusted proxies, HEAD and Host. Real sockets on loopback; 127.0.0.2
// stands for "another client address" (all of 127/8 is loopback on Linux).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "daemon/http_server.hpp"

using casedesk::daemon::HttpLimits;
using casedesk::daemon::HttpRequest;
using casedesk::daemon::HttpResponse;
using casedesk::daemon::HttpServer;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

// One blocking client socket from a chosen loopback source address.
class Client {
 public:
  Client(int port, const char* source = "127.0.0.1") {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    ::inet_pton(AF_INET, source, &src.sin_addr);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&src), sizeof src);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool ok() const { return ok_; }
  int fd() const { return fd_; }
  bool send(const std::string& s) {
    return ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
  }
  // Reads until `stop_at` is seen (or the body announced by Content-Length is in), the peer
  // closes, or `timeout` passes.
  std::string read(std::chrono::milliseconds timeout = 3000ms, const std::string& stop_at = "") {
    std::string out;
    auto until = Clock::now() + timeout;
    char buf[4096];
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
      if (left <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) break;
      auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      out.append(buf, static_cast<std::size_t>(n));
      if (!stop_at.empty() && out.find(stop_at) != std::string::npos) break;
      if (complete(out)) break;
    }
    return out;
  }
  // True once the server has closed its side (reads 0 or an error), waiting up to `timeout`.
  bool closed_within(std::chrono::milliseconds timeout) {
    read(timeout);
    return closed_;
  }
  bool closed() const { return closed_; }

 private:
  static bool complete(const std::string& out) {
    auto end = out.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    auto cl = out.find("Content-Length: ");
    if (cl == std::string::npos || cl > end) return false;
    return out.size() >= end + 4 + std::stoul(out.substr(cl + 16));
  }
  int fd_ = -1;
  bool ok_ = false;
  bool closed_ = false;
};

struct Running {
  boost::asio::io_context io;
  std::unique_ptr<HttpServer> server;
  std::thread thread;

  Running(casedesk::daemon::HttpHandler handler, HttpLimits limits = {}) {
    server = std::make_unique<HttpServer>(io, "127.0.0.1", 0, std::move(handler), limits);
    server->start();
    thread = std::thread([this] {
      auto guard = boost::asio::make_work_guard(io);
      io.run();
    });
  }
  ~Running() {
    server->stop();
    io.stop();
    thread.join();
  }
  int port() const { return server->port(); }
};

HttpResponse echo(const HttpRequest& req) {
  HttpResponse res;
  res.body = req.method + " " + req.target + " remote=" + req.remote + " peer=" + req.peer +
             " secure=" + (req.secure ? "1" : "0");
  return res;
}

std::string body_of(const std::string& response) {
  auto at = response.find("\r\n\r\n");
  return at == std::string::npos ? std::string("<no head>") : response.substr(at + 4);
}

void raise_fd_limit(rlim_t wanted) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < wanted) {
    rl.rlim_cur = std::min(wanted, rl.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

const std::string kGet = "GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";

}  // namespace

// --- item 8: HEAD and Host ----------------------------------------------------------------------

TEST(AdversarialHttpServer, HeadIsAnsweredLikeGetWithoutTheBody) {
  Running r(echo);
  Client get(r.port());
  get.send(kGet);
  auto g = get.read();
  Client head(r.port());
  head.send("HEAD /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  std::string h;
  while (!head.closed()) h += head.read(1000ms);
  ASSERT_NE(h.find("HTTP/1.1 200 OK"), std::string::npos) << h;
  EXPECT_EQ(body_of(h), "");
  // The handler saw HEAD; the head says how long GET's body would be.
  auto glen = g.substr(g.find("Content-Length: "), g.find("\r\n", g.find("Content-Length: ")) - g.find("Content-Length: "));
  EXPECT_EQ(body_of(g), "GET /x remote=127.0.0.1 peer=127.0.0.1 secure=0");
  EXPECT_NE(h.find("Content-Length: " + std::to_string(std::string("HEAD /x remote=127.0.0.1 peer=127.0.0.1 secure=0").size())),
            std::string::npos) << h << "\n(GET had " << glen << ")";
}

TEST(AdversarialHttpServer, HeadOnAKeptAliveConnectionIsFollowedByTheNextResponse) {
  Running r(echo);
  Client c(r.port());
  c.send("HEAD /a HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  std::string out;
  while (!c.closed()) out += c.read(1000ms);
  auto second = out.find("HTTP/1.1 200", 1);
  ASSERT_NE(second, std::string::npos) << out;
  EXPECT_EQ(out.find("HEAD /a remote"), std::string::npos) << out;  // HEAD's body never sent
  EXPECT_NE(out.find("GET /b remote"), std::string::npos) << out;
}

TEST(AdversarialHttpServer, Http11WithoutHostOrWithTwoHostsIs400) {
  std::atomic<int> calls{0};
  Running r([&](const HttpRequest& q) {
    ++calls;
    return echo(q);
  });
  for (const std::string req : {"GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
                                "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n",
                                "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n"}) {
    Client c(r.port());
    c.send(req);
    auto out = c.read();
    EXPECT_NE(out.find(" 400 "), std::string::npos) << req << " -> " << out;
  }
  EXPECT_EQ(calls, 0);
  // HTTP/1.0 needs no Host.
  Client old(r.port());
  old.send("GET / HTTP/1.0\r\n\r\n");
  EXPECT_NE(old.read().find(" 200 "), std::string::npos);
}

// --- item 6: slow clients -----------------------------------------------------------------------

// 600 slow clients from 127.0.0.1, each sending a header line every 250 ms, never finishing.
// Another address is served at once; the slow ones are closed: those over the per-client cap at
// once, the admitted ones at the head's deadline.
TEST(AdversarialHttpServer, SixHundredSlowClientsDoNotStarveAnotherAddress) {
  raise_fd_limit(4096);
  HttpLimits limits;
  limits.header_timeout = 1500ms;  // default 10 s; shortened so the test is quick
  Running r(echo, limits);
  constexpr int kSlow = 600;
  std::vector<std::unique_ptr<Client>> slow;
  std::vector<Clock::time_point> opened(kSlow), closed_at(kSlow);
  std::vector<bool> closed(kSlow, false);
  for (int i = 0; i < kSlow; ++i) {
    slow.push_back(std::make_unique<Client>(r.port(), "127.0.0.1"));
    opened[i] = Clock::now();
    ASSERT_TRUE(slow.back()->ok()) << i;
    slow.back()->send("GET /slow HTTP/1.1\r\nHost: t\r\n");
  }
  auto attack_start = opened[0];
  // Dribble and watch for closes for up to 4 s (deadline 1.5 s + margin).
  std::chrono::milliseconds served_in{-1};
  std::string served;
  auto next_dribble = Clock::now();
  auto probe_at = Clock::now() + 300ms;
  bool probed = false;
  while (Clock::now() - attack_start < 4s) {
    if (Clock::now() >= next_dribble) {
      for (int i = 0; i < kSlow; ++i)
        if (!closed[i]) slow[i]->send("X-Slow: a\r\n");
      next_dribble += 250ms;
    }
    if (!probed && Clock::now() >= probe_at) {
      probed = true;
      auto t0 = Clock::now();
      Client other(r.port(), "127.0.0.2");
      other.send(kGet);
      served = other.read(2000ms);
      served_in = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
    }
    std::vector<pollfd> fds;
    std::vector<int> which;
    for (int i = 0; i < kSlow; ++i)
      if (!closed[i]) {
        fds.push_back({slow[i]->fd(), POLLIN, 0});
        which.push_back(i);
      }
    if (fds.empty() && probed) break;
    ::poll(fds.data(), fds.size(), 20);
    for (std::size_t k = 0; k < fds.size(); ++k) {
      if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char b[512];
      auto n = ::recv(fds[k].fd, b, sizeof b, MSG_DONTWAIT);
      if (n <= 0) {
        closed[which[k]] = true;
        closed_at[which[k]] = Clock::now();
      }
    }
  }
  EXPECT_NE(served.find("200 OK"), std::string::npos) << served;
  EXPECT_GE(served_in.count(), 0);
  EXPECT_LT(served_in, 2000ms);
  int n_closed = 0, n_at_once = 0;
  std::chrono::milliseconds longest{0};
  for (int i = 0; i < kSlow; ++i) {
    if (!closed[i]) continue;
    ++n_closed;
    auto lived = std::chrono::duration_cast<std::chrono::milliseconds>(closed_at[i] - opened[i]);
    longest = std::max(longest, lived);
    if (lived < 500ms) ++n_at_once;
  }
  EXPECT_EQ(n_closed, kSlow);
  EXPECT_GE(n_at_once, kSlow - 32);  // over the per-client cap: refused at once
  EXPECT_LE(longest, 1500ms + 1000ms);  // the admitted ones: by the head's deadline
  std::printf("[ figures ] 600 slow clients: other address served in %lld ms; %d/%d slow closed, %d at once, "
              "longest lived %lld ms (header_timeout 1500 ms)\n",
              static_cast<long long>(served_in.count()), n_closed, kSlow, n_at_once,
              static_cast<long long>(longest.count()));
}

TEST(AdversarialHttpServer, BodyMustArriveWithinItsDeadline) {
  HttpLimits limits;
  limits.header_timeout = 3000ms;
  limits.body_timeout = 400ms;
  Running r(echo, limits);
  Client c(r.port());
  auto t0 = Clock::now();
  c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
  EXPECT_TRUE(c.closed_within(2500ms));
  auto took = Clock::now() - t0;
  EXPECT_GE(took, 350ms);
  EXPECT_LT(took, 1500ms);
}

TEST(AdversarialHttpServer, HeadDeadlineHoldsAgainstADribble) {
  HttpLimits limits;
  limits.header_timeout = 600ms;
  Running r(echo, limits);
  Client c(r.port());
  auto t0 = Clock::now();
  c.send("GET / HTTP/1.1\r\n");
  bool closed = false;
  while (Clock::now() - t0 < 3s && !(closed = c.closed_within(100ms))) c.send("X-A: b\r\n");
  EXPECT_TRUE(closed);
  EXPECT_LT(Clock::now() - t0, 1500ms);
}

TEST(AdversarialHttpServer, PerClientCapLeavesRoomForOthers) {
  HttpLimits limits;
  limits.max_connections_per_client = 3;
  Running r(echo, limits);
  std::vector<std::unique_ptr<Client>> held;
  for (int i = 0; i < 3; ++i) held.push_back(std::make_unique<Client>(r.port(), "127.0.0.1"));
  std::this_thread::sleep_for(100ms);
  Client fourth(r.port(), "127.0.0.1");
  EXPECT_TRUE(fourth.closed_within(1000ms));
  Client other(r.port(), "127.0.0.2");
  other.send(kGet);
  EXPECT_NE(other.read().find("200 OK"), std::string::npos);
  held.pop_back();  // a slot frees up
  std::this_thread::sleep_for(100ms);
  Client again(r.port(), "127.0.0.1");
  again.send(kGet);
  EXPECT_NE(again.read().find("200 OK"), std::string::npos);
}

TEST(AdversarialHttpServer, WhenFullTheOldestIdleKeepAliveConnectionMakesRoom) {
  HttpLimits limits;
  limits.max_connections = 3;
  Running r(echo, limits);
  std::vector<std::unique_ptr<Client>> idle;
  for (int i = 0; i < 3; ++i) {
    idle.push_back(std::make_unique<Client>(r.port(), "127.0.0.1"));
    idle.back()->send("GET /k HTTP/1.1\r\nHost: t\r\n\r\n");  // kept alive
    ASSERT_NE(idle.back()->read().find("200 OK"), std::string::npos);
    std::this_thread::sleep_for(50ms);
  }
  Client fresh(r.port(), "127.0.0.2");
  fresh.send(kGet);
  EXPECT_NE(fresh.read().find("200 OK"), std::string::npos);
  EXPECT_TRUE(idle[0]->closed_within(1000ms));  // the oldest idle one went
  idle[1]->send("GET /k2 HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_NE(idle[1]->read().find("200 OK"), std::string::npos);  // the others stay
}

TEST(AdversarialHttpServer, FullOfBusyConnectionsRefusesNewOnes) {
  HttpLimits limits;
  limits.max_connections = 2;
  Running r(echo, limits);
  Client a(r.port(), "127.0.0.1"), b(r.port(), "127.0.0.2");  // mid-request, not idle
  a.send("GET / HTTP/1.1\r\n");
  b.send("GET / HTTP/1.1\r\n");
  std::this_thread::sleep_for(100ms);
  Client c(r.port(), "127.0.0.3");
  EXPECT_TRUE(c.closed_within(1000ms));
  EXPECT_FALSE(a.closed_within(100ms));
}

// --- item 7: trusted proxies --------------------------------------------------------------------

TEST(AdversarialHttpServer, ForwardedForIsBelievedOnlyFromTrustedProxies) {
  HttpLimits limits;
  limits.trusted_proxies = {"127.0.0.1"};
  Running r(echo, limits);
  Client proxy(r.port(), "127.0.0.1");
  proxy.send("GET / HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 6.6.6.6, 203.0.113.7, 127.0.0.1\r\n"
             "X-Forwarded-Proto: https\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(body_of(proxy.read()), "GET / remote=203.0.113.7 peer=127.0.0.1 secure=1");
  Client direct(r.port(), "127.0.0.2");
  direct.send("GET / HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\n"
              "Connection: close\r\n\r\n");
  EXPECT_EQ(body_of(direct.read()), "GET / remote=127.0.0.2 peer=127.0.0.2 secure=0");
  Client garbage(r.port(), "127.0.0.1");
  garbage.send("GET / HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: nonsense\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(body_of(garbage.read()), "GET / remote=127.0.0.1 peer=127.0.0.1 secure=0");
}

TEST(AdversarialHttpServer, BehindATrustedProxyTheCapCountsTheForwardedClient) {
  HttpLimits limits;
  limits.trusted_proxies = {"127.0.0.1"};
  limits.max_connections_per_client = 2;
  limits.handler_threads = 8;
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  Running r([&](const HttpRequest& q) {
    if (q.target == "/hold") {
      std::unique_lock lock(mu);
      cv.wait_for(lock, 5s, [&] { return release; });
    }
    return echo(q);
  }, limits);
  // The proxy itself may hold more connections than one client's cap.
  std::vector<std::unique_ptr<Client>> conns;
  for (int i = 0; i < 4; ++i) conns.push_back(std::make_unique<Client>(r.port(), "127.0.0.1"));
  const std::string hold = "GET /hold HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 198.51.100.1\r\nConnection: close\r\n\r\n";
  conns[0]->send(hold);
  conns[1]->send(hold);
  std::this_thread::sleep_for(200ms);
  conns[2]->send(hold);  // a third from the same forwarded client: over its cap
  auto third = conns[2]->read(1500ms);
  EXPECT_NE(third.find(" 503 "), std::string::npos) << third;
  conns[3]->send("GET /x HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 198.51.100.2\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(body_of(conns[3]->read()), "GET /x remote=198.51.100.2 peer=127.0.0.1 secure=0");
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  EXPECT_NE(conns[0]->read().find("200 OK"), std::string::npos);
}
