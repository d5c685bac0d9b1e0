#include "parsers/rfc2047.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

#include "parsers/charset.hpp"

namespace casedesk::parsers {
namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_wsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_wsp(s.back())) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

std::string decode_q_word(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '_') {
      out.push_back(' ');
    } else if (c == '=' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 &&
               hex_value(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

struct EncodedWord {
  std::size_t length = 0;  // bytes consumed from the input
  std::string charset;
  std::string bytes;  // decoded, still in `charset`
};

// Parses an encoded word starting at s[0] ("=?"); nullopt when it is not one.
std::optional<EncodedWord> parse_encoded_word(std::string_view s) {
  if (s.size() < 8 || s[0] != '=' || s[1] != '?') return std::nullopt;
  std::size_t q1 = s.find('?', 2);
  if (q1 == std::string_view::npos || q1 == 2 || q1 + 2 >= s.size() || s[q1 + 2] != '?') {
    return std::nullopt;
  }
  std::string_view charset = s.substr(2, q1 - 2);
  if (std::any_of(charset.begin(), charset.end(), [](char c) { return is_wsp(c) || c == '='; })) {
    return std::nullopt;
  }
  char enc = s[q1 + 1];
  if (enc != 'b' && enc != 'B' && enc != 'q' && enc != 'Q') return std::nullopt;
  std::size_t text_begin = q1 + 3;
  std::size_t end = s.find("?=", text_begin);
  if (end == std::string_view::npos) return std::nullopt;
  std::string_view text = s.substr(text_begin, end - text_begin);
  if (text.size() > 4096 || text.find('\n') != std::string_view::npos) return std::nullopt;
  EncodedWord w;
  w.length = end + 2;
  w.charset = std::string(charset.substr(0, charset.find('*')));
  if (enc == 'b' || enc == 'B') {
    w.bytes = decode_base64(text);
  } else {
    w.bytes = decode_q_word(text);
  }
  return w;
}

std::string raw_text_to_utf8(std::string_view s) { return to_utf8(s, "us-ascii"); }

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string unquote(std::string_view v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
    v = v.substr(1, v.size() - 2);
    std::string out;
    out.reserve(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (v[i] == '\\' && i + 1 < v.size()) ++i;  // quoted-pair
      out.push_back(v[i]);
    }
    return out;
  }
  if (v.size() >= 2 && v.front() == '<' && v.back() == '>') return std::string(v.substr(1, v.size() - 2));
  return std::string(v);
}

// Python's email.message._parseparam: split on ';' outside quoted strings.
std::vector<std::string_view> split_params(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  bool quoted = false;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || (s[i] == ';' && !quoted)) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
      if (out.size() > 256) break;
      continue;
    }
    if (s[i] == '\\' && quoted && i + 1 < s.size()) {
      ++i;
    } else if (s[i] == '"') {
      quoted = !quoted;
    }
  }
  return out;
}

struct RawParam {
  std::string name;   // lower-case, '*' suffixes kept
  std::string value;  // unquoted
};

std::vector<RawParam> raw_params(std::string_view header_value, std::string* first) {
  std::vector<RawParam> out;
  auto pieces = split_params(header_value);
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    std::string_view p = trim(pieces[i]);
    if (i == 0) {
      if (first) *first = lower(p);
      continue;
    }
    if (p.empty()) continue;
    std::size_t eq = p.find('=');
    RawParam rp;
    if (eq == std::string_view::npos) {
      rp.name = lower(p);
    } else {
      rp.name = lower(trim(p.substr(0, eq)));
      std::string_view v = trim(p.substr(eq + 1));
      if (!v.empty() && v.front() != '"' && v.substr(0, 2) != "=?" && rp.name != "boundary") {
        // An unquoted value is a token: it ends at the first tspecial (RFC 2045), as in
        // Python's email package. Blanks are kept ("name=my file.pdf").
        std::size_t cut = v.find_first_of("()<>@,;:\\\"/[]?=");
        if (cut != std::string_view::npos) v = trim(v.substr(0, cut));
      }
      rp.value = unquote(v);
    }
    out.push_back(std::move(rp));
  }
  return out;
}

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' ||
         static_cast<unsigned char>(c) >= 0x80;
}

}  // namespace

std::string decode_base64(std::string_view encoded) {
  // Hot path (attachments): a lookup table and a pre-sized buffer instead of push_back.
  static const auto table = [] {
    std::array<std::int8_t, 256> t{};
    for (int c = 0; c < 256; ++c) t[static_cast<std::size_t>(c)] = static_cast<std::int8_t>(b64_value(static_cast<char>(c)));
    return t;
  }();
  std::string out(encoded.size() / 4 * 3 + 3, '\0');
  char* o = out.data();
  std::uint32_t acc = 0;
  int quad = 0;
  int pads = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(encoded.data());
  const auto* end = in + encoded.size();
  while (in != end) {
    if (quad == 0 && end - in >= 4) {
      // Four alphabet characters at a quad boundary: the common case, decoded in one step.
      int a = table[in[0]], b = table[in[1]], c = table[in[2]], d = table[in[3]];
      if ((a | b | c | d) >= 0) {
        std::uint32_t q = static_cast<std::uint32_t>(a << 18 | b << 12 | c << 6 | d);
        o[0] = static_cast<char>((q >> 16) & 0xFF);
        o[1] = static_cast<char>((q >> 8) & 0xFF);
        o[2] = static_cast<char>(q & 0xFF);
        o += 3;
        in += 4;
        continue;
      }
    }
    char c = static_cast<char>(*in++);
    int v = table[static_cast<unsigned char>(c)];
    if (v < 0) {
      if (c == '=' && quad >= 2 && quad + ++pads >= 4) break;
      continue;
    }
    pads = 0;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    if (++quad == 4) {
      o[0] = static_cast<char>((acc >> 16) & 0xFF);
      o[1] = static_cast<char>((acc >> 8) & 0xFF);
      o[2] = static_cast<char>(acc & 0xFF);
      o += 3;
      acc = 0;
      quad = 0;
    }
  }
  if (quad == 2) {
    *o++ = static_cast<char>((acc >> 4) & 0xFF);
  } else if (quad == 3) {
    *o++ = static_cast<char>((acc >> 10) & 0xFF);
    *o++ = static_cast<char>((acc >> 2) & 0xFF);
  }
  out.resize(static_cast<std::size_t>(o - out.data()));
  return out;
}

std::string decode_quoted_printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c != '=') {
      out.push_back(c);
      ++i;
      continue;
    }
    ++i;
    if (i >= s.size()) break;  // a final '=' is a soft break with nothing after it
    if (s[i] == '\n' || s[i] == '\r') {
      while (i < s.size() && s[i] != '\n') ++i;
      if (i < s.size()) ++i;
    } else if (s[i] == '=') {
      out.push_back('=');
      ++i;
    } else if (i + 1 < s.size() && hex_value(s[i]) >= 0 && hex_value(s[i + 1]) >= 0) {
      out.push_back(static_cast<char>(hex_value(s[i]) * 16 + hex_value(s[i + 1])));
      i += 2;
    } else {
      // "=  \n": blanks before a soft break (RFC 2045 says the encoder may leave them).
      std::size_t j = i;
      while (j < s.size() && (s[j] == ' ' || s[j] == '\t')) ++j;
      if (j > i && (j == s.size() || s[j] == '\r' || s[j] == '\n')) {
        i = j;
        while (i < s.size() && s[i] != '\n') ++i;
        if (i < s.size()) ++i;
      } else {
        out.push_back('=');
      }
    }
  }
  return out;
}

std::string decode_encoded_words(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  std::string pending_bytes;     // adjacent encoded words of one charset, joined before decoding
  std::string pending_charset;
  std::size_t i = 0;
  std::size_t text_start = 0;
  auto flush = [&]() {
    if (!pending_bytes.empty() || !pending_charset.empty()) {
      out += to_utf8(pending_bytes, pending_charset);
      pending_bytes.clear();
      pending_charset.clear();
    }
  };
  bool last_was_word = false;
  while (i < value.size()) {
    std::size_t pos = value.find("=?", i);
    if (pos == std::string_view::npos) break;
    auto word = parse_encoded_word(value.substr(pos));
    if (!word) {
      i = pos + 2;
      continue;
    }
    std::string_view between = value.substr(text_start, pos - text_start);
    bool only_ws = std::all_of(between.begin(), between.end(), is_wsp);
    if (last_was_word && only_ws) {
      if (lower(word->charset) != lower(pending_charset)) {
        flush();
        pending_charset = word->charset;
      }
    } else {
      flush();
      out += raw_text_to_utf8(between);
      pending_charset = word->charset;
    }
    pending_bytes += word->bytes;
    if (pending_charset.empty()) pending_charset = word->charset;
    last_was_word = true;
    i = pos + word->length;
    text_start = i;
  }
  flush();
  out += raw_text_to_utf8(value.substr(text_start));
  return out;
}

HeaderParams parse_parameterized(std::string_view header_value) {
  HeaderParams result;
  std::vector<RawParam> raw = raw_params(header_value, &result.value);
  struct Piece {
    int num;
    std::string value;
    bool encoded;
  };
  std::vector<std::pair<std::string, std::vector<Piece>>> continued;
  for (RawParam& p : raw) {
    std::string_view name = p.name;
    bool encoded = !name.empty() && name.back() == '*';
    // name, name*, name*N, name*N*
    std::size_t star = name.find('*');
    bool is_2231 = false;
    int num = -1;
    if (star != std::string_view::npos && star > 0 &&
        std::all_of(name.begin(), name.begin() + static_cast<std::ptrdiff_t>(star), is_word_char)) {
      std::string_view rest = name.substr(star + 1);
      if (!rest.empty() && rest.back() == '*') rest.remove_suffix(1);
      if (rest.empty()) {
        is_2231 = true;
      } else if (rest.size() <= 3 && std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        is_2231 = true;
        num = std::stoi(std::string(rest));
      }
    }
    if (!is_2231) {
      std::string v = p.value.find("=?") != std::string::npos ? decode_encoded_words(p.value)
                                                              : raw_text_to_utf8(p.value);
      result.params.emplace_back(p.name, std::move(v));
      continue;
    }
    std::string base(name.substr(0, star));
    auto it = std::find_if(continued.begin(), continued.end(), [&](auto& e) { return e.first == base; });
    if (it == continued.end()) {
      continued.emplace_back(base, std::vector<Piece>{});
      it = continued.end() - 1;
    }
    if (it->second.size() < 256) it->second.push_back(Piece{num, std::move(p.value), encoded});
  }
  for (auto& [name, pieces] : continued) {
    std::stable_sort(pieces.begin(), pieces.end(), [](const Piece& a, const Piece& b) { return a.num < b.num; });
    std::string joined;
    bool extended = false;
    for (const Piece& pc : pieces) {
      if (pc.encoded) {
        joined += percent_decode(pc.value);
        extended = true;
      } else {
        joined += pc.value;
      }
    }
    std::string value;
    if (extended) {
      std::size_t t1 = joined.find('\'');
      std::size_t t2 = t1 == std::string::npos ? std::string::npos : joined.find('\'', t1 + 1);
      if (t2 == std::string::npos) {
        value = raw_text_to_utf8(joined);
      } else {
        std::string charset = joined.substr(0, t1);
        value = to_utf8(std::string_view(joined).substr(t2 + 1), charset.empty() ? "us-ascii" : charset);
      }
    } else {
      value = joined.find("=?") != std::string::npos ? decode_encoded_words(joined) : raw_text_to_utf8(joined);
    }
    result.params.emplace_back(name, std::move(value));
  }
  return result;
}

std::optional<std::string> find_param(const HeaderParams& params, std::string_view name) {
  for (const auto& [n, v] : params.params) {
    if (n == name) return v;
  }
  return std::nullopt;
}

std::optional<std::string> find_raw_param(std::string_view header_value, std::string_view name) {
  for (RawParam& p : raw_params(header_value, nullptr)) {
    if (p.name == name) return std::move(p.value);
  }
  return std::nullopt;
}

}  // namespace casedesk::parsers
