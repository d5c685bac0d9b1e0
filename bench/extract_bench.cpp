// Code-extraction throughput: extract_code_info over one large text (MB/s).
//
//   build/bench/extract_bench [--benchmark_filter=none]   text: ../shared/cases bodies repeated to
//                                                          ~10 MB, or a synthetic clinical-note text
//
// Besides Google Benchmark's table it prints one summary line with MB/s (process CPU time).

#include <benchmark/benchmark.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "parsers/codes.hpp"
#include "parsers/message.hpp"

namespace {

constexpr std::size_t kTarget = 10u * 1024 * 1024;
std::string g_text;
std::string g_origin;

void build_text() {
  std::string seed;
  const std::filesystem::path dir = std::filesystem::path(CASEDESK_SOURCE_DIR) / ".." / "shared" / "cases";
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) {
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      if (e.path().extension() != ".eml") continue;
      std::ifstream in(e.path(), std::ios::binary);
      std::ostringstream s;
      s << in.rdbuf();
      auto m = casedesk::parsers::parse_message(s.str());
      if (m.subject) seed += *m.subject + "\n";
      seed += m.body_text + "\n";
      for (const auto& a : m.attachments) {
        if (a.text) seed += *a.text + "\n";
      }
    }
    g_origin = "../shared/cases bodies";
  }
  if (seed.empty()) {
    seed =
        "Pt seen for R/O knee OA. Billed 99214-25 and 20610-RT x1, dx M17.11, E11.65, I10.\n"
        "Remit: claim 2024-118842, ZIP 99204, call (509) 555-0143 ext 12. DOS 01/15/2025.\n"
        "CPT   Mod   Units  Dx\n64493  50    1      M47.816\nJ3301        40     M17.11\n\n"
        "Do we need modifier 59 on 97140 with 97110 x 3? MRI L4-L5, vitamin B12, A1c 7.2.\n";
    g_origin = "synthetic clinical notes";
  }
  g_text.reserve(kTarget + seed.size());
  while (g_text.size() < kTarget) g_text += seed;
}

double cpu_seconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

void BM_Extract(benchmark::State& state) {
  std::vector<casedesk::parsers::TextSource> src{{"body", g_text}};
  for (auto _ : state) {
    auto r = casedesk::parsers::extract_code_info(src);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * g_text.size()));
}
BENCHMARK(BM_Extract)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  build_text();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  std::vector<casedesk::parsers::TextSource> src{{"body", g_text}};
  std::size_t codes = 0;
  const int runs = 3;
  double t0 = cpu_seconds();
  for (int i = 0; i < runs; ++i) codes = casedesk::parsers::extract_code_info(src).codes.size();
  double secs = cpu_seconds() - t0;
  double mb = static_cast<double>(g_text.size()) * runs / (1024.0 * 1024.0);
  std::printf("extract_code_info: %.1f MB of %s, %zu distinct codes, %.1f MB/s\n",
              static_cast<double>(g_text.size()) / (1024.0 * 1024.0), g_origin.c_str(), codes,
              secs > 0 ? mb / secs : 0.0);
  benchmark::Shutdown();
  return 0;
}
