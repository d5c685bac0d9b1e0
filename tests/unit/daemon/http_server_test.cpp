#include "daemon/http_server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <chrono>
#include <string>
#include <thread>

using casedesk::daemon::HttpError;
using casedesk::daemon::HttpLimits;
using casedesk::daemon::HttpRequest;
using casedesk::daemon::HttpResponse;
using casedesk::daemon::HttpServer;

namespace {

// A blocking loopback client: sends `request` and reads until the server closes or `stop_at` is seen.
std::string exchange(int port, const std::string& request, const std::string& stop_at = "",
                     int timeout_ms = 5000) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "<connect failed>";
  }
  std::size_t off = 0;
  while (off < request.size()) {
    auto n = ::send(fd, request.data() + off, request.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<std::size_t>(n);
  }
  std::string out;
  char buf[4096];
  for (;;) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (!stop_at.empty() && out.find(stop_at) != std::string::npos) break;
  }
  ::close(fd);
  return out;
}

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
};

HttpResponse echo(const HttpRequest& req) {
  HttpResponse res;
  res.body = req.method + " " + req.target + " remote=" + req.remote + " body=" + req.body;
  auto it = req.headers.find("x-test");
  if (it != req.headers.end()) res.body += " x-test=" + it->second;
  return res;
}

}  // namespace

TEST(HttpServer, ServesARequestAndBindsAFreePort) {
  Running r(echo);
  ASSERT_GT(r.server->port(), 0);
  auto out = exchange(r.server->port(), "GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-Test: yes\r\nConnection: close\r\n\r\n");
  EXPECT_NE(out.find("HTTP/1.1 200 OK"), std::string::npos) << out;
  EXPECT_NE(out.find("GET /a?b=1 remote=127.0.0.1 body= x-test=yes"), std::string::npos) << out;
}

TEST(HttpServer, KeepAliveServesSeveralRequestsOnOneConnection) {
  Running r(echo);
  std::string two = "POST /one HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                    "GET /two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  auto out = exchange(r.server->port(), two);
  EXPECT_NE(out.find("POST /one remote=127.0.0.1 body=abc"), std::string::npos) << out;
  EXPECT_NE(out.find("GET /two"), std::string::npos) << out;
}

TEST(HttpServer, RefusesOversizedBodyAndHeader) {
  HttpLimits limits;
  limits.max_body_bytes = 10;
  limits.max_header_bytes = 200;
  Running r(echo, limits);
  auto big_body = exchange(r.server->port(),
                           "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n01234567890");
  EXPECT_NE(big_body.find("413"), std::string::npos) << big_body;
  auto big_header = exchange(r.server->port(),
                             "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(400, 'a') + "\r\n\r\n");
  EXPECT_NE(big_header.find("431"), std::string::npos) << big_header;
}

TEST(HttpServer, DropsHeaderValuesWithLineBreaks) {
  Running r([](const HttpRequest&) {
    HttpResponse res;
    res.headers.push_back({"X-Ok", "fine"});
    res.headers.push_back({"X-Evil", "a\r\nSet-Cookie: pwned=1"});
    res.headers.push_back({"Bad Name", "x"});
    res.body = "ok";
    return res;
  });
  auto out = exchange(r.server->port(), "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(out.find("X-Ok: fine"), std::string::npos) << out;
  EXPECT_EQ(out.find("pwned"), std::string::npos) << out;
  EXPECT_EQ(out.find("Bad Name"), std::string::npos) << out;
}

TEST(HttpServer, HandlerExceptionGives500) {
  Running r([](const HttpRequest&) -> HttpResponse { throw std::runtime_error("boom"); });
  auto out = exchange(r.server->port(), "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(out.find("HTTP/1.1 500"), std::string::npos) << out;
  EXPECT_EQ(out.find("boom"), std::string::npos) << out;
}

TEST(HttpServer, IdleConnectionIsClosedAtTheReadDeadline) {
  HttpLimits limits;
  limits.read_timeout = std::chrono::milliseconds(200);
  Running r(echo, limits);
  auto start = std::chrono::steady_clock::now();
  auto out = exchange(r.server->port(), "GET / HTTP/1.1\r\nHost: x\r\n", "", 5000);  // never finished
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::seconds(3));
}

TEST(HttpServer, HandlersRunConcurrentlyOffTheLoop) {
  std::atomic<int> inside{0}, peak{0};
  Running r([&](const HttpRequest&) {
    int now = ++inside;
    int p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    --inside;
    return HttpResponse{};
  });
  std::vector<std::thread> clients;
  for (int i = 0; i < 3; ++i)
    clients.emplace_back([&] { exchange(r.server->port(), "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); });
  for (auto& t : clients) t.join();
  EXPECT_GE(peak.load(), 2);
}

TEST(HttpServer, StartThrowsWhenThePortIsTaken) {
  Running r(echo);
  boost::asio::io_context io;
  HttpServer second(io, "127.0.0.1", r.server->port(), echo);
  try {
    second.start();
    FAIL() << "expected HttpError";
  } catch (const HttpError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot listen on 127.0.0.1:"), std::string::npos) << e.what();
  }
}

TEST(HttpServer, StopClosesOpenConnections) {
  boost::asio::io_context io;
  HttpServer server(io, "127.0.0.1", 0, echo);
  server.start();
  std::thread t([&] {
    auto guard = boost::asio::make_work_guard(io);
    io.run_for(std::chrono::seconds(10));
  });
  std::thread client([&] {
    auto start = std::chrono::steady_clock::now();
    exchange(server.port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "", 8000);  // keep-alive: stays open
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  server.stop();
  client.join();
  io.stop();
  t.join();
}
