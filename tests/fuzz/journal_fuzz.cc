// libFuzzer target for the run journal's decoder (store/journal.cc): any bytes decode to whole
// records or stop, without a crash or a sanitizer report; what decodes encodes back to exactly
// the bytes it came from (so a record is never half-read as something else).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "store/journal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  int64_t end = 0;
  auto records = sluice::DecodeJournal(bytes, 0, "run", &end);
  if (end < 0 || static_cast<size_t>(end) > size) std::abort();
  std::string again;
  for (const auto& r : records) again += sluice::EncodeJournalRecord(r.events);
  if (again != bytes.substr(0, static_cast<size_t>(end))) std::abort();
  return 0;
}
