// extract_reply_text(): line-based heuristics over a decoded body (see reply_text.hpp).

#include "parsers/reply_text.hpp"

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace casedesk::parsers {
namespace {

constexpr int kAttributionLines = 3;   // an attribution may wrap over this many lines
constexpr int kHeaderBlockSpan = 10;   // lines scanned after "From:" for the other fields

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  // U+00A0 (NBSP) as left by HTML conversion.
  while (s.size() >= 2 && s.substr(s.size() - 2) == "\xC2\xA0") s.remove_suffix(2);
  while (s.size() >= 2 && s.substr(0, 2) == "\xC2\xA0") s.remove_prefix(2);
  return s;
}

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool ends_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}
bool contains(std::string_view s, std::string_view p) { return s.find(p) != std::string_view::npos; }

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t i = pos;
    while (i < text.size() && text[i] != '\n' && text[i] != '\r') ++i;
    lines.push_back(text.substr(pos, i - pos));
    if (i == text.size()) break;
    pos = (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ? i + 2 : i + 1;
  }
  return lines;
}

bool is_blank(std::string_view line) { return trim(line).empty(); }

bool is_quoted(std::string_view line) {
  std::string_view t = line;
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
  return !t.empty() && t.front() == '>';
}

bool is_signature_delimiter(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line == "-- " || line == "--";
}

// "---------- Forwarded message ---------" and friends: the start of forwarded content.
bool is_forward_marker(std::string_view line) {
  std::string l = lower_ascii(trim(line));
  static constexpr std::string_view kMarkers[] = {
      "forwarded message",           // Gmail, Thunderbird ("-------- Forwarded Message --------")
      "begin forwarded message",     // Apple Mail
      "weitergeleitete nachricht",   // de
      "message transféré",           // fr
      "mensaje reenviado",           // es
      "doorgestuurd bericht",        // nl
      "messaggio inoltrato",         // it
      "mensagem encaminhada",        // pt
      "forwarded by",                // Lotus Notes "---- Forwarded by X on ... ----"
  };
  if (l.size() > 120) return false;
  for (std::string_view m : kMarkers) {
    if (!contains(l, m)) continue;
    // A separator ("--- x ---") or an Apple-style line ending in ':'.
    if (starts_with(l, "--") || starts_with(l, "__") || ends_with(l, ":") || starts_with(l, "begin ") ||
        starts_with(l, "anfang ")) {
      return true;
    }
  }
  return starts_with(l, "anfang der weitergeleiteten nachricht");
}

// "-----Original Message-----", "-----Ursprüngliche Nachricht-----", "----- Original-Nachricht -----".
bool is_original_message_separator(std::string_view line) {
  std::string l = lower_ascii(trim(line));
  if (l.size() > 100 || !(starts_with(l, "---") || starts_with(l, "___"))) return false;
  static constexpr std::string_view kNames[] = {
      "original message", "ursprüngliche nachricht", "ursprungliche nachricht", "original-nachricht",
      "message d'origine", "message original", "mensaje original", "oorspronkelijk bericht",
      "messaggio originale", "mensagem original", "reply message", "antwort nachricht",
  };
  return std::any_of(std::begin(kNames), std::end(kNames), [&](std::string_view n) { return contains(l, n); });
}

enum class Key { none, from, sent, to, subject, cc };

// The field key of an Outlook-style header line ("From:", "*Von:*", "Envoyé :"), and its value.
Key header_key(std::string_view line, std::string_view* value = nullptr) {
  std::string_view t = trim(line);
  while (!t.empty() && t.front() == '*') t.remove_prefix(1);
  std::size_t colon = t.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 24) return Key::none;
  std::string k = lower_ascii(trim(t.substr(0, colon)));
  while (!k.empty() && (k.back() == '*' || k.back() == ' ')) k.pop_back();
  if (value) {
    std::string_view v = t.substr(colon + 1);
    while (!v.empty() && (v.front() == '*' || is_space(v.front()))) v.remove_prefix(1);
    *value = trim(v);
  }
  static constexpr std::string_view kFrom[] = {"from", "von", "de", "van", "da", "från", "fra", "od"};
  static constexpr std::string_view kSent[] = {"sent",    "date",      "gesendet", "datum", "envoyé",
                                               "enviado", "enviada",   "fecha",    "verzonden",
                                               "inviato", "data",      "skickat",  "sendt", "wysłano"};
  static constexpr std::string_view kTo[] = {"to", "an", "à", "a", "para", "aan", "till", "til", "do"};
  static constexpr std::string_view kSubject[] = {"subject", "betreff",  "objet", "asunto", "onderwerp",
                                                  "oggetto", "assunto",  "ämne",  "emne",   "temat"};
  static constexpr std::string_view kCc[] = {"cc", "kopie", "copie à", "cc:"};
  auto in = [&](const auto& set) {
    return std::any_of(std::begin(set), std::end(set), [&](std::string_view s) { return k == s; });
  };
  if (in(kFrom)) return Key::from;
  if (in(kSent)) return Key::sent;
  if (in(kTo)) return Key::to;
  if (in(kSubject)) return Key::subject;
  if (in(kCc)) return Key::cc;
  return Key::none;
}

bool is_forward_subject(std::string_view subject) {
  std::string s = lower_ascii(subject);
  static constexpr std::string_view kPrefixes[] = {"fw:", "fwd:", "wg:", "tr:", "rv:", "i:", "doorst:", "enc:"};
  return std::any_of(std::begin(kPrefixes), std::end(kPrefixes), [&](std::string_view p) { return starts_with(s, p); });
}

struct HeaderBlock {
  bool found = false;
  bool forward = false;  // its Subject marks a forward
};

// An Outlook/Gmail-style header block starting at line i: "From:" and, within the next lines,
// a date/sent field and a To or Subject field. Also the one-line form Outlook's HTML gives
// ("From: X Sent: Y To: Z Subject: W").
HeaderBlock header_block_at(const std::vector<std::string_view>& lines, std::size_t i) {
  HeaderBlock hb;
  if (header_key(lines[i]) != Key::from) return hb;
  std::string one = lower_ascii(lines[i]);
  if ((contains(one, " sent:") || contains(one, " date:") || contains(one, " gesendet:")) &&
      (contains(one, " to:") || contains(one, " subject:") || contains(one, " an:") || contains(one, " betreff:"))) {
    hb.found = true;
    std::size_t s = one.find(" subject:");
    if (s == std::string::npos) s = one.find(" betreff:");
    if (s != std::string::npos) hb.forward = is_forward_subject(trim(std::string_view(lines[i]).substr(s + 9)));
    return hb;
  }
  bool sent = false, to = false, subject = false;
  int nonblank = 0;
  for (std::size_t j = i + 1; j < lines.size() && j <= i + kHeaderBlockSpan && nonblank < 6; ++j) {
    if (is_blank(lines[j])) continue;
    ++nonblank;
    std::string_view value;
    Key k = header_key(lines[j], &value);
    if (k == Key::none) {
      // Long To:/Cc: lists wrap; tolerate one unkeyed line, stop at the second.
      if (nonblank > 2 && !(sent || to || subject)) break;
      continue;
    }
    if (k == Key::sent) sent = true;
    if (k == Key::to || k == Key::cc) to = true;
    if (k == Key::subject) {
      subject = true;
      hb.forward = is_forward_subject(value);
    }
    if (k == Key::from) break;
  }
  hb.found = sent && (to || subject);
  return hb;
}

// Attribution: starts with an opener and, joined over up to three lines, ends with a verb and ':'.
// Returns the number of lines it spans (0 when none).
int attribution_at(const std::vector<std::string_view>& lines, std::size_t i) {
  std::string first = lower_ascii(trim(lines[i]));
  if (first.empty()) return 0;
  static constexpr std::string_view kOpeners[] = {"on ", "am ", "le ", "el ", "op ", "il ", "em ", "den ", "dne "};
  static constexpr std::string_view kVerbs[] = {"wrote",     "schrieb", "geschrieben", "a écrit", "écrit",
                                                "escribió",  "escribio", "schreef",    "scritto", "escreveu",
                                                "skrev",     "napisał", "kirjoitti"};
  bool opener = std::any_of(std::begin(kOpeners), std::end(kOpeners),
                            [&](std::string_view o) { return starts_with(first, o); });
  std::string joined;
  for (int n = 0; n < kAttributionLines && i + n < lines.size(); ++n) {
    std::string_view l = trim(lines[i + n]);
    if (l.empty() || is_quoted(l)) break;
    if (!joined.empty()) joined.push_back(' ');
    joined += lower_ascii(l);
    if (joined.size() > 400) break;
    if (!ends_with(joined, ":")) continue;
    bool verb = std::any_of(std::begin(kVerbs), std::end(kVerbs), [&](std::string_view v) { return contains(joined, v); });
    if (!verb) return 0;
    if (opener) return n + 1;
    // No opener ("Anna Meier <a@b> wrote:"): accept when quoted lines follow.
    for (std::size_t j = i + n + 1; j < lines.size(); ++j) {
      if (is_blank(lines[j])) continue;
      return is_quoted(lines[j]) ? n + 1 : 0;
    }
    return 0;
  }
  return 0;
}

// "Sent from my iPhone", "Von meinem iPhone gesendet", "Get Outlook for iOS".
bool is_device_signature(std::string_view line) {
  std::string l = lower_ascii(trim(line));
  if (l.size() > 80) return false;
  return starts_with(l, "sent from my ") || starts_with(l, "sent from mail for windows") ||
         starts_with(l, "get outlook for ") || starts_with(l, "von meinem ") ||
         starts_with(l, "envoyé de mon ") || starts_with(l, "enviado desde mi ") ||
         starts_with(l, "verzonden vanaf mijn ") || starts_with(l, "inviato da ") ||
         starts_with(l, "enviado do meu ") || starts_with(l, "sent from outlook");
}

bool is_rule(std::string_view line) {
  std::string_view t = trim(line);
  return t.size() >= 5 && std::all_of(t.begin(), t.end(), [](char c) { return c == '_' || c == '-' || c == '='; });
}

}  // namespace

std::string extract_reply_text(std::string_view body_text) {
  std::vector<std::string_view> lines = split_lines(body_text);
  std::vector<std::string_view> kept;
  kept.reserve(lines.size());
  bool in_forward = false;    // inside forwarded content: keep everything
  bool in_signature = false;  // after "-- " until a forward marker
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (is_forward_marker(line)) {
      in_forward = true;
      in_signature = false;
      kept.push_back(line);
      continue;
    }
    if (in_forward) {
      kept.push_back(line);
      continue;
    }
    if (in_signature) continue;
    if (is_signature_delimiter(line)) {
      in_signature = true;
      continue;
    }
    if (is_original_message_separator(line)) {
      // An Outlook forward also uses this separator; its header block names a FW: subject.
      std::size_t j = i + 1;
      while (j < lines.size() && is_blank(lines[j])) ++j;
      if (j < lines.size()) {
        HeaderBlock hb = header_block_at(lines, j);
        if (hb.found && hb.forward) {
          in_forward = true;
          kept.push_back(line);
          continue;
        }
      }
      break;
    }
    if (HeaderBlock hb = header_block_at(lines, i); hb.found) {
      if (hb.forward) {
        in_forward = true;
        kept.push_back(line);
        continue;
      }
      break;
    }
    if (int span = attribution_at(lines, i); span > 0) {
      // History follows. Interleaved answers (quoted first, then unquoted lines) are kept.
      std::size_t j = i + static_cast<std::size_t>(span);
      while (j < lines.size() && is_blank(lines[j])) ++j;
      bool interleaved = false;
      if (j < lines.size() && is_quoted(lines[j])) {
        for (std::size_t k = j; k < lines.size(); ++k) {
          if (is_signature_delimiter(lines[k]) || is_original_message_separator(lines[k]) ||
              header_block_at(lines, k).found || attribution_at(lines, k) > 0) {
            break;
          }
          if (!is_blank(lines[k]) && !is_quoted(lines[k]) && !is_device_signature(lines[k])) {
            interleaved = true;
            break;
          }
        }
      }
      if (!interleaved) break;
      i += static_cast<std::size_t>(span) - 1;
      continue;
    }
    if (is_quoted(line)) continue;
    kept.push_back(line);
  }

  // Trailing clutter: blank lines, rules ("____"), device signatures.
  while (!kept.empty() && (is_blank(kept.back()) || is_rule(kept.back()) || is_device_signature(kept.back()))) {
    kept.pop_back();
  }
  std::size_t first = 0;
  while (first < kept.size() && is_blank(kept[first])) ++first;

  std::string out;
  out.reserve(body_text.size() < 4096 ? body_text.size() : 4096);
  bool prev_blank = false;
  for (std::size_t i = first; i < kept.size(); ++i) {
    std::string_view l = kept[i];
    while (!l.empty() && is_space(l.back())) l.remove_suffix(1);
    bool blank = trim(l).empty();
    if (blank && prev_blank) continue;
    if (!out.empty()) out.push_back('\n');
    if (!blank) out.append(l);
    prev_blank = blank;
  }
  return out;
}

}  // namespace casedesk::parsers
