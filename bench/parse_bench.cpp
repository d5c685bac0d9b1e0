// Parse throughput: casedesk's full parse (MIME + RFC 2047/2231 + charsets + body choice) and code
// extraction, against mimetic's bare MIME parse of the same bytes as the reference, in one run.
//
//   build/bench/parse_bench [MAIL_DIR...]      default: examples/mail and ../shared/mime-corpus
//
// Besides Google Benchmark's table it prints MB/s for each and the ratio full/bare.

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mimetic/mimetic.h>
#include <sstream>
#include <string>
#include <vector>

#include "parsers/codes.hpp"
#include "parsers/message.hpp"

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

template <class F>
double mb_per_s(F&& f) {
  using clock = std::chrono::steady_clock;
  int rounds = 0;
  auto start = clock::now();
  do {
    f();
    ++rounds;
  } while (clock::now() - start < std::chrono::seconds(2));
  double secs = std::chrono::duration<double>(clock::now() - start).count();
  return static_cast<double>(g_bytes) * rounds / secs / 1e6;
}

}  // namespace

BENCHMARK(BM_MimeticBareParse)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CasedeskParse)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CasedeskParseAndExtract)->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
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
  double full = mb_per_s([] {
    for (const auto& m : g_mails) benchmark::DoNotOptimize(casedesk::parsers::parse_message(m).body_text.size());
  });
  double extract = mb_per_s([] {
    for (const auto& m : g_mails) {
      auto msg = casedesk::parsers::parse_message(m);
      benchmark::DoNotOptimize(casedesk::parsers::extract_codes(msg).size());
    }
  });
  std::printf("mimetic bare parse (reference): %8.1f MB/s\n", bare);
  std::printf("casedesk full parse:            %8.1f MB/s  (%.2fx the reference's time)\n", full, bare / full);
  std::printf("casedesk parse + code extract:  %8.1f MB/s  (%.2fx the reference's time)\n", extract, bare / extract);
  return 0;
}
