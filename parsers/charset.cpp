#include "parsers/charset.hpp"

#include <iconv.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <memory>

namespace casedesk::parsers {
namespace {

struct IconvCloser {
  void operator()(void* cd) const noexcept { iconv_close(static_cast<iconv_t>(cd)); }
};
// Move-only owner of one iconv descriptor.
using IconvHandle = std::unique_ptr<void, IconvCloser>;

IconvHandle open_to_utf8(const std::string& from) {
  iconv_t cd = iconv_open("UTF-8", from.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return IconvHandle{};
  return IconvHandle{static_cast<void*>(cd)};
}

std::string lower_trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  auto junk = [](char c) { return c == ' ' || c == '\t' || c == '"' || c == '\'' || c == '\r' || c == '\n'; };
  while (b < e && junk(s[b])) ++b;
  while (e > b && junk(s[e - 1])) --e;
  std::string out(s.substr(b, e - b));
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

struct Alias {
  std::string_view label;
  std::string_view iconv_name;
};
// Labels seen in real mail that glibc does not know, or knows under another meaning.
constexpr std::array kAliases{
    Alias{"utf8", "UTF-8"},           Alias{"unicode-1-1-utf-8", "UTF-8"},
    Alias{"latin1", "ISO-8859-1"},    Alias{"latin-1", "ISO-8859-1"},
    Alias{"l1", "ISO-8859-1"},        Alias{"iso8859-1", "ISO-8859-1"},
    Alias{"iso-8859-1", "ISO-8859-1"}, Alias{"iso_8859-1", "ISO-8859-1"},
    Alias{"windows-874", "CP874"},    Alias{"x-windows-874", "CP874"},
    Alias{"ks_c_5601-1987", "CP949"}, Alias{"ks_c_5601", "CP949"},
    Alias{"ks_c_5601-1989", "CP949"}, Alias{"ksc5601", "CP949"},
    Alias{"iso-8859-8-i", "ISO-8859-8"}, Alias{"iso-8859-6-i", "ISO-8859-6"},
    Alias{"iso-8859-8-e", "ISO-8859-8"}, Alias{"iso-8859-6-e", "ISO-8859-6"},
    Alias{"x-sjis", "SHIFT_JIS"},     Alias{"sjis", "SHIFT_JIS"},
    Alias{"shift-jis", "SHIFT_JIS"},  Alias{"x-euc-jp", "EUC-JP"},
    Alias{"x-gbk", "GBK"},            Alias{"x-mac-roman", "MACINTOSH"},
    Alias{"mac-roman", "MACINTOSH"},  Alias{"unicode-1-1-utf-7", "UTF-7"},
    Alias{"utf7", "UTF-7"},           Alias{"cp-1252", "CP1252"},
    Alias{"win-1252", "CP1252"},      Alias{"x-cp1252", "CP1252"},
    Alias{"ansi_x3.4-1968", "US-ASCII"}, Alias{"ascii", "US-ASCII"},
    Alias{"us-ascii", "US-ASCII"},    Alias{"646", "US-ASCII"},
    Alias{"iso646-us", "US-ASCII"},   Alias{"x-mac-cyrillic", "MAC-CYRILLIC"},
    Alias{"x-euc-tw", "EUC-TW"},      Alias{"big5-hkscs", "BIG5-HKSCS"},
};
constexpr std::array<std::string_view, 9> kNoCharset{
    "x-unknown", "unknown", "unknown-8bit", "x-user-defined", "default", "8bit", "none",
    "charset", "binary"};

// Length of the well-formed UTF-8 sequence at s[i], or 0 when ill-formed.
std::size_t utf8_seq_len(std::string_view s, std::size_t i) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  std::size_t n = s.size() - i;
  auto cont = [&](std::size_t k) { return (b(k) & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return n >= 2 && cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (n < 3 || !cont(i + 1) || !cont(i + 2)) return 0;
    if (c == 0xE0 && b(i + 1) < 0xA0) return 0;
    if (c == 0xED && b(i + 1) > 0x9F) return 0;
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (n < 4 || !cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    if (c == 0xF0 && b(i + 1) < 0x90) return 0;
    if (c == 0xF4 && b(i + 1) > 0x8F) return 0;
    return 4;
  }
  return 0;
}

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

std::string iconv_convert(iconv_t cd, std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 2 + 16);
  std::array<char, 4096> buf{};
  char* in = const_cast<char*>(bytes.data());
  std::size_t in_left = bytes.size();
  while (in_left > 0) {
    char* o = buf.data();
    std::size_t o_left = buf.size();
    std::size_t rc = iconv(cd, &in, &in_left, &o, &o_left);
    out.append(buf.data(), buf.size() - o_left);
    if (rc != static_cast<std::size_t>(-1)) continue;
    if (errno == E2BIG) continue;
    if (errno == EILSEQ) {
      out.append(kReplacement);
      ++in;
      --in_left;
      iconv(cd, nullptr, nullptr, nullptr, nullptr);
      continue;
    }
    // EINVAL: truncated multibyte sequence at the end.
    out.append(kReplacement);
    break;
  }
  char* o = buf.data();
  std::size_t o_left = buf.size();
  iconv(cd, nullptr, nullptr, &o, &o_left);
  out.append(buf.data(), buf.size() - o_left);
  return out;
}

std::string windows_1252(std::string_view bytes) {
  // 0x80-0x9F per CP1252; its undefined bytes keep their C1 meaning, so no byte is lost.
  static constexpr std::array<char16_t, 32> kHigh{0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d, 0x17d, 0x8f, 0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178};
  std::string out;
  out.reserve(bytes.size() + 16);
  for (unsigned char c : bytes) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0xA0) {
      append_utf8(out, kHigh[c - 0x80]);
    } else {
      append_utf8(out, c);
    }
  }
  return out;
}

bool all_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

}  // namespace

void append_utf8(std::string& out, char32_t cp) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    out.append(kReplacement);
  } else if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool is_valid_utf8(std::string_view bytes) {
  for (std::size_t i = 0; i < bytes.size();) {
    std::size_t n = utf8_seq_len(bytes, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string sanitize_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (std::size_t i = 0; i < bytes.size();) {
    std::size_t n = utf8_seq_len(bytes, i);
    if (n == 0) {
      out.append(kReplacement);
      ++i;
    } else {
      out.append(bytes.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string canonical_charset(std::string_view label) {
  std::string l = lower_trim(label);
  // "utf-8; format=flowed" style leftovers and RFC 2231 language suffixes.
  if (auto cut = l.find_first_of(" ;*"); cut != std::string::npos) l.resize(cut);
  if (l.empty()) return "US-ASCII";
  if (std::find(kNoCharset.begin(), kNoCharset.end(), l) != kNoCharset.end()) return "";
  for (const Alias& a : kAliases) {
    if (a.label == l) return std::string(a.iconv_name);
  }
  std::string upper = l;
  for (char& c : upper) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  if (upper == "UTF-8" || upper == "US-ASCII") return upper;
  if (upper.find('/') != std::string::npos) return "";  // iconv would read "//" as flags
  return open_to_utf8(upper) ? upper : std::string{};
}

std::string to_utf8(std::string_view bytes, std::string_view charset, std::string* warning) {
  std::string name = canonical_charset(charset);
  if (name == "UTF-8") return sanitize_utf8(bytes);
  if (name == "US-ASCII") {
    if (all_ascii(bytes)) return std::string(bytes);
    // Mislabelled 8-bit text: most often UTF-8, else a Windows code page.
    if (is_valid_utf8(bytes)) return std::string(bytes);
    return windows_1252(bytes);
  }
  if (!name.empty()) {
    if (all_ascii(bytes) && name.rfind("UTF-", 0) != 0 && name.rfind("UCS", 0) != 0 &&
        name.find("2022") == std::string::npos && name != "UTF-7") {
      return std::string(bytes);
    }
    if (IconvHandle cd = open_to_utf8(name)) {
      return sanitize_utf8(iconv_convert(static_cast<iconv_t>(cd.get()), bytes));
    }
  }
  if (warning) *warning = "unknown charset \"" + sanitize_utf8(charset.substr(0, 64)) + "\"";
  if (is_valid_utf8(bytes)) return std::string(bytes);
  return windows_1252(bytes);
}

}  // namespace casedesk::parsers

namespace casedesk::parsers {

std::string collapse_whitespace(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool pending_space = false;
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = 1;
    bool space = false;
    if (c < 0x80) {
      space = c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
    } else if (c == 0xC2 && i + 1 < s.size()) {
      auto d = static_cast<unsigned char>(s[i + 1]);
      len = 2;
      space = d == 0x85 || d == 0xA0;
    } else if ((c == 0xE1 || c == 0xE2 || c == 0xE3) && i + 2 < s.size()) {
      auto d = static_cast<unsigned char>(s[i + 1]);
      auto e = static_cast<unsigned char>(s[i + 2]);
      len = 3;
      if (c == 0xE1) space = d == 0x9A && e == 0x80;  // U+1680
      if (c == 0xE2) {
        space = (d == 0x80 && ((e >= 0x80 && e <= 0x8A) || e == 0xA8 || e == 0xA9 || e == 0xAF)) ||
                (d == 0x81 && e == 0x9F);
      }
      if (c == 0xE3) space = d == 0x80 && e == 0x80;  // U+3000
    } else if (c >= 0xC0) {
      len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    }
    len = std::min(len, s.size() - i);
    if (space) {
      pending_space = !out.empty();
    } else {
      if (pending_space) out.push_back(' ');
      pending_space = false;
      out.append(s.substr(i, len));
    }
    i += len;
  }
  return out;
}

}  // namespace casedesk::parsers
