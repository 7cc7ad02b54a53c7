// The histogram of the latency from ready to start (issue 13, "Observability"), which `sluice
// server` serves on /metrics as sluice_task_ready_to_start_seconds.
//
// Design. The samples come from processes other than the server's: each run's engine is a
// process of its own (`sluice run`, or one the server spawned), and only it knows when a local
// attempt became ready and when it started. So the histogram lives in the store's
// ready_to_start table, one row per bucket (not cumulative) with its samples' sum, and every
// writer adds to it inside a transaction it commits anyway: an engine with its next publish of
// events (Store::ObserveReadyToStart), the server when it grants a lease (a worker's attempt
// starts when a worker takes it; ready is the engine's, carried in work.ready_us). A crash loses
// at most the samples of the engine's last unpublished batch, as a metric may.
// Rejected: counting in the server's memory (it never sees local attempts, and a restart would
// reset what another server shares); a sample per row (a table that grows with every attempt).
#pragma once

#include <array>
#include <cstdint>

namespace sluice {

struct ReadyToStartHistogram {
  // The buckets' upper bounds (inclusive, as Prometheus' `le`): 1 ms to 10 s.
  static constexpr std::array<int64_t, 13> kBoundsUs = {
      1'000,   2'500,   5'000,     10'000,    25'000,    50'000,    100'000,
      250'000, 500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000};
  static constexpr size_t kBuckets = kBoundsUs.size() + 1;  // the last: above 10 s

  std::array<int64_t, kBuckets> samples{};  // per bucket, not cumulative
  std::array<int64_t, kBuckets> sum_us{};   // the samples' sum, per bucket

  // Adds one sample (a negative one, from clocks apart, counts as 0).
  void Add(int64_t latency_us) {
    if (latency_us < 0) latency_us = 0;
    size_t b = 0;
    while (b < kBoundsUs.size() && latency_us > kBoundsUs[b]) ++b;
    ++samples[b];
    sum_us[b] += latency_us;
  }
  bool empty() const {
    for (int64_t n : samples) {
      if (n) return false;
    }
    return true;
  }
};

}  // namespace sluice
