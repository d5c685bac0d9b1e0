// Peak memory of one parse of a large message: generates a realistic ~25 MB mail in memory
// (multipart/mixed: a text/plain body with billing codes, an HTML alternative, a text/csv
// attachment and base64 PDF/image attachments of random bytes), runs parse_message +
// extract_codes on it once, and prints peak RSS (getrusage ru_maxrss) against the message size.
//
//   build/bench/rss_bench [MB]      default 25
//
// "baseline" is the peak before parsing (process + the message itself held in memory); the
// parse's own cost is peak - baseline. The issue asks for memory bounded by a small multiple of
// the message size.

#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "parsers/codes.hpp"
#include "parsers/message.hpp"
#include "big_mail.hpp"

namespace {

double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

}  // namespace

int main(int argc, char** argv) {
  double mb = argc > 1 ? std::atof(argv[1]) : 25.0;
  double start = peak_rss_mb();
  std::string msg = casedesk::bench::make_message(static_cast<std::size_t>(mb * 1024 * 1024));
  double size_mb = static_cast<double>(msg.size()) / (1024.0 * 1024.0);
  double baseline = peak_rss_mb();
  casedesk::parsers::Message m = casedesk::parsers::parse_message(msg);
  auto codes = casedesk::parsers::extract_codes(m);
  double peak = peak_rss_mb();
  std::printf("message:              %8.1f MiB (%zu attachments, %zu codes, body %zu bytes)\n", size_mb,
              m.attachments.size(), codes.size(), m.body_text.size());
  std::printf("peak RSS at start:    %8.1f MiB\n", start);
  std::printf("baseline (msg held):  %8.1f MiB\n", baseline);
  std::printf("peak RSS after parse: %8.1f MiB  = %.2fx the message size\n", peak, peak / size_mb);
  std::printf("parse's own peak:     %8.1f MiB  = %.2fx the message size (peak - baseline)\n", peak - baseline,
              (peak - baseline) / size_mb);
  return 0;
}
