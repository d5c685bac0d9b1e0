#include "daemon/http_server.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

namespace casedesk::daemon {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

class Session;

bool is_token_char(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool valid_field_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) { return is_token_char(c); });
}

bool valid_field_value(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace

struct detail::HttpShared : std::enable_shared_from_this<detail::HttpShared> {
  HttpShared(net::io_context& io_, std::string host_, int port_, HttpHandler handler_, HttpLimits limits_)
      : io(io_),
        host(std::move(host_)),
        requested_port(port_),
        handler(std::move(handler_)),
        limits(limits_),
        pool(static_cast<std::size_t>(std::max(1, limits_.handler_threads))),
        acceptor(net::make_strand(io_)),
        retry_timer(acceptor.get_executor()) {
    for (const auto& text : limits.trusted_proxies) {
      beast::error_code ec;
      auto a = net::ip::make_address(text, ec);
      if (ec) throw HttpError("trusted proxy \"" + text + "\" is not an IP address");
      trusted.push_back(a);
    }
  }

  net::io_context& io;
  std::string host;
  int requested_port;
  HttpHandler handler;
  HttpLimits limits;
  std::vector<net::ip::address> trusted;
  net::thread_pool pool;
  tcp::acceptor acceptor;
  net::steady_timer retry_timer;
  std::atomic<bool> stopped{false};
  std::atomic<int> bound_port{0};

  // Live sessions, each with the client key it is counted under ("" = not counted: a trusted
  // proxy's connection between requests). A session leaves the map in its destructor, or earlier
  // when it is evicted; whoever removes it gives back its count.
  std::mutex sessions_mutex;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
  std::unordered_map<std::string, int> per_client;

  // Refused connections, logged at most every 10 s.
  std::mutex refused_mutex;
  std::uint64_t refused = 0;
  std::chrono::steady_clock::time_point refused_logged{};

  bool is_trusted(const net::ip::address& a) const {
    return std::find(trusted.begin(), trusted.end(), a) != trusted.end();
  }
  void count_locked(const std::string& key, int delta) {
    if (key.empty()) return;
    auto it = per_client.try_emplace(key, 0).first;
    it->second += delta;
    if (it->second <= 0) per_client.erase(it);
  }
  int count_of_locked(const std::string& key) const {
    auto it = per_client.find(key);
    return it == per_client.end() ? 0 : it->second;
  }
  void release(Session* s);
  bool rebind(Session* s, const std::string& key);
  void note_refused(const char* why);

  void do_accept();
  void on_accept(beast::error_code ec, tcp::socket socket);
};

namespace {

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, std::shared_ptr<detail::HttpShared> shared, net::ip::address peer, bool trusted_peer)
      : stream_(std::move(socket)), shared_(std::move(shared)), peer_(peer), trusted_peer_(trusted_peer) {
    peer_text_ = peer_.to_string();
  }

  // The first request's head is due header_timeout after the accept: a client that connects and
  // says nothing holds its slot no longer than one that dribbles a header line a second.
  void run() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->start_request(); });
  }

  // Called from any thread: closes the connection on its strand.
  void close() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      self->stream_.close();
    });
  }

  // Guarded by HttpShared::sessions_mutex.
  std::string key_;
  // Between a kept-alive response and the next request's first byte (read by the acceptor).
  std::atomic<bool> idle_{false};
  std::atomic<std::int64_t> idle_since_{0};

 private:
  static std::chrono::milliseconds capped(std::chrono::milliseconds a, std::chrono::milliseconds ceiling) {
    return std::min(a, ceiling);
  }

  // A kept-alive connection waits up to read_timeout for the next request's first byte; only
  // then does the head's deadline start. While it waits it is "idle" and may be evicted.
  void wait_next() {
    if (shared_->stopped) return close_now();
    if (trusted_peer_) shared_->rebind(this, "");
    if (buffer_.size() > 0) return start_request();  // pipelined
    idle_since_ = steady_ms();
    idle_ = true;
    stream_.expires_after(shared_->limits.read_timeout);
    stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      self->idle_ = false;
      if (ec) return self->close_now();
      self->buffer_.commit(n);
      self->start_request();
    });
  }

  void start_request() {
    if (shared_->stopped) return close_now();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(shared_->limits.max_header_bytes));
    parser_->body_limit(shared_->limits.max_body_bytes);
    stream_.expires_after(capped(shared_->limits.header_timeout, shared_->limits.read_timeout));
    http::async_read_header(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_header(ec);
    });
  }

  void on_read_error(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::operation_aborted || ec == beast::error::timeout)
      return close_now();
    if (ec == http::error::body_limit) return send_error(413, "Payload Too Large\n");
    if (ec == http::error::header_limit) return send_error(431, "Request Header Fields Too Large\n");
    if (ec != net::error::connection_reset && ec != net::error::eof)
      spdlog::debug("http: bad request from peer: {}", ec.message());
    if (ec.category() == http::make_error_code(http::error::bad_method).category())
      return send_error(400, "Bad Request\n");
    close_now();
  }

  // The client a trusted proxy forwards for: the rightmost X-Forwarded-For address that is not
  // itself a trusted proxy (the ones left of it are whatever the client claimed).
  std::string forwarded_client(const http::request<http::string_body>& msg) const {
    std::vector<std::string_view> hops;
    for (auto [it, end] = msg.equal_range("X-Forwarded-For"); it != end; ++it) {
      std::string_view v(it->value().data(), it->value().size());
      while (!v.empty()) {
        auto comma = v.find(',');
        hops.push_back(trim_ows(v.substr(0, comma)));
        if (comma == std::string_view::npos) break;
        v.remove_prefix(comma + 1);
      }
    }
    std::string client = peer_text_;
    for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
      beast::error_code ec;
      auto a = net::ip::make_address(std::string(*it), ec);
      if (ec) break;  // not an address: what is left of it cannot be trusted either
      client = a.to_string();
      if (!shared_->is_trusted(a)) break;
    }
    return client;
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    auto& msg = parser_->get();
    version_ = msg.version();
    auto hosts = std::distance(msg.equal_range(http::field::host).first, msg.equal_range(http::field::host).second);
    if (hosts > 1 || (version_ >= 11 && hosts == 0))
      return send_error(400, "Bad Request: a request needs exactly one Host header\n");
    remote_ = peer_text_;
    secure_ = false;
    if (trusted_peer_) {
      remote_ = forwarded_client(msg);
      if (auto it = msg.find("X-Forwarded-Proto"); it != msg.end())
        secure_ = lower(trim_ows(std::string_view(it->value().data(), it->value().size()))) == "https";
      if (!shared_->rebind(this, remote_)) {
        shared_->note_refused("too many connections from one forwarded client");
        return send_error(503, "Service Unavailable: too many connections from your address\n");
      }
    }
    if (parser_->is_done()) return on_request();
    stream_.expires_after(capped(shared_->limits.body_timeout, shared_->limits.read_timeout));
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->on_read_error(ec);
      self->on_request();
    });
  }

  void on_request() {
    auto& msg = parser_->get();
    HttpRequest req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    req.body = std::move(msg.body());
    req.remote = remote_;
    req.peer = peer_text_;
    req.secure = secure_;
    for (const auto& field : msg) {
      std::string name = lower(std::string_view(field.name_string().data(), field.name_string().size()));
      auto [it, inserted] = req.headers.try_emplace(name, std::string(field.value()));
      if (!inserted) {
        it->second += name == "cookie" ? "; " : ", ";
        it->second += std::string(field.value());
      }
    }
    keep_alive_ = msg.keep_alive();
    head_ = msg.method() == http::verb::head;
    parser_.reset();

    if (shared_->stopped) return close_now();
    // The handler may block (SQLite): run it on the pool, write the answer back on our strand.
    net::post(shared_->pool, [self = shared_from_this(), req = std::move(req)]() mutable {
      HttpResponse res;
      if (self->shared_->stopped) {
        res.status = 503;
        res.body = "Service Unavailable\n";
      } else {
        try {
          res = self->shared_->handler(req);
        } catch (const std::exception& e) {
          spdlog::error("http: handler failed for {} request: {}", req.method, e.what());
          res = HttpResponse{};
          res.status = 500;
          res.body = "Internal Server Error\n";
        }
      }
      auto executor = self->stream_.get_executor();
      net::post(executor, [self = std::move(self), res = std::move(res)]() mutable { self->write(std::move(res)); });
    });
  }

  void send_error(int status, std::string body) {
    keep_alive_ = false;
    head_ = false;
    HttpResponse res;
    res.status = status;
    res.body = std::move(body);
    write(std::move(res));
  }

  // Status line and fields of `res` on `out`.
  template <class Message>
  void fill_header(Message& out, const HttpResponse& res) {
    out.version(version_ == 10 ? 10 : 11);
    out.result(static_cast<unsigned>(res.status));
    if (valid_field_value(res.content_type)) out.set(http::field::content_type, res.content_type);
    for (auto& [name, value] : res.headers) {
      if (!valid_field_name(name) || !valid_field_value(value)) {
        spdlog::warn("http: dropped a response header with an invalid name or value");
        continue;
      }
      out.insert(name, value);
    }
  }

  // A streamed body: the header, then one piece at a time, each fetched on the handler pool (it
  // reads the store) and written on our strand; one piece is held at a time.
  struct Streamed {
    http::response<http::buffer_body> msg;
    std::optional<http::response_serializer<http::buffer_body>> serializer;
    std::function<std::optional<std::string>()> next;
    std::string piece;
    std::uint64_t left = 0;
  };

  void write_stream(HttpResponse res) {
    auto st = std::make_shared<Streamed>();
    fill_header(st->msg, res);
    st->msg.content_length(res.stream_size);
    st->msg.keep_alive(keep_alive_ && !shared_->stopped);
    st->left = head_ ? 0 : res.stream_size;
    st->msg.body().data = nullptr;
    st->msg.body().size = 0;
    st->msg.body().more = st->left > 0;
    st->next = std::move(res.stream);
    st->serializer.emplace(st->msg);
    stream_.expires_after(shared_->limits.write_timeout);
    http::async_write_header(stream_, *st->serializer, [self = shared_from_this(), st](beast::error_code ec, std::size_t) {
      if (ec) return self->close_now();
      if (st->left == 0) return self->stream_done(st);
      self->next_piece(st);
    });
  }

  void next_piece(std::shared_ptr<Streamed> st) {
    net::post(shared_->pool, [self = shared_from_this(), st = std::move(st)]() mutable {
      std::optional<std::string> piece;
      if (!self->shared_->stopped) {
        try {
          piece = st->next();
        } catch (const std::exception& e) {
          spdlog::error("http: a streamed body failed: {}", e.what());
        }
      }
      auto executor = self->stream_.get_executor();
      net::post(executor, [self = std::move(self), st = std::move(st), piece = std::move(piece)]() mutable {
        if (!piece || piece->empty() || piece->size() > st->left) {
          // The bytes are gone (or do not match the length sent): end the connection, so the
          // client sees a truncated response instead of a short one it would take for complete.
          spdlog::warn("http: a streamed body ended early; connection closed");
          return self->close_now();
        }
        st->piece = std::move(*piece);
        st->left -= st->piece.size();
        st->msg.body().data = st->piece.data();
        st->msg.body().size = st->piece.size();
        st->msg.body().more = st->left > 0;
        self->stream_.expires_after(self->shared_->limits.write_timeout);
        http::async_write(self->stream_, *st->serializer, [self, st](beast::error_code ec, std::size_t) {
          if (ec == http::error::need_buffer) ec = {};
          if (ec) return self->close_now();
          if (st->left == 0) return self->stream_done(st);
          self->next_piece(st);
        });
      });
    });
  }

  void stream_done(const std::shared_ptr<Streamed>& st) {
    if (!st->msg.keep_alive() || shared_->stopped) return close_now();
    wait_next();
  }

  void write(HttpResponse res) {
    if (res.stream) return write_stream(std::move(res));
    auto out = std::make_shared<http::response<http::string_body>>();
    fill_header(*out, res);
    out->body() = std::move(res.body);
    out->keep_alive(keep_alive_ && !shared_->stopped);
    out->prepare_payload();
    if (head_) out->body().clear();  // HEAD: GET's head, Content-Length included, and no body
    stream_.expires_after(shared_->limits.write_timeout);
    http::async_write(stream_, *out, [self = shared_from_this(), out](beast::error_code ec, std::size_t) {
      if (ec) return self->close_now();
      if (!out->keep_alive()) return self->close_now();
      self->wait_next();
    });
  }

  void close_now() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

 public:
  ~Session() { shared_->release(this); }

 private:
  beast::tcp_stream stream_;
  std::shared_ptr<detail::HttpShared> shared_;
  net::ip::address peer_;
  bool trusted_peer_ = false;
  std::string peer_text_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string remote_;
  bool secure_ = false;
  bool keep_alive_ = false;
  bool head_ = false;
  unsigned version_ = 11;
};

}  // namespace

void detail::HttpShared::release(Session* s) {
  std::lock_guard lock(sessions_mutex);
  if (sessions.erase(s)) count_locked(s->key_, -1);
}

bool detail::HttpShared::rebind(Session* s, const std::string& key) {
  std::lock_guard lock(sessions_mutex);
  if (!sessions.contains(s) || s->key_ == key) return true;  // evicted (closing anyway) or unchanged
  if (!key.empty() && count_of_locked(key) >= limits.max_connections_per_client) return false;
  count_locked(s->key_, -1);
  count_locked(key, +1);
  s->key_ = key;
  return true;
}

void detail::HttpShared::note_refused(const char* why) {
  std::lock_guard lock(refused_mutex);
  ++refused;
  auto now = std::chrono::steady_clock::now();
  if (now - refused_logged >= std::chrono::seconds(10)) {
    spdlog::warn("http: refused {} connection(s) since the last such line ({}); logged at most every 10 s", refused,
                 why);
    refused = 0;
    refused_logged = now;
  }
}

void detail::HttpShared::do_accept() {
  acceptor.async_accept(net::make_strand(io),
                        [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
                          self->on_accept(ec, std::move(socket));
                        });
}

void detail::HttpShared::on_accept(beast::error_code ec, tcp::socket socket) {
  if (stopped || ec == net::error::operation_aborted) return;
  if (ec) {
    // Out of descriptors and the like: back off briefly instead of spinning.
    spdlog::warn("http: accept failed: {}", ec.message());
    retry_timer.expires_after(std::chrono::milliseconds(100));
    retry_timer.async_wait([self = shared_from_this()](beast::error_code wec) {
      if (!wec && !self->stopped) self->do_accept();
    });
    return;
  }
  beast::error_code pec;
  auto endpoint = socket.remote_endpoint(pec);
  if (pec) {  // already gone
    socket.close(pec);
    return do_accept();
  }
  auto peer = endpoint.address();
  if (peer.is_v6() && peer.to_v6().is_v4_mapped()) peer = net::ip::make_address_v4(net::ip::v4_mapped, peer.to_v6());
  const bool trusted_peer = is_trusted(peer);
  // A trusted proxy's connections are counted by the client they forward for, once its head is read.
  const std::string key = trusted_peer ? std::string() : peer.to_string();

  std::shared_ptr<Session> session, evicted;  // destroyed after the lock is released
  const char* refused_why = nullptr;
  {
    std::lock_guard lock(sessions_mutex);
    if (!key.empty() && count_of_locked(key) >= limits.max_connections_per_client) {
      refused_why = "too many connections from one client address";
    } else {
      if (static_cast<int>(sessions.size()) >= limits.max_connections) {
        // Full: the connection idle the longest since its last response makes room.
        // (A Session in the map is alive, or its destructor waits for this lock.)
        Session* oldest = nullptr;
        for (auto& [ptr, weak] : sessions)
          if (ptr->idle_ && (!oldest || ptr->idle_since_ < oldest->idle_since_)) oldest = ptr;
        if (oldest) {
          evicted = sessions[oldest].lock();  // null when it is being destroyed: its slot is free anyway
          sessions.erase(oldest);
          count_locked(oldest->key_, -1);
        }
      }
      if (static_cast<int>(sessions.size()) >= limits.max_connections) {
        refused_why = "the server is full";
      } else {
        session = std::make_shared<Session>(std::move(socket), shared_from_this(), peer, trusted_peer);
        session->key_ = key;
        sessions.emplace(session.get(), session);
        count_locked(key, +1);
      }
    }
  }
  if (evicted) evicted->close();
  if (refused_why) {
    note_refused(refused_why);
    beast::error_code ignored;
    socket.close(ignored);
  }
  if (session) session->run();
  do_accept();
}

HttpServer::HttpServer(net::io_context& io, std::string host, int port, HttpHandler handler, HttpLimits limits)
    : shared_(std::make_shared<detail::HttpShared>(io, std::move(host), port, std::move(handler), limits)) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start() {
  auto& s = *shared_;
  std::string where = s.host + ":" + std::to_string(s.requested_port);
  beast::error_code ec;
  tcp::endpoint endpoint;
  auto address = net::ip::make_address(s.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, static_cast<unsigned short>(s.requested_port));
  } else {
    tcp::resolver resolver(s.io);
    auto results = resolver.resolve(s.host, std::to_string(s.requested_port), ec);
    if (ec || results.empty())
      throw HttpError("cannot listen on " + where + ": " + (ec ? ec.message() : "host not found"));
    endpoint = *results.begin();
  }
  s.acceptor.open(endpoint.protocol(), ec);
  if (!ec) s.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(endpoint, ec);
  if (!ec) s.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    beast::error_code ignored;
    s.acceptor.close(ignored);
    throw HttpError("cannot listen on " + where + ": " + ec.message());
  }
  s.bound_port = s.acceptor.local_endpoint(ec).port();
  net::dispatch(s.acceptor.get_executor(), [shared = shared_] { shared->do_accept(); });
}

void HttpServer::stop() {
  auto& s = *shared_;
  if (s.stopped.exchange(true)) return;
  // The acceptor lives on its strand: it is closed there. Accepts that complete before that see
  // `stopped` and drop the connection, so there is nothing to wait for.
  net::dispatch(s.acceptor.get_executor(), [shared = shared_] {
    beast::error_code ignored;
    shared->acceptor.close(ignored);
    shared->retry_timer.cancel();
  });
  std::vector<std::shared_ptr<Session>> live;  // released after the lock (a last reference destroys)
  {
    std::lock_guard lock(s.sessions_mutex);
    for (auto& [ptr, weak] : s.sessions)
      if (auto p = weak.lock()) live.push_back(std::move(p));
  }
  for (auto& session : live) session->close();
  live.clear();
  s.pool.stop();
  s.pool.join();
}

int HttpServer::port() const { return shared_->bound_port; }

}  // namespace casedesk::daemon
