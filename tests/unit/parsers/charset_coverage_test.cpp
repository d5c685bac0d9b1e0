// Every charset the issue names decodes to the expected UTF-8, both through to_utf8() and through
// a whole message (base64 body with that charset label). Cases: fixtures/.../charsets/cases.tsv,
// written once by generate.py there with Python's codecs.

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "parsers/charset.hpp"
#include "parsers/message.hpp"

using namespace casedesk::parsers;

namespace {

struct Case {
  std::string label;  // may carry " (upper half)"
  std::string bytes;
  std::string utf8;
};

std::string unhex(const std::string& h) {
  std::string out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16)));
  return out;
}

std::vector<Case> load_cases() {
  std::ifstream in(CASEDESK_FIXTURES "/mail/parsers/charsets/cases.tsv");
  std::vector<Case> cases;
  std::string line;
  while (std::getline(in, line)) {
    auto a = line.find('\t'), b = line.find('\t', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    cases.push_back({line.substr(0, a), unhex(line.substr(a + 1, b - a - 1)), unhex(line.substr(b + 1))});
  }
  return cases;
}

std::string base64(const std::string& s) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < s.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(s[i]) << 16) | (static_cast<unsigned char>(s[i + 1]) << 8) |
                 static_cast<unsigned char>(s[i + 2]);
    for (int k2 = 18; k2 >= 0; k2 -= 6) out.push_back(k[(v >> k2) & 63]);
  }
  if (i < s.size()) {
    unsigned v = static_cast<unsigned char>(s[i]) << 16;
    if (i + 1 < s.size()) v |= static_cast<unsigned char>(s[i + 1]) << 8;
    out.push_back(k[(v >> 18) & 63]);
    out.push_back(k[(v >> 12) & 63]);
    out.push_back(i + 1 < s.size() ? k[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

}  // namespace

TEST(CharsetCoverage, EveryNamedCharsetDecodesToTheExpectedUtf8) {
  std::vector<Case> cases = load_cases();
  ASSERT_GE(cases.size(), 38u);
  for (const Case& c : cases) {
    std::string label = c.label.substr(0, c.label.find(' '));
    std::string warning;
    std::string got = to_utf8(c.bytes, label, &warning);
    EXPECT_EQ(got, c.utf8) << c.label;
    EXPECT_TRUE(warning.empty()) << c.label << ": " << warning;
    EXPECT_TRUE(is_valid_utf8(got)) << c.label;
    // The same bytes as a mail body, base64 so that every byte survives.
    Message m = parse_message("From: a@b.example\nContent-Type: text/plain; charset=\"" + label +
                              "\"\nContent-Transfer-Encoding: base64\n\n" + base64(c.bytes) + "\n");
    EXPECT_EQ(m.body_text, c.utf8) << c.label;
  }
}

TEST(CharsetCoverage, UnknownLabelPassesValidUtf8AndFallsBackToWindows1252) {
  std::string warning;
  EXPECT_EQ(to_utf8("Gr\xC3\xBC\xC3\x9F" "e \xE2\x9C\x93", "x-unknown", &warning), "Gr\xC3\xBC\xC3\x9F" "e \xE2\x9C\x93");
  EXPECT_FALSE(warning.empty());
  warning.clear();
  // Invalid UTF-8 under an unknown label: windows-1252 (0x80 is the euro sign, 0x9F is Y-diaeresis).
  EXPECT_EQ(to_utf8("Gr\xFC\xDF" "e \x80 \x9F", "x-made-up-42", &warning),
            "Gr\xC3\xBC\xC3\x9F" "e \xE2\x82\xAC \xC5\xB8");
  EXPECT_FALSE(warning.empty());
  Message m = parse_message("From: a@b.example\nContent-Type: text/plain; charset=x-unknown\n\ncaf\xE9\n");
  EXPECT_EQ(m.body_text, "caf\xC3\xA9\n");
  EXPECT_FALSE(m.warnings.empty());
}

TEST(CharsetCoverage, OutputIsValidUtf8ForEveryByteUnderEveryLabel) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  all += "\x1b$B\x1b(J\x1b$)C+AGE-+ZZZ";  // stray ISO-2022 escapes and a broken UTF-7 run
  for (const Case& c : load_cases()) {
    std::string label = c.label.substr(0, c.label.find(' '));
    EXPECT_TRUE(is_valid_utf8(to_utf8(all, label))) << label;
    EXPECT_TRUE(is_valid_utf8(to_utf8(c.bytes.substr(0, c.bytes.size() / 2 + 1), label))) << label;  // cut mid-character
  }
}
