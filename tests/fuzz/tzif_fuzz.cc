// libFuzzer target for the TZif reader (common/time_zone.cc): any bytes are parsed or refused,
// and a parsed zone answers every instant, without a crash or a sanitizer report.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/time_zone.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto zone = sluice::ZoneRules::Parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!zone) return 0;
  for (int64_t t : {INT64_MIN / 4, int64_t{-1}, int64_t{0}, int64_t{1234567890},
                    int64_t{2224713600}, INT64_MAX / 4}) {
    (void)zone->OffsetAt(t);
  }
  return 0;
}
