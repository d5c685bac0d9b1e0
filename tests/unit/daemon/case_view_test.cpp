// Issue 12 item 10: the case view and its downloads come from what intake stored (the text, the
// attachment list, the attachments' bytes in chunks), never from the raw mail; the raw bytes are
// read only to download the original message; a raw_mail purge shows as such. Against the web
// UI's handler and, for the streamed downloads, the real HttpServer on loopback.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <random>
#include <string>
#include <thread>

#include "daemon/case_json.hpp"
#include "daemon/http_server.hpp"
#include "daemon/password.hpp"
#include "daemon/web_forms.hpp"
#include "daemon/web_ui.hpp"
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

std::string base64(std::string_view in) {
  static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t col = 0;
  for (std::size_t i = 0; i < in.size(); i += 3) {
    std::uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) v |= static_cast<unsigned char>(in[i + 2]);
    out.push_back(abc[(v >> 18) & 63]);
    out.push_back(abc[(v >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? abc[(v >> 6) & 63] : '=');
    out.push_back(i + 2 < in.size() ? abc[v & 63] : '=');
    if ((col += 4) == 76) {
      out += "\r\n";
      col = 0;
    }
  }
  return out + "\r\n";
}

// The whole body of a response: its `body`, or every piece of its stream.
std::string drain(HttpResponse& r) {
  if (!r.stream) return r.body;
  std::string out;
  while (out.size() < r.stream_size) {
    auto piece = r.stream();
    if (!piece || piece->empty()) break;
    out += *piece;
  }
  return out;
}

void exec_sql(const std::filesystem::path& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

class AdversarialCaseView : public ::testing::Test {
 protected:
  AdversarialCaseView() {
    dir_ = std::filesystem::temp_directory_path() /
           ("casedesk-case-view-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    config_.store.path = dir_ / "casedesk.db";
    queue::StoreOptions so;
    so.path = config_.store.path;
    store_ = std::make_unique<queue::Store>(so);
    store_->add_user(queue::User{0, "ann", "ann@desk.example", "consultant", 0}, hash_password("ann-secret"), kNow);
    WebUiOptions o;
    o.clock = [] { return kNow; };
    ui_ = std::make_unique<WebUi>(config_, o);
    handler_ = ui_->handler();
    // A large binary attachment (several chunks, not a multiple of the chunk size) and a small one.
    std::mt19937 rng(7);
    big_.resize(3 * queue::Store::kAttachmentChunk + 12345);
    for (auto& ch : big_) ch = static_cast<char>(rng());
    small_ = "date,code\r\n2026-11-02,64635\r\n";
    raw_ = "From: Dana Biller <dana@clinic.example>\r\nTo: desk@desk.example\r\nSubject: Facet injections\r\n"
           "Date: Thu, 26 Nov 2026 09:15:00 -0500\r\nMessage-ID: <view-1@clinic.example>\r\n"
           "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n"
           "--b1\r\nContent-Type: text/plain\r\n\r\nEstablished patient, see the op note. 64635\r\n"
           "--b1\r\nContent-Type: application/pdf; name=\"op-note.pdf\"\r\nContent-Disposition: attachment; "
           "filename=\"op-note.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
           base64(big_) +
           "--b1\r\nContent-Type: text/csv; name=\"claims.csv\"\r\nContent-Disposition: attachment; "
           "filename=\"claims.csv\"\r\n\r\n" +
           small_ + "\r\n--b1--\r\n";
    queue::IncomingMail mail;
    mail.raw = raw_;
    mail.message = parsers::parse_message(raw_);
    ref_ = store_->enqueue(mail, kNow).case_ref;
    message_id_ = store_->get_case(ref_)->messages.at(0).id;
  }
  ~AdversarialCaseView() override {
    ui_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  HttpResponse get(const std::string& target) {
    HttpRequest r;
    r.method = "GET";
    r.target = target;
    r.remote = "127.0.0.1";
    r.headers["host"] = "127.0.0.1:8080";
    if (!cookie_.empty()) r.headers["cookie"] = cookie_;
    return handler_(r);
  }
  void login() {
    HttpRequest r;
    r.method = "POST";
    r.target = "/login";
    r.remote = "127.0.0.1";
    r.body = "user=ann&password=ann-secret&next=%2Fqueue";
    r.headers["host"] = "127.0.0.1:8080";
    r.headers["origin"] = "http://127.0.0.1:8080";
    auto res = handler_(r);
    ASSERT_EQ(res.status, 303);
    std::string set = header(res, "Set-Cookie");
    cookie_ = set.substr(0, set.find(';'));
  }
  std::string attachment_url(std::size_t index) const {
    return "/case/" + ref_ + "/message/" + std::to_string(message_id_) + "/attachment/" + std::to_string(index);
  }
  std::string original_url() const { return "/case/" + ref_ + "/message/" + std::to_string(message_id_) + "/original"; }
  // The raw column emptied behind the store's back; what intake stored stays.
  void clear_raw() { exec_sql(config_.store.path, "UPDATE messages SET raw = X'' WHERE direction = 'in'"); }
  void purge_raw_mail() {
    queue::Store::RetentionPolicy p;
    p.raw_mail_before = kNow + 1;
    p.raw_mail_rule = "raw_mail = 1d";
    store_->purge(p, kNow, false);
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  config::Config config_;
  std::unique_ptr<queue::Store> store_;
  std::unique_ptr<WebUi> ui_;
  HttpHandler handler_;
  std::string cookie_;
  std::string big_, small_, raw_, ref_;
  std::int64_t message_id_ = 0;
};

TEST_F(AdversarialCaseView, ViewAndDownloadsDoNotReadTheRawMail) {
  login();
  clear_raw();
  auto page = get("/case/" + ref_);
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("Established patient, see the op note."), std::string::npos);
  EXPECT_NE(page.body.find("href=\"" + attachment_url(0) + "\""), std::string::npos) << page.body;
  EXPECT_NE(page.body.find(">op-note.pdf</a>"), std::string::npos);
  EXPECT_NE(page.body.find(">claims.csv</a>"), std::string::npos);
  EXPECT_NE(page.body.find("780.1 KB"), std::string::npos);  // the stored size, human readable
  EXPECT_EQ(page.body.find("id=\"purged-m"), std::string::npos);

  auto big = get(attachment_url(0));
  ASSERT_EQ(big.status, 200);
  EXPECT_EQ(big.content_type, "application/octet-stream");
  EXPECT_TRUE(static_cast<bool>(big.stream)) << "a multi-chunk attachment is streamed, not held whole";
  EXPECT_EQ(big.stream_size, big_.size());
  EXPECT_TRUE(big.body.empty());
  const std::string got = drain(big);
  EXPECT_EQ(got.size(), big_.size());
  EXPECT_TRUE(got == big_) << "the download differs from the attachment sent";
  auto small = get(attachment_url(1));
  ASSERT_EQ(small.status, 200);
  EXPECT_EQ(drain(small), small_);
  EXPECT_NE(header(small, "Content-Disposition").find("claims.csv"), std::string::npos);
  EXPECT_EQ(get(attachment_url(2)).status, 404);
  EXPECT_EQ(get("/case/" + ref_ + "/message/" + std::to_string(message_id_ + 99) + "/attachment/0").status, 404);
  EXPECT_EQ(get("/case/CD-999999/message/" + std::to_string(message_id_) + "/attachment/0").status, 404);
}

TEST_F(AdversarialCaseView, OriginalMessageDownloadIsTheRawMailInPieces) {
  login();
  auto page = get("/case/" + ref_);
  EXPECT_NE(page.body.find("href=\"" + original_url() + "\""), std::string::npos);
  auto r = get(original_url());
  ASSERT_EQ(r.status, 200);
  ASSERT_TRUE(static_cast<bool>(r.stream));
  EXPECT_EQ(r.stream_size, raw_.size());
  EXPECT_NE(header(r, "Content-Disposition").find(".eml"), std::string::npos);
  EXPECT_TRUE(drain(r) == raw_);
  EXPECT_EQ(get("/case/CD-999999/message/" + std::to_string(message_id_) + "/original").status, 404);
}

TEST_F(AdversarialCaseView, PurgeByRetentionShowsANoticeInsteadOfTextAndAttachments) {
  login();
  purge_raw_mail();
  auto page = get("/case/" + ref_);
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("id=\"purged-m" + std::to_string(message_id_) + "\""), std::string::npos) << page.body;
  EXPECT_NE(page.body.find("Purged by retention"), std::string::npos);
  EXPECT_EQ(page.body.find("Established patient"), std::string::npos);
  EXPECT_EQ(page.body.find("/attachment/"), std::string::npos);
  EXPECT_EQ(page.body.find(original_url()), std::string::npos);
  EXPECT_EQ(get(attachment_url(0)).status, 404);
  EXPECT_EQ(get(original_url()).status, 410);
}

TEST_F(AdversarialCaseView, CaseJsonListsStoredAttachmentsAndThePurge) {
  clear_raw();
  auto detail = store_->get_case(ref_);
  ASSERT_TRUE(detail);
  auto j = case_detail_json(*detail, message_contents(*store_, *detail, kNow));
  const auto& m = j["messages"][0];
  EXPECT_EQ(m["content"], "stored");
  ASSERT_EQ(m["attachments"].size(), 2u) << m.dump();
  EXPECT_EQ(m["attachments"][0]["filename"], "op-note.pdf");
  EXPECT_EQ(m["attachments"][0]["size"], big_.size());
  EXPECT_EQ(m["attachments"][0]["data_size"], big_.size());
  EXPECT_EQ(m["attachments"][1]["content_type"], "text/csv");
  EXPECT_NE(m["attachments"][1]["text"].get<std::string>().find("64635"), std::string::npos);
  EXPECT_NE(m["body_text"].get<std::string>().find("Established patient"), std::string::npos);
  // The old shape is unchanged: the same fields, no new ones, without the contents.
  auto plain = case_detail_json(*detail);
  EXPECT_FALSE(plain["messages"][0].contains("attachments"));

  purge_raw_mail();
  detail = store_->get_case(ref_);
  j = case_detail_json(*detail, message_contents(*store_, *detail, kNow));
  EXPECT_EQ(j["messages"][0]["content"], "purged");
  EXPECT_EQ(j["messages"][0]["purged_at"], iso_utc(kNow));
  EXPECT_TRUE(j["messages"][0]["attachments"].empty());
  EXPECT_EQ(j["messages"][0]["body_text"], "");
}

// A blocking loopback client for one GET; returns the head and fills `body` (Content-Length bytes,
// or what came before the server closed).
std::string http_get(int port, const std::string& target, const std::string& cookie, std::string& body,
                     std::size_t& content_length) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "<connect failed>";
  }
  std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nConnection: close\r\n" + (cookie.empty() ? "" : "Cookie: " + cookie + "\r\n") + "\r\n";
  ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string all;
  char buf[65536];
  for (;;) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    all.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  auto end = all.find("\r\n\r\n");
  if (end == std::string::npos) return all;
  std::string head = all.substr(0, end);
  body = all.substr(end + 4);
  content_length = 0;
  std::string lower = head;
  for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (auto p = lower.find("content-length:"); p != std::string::npos) content_length = std::stoul(lower.substr(p + 15));
  return head;
}

struct Serving {
  boost::asio::io_context io;
  std::unique_ptr<HttpServer> server;
  std::thread thread;
  explicit Serving(HttpHandler handler) {
    server = std::make_unique<HttpServer>(io, "127.0.0.1", 0, std::move(handler));
    server->start();
    thread = std::thread([this] {
      auto guard = boost::asio::make_work_guard(io);
      io.run();
    });
  }
  ~Serving() {
    server->stop();
    io.stop();
    thread.join();
  }
};

TEST_F(AdversarialCaseView, StreamedDownloadOverHttpIsTheAttachmentByteForByte) {
  login();
  clear_raw();
  Serving s(handler_);
  std::string body;
  std::size_t length = 0;
  auto head = http_get(s.server->port(), attachment_url(0), cookie_, body, length);
  ASSERT_EQ(head.rfind("HTTP/1.1 200", 0), 0u) << head;
  EXPECT_NE(head.find("Content-Disposition: attachment; filename=\"op-note.pdf\""), std::string::npos) << head;
  EXPECT_NE(head.find("X-Content-Type-Options: nosniff"), std::string::npos) << head;
  EXPECT_EQ(length, big_.size());
  EXPECT_EQ(body.size(), big_.size());
  EXPECT_TRUE(body == big_);
}

TEST(AdversarialStreamedBody, AStreamThatEndsEarlyClosesTheConnectionShort) {
  int calls = 0;
  Serving s([&calls](const HttpRequest&) {
    HttpResponse r;
    r.stream_size = 10;
    r.stream = [&calls]() -> std::optional<std::string> {
      if (calls++ == 0) return std::string("abcd");
      return std::nullopt;  // the bytes vanished
    };
    return r;
  });
  std::string body;
  std::size_t length = 0;
  auto head = http_get(s.server->port(), "/x", "", body, length);
  EXPECT_EQ(head.rfind("HTTP/1.1 200", 0), 0u) << head;
  EXPECT_EQ(length, 10u);
  EXPECT_EQ(body, "abcd");  // short, and the connection was closed: never taken for complete
}

TEST(AdversarialStreamedBody, PiecesAreSentInOrderWithTheContentLength) {
  Serving s([](const HttpRequest&) {
    HttpResponse r;
    r.stream_size = 3 * 100000;
    r.stream = [n = 0]() mutable -> std::optional<std::string> { return std::string(100000, static_cast<char>('a' + n++)); };
    return r;
  });
  std::string body;
  std::size_t length = 0;
  auto head = http_get(s.server->port(), "/x", "", body, length);
  EXPECT_EQ(length, 300000u) << head;
  EXPECT_EQ(body, std::string(100000, 'a') + std::string(100000, 'b') + std::string(100000, 'c'));
}

}  // namespace
}  // namespace casedesk::daemon
