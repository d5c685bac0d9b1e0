#pragma once
// A small HTTP/1.1 server (Boost.Beast) on a caller-owned io_context, for the web UI and /metrics.
//
// Connections are read and written on the io_context (one strand each, keep-alive, a deadline on
// every read and write, header and body size limits). The handler runs on the server's own small
// thread pool, never on the io_context's threads, so it may block (SQLite); it must be thread-safe
// (several requests run at once) and must not call stop(). A handler that throws gives a 500.
// Header values with CR, LF or NUL (and invalid header names) are dropped from responses, so a
// handler cannot be tricked into response splitting.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace casedesk::daemon {

namespace detail {
struct HttpShared;
}

struct HttpRequest {
  std::string method;  // "GET", "POST", ... as sent
  std::string target;  // "/case/CD-000001?tab=notes" as sent (not decoded)
  std::string body;
  std::string remote;  // the peer's IP address ("127.0.0.1")
  std::map<std::string, std::string> headers;  // lower-case names; repeated fields joined with ", "
                                               // ("; " for cookie)
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;  // extra fields (Set-Cookie, Location, ...)
  std::string body;
  // A body too large to hold (a download): when set, `body` is ignored and exactly `stream_size`
  // bytes (the Content-Length) are sent, piece by piece. The server calls `stream` on its handler
  // pool, never on the io_context and never twice at once, for the next piece as the previous one
  // has been written; it returns a non-empty piece, or nullopt when it cannot go on (the bytes
  // vanished): the connection is closed then, so a short body is never taken for the whole.
  // It must not block for long (each call is one short read). Only one piece is held at a time.
  std::function<std::optional<std::string>()> stream;
  std::uint64_t stream_size = 0;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpLimits {
  std::size_t max_header_bytes = 16 * 1024;   // request line + fields; more -> 431
  std::size_t max_body_bytes = 1024 * 1024;   // more -> 413
  std::chrono::milliseconds read_timeout{30000};   // per request, including keep-alive idle time
  std::chrono::milliseconds write_timeout{30000};  // per response
  int handler_threads = 4;      // the pool that runs the handler
  int max_connections = 512;    // further connections are closed at once
};

class HttpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class HttpServer {
 public:
  // Does not listen yet. `host` is an IP address or a name resolved at start(); port 0 = any free port.
  HttpServer(boost::asio::io_context& io, std::string host, int port, HttpHandler handler,
             HttpLimits limits = {});
  // Stops (see stop()).
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts accepting on the io_context. Call once.
  // @throw HttpError "cannot listen on HOST:PORT: reason" when the address cannot be bound.
  void start();

  // Stops accepting, closes every connection and waits for running handlers to return (queued
  // ones are dropped). Idempotent; callable from any thread except a handler's.
  void stop();

  // The bound port (useful with port 0); 0 before start().
  int port() const;

 private:
  std::shared_ptr<detail::HttpShared> shared_;
};

}  // namespace casedesk::daemon
