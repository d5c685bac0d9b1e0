#include "daemon/web_forms.hpp"

#include <cstdint>

namespace casedesk::daemon {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string url_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string url_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (unreserved(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

Target split_target(std::string_view target) {
  Target t;
  auto q = target.find('?');
  std::string_view path = target.substr(0, q);
  if (auto h = path.find('#'); h != std::string_view::npos) path = path.substr(0, h);
  t.path = url_decode(path, false);
  if (q != std::string_view::npos) {
    std::string_view query = target.substr(q + 1);
    if (auto h = query.find('#'); h != std::string_view::npos) query = query.substr(0, h);
    t.query = std::string(query);
  }
  return t;
}

std::map<std::string, std::string> parse_form(std::string_view body) {
  std::map<std::string, std::string> out;
  std::size_t pos = 0;
  int fields = 0;
  while (pos <= body.size() && fields < 200) {
    std::size_t amp = body.find('&', pos);
    std::string_view pair = body.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
    if (!pair.empty()) {
      ++fields;
      std::size_t eq = pair.find('=');
      std::string name = url_decode(pair.substr(0, eq));
      std::string value = eq == std::string_view::npos ? std::string{} : url_decode(pair.substr(eq + 1));
      out.try_emplace(std::move(name), std::move(value));
    }
    if (amp == std::string_view::npos) break;
    pos = amp + 1;
  }
  return out;
}

std::map<std::string, std::string> parse_cookies(std::string_view header) {
  std::map<std::string, std::string> out;
  std::size_t pos = 0;
  while (pos < header.size()) {
    std::size_t semi = header.find(';', pos);
    std::string_view item =
        trim(header.substr(pos, semi == std::string_view::npos ? std::string_view::npos : semi - pos));
    std::size_t eq = item.find('=');
    if (eq != std::string_view::npos) {
      std::string_view value = trim(item.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
      out.try_emplace(std::string(trim(item.substr(0, eq))), std::string(value));
    }
    if (semi == std::string_view::npos) break;
    pos = semi + 1;
  }
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  std::size_t n = a.size() < b.size() ? a.size() : b.size();
  for (std::size_t i = 0; i < n; ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string attachment_disposition(std::string_view filename) {
  std::string ascii;
  for (unsigned char c : filename) {
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\' || c >= 0x80 || c == '/' || c == ';')
      ascii.push_back('_');
    else
      ascii.push_back(static_cast<char>(c));
  }
  if (ascii.empty()) ascii = "attachment";
  std::string clean;
  for (unsigned char c : filename)
    if (c >= 0x20 && c != 0x7f && c != '/' && c != '\\') clean.push_back(static_cast<char>(c));
  if (clean.empty()) clean = "attachment";
  return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + url_encode(clean);
}

std::string safe_local_path(std::string_view next, std::string_view fallback) {
  if (next.empty() || next.front() != '/' || next.substr(0, 2) == "//") return std::string(fallback);
  for (unsigned char c : next)
    if (c < 0x20 || c == 0x7f || c == '\\') return std::string(fallback);
  return std::string(next);
}

}  // namespace casedesk::daemon
