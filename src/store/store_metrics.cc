// The ready -> start histogram in the store (ready_to_start.h): one row per bucket, added to by
// the engines and the servers that share the store, read by /metrics.
#include "store/store_impl.h"

namespace sluice {

Status Store::Impl::AddReadyToStart(const ReadyToStartHistogram& h) {
  for (size_t b = 0; b < h.samples.size(); ++b) {
    if (h.samples[b] == 0) continue;
    SLUICE_TRY_STATUS(Run("INSERT INTO ready_to_start(bucket,samples,sum_us) VALUES(?,?,?) "
                          "ON CONFLICT(bucket) DO UPDATE SET samples=ready_to_start.samples+"
                          "excluded.samples, sum_us=ready_to_start.sum_us+excluded.sum_us",
                          static_cast<int64_t>(b), h.samples[b], h.sum_us[b]));
  }
  return {};
}

void Store::ObserveReadyToStart(int64_t latency_us) { impl_->ready_to_start.Add(latency_us); }

Status Store::AddReadyToStart(const ReadyToStartHistogram& h) {
  if (h.empty()) return {};
  return impl_->InTransaction([&]() -> Status { return impl_->AddReadyToStart(h); });
}

Result<ReadyToStartHistogram> Store::ReadyToStart() {
  struct Bucket {
    int64_t bucket, samples, sum_us;
  };
  SLUICE_TRY(rows, impl_->Rows<Bucket>("SELECT bucket,samples,sum_us FROM ready_to_start",
                                       [](SqlStmt* st) {
                                         return Bucket{Int(st, 0), Int(st, 1), Int(st, 2)};
                                       }));
  ReadyToStartHistogram h;
  for (const Bucket& b : *rows) {
    if (b.bucket < 0 || b.bucket >= static_cast<int64_t>(h.samples.size())) continue;
    h.samples[b.bucket] = b.samples;
    h.sum_us[b.bucket] = b.sum_us;
  }
  return h;
}

}  // namespace sluice
