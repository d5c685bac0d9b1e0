#include "parsers/compose.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <chrono>
#include <ctime>
#include <random>

namespace casedesk::parsers {
namespace {

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
    out += kB64[v >> 18 & 63];
    out += kB64[v >> 12 & 63];
    out += kB64[v >> 6 & 63];
    out += kB64[v & 63];
  }
  if (i + 1 == in.size()) {
    unsigned v = (unsigned char)in[i] << 16;
    out += kB64[v >> 18 & 63];
    out += kB64[v >> 12 & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8;
    out += kB64[v >> 18 & 63];
    out += kB64[v >> 12 & 63];
    out += kB64[v >> 6 & 63];
    out += '=';
  }
  return out;
}

bool is_ascii_printable(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c > 0x7e) return false;
  return true;
}

// Header values must never carry a line break: collapse CR, LF and other controls into spaces.
std::string one_line(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) out += (c < 0x20 || c == 0x7f) ? ' ' : static_cast<char>(c);
  return out;
}

// A word that cannot fit on a folded line (fold_header breaks only at spaces) must be encoded.
bool has_unfoldable_word(std::string_view text) {
  constexpr std::size_t kMaxPlainWord = 60;  // "Header-Name: " + the word within 78 characters
  std::size_t run = 0;
  for (char c : text) {
    run = c == ' ' ? 0 : run + 1;
    if (run > kMaxPlainWord) return true;
  }
  return false;
}

// Length of the UTF-8 sequence starting with lead byte c (1 for invalid leads).
std::size_t utf8_len(unsigned char c) {
  if (c >= 0xf0 && c < 0xf8) return 4;
  if (c >= 0xe0) return 3;
  if (c >= 0xc0) return 2;
  return 1;
}

std::string quote_phrase(std::string_view name) {
  static constexpr std::string_view specials = "()<>[]:;@\\,.\"";
  if (name.find_first_of(specials) == std::string_view::npos) return std::string(name);
  std::string out = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::string format_address(const Address& a) {
  if (!is_plain_addr_spec(a.addr)) throw ComposeError("not a plain address");
  std::string name = one_line(a.name);
  if (name.empty()) return a.addr;
  std::string phrase =
      is_ascii_printable(name) && !has_unfoldable_word(name) ? quote_phrase(name) : encode_header_text(name);
  return phrase + " <" + a.addr + ">";
}

// Folds "Name: value" at spaces so no line exceeds 78 characters where a space allows it.
std::string fold_header(std::string_view name, std::string_view value) {
  std::string out(name);
  out += ": ";
  std::size_t line_len = out.size();
  std::size_t pos = 0;
  bool first = true;
  while (pos < value.size()) {
    std::size_t sp = value.find(' ', pos);
    std::string_view word = value.substr(pos, sp == std::string_view::npos ? std::string_view::npos : sp - pos);
    if (!first && line_len + 1 + word.size() > 78) {
      out += "\r\n ";
      line_len = 1;
    } else if (!first) {
      out += ' ';
      ++line_len;
    }
    out += word;
    line_len += word.size();
    first = false;
    if (sp == std::string_view::npos) break;
    pos = sp + 1;
  }
  out += "\r\n";
  return out;
}

std::string quoted_printable(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  std::size_t line_len = 0;
  auto soft_break = [&] {
    out += "=\r\n";
    line_len = 0;
  };
  // Trailing whitespace before a line break must be encoded (RFC 2045 6.7 rule 3); "=XX" is two
  // characters longer, so it may need a soft break to keep the line within 76.
  auto encode_trailing_ws = [&] {
    if (out.empty() || (out.back() != ' ' && out.back() != '\t')) return;
    unsigned char ws = static_cast<unsigned char>(out.back());
    out.pop_back();
    --line_len;
    if (line_len + 3 > 75) soft_break();
    out += '=';
    out += hex[ws >> 4];
    out += hex[ws & 15];
    line_len += 3;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    unsigned char c = text[i];
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    if (c == '\n') {
      encode_trailing_ws();
      out += "\r\n";
      line_len = 0;
      continue;
    }
    bool literal = (c >= 33 && c <= 126 && c != '=') || c == ' ' || c == '\t';
    if (line_len + (literal ? 1 : 3) > 75) soft_break();
    // A leading "." or "From " could be mangled in transit; encode the first char of such lines,
    // including lines that start after a soft break.
    if (line_len == 0 && (c == '.' || (c == 'F' && text.substr(i, 5) == "From "))) literal = false;
    if (literal) {
      out += static_cast<char>(c);
      line_len += 1;
    } else {
      out += '=';
      out += hex[c >> 4];
      out += hex[c & 15];
      line_len += 3;
    }
  }
  encode_trailing_ws();
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out += "\r\n";
  return out;
}

std::string random_hex(std::size_t bytes) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes; ++i) {
    unsigned v = static_cast<unsigned>(rng() & 0xff);
    out += hex[v >> 4];
    out += hex[v & 15];
  }
  return out;
}

bool valid_header_name(std::string_view n) {
  if (n.empty()) return false;
  for (unsigned char c : n)
    if (c <= 32 || c >= 127 || c == ':') return false;
  return true;
}

std::string text_part_headers() {
  return "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n";
}

}  // namespace

bool is_valid_msg_id(std::string_view s) {
  if (s.size() < 3 || s.front() != '<' || s.back() != '>' || s.size() > 998) return false;
  for (std::size_t i = 1; i + 1 < s.size(); ++i) {
    unsigned char c = s[i];
    if (c <= 32 || c >= 127 || c == '<' || c == '>') return false;
  }
  return true;
}

bool is_plain_addr_spec(std::string_view s) {
  if (s.empty() || s.size() > 254) return false;
  std::size_t at = s.find('@');
  if (at == 0 || at == std::string_view::npos || at + 1 == s.size() || s.find('@', at + 1) != std::string_view::npos)
    return false;
  for (unsigned char c : s)
    if (c <= 32 || c == 127 || c == '<' || c == '>' || c == ',' || c == '"' || c == '(' || c == ')' || c == ';' ||
        c == '\\')
      return false;
  return true;
}

std::string domain_of(std::string_view addr) {
  std::size_t at = addr.rfind('@');
  if (at == std::string_view::npos || at + 1 >= addr.size()) return "localhost";
  std::string d(addr.substr(at + 1));
  for (char& c : d)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-')) c = '-';
  return d;
}

std::string make_message_id(std::string_view domain) {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
  std::string id = "<";  // appended piecewise: g++ 12 warns falsely (-Wrestrict) on "<" + std::string
  id += stamp;
  id += '.';
  id += random_hex(8);
  id += '@';
  id += domain;
  id += '>';
  return id;
}

std::string format_rfc5322_date(std::int64_t epoch) {
  std::time_t t = static_cast<std::time_t>(epoch);
  std::tm tm{};
  gmtime_r(&t, &tm);
  static constexpr std::array<const char*, 7> days{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
                months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::string encode_header_text(std::string_view utf8) {
  std::string text = one_line(utf8);
  // Plain ASCII stays readable unless a word is too long to fold: then the whole text becomes
  // encoded-words (each at most 60 characters, split on character boundaries), so no header
  // line is ever longer than 78 characters (RFC 5322 2.1.1, RFC 2047 2).
  if (is_ascii_printable(text) && !has_unfoldable_word(text)) return text;
  // Each encoded word carries at most 36 bytes (48 base64 chars; word = 60 chars), so that
  // "Header-Name: " + one word stays within 78 chars for names up to 16 chars (fold_header cannot
  // break a word), split only between whole UTF-8 sequences so every word decodes on its own
  // (RFC 2047 section 5).
  constexpr std::size_t kMaxEncodedWordBytes = 36;
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t end = i;
    while (end < text.size()) {
      std::size_t n = utf8_len(static_cast<unsigned char>(text[end]));
      if (end + n - i > kMaxEncodedWordBytes) break;
      end += n;
    }
    if (end == i) end = std::min(text.size(), i + 1);
    end = std::min(end, text.size());
    if (!out.empty()) out += ' ';
    out += "=?UTF-8?B?" + base64(std::string_view(text).substr(i, end - i)) + "?=";
    i = end;
  }
  return out;
}

std::string compose_message(const Outgoing& mail) {
  if (mail.text_body.empty() && mail.html_body.empty()) throw ComposeError("empty body");
  std::string out;
  out += fold_header("From", format_address(mail.from));
  out += fold_header("To", format_address(mail.to));
  out += fold_header("Subject", encode_header_text(mail.subject));
  out += "Date: " + format_rfc5322_date(mail.date_epoch) + "\r\n";
  if (!is_valid_msg_id(mail.message_id)) throw ComposeError("invalid Message-ID");
  out += "Message-ID: " + mail.message_id + "\r\n";
  if (mail.in_reply_to && is_valid_msg_id(*mail.in_reply_to) && mail.in_reply_to->size() <= 900)
    out += "In-Reply-To: " + *mail.in_reply_to + "\r\n";
  // References is trimmed as FreeScout does: the thread's first id and the latest ones, so that a
  // long thread (or a hostile one with hundreds of ids) keeps a bounded header; ids too long for a
  // folded line are left out.
  constexpr std::size_t kKeepLastReferences = 40;
  constexpr std::size_t kMaxReferenceLength = 250;
  std::vector<std::string_view> kept;
  for (const auto& r : mail.references)
    if (is_valid_msg_id(r) && r.size() <= kMaxReferenceLength) kept.push_back(r);
  if (kept.size() > kKeepLastReferences + 1)
    kept.erase(kept.begin() + 1, kept.end() - static_cast<std::ptrdiff_t>(kKeepLastReferences));
  std::string refs;
  for (auto r : kept) {
    if (!refs.empty()) refs += ' ';
    refs += r;
  }
  if (!refs.empty()) out += fold_header("References", refs);
  for (const auto& [name, value] : mail.extra_headers) {
    if (!valid_header_name(name)) throw ComposeError("invalid header name");
    out += fold_header(name, encode_header_text(value));
  }
  out += "MIME-Version: 1.0\r\n";
  if (mail.html_body.empty()) {
    out += text_part_headers();
    out += "\r\n";
    out += quoted_printable(mail.text_body);
    return out;
  }
  std::string boundary = "=_casedesk_" + random_hex(12);
  // Folded: on one line the boundary parameter makes it 83 chars.
  out += "Content-Type: multipart/alternative;\r\n boundary=\"" + boundary + "\"\r\n\r\n";
  // The CRLF before each "--boundary" belongs to the delimiter (RFC 2046 5.1.1): write one of its
  // own so a part's final line break survives.
  out += "--" + boundary + "\r\n" + text_part_headers() + "\r\n" + quoted_printable(mail.text_body);
  out += "\r\n--" + boundary + "\r\n";
  out += "Content-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n";
  out += quoted_printable(mail.html_body);
  out += "\r\n--" + boundary + "--\r\n";
  return out;
}

}  // namespace casedesk::parsers
