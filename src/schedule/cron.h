// Cron expressions and the instants they name in a time zone.
//
// The five fields of Vixie cron (crontab(5)): minute hour day-of-month month day-of-week, each a
// list of `*`, values, ranges and steps (`*/15`, `1-30/5`, `5/10` = `5-59/10`), with month and
// day names (jan..dec, sun..sat, any case) and 0 or 7 for Sunday; and the macros @yearly
// (@annually), @monthly, @weekly, @daily (@midnight) and @hourly. When both day fields are
// restricted (neither starts with `*`), a day matches when EITHER matches, as in Vixie cron.
//
// Time zones and daylight saving (docs/schedules.md, "Daylight saving"), following ISC/Vixie
// cron and cronie, not robfig/cron (Kubernetes CronJob), which skips a job whose wall time
// falls in the spring-forward gap:
//  - A wall time that does not exist (spring forward) fires at the instant the clock jumps
//    (03:00 CEST for a 02:30 job in Europe/Paris), so a daily job still runs that day. For a
//    "wildcard" expression (minute or hour field starting with `*`: hourly and finer) such a
//    wall time is simply not there: the job keeps its cadence in elapsed time.
//  - A wall time that happens twice (fall back) fires once, at its first occurrence; a
//    wildcard expression fires at both, so an hourly job runs every hour of elapsed time.
// All of this is pure: zone offsets come from a TimeZones (env.h: NewSystemTimeZones reads
// tzdata), instants are Unix seconds.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/time_zone.h"

namespace sluice {

// A parsed cron expression: the set of values of each field. A value type.
struct CronExpr {
  std::bitset<60> minutes;
  std::bitset<24> hours;
  std::bitset<32> days;      // 1..31
  std::bitset<13> months;    // 1..12
  std::bitset<7> weekdays;   // 0 = Sunday
  bool dom_star = false;     // the day-of-month field starts with `*`
  bool dow_star = false;     // the day-of-week field starts with `*`
  bool wildcard = false;     // the minute or the hour field starts with `*` (see above)
  std::string text;          // as written

  // Whether the civil date matches both day fields (or either: the Vixie rule).
  bool MatchesDay(unsigned month, unsigned day, int weekday) const;
};

// Parses `text`. On failure the error's message starts with "column N: " (1-based, in `text`)
// and names the field and the text that is wrong, e.g. `column 4: hour field: "25" is out of
// range 0-23`; an expression whose day fields name no date that exists (`0 0 30 2 *`) fails.
Result<CronExpr> ParseCron(std::string_view text);

// A cron expression read in a named time zone: the instants it fires at. Holds `zones`, which
// must outlive it. Immutable; thread-compatible (TimeZones implementations cache lazily).
class CronSchedule {
 public:
  // `zone` "" (read as "UTC") or "UTC" needs no tz database; any other name must be known to
  // `zones`. On failure returns kInvalidInput naming the zone.
  static Result<CronSchedule> Make(CronExpr expr, std::string zone, const TimeZones* zones);

  // The first fire time strictly after `after` (Unix seconds); nullopt when there is none in
  // the next nine years (never for an expression ParseCron accepted).
  std::optional<int64_t> Next(int64_t after) const;
  // The last fire time strictly before `before`; nullopt as for Next.
  std::optional<int64_t> Prev(int64_t before) const;
  // Seconds east of UTC in the schedule's zone at `t`.
  int OffsetAt(int64_t t) const;

  const CronExpr& expr() const { return expr_; }
  const std::string& zone() const { return zone_; }

 private:
  CronSchedule(CronExpr expr, std::string zone, const TimeZones* zones)
      : expr_(std::move(expr)), zone_(std::move(zone)), zones_(zones) {}
  // The instants of local day `day` (days since 1970-01-01 in wall time) that fire, when its
  // date matches: the first one after `after` (forward) or the last before it (backward).
  std::optional<int64_t> OnDay(int64_t day, int64_t bound, bool forward) const;

  CronExpr expr_;
  std::string zone_;  // "UTC" needs no tz database
  const TimeZones* zones_;
};

// RFC 3339 with the offset at `t` in the schedule's zone: "2026-03-29T03:00:00+02:00".
std::string FormatLocal(int64_t t, int offset_seconds);
// Parses an instant for the command line: RFC 3339 with Z or an offset, or a wall time
// ("2026-03-29T02:30", "2026-03-29 02:30") or a date (midnight) read in `sched`'s zone.
// On failure says what forms are accepted.
Result<int64_t> ParseInstant(std::string_view text, const CronSchedule& sched);

}  // namespace sluice
