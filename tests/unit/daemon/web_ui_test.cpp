// The web UI's handler called directly (no sockets) against a temp-file store: authentication,
// CSRF, escaping, the login rate limit, the workflow actions and downloads.
#include "daemon/web_ui.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "daemon/password.hpp"
#include "daemon/web_forms.hpp"
#include "parsers/codes.hpp"
#include "parsers/message.hpp"
#include "queue/store.hpp"

namespace casedesk::daemon {
namespace {

constexpr std::int64_t kNow = 1795702500;  // 2026-11-26T14:15:00Z

std::string header(const HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return {};
}

class WebUiTest : public ::testing::Test {
 protected:
  WebUiTest() {
    dir_ = std::filesystem::temp_directory_path() / ("casedesk-web-" + std::to_string(::getpid()) + "-" +
                                                    std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    config_.store.path = dir_ / "casedesk.db";
    store_ = std::make_unique<queue::Store>(options());
    store_->add_user(queue::User{0, "ann", "ann@desk.example", "consultant", 0}, hash_password("ann-secret"), kNow);
    store_->add_user(queue::User{0, "bob", "bob@desk.example", "consultant", 0}, hash_password("bob-secret"), kNow);
    WebUiOptions o;
    o.clock = [this] { return now_; };
    ui_ = std::make_unique<WebUi>(config_, o);
    handler_ = ui_->handler();
  }
  ~WebUiTest() override {
    ui_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  queue::StoreOptions options() const {
    queue::StoreOptions o;
    o.path = config_.store.path;
    return o;
  }

  std::string new_case(const std::string& body, const std::string& extra_headers = "",
                       const std::string& subject = "Facet injections") {
    std::string raw = "From: Dana Biller <dana@clinic.example>\r\nTo: desk@desk.example\r\nSubject: " + subject +
                      "\r\nDate: Thu, 26 Nov 2026 09:15:00 -0500\r\nMessage-ID: <" + std::to_string(counter_++) +
                      "@clinic.example>\r\n" + extra_headers + "\r\n" + body;
    queue::IncomingMail mail;
    mail.raw = raw;
    mail.message = parsers::parse_message(raw);
    mail.codes = parsers::extract_codes(mail.message);
    return store_->enqueue(mail, kNow).case_ref;
  }

  HttpResponse get(const std::string& target, const std::string& cookie = "") {
    HttpRequest r;
    r.method = "GET";
    r.target = target;
    r.remote = "127.0.0.1";
    r.headers["host"] = "127.0.0.1:8080";
    if (!cookie.empty()) r.headers["cookie"] = cookie;
    return handler_(r);
  }
  HttpResponse post(const std::string& target, const std::string& body, const std::string& cookie = "",
                    const std::string& remote = "127.0.0.1") {
    HttpRequest r;
    r.method = "POST";
    r.target = target;
    r.remote = remote;
    r.body = body;
    r.headers["host"] = "127.0.0.1:8080";
    r.headers["origin"] = "http://127.0.0.1:8080";
    r.headers["content-type"] = "application/x-www-form-urlencoded";
    if (!cookie.empty()) r.headers["cookie"] = cookie;
    return handler_(r);
  }

  // Signs in; returns the cookie header value and sets csrf_.
  std::string login(const std::string& user = "ann", const std::string& password = "ann-secret") {
    auto r = post("/login", "user=" + user + "&password=" + url_encode(password) + "&next=%2Fqueue");
    EXPECT_EQ(r.status, 303) << r.body;
    std::string set = header(r, "Set-Cookie");
    std::string cookie = set.substr(0, set.find(';'));
    auto page = get("/queue", cookie);
    auto at = page.body.find("name=\"csrf\" value=\"");
    EXPECT_NE(at, std::string::npos);
    if (at != std::string::npos) csrf_ = page.body.substr(at + 19, 64);
    return cookie;
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  config::Config config_;
  std::unique_ptr<queue::Store> store_;
  std::unique_ptr<WebUi> ui_;
  HttpHandler handler_;
  std::int64_t now_ = kNow;
  std::string csrf_;
};

TEST_F(WebUiTest, UnauthenticatedGetRedirectsToLogin) {
  auto r = get("/queue?status=new");
  EXPECT_EQ(r.status, 303);
  EXPECT_EQ(header(r, "Location"), "/login?next=%2Fqueue%3Fstatus%3Dnew");
  auto c = get("/case/CD-000001");
  EXPECT_EQ(c.status, 303);
  auto login = get("/login");
  EXPECT_EQ(login.status, 200);
  EXPECT_NE(login.body.find("name=\"password\""), std::string::npos);
}

TEST_F(WebUiTest, UnauthenticatedPostIsRefused) {
  auto ref = new_case("Can we bill 64635?");
  auto r = post("/case/" + ref + "/claim", "csrf=x");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(store_->find_case(ref, kNow)->status, "new");
}

TEST_F(WebUiTest, BogusSessionCookieIsNoSession) {
  auto r = get("/queue", "casedesk_session=" + std::string(64, 'a'));
  EXPECT_EQ(r.status, 303);
}

TEST_F(WebUiTest, SecurityHeadersOnEveryResponse) {
  for (const auto& r : {get("/login"), get("/queue"), get("/static/app.css")}) {
    EXPECT_NE(header(r, "Content-Security-Policy").find("default-src 'self'"), std::string::npos);
    EXPECT_EQ(header(r, "X-Frame-Options"), "DENY");
    EXPECT_EQ(header(r, "X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(header(r, "Referrer-Policy"), "no-referrer");
  }
  auto css = get("/static/app.css");
  EXPECT_EQ(css.status, 200);
  EXPECT_EQ(css.content_type, "text/css; charset=utf-8");
  EXPECT_NE(css.body.find(".topbar"), std::string::npos);
}

TEST_F(WebUiTest, LoginSetsAStrictHttpOnlyCookieAndShowsTheQueue) {
  auto ref = new_case("Can we bill 64635-50 with 64636-50, dx M47.816?");
  auto r = post("/login", "user=ann&password=ann-secret&next=%2Fqueue");
  ASSERT_EQ(r.status, 303);
  EXPECT_EQ(header(r, "Location"), "/queue");
  std::string set = header(r, "Set-Cookie");
  EXPECT_NE(set.find("casedesk_session="), std::string::npos);
  EXPECT_NE(set.find("HttpOnly"), std::string::npos);
  EXPECT_NE(set.find("SameSite=Strict"), std::string::npos);
  EXPECT_NE(set.find("Path=/"), std::string::npos);
  auto cookie = set.substr(0, set.find(';'));
  auto q = get("/queue", cookie);
  EXPECT_EQ(q.status, 200);
  EXPECT_EQ(q.content_type, "text/html; charset=utf-8");
  EXPECT_NE(q.body.find(ref), std::string::npos);
  EXPECT_NE(q.body.find("Facet injections"), std::string::npos);
  EXPECT_NE(q.body.find(">ann<"), std::string::npos);
}

TEST_F(WebUiTest, LoginRedirectOnlyToLocalPaths) {
  auto r = post("/login", "user=ann&password=ann-secret&next=https%3A%2F%2Fevil.example%2F");
  EXPECT_EQ(header(r, "Location"), "/queue");
  r = post("/login", "user=ann&password=ann-secret&next=%2F%2Fevil.example");
  EXPECT_EQ(header(r, "Location"), "/queue");
}

TEST_F(WebUiTest, WrongPasswordAndUnknownUserAreRefused) {
  auto r = post("/login", "user=ann&password=wrong");
  EXPECT_EQ(r.status, 401);
  EXPECT_TRUE(header(r, "Set-Cookie").empty());
  EXPECT_NE(r.body.find("Wrong user name or password"), std::string::npos);
  r = post("/login", "user=nobody&password=x");
  EXPECT_EQ(r.status, 401);
}

TEST_F(WebUiTest, LoginIsRateLimitedPerUserName) {
  // Five failures of one name from one address lock that name for that address ...
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(post("/login", "user=ann&password=wrong" + std::to_string(i), "", "10.0.0.1").status, 401);
  auto r = post("/login", "user=ann&password=ann-secret", "", "10.0.0.1");
  EXPECT_EQ(r.status, 429);
  EXPECT_FALSE(header(r, "Retry-After").empty());
  // ... and twenty from anywhere lock the name everywhere, even with the right password.
  for (int i = 0; i < 15; ++i)
    EXPECT_EQ(post("/login", "user=ann&password=wrong", "", "10.0.1." + std::to_string(i)).status, 401);
  EXPECT_EQ(post("/login", "user=ann&password=ann-secret", "", "10.0.0.99").status, 429);
  // Another user from another address is not affected.
  EXPECT_EQ(post("/login", "user=bob&password=bob-secret", "", "10.0.0.98").status, 303);
  // After the window it works again.
  now_ += 301;
  EXPECT_EQ(post("/login", "user=ann&password=ann-secret", "", "10.0.0.99").status, 303);
}

TEST_F(WebUiTest, LoginIsRateLimitedPerAddress) {
  WebUiOptions o;  // default 100 per address; fewer here, so the test hashes fewer passwords
  o.clock = [this] { return now_; };
  o.address_failures = 12;
  ui_ = std::make_unique<WebUi>(config_, o);
  handler_ = ui_->handler();
  for (int i = 0; i < 12; ++i)
    EXPECT_EQ(post("/login", "user=guess" + std::to_string(i) + "&password=x", "", "10.1.1.1").status, 401);
  EXPECT_EQ(post("/login", "user=bob&password=bob-secret", "", "10.1.1.1").status, 429);
  EXPECT_EQ(post("/login", "user=bob&password=bob-secret", "", "10.1.1.2").status, 303);
}

// The adversarial suite (issue 12): same fixture, suite named for the ctest label.
class AdversarialWebUi : public WebUiTest {};

TEST_F(AdversarialWebUi, FailedSignInsUnderOtherNamesDoNotLockOutAConsultant) {
  // Before: five failures under any names from one address (everyone behind one proxy) locked
  // every consultant out for five minutes.
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(post("/login", "user=mallory" + std::to_string(i % 2) + "&password=wrong", "", "10.2.2.2").status, 401);
  EXPECT_EQ(post("/login", "user=ann&password=ann-secret", "", "10.2.2.2").status, 303);
  EXPECT_EQ(post("/login", "user=mallory0&password=x", "", "10.2.2.2").status, 429);
}

TEST_F(AdversarialWebUi, HeadIsAnsweredOnGetRoutes) {
  for (const std::string target : {"/login", "/static/app.css", "/queue"}) {
    HttpRequest r;
    r.method = "HEAD";
    r.target = target;
    r.remote = "127.0.0.1";
    r.headers["host"] = "127.0.0.1:8080";
    auto res = handler_(r);
    EXPECT_NE(res.status, 405) << target;
    EXPECT_EQ(res.status, get(target).status) << target;
  }
}

TEST_F(AdversarialWebUi, CookieIsSecureOnlyBehindATlsProxy) {
  auto r = post("/login", "user=ann&password=ann-secret&next=%2Fqueue");
  EXPECT_EQ(header(r, "Set-Cookie").find("Secure"), std::string::npos);
  config_.web.tls_proxy = true;
  WebUiOptions o;
  o.clock = [this] { return now_; };
  WebUi secure_ui(config_, o);
  HttpRequest q;
  q.method = "POST";
  q.target = "/login";
  q.remote = "127.0.0.1";
  q.body = "user=ann&password=ann-secret&next=%2Fqueue";
  q.headers["host"] = "desk.example";
  q.headers["origin"] = "https://desk.example";
  q.secure = true;
  auto s = secure_ui.handler()(q);
  EXPECT_EQ(s.status, 303);
  EXPECT_NE(header(s, "Set-Cookie").find("; Secure"), std::string::npos) << header(s, "Set-Cookie");
  // Over https (a trusted proxy said so), an http:// origin is another site.
  q.headers["origin"] = "http://desk.example";
  EXPECT_EQ(secure_ui.handler()(q).status, 403);
}

TEST_F(WebUiTest, LoginFromAnotherOriginIsRefused) {
  HttpRequest r;
  r.method = "POST";
  r.target = "/login";
  r.remote = "127.0.0.1";
  r.body = "user=ann&password=ann-secret";
  r.headers["host"] = "127.0.0.1:8080";
  r.headers["origin"] = "http://evil.example";
  EXPECT_EQ(handler_(r).status, 403);
}

TEST_F(WebUiTest, NullOriginDefersToSecFetchSite) {
  // Chromium sends "Origin: null" for our own forms (Referrer-Policy: no-referrer).
  HttpRequest r;
  r.method = "POST";
  r.target = "/login";
  r.remote = "127.0.0.1";
  r.body = "user=ann&password=ann-secret";
  r.headers["host"] = "127.0.0.1:8080";
  r.headers["origin"] = "null";
  r.headers["sec-fetch-site"] = "same-origin";
  EXPECT_EQ(handler_(r).status, 303);
  r.headers["sec-fetch-site"] = "cross-site";
  EXPECT_EQ(handler_(r).status, 403);
}

TEST_F(WebUiTest, PostWithoutOrWithWrongCsrfTokenIsRefused) {
  auto ref = new_case("Can we bill 64635?");
  auto cookie = login();
  ASSERT_EQ(csrf_.size(), 64u);
  EXPECT_EQ(post("/case/" + ref + "/claim", "", cookie).status, 403);
  EXPECT_EQ(post("/case/" + ref + "/claim", "csrf=" + std::string(64, '0'), cookie).status, 403);
  EXPECT_EQ(store_->find_case(ref, kNow)->status, "new");
  // A cross-site request with the right token is still refused.
  HttpRequest r;
  r.method = "POST";
  r.target = "/case/" + ref + "/claim";
  r.remote = "127.0.0.1";
  r.body = "csrf=" + csrf_;
  r.headers["host"] = "127.0.0.1:8080";
  r.headers["cookie"] = cookie;
  r.headers["sec-fetch-site"] = "cross-site";
  EXPECT_EQ(handler_(r).status, 403);
  EXPECT_EQ(store_->find_case(ref, kNow)->status, "new");
  // The right token works.
  auto ok = post("/case/" + ref + "/claim", "csrf=" + csrf_, cookie);
  EXPECT_EQ(ok.status, 303);
  EXPECT_EQ(header(ok, "Location"), "/case/" + ref + "?done=claim");
  EXPECT_EQ(store_->find_case(ref, kNow)->status, "in_review");
}

TEST_F(WebUiTest, MailTextIsEscaped) {
  auto ref = new_case("Hello <script>alert('x')</script> & <b>bold</b> 64635", "",
                      "<img src=x onerror=alert(1)>");
  auto cookie = login();
  auto page = get("/case/" + ref, cookie);
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.body.find("<script>"), std::string::npos);
  EXPECT_EQ(page.body.find("<img src=x"), std::string::npos);
  EXPECT_EQ(page.body.find("<b>bold"), std::string::npos);
  EXPECT_NE(page.body.find("&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt;"), std::string::npos);
  auto q = get("/queue", cookie);
  EXPECT_EQ(q.body.find("<img src=x"), std::string::npos);
  EXPECT_NE(q.body.find("&lt;img src=x"), std::string::npos);
}

TEST_F(WebUiTest, CodesAreHighlightedAtTheirMentions) {
  auto ref = new_case("Can we bill 64635-50 with 64636-50, dx M47.816?");
  auto cookie = login();
  auto page = get("/case/" + ref, cookie);
  EXPECT_NE(page.body.find("<mark class=\"code st-unchecked\""), std::string::npos) << page.body;
  EXPECT_NE(page.body.find(">64635-50</mark>"), std::string::npos) << page.body;
  EXPECT_NE(page.body.find(">M47.816</mark>"), std::string::npos);
}

TEST_F(WebUiTest, ClaimAnswerFromTheCasePage) {
  auto ref = new_case("Can we bill 64635?");
  auto cookie = login();
  ASSERT_EQ(post("/case/" + ref + "/claim", "csrf=" + csrf_, cookie).status, 303);
  auto page = get("/case/" + ref + "?done=claim", cookie);
  EXPECT_NE(page.body.find("You claimed this case."), std::string::npos);
  EXPECT_NE(page.body.find("action=\"/case/" + ref + "/answer\""), std::string::npos);
  EXPECT_EQ(post("/case/" + ref + "/note", "csrf=" + csrf_ + "&text=", cookie).status, 400);
  EXPECT_EQ(post("/case/" + ref + "/note", "csrf=" + csrf_ + "&text=" + url_encode("check <modifier>"), cookie).status,
            303);
  auto r = post("/case/" + ref + "/answer", "csrf=" + csrf_ + "&text=" + url_encode("Yes, bill 64635.\r\nRegards"),
                cookie);
  EXPECT_EQ(r.status, 303);
  auto c = store_->get_case(ref);
  EXPECT_EQ(c->summary.status, "answered");
  ASSERT_FALSE(c->outbox.empty());
  EXPECT_EQ(c->outbox.back().kind, "answer");
  EXPECT_EQ(c->outbox.back().body_text, "Yes, bill 64635.\nRegards");
  page = get("/case/" + ref, cookie);
  EXPECT_NE(page.body.find("check &lt;modifier&gt;"), std::string::npos);
  // A refused transition shows the case with the reason.
  auto again = post("/case/" + ref + "/claim", "csrf=" + csrf_, cookie);
  EXPECT_EQ(again.status, 409);
  EXPECT_NE(again.body.find("class=\"flash err\""), std::string::npos);
}

// Issue 12 item 2: a reply that failed for good shows as a badge in the queue and the case view,
// the queue filters by it, and the case view's button sends it again.
TEST_F(AdversarialWebUi, FailedReplyIsShownAndRetried) {
  auto ref = new_case("Can we bill 64635?");
  auto other = new_case("Can we bill 64636?");
  auto item = store_->get_case(ref)->outbox.at(0).id;
  store_->mark_outbox_attempt_failed(item, kNow + 1, "550 5.1.1 mailbox unavailable", true, kNow + 60);
  auto cookie = login();
  auto queue = get("/queue", cookie);
  EXPECT_NE(queue.body.find("badge reply-failed"), std::string::npos);
  auto filtered = get("/queue?reply_failed=1", cookie);
  EXPECT_NE(filtered.body.find(ref), std::string::npos);
  EXPECT_EQ(filtered.body.find(other), std::string::npos);
  auto page = get("/case/" + ref, cookie);
  EXPECT_NE(page.body.find("id=\"reply-failed\""), std::string::npos);
  EXPECT_NE(page.body.find("action=\"/case/" + ref + "/retry\""), std::string::npos);
  // Another case's item is not retried through this case.
  auto other_item = store_->get_case(other)->outbox.at(0).id;
  store_->mark_outbox_attempt_failed(other_item, kNow + 1, "550", true, kNow + 60);
  EXPECT_EQ(post("/case/" + ref + "/retry", "csrf=" + csrf_ + "&outbox=" + std::to_string(other_item), cookie).status,
            404);
  EXPECT_EQ(post("/case/" + ref + "/retry", "csrf=" + csrf_ + "&outbox=" + std::to_string(item), cookie).status, 303);
  EXPECT_FALSE(store_->get_case(ref)->summary.reply_failed);
  EXPECT_EQ(store_->get_case(ref)->outbox.at(0).state, queue::OutboxState::pending);
  page = get("/case/" + ref, cookie);
  EXPECT_EQ(page.body.find("id=\"reply-failed\""), std::string::npos);
  // Retrying it again is refused (it is pending now), shown on the case page.
  EXPECT_EQ(post("/case/" + ref + "/retry", "csrf=" + csrf_ + "&outbox=" + std::to_string(item), cookie).status, 409);
}

TEST_F(WebUiTest, AnotherConsultantCannotAnswerAClaimedCase) {
  auto ref = new_case("Can we bill 64635?");
  auto ann = login("ann", "ann-secret");
  std::string ann_csrf = csrf_;
  ASSERT_EQ(post("/case/" + ref + "/claim", "csrf=" + ann_csrf, ann).status, 303);
  auto bob = login("bob", "bob-secret");
  auto page = get("/case/" + ref, bob);
  EXPECT_EQ(page.body.find("action=\"/case/" + ref + "/answer\""), std::string::npos);
  EXPECT_EQ(post("/case/" + ref + "/answer", "csrf=" + csrf_ + "&text=hi", bob).status, 409);
  EXPECT_EQ(store_->find_case(ref, kNow)->status, "in_review");
}

TEST_F(WebUiTest, QueueFiltersSortAndPaging) {
  for (int i = 0; i < 55; ++i) new_case("Question " + std::to_string(i) + " about 99213");
  auto cookie = login();
  auto p1 = get("/queue", cookie);
  EXPECT_NE(p1.body.find("55 cases"), std::string::npos);
  EXPECT_NE(p1.body.find("Page 1 of 2"), std::string::npos);
  EXPECT_NE(p1.body.find("page=2"), std::string::npos);
  auto p2 = get("/queue?status=open&page=2", cookie);
  EXPECT_NE(p2.body.find("Page 2 of 2"), std::string::npos);
  auto mine = get("/queue?mine=1", cookie);
  EXPECT_NE(mine.body.find("0 cases"), std::string::npos);
  auto bad = get("/queue?status=%3Cx%3E&sort=evil&priority=zzz&page=-4", cookie);
  EXPECT_EQ(bad.status, 200);
  EXPECT_EQ(bad.body.find("<x>"), std::string::npos);
}

TEST_F(WebUiTest, SearchFindsCases) {
  auto ref = new_case("Knee arthroscopy 29881 question");
  new_case("Something else entirely");
  auto cookie = login();
  auto r = get("/search?q=arthroscopy", cookie);
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(ref), std::string::npos);
  EXPECT_NE(r.body.find("1 match"), std::string::npos);
  auto weird = get("/search?q=%22%28%2A%3Cscript%3E", cookie);
  EXPECT_EQ(weird.status, 200);
  EXPECT_EQ(weird.body.find("<script>"), std::string::npos);
}

TEST_F(WebUiTest, AttachmentDownload) {
  std::string body =
      "--b1\r\nContent-Type: text/plain\r\n\r\nSee attached, 64635.\r\n"
      "--b1\r\nContent-Type: text/html; name=\"evil.html\"\r\nContent-Disposition: attachment; "
      "filename=\"ev\\\"il.html\"\r\n\r\n<script>alert(1)</script>\r\n--b1--\r\n";
  auto ref = new_case(body, "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n");
  auto cookie = login();
  auto page = get("/case/" + ref, cookie);
  auto at = page.body.find("/attachment/0");
  ASSERT_NE(at, std::string::npos) << page.body;
  auto start = page.body.rfind("\"", at) + 1;
  std::string url = page.body.substr(start, page.body.find('"', at) - start);
  auto dl = get(url, cookie);
  EXPECT_EQ(dl.status, 200);
  EXPECT_EQ(dl.content_type, "application/octet-stream");
  EXPECT_NE(dl.body.find("<script>alert(1)</script>"), std::string::npos);
  std::string disp = header(dl, "Content-Disposition");
  EXPECT_EQ(disp.rfind("attachment; filename=\"", 0), 0u) << disp;
  EXPECT_EQ(disp.find("\\"), std::string::npos) << disp;
  EXPECT_EQ(get(url.substr(0, url.size() - 1) + "7", cookie).status, 404);
  EXPECT_EQ(get("/case/" + ref + "/message/999/attachment/0", cookie).status, 404);
}

TEST_F(WebUiTest, LogoutEndsTheSession) {
  auto cookie = login();
  EXPECT_EQ(post("/logout", "", cookie).status, 403);  // needs the token too
  auto r = post("/logout", "csrf=" + csrf_, cookie);
  EXPECT_EQ(r.status, 303);
  EXPECT_NE(header(r, "Set-Cookie").find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(get("/queue", cookie).status, 303);
}

TEST_F(WebUiTest, IdleSessionsExpire) {
  auto cookie = login();
  now_ += 11 * 3600;
  EXPECT_EQ(get("/queue", cookie).status, 200);  // slides the expiry
  now_ += 11 * 3600;
  EXPECT_EQ(get("/queue", cookie).status, 200);
  now_ += 13 * 3600;
  EXPECT_EQ(get("/queue", cookie).status, 303);
}

TEST_F(WebUiTest, UnknownCaseAndPathAre404) {
  auto cookie = login();
  EXPECT_EQ(get("/case/CD-999999", cookie).status, 404);
  EXPECT_EQ(get("/nothing", cookie).status, 404);
  HttpRequest r;
  r.method = "DELETE";
  r.target = "/queue";
  EXPECT_EQ(handler_(r).status, 405);
}

TEST(WebForms, ParsesFormsCookiesAndTargets) {
  auto f = parse_form("a=1&b=x+y%21&a=2&c&=v&d=%zz");
  EXPECT_EQ(f["a"], "1");
  EXPECT_EQ(f["b"], "x y!");
  EXPECT_EQ(f["c"], "");
  EXPECT_EQ(f["d"], "%zz");
  auto c = parse_cookies("x=1; casedesk_session=abc ; y=\"q\"");
  EXPECT_EQ(c["casedesk_session"], "abc");
  EXPECT_EQ(c["y"], "q");
  auto t = split_target("/case/CD%2D1?done=claim#x");
  EXPECT_EQ(t.path, "/case/CD-1");
  EXPECT_EQ(t.query, "done=claim");
  EXPECT_EQ(url_encode("a b/é"), "a%20b%2F%C3%A9");
}

TEST(WebForms, SafeLocalPathsAndDispositions) {
  EXPECT_EQ(safe_local_path("/case/CD-1", "/queue"), "/case/CD-1");
  EXPECT_EQ(safe_local_path("//evil", "/queue"), "/queue");
  EXPECT_EQ(safe_local_path("/\\evil", "/queue"), "/queue");
  EXPECT_EQ(safe_local_path("https://evil", "/queue"), "/queue");
  EXPECT_EQ(safe_local_path("/a\r\nX: y", "/queue"), "/queue");
  EXPECT_EQ(attachment_disposition("Befund Müller.pdf"),
            "attachment; filename=\"Befund M__ller.pdf\"; filename*=UTF-8''Befund%20M%C3%BCller.pdf");
  EXPECT_EQ(attachment_disposition("a\"b\r\n.txt"), "attachment; filename=\"a_b__.txt\"; filename*=UTF-8''a%22b.txt");
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "ab"));
}

}  // namespace
}  // namespace casedesk::daemon
