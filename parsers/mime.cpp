// parse_message(): raw RFC 5322 bytes -> Message.
//
// mimetic is used for what it does well and safely: reading a header block into fields. Every
// header block handed to it is first cleaned by our own linear scanner (caps, NULs, bad names,
// unindented continuations, final newline), so none of its known header-loss bugs can trigger.
// The MIME tree is split by our own line-anchored boundary matcher (mimetic's substring search
// loses parts on real mail), walked iteratively with depth and part caps, and bodies are
// decoded by our own base64/QP decoders. Field semantics follow Python's email package
// (policy=default), the reference used by shared/mime-corpus.

#include <mimetic/mimetic.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "parsers/address.hpp"
#include "parsers/charset.hpp"
#include "parsers/date.hpp"
#include "parsers/html_text.hpp"
#include "parsers/message.hpp"
#include "parsers/pdf_text.hpp"
#include "parsers/reply_text.hpp"
#include "parsers/rfc2047.hpp"

namespace casedesk::parsers {
namespace {

constexpr std::size_t kMaxFieldBytes = 64 * 1024;   // one unfolded header field
constexpr std::size_t kMaxHeaderBytes = 1024 * 1024;  // one header block
constexpr std::size_t kMaxFields = 2000;            // per header block
constexpr std::size_t kMaxParts = 2000;             // MIME entities per message
constexpr int kMaxDepth = 64;                       // multipart nesting
constexpr int kMaxNestedMessages = 3;               // message/rfc822 bodies turned into text
constexpr std::size_t kMaxWarnings = 64;

using Fields = std::vector<std::pair<std::string, std::string>>;

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (is_blank(s.front()) || s.front() == '\r' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (is_blank(s.back()) || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

class Warnings {
 public:
  explicit Warnings(std::vector<std::string>& out) : out_(out) {}
  void add(std::string w) {
    if (std::find(out_.begin(), out_.end(), w) != out_.end()) return;
    if (out_.size() < kMaxWarnings) out_.push_back(std::move(w));
  }

 private:
  std::vector<std::string>& out_;
};

struct Line {
  std::size_t end;   // end of content (EOL excluded)
  std::size_t next;  // start of the next line
};

// EOL is CRLF, LF or a lone CR, as in Python's feedparser.
Line line_at(std::string_view s, std::size_t pos) {
  // Hot path (every body line is visited by the boundary splitter): memchr, not a byte loop.
  if (pos >= s.size()) return {s.size(), s.size()};
  const char* b = s.data() + pos;
  const auto* nl = static_cast<const char*>(std::memchr(b, '\n', s.size() - pos));
  std::size_t len = nl ? static_cast<std::size_t>(nl - b) : s.size() - pos;
  const auto* cr = static_cast<const char*>(std::memchr(b, '\r', len));
  std::size_t i = pos + (cr ? static_cast<std::size_t>(cr - b) : len);
  if (i == s.size()) return {i, i};
  if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') return {i, i + 2};
  return {i, i + 1};
}

bool valid_field_name(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 32 && u < 127 && c != ':';
  });
}

// Name part of a "Name: value" line, or nullopt when the line is no header field. Trailing
// blanks before the colon are tolerated ("Subject : x").
std::optional<std::string_view> field_name_of(std::string_view line) {
  std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view name = line.substr(0, colon);
  while (!name.empty() && is_blank(name.back())) name.remove_suffix(1);
  if (!valid_field_name(name)) return std::nullopt;
  return name;
}

struct HeaderBlock {
  Fields fields;
  std::size_t body_begin = 0;  // offset of the body in the entity text
};

void append_clean(std::string& out, std::string_view s, std::size_t cap, bool& truncated) {
  for (char c : s) {
    if (out.size() >= cap) {
      truncated = true;
      return;
    }
    out.push_back(c == '\0' ? ' ' : c);
  }
}

// One linear pass over a header block: unfolds, caps sizes, replaces NULs, repairs bad lines.
HeaderBlock scan_header_block(std::string_view text, Warnings& warn) {
  HeaderBlock hb;
  std::size_t pos = 0;
  std::size_t total = 0;
  bool truncated = false;
  bool dropped = false;
  bool have_current = false;
  while (pos < text.size()) {
    Line ln = line_at(text, pos);
    std::string_view line = text.substr(pos, ln.end - pos);
    if (line.empty()) {
      hb.body_begin = ln.next;
      break;
    }
    if (is_blank(line.front())) {
      if (have_current) {
        append_clean(hb.fields.back().second, line, kMaxFieldBytes, truncated);
      } else {
        warn.add("header block starts with a continuation line");
      }
      total += std::min(line.size(), kMaxFieldBytes);
      pos = ln.next;
      hb.body_begin = pos;
      continue;
    }
    auto name = field_name_of(line);
    if (!name) {
      // An unindented continuation when a real field follows; else the body starts here.
      Line nx = line_at(text, ln.next);
      std::string_view next_line = text.substr(ln.next, nx.end - ln.next);
      if (have_current && ln.next < text.size() && !next_line.empty() &&
          (is_blank(next_line.front()) || field_name_of(next_line))) {
        warn.add("header line without a colon taken as a continuation");
        hb.fields.back().second.push_back(' ');
        append_clean(hb.fields.back().second, line, kMaxFieldBytes, truncated);
        pos = ln.next;
        hb.body_begin = pos;
        continue;
      }
      warn.add("header block ended early at a line that is not a header field");
      hb.body_begin = pos;
      break;
    }
    if (name->size() != line.find(':')) warn.add("blank before colon in a header field name");
    total += std::min(line.size(), kMaxFieldBytes);
    if (hb.fields.size() >= kMaxFields || total > kMaxHeaderBytes) {
      dropped = true;
      have_current = false;
    } else {
      std::string value;
      std::string_view v = line.substr(line.find(':') + 1);
      while (!v.empty() && is_blank(v.front())) v.remove_prefix(1);
      append_clean(value, v, kMaxFieldBytes, truncated);
      hb.fields.emplace_back(std::string(*name), std::move(value));
      have_current = true;
    }
    pos = ln.next;
    hb.body_begin = pos;
  }
  if (pos >= text.size()) hb.body_begin = text.size();
  for (auto& f : hb.fields) {
    std::string_view t = trim(f.second);
    if (t.size() != f.second.size()) f.second = std::string(t);
  }
  if (truncated) warn.add("header field truncated at 64 KiB");
  if (dropped) warn.add("header block too large; extra fields dropped");
  return hb;
}

// Re-reads the cleaned fields through mimetic (the project's MIME library). mimetic only sees a
// header block we produced: one field per line, no NULs, a final blank line.
Fields read_fields_with_mimetic(const Fields& cleaned, Warnings& warn) {
  if (cleaned.empty()) return cleaned;
  // Only mimetic's field names are used (our values are kept below), and its buffers grow 128
  // bytes at a time (quadratic copying on long fields): it gets a prefix of each value.
  constexpr std::size_t kMimeticValueBytes = 120;
  std::string block;
  std::size_t size = 2;
  for (const auto& [n, v] : cleaned) size += n.size() + std::min(v.size(), kMimeticValueBytes) + 3;
  block.reserve(size);
  for (const auto& [n, v] : cleaned) {
    block += n;
    block += ": ";
    for (char c : std::string_view(v).substr(0, kMimeticValueBytes)) block.push_back(c == '\r' || c == '\n' ? ' ' : c);
    block += '\n';
  }
  block += '\n';
  Fields out;
  try {
    auto entity = std::make_unique<mimetic::MimeEntity>(
        block.cbegin(), block.cend(),
        mimetic::imBody | mimetic::imChildParts | mimetic::imPreamble | mimetic::imEpilogue);
    const mimetic::Header& h = entity->header();
    out.reserve(h.size());
    for (const auto& f : h) {
      out.emplace_back(std::string(f.name().begin(), f.name().end()), std::string(trim(f.value())));
    }
  } catch (const std::bad_alloc&) {
    throw;
  } catch (...) {
    warn.add("mime library failed on a header block");
    return cleaned;
  }
  if (out.size() != cleaned.size()) {
    warn.add("mime library disagreed on a header block");
    return cleaned;
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    // mimetic re-folds; keep our exact unfolded text when it agrees on the name.
    if (!iequals(out[i].first, cleaned[i].first)) {
      warn.add("mime library disagreed on a header block");
      return cleaned;
    }
    out[i].second = cleaned[i].second;
  }
  return out;
}

const std::string* find_field(const Fields& fields, std::string_view name) {
  for (const auto& f : fields) {
    if (iequals(f.first, name)) return &f.second;
  }
  return nullptr;
}

struct Part {
  Fields fields;
  std::string_view body;  // still transfer-encoded
  std::string content_type;
  HeaderParams ct;
  std::optional<std::string> disposition;
  HeaderParams disp;
  std::string cte;
  std::vector<std::size_t> children;
  bool split = false;  // a multipart whose children were found
  int depth = 0;

  std::string_view maintype() const { return std::string_view(content_type).substr(0, content_type.find('/')); }
  std::string_view subtype() const {
    auto s = content_type.find('/');
    return s == std::string::npos ? std::string_view{} : std::string_view(content_type).substr(s + 1);
  }
  bool is_multipart_type() const { return content_type.rfind("multipart/", 0) == 0; }
  std::optional<std::string> filename() const {
    if (disposition) {
      if (auto f = find_param(disp, "filename")) return std::string(trim(*f));
    }
    if (auto n = find_param(ct, "name")) return std::string(trim(*n));
    return std::nullopt;
  }
};

void fill_part_meta(Part& p, std::string_view default_type) {
  const std::string* ct = find_field(p.fields, "Content-Type");
  if (!ct) {
    p.content_type = std::string(default_type);
  } else {
    p.ct = parse_parameterized(*ct);
    std::string t;
    for (char c : p.ct.value) {
      if (c != ' ' && c != '\t') t.push_back(c);
    }
    if (std::count(t.begin(), t.end(), '/') != 1 || t.front() == '/' || t.back() == '/') t = "text/plain";
    p.content_type = is_valid_utf8(t) ? std::move(t) : to_utf8(t, "us-ascii");
  }
  if (const std::string* cd = find_field(p.fields, "Content-Disposition")) {
    p.disp = parse_parameterized(*cd);
    p.disposition = p.disp.value;
  }
  if (const std::string* te = find_field(p.fields, "Content-Transfer-Encoding")) {
    std::string v = lower(trim(*te));
    if (auto cut = v.find_first_of(" \t;("); cut != std::string::npos) v.resize(cut);
    p.cte = std::move(v);
  }
}

// False when a base64 body holds bytes outside the alphabet, data after the '=' padding or a
// dangling single character: decode_base64() still recovers what it can.
bool base64_is_clean(std::string_view s) {
  // 0 alphabet, 1 blank or line break, 2 '=', 3 anything else (a table: this runs over every byte).
  static const auto kind = [] {
    std::array<unsigned char, 256> t{};
    t.fill(3);
    for (unsigned char c : std::string_view("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")) t[c] = 0;
    for (unsigned char c : std::string_view(" \t\r\n")) t[c] = 1;
    t['='] = 2;
    return t;
  }();
  std::size_t count = 0;
  bool padded = false;
  const auto* u = reinterpret_cast<const unsigned char*>(s.data());
  std::size_t i = 0;
  while (i < s.size()) {
    if (!padded && i + 8 <= s.size() &&  // 8 alphabet bytes in one test
        (kind[u[i]] | kind[u[i + 1]] | kind[u[i + 2]] | kind[u[i + 3]] | kind[u[i + 4]] | kind[u[i + 5]] |
         kind[u[i + 6]] | kind[u[i + 7]]) == 0) {
      count += 8;
      i += 8;
      continue;
    }
    switch (kind[u[i++]]) {
      case 0:
        if (padded) return false;
        ++count;
        break;
      case 1:
        break;
      case 2:
        padded = true;
        break;
      default:
        return false;
    }
  }
  return count % 4 != 1;
}

std::string decode_transfer(const Part& p, Warnings* warn = nullptr) {
  if (p.cte == "base64") {
    if (warn && !base64_is_clean(p.body)) warn->add("invalid base64 in a part body; decoded what could be");
    return decode_base64(p.body);
  }
  if (p.cte == "quoted-printable") return decode_quoted_printable(p.body);
  return std::string(p.body);
}

// Python's feedparser boundary rule: "--" boundary, optional "--", trailing blanks, end of line.
enum class BoundaryKind { none, open, close };
BoundaryKind match_boundary(std::string_view line, std::string_view boundary) {
  if (line.size() < boundary.size() + 2 || line[0] != '-' || line[1] != '-') return BoundaryKind::none;
  if (line.substr(2, boundary.size()) != boundary) return BoundaryKind::none;
  std::string_view rest = line.substr(2 + boundary.size());
  bool close = rest.size() >= 2 && rest[0] == '-' && rest[1] == '-';
  if (close) rest.remove_prefix(2);
  if (!std::all_of(rest.begin(), rest.end(), is_blank)) return BoundaryKind::none;
  return close ? BoundaryKind::close : BoundaryKind::open;
}

struct Span {
  std::size_t begin;
  std::size_t end;
};

// Splits a multipart body into part spans (each without the line break before the next
// boundary). nullopt when no opening boundary line exists.
std::optional<std::vector<Span>> split_multipart(std::string_view body, std::string_view boundary,
                                                 std::size_t max_parts, Warnings& warn) {
  std::vector<Span> spans;
  std::size_t pos = 0;
  std::optional<std::size_t> part_begin;
  bool closed = false;
  while (pos < body.size()) {
    Line ln = line_at(body, pos);
    std::string_view line = body.substr(pos, ln.end - pos);
    BoundaryKind k = match_boundary(line, boundary);
    if (k != BoundaryKind::none) {
      // Python's feedparser: consecutive boundary lines delimit no empty part.
      if (part_begin && *part_begin == pos) part_begin.reset();
      if (part_begin) {
        // Drop the line break that belongs to the boundary.
        std::size_t end = pos;
        if (end > *part_begin && body[end - 1] == '\n') --end;
        if (end > *part_begin && body[end - 1] == '\r') --end;
        if (spans.size() < max_parts) spans.push_back({*part_begin, std::max(end, *part_begin)});
      }
      if (k == BoundaryKind::close) {
        closed = true;
        part_begin.reset();
        break;
      }
      part_begin = ln.next;
    }
    pos = ln.next;
  }
  if (part_begin) {
    if (spans.size() < max_parts) spans.push_back({*part_begin, body.size()});
  }
  if (spans.empty() && !closed) return std::nullopt;
  if (!closed) warn.add("multipart without closing boundary");
  if (spans.size() >= max_parts) warn.add("too many MIME parts; the rest were ignored");
  return spans;
}

struct Tree {
  std::vector<Part> parts;  // parts[0] is the message itself
};

Tree build_tree(std::string_view text, Warnings& warn) {
  Tree tree;
  tree.parts.reserve(8);
  HeaderBlock top = scan_header_block(text, warn);
  Part root;
  root.fields = read_fields_with_mimetic(top.fields, warn);
  root.body = text.substr(std::min(top.body_begin, text.size()));
  fill_part_meta(root, "text/plain");
  tree.parts.push_back(std::move(root));
  // Iterative, breadth-first over a work list of part indices; children keep tree order.
  std::vector<std::size_t> work{0};
  bool depth_warned = false;
  while (!work.empty()) {
    std::size_t idx = work.back();
    work.pop_back();
    if (!tree.parts[idx].is_multipart_type()) continue;
    if (tree.parts[idx].depth >= kMaxDepth) {
      if (!depth_warned) warn.add("MIME nesting too deep; inner parts not split");
      depth_warned = true;
      continue;
    }
    auto boundary = find_raw_param(find_field(tree.parts[idx].fields, "Content-Type")
                                       ? *find_field(tree.parts[idx].fields, "Content-Type")
                                       : std::string{},
                                   "boundary");
    if (!boundary) boundary = find_param(tree.parts[idx].ct, "boundary");  // boundary*=
    if (boundary) {
      std::string_view b = *boundary;
      while (!b.empty() && (is_blank(b.back()))) b.remove_suffix(1);
      *boundary = std::string(b);
    }
    if (!boundary || boundary->empty()) {
      warn.add("multipart without boundary");
      continue;
    }
    std::string_view body = tree.parts[idx].body;
    std::size_t room = kMaxParts > tree.parts.size() ? kMaxParts - tree.parts.size() : 0;
    auto spans = split_multipart(body, *boundary, room, warn);
    if (!spans) {
      warn.add("multipart boundary not found");
      continue;
    }
    tree.parts[idx].split = true;
    std::string_view default_type = tree.parts[idx].content_type == "multipart/digest" ? "message/rfc822" : "text/plain";
    int depth = tree.parts[idx].depth + 1;
    std::vector<std::size_t> kids;
    for (const Span& s : *spans) {
      std::string_view part_text = body.substr(s.begin, s.end - s.begin);
      HeaderBlock hb = scan_header_block(part_text, warn);
      Part child;
      child.fields = read_fields_with_mimetic(hb.fields, warn);
      child.body = part_text.substr(std::min(hb.body_begin, part_text.size()));
      child.depth = depth;
      fill_part_meta(child, default_type);
      kids.push_back(tree.parts.size());
      tree.parts.push_back(std::move(child));
    }
    tree.parts[idx].children = kids;
    for (auto it = kids.rbegin(); it != kids.rend(); ++it) work.push_back(*it);
  }
  return tree;
}

// Python's Message.get_body() with a one-element preference list.
std::optional<std::size_t> find_body(const Tree& tree, std::string_view want) {
  std::vector<std::size_t> stack{0};
  while (!stack.empty()) {
    std::size_t idx = stack.back();
    stack.pop_back();
    const Part& p = tree.parts[idx];
    if (p.disposition && *p.disposition == "attachment") continue;
    if (p.maintype() == "text") {
      if (p.subtype() == want) return idx;
      continue;
    }
    if (p.maintype() != "multipart" || !p.split) continue;
    if (p.subtype() != "related") {
      for (auto it = p.children.rbegin(); it != p.children.rend(); ++it) stack.push_back(*it);
      continue;
    }
    std::optional<std::size_t> candidate;
    if (auto start = find_param(p.ct, "start"); start && !start->empty()) {
      for (std::size_t c : p.children) {
        const std::string* cid = find_field(tree.parts[c].fields, "Content-ID");
        if (cid && *cid == *start) {
          candidate = c;
          break;
        }
      }
    }
    if (!candidate && !p.children.empty()) candidate = p.children.front();
    if (candidate) stack.push_back(*candidate);
  }
  return std::nullopt;
}

// Leaves in tree order, descending only into split multiparts (not into message/*).
std::vector<std::size_t> leaves(const Tree& tree) {
  std::vector<std::size_t> out;
  std::vector<std::size_t> stack{0};
  while (!stack.empty()) {
    std::size_t idx = stack.back();
    stack.pop_back();
    const Part& p = tree.parts[idx];
    if (p.is_multipart_type()) {
      for (auto it = p.children.rbegin(); it != p.children.rend(); ++it) stack.push_back(*it);
    } else {
      out.push_back(idx);
    }
  }
  return out;
}

std::pair<std::optional<std::size_t>, BodySource> choose_body(const Tree& tree) {
  if (auto b = find_body(tree, "plain")) return {b, BodySource::text_plain};
  if (auto b = find_body(tree, "html")) return {b, BodySource::text_html};
  std::vector<std::size_t> cands;
  for (std::size_t idx : leaves(tree)) {
    const Part& p = tree.parts[idx];
    if (p.maintype() != "text") continue;
    if (p.disposition && *p.disposition == "attachment") continue;
    auto fn = p.filename();
    if (fn && !fn->empty()) continue;
    cands.push_back(idx);
  }
  for (std::size_t idx : cands) {
    if (tree.parts[idx].subtype() == "plain") return {idx, BodySource::text_plain};
  }
  for (std::size_t idx : cands) {
    if (tree.parts[idx].subtype() == "html") return {idx, BodySource::text_html};
  }
  if (!cands.empty()) return {cands.front(), BodySource::text_other};
  // A multipart whose boundary never appears: show its raw text rather than nothing.
  const Part& root = tree.parts[0];
  if (root.is_multipart_type() && !root.split && !trim(root.body).empty()) return {0, BodySource::text_other};
  return {std::nullopt, BodySource::none};
}

// RFC 3676 format=flowed: a line ending in a space flows into the next line of the same quote
// depth; DelSp=yes deletes that space; one leading space (space-stuffing) is removed; "-- " stays
// a signature line. Quote marks are kept (">" per level, then one space when the paragraph's
// first line had one).
std::string decode_flowed(std::string_view text, bool delsp) {
  std::string out;
  out.reserve(text.size());
  std::string para;       // current logical line, without quote marks
  int para_depth = -1;    // -1: no open paragraph
  bool para_space = false;
  auto flush = [&]() {
    if (para_depth < 0) return;
    out.append(static_cast<std::size_t>(para_depth), '>');
    if (para_depth > 0 && para_space && !para.empty()) out.push_back(' ');
    out += para;
    out.push_back('\n');
    para.clear();
    para_depth = -1;
  };
  std::size_t pos = 0;
  while (pos < text.size()) {
    Line ln = line_at(text, pos);
    std::string_view line = text.substr(pos, ln.end - pos);
    bool last = ln.next >= text.size();
    pos = ln.next;
    int depth = 0;
    while (!line.empty() && line.front() == '>') {
      ++depth;
      line.remove_prefix(1);
    }
    bool stuffed = !line.empty() && line.front() == ' ';
    if (stuffed) line.remove_prefix(1);
    bool sig = line == "-- ";
    bool flowed = !sig && !line.empty() && line.back() == ' ';
    if (para_depth >= 0 && para_depth != depth) flush();  // depth change ends a paragraph
    if (para_depth < 0) {
      para_depth = depth;
      para_space = stuffed;
    }
    if (flowed && delsp) line.remove_suffix(1);
    para += line;
    if (!flowed || sig || last) flush();
  }
  flush();
  if (!text.empty() && text.back() != '\n' && text.back() != '\r' && !out.empty()) out.pop_back();
  return out;
}

// A NUL byte in decoded text becomes U+FFFD: visible as "something was here", never a C-string end
// or a byte another layer reads through another charset (issue 12 item 4).
void replace_nuls(std::string& text) {
  std::size_t at = text.find('\0');
  if (at == std::string::npos) return;
  std::string out;
  out.reserve(text.size() + 16);
  std::size_t from = 0;
  for (; at != std::string::npos; at = text.find('\0', from)) {
    out.append(text, from, at - from);
    out += "\xEF\xBF\xBD";
    from = at + 1;
  }
  out.append(text, from, std::string::npos);
  text = std::move(out);
}

std::string part_text(const Part& p, Warnings& warn) {
  // 7bit/8bit/binary bodies are converted straight from the input: no copy of the raw body.
  std::string storage;
  std::string_view decoded = p.body;
  if (p.cte == "base64" || p.cte == "quoted-printable") {
    storage = decode_transfer(p, &warn);
    decoded = storage;
  }
  std::string charset = find_param(p.ct, "charset").value_or("us-ascii");
  std::string w;
  std::string text = to_utf8(decoded, charset, &w);
  std::string().swap(storage);
  if (!w.empty()) warn.add(w);
  replace_nuls(text);
  if (p.content_type == "text/plain") {
    auto format = find_param(p.ct, "format");
    if (format && lower(trim(*format)) == "flowed") {
      auto delsp = find_param(p.ct, "delsp");
      text = decode_flowed(text, delsp && lower(trim(*delsp)) == "yes");
    }
  }
  return text;
}

// Length of the data a uuencoded line carries, or nullopt when the line is not uuencode.
std::optional<std::size_t> uu_line_length(std::string_view line) {
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  if (line.empty()) return std::nullopt;
  for (char c : line) {
    if (c < ' ' || c > '`') return std::nullopt;
  }
  std::size_t n = static_cast<std::size_t>((line[0] - ' ') & 63);
  std::size_t need = (n + 2) / 3 * 4;
  // Shorter is fine: encoders write zero bits as ' ', which transports strip at line ends.
  if (line.size() - 1 > need + 4) return std::nullopt;
  return n;
}

// Appends the bytes one uuencoded line carries (uu_line_length must have accepted it).
void uu_decode_line(std::string_view line, std::string& out) {
  std::size_t n = static_cast<std::size_t>((line[0] - ' ') & 63);
  auto sixbits = [&](std::size_t i) {
    return i < line.size() ? static_cast<unsigned>((line[i] - ' ') & 63) : 0u;
  };
  std::size_t start = out.size();
  for (std::size_t i = 1; out.size() - start < n; i += 4) {
    unsigned v = sixbits(i) << 18 | sixbits(i + 1) << 12 | sixbits(i + 2) << 6 | sixbits(i + 3);
    for (int k = 2; k >= 0 && out.size() - start < n; --k) out.push_back(static_cast<char>((v >> (8 * k)) & 0xFF));
  }
}

// "begin 644 name": the name (possibly empty), or nullopt.
std::optional<std::string_view> uu_begin(std::string_view line) {
  if (line.substr(0, 6) != "begin ") return std::nullopt;
  std::string_view rest = line.substr(6);
  std::size_t digits = 0;
  while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '7') ++digits;
  if (digits < 3 || digits > 4) return std::nullopt;
  rest.remove_prefix(digits);
  if (!rest.empty() && !is_blank(rest.front())) return std::nullopt;
  return trim(rest);
}

// Removes uuencoded blocks ("begin 644 name" ... "end") from a text body and lists each one as
// an application/octet-stream attachment whose size is the decoded length.
// With `data`, each block's decoded bytes are appended to it too.
void extract_uuencode(std::string& body, std::vector<Attachment>& found, Warnings& warn,
                      std::vector<std::string>* data = nullptr) {
  if (body.find("begin ") == std::string::npos) return;
  std::string_view text = body;
  std::string out;
  std::size_t copied = 0;  // text[copied, ...) not yet copied to out
  std::size_t pos = 0;
  while (pos < text.size()) {
    Line ln = line_at(text, pos);
    auto name = uu_begin(text.substr(pos, ln.end - pos));
    if (!name) {
      pos = ln.next;
      continue;
    }
    std::size_t size = 0;
    std::size_t q = ln.next;
    std::optional<std::size_t> block_end;
    std::string bytes;
    while (q < text.size()) {
      Line l2 = line_at(text, q);
      std::string_view line = trim(text.substr(q, l2.end - q));
      if (line == "end") {
        block_end = l2.next;
        break;
      }
      auto n = uu_line_length(line);
      if (!n) break;
      size += *n;
      if (data) uu_decode_line(line, bytes);
      q = l2.next;
    }
    if (!block_end) {
      pos = ln.next;
      continue;
    }
    out.append(text.substr(copied, pos - copied));
    copied = *block_end;
    Attachment a;
    if (!name->empty()) a.filename = to_utf8(*name, "us-ascii");
    a.content_type = "application/octet-stream";
    a.size = size;
    found.push_back(std::move(a));
    if (data) data->push_back(std::move(bytes));
    warn.add("uuencoded data in the body listed as an attachment");
    pos = *block_end;
  }
  if (found.empty()) return;
  out.append(text.substr(copied));
  body = std::move(out);
}

// A quick linear pass over the raw message for conditions worth a warning.
void scan_raw(std::string_view raw, Warnings& warn) {
  if (raw.find('\0') != std::string_view::npos) warn.add("NUL bytes in the message");
  for (std::size_t pos = 0; pos < raw.size();) {
    Line ln = line_at(raw, pos);
    if (ln.end - pos > 998) {
      warn.add("line longer than 998 bytes");
      return;
    }
    pos = ln.next;
  }
}

Message parse_impl(std::string_view raw, int nest);

std::optional<std::string> nested_message_text(const Part& p, int nest, Warnings& warn) {
  if (nest >= kMaxNestedMessages) {
    warn.add("message/rfc822 nested too deep; inner text skipped");
    return std::nullopt;
  }
  std::string decoded = decode_transfer(p, &warn);
  Message inner = parse_impl(decoded, nest + 1);
  return std::move(inner.body_text);
}

// With `data`, each attachment's decoded bytes (a message/* part: its own bytes) are handed to it
// as it is found (then `out` gets the attachment without its text: the caller wants the bytes).
using DataSink = std::function<void(const Attachment&, std::string&&)>;
void walk_attachments(const Tree& tree, std::optional<std::size_t> body, int nest,
                      std::vector<Attachment>& out, Warnings& warn, const DataSink* data = nullptr) {
  for (std::size_t idx : leaves(tree)) {
    const Part& p = tree.parts[idx];
    if (body && *body == idx) continue;
    auto fn = p.filename();
    if (p.content_type == "message/rfc822") {
      Attachment a;
      a.filename = fn;
      a.content_type = p.content_type;
      if (data) {
        (*data)(a, decode_transfer(p, &warn));
        out.push_back(std::move(a));
        continue;
      }
      a.text = nested_message_text(p, nest, warn);
      out.push_back(std::move(a));
      continue;
    }
    bool is_attachment = (p.disposition && *p.disposition == "attachment") || fn.has_value() ||
                         (p.maintype() != "text" && p.maintype() != "multipart" && p.maintype() != "message");
    if (!is_attachment) continue;
    Attachment a;
    a.filename = fn;
    a.content_type = p.content_type;
    if (p.content_type == "application/ms-tnef" || p.content_type == "application/vnd.ms-tnef" ||
        (fn && iequals(trim(*fn), "winmail.dat"))) {
      warn.add("TNEF (winmail.dat) attachment: contents not decoded");
    }
    std::string decoded = decode_transfer(p, &warn);
    if (p.maintype() != "message") a.size = decoded.size();
    if (data) {
      (*data)(a, std::move(decoded));
      out.push_back(std::move(a));
      continue;
    }
    if (p.maintype() != "message") {
      if (p.maintype() == "text") {
        std::string charset = find_param(p.ct, "charset").value_or("us-ascii");
        a.text = to_utf8(decoded, charset);
      } else if (p.content_type == "application/pdf" ||
                 (fn && fn->size() > 4 && iequals(fn->substr(fn->size() - 4), ".pdf"))) {
        PdfText pdf = pdf_text(decoded);
        a.text = std::move(pdf.text);
        if (pdf.warning) warn.add(*pdf.warning);
      }
    }
    out.push_back(std::move(a));
  }
}

std::optional<std::string> collapsed(const std::string* raw, bool decode_words) {
  if (!raw) return std::nullopt;
  return collapse_whitespace(decode_words ? decode_encoded_words(*raw) : to_utf8(*raw, "us-ascii"));
}

std::vector<std::string> references_of(const std::string& raw) {
  std::string s = to_utf8(raw, "us-ascii");
  std::vector<std::string> ids;
  std::size_t i = 0;
  while ((i = s.find('<', i)) != std::string::npos) {
    std::size_t j = s.find_first_of("<>", i + 1);
    if (j == std::string::npos) break;
    if (s[j] == '<') {
      i = j;
      continue;
    }
    ids.push_back(s.substr(i, j - i + 1));
    i = j + 1;
    if (ids.size() >= 1000) break;
  }
  if (!ids.empty()) return ids;
  std::string c = collapse_whitespace(s);
  std::size_t b = 0;
  while (b < c.size() && ids.size() < 1000) {
    std::size_t e = c.find(' ', b);
    if (e == std::string::npos) e = c.size();
    if (e > b) ids.push_back(c.substr(b, e - b));
    b = e + 1;
  }
  return ids;
}

void classify_automated(Message& m, const Tree& tree) {
  auto set = [&](std::string reason) {
    if (!m.automated) {
      m.automated = true;
      m.automated_reason = std::move(reason);
    }
  };
  if (m.auto_submitted && lower(*m.auto_submitted) != "no") {
    set("Auto-Submitted: " + *m.auto_submitted);
  }
  if (m.precedence) {
    std::string p = lower(*m.precedence);
    if (p == "bulk" || p == "list" || p == "junk" || p == "auto_reply") set("Precedence: " + p);
  }
  if (tree.parts[0].content_type == "multipart/report") set("multipart/report");
  for (const Part& p : tree.parts) {
    const std::string& t = p.content_type;
    if (t == "message/delivery-status" || t == "message/global-delivery-status" ||
        t == "message/disposition-notification" || t == "message/global-disposition-notification" ||
        t == "message/feedback-report") {
      set(t);
      break;
    }
  }
  if (m.from_addr) {
    std::string local = lower(m.from_addr->substr(0, m.from_addr->rfind('@')));
    if (local == "mailer-daemon" || local == "postmaster") set("sender " + local);
  }
}

// Strips what makes header parsing fail before the first field: a UTF-8 BOM, an mbox
// "From " separator line, leading blank lines.
std::string_view strip_preamble(std::string_view raw, Warnings& warn) {
  if (raw.substr(0, 3) == "\xEF\xBB\xBF") {
    raw.remove_prefix(3);
    warn.add("UTF-8 byte order mark removed");
  }
  for (int guard = 0; guard < 1000 && !raw.empty(); ++guard) {
    Line ln = line_at(raw, 0);
    std::string_view line = raw.substr(0, ln.end);
    if (trim(line).empty() && ln.next > 0) {
      raw.remove_prefix(ln.next);
      warn.add("leading blank lines removed");
      continue;
    }
    if (line.substr(0, 5) == "From " || line.substr(0, 6) == ">From ") {
      raw.remove_prefix(ln.next);
      continue;
    }
    break;
  }
  return raw;
}

Message parse_impl(std::string_view raw, int nest) {
  Message m;
  Warnings warn(m.warnings);
  if (nest == 0) scan_raw(raw, warn);
  std::string_view text = strip_preamble(raw, warn);
  Tree tree = build_tree(text, warn);
  const Fields& top = tree.parts[0].fields;
  m.headers = top;
  for (auto& h : m.headers) {
    if (!is_valid_utf8(h.second)) h.second = to_utf8(h.second, "us-ascii");
  }

  if (const std::string* from = find_field(top, "From")) {
    auto boxes = parse_address_list(*from);
    if (!boxes.empty()) {
      m.from_addr = boxes.front().addr;
      m.from_name = boxes.front().name;
    } else {
      warn.add("From header names no mailbox");
    }
  } else {
    warn.add("no From header");
  }
  if (const std::string* rt = find_field(top, "Reply-To")) {
    auto boxes = parse_address_list(*rt);
    if (!boxes.empty()) m.reply_to = boxes.front();
  }
  if (const std::string* to = find_field(top, "To")) m.to = parse_address_list(*to);
  m.subject = collapsed(find_field(top, "Subject"), true);
  if (const std::string* d = find_field(top, "Date")) {
    m.date_raw = collapse_whitespace(to_utf8(*d, "us-ascii"));
    if (auto pd = parse_date(*d)) {
      m.date = pd->iso;
      m.date_epoch = pd->epoch;
    } else {
      warn.add("unparseable Date header");
    }
  }
  m.message_id = collapsed(find_field(top, "Message-ID"), false);
  m.in_reply_to = collapsed(find_field(top, "In-Reply-To"), true);
  if (const std::string* r = find_field(top, "References")) m.references = references_of(decode_encoded_words(*r));
  m.auto_submitted = collapsed(find_field(top, "Auto-Submitted"), true);
  m.precedence = collapsed(find_field(top, "Precedence"), true);

  auto [body, source] = choose_body(tree);
  m.body_source = source;
  if (body) {
    const Part& bp = tree.parts[*body];
    m.body_text = part_text(bp, warn);
    if (source == BodySource::text_html) m.body_text = html_to_text(m.body_text);
  }
  std::vector<Attachment> uu;
  if (source == BodySource::text_plain || source == BodySource::text_other) extract_uuencode(m.body_text, uu, warn);
  walk_attachments(tree, body, nest, m.attachments, warn);
  // The body usually comes first in tree order: its uuencoded files lead the list.
  if (!uu.empty()) m.attachments.insert(m.attachments.begin(), std::make_move_iterator(uu.begin()),
                                        std::make_move_iterator(uu.end()));
  classify_automated(m, tree);
  if (nest == 0) m.reply_text = extract_reply_text(m.body_text);
  return m;
}

}  // namespace

std::string_view to_string(BodySource s) {
  switch (s) {
    case BodySource::text_plain:
      return "text/plain";
    case BodySource::text_html:
      return "text/html";
    case BodySource::text_other:
      return "text/other";
    case BodySource::none:
      break;
  }
  return "none";
}

std::size_t for_each_attachment(std::string_view raw, const AttachmentSink& sink) {
  std::size_t n = 0;
  std::exception_ptr sink_error;  // the sink's own failure, kept apart from the parser's
  auto call = [&](const Attachment& a, std::string_view bytes) {
    try {
      sink(n++, a, bytes);
    } catch (...) {
      sink_error = std::current_exception();
      throw AttachmentSinkStop{};
    }
  };
  try {
    // The same walk as parse_impl, so indexes match Message::attachments: uuencoded blocks of a
    // text body first, then the MIME leaves in tree order. Only one attachment's bytes are held
    // at a time (uuencoded blocks of the body excepted: they are small).
    std::vector<std::string> ignored;
    Warnings warn(ignored);
    Tree tree = build_tree(strip_preamble(raw, warn), warn);
    auto [body, source] = choose_body(tree);
    std::vector<Attachment> found;
    if (body && (source == BodySource::text_plain || source == BodySource::text_other)) {
      std::vector<std::string> data;
      std::string body_text = part_text(tree.parts[*body], warn);
      extract_uuencode(body_text, found, warn, &data);
      for (std::size_t i = 0; i < found.size() && i < data.size(); ++i) call(found[i], data[i]);
    }
    found.clear();
    DataSink each = [&](const Attachment& a, std::string&& bytes) { call(a, bytes); };
    walk_attachments(tree, body, 0, found, warn, &each);
  } catch (const AttachmentSinkStop&) {
  } catch (const std::bad_alloc&) {
    throw;
  } catch (...) {
    // Bad mail: what was found before the failure stands.
  }
  if (sink_error) std::rethrow_exception(sink_error);
  return n;
}

std::optional<std::pair<Attachment, std::string>> attachment_data(std::string_view raw, std::size_t index) {
  std::optional<std::pair<Attachment, std::string>> out;
  try {
    for_each_attachment(raw, [&](std::size_t i, const Attachment& a, std::string_view bytes) {
      if (i != index) return;
      out.emplace(a, std::string(bytes));
      throw AttachmentSinkStop{};
    });
  } catch (const AttachmentSinkStop&) {
  }
  return out;
}

Message parse_message(std::string_view raw) {
  try {
    return parse_impl(raw, 0);
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {
    Message m;
    m.warnings.push_back(std::string("message could not be parsed: ") + e.what());
    return m;
  } catch (...) {
    Message m;
    m.warnings.emplace_back("message could not be parsed");
    return m;
  }
}

}  // namespace casedesk::parsers
