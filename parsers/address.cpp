#include "parsers/address.hpp"

#include <cctype>
#include <string>

#include "parsers/charset.hpp"
#include "parsers/rfc2047.hpp"

namespace casedesk::parsers {
namespace {

enum class TokKind { atom, quoted, special, literal };

struct Tok {
  TokKind kind;
  std::string text;
  bool ws_before = false;  // whitespace or a comment precedes this token
  char special() const { return kind == TokKind::special ? text[0] : '\0'; }
};

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_special(char c) {
  switch (c) {
    case '(': case ')': case '<': case '>': case '[': case ']': case ':': case ';':
    case '@': case '\\': case ',': case '.': case '"':
      return true;
    default:
      return false;
  }
}

constexpr std::size_t kMaxTokens = 20000;

// Length of the RFC 2047 encoded-word "=?charset?B|Q?text?=" at s[i] (no whitespace inside), or
// 0. An encoded-word is one atom of a phrase: the '@', ':' or '<' it may carry once decoded are
// never address syntax (RFC 2047 §5), so it is taken whole before the specials are looked at.
std::size_t encoded_word_length(std::string_view s, std::size_t i) {
  if (s.compare(i, 2, "=?") != 0) return 0;
  const std::size_t cs_end = s.find('?', i + 2);
  if (cs_end == std::string_view::npos || cs_end == i + 2 || cs_end + 2 >= s.size() || s[cs_end + 2] != '?')
    return 0;
  const char enc = s[cs_end + 1];
  if (enc != 'B' && enc != 'b' && enc != 'Q' && enc != 'q') return 0;
  const std::size_t end = s.find("?=", cs_end + 3);
  if (end == std::string_view::npos) return 0;
  for (std::size_t k = i; k < end; ++k)
    if (is_ws(s[k]) || static_cast<unsigned char>(s[k]) < 0x20 || s[k] == 0x7f) return 0;
  return end + 2 - i;
}

std::vector<Tok> tokenize(std::string_view s) {
  std::vector<Tok> toks;
  bool ws = false;
  std::size_t i = 0;
  while (i < s.size() && toks.size() < kMaxTokens) {
    char c = s[i];
    if (is_ws(c)) {
      ws = true;
      ++i;
    } else if (c == '(') {
      int depth = 0;
      while (i < s.size()) {
        if (s[i] == '\\') {
          i += 2;
          continue;
        }
        if (s[i] == '(') ++depth;
        if (s[i] == ')' && --depth == 0) {
          ++i;
          break;
        }
        ++i;
      }
      ws = true;
    } else if (c == '"') {
      std::string text;
      ++i;
      while (i < s.size() && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        if (s[i] != '\r' && s[i] != '\n') text.push_back(s[i]);
        ++i;
      }
      if (i < s.size()) ++i;
      toks.push_back(Tok{TokKind::quoted, std::move(text), ws});
      ws = false;
    } else if (c == '[') {
      std::size_t end = s.find(']', i);
      end = end == std::string_view::npos ? s.size() : end + 1;
      toks.push_back(Tok{TokKind::literal, std::string(s.substr(i, end - i)), ws});
      ws = false;
      i = end;
    } else if (std::size_t ew = encoded_word_length(s, i); ew > 0) {
      toks.push_back(Tok{TokKind::atom, std::string(s.substr(i, ew)), ws});
      ws = false;
      i += ew;
    } else if (is_special(c) && c != '\\') {
      toks.push_back(Tok{TokKind::special, std::string(1, c), ws});
      ws = false;
      ++i;
    } else {
      std::size_t b = i;
      while (i < s.size() && !is_ws(s[i]) && !(is_special(s[i]) && s[i] != '\\')) ++i;
      if (i == b) ++i;
      toks.push_back(Tok{TokKind::atom, std::string(s.substr(b, i - b)), ws});
      ws = false;
    }
  }
  return toks;
}

bool is_encoded_word(const Tok& t) {
  return t.kind == TokKind::atom && t.text.size() >= 8 && t.text.rfind("=?", 0) == 0 &&
         t.text.compare(t.text.size() - 2, 2, "?=") == 0;
}

std::string display_name(const std::vector<Tok>& toks, std::size_t b, std::size_t e) {
  std::string out;
  bool prev_ew = false;
  bool first = true;
  for (std::size_t k = b; k < e; ++k) {
    const Tok& t = toks[k];
    bool ew = is_encoded_word(t);
    if (!first && t.ws_before && !(ew && prev_ew)) out.push_back(' ');
    if (t.kind == TokKind::atom || t.kind == TokKind::quoted) {
      out += t.text.find("=?") != std::string::npos ? decode_encoded_words(t.text) : to_utf8(t.text, "us-ascii");
    } else {
      out += to_utf8(t.text, "us-ascii");
    }
    prev_ew = ew;
    first = false;
  }
  return out;
}

bool needs_quotes(std::string_view local) {
  if (local.empty()) return true;
  for (char c : local) {
    if (is_ws(c) || (is_special(c) && c != '.')) return true;
  }
  return false;
}

// addr-spec text of toks[b, e): whitespace and comments dropped, quoted local parts re-quoted
// only when needed (as Python's headerregistry does).
std::string addr_spec(const std::vector<Tok>& toks, std::size_t b, std::size_t e) {
  std::string out;
  for (std::size_t k = b; k < e; ++k) {
    const Tok& t = toks[k];
    if (t.kind == TokKind::quoted) {
      if (needs_quotes(t.text)) {
        out.push_back('"');
        for (char c : t.text) {
          if (c == '"' || c == '\\') out.push_back('\\');
          out.push_back(c);
        }
        out.push_back('"');
      } else {
        out += t.text;
      }
    } else {
      out += t.text;
    }
  }
  return to_utf8(out, "us-ascii");
}

}  // namespace

std::vector<Address> parse_address_list(std::string_view value) {
  std::vector<Address> out;
  std::vector<Tok> toks = tokenize(value);
  const std::size_t n = toks.size();
  bool in_group = false;
  std::size_t i = 0;
  auto skip_to_separator = [&](std::size_t k) {
    while (k < n && toks[k].special() != ',' && toks[k].special() != ';') ++k;
    return k;
  };
  while (i < n) {
    char sp = toks[i].special();
    if (sp == ',') {
      ++i;
      continue;
    }
    if (sp == ';') {
      in_group = false;
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < n) {
      char c = toks[j].special();
      if (c == '<' || c == ':' || c == '@' || c == ',' || c == ';') break;
      ++j;
    }
    char stop = j < n ? toks[j].special() : '\0';
    if (stop == ':' && !in_group) {
      in_group = true;
      i = j + 1;
      continue;
    }
    if (stop == '<') {
      std::size_t k = j + 1;
      // obsolete route "@a,@b:" before the addr-spec
      if (k < n && toks[k].special() == '@') {
        std::size_t r = k;
        while (r < n && toks[r].special() != ':' && toks[r].special() != '>') ++r;
        if (r < n && toks[r].special() == ':') k = r + 1;
      }
      std::size_t a = k;
      while (k < n && toks[k].special() != '>') ++k;
      Address addr;
      addr.name = display_name(toks, i, j);
      addr.addr = addr_spec(toks, a, k);
      if (!addr.addr.empty() || !addr.name.empty()) out.push_back(std::move(addr));
      i = skip_to_separator(k);
      continue;
    }
    if (stop == '@') {
      std::size_t k = j + 1;
      bool last_was_word = false;
      while (k < n) {
        const Tok& t = toks[k];
        char c = t.special();
        if (c == '.') {
          last_was_word = false;
        } else if (t.kind == TokKind::atom || t.kind == TokKind::literal) {
          if (last_was_word && t.ws_before) break;
          last_was_word = true;
        } else {
          break;
        }
        ++k;
      }
      Address addr;
      addr.addr = addr_spec(toks, i, k);
      out.push_back(std::move(addr));
      i = skip_to_separator(k);
      continue;
    }
    // No '@' and no brackets: a bare local name ("foo") or junk words.
    if (j > i) {
      Address addr;
      addr.addr = addr_spec(toks, i, i + 1);
      if (j > i + 1) addr.addr = display_name(toks, i, j);
      out.push_back(std::move(addr));
    }
    i = j;
    if (i < n && toks[i].special() != ',' && toks[i].special() != ';') ++i;
  }
  return out;
}

namespace {

// RFC 5322 atext (RFC 5321 Atom), plus UTF-8 octets (RFC 6531).
bool is_atext(unsigned char c) {
  if (c >= 0x80) return true;
  if (std::isalnum(c)) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool valid_dot_string(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '.') {
      if (s[i + 1] == '.') return false;
    } else if (!is_atext(c)) {
      return false;
    }
  }
  return true;
}

// Quoted-string = DQUOTE *(qtextSMTP / quoted-pairSMTP) DQUOTE, without the space RFC 5321
// allows: a space in an address we send to is a header-injection and confusion risk, not a need.
bool valid_quoted_string(std::string_view s) {
  if (s.size() < 2 || s.front() != '"' || s.back() != '"') return false;
  for (std::size_t i = 1; i + 1 < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c <= 0x20 || c == 0x7f) return false;
    if (c == '\\') {
      if (i + 2 >= s.size()) return false;
      const auto q = static_cast<unsigned char>(s[++i]);
      if (q <= 0x20 || q == 0x7f) return false;
    } else if (c == '"') {
      return false;
    }
  }
  return true;
}

bool valid_domain(std::string_view d) {
  if (d.empty() || d.size() > 255) return false;
  if (d.front() == '[') {  // address-literal: "[" 1*dcontent "]", dcontent = %d33-90 / %d94-126
    if (d.size() < 3 || d.back() != ']') return false;
    for (std::size_t i = 1; i + 1 < d.size(); ++i) {
      const auto c = static_cast<unsigned char>(d[i]);
      if (c < 33 || c > 126 || c == '[' || c == '\\' || c == ']') return false;
    }
    return true;
  }
  std::size_t start = 0;
  while (start <= d.size()) {
    std::size_t end = d.find('.', start);
    if (end == std::string_view::npos) end = d.size();
    const std::string_view label = d.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (unsigned char c : label)
      if (!(c >= 0x80 || std::isalnum(c) || c == '-')) return false;
    start = end + 1;
  }
  return true;
}

}  // namespace

bool is_valid_mailbox(std::string_view addr) {
  if (addr.empty() || addr.size() > 254) return false;
  const std::size_t at = addr.rfind('@');
  if (at == std::string_view::npos || at == 0) return false;
  const std::string_view local = addr.substr(0, at);
  const std::string_view domain = addr.substr(at + 1);
  if (local.size() > 64) return false;
  const bool local_ok = local.front() == '"' ? valid_quoted_string(local) : valid_dot_string(local);
  return local_ok && valid_domain(domain);
}

}  // namespace casedesk::parsers
