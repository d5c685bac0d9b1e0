#pragma once
// The new text of a reply: a mail body without its quoted history and signature. Pure; never
// throws except std::bad_alloc.

#include <string>
#include <string_view>

namespace casedesk::parsers {

// From a decoded mail body (UTF-8, as in Message::body_text) keeps what the sender wrote now:
// - `>`-quoted lines are dropped (inline answers between quotes are kept);
// - an attribution line ("On … wrote:", "Am … schrieb …:", "Le … a écrit :", "El … escribió:",
//   "Op … schreef …:", "Il … ha scritto:", "Em … escreveu:", up to three wrapped lines) ends the
//   text when the history after it is quoted or unquoted (HTML-derived) rather than interleaved;
// - Outlook "-----Original Message-----" (and translations) and From:/Sent:/To:/Subject: header
//   blocks (also Von:/Gesendet:/An:/Betreff:, De:/Envoyé :/À :/Objet :, ...) end the text;
// - a signature ("-- " line) is dropped up to the next forwarded-message marker; trailing
//   "Sent from my iPhone"-style lines are dropped;
// - forwarded content ("---------- Forwarded message ---------", "Begin forwarded message:",
//   an Outlook header block whose Subject starts with FW:/Fwd:/WG:/TR:/RV:) is kept: it is new
//   content the sender wants read.
// Line ends become "\n"; runs of blank lines collapse to one; the result is trimmed.
std::string extract_reply_text(std::string_view body_text);

}  // namespace casedesk::parsers
