#include "parsers/compose.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <string>
#include <vector>

#include "parsers/message.hpp"

using casedesk::parsers::Address;
using casedesk::parsers::ComposeError;
using casedesk::parsers::compose_message;
using casedesk::parsers::domain_of;
using casedesk::parsers::encode_header_text;
using casedesk::parsers::format_rfc5322_date;
using casedesk::parsers::is_plain_addr_spec;
using casedesk::parsers::is_valid_msg_id;
using casedesk::parsers::make_message_id;
using casedesk::parsers::Message;
using casedesk::parsers::Outgoing;
using casedesk::parsers::parse_message;

namespace {

Outgoing basic() {
  Outgoing o;
  o.from = {"desk@desk.example", "Coding Desk"};
  o.to = {"anna.meier@clinic.example", "Anna Meier"};
  o.subject = "Re: Modifier 50 for 64635? [CD-000001]";
  o.message_id = "<20261126T091500.0123456789abcdef@desk.example>";
  o.date_epoch = 1795702500;
  o.text_body = "Hello,\nwe have opened case CD-000001.\n";
  return o;
}

std::vector<std::string> lines_of(const std::string& raw) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < raw.size()) {
    std::size_t end = raw.find("\r\n", pos);
    if (end == std::string::npos) {
      out.push_back(raw.substr(pos));
      break;
    }
    out.push_back(raw.substr(pos, end - pos));
    pos = end + 2;
  }
  return out;
}

// The header section's physical lines (up to the first empty line).
std::vector<std::string> header_lines(const std::string& raw) {
  std::vector<std::string> out;
  for (const auto& l : lines_of(raw)) {
    if (l.empty()) break;
    out.push_back(l);
  }
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Names of the header fields, from lines that do not start with whitespace (continuations).
std::vector<std::string> header_names(const std::string& raw) {
  std::vector<std::string> out;
  for (const auto& l : header_lines(raw)) {
    if (l[0] == ' ' || l[0] == '\t') continue;
    out.push_back(lower(l.substr(0, l.find(':'))));
  }
  return out;
}

bool has_header(const std::string& raw, const std::string& name) {
  auto names = header_names(raw);
  return std::find(names.begin(), names.end(), lower(name)) != names.end();
}

std::optional<std::string> parsed_header(const Message& m, const std::string& name) {
  for (const auto& [n, v] : m.headers)
    if (lower(n) == lower(name)) return v;
  return std::nullopt;
}

// Every physical line but CRLF; lines must also not contain a bare CR or LF.
void expect_lines_within(const std::string& raw, std::size_t limit) {
  for (const auto& l : lines_of(raw)) {
    EXPECT_LE(l.size(), limit) << "line: " << l;
    EXPECT_EQ(l.find_first_of("\r\n"), std::string::npos) << "bare CR/LF in: " << l;
  }
}

// RFC 2045 quoted-printable decoding; hard line breaks (CRLF) become "\n".
std::string qp_decode(const std::string& body) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  auto lines = lines_of(body);
  for (std::size_t li = 0; li < lines.size(); ++li) {
    const std::string& l = lines[li];
    bool soft = false;
    for (std::size_t i = 0; i < l.size(); ++i) {
      if (l[i] != '=') {
        out += l[i];
        continue;
      }
      if (i + 1 == l.size()) {
        soft = true;
        break;
      }
      int hi = hex(l[i + 1]);
      int lo = i + 2 < l.size() ? hex(l[i + 2]) : -1;
      EXPECT_TRUE(hi >= 0 && lo >= 0) << "bad escape in line: " << l;
      if (hi < 0 || lo < 0) break;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    const bool terminated =
        li + 1 < lines.size() || (body.size() >= 2 && body.compare(body.size() - 2, 2, "\r\n") == 0);
    if (!soft && terminated) out += '\n';
  }
  return out;
}

// The parser keeps the CRLF line breaks of decoded text; compare with LF.
std::string lf(std::string s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (!(s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n')) out += s[i];
  return out;
}

// The text after the first empty line.
std::string body_of(const std::string& raw) {
  std::size_t p = raw.find("\r\n\r\n");
  return p == std::string::npos ? std::string{} : raw.substr(p + 4);
}

std::string long_body() {
  std::string body;
  for (int i = 0; i < 20; ++i) {
    body += "Débridement – 11042 ✓ and 64635-50, Größe: ";
    body += std::string(120, 'x');
    body += " end\n";
    body += std::string(200, '=') + "\n";
    body += "a very long line made only of words that goes on and on and on past the seventy-eight column "
            "limit of a mail line, ¿verdad? ";
    body += "\n";
  }
  return body;
}

}  // namespace

TEST(Compose, RoundTripsThroughParser) {
  Outgoing o = basic();
  o.in_reply_to = "<m1@clinic.example>";
  o.references = {"<m0@clinic.example>", "<m1@clinic.example>"};
  std::string raw = compose_message(o);
  Message m = parse_message(raw);
  EXPECT_EQ(m.subject, o.subject);
  EXPECT_EQ(m.from_addr, "desk@desk.example");
  EXPECT_EQ(m.from_name, "Coding Desk");
  ASSERT_EQ(m.to.size(), 1u);
  EXPECT_EQ(m.to[0].addr, "anna.meier@clinic.example");
  EXPECT_EQ(m.to[0].name, "Anna Meier");
  EXPECT_EQ(m.message_id, o.message_id);
  EXPECT_EQ(m.in_reply_to, "<m1@clinic.example>");
  EXPECT_EQ(m.references, o.references);
  EXPECT_EQ(m.date_epoch, o.date_epoch);
  EXPECT_EQ(lf(m.body_text), o.text_body);
  EXPECT_TRUE(m.attachments.empty());
  EXPECT_TRUE(has_header(raw, "MIME-Version"));
}

TEST(Compose, NonAsciiSubjectAndNamesRoundTrip) {
  Outgoing o = basic();
  o.subject = "Débridement – 11042 ✓";
  o.from.name = "Kodier-Büro Süd";
  o.to.name = "José Müller, MD";
  std::string raw = compose_message(o);
  for (const auto& l : header_lines(raw))
    for (unsigned char c : l) ASSERT_LT(c, 0x80) << "raw 8-bit byte in header line: " << l;
  Message m = parse_message(raw);
  EXPECT_EQ(m.subject, "Débridement – 11042 ✓");
  EXPECT_EQ(m.from_name, "Kodier-Büro Süd");
  ASSERT_EQ(m.to.size(), 1u);
  EXPECT_EQ(m.to[0].name, "José Müller, MD");
  EXPECT_EQ(m.to[0].addr, "anna.meier@clinic.example");
}

TEST(Compose, LongNonAsciiSubjectRoundTripsAndFolds) {
  Outgoing o = basic();
  std::string subject;
  // 200 characters, 2- and 3-byte UTF-8 mixed with ASCII.
  const std::vector<std::string> pieces = {"é", "–", "a", "✓", "ü", " ", "ß", "B"};
  for (int i = 0; i < 200; ++i) subject += pieces[i % pieces.size()];
  o.subject = subject;
  std::string raw = compose_message(o);
  expect_lines_within(raw, 78);
  Message m = parse_message(raw);
  EXPECT_EQ(m.subject, subject);
}

TEST(Compose, LongAsciiSubjectFoldsAndRoundTrips) {
  Outgoing o = basic();
  std::string subject;
  for (int i = 0; i < 30; ++i) subject += "word" + std::to_string(i) + " ";
  subject += "end";
  o.subject = subject;
  std::string raw = compose_message(o);
  expect_lines_within(raw, 78);
  EXPECT_EQ(parse_message(raw).subject, subject);
}

TEST(Compose, CrLfInSubjectDoesNotInjectHeaders) {
  Outgoing o = basic();
  o.subject = "x\r\nBcc: evil@example.test";
  std::string raw = compose_message(o);
  EXPECT_FALSE(has_header(raw, "Bcc")) << raw;
  for (const auto& l : lines_of(raw)) EXPECT_NE(lower(l).rfind("bcc:", 0), 0u) << raw;
  Message m = parse_message(raw);
  EXPECT_EQ(parsed_header(m, "Bcc"), std::nullopt);
  ASSERT_TRUE(m.subject);
  EXPECT_NE(m.subject->find("evil@example.test"), std::string::npos);  // kept as text on one line
  EXPECT_EQ(m.subject->find('\n'), std::string::npos);
}

TEST(Compose, LoneLfAndCrInHeadersDoNotInjectHeaders) {
  for (const std::string sep : {"\n", "\r", "\r\n\r\n"}) {
    Outgoing o = basic();
    o.subject = "x" + sep + "Bcc: evil@example.test";
    o.from.name = "Desk" + sep + "Bcc: evil2@example.test";
    o.to.name = "Anna" + sep + "Cc: evil3@example.test";
    o.extra_headers = {{"X-Casedesk-Case", "CD-000001" + sep + "Bcc: evil4@example.test"}};
    std::string raw = compose_message(o);
    auto names = header_names(raw);
    EXPECT_EQ(std::count(names.begin(), names.end(), "bcc"), 0) << raw;
    EXPECT_EQ(std::count(names.begin(), names.end(), "cc"), 0) << raw;
    EXPECT_EQ(std::count(names.begin(), names.end(), "from"), 1) << raw;
    EXPECT_EQ(std::count(names.begin(), names.end(), "to"), 1) << raw;
    EXPECT_EQ(std::count(names.begin(), names.end(), "x-casedesk-case"), 1) << raw;
    // The header section must not end early: the body comes after exactly one empty line.
    EXPECT_EQ(body_of(raw).find("Bcc"), std::string::npos) << raw;
    Message m = parse_message(raw);
    EXPECT_EQ(parsed_header(m, "Bcc"), std::nullopt);
    EXPECT_EQ(parsed_header(m, "Cc"), std::nullopt);
    EXPECT_EQ(m.from_addr, "desk@desk.example");
    EXPECT_EQ(lf(m.body_text), o.text_body);
  }
}

TEST(Compose, ExtraHeadersAreWritten) {
  Outgoing o = basic();
  o.extra_headers = {{"Auto-Submitted", "auto-replied"}, {"X-Casedesk-Case", "CD-000001"}};
  std::string raw = compose_message(o);
  auto lines = header_lines(raw);
  EXPECT_NE(std::find(lines.begin(), lines.end(), "Auto-Submitted: auto-replied"), lines.end()) << raw;
  EXPECT_NE(std::find(lines.begin(), lines.end(), "X-Casedesk-Case: CD-000001"), lines.end()) << raw;
}

TEST(Compose, InvalidHeaderNameThrows) {
  for (const std::string name : {"", "Bad Name", "Bad:Name", "X-\r\nBcc", "Caf\xC3\xA9"}) {
    Outgoing o = basic();
    o.extra_headers = {{name, "v"}};
    EXPECT_THROW(compose_message(o), ComposeError) << name;
  }
}

TEST(Compose, BadAddressesThrow) {
  for (const std::string addr : {"anna@clinic.example\r\nBcc: evil@example.test", "anna@clinic.example\n",
                                 "anna meier@clinic.example", "<anna@clinic.example>", "Anna <anna@clinic.example>",
                                 "", "no-at-sign", "a@b@c.example", "a@b.example, c@d.example"}) {
    Outgoing to_bad = basic();
    to_bad.to.addr = addr;
    EXPECT_THROW(compose_message(to_bad), ComposeError) << addr;
    Outgoing from_bad = basic();
    from_bad.from.addr = addr;
    EXPECT_THROW(compose_message(from_bad), ComposeError) << addr;
  }
}

TEST(Compose, InvalidMessageIdThrowsAndInvalidReferencesAreDropped) {
  Outgoing bad = basic();
  bad.message_id = "no-brackets@desk.example";
  EXPECT_THROW(compose_message(bad), ComposeError);

  Outgoing o = basic();
  o.in_reply_to = "<bad id@clinic.example>";
  o.references = {"<ok1@clinic.example>", "not-an-id", "<a\r\nBcc: x@y>", "<>", "<x<y@z>", "<ok2@clinic.example>"};
  std::string raw = compose_message(o);
  EXPECT_FALSE(has_header(raw, "In-Reply-To")) << raw;
  EXPECT_FALSE(has_header(raw, "Bcc")) << raw;
  Message m = parse_message(raw);
  EXPECT_EQ(m.references, (std::vector<std::string>{"<ok1@clinic.example>", "<ok2@clinic.example>"}));
  EXPECT_EQ(m.in_reply_to, std::nullopt);
}

TEST(Compose, ManyReferencesFold) {
  Outgoing o = basic();
  for (int i = 0; i < 30; ++i) o.references.push_back("<ref-" + std::to_string(i) + "@clinic.example>");
  std::string raw = compose_message(o);
  expect_lines_within(raw, 78);
  EXPECT_EQ(parse_message(raw).references, o.references);
}

TEST(Compose, LinesStayWithin78Chars) {
  Outgoing o = basic();
  o.subject = "Débridement – 11042 ✓ " + std::string(40, 'y') + " Größe";
  o.from.name = "Kodier-Büro Süd mit einem ziemlich langen Anzeigenamen für die Zeile";
  o.extra_headers = {{"X-Casedesk-Case", "CD-000001"}, {"X-Note", "Überlänge " + std::string(30, 'z') + " ✓✓✓✓✓✓"}};
  o.text_body = long_body();
  o.html_body = "<p>" + long_body() + "</p>";
  std::string raw = compose_message(o);
  expect_lines_within(raw, 78);
}

TEST(Compose, QuotedPrintableLinesStayWithin76Chars) {
  // RFC 2045 6.7 (5): encoded lines are at most 76 characters, also when trailing whitespace is
  // encoded at the end of a full line.
  for (std::size_t n = 70; n <= 80; ++n) {
    Outgoing o = basic();
    o.text_body = std::string(n, 'a') + " \n" + std::string(n, 'b') + "\t\n" + std::string(n, 'c') + " ";
    std::string raw = compose_message(o);
    for (const auto& l : lines_of(body_of(raw))) EXPECT_LE(l.size(), 76u) << "n=" << n << " line: " << l;
    EXPECT_EQ(qp_decode(body_of(raw)), o.text_body + "\n") << "n=" << n;
  }
}

TEST(Compose, TextBodyRoundTripsExactly) {
  Outgoing o = basic();
  o.text_body =
      "Trailing spaces   \n"
      "Trailing tab\t\n"
      ".leading dot\n"
      "..two dots\n"
      ".\n"
      "From here on\n"
      "From\n"
      "equals = signs == and =3D and =\n"
      "non-ASCII: Débridement – 11042 ✓ Größe\n"
      "\n"
      "after an empty line\n" +
      std::string(300, 'L') + "\n" + std::string(100, '.') + "\n" + std::string(90, '=') + "\n" + "end  \n";
  std::string raw = compose_message(o);
  expect_lines_within(raw, 78);
  const std::string body = body_of(raw);
  EXPECT_EQ(qp_decode(body), o.text_body);
  for (const auto& l : lines_of(body)) {
    EXPECT_NE(l.rfind("From ", 0), 0u) << l;
    EXPECT_NE(l.rfind(".", 0), 0u) << l;
    if (!l.empty()) {
      EXPECT_NE(l.back(), ' ') << l;
      EXPECT_NE(l.back(), '\t') << l;
    }
  }
  EXPECT_EQ(lf(parse_message(raw).body_text), o.text_body);
}

TEST(Compose, CrLfInBodyBecomesLineBreak) {
  Outgoing o = basic();
  o.text_body = "one\r\ntwo\r\n";
  EXPECT_EQ(qp_decode(body_of(compose_message(o))), "one\ntwo\n");
}

TEST(Compose, MultipartAlternativeWhenHtmlIsSet) {
  Outgoing o = basic();
  o.text_body = "Plain – text\n";
  o.html_body = "<p>Hello <b>Anna</b> – case CD-000001 ✓</p>\n";
  std::string raw = compose_message(o);
  expect_lines_within(raw, 78);
  EXPECT_NE(raw.find("Content-Type: multipart/alternative;"), std::string::npos) << raw;

  // Find the boundary and check both parts decode to what was given.
  std::size_t b = raw.find("boundary=\"");
  ASSERT_NE(b, std::string::npos);
  b += 10;
  const std::string boundary = raw.substr(b, raw.find('"', b) - b);
  ASSERT_FALSE(boundary.empty());
  const std::string delim = "\r\n--" + boundary;
  std::vector<std::string> parts;
  std::size_t pos = raw.find(delim);
  ASSERT_NE(pos, std::string::npos);
  while (true) {
    std::size_t start = pos + delim.size();
    if (raw.compare(start, 2, "--") == 0) break;
    std::size_t next = raw.find(delim, start);
    ASSERT_NE(next, std::string::npos) << "unterminated multipart";
    parts.push_back(raw.substr(start + 2, next - start - 2));  // the CRLF before "--" is the delimiter's
    pos = next;
  }
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_NE(parts[0].find("Content-Type: text/plain; charset=UTF-8"), std::string::npos) << parts[0];
  EXPECT_NE(parts[1].find("Content-Type: text/html; charset=UTF-8"), std::string::npos) << parts[1];
  EXPECT_EQ(qp_decode(body_of(parts[0])), o.text_body);
  EXPECT_EQ(qp_decode(body_of(parts[1])), o.html_body);

  Message m = parse_message(raw);
  EXPECT_EQ(lf(m.body_text), o.text_body);  // text/plain preferred
  EXPECT_EQ(m.subject, o.subject);
}

TEST(Compose, EmptyBodyThrows) {
  Outgoing o = basic();
  o.text_body.clear();
  EXPECT_THROW(compose_message(o), ComposeError);
}

TEST(Compose, DateHeaderIsRfc5322Utc) {
  std::string raw = compose_message(basic());
  auto lines = header_lines(raw);
  EXPECT_NE(std::find(lines.begin(), lines.end(), "Date: " + format_rfc5322_date(1795702500)), lines.end()) << raw;
}

TEST(Compose, FormatRfc5322Date) {
  EXPECT_EQ(format_rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(format_rfc5322_date(1795702500), "Thu, 26 Nov 2026 14:15:00 +0000");
  EXPECT_EQ(format_rfc5322_date(951782400), "Tue, 29 Feb 2000 00:00:00 +0000");
}

TEST(Compose, MakeMessageIdIsUniqueAndValid) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = make_message_id("desk.example");
    EXPECT_TRUE(is_valid_msg_id(id)) << id;
    EXPECT_TRUE(id.size() > 14 && id.compare(id.size() - 14, 14, "@desk.example>") == 0) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(Compose, IsValidMsgId) {
  EXPECT_TRUE(is_valid_msg_id("<a@b>"));
  EXPECT_TRUE(is_valid_msg_id("<20261126T091500.1a2b@desk.example>"));
  EXPECT_FALSE(is_valid_msg_id("a@b"));
  EXPECT_FALSE(is_valid_msg_id("<>"));
  EXPECT_FALSE(is_valid_msg_id("<a b@c>"));
  EXPECT_FALSE(is_valid_msg_id("<a@b>\r\nBcc: x@y"));
  EXPECT_FALSE(is_valid_msg_id("<a\r\n@b>"));
  EXPECT_FALSE(is_valid_msg_id("<<a@b>>"));
  EXPECT_FALSE(is_valid_msg_id("<a@b"));
}

TEST(Compose, IsPlainAddrSpec) {
  EXPECT_TRUE(is_plain_addr_spec("anna.meier+cases@clinic.example"));
  EXPECT_FALSE(is_plain_addr_spec("anna @clinic.example"));
  EXPECT_FALSE(is_plain_addr_spec("<anna@clinic.example>"));
  EXPECT_FALSE(is_plain_addr_spec("anna@clinic.example\r\n"));
  EXPECT_FALSE(is_plain_addr_spec("@clinic.example"));
  EXPECT_FALSE(is_plain_addr_spec("anna@"));
}

TEST(Compose, DomainOf) {
  EXPECT_EQ(domain_of("desk@desk.example"), "desk.example");
  EXPECT_EQ(domain_of("no-at"), "localhost");
  EXPECT_EQ(domain_of("desk@"), "localhost");
  EXPECT_EQ(domain_of("desk@evil>host"), "evil-host");
}

TEST(Compose, EncodeHeaderText) {
  EXPECT_EQ(encode_header_text("plain ascii"), "plain ascii");
  EXPECT_EQ(encode_header_text("a\r\nb"), "a  b");
  std::string enc = encode_header_text("Débridement");
  EXPECT_EQ(enc.rfind("=?UTF-8?B?", 0), 0u) << enc;
  for (unsigned char c : enc) EXPECT_LT(c, 0x80);
}

// Issue 12 item 1: a 10,000-character subject without a space, a 2,000-character display name and
// 500 References still make a message whose header lines all fit in 78 characters, and that parses
// back to what was meant (the reference id of the thread's start and its latest ids kept).
TEST(AdversarialCompose, HugeSubjectNameAndReferencesFoldAndRoundTrip) {
  Outgoing o = basic();
  o.subject = std::string(10000, 'A') + " 99215 [CD-000001]";
  o.to.name = std::string(2000, 'N');
  for (int i = 0; i < 500; ++i) o.references.push_back("<r" + std::to_string(i) + "@clinic.example>");
  o.in_reply_to = o.references.back();
  std::string raw = compose_message(o);
  expect_lines_within(raw, 78);
  Message m = parse_message(raw);
  EXPECT_EQ(m.subject, o.subject);
  ASSERT_EQ(m.to.size(), 1u);
  EXPECT_EQ(m.to[0].addr, "anna.meier@clinic.example");
  EXPECT_EQ(m.to[0].name, o.to.name);
  ASSERT_EQ(m.references.size(), 41u);
  EXPECT_EQ(m.references.front(), "<r0@clinic.example>");
  EXPECT_EQ(m.references.back(), "<r499@clinic.example>");
  EXPECT_EQ(m.references[1], "<r460@clinic.example>");
  EXPECT_EQ(m.in_reply_to, "<r499@clinic.example>");
}

TEST(AdversarialCompose, ShortAsciiSubjectStaysPlain) {
  Outgoing o = basic();
  o.subject = "Facet injection 64635-50 [CD-000001]";
  std::string raw = compose_message(o);
  EXPECT_NE(raw.find("Subject: Facet injection 64635-50 [CD-000001]\r\n"), std::string::npos);
}
