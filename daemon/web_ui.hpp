#pragma once
// The consultants' web UI: server-rendered HTML pages (mustache, templates/web/) for the HttpServer.
//
// Pages: /login (rate limited), /logout, /queue (filters, sorting, paging), /search (FTS),
// /case/REF (mail text escaped, codes highlighted with their status, attachments, notes, replies,
// history) and its actions (POST /case/REF/{claim,release,note,answer,ask,close,reopen,reject,
// priority}), /static/app.css. Every page but /login and /static needs a session: GET without one
// redirects to /login, anything else gets 401. Every POST needs the session's CSRF token (hidden
// field `csrf`) and, when the browser sends them, a same-origin Origin / Sec-Fetch-Site.
//
// Sessions: a random 256-bit token in the cookie `casedesk_session` (HttpOnly, SameSite=Strict,
// Path=/; Secure with [web] tls_proxy = true, when a TLS proxy in front terminates https); the
// store keeps only its SHA-256. The client address (rate limits, logs) is HttpRequest::remote,
// which the server takes from X-Forwarded-For only for [web] trusted_proxies. Idle sessions end after [web] session_timeout.
//
// Threading: the handler is thread-safe. Each request borrows a Store from a small pool (a Store
// is single-threaded), so concurrent requests use separate SQLite connections. The handler holds
// the WebUi's state alive; the WebUi object itself may be destroyed once the server has stopped.

#include <cstdint>
#include <functional>
#include <memory>

#include "config/config.hpp"
#include "daemon/http_server.hpp"

namespace casedesk::daemon {

struct WebUiOptions {
  std::function<std::int64_t()> clock;  // Unix seconds; empty = the system clock
  // Failed sign-ins (see LoginGuard): login_failures of one account from one address, or
  // account_failures of one account from anywhere, within login_window seconds; or
  // address_failures from one address within address_window -> 429 until they age out.
  int login_failures = 5;
  std::int64_t login_window = 300;
  int account_failures = 20;
  int address_failures = 100;
  std::int64_t address_window = 600;
  // Called on a handler thread after an answer, question or rejection went into the outbox, so
  // the daemon can send it now instead of at its next poll. Must be thread-safe and quick.
  std::function<void()> on_reply_queued;
};

class WebUi {
 public:
  // Opens (and migrates) the store named by config.store to check it early.
  // @throw queue::StoreError when the store cannot be opened.
  explicit WebUi(const config::Config& config, WebUiOptions options = {});
  ~WebUi();
  WebUi(const WebUi&) = delete;
  WebUi& operator=(const WebUi&) = delete;

  // The request handler for an HttpServer.
  HttpHandler handler() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace casedesk::daemon
