// Parses every message of shared/mime-corpus and measures per-field agreement with
// expected.jsonl (Python's email package). Floors sit a little under the measured rates so a
// regression fails the test; the rates themselves are printed.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "parsers/charset.hpp"
#include "parsers/message.hpp"

namespace fs = std::filesystem;
using casedesk::parsers::BodySource;
using casedesk::parsers::Message;
using casedesk::parsers::parse_message;

namespace {

const fs::path kCorpus = fs::path(CASEDESK_SHARED "/mime-corpus");

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

nlohmann::json opt(const std::optional<std::string>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }

struct Rate {
  int agree = 0;
  int total = 0;
  double pct() const { return total ? 100.0 * agree / total : 100.0; }
};

class Tally {
 public:
  void add(const std::string& field, bool ok, const std::string& file) {
    Rate& r = rates_[field];
    ++r.total;
    if (ok) {
      ++r.agree;
    } else if (std::getenv("CASEDESK_CORPUS_VERBOSE")) {
      std::cout << "  mismatch " << field << ": " << file << "\n";
    }
  }
  const Rate& at(const std::string& field) { return rates_[field]; }
  void print() const {
    for (const auto& [field, r] : rates_) {
      std::printf("  %-24s %6.2f%%  (%d/%d)\n", field.c_str(), r.pct(), r.agree, r.total);
    }
  }

 private:
  std::map<std::string, Rate> rates_;
};

}  // namespace

TEST(MimeCorpus, ParsesEveryMessageWithoutCrashing) {
  if (!fs::is_directory(kCorpus)) GTEST_SKIP() << "corpus folder absent: " << kCorpus;
  int parsed = 0;
  for (const auto& entry : fs::directory_iterator(kCorpus)) {
    if (entry.path().extension() != ".eml") continue;
    Message m = parse_message(read_file(entry.path()));
    EXPECT_TRUE(casedesk::parsers::is_valid_utf8(m.body_text)) << entry.path();
    ++parsed;
  }
  std::cout << "parsed " << parsed << " corpus messages\n";
  EXPECT_GT(parsed, 200);
}

TEST(MimeCorpus, AgreesWithPythonOnNonLenientRecords) {
  const fs::path expected = kCorpus / "expected.jsonl";
  if (!fs::exists(expected)) GTEST_SKIP() << "corpus expectations absent: " << expected;
  std::ifstream in(expected);
  std::string line;
  Tally tally;
  int records = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    nlohmann::json rec = nlohmann::json::parse(line);
    if (rec.value("lenient", false)) continue;
    const std::string file = rec["file"];
    Message m = parse_message(read_file(kCorpus / file));
    ++records;
    tally.add("from_addr", opt(m.from_addr) == rec["from_addr"], file);
    tally.add("from_name", opt(m.from_name) == rec["from_name"], file);
    nlohmann::json to = nlohmann::json::array();
    for (const auto& a : m.to) to.push_back({{"addr", a.addr}, {"name", a.name}});
    tally.add("to", to == rec["to"], file);
    tally.add("subject", opt(m.subject) == rec["subject"], file);
    tally.add("message_id", opt(m.message_id) == rec["message_id"], file);
    tally.add("in_reply_to", opt(m.in_reply_to) == rec["in_reply_to"], file);
    tally.add("references", nlohmann::json(m.references) == rec["references"], file);
    // Date as an instant: same epoch, and the same "no zone" status.
    bool date_ok = false;
    if (rec["date"].is_null()) {
      date_ok = !m.date.has_value();
    } else if (m.date) {
      date_ok = *m.date == rec["date"].get<std::string>();
    }
    tally.add("date", date_ok, file);
    nlohmann::json atts = nlohmann::json::array();
    for (const auto& a : m.attachments) {
      atts.push_back({{"filename", opt(a.filename)},
                      {"content_type", a.content_type},
                      {"size", a.size ? nlohmann::json(*a.size) : nlohmann::json(nullptr)}});
    }
    tally.add("attachments", atts == rec["attachments"], file);
    tally.add("body_source", std::string(casedesk::parsers::to_string(m.body_source)) == rec["body_source"], file);
    if (rec["body_source"] == "text/plain") {
      tally.add("body_text(plain)",
                casedesk::parsers::collapse_whitespace(m.body_text) == rec["body_text"].get<std::string>(), file);
    }
    if (rec["body_source"] == "text/html") {
      tally.add("body_text(html,info)",
                casedesk::parsers::collapse_whitespace(m.body_text) == rec["body_text"].get<std::string>(), file);
    }
  }
  std::cout << "compared " << records << " non-lenient corpus records\n";
  tally.print();
  ASSERT_GT(records, 100);
  // Floors: measured rates minus a small margin (see the printed table).
  // Measured when written: 100% on all header fields except from_name and attachments (99.3%,
  // each one deliberate divergence from Python: RFC 2047 words in a display name joined without
  // the folding blank; an unquoted encoded-word filename decoded), body_text(plain) 100%.
  // Since uuencode detection: attachments 98.7%, body_text(plain) 99.1% (mimetools__sig-uu.eml:
  // uuencoded blocks leave the body and become attachments; see docs/parser-conformance.md).
  for (const char* field : {"from_addr", "from_name", "to", "subject", "message_id", "in_reply_to",
                            "references", "date", "attachments", "body_source"}) {
    EXPECT_GE(tally.at(field).pct(), 97.0) << field;
  }
  EXPECT_GE(tally.at("body_text(plain)").pct(), 96.0);
  EXPECT_GE(tally.at("body_text(html,info)").pct(), 85.0);
}
