// Named time zones for expressions (`ts.getHours('Europe/Paris')`): an interface the expression
// module asks, and the rules of one zone read from a TZif file (RFC 8536), the format of the
// system's tz database. Reading the files is the Env's job (env.h: NewSystemTimeZones), so the
// expression module stays free of I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace sluice {

class TimeZones {
 public:
  virtual ~TimeZones() = default;
  // Seconds east of UTC in zone `name` at `unix_seconds`; nullopt when there is no such zone.
  virtual std::optional<int> OffsetAt(std::string_view name, int64_t unix_seconds) const = 0;
};

// One zone's rules: its transitions, then a POSIX TZ rule (the TZif footer) for later times.
class ZoneRules {
 public:
  // Parses a TZif file (version 1, 2, 3 or 4). Errors say what is malformed.
  static Result<ZoneRules> Parse(std::string_view bytes);
  int OffsetAt(int64_t unix_seconds) const;

 private:
  struct Posix {  // "CST6CDT,M3.2.0,M11.1.0"
    int std_offset = 0, dst_offset = 0;  // seconds east of UTC
    bool has_dst = false;
    struct Rule {
      int month = 0, week = 0, weekday = 0;  // Mm.w.d
      int seconds = 7200;                    // local time of day of the change
    } start, end;
  };
  static std::optional<Posix> ParsePosix(std::string_view s);
  static int PosixOffset(const Posix& p, int64_t unix_seconds);

  std::vector<int64_t> times_;   // transitions, ascending
  std::vector<uint8_t> types_;   // the type in force from each transition
  std::vector<int32_t> offsets_; // per type, seconds east of UTC
  int first_offset_ = 0;         // before the first transition
  std::optional<Posix> footer_;
};

}  // namespace sluice
