#pragma once
// The large mail of the memory and case-view benches: a realistic multipart/mixed message of about
// `target` bytes (a text/plain body with billing codes, an HTML alternative, a text/csv attachment
// and five base64 PDF/image attachments of random bytes, equal in size). Deterministic (seed 42).

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>

namespace casedesk::bench {

// Appends `bytes` random bytes, base64-encoded in 76-column CRLF lines, without temporaries.
inline void append_base64(std::string& out, std::size_t bytes, std::mt19937& rng) {
  static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::size_t col = 0;
  for (std::size_t i = 0; i < bytes; i += 3) {
    std::uint32_t v = rng() & 0xFFFFFF;
    out.push_back(abc[(v >> 18) & 63]);
    out.push_back(abc[(v >> 12) & 63]);
    out.push_back(abc[(v >> 6) & 63]);
    out.push_back(abc[v & 63]);
    if ((col += 4) == 76) {
      out += "\r\n";
      col = 0;
    }
  }
  out += "\r\n";
}

inline std::string make_message(std::size_t target) {
  std::mt19937 rng(42);
  std::string m;
  m.reserve(target + target / 50 + 65536);
  m += "From: \"Dr. Ana Ruiz\" <ana.ruiz@clinic.example>\r\n"
       "To: Coding Desk <desk@casedesk.example>\r\n"
       "Subject: =?UTF-8?Q?Op_note_+_imaging_for_review_=E2=80=93_64635?=\r\n"
       "Date: Thu, 26 Nov 2026 09:15:00 -0500\r\n"
       "Message-ID: <big-25mb@clinic.example>\r\n"
       "MIME-Version: 1.0\r\n"
       "Content-Type: multipart/mixed; boundary=\"outer-XYZ\"\r\n\r\n"
       "--outer-XYZ\r\n"
       "Content-Type: multipart/alternative; boundary=\"alt-XYZ\"\r\n\r\n"
       "--alt-XYZ\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n";
  for (int i = 0; i < 400; ++i) {
    m += "Line " + std::to_string(i) +
         ": patient seen for lumbar pain, M54.50; procedure 64635-RT x2 and 99214-25 billed, see attac=\r\nhed notes =E2=80=94 thanks.\r\n";
  }
  m += "\r\n--alt-XYZ\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>";
  for (int i = 0; i < 400; ++i) m += "<p>Line " + std::to_string(i) + ": codes <b>64635</b>, M54.50 &amp; J1885</p>\r\n";
  m += "</body></html>\r\n--alt-XYZ--\r\n";
  m += "--outer-XYZ\r\nContent-Type: text/csv; charset=windows-1252; name=\"claims.csv\"\r\n"
       "Content-Disposition: attachment; filename=\"claims.csv\"\r\n\r\n";
  for (int i = 0; i < 20000; ++i) m += "2026-11-" + std::to_string(1 + i % 28) + ",64635,RT,1,\xE9t\xE9\r\n";
  // Base64 attachments fill the rest: 3 "PDFs" and 2 "images" of equal size.
  const char* kinds[][2] = {{"application/pdf", "op-note.pdf"},  {"application/pdf", "mri-report.pdf"},
                            {"image/jpeg", "scan-1.jpg"},          {"image/jpeg", "scan-2.jpg"},
                            {"application/pdf", "referral.pdf"}};
  std::size_t left = target > m.size() + 5000 ? target - m.size() - 5000 : 0;
  std::size_t each = left / 5 * 3 / 4 * 76 / 78;  // decoded bytes per attachment
  for (const auto& k : kinds) {
    m += std::string("--outer-XYZ\r\nContent-Type: ") + k[0] + "; name=\"" + k[1] +
         "\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"" + k[1] + "\"\r\n\r\n";
    append_base64(m, each, rng);
  }
  m += "--outer-XYZ--\r\n";
  return m;
}

}  // namespace casedesk::bench
