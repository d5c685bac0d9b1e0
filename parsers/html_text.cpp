#include "parsers/html_text.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>

#include "parsers/charset.hpp"

namespace casedesk::parsers {
namespace {

struct Entity {
  std::string_view name;
  char32_t cp;
};
// The named references seen in mail; HTML5 has ~2000, these cover nearly all real use.
constexpr std::array kEntities{
    Entity{"amp", U'&'}, Entity{"lt", U'<'}, Entity{"gt", U'>'}, Entity{"quot", U'"'},
    Entity{"apos", U'\''}, Entity{"nbsp", 0xA0}, Entity{"iexcl", 0xA1}, Entity{"cent", 0xA2},
    Entity{"pound", 0xA3}, Entity{"curren", 0xA4}, Entity{"yen", 0xA5}, Entity{"brvbar", 0xA6},
    Entity{"sect", 0xA7}, Entity{"uml", 0xA8}, Entity{"copy", 0xA9}, Entity{"ordf", 0xAA},
    Entity{"laquo", 0xAB}, Entity{"not", 0xAC}, Entity{"shy", 0xAD}, Entity{"reg", 0xAE},
    Entity{"macr", 0xAF}, Entity{"deg", 0xB0}, Entity{"plusmn", 0xB1}, Entity{"sup2", 0xB2},
    Entity{"sup3", 0xB3}, Entity{"acute", 0xB4}, Entity{"micro", 0xB5}, Entity{"para", 0xB6},
    Entity{"middot", 0xB7}, Entity{"cedil", 0xB8}, Entity{"sup1", 0xB9}, Entity{"ordm", 0xBA},
    Entity{"raquo", 0xBB}, Entity{"frac14", 0xBC}, Entity{"frac12", 0xBD}, Entity{"frac34", 0xBE},
    Entity{"iquest", 0xBF}, Entity{"Agrave", 0xC0}, Entity{"Aacute", 0xC1}, Entity{"Acirc", 0xC2},
    Entity{"Atilde", 0xC3}, Entity{"Auml", 0xC4}, Entity{"Aring", 0xC5}, Entity{"AElig", 0xC6},
    Entity{"Ccedil", 0xC7}, Entity{"Egrave", 0xC8}, Entity{"Eacute", 0xC9}, Entity{"Ecirc", 0xCA},
    Entity{"Euml", 0xCB}, Entity{"Igrave", 0xCC}, Entity{"Iacute", 0xCD}, Entity{"Icirc", 0xCE},
    Entity{"Iuml", 0xCF}, Entity{"ETH", 0xD0}, Entity{"Ntilde", 0xD1}, Entity{"Ograve", 0xD2},
    Entity{"Oacute", 0xD3}, Entity{"Ocirc", 0xD4}, Entity{"Otilde", 0xD5}, Entity{"Ouml", 0xD6},
    Entity{"times", 0xD7}, Entity{"Oslash", 0xD8}, Entity{"Ugrave", 0xD9}, Entity{"Uacute", 0xDA},
    Entity{"Ucirc", 0xDB}, Entity{"Uuml", 0xDC}, Entity{"Yacute", 0xDD}, Entity{"THORN", 0xDE},
    Entity{"szlig", 0xDF}, Entity{"agrave", 0xE0}, Entity{"aacute", 0xE1}, Entity{"acirc", 0xE2},
    Entity{"atilde", 0xE3}, Entity{"auml", 0xE4}, Entity{"aring", 0xE5}, Entity{"aelig", 0xE6},
    Entity{"ccedil", 0xE7}, Entity{"egrave", 0xE8}, Entity{"eacute", 0xE9}, Entity{"ecirc", 0xEA},
    Entity{"euml", 0xEB}, Entity{"igrave", 0xEC}, Entity{"iacute", 0xED}, Entity{"icirc", 0xEE},
    Entity{"iuml", 0xEF}, Entity{"eth", 0xF0}, Entity{"ntilde", 0xF1}, Entity{"ograve", 0xF2},
    Entity{"oacute", 0xF3}, Entity{"ocirc", 0xF4}, Entity{"otilde", 0xF5}, Entity{"ouml", 0xF6},
    Entity{"divide", 0xF7}, Entity{"oslash", 0xF8}, Entity{"ugrave", 0xF9}, Entity{"uacute", 0xFA},
    Entity{"ucirc", 0xFB}, Entity{"uuml", 0xFC}, Entity{"yacute", 0xFD}, Entity{"thorn", 0xFE},
    Entity{"yuml", 0xFF}, Entity{"OElig", 0x152}, Entity{"oelig", 0x153}, Entity{"Scaron", 0x160},
    Entity{"scaron", 0x161}, Entity{"Yuml", 0x178}, Entity{"fnof", 0x192}, Entity{"circ", 0x2C6},
    Entity{"tilde", 0x2DC}, Entity{"ensp", 0x2002}, Entity{"emsp", 0x2003}, Entity{"thinsp", 0x2009},
    Entity{"zwnj", 0x200C}, Entity{"zwj", 0x200D}, Entity{"lrm", 0x200E}, Entity{"rlm", 0x200F},
    Entity{"ndash", 0x2013}, Entity{"mdash", 0x2014}, Entity{"lsquo", 0x2018}, Entity{"rsquo", 0x2019},
    Entity{"sbquo", 0x201A}, Entity{"ldquo", 0x201C}, Entity{"rdquo", 0x201D}, Entity{"bdquo", 0x201E},
    Entity{"dagger", 0x2020}, Entity{"Dagger", 0x2021}, Entity{"bull", 0x2022}, Entity{"hellip", 0x2026},
    Entity{"permil", 0x2030}, Entity{"prime", 0x2032}, Entity{"Prime", 0x2033}, Entity{"lsaquo", 0x2039},
    Entity{"rsaquo", 0x203A}, Entity{"oline", 0x203E}, Entity{"euro", 0x20AC}, Entity{"trade", 0x2122},
    Entity{"larr", 0x2190}, Entity{"uarr", 0x2191}, Entity{"rarr", 0x2192}, Entity{"darr", 0x2193},
    Entity{"harr", 0x2194}, Entity{"minus", 0x2212}, Entity{"le", 0x2264}, Entity{"ge", 0x2265},
    Entity{"ne", 0x2260}, Entity{"infin", 0x221E}, Entity{"hearts", 0x2665}, Entity{"check", 0x2713},
    Entity{"Alpha", 0x391}, Entity{"Beta", 0x392}, Entity{"alpha", 0x3B1}, Entity{"beta", 0x3B2},
    Entity{"gamma", 0x3B3}, Entity{"delta", 0x3B4}, Entity{"mu", 0x3BC}, Entity{"pi", 0x3C0},
    Entity{"sigma", 0x3C3}, Entity{"Omega", 0x3A9}, Entity{"omega", 0x3C9}, Entity{"loz", 0x25CA},
    Entity{"NewLine", U'\n'}, Entity{"Tab", U'\t'}, Entity{"colon", U':'}, Entity{"comma", U','},
    Entity{"period", U'.'}, Entity{"sol", U'/'}, Entity{"lowast", 0x2217}, Entity{"frasl", 0x2044},
};
// Entities HTML5 also accepts without the ';' (legacy), as Python's html.unescape does.
constexpr std::array<std::string_view, 8> kLegacyNoSemicolon{"amp", "lt", "gt", "quot", "nbsp", "copy", "reg", "AMP"};

// Windows-1252 meaning of &#128;..&#159; per HTML5.
constexpr std::array<char32_t, 32> kC1{0x20AC, 0x81,   0x201A, 0x192,  0x201E, 0x2026, 0x2020, 0x2021,
                                       0x2C6,  0x2030, 0x160,  0x2039, 0x152,  0x8D,   0x17D,  0x8F,
                                       0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                       0x2DC,  0x2122, 0x161,  0x203A, 0x153,  0x9D,   0x17E,  0x178};

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

char lower_char(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Decodes one reference at s[i] == '&'; returns bytes consumed (0 = not a reference).
std::size_t decode_reference(std::string_view s, std::size_t i, std::string& out) {
  std::size_t j = i + 1;
  if (j < s.size() && s[j] == '#') {
    ++j;
    bool hex = j < s.size() && (s[j] == 'x' || s[j] == 'X');
    if (hex) ++j;
    std::size_t b = j;
    std::uint32_t v = 0;
    while (j < s.size() && (hex ? std::isxdigit(static_cast<unsigned char>(s[j])) : std::isdigit(static_cast<unsigned char>(s[j])))) {
      if (v < 0x110000) {
        int d = std::isdigit(static_cast<unsigned char>(s[j])) ? s[j] - '0' : lower_char(s[j]) - 'a' + 10;
        v = v * (hex ? 16 : 10) + static_cast<std::uint32_t>(d);
      }
      ++j;
    }
    if (j == b) return 0;
    if (j < s.size() && s[j] == ';') ++j;
    if (v >= 0x80 && v <= 0x9F) {
      append_utf8(out, kC1[v - 0x80]);
    } else if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
      append_utf8(out, 0xFFFD);
    } else {
      append_utf8(out, v);
    }
    return j - i;
  }
  std::size_t b = j;
  while (j < s.size() && is_alnum(s[j]) && j - b < 32) ++j;
  if (j == b) return 0;
  std::string_view name = s.substr(b, j - b);
  bool semi = j < s.size() && s[j] == ';';
  for (const Entity& e : kEntities) {
    if (e.name == name && (semi || std::find(kLegacyNoSemicolon.begin(), kLegacyNoSemicolon.end(), name) !=
                                       kLegacyNoSemicolon.end())) {
      append_utf8(out, e.cp);
      return j - i + (semi ? 1 : 0);
    }
  }
  if (!semi) {
    // "&nbspfoo": legacy prefix match
    for (std::string_view legacy : kLegacyNoSemicolon) {
      if (name.substr(0, legacy.size()) == legacy) {
        for (const Entity& e : kEntities) {
          if (e.name == legacy) {
            append_utf8(out, e.cp);
            return 1 + legacy.size();
          }
        }
      }
    }
  }
  return 0;
}

bool is_block(std::string_view t) {
  static constexpr std::array<std::string_view, 32> kBlock{
      "p",  "div", "br",  "tr",   "td",         "th",   "li",      "ul",     "ol",    "table", "h1",
      "h2", "h3",  "h4",  "h5",   "h6",         "blockquote", "pre", "hr", "section", "article", "header",
      "footer", "title", "dd", "dt", "dl", "center", "form", "address", "tbody", "thead"};
  return std::find(kBlock.begin(), kBlock.end(), t) != kBlock.end();
}

bool is_skip(std::string_view t) {
  return t == "script" || t == "style" || t == "head" || t == "noscript" || t == "template";
}

bool is_tag_char(char c) { return is_alnum(c) || c == '-' || c == '_' || c == ':'; }

}  // namespace

std::string decode_html_entities(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == '&') {
      if (std::size_t n = decode_reference(text, i, out); n > 0) {
        i += n;
        continue;
      }
    }
    out.push_back(text[i]);
    ++i;
  }
  return out;
}

std::string html_to_text(std::string_view html) {
  std::string out;
  out.reserve(html.size() / 2);
  int skip = 0;
  std::size_t i = 0;
  std::size_t text_start = 0;
  bool in_row = false;  // inside <tr>: one table row is one line, its cells separated by tabs
  auto emit_text = [&](std::size_t end) {
    if (skip == 0 && end > text_start) {
      std::string t = decode_html_entities(html.substr(text_start, end - text_start));
      if (in_row) std::replace_if(t.begin(), t.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
      out += t;
    }
  };
  while (i < html.size()) {
    if (html[i] != '<') {
      ++i;
      continue;
    }
    // Comments, doctype, processing instructions.
    if (html.compare(i, 4, "<!--") == 0) {
      emit_text(i);
      std::size_t end = html.find("-->", i + 4);
      i = end == std::string_view::npos ? html.size() : end + 3;
      text_start = i;
      continue;
    }
    if (i + 1 < html.size() && (html[i + 1] == '!' || html[i + 1] == '?')) {
      emit_text(i);
      std::size_t end = html.find('>', i + 2);
      i = end == std::string_view::npos ? html.size() : end + 1;
      text_start = i;
      continue;
    }
    bool closing = i + 1 < html.size() && html[i + 1] == '/';
    std::size_t n = i + (closing ? 2 : 1);
    if (n >= html.size() || !std::isalpha(static_cast<unsigned char>(html[n]))) {
      ++i;  // a literal '<'
      continue;
    }
    std::size_t name_end = n;
    while (name_end < html.size() && is_tag_char(html[name_end])) ++name_end;
    std::string name;
    for (std::size_t k = n; k < name_end; ++k) name.push_back(lower_char(html[k]));
    // Find the tag end, honouring quoted attribute values.
    std::size_t k = name_end;
    char quote = 0;
    while (k < html.size()) {
      char c = html[k];
      if (quote) {
        if (c == quote) quote = 0;
      } else if (c == '"' || c == '\'') {
        if (k > 0 && (html[k - 1] == '=' || std::isspace(static_cast<unsigned char>(html[k - 1])))) quote = c;
      } else if (c == '>') {
        break;
      }
      ++k;
    }
    if (k >= html.size()) {
      // Unterminated tag: treat the rest as text.
      ++i;
      continue;
    }
    emit_text(i);
    bool self_closing = k > 0 && html[k - 1] == '/';
    i = k + 1;
    text_start = i;
    if (is_skip(name)) {
      if (closing) {
        skip = std::max(0, skip - 1);
      } else if (!self_closing) {
        ++skip;
        if (name == "script" || name == "style") {
          // Raw text up to the matching end tag.
          std::string end_tag = "</" + name;
          std::size_t p = i;
          while (true) {
            p = html.find("</", p);
            if (p == std::string_view::npos) break;
            bool match = true;
            for (std::size_t q = 0; q < end_tag.size(); ++q) {
              if (p + q >= html.size() || lower_char(html[p + q]) != end_tag[q]) {
                match = false;
                break;
              }
            }
            if (match) break;
            p += 2;
          }
          i = p == std::string_view::npos ? html.size() : p;
          text_start = i;
        }
      }
      continue;
    }
    if (name == "tr") in_row = !closing;
    if (name == "table" && closing) in_row = false;
    if (skip == 0 && in_row && (name == "td" || name == "th")) {
      if (!closing && !out.empty() && out.back() != '\n') out.push_back('\t');
    } else if (skip == 0 && is_block(name)) {
      out.push_back('\n');
      if (name == "li" && !closing) out += "- ";
    }
  }
  emit_text(html.size());
  return out;
}

}  // namespace casedesk::parsers
