// Parse throughput: casedesk's full parse (MIME + RFC 2047/2231 + charsets + body choice) and code
// extraction, against mimetic's bare MIME parse of the same bytes as the reference, in one run.
//
//   build/bench/parse_bench [MAIL_DIR...]      default: examples/mail and ../shared/mime-corpus
//
// Besides Google Benchmark's table it prints MB/s for each and the ratio full/bare.
//
// With GMime 3 (libgmime-3.0-dev, found by pkg-config; CASEDESK_HAVE_GMIME) the same run also
// times GMime's parse + decode of every part, like with like: the message is parsed, the top-level
// From/To/Subject/Date are read, every part is visited (message/rfc822 parts descended into), each
// leaf's content is transfer-decoded into memory and text/* parts are charset-converted to UTF-8.
// It prints messages/s and MB/s for both and the throughput ratio casedesk/GMime (>= 1.0: casedesk
// is at least as fast).

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mimetic/mimetic.h>
#include <sstream>
#include <string>
#include <vector>

#include "parsers/codes.hpp"
#include "parsers/message.hpp"

#ifdef CASEDESK_HAVE_GMIME
#include <gmime/gmime.h>
#endif

namespace {

std::vector<std::string> g_mails;
std::size_t g_bytes = 0;

void load(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".eml") continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    g_mails.push_back(s.str());
    g_bytes += g_mails.back().size();
  }
}

#ifdef CASEDESK_HAVE_GMIME
std::size_t gmime_decode_leaf(GMimePart* part) {
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  if (!content) return 0;
  GMimeStream* mem = g_mime_stream_mem_new();
  GMimeStream* out = mem;
  GMimeStream* filtered = nullptr;
  GMimeContentType* ct = g_mime_object_get_content_type(GMIME_OBJECT(part));
  if (ct && g_mime_content_type_is_type(ct, "text", "*")) {
    const char* charset = g_mime_content_type_get_parameter(ct, "charset");
    if (GMimeFilter* f = g_mime_filter_charset_new(charset ? charset : "us-ascii", "UTF-8")) {
      filtered = g_mime_stream_filter_new(mem);
      g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered), f);
      g_object_unref(f);
      out = filtered;
    }
  }
  g_mime_data_wrapper_write_to_stream(content, out);  // decodes the transfer encoding
  g_mime_stream_flush(out);
  std::size_t n = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem))->len;
  if (const char* fn = g_mime_part_get_filename(part)) n += std::strlen(fn);  // RFC 2231/2047
  if (filtered) g_object_unref(filtered);
  g_object_unref(mem);
  return n;
}

std::size_t gmime_decode_object(GMimeObject* obj, int depth) {
  if (!obj || depth > 64) return 0;
  if (GMIME_IS_MULTIPART(obj)) {
    GMimeMultipart* mp = GMIME_MULTIPART(obj);
    std::size_t n = 0;
    for (int i = 0, count = g_mime_multipart_get_count(mp); i < count; ++i) {
      n += gmime_decode_object(g_mime_multipart_get_part(mp, i), depth + 1);
    }
    return n;
  }
  if (GMIME_IS_MESSAGE_PART(obj)) {
    GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
    return inner ? gmime_decode_object(g_mime_message_get_mime_part(inner), depth + 1) : 0;
  }
  if (GMIME_IS_PART(obj)) return gmime_decode_leaf(GMIME_PART(obj));
  return 0;
}

// GMime parse + decode of every part; returns a checksum-like byte count.
std::size_t gmime_parse_decode(const std::string& m) {
  GMimeStream* in = g_mime_stream_mem_new_with_buffer(m.data(), m.size());
  GMimeParser* parser = g_mime_parser_new_with_stream(in);
  GMimeMessage* msg = g_mime_parser_construct_message(parser, nullptr);
  std::size_t n = 0;
  if (msg) {
    if (const char* subject = g_mime_message_get_subject(msg)) n += std::strlen(subject);  // RFC 2047
    n += static_cast<std::size_t>(internet_address_list_length(g_mime_message_get_from(msg)));
    n += static_cast<std::size_t>(internet_address_list_length(g_mime_message_get_to(msg)));
    if (g_mime_message_get_date(msg)) ++n;
    n += gmime_decode_object(g_mime_message_get_mime_part(msg), 0);
    g_object_unref(msg);
  }
  g_object_unref(parser);
  g_object_unref(in);
  return n;
}

void BM_GMimeParseDecode(benchmark::State& state) {
  for (auto _ : state) {
    for (const auto& m : g_mails) benchmark::DoNotOptimize(gmime_parse_decode(m));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * g_bytes));
}
#endif

void BM_MimeticBareParse(benchmark::State& state) {
  for (auto _ : state) {
    for (const auto& m : g_mails) {
      try {
        mimetic::MimeEntity e(m.begin(), m.end());
        benchmark::DoNotOptimize(e.body().parts().size());
      } catch (...) {
      }
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * g_bytes));
}

void BM_CasedeskParse(benchmark::State& state) {
  for (auto _ : state) {
    for (const auto& m : g_mails) benchmark::DoNotOptimize(casedesk::parsers::parse_message(m).body_text.size());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * g_bytes));
}

void BM_CasedeskParseAndExtract(benchmark::State& state) {
  for (auto _ : state) {
    for (const auto& m : g_mails) {
      auto msg = casedesk::parsers::parse_message(m);
      benchmark::DoNotOptimize(casedesk::parsers::extract_codes(msg).size());
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * g_bytes));
}

double g_msgs_per_s = 0;  // set by the last mb_per_s() call

// Process CPU time, not wall time: the bench often shares its cores (CI, other builds).
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

template <class F>
double mb_per_s(F&& f) {
  int rounds = 0;
  double start = cpu_seconds();
  do {
    f();
    ++rounds;
  } while (cpu_seconds() - start < 2.0);
  double secs = cpu_seconds() - start;
  g_msgs_per_s = static_cast<double>(g_mails.size()) * rounds / secs;
  return static_cast<double>(g_bytes) * rounds / secs / 1e6;
}

}  // namespace

BENCHMARK(BM_MimeticBareParse)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CasedeskParse)->Unit(benchmark::kMillisecond);
#ifdef CASEDESK_HAVE_GMIME
BENCHMARK(BM_GMimeParseDecode)->Unit(benchmark::kMillisecond);
#endif
BENCHMARK(BM_CasedeskParseAndExtract)->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
#ifdef CASEDESK_HAVE_GMIME
  g_mime_init();
#endif
  std::filesystem::path src = CASEDESK_SOURCE_DIR;
  if (argc > 1) {
    for (int i = 1; i < argc; ++i) load(argv[i]);
  } else {
    load(src / "examples" / "mail");
    load(src / ".." / "shared" / "mime-corpus");
  }
  if (g_mails.empty()) {
    std::fprintf(stderr, "no .eml files found\n");
    return 1;
  }
  std::printf("inputs: %zu messages, %.2f MB\n", g_mails.size(), g_bytes / 1e6);
  benchmark::RunSpecifiedBenchmarks();
  double bare = mb_per_s([] {
    for (const auto& m : g_mails) {
      try {
        mimetic::MimeEntity e(m.begin(), m.end());
        benchmark::DoNotOptimize(e.body().parts().size());
      } catch (...) {
      }
    }
  });
  double bare_msgs = g_msgs_per_s;
  double full = mb_per_s([] {
    for (const auto& m : g_mails) benchmark::DoNotOptimize(casedesk::parsers::parse_message(m).body_text.size());
  });
  double full_msgs = g_msgs_per_s;
  double extract = mb_per_s([] {
    for (const auto& m : g_mails) {
      auto msg = casedesk::parsers::parse_message(m);
      benchmark::DoNotOptimize(casedesk::parsers::extract_codes(msg).size());
    }
  });
  double extract_msgs = g_msgs_per_s;
  std::printf("mimetic bare parse (reference): %8.1f MB/s %9.0f msg/s\n", bare, bare_msgs);
  std::printf("casedesk full parse:            %8.1f MB/s %9.0f msg/s  (%.2fx the reference's time)\n", full,
              full_msgs, bare / full);
  std::printf("casedesk parse + code extract:  %8.1f MB/s %9.0f msg/s  (%.2fx the reference's time)\n", extract,
              extract_msgs, bare / extract);
#ifdef CASEDESK_HAVE_GMIME
  double gmime = mb_per_s([] {
    for (const auto& m : g_mails) benchmark::DoNotOptimize(gmime_parse_decode(m));
  });
  double gmime_msgs = g_msgs_per_s;
  std::printf("GMime %u.%u.%u parse + decode all parts: %8.1f MB/s %9.0f msg/s\n", gmime_major_version,
              gmime_minor_version, gmime_micro_version, gmime, gmime_msgs);
  std::printf("ratio casedesk/GMime (throughput, >= 1.0 = casedesk at least as fast):\n");
  std::printf("  casedesk parse + decode:   %.2fx\n", full / gmime);
  std::printf("  casedesk parse + extract:  %.2fx\n", extract / gmime);
#else
  std::printf("GMime comparison: not built (gmime-3.0 not found by pkg-config; apt-get install libgmime-3.0-dev)\n");
#endif
  return 0;
}
