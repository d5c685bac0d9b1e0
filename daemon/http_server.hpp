#pragma once
// A small HTTP/1.1 server (Boost.Beast) on a caller-owned io_context, for the web UI and /metrics.
//
// Connections are read and written on the io_context (one strand each, keep-alive, a deadline on
// every read and write, header and body size limits). What one client can hold is bounded: the
// request head must arrive within header_timeout of the request's start (its accept, or its first
// byte after a keep-alive pause), the body within body_timeout after the head; one client address
// holds at most max_connections_per_client connections, everyone together max_connections; when
// full, the oldest idle keep-alive connection is closed to make room. Requests from
// trusted_proxies are counted, and reported in HttpRequest::remote, by their X-Forwarded-For
// client. HEAD is given to the handler as "HEAD" and answered without the body. An HTTP/1.1
// request without exactly one Host field (or any request with two) gets 400 (RFC 9112 §3.2). The handler runs on the server's own small
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
  std::string remote;  // the client's IP address ("127.0.0.1"): the peer, or for a peer in
                       // trusted_proxies the rightmost untrusted X-Forwarded-For address
  std::map<std::string, std::string> headers;  // lower-case names; repeated fields joined with ", "
                                               // ("; " for cookie)
  std::string peer;    // the TCP peer's IP address (== remote unless it is a trusted proxy)
  bool secure = false; // a trusted proxy said X-Forwarded-Proto: https
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
  // Keep-alive idle time before the next request; also a ceiling on header_timeout and body_timeout.
  std::chrono::milliseconds read_timeout{30000};
  std::chrono::milliseconds write_timeout{30000};  // per response
  int handler_threads = 4;      // the pool that runs the handler
  int max_connections = 512;    // when full: the oldest idle keep-alive connection goes, else the new one
  std::chrono::milliseconds header_timeout{10000};  // request line + fields, from the request's start
  std::chrono::milliseconds body_timeout{30000};    // the body, from the end of the head
  int max_connections_per_client = 32;  // per client address; more are closed at once
  std::vector<std::string> trusted_proxies;  // IP addresses whose X-Forwarded-For/-Proto are believed
};

class HttpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class HttpServer {
 public:
  // Does not listen yet. `host` is an IP address or a name resolved at start(); port 0 = any free port.
  // @throw HttpError when an entry of limits.trusted_proxies is not an IP address.
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
