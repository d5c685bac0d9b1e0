#include "daemon/web_ui.hpp"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <ctime>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "daemon/login_guard.hpp"
#include "daemon/password.hpp"
#include "daemon/store_options.hpp"
#include "daemon/web_forms.hpp"
#include "parsers/codes.hpp"
#include "parsers/message.hpp"
#include "queue/store.hpp"
#include "templates/builtin.hpp"
#include "templates/renderer.hpp"

namespace casedesk::daemon {

namespace {

using json = nlohmann::json;

constexpr std::string_view kCookie = "casedesk_session";
constexpr int kPageSize = 50;
constexpr std::size_t kMaxText = 64 * 1024;  // an answer, a note or a reason
constexpr std::string_view kCsp =
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

std::string to_hex(const unsigned char* data, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(digits[data[i] >> 4]);
    out.push_back(digits[data[i] & 15]);
  }
  return out;
}

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  randombytes_buf(buf.data(), buf.size());
  return to_hex(buf.data(), buf.size());
}

std::string sha256_hex(std::string_view s) {
  unsigned char out[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(out, reinterpret_cast<const unsigned char*>(s.data()), s.size());
  return to_hex(out, sizeof out);
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "2026-11-26 09:15 UTC"
std::string when(std::int64_t epoch) {
  std::time_t t = static_cast<std::time_t>(epoch);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

json opt(const std::optional<std::string>& s) { return s && !s->empty() ? json(*s) : json(nullptr); }
json nonempty(std::string s) { return s.empty() ? json(nullptr) : json(std::move(s)); }

std::string human_size(std::size_t n) {
  char buf[32];
  if (n < 1024) {
    std::snprintf(buf, sizeof buf, "%zu bytes", n);
  } else if (n < 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KB", static_cast<double>(n) / 1024);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(n) / (1024 * 1024));
  }
  return buf;
}

std::optional<std::int64_t> to_int(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string_view status_label(std::string_view s) {
  if (s == queue::kStatusNew) return "New";
  if (s == queue::kStatusInReview) return "In review";
  if (s == queue::kStatusAnswered) return "Answered";
  if (s == queue::kStatusWaiting) return "Waiting on submitter";
  if (s == queue::kStatusClosed) return "Closed";
  if (s == queue::kStatusRejected) return "Rejected";
  return s;
}

// The status as a CSS class suffix: only known values, so nothing user-controlled lands in `class`.
std::string status_class(std::string_view s) {
  for (auto known : queue::all_statuses())
    if (s == known) return std::string(s);
  return "other";
}

std::string code_status_class(const std::optional<std::string>& status) {
  static constexpr std::string_view known[] = {"billable", "header", "invalid", "terminated", "deleted", "format-only"};
  if (status)
    for (auto k : known)
      if (*status == k) return std::string(k);
  return "unchecked";
}

std::string code_text(const parsers::Code& c) {
  std::string out = c.code;
  for (const auto& m : c.modifiers) out += "-" + m;
  return out;
}

bool is_open(std::string_view s) {
  return s == queue::kStatusNew || s == queue::kStatusInReview || s == queue::kStatusWaiting ||
         s == queue::kStatusAnswered;
}

// Borrowed Stores: a Store is single-threaded, so each request takes one and gives it back.
class StorePool {
 public:
  explicit StorePool(queue::StoreOptions options) : options_(std::move(options)) {}

  class Lease {
   public:
    Lease(StorePool& pool, std::unique_ptr<queue::Store> store) : pool_(pool), store_(std::move(store)) {}
    ~Lease() { pool_.give_back(std::move(store_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    queue::Store* operator->() const { return store_.get(); }
    queue::Store& operator*() const { return *store_; }

   private:
    StorePool& pool_;
    std::unique_ptr<queue::Store> store_;
  };

  Lease take() {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        auto store = std::move(idle_.back());
        idle_.pop_back();
        return Lease(*this, std::move(store));
      }
    }
    return Lease(*this, std::make_unique<queue::Store>(options_));
  }

 private:
  void give_back(std::unique_ptr<queue::Store> store) {
    if (!store) return;
    std::lock_guard lock(mutex_);
    if (idle_.size() < 8) idle_.push_back(std::move(store));
  }

  queue::StoreOptions options_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<queue::Store>> idle_;
};

struct Session {
  std::string token_sha256;
  queue::WebSession data;
};

struct Span {
  std::size_t start = 0;
  std::size_t end = 0;
  const parsers::Code* code = nullptr;
};

// The text cut into plain and highlighted pieces.
json segments(std::string_view text, std::vector<Span> spans) {
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.start < b.start; });
  json out = json::array();
  std::size_t pos = 0;
  for (const auto& s : spans) {
    if (s.start < pos || s.end > text.size() || s.start >= s.end) continue;  // overlapping or stale
    if (s.start > pos) out.push_back({{"hl", false}, {"text", std::string(text.substr(pos, s.start - pos))}});
    std::string title = std::string(parsers::to_string(s.code->system)) + " " + s.code->code + " — " +
                        (s.code->status ? *s.code->status : std::string("not checked"));
    for (const auto& n : s.code->notes) title += "; " + n;
    out.push_back({{"hl", true},
                   {"text", std::string(text.substr(s.start, s.end - s.start))},
                   {"hl_class", code_status_class(s.code->status)},
                   {"hl_title", title}});
    pos = s.end;
  }
  if (pos < text.size()) out.push_back({{"hl", false}, {"text", std::string(text.substr(pos))}});
  return out;
}

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// A mention's end, moved past the "-50" modifiers written right after the code.
std::size_t with_modifiers(std::string_view text, const parsers::CodeMention& m) {
  std::size_t end = m.end;
  while (end + 2 < text.size() && text[end] == '-') {
    std::string_view mod = text.substr(end + 1, 2);
    bool known = std::any_of(m.modifiers.begin(), m.modifiers.end(),
                             [&](const std::string& x) { return lower(x) == lower(mod); });
    if (!known || (end + 3 < text.size() && word_char(text[end + 3]))) break;
    end += 3;
  }
  return end;
}

// Where the case's codes appear in a text without recorded offsets (follow-ups, answers): whole
// tokens, case-insensitive, with or without the ICD-10 dot.
std::vector<Span> find_codes(std::string_view text, const std::vector<parsers::Code>& codes) {
  std::vector<Span> out;
  std::string hay = lower(text);
  for (const auto& c : codes) {
    std::vector<std::string> forms{lower(c.code)};
    std::string undotted = forms[0];
    std::erase(undotted, '.');
    if (undotted != forms[0]) forms.push_back(undotted);
    for (const auto& f : forms) {
      if (f.size() < 3) continue;
      for (std::size_t at = hay.find(f); at != std::string::npos && out.size() < 500; at = hay.find(f, at + 1)) {
        std::size_t end = at + f.size();
        if ((at > 0 && word_char(hay[at - 1])) || (end < hay.size() && word_char(hay[end]))) continue;
        out.push_back({at, end, &c});
      }
    }
  }
  return out;
}

}  // namespace

struct WebUi::Impl : std::enable_shared_from_this<WebUi::Impl> {
  Impl(const config::Config& config, WebUiOptions opts)
      : desk_name(config.desk.name),
        session_timeout(std::max<std::int64_t>(
            60, std::chrono::duration_cast<std::chrono::seconds>(config.web.session_timeout).count())),
        options(std::move(opts)),
        stores(store_options(config)),
        pages(templates::Renderer::web_pages()),
        secure_cookie(config.web.tls_proxy),
        limiter(LoginPolicy{.per_address_account = options.login_failures,
                            .address_account_window = options.login_window,
                            .per_account = options.account_failures,
                            .account_window = options.login_window,
                            .per_address = options.address_failures,
                            .address_window = options.address_window}) {
    for (const auto& a : templates::web_assets())
      if (a.name == "app.css") css = std::string(a.source);
  }

  std::string desk_name;
  std::int64_t session_timeout;
  WebUiOptions options;
  StorePool stores;
  templates::Renderer pages;
  bool secure_cookie;  // behind a TLS proxy: the cookie is Secure
  LoginGuard limiter;
  std::string css;
  std::once_flag dummy_once;
  std::string dummy_hash;

  std::int64_t now() const {
    if (options.clock) return options.clock();
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  HttpResponse handle(const HttpRequest& req);
  HttpResponse route(const HttpRequest& req, const Target& target);

  // Pages.
  HttpResponse page(int status, const Session* s, const std::string& title, const std::string& content,
                    json layout = json::object());
  HttpResponse message(int status, const Session* s, const std::string& heading, const std::string& text,
                       const std::string& link = "/queue", const std::string& link_text = "Back to the queue");
  HttpResponse login_page(int status, const std::string& next, const std::string& user, const std::string& msg);
  HttpResponse login(const HttpRequest& req);
  HttpResponse logout(const Session& s, queue::Store& store);
  HttpResponse queue_page(const Session& s, queue::Store& store, const Target& target);
  HttpResponse search_page(const Session& s, queue::Store& store, const Target& target);
  HttpResponse case_page(const Session& s, queue::Store& store, const std::string& ref, const Target& target,
                         int status = 200, const std::string& error = {});
  HttpResponse case_action(const Session& s, queue::Store& store, const std::string& ref, const std::string& action,
                           const std::map<std::string, std::string>& form);
  HttpResponse attachment(queue::Store& store, const std::string& ref, std::string_view message_id,
                          std::string_view index);
  HttpResponse original(queue::Store& store, const std::string& ref, std::string_view message_id);

  std::optional<Session> session_of(const HttpRequest& req, queue::Store& store);
  const std::string& dummy() {
    std::call_once(dummy_once, [this] { dummy_hash = hash_password(random_hex(16)); });
    return dummy_hash;
  }
};

namespace {

HttpResponse redirect(std::string location) {
  HttpResponse r;
  r.status = 303;
  r.headers.push_back({"Location", std::move(location)});
  r.body = "See Other\n";
  return r;
}

// Requests a browser makes for another site's page carry that site's Origin or
// Sec-Fetch-Site: cross-site; refuse those for every state-changing request. Our own forms come
// with "Origin: null" (Referrer-Policy: no-referrer hides it), so a null Origin is no evidence
// either way; Sec-Fetch-Site and the CSRF token decide then.
bool same_origin(const HttpRequest& req) {
  if (auto it = req.headers.find("sec-fetch-site"); it != req.headers.end()) {
    if (it->second != "same-origin" && it->second != "none") return false;
  }
  if (auto it = req.headers.find("origin"); it != req.headers.end() && it->second != "null") {
    auto host = req.headers.find("host");
    if (host == req.headers.end()) return false;
    // A trusted TLS proxy said the request came over https: only the https origin is ours then.
    if (it->second != "https://" + host->second && (req.secure || it->second != "http://" + host->second))
      return false;
  }
  return true;
}

json options_list(const std::vector<std::pair<std::string, std::string>>& values, const std::string& selected) {
  json out = json::array();
  for (const auto& [value, label] : values)
    out.push_back({{"value", value}, {"label", label}, {"selected", value == selected}});
  return out;
}

const std::vector<std::pair<std::string, std::string>>& priority_values() {
  static const std::vector<std::pair<std::string, std::string>> v{
      {"urgent", "Urgent"}, {"high", "High"}, {"normal", "Normal"}, {"low", "Low"}};
  return v;
}

json case_row(const queue::CaseSummary& c) {
  json codes = json::array();
  for (std::size_t i = 0; i < c.codes.size() && i < 4; ++i)
    codes.push_back({{"code", code_text(c.codes[i])}, {"status_class", code_status_class(c.codes[i].status)}});
  return {{"ref", c.ref},
          {"subject", c.subject.empty() ? std::string("(no subject)") : c.subject},
          {"submitter", !c.submitter_name.empty() ? c.submitter_name
                        : !c.submitter_addr.empty() ? c.submitter_addr : std::string("(no valid address)")},
          {"submitter_addr", c.submitter_addr.empty() ? std::string("no valid address") : c.submitter_addr},
          {"status_class", status_class(c.status)},
          {"status_label", std::string(status_label(c.status))},
          {"priority", c.priority},
          {"owner", opt(c.owner)},
          {"received", when(c.created_at)},
          {"due", when(c.due_at)},
          {"overdue", c.overdue},
          {"reply_failed", c.reply_failed},
          {"codes", codes},
          {"more_codes", c.codes.size() > 4 ? json(c.codes.size() - 4) : json(nullptr)}};
}

}  // namespace

HttpResponse WebUi::Impl::page(int status, const Session* s, const std::string& title, const std::string& content,
                               json layout) {
  layout["title"] = title;
  layout["desk_name"] = desk_name;
  layout["content"] = content;
  if (s) {
    layout["user"] = s->data.user;
    layout["is_admin"] = s->data.role == "admin";
    layout["csrf"] = s->data.csrf_token;
  } else {
    layout["user"] = nullptr;
  }
  for (const char* key : {"flash", "error", "search_query", "nav_queue", "nav_mine", "nav_overdue"})
    if (!layout.contains(key)) layout[key] = nullptr;
  HttpResponse r;
  r.status = status;
  r.content_type = "text/html; charset=utf-8";
  r.body = pages.render("layout.html", layout);
  return r;
}

HttpResponse WebUi::Impl::message(int status, const Session* s, const std::string& heading, const std::string& text,
                                  const std::string& link, const std::string& link_text) {
  json ctx{{"heading", heading}, {"text", text}, {"link", link}, {"link_text", link_text}};
  return page(status, s, heading, pages.render("message.html", ctx));
}

HttpResponse WebUi::Impl::login_page(int status, const std::string& next, const std::string& user,
                                     const std::string& msg) {
  json ctx{{"next", next}, {"user_name", user}, {"message", nonempty(msg)}};
  return page(status, nullptr, "Sign in", pages.render("login.html", ctx));
}

std::optional<Session> WebUi::Impl::session_of(const HttpRequest& req, queue::Store& store) {
  auto it = req.headers.find("cookie");
  if (it == req.headers.end()) return std::nullopt;
  auto cookies = parse_cookies(it->second);
  auto c = cookies.find(std::string(kCookie));
  if (c == cookies.end() || c->second.size() != 64) return std::nullopt;
  std::string key = sha256_hex(c->second);
  std::int64_t t = now();
  auto found = store.find_session(key, t);
  if (!found) return std::nullopt;
  // Sliding expiry, written at most once a minute per session.
  if (found->expires_at - t < session_timeout - 60) {
    store.touch_session(key, t + session_timeout);
    found->expires_at = t + session_timeout;
  }
  return Session{std::move(key), std::move(*found)};
}

HttpResponse WebUi::Impl::handle(const HttpRequest& req) {
  Target target = split_target(req.target);
  HttpResponse res;
  try {
    res = route(req, target);
  } catch (const queue::StoreError& e) {
    spdlog::error("web: store error: {}", e.what());
    res = message(500, nullptr, "Something went wrong", "The case store could not complete this request. Try again.");
  } catch (const templates::TemplateError& e) {
    spdlog::error("web: template error: {}", e.what());
    res = HttpResponse{};
    res.status = 500;
    res.body = "Internal Server Error\n";
  }
  res.headers.push_back({"Content-Security-Policy", std::string(kCsp)});
  res.headers.push_back({"X-Frame-Options", "DENY"});
  res.headers.push_back({"X-Content-Type-Options", "nosniff"});
  res.headers.push_back({"Referrer-Policy", "no-referrer"});
  res.headers.push_back({"Cross-Origin-Opener-Policy", "same-origin"});
  bool has_cache = std::any_of(res.headers.begin(), res.headers.end(),
                               [](const auto& h) { return lower(h.first) == "cache-control"; });
  if (!has_cache) res.headers.push_back({"Cache-Control", "no-store"});
  return res;
}

HttpResponse WebUi::Impl::route(const HttpRequest& req, const Target& target) {
  const std::string& path = target.path;
  bool get = req.method == "GET" || req.method == "HEAD";  // the server drops HEAD's body
  bool post = req.method == "POST";
  if (!get && !post) {
    HttpResponse r;
    r.status = 405;
    r.headers.push_back({"Allow", "GET, HEAD, POST"});
    r.body = "Method Not Allowed\n";
    return r;
  }
  if (path == "/static/app.css" && get) {
    HttpResponse r;
    r.content_type = "text/css; charset=utf-8";
    r.headers.push_back({"Cache-Control", "public, max-age=3600"});
    r.body = css;
    return r;
  }
  if (path == "/login") {
    if (post) return login(req);
    auto store = stores.take();
    auto query = parse_form(target.query);
    std::string next = safe_local_path(query["next"], "/queue");
    if (session_of(req, *store)) return redirect(next);
    return login_page(200, next, "", "");
  }

  auto store = stores.take();
  auto session = session_of(req, *store);
  if (!session) {
    if (get) return redirect("/login?next=" + url_encode(req.target));
    return message(401, nullptr, "Please sign in", "Your session has ended or you are not signed in.", "/login",
                   "Sign in");
  }
  const Session& s = *session;
  std::map<std::string, std::string> form;
  if (post) {
    form = parse_form(req.body);
    auto token = form.find("csrf");
    if (!same_origin(req) || token == form.end() || token->second.empty() ||
        !constant_time_equal(token->second, s.data.csrf_token)) {
      spdlog::warn("web: refused a POST without a valid CSRF token from {}", req.remote);
      return message(403, &s, "Request refused",
                     "This form has expired or did not come from this site. Reload the page and try again.");
    }
  }

  if (path == "/logout" && post) return logout(s, *store);
  if (path == "/" && get) return redirect("/queue");
  if (path == "/queue" && get) return queue_page(s, *store, target);
  if (path == "/search" && get) return search_page(s, *store, target);
  if (path.rfind("/case/", 0) == 0) {
    std::vector<std::string> parts;
    std::string_view rest = std::string_view(path).substr(6);
    while (!rest.empty()) {
      auto slash = rest.find('/');
      parts.emplace_back(rest.substr(0, slash));
      if (slash == std::string_view::npos) break;
      rest.remove_prefix(slash + 1);
    }
    if (parts.size() == 1 && get) return case_page(s, *store, parts[0], target);
    if (parts.size() == 2 && post) return case_action(s, *store, parts[0], parts[1], form);
    if (parts.size() == 5 && get && parts[1] == "message" && parts[3] == "attachment")
      return attachment(*store, parts[0], parts[2], parts[4]);
    if (parts.size() == 4 && get && parts[1] == "message" && parts[3] == "original")
      return original(*store, parts[0], parts[2]);
  }
  return message(404, &s, "Not found", "There is no such page.");
}

HttpResponse WebUi::Impl::login(const HttpRequest& req) {
  auto form = parse_form(req.body);
  std::string user = trim(form["user"]);
  const std::string& password = form["password"];
  std::string next = safe_local_path(form["next"], "/queue");
  if (!same_origin(req)) return login_page(403, next, user, "This sign-in form did not come from this site.");
  std::int64_t t = now();
  if (std::int64_t wait = limiter.blocked_for(req.remote, user, t); wait > 0) {
    spdlog::warn("web: sign-in refused (too many failures) from {}", req.remote);
    auto r = login_page(429, next, user,
                        "Too many failed sign-ins. Try again in " + std::to_string((wait + 59) / 60) + " minute" +
                            (wait > 60 ? "s." : "."));
    r.headers.push_back({"Retry-After", std::to_string(wait)});
    return r;
  }
  auto store = stores.take();
  std::optional<std::string> hash;
  if (!user.empty() && user.size() <= 200) hash = store->password_hash(user);
  // Unknown users cost a hash check too, so timing does not tell which names exist.
  bool ok = hash ? verify_password(*hash, password) : (verify_password(dummy(), password), false);
  if (!ok || password.empty()) {
    limiter.failure(req.remote, user, t);
    spdlog::warn("web: failed sign-in from {}", req.remote);
    return login_page(401, next, user, "Wrong user name or password.");
  }
  limiter.success(req.remote, user);
  std::string token = random_hex(32);
  store->create_session(sha256_hex(token), user, random_hex(32), t, t + session_timeout);
  spdlog::info("web: sign-in from {}", req.remote);
  auto r = redirect(next);
  r.headers.push_back({"Set-Cookie", std::string(kCookie) + "=" + token + "; Path=/; HttpOnly; SameSite=Strict" +
                                         (secure_cookie ? "; Secure" : "")});
  return r;
}

HttpResponse WebUi::Impl::logout(const Session& s, queue::Store& store) {
  store.delete_session(s.token_sha256);
  auto r = redirect("/login");
  r.headers.push_back({"Set-Cookie", std::string(kCookie) + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" +
                                         (secure_cookie ? "; Secure" : "")});
  return r;
}

HttpResponse WebUi::Impl::queue_page(const Session& s, queue::Store& store, const Target& target) {
  auto q = parse_form(target.query);
  queue::CaseFilter f;
  std::string status = q.count("status") ? q["status"] : "open";
  if (status == "open") {
    f.open_only = true;
  } else if (status != "all") {
    auto& all = queue::all_statuses();
    if (std::find(all.begin(), all.end(), status) != all.end()) {
      f.status = status;
    } else {
      status = "open";
      f.open_only = true;
    }
  }
  std::string priority = q["priority"];
  if (queue::priority_from_string(priority)) f.priority = priority;
  else priority.clear();
  bool mine = q["mine"] == "1";
  bool overdue = q["overdue"] == "1";
  bool reply_failed = q["reply_failed"] == "1";
  if (mine) f.owner = s.data.user;
  f.overdue_only = overdue;
  f.reply_failed_only = reply_failed;
  std::string sort = q["sort"];
  if (sort != "received" && sort != "updated" && sort != "priority") sort = "due";
  f.sort = sort;
  std::int64_t page_no = std::clamp<std::int64_t>(to_int(q["page"]).value_or(1), 1, 1000000);
  f.limit = kPageSize;
  f.offset = static_cast<int>((page_no - 1) * kPageSize);
  f.brief = true;

  std::int64_t t = now();
  auto cases = store.list_cases(f, t);
  std::int64_t total = store.count_cases(f, t);
  std::int64_t pages_total = std::max<std::int64_t>(1, (total + kPageSize - 1) / kPageSize);

  auto link = [&](std::int64_t p) {
    std::string out = "/queue?status=" + url_encode(status);
    if (!priority.empty()) out += "&priority=" + url_encode(priority);
    if (sort != "due") out += "&sort=" + sort;
    if (mine) out += "&mine=1";
    if (overdue) out += "&overdue=1";
    if (reply_failed) out += "&reply_failed=1";
    if (p > 1) out += "&page=" + std::to_string(p);
    return out;
  };

  json statuses = json::array();
  statuses.push_back({{"value", "open"}, {"label", "Open"}, {"selected", status == "open"}});
  statuses.push_back({{"value", "all"}, {"label", "All"}, {"selected", status == "all"}});
  for (auto st : queue::all_statuses())
    statuses.push_back({{"value", std::string(st)}, {"label", std::string(status_label(st))}, {"selected", status == st}});
  auto prios = priority_values();
  prios.insert(prios.begin(), std::pair<std::string, std::string>{"", "Any"});
  json rows = json::array();
  for (const auto& c : cases) rows.push_back(case_row(c));

  std::string heading = mine ? "My cases" : overdue ? "Overdue cases" : "Queue";
  json ctx{{"heading", heading},
           {"total_text", std::to_string(total) + (total == 1 ? " case" : " cases")},
           {"show_filters", true},
           {"status_options", statuses},
           {"priority_options", options_list(prios, priority)},
           {"sort_options", options_list({{"due", "Due (overdue first)"},
                                          {"priority", "Priority"},
                                          {"received", "Newest received"},
                                          {"updated", "Recently updated"}},
                                         sort)},
           {"mine", mine},
           {"overdue", overdue},
           {"reply_failed", reply_failed},
           {"has_rows", !rows.empty()},
           {"rows", rows},
           {"empty_text", "No cases match these filters."},
           {"pager", pages_total > 1 ? json{{"page", page_no},
                                            {"pages", pages_total},
                                            {"prev", page_no > 1 ? json(link(page_no - 1)) : json(nullptr)},
                                            {"next", page_no < pages_total ? json(link(page_no + 1)) : json(nullptr)}}
                                     : json(nullptr)}};
  json layout{{"nav_queue", !mine && !overdue}, {"nav_mine", mine}, {"nav_overdue", overdue && !mine}};
  return page(200, &s, heading, pages.render("queue.html", ctx), layout);
}

HttpResponse WebUi::Impl::search_page(const Session& s, queue::Store& store, const Target& target) {
  auto q = parse_form(target.query);
  std::string query = trim(q["q"]);
  if (query.size() > 500) query.resize(500);
  json rows = json::array();
  if (!query.empty())
    for (const auto& c : store.search_cases(query, now(), kPageSize, true)) rows.push_back(case_row(c));
  std::size_t n = rows.size();
  json ctx{{"heading", query.empty() ? std::string("Search") : "Search: " + query},
           {"total_text", query.empty() ? std::string() : std::to_string(n) + (n == 1 ? " match" : " matches") +
                                                              (n == static_cast<std::size_t>(kPageSize) ? " (best first)" : "")},
           {"show_filters", false},
           {"has_rows", n > 0},
           {"rows", rows},
           {"empty_text", query.empty() ? "Type words, a case number or a code in the search box."
                                        : "No case matches this search."},
           {"pager", nullptr}};
  return page(200, &s, "Search", pages.render("queue.html", ctx), {{"search_query", query}});
}

HttpResponse WebUi::Impl::case_page(const Session& s, queue::Store& store, const std::string& ref,
                                    const Target& target, int status, const std::string& error) {
  std::int64_t t = now();
  auto summary = store.find_case(ref, t);
  auto detail = summary ? store.get_case(summary->ref) : std::nullopt;
  if (!summary || !detail) return message(404, &s, "No such case", "There is no case " + ref + ".");
  const auto& c = *summary;
  const std::string& me = s.data.user;
  bool admin = s.data.role == "admin";
  bool owner = c.owner && *c.owner == me;
  bool lease_over = c.lease_until && *c.lease_until <= t;

  json codes = json::array();
  for (const auto& code : c.codes) {
    std::string mods;
    for (const auto& m : code.modifiers) mods += (mods.empty() ? "" : ", ") + m;
    codes.push_back({{"code", code.code},
                     {"range_end", opt(code.range_end)},
                     {"system", std::string(parsers::to_string(code.system))},
                     {"modifiers_text", mods},
                     {"units", code.units ? json(std::to_string(*code.units)) : json(nullptr)},
                     {"status_class", code_status_class(code.status)},
                     {"status_label", code.status ? *code.status : std::string("not checked")},
                     {"notes", code.notes}});
  }
  json suggestions = json::array();
  for (const auto& sg : c.suggestions) suggestions.push_back({{"code", sg.code}, {"description", sg.description}});

  json messages = json::array();
  bool first_in = true;
  for (const auto& m : detail->messages) {
    bool in = m.direction == "in";
    std::vector<Span> spans;
    if (in && first_in) {
      // The case's codes came from its first mail: their mentions point into its body.
      for (const auto& code : c.codes)
        for (const auto& mention : code.mentions)
          if (mention.where == "body") spans.push_back({mention.start, with_modifiers(m.body_text, mention), &code});
      first_in = false;
    } else {
      spans = find_codes(m.body_text, c.codes);
    }
    // What is shown of a mail besides its text was stored at intake: the raw mail is not read.
    json atts = json::array();
    bool purged = false;
    std::optional<std::int64_t> purged_at;
    if (in) {
      if (auto content = store.message_content(c.ref, m.id, t)) {
        purged = content->purged;
        purged_at = content->purged_at;
        for (const auto& a : content->attachments) {
          atts.push_back({{"url", "/case/" + url_encode(c.ref) + "/message/" + std::to_string(m.id) + "/attachment/" +
                                      std::to_string(a.index)},
                          {"name", a.filename && !a.filename->empty() ? *a.filename
                                                                      : "attachment-" + std::to_string(a.index + 1)},
                          {"content_type", a.content_type},
                          {"size", a.size ? json(human_size(static_cast<std::size_t>(*a.size))) : json(nullptr)}});
        }
      }
    }
    json purged_notice = nullptr;
    if (purged)
      purged_notice = std::string("Purged by retention ([retention] raw_mail)") +
                      (purged_at ? " on " + when(*purged_at) : std::string()) +
                      ": the text, the attachments and the original of this mail were removed.";
    std::string from = m.from_addr.value_or("");
    if (m.from_name && !m.from_name->empty()) from = *m.from_name + (from.empty() ? "" : " <" + from + ">");
    messages.push_back({{"id", std::to_string(m.id)},
                        {"direction", in ? "in" : "out"},
                        {"direction_label", in ? "Received" : "Sent"},
                        {"from", from},
                        {"date", m.date ? *m.date : when(m.received_at)},
                        {"subject", opt(m.subject)},
                        {"segments", segments(m.body_text, std::move(spans))},
                        {"has_attachments", !atts.empty()},
                        {"attachments", atts},
                        {"purged", purged_notice},
                        {"original", m.size > 0 ? json{{"url", "/case/" + url_encode(c.ref) + "/message/" +
                                                                   std::to_string(m.id) + "/original"},
                                                       {"size", human_size(static_cast<std::size_t>(m.size))}}
                                                : json(nullptr)}});
  }

  json notes = json::array();
  for (const auto& n : detail->notes) notes.push_back({{"author", n.author}, {"at", when(n.at)}, {"text", n.text}});
  json outbox = json::array();
  for (const auto& o : detail->outbox)
    outbox.push_back({{"id", std::to_string(o.id)},
                      {"kind", o.kind},
                      {"state", std::string(queue::to_string(o.state))},
                      {"can_retry", o.state == queue::OutboxState::failed},
                      {"last_error", o.state == queue::OutboxState::sent ? json(nullptr) : opt(o.last_error)},
                      {"to_addr", o.to_addr.value_or("")},
                      {"created", when(o.created_at)},
                      {"sent", o.sent_at ? when(*o.sent_at) : std::string()},
                      {"author", o.author.value_or("")},
                      {"body_text", opt(o.body_text)}});
  json events = json::array();
  for (const auto& e : detail->events) {
    std::string transition;
    if (e.from_state || e.to_state) transition = e.from_state.value_or("") + " → " + e.to_state.value_or("");
    events.push_back({{"at", when(e.at)},
                      {"actor", e.actor},
                      {"kind", e.kind},
                      {"transition", nonempty(transition)},
                      {"note", nonempty(e.note)}});
  }
  std::string phi;
  for (const auto& p : c.phi) phi += (phi.empty() ? "" : ", ") + p;

  json ctx{{"ref", c.ref},
           {"subject", c.subject.empty() ? std::string("(no subject)") : c.subject},
           {"status_class", status_class(c.status)},
           {"status_label", std::string(status_label(c.status))},
           {"priority", c.priority},
           {"overdue", c.overdue},
           {"reply_failed", c.reply_failed},
           {"submitter_name", c.submitter_name},
           {"submitter_addr", c.submitter_addr.empty() ? std::string("no valid address") : c.submitter_addr},
           {"received", when(c.created_at)},
           {"due", when(c.due_at)},
           {"owner", opt(c.owner)},
           {"lease_until", c.status == queue::kStatusInReview && c.lease_until ? json(when(*c.lease_until)) : json(nullptr)},
           {"ack_state", std::string(queue::to_string(c.ack_state))},
           {"ack_reason", opt(c.ack_reason)},
           {"phi_text", nonempty(phi)},
           {"has_codes", !codes.empty()},
           {"codes", codes},
           {"code_notes", c.code_notes},
           {"has_suggestions", !suggestions.empty()},
           {"suggestions", suggestions},
           {"messages", messages},
           {"notes", notes},
           {"has_outbox", !outbox.empty()},
           {"outbox", outbox},
           {"events", events},
           {"csrf", s.data.csrf_token},
           {"can_claim", c.status == queue::kStatusNew || (c.status == queue::kStatusInReview && !owner && lease_over)},
           {"can_release", c.status == queue::kStatusInReview && (owner || admin)},
           {"can_reply", c.status == queue::kStatusInReview && (owner || admin)},
           {"can_close", c.status == queue::kStatusAnswered},
           {"can_reopen", c.status == queue::kStatusAnswered || c.status == queue::kStatusClosed},
           {"can_reject", is_open(c.status)},
           {"priority_options", options_list(priority_values(), c.priority)}};

  static const std::map<std::string, std::string, std::less<>> done_text{
      {"claim", "You claimed this case."},
      {"release", "Case released back to the queue."},
      {"note", "Note added."},
      {"answer", "Answer queued; it goes out by mail in the submitter's thread."},
      {"ask", "Question queued; the case waits for the submitter."},
      {"close", "Case closed."},
      {"reopen", "Case reopened."},
      {"reject", "Case rejected; the submitter will be told."},
      {"priority", "Priority changed."}};
  json layout = json::object();
  auto done = parse_form(target.query)["done"];
  if (auto it = done_text.find(done); it != done_text.end()) layout["flash"] = it->second;
  if (!error.empty()) layout["error"] = error;
  return page(status, &s, c.ref, pages.render("case.html", ctx), layout);
}

HttpResponse WebUi::Impl::case_action(const Session& s, queue::Store& store, const std::string& ref,
                                      const std::string& action, const std::map<std::string, std::string>& form) {
  auto field = [&](const char* name) {
    auto it = form.find(name);
    return it == form.end() ? std::string() : it->second;
  };
  const std::string& me = s.data.user;
  std::int64_t t = now();
  Target back{"/case/" + ref, ""};
  auto fail = [&](int status, const std::string& why) { return case_page(s, store, ref, back, status, why); };
  std::string text = field("text");
  // Browsers send CRLF line ends in form fields; replies and notes keep LF.
  std::erase(text, '\r');
  if (text.size() > kMaxText) return fail(413, "That text is too long.");
  try {
    if (action == "claim") {
      store.claim(ref, me, t);
    } else if (action == "release") {
      store.release(ref, me, t);
    } else if (action == "note" || action == "answer" || action == "ask") {
      if (trim(text).empty()) return fail(400, "Write some text first.");
      if (action == "note") store.add_note(ref, me, text, t);
      else if (action == "answer") store.answer(ref, me, text, t);
      else store.ask(ref, me, text, t);
    } else if (action == "close") {
      store.close(ref, me, t);
    } else if (action == "reopen") {
      store.reopen(ref, me, t);
    } else if (action == "reject") {
      std::string reason = trim(field("reason"));
      if (reason.empty()) return fail(400, "Give a reason for the rejection.");
      if (reason.size() > kMaxText) return fail(413, "That reason is too long.");
      store.reject(ref, me, reason, t);
    } else if (action == "retry") {
      auto id = to_int(field("outbox"));
      if (!id) return fail(400, "Pick the reply to send again.");
      store.retry_outbox(*id, me, t, ref);
    } else if (action == "priority") {
      auto p = queue::priority_from_string(field("priority"));
      if (!p) return fail(400, "Pick one of the priorities.");
      store.set_priority(ref, me, *p, t);
    } else {
      return message(404, &s, "Not found", "There is no such action.");
    }
  } catch (const queue::NotFound&) {
    return message(404, &s, "No such case", "There is no case " + ref + ".");
  } catch (const queue::TransitionError& e) {
    return fail(409, e.what());
  }
  spdlog::info("web: {} on case {}", action, ref);
  if ((action == "answer" || action == "ask" || action == "reject" || action == "retry") && options.on_reply_queued)
    options.on_reply_queued();
  return redirect("/case/" + url_encode(ref) + "?done=" + action);
}

namespace {

HttpResponse not_found() {
  HttpResponse r;
  r.status = 404;
  r.body = "Not Found\n";
  return r;
}

}  // namespace

// Downloads come from stored pieces: one piece (Store::kAttachmentChunk) is in memory at a time,
// each read with a Store borrowed for that read only, so a slow client holds no connection.
HttpResponse WebUi::Impl::attachment(queue::Store& store, const std::string& ref, std::string_view message_id,
                                     std::string_view index) {
  auto id = to_int(message_id);
  auto n = to_int(index);
  if (!id || !n || *n < 0) return not_found();
  auto found = store.find_attachment(ref, *id, static_cast<std::size_t>(*n), now());
  if (!found) return not_found();
  HttpResponse r;
  // Never the sender's content type: a text/html "attachment" must not render in our origin.
  r.content_type = "application/octet-stream";
  std::string name = found->filename && !found->filename->empty()
                         ? *found->filename
                         : "attachment-" + std::to_string(*n + 1) +
                               (found->content_type == "message/rfc822" ? ".eml" : ".bin");
  r.headers.push_back({"Content-Disposition", attachment_disposition(name)});
  const auto size = static_cast<std::uint64_t>(found->data_size);
  if (size == 0) return r;
  if (size <= queue::Store::kAttachmentChunk) {
    auto piece = store.attachment_chunk(found->id, 0);
    if (!piece) return not_found();
    r.body = std::move(*piece);
    return r;
  }
  r.stream_size = size;
  r.stream = [self = shared_from_this(), attachment_id = found->id, seq = std::int64_t{0}]() mutable {
    auto store = self->stores.take();
    return store->attachment_chunk(attachment_id, seq++);
  };
  return r;
}

// The only reader of the raw mail: the original message as received (or as sent), in pieces.
HttpResponse WebUi::Impl::original(queue::Store& store, const std::string& ref, std::string_view message_id) {
  auto id = to_int(message_id);
  auto size = id ? store.message_raw_size(ref, *id) : std::nullopt;
  if (!size) return not_found();
  if (*size == 0) {
    HttpResponse r;
    r.status = 410;
    r.body = "Gone: the original of this mail was purged by retention ([retention] raw_mail).\n";
    return r;
  }
  HttpResponse r;
  r.content_type = "application/octet-stream";
  std::string upper_ref = ref;
  for (char& ch : upper_ref) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  r.headers.push_back({"Content-Disposition", attachment_disposition(upper_ref + "-message-" + std::to_string(*id) + ".eml")});
  r.stream_size = static_cast<std::uint64_t>(*size);
  r.stream = [self = shared_from_this(), message_id = *id, offset = std::int64_t{0}]() mutable
      -> std::optional<std::string> {
    auto store = self->stores.take();
    auto piece = store->message_raw_piece(message_id, offset, queue::Store::kAttachmentChunk);
    if (!piece || piece->empty()) return std::nullopt;
    offset += static_cast<std::int64_t>(piece->size());
    return piece;
  };
  return r;
}

WebUi::WebUi(const config::Config& config, WebUiOptions options)
    : impl_(std::make_shared<Impl>(config, std::move(options))) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium cannot be initialised");
  impl_->stores.take();  // opens (and migrates) the store now, so a bad path fails at start
}

WebUi::~WebUi() = default;

HttpHandler WebUi::handler() const {
  return [impl = impl_](const HttpRequest& req) { return impl->handle(req); };
}

}  // namespace casedesk::daemon
