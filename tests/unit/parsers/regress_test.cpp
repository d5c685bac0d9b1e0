// Regression inputs (fuzzer findings and hostile mail): every file in fixtures/mail/regress is
// parsed, its codes extracted, and the `parse --json` object dumped; the dump must succeed (it
// throws on invalid UTF-8) and be valid UTF-8. A few large hostile messages are generated here
// rather than stored. Speed is not asserted (bench/ measures it), only that parsing finishes.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "parsers/charset.hpp"
#include "parsers/codes.hpp"
#include "parsers/json.hpp"
#include "parsers/message.hpp"

namespace fs = std::filesystem;
using namespace casedesk::parsers;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// parse + extract + dump, as `casedesk parse --json` does; returns the dump.
std::string parse_extract_dump(const std::string& raw) {
  Message m = parse_message(raw);
  std::vector<Code> codes = extract_codes(m);
  nlohmann::json j = to_json(m);
  j["codes"] = to_json(codes);
  std::string out = j.dump();  // strict: throws on invalid UTF-8
  for (const auto& a : m.attachments) {
    if (a.text) {
      EXPECT_TRUE(is_valid_utf8(*a.text));
    }
  }
  return out;
}

}  // namespace

TEST(Regress, EveryFixtureParsesToValidUtf8Json) {
  const fs::path dir = fs::path(CASEDESK_FIXTURES) / "mail" / "regress";
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".eml") continue;
    SCOPED_TRACE(e.path().filename().string());
    std::string dump;
    ASSERT_NO_THROW(dump = parse_extract_dump(read_file(e.path())));
    EXPECT_TRUE(is_valid_utf8(dump));
    ++n;
  }
  EXPECT_GT(n, 0);
}

TEST(Regress, MentionsAreCappedPerCode) {
  Message m = parse_message(read_file(fs::path(CASEDESK_FIXTURES) / "mail" / "regress" / "dense_codes.eml"));
  std::vector<Code> codes = extract_codes(m);
  ASSERT_FALSE(codes.empty());
  EXPECT_EQ(codes.front().code, "64635");
  EXPECT_EQ(codes.front().mentions.size(), 1000u);
  EXPECT_EQ(codes.front().found_in, (std::vector<std::string>{"subject", "body"}));
}

TEST(Regress, UndisclosedRecipientsWithoutSemicolon) {
  Message m = parse_message(read_file(fs::path(CASEDESK_FIXTURES) / "mail" / "regress" / "undisclosed_recipients.eml"));
  EXPECT_EQ(m.from_addr, "a@b.example");
  EXPECT_NE(m.body_text.find("64635"), std::string::npos);
}

TEST(Regress, GeneratedHostileMessagesFinish) {
  const std::string head = "From: a@b.example\r\nTo: undisclosed-recipients:\r\nSubject: x\r\n";
  std::vector<std::pair<std::string, std::string>> cases;
  cases.emplace_back("8 MB header field", head + "X-Big: " + std::string(8'000'000, 'a') + "\r\n\r\nbody\r\n");
  {
    std::string s = head + "Content-Type: multipart/mixed; boundary=b\r\n\r\n";
    for (int i = 0; i < 50'000; ++i) s += "--b\r\nContent-Type: text/plain\r\n\r\npart\r\n";
    cases.emplace_back("50,000 parts", s + "--b--\r\n");
  }
  {
    std::string s = head + "Content-Type: multipart/mixed; boundary=b0\r\n\r\n";
    for (int i = 1; i < 20'000; ++i) {
      s += "--b" + std::to_string(i - 1) + "\r\nContent-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n";
    }
    cases.emplace_back("20,000 nested multiparts", s + "--b19999\r\nContent-Type: text/plain\r\n\r\ndeep\r\n");
  }
  {
    std::string s = head + "Content-Type: message/rfc822\r\n\r\n";
    for (int i = 0; i < 5'000; ++i) s += "From: x@y.example\r\nContent-Type: message/rfc822\r\n\r\n";
    cases.emplace_back("5,000 nested message/rfc822", s + "From: x@y.example\r\n\r\ninner\r\n");
  }
  cases.emplace_back("base64 garbage", head + "Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
                                          std::string(1'000'000, '|') + "====\r\n");
  for (const auto& [name, raw] : cases) {
    SCOPED_TRACE(name);
    std::string dump;
    ASSERT_NO_THROW(dump = parse_extract_dump(raw));
    EXPECT_TRUE(is_valid_utf8(dump));
  }
}
