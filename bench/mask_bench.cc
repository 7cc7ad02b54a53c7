// Google Benchmark: masking secret values in a task's log, as the process launcher does for an
// attempt with secrets (MaskStream fed 64 KiB reads), on a 100 MB log that holds the values now
// and then. Run: build/sluice_mask_bench (figures in RESULTS.md, "Masking secrets in logs").
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "common/masker.h"

namespace sluice {
namespace {

// ~100 MB of log lines (training progress), one in 1,000 holding a secret value.
const std::string& Log() {
  static const std::string log = [] {
    std::string s;
    s.reserve(100 << 20);
    for (int i = 0; s.size() < (100u << 20); ++i) {
      s += "epoch 3 step " + std::to_string(i) + " loss 0.0312 lr 0.001 tokens/s 51234";
      if (i % 1000 == 0) s += " auth=ghp_R4nd0mT0k3nV4lu3xyz";
      s += '\n';
    }
    return s;
  }();
  return log;
}

const std::vector<std::string> kValues = {"ghp_R4nd0mT0k3nV4lu3xyz", "db-p4ssw0rd-2026",
                                          "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\n-----END KEY-----"};

void BM_MaskStream100MB(benchmark::State& state) {
  const std::string& log = Log();
  auto masker = std::make_shared<const Masker>(kValues);
  const size_t chunk = 64 << 10;
  std::string out;
  out.reserve(chunk + 64);
  for (auto _ : state) {
    MaskStream stream(masker);
    size_t written = 0;
    for (size_t i = 0; i < log.size(); i += chunk) {
      out.clear();
      stream.Feed(std::string_view(log).substr(i, chunk), &out);
      written += out.size();
    }
    out.clear();
    stream.Finish(&out);
    benchmark::DoNotOptimize(written += out.size());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(log.size()));
}
BENCHMARK(BM_MaskStream100MB)->Unit(benchmark::kMillisecond);

// The same log and one value only (the usual case: one token per task).
void BM_MaskOneValue100MB(benchmark::State& state) {
  const std::string& log = Log();
  Masker masker({kValues[0]});
  for (auto _ : state) benchmark::DoNotOptimize(masker.Mask(log));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(log.size()));
}
BENCHMARK(BM_MaskOneValue100MB)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace sluice

BENCHMARK_MAIN();
