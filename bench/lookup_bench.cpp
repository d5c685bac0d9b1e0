// Latency of code-set lookups with every code set loaded: CodeSetStore::find, children, add_on and
// suggest, one call at a time on one connection (as the intake and `parse` use them). Prints p50,
// p95 and max per operation in microseconds.
//
//   lookup_bench [CODES_DB] [--rounds N]
//
// CODES_DB (or $CASEDESK_CODES_DB) is a database made by `casedesk codes import --db CODES_DB
// <code-set folder>`. Without one the bench says so and exits 0 (skipped). Suggest narratives are
// the subjects and new text of the mails in $CASEDESK_SHARED/cases (default /work/shared) when
// present, else a few built-in ones.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "parsers/code_validation.hpp"
#include "parsers/message.hpp"
#include "queue/code_set_store.hpp"

namespace {

namespace fs = std::filesystem;
using casedesk::parsers::CodeSystem;
using Clock = std::chrono::steady_clock;

struct Stats {
  std::string name;
  std::vector<double> us;  // one entry per call
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

template <class F>
void time_calls(Stats& s, std::size_t n, F&& call) {
  for (std::size_t i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    call(i);
    s.us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
}

void print(const Stats& s) {
  double sum = 0;
  for (double x : s.us) sum += x;
  std::printf("%-28s %7zu calls  p50 %9.1f us  p95 %9.1f us  max %9.1f us  mean %9.1f us\n", s.name.c_str(),
              s.us.size(), percentile(s.us, 0.50), percentile(s.us, 0.95), percentile(s.us, 1.0),
              s.us.empty() ? 0.0 : sum / static_cast<double>(s.us.size()));
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream b;
  b << in.rdbuf();
  return b.str();
}

std::vector<std::string> narratives() {
  std::vector<std::string> out;
  const char* env = std::getenv("CASEDESK_SHARED");
  const fs::path cases = fs::path(env && *env ? env : "/work/shared") / "cases";
  std::error_code ec;
  if (fs::is_directory(cases, ec)) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(cases, ec))
      if (e.path().extension() == ".eml") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files)
      out.push_back(casedesk::parsers::suggestion_narrative(casedesk::parsers::parse_message(slurp(f))));
  }
  if (out.empty()) {
    std::printf("suggest narratives: built-in (no case corpus at %s)\n", cases.c_str());
    out = {
        "RFA question\nBilateral lumbar facet radiofrequency ablation for chronic low back pain, spondylosis.",
        "Knee injection\nEstablished patient, right knee osteoarthritis, new left hip pain worked up the same day.",
        "CPAP month 4\nObstructive sleep apnea, compliance download attached; supplies and KX modifier.",
        "Wound care\nType 2 diabetic with a chronic ulcer of the right heel, limited to breakdown of skin.",
        "Thanks!\nSee the attached EOB, the payer denied it again.",
    };
  } else {
    std::printf("suggest narratives: %zu mails of %s\n", out.size(), cases.c_str());
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string db;
  int rounds = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) {
      rounds = std::max(1, std::atoi(argv[++i]));
    } else if (a == "-h" || a == "--help") {
      std::printf("usage: lookup_bench [CODES_DB] [--rounds N]   (or CASEDESK_CODES_DB=CODES_DB)\n");
      return 0;
    } else {
      db = a;
    }
  }
  if (db.empty())
    if (const char* env = std::getenv("CASEDESK_CODES_DB")) db = env;
  std::error_code ec;
  if (db.empty() || !fs::exists(db, ec)) {
    std::printf("lookup_bench: skipped: no code-set database%s%s. Make one with\n"
                "  casedesk codes import --db /tmp/codes.db <code-set folder>\n"
                "and pass it as the first argument or in CASEDESK_CODES_DB.\n",
                db.empty() ? "" : " at ", db.c_str());
    return 0;
  }
  casedesk::queue::CodeSetStore store(casedesk::queue::CodeSetStoreOptions{db, std::chrono::milliseconds(5000), true});
  for (auto s : {CodeSystem::icd10cm, CodeSystem::icd10pcs, CodeSystem::hcpcs})
    if (!store.has(s)) {
      std::printf("lookup_bench: skipped: %s has no %s set (import every code set first)\n", db.c_str(),
                  std::string(casedesk::parsers::to_string(s)).c_str());
      return 0;
    }
  if (!store.has_add_on_edits()) std::printf("note: no NCCI add-on edits loaded: add_on answers nothing\n");

  // Codes to look up: every code of each set (through children of each first character), sampled.
  std::mt19937 rng(20261126);
  std::vector<std::pair<CodeSystem, std::string>> codes;
  const auto t_list = Clock::now();
  std::size_t total = 0;
  for (auto s : {CodeSystem::icd10cm, CodeSystem::icd10pcs, CodeSystem::hcpcs}) {
    std::vector<std::string> all;
    for (char c : std::string("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
      for (const auto& info : store.children(s, std::string(1, c))) all.push_back(info.code);
    total += all.size();
    std::shuffle(all.begin(), all.end(), rng);
    all.resize(std::min<std::size_t>(all.size(), 2000));
    for (auto& c : all) codes.emplace_back(s, std::move(c));
  }
  std::printf("database: %s (%zu ICD-10-CM + ICD-10-PCS + HCPCS codes listed in %.2f s)\n", db.c_str(), total,
              std::chrono::duration<double>(Clock::now() - t_list).count());
  std::shuffle(codes.begin(), codes.end(), rng);
  const std::vector<std::pair<CodeSystem, std::string>> misses = {
      {CodeSystem::icd10cm, "M54.9X"}, {CodeSystem::icd10cm, "Z99.999"}, {CodeSystem::hcpcs, "J9999"},
      {CodeSystem::icd10pcs, "0ZZZZZZ"}, {CodeSystem::icd10cm, "U99.9"}};
  const std::vector<std::pair<CodeSystem, std::string>> prefixes = {
      {CodeSystem::icd10cm, "M54"}, {CodeSystem::icd10cm, "S72.0"}, {CodeSystem::icd10cm, "E11"},
      {CodeSystem::icd10cm, "T81.4"}, {CodeSystem::icd10cm, "Z79"}, {CodeSystem::icd10pcs, "0SR"},
      {CodeSystem::hcpcs, "J33"}, {CodeSystem::icd10cm, "M54.5"}};
  const std::vector<std::string> add_ons = {"64636", "64634", "64480", "64484", "99292", "22614", "63048",
                                            "17003", "99417", "G2211", "69990", "77001", "99213", "64635",
                                            "20610", "J3301", "11045", "99153"};
  const auto texts = narratives();

  Stats find_hit{"find (hit)", {}}, find_miss{"find (miss)", {}}, kids{"children", {}}, aoc{"add_on", {}},
      sug{"suggest (ICD-10-CM, top 5)", {}}, sug_h{"suggest (HCPCS, top 5)", {}};
  std::size_t sink = 0;
  for (int r = 0; r <= rounds; ++r) {
    const bool warmup = r == 0;  // the first round fills the page cache and is not counted
    Stats scratch;
    auto& fh = warmup ? scratch : find_hit;
    auto& fm = warmup ? scratch : find_miss;
    auto& ch = warmup ? scratch : kids;
    auto& ao = warmup ? scratch : aoc;
    auto& sg = warmup ? scratch : sug;
    auto& sh = warmup ? scratch : sug_h;
    time_calls(fh, codes.size(), [&](std::size_t i) { sink += store.find(codes[i].first, codes[i].second).has_value(); });
    time_calls(fm, 200, [&](std::size_t i) {
      const auto& m = misses[i % misses.size()];
      sink += store.find(m.first, m.second).has_value();
    });
    time_calls(ch, 200, [&](std::size_t i) {
      const auto& p = prefixes[i % prefixes.size()];
      sink += store.children(p.first, p.second).size();
    });
    time_calls(ao, 500, [&](std::size_t i) { sink += store.add_on(add_ons[i % add_ons.size()]).has_value(); });
    time_calls(sg, texts.size(), [&](std::size_t i) { sink += store.suggest(CodeSystem::icd10cm, texts[i], 5).size(); });
    time_calls(sh, texts.size(), [&](std::size_t i) { sink += store.suggest(CodeSystem::hcpcs, texts[i], 5).size(); });
  }
  std::printf("rounds: %d (after one warm-up round)\n", rounds);
  for (const auto* s : {&find_hit, &find_miss, &kids, &aoc, &sug, &sug_h}) print(*s);
  return sink == 0 ? 1 : 0;
}
