// When a schedule starts runs: the policy of a `kind: Schedule` document and the pure decision
// `sluice server` asks on every tick and at every end of a run it started (docs/schedules.md).
//
// The decision is a function of the schedule, its state and `now`, with no clock and no store:
// the server keeps the state (the watermark and the active runs) and acts on the answer; tests
// drive it with a fake clock. Fire times come from a CronSchedule (cron.h).
//
// The model. Every fire time up to the watermark has been handled (started, skipped or missed);
// the fires after it and at or before `now` are due. They are handled oldest first, each by
// the first rule that takes it:
//  1. suspend: nothing is handled; the due fires wait for `resume` (then rules 2-4 apply).
//  2. startingDeadline: a fire more than the deadline late is missed.
//  3. catchUp: `none` keeps only the newest fire, and only when it is less than a minute late
//     (a loop that woke late); `last` keeps the newest; `all` keeps the newest `cap`. The rest
//     are skipped.
//  4. concurrency: Allow starts what maxActiveRuns leaves room for; Forbid starts one when no
//     run is active and skips the fire when one is (under catchUp all, the fires wait their
//     turn instead); Replace cancels the active runs and starts the newest fire, skipping older
//     ones. A fire that neither starts nor is skipped waits, with the watermark before it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/value.h"
#include "schedule/cron.h"

namespace sluice {

enum class ConcurrencyPolicy { kAllow, kForbid, kReplace };
enum class CatchUp { kNone, kLast, kAll };

// The settings of a schedule besides its cron expression and zone. Defaults as documented.
struct SchedulePolicy {
  ConcurrencyPolicy concurrency = ConcurrencyPolicy::kAllow;
  int64_t starting_deadline_us = 0;  // 0: no deadline
  CatchUp catch_up = CatchUp::kLast;
  int catch_up_cap = 10;             // catchUp all: at most this many due fires start
  bool suspend = false;
  int max_active_runs = 16;          // >= 1; Airflow's default max_active_runs
};

// What a scheduled run sees as schedule.time, schedule.intervalStart and schedule.intervalEnd:
// its fire time and its data interval, from the fire before it to its own (microseconds).
struct ScheduleTimes {
  int64_t time_us = 0;
  int64_t interval_start_us = 0;
  int64_t interval_end_us = 0;
  bool operator==(const ScheduleTimes&) const = default;
};

// What placeholders read as `schedule`: {time, intervalStart, intervalEnd} as timestamps, or
// as nulls when `t` is null (a run that no schedule started).
Value ScheduleValue(const ScheduleTimes* t);
// Whether `field` is one of schedule.time, schedule.intervalStart, schedule.intervalEnd.
bool IsScheduleField(std::string_view field);

// A run the schedule started that has not ended.
struct ActiveRun {
  std::string run_id;
  int64_t time_us = 0;  // its schedule.time
};

// What the server stores for a schedule between decisions.
struct ScheduleState {
  int64_t watermark_us = 0;  // fires at or before it are handled; at first, when it was applied
  std::vector<ActiveRun> active;
};

enum class SkipReason {
  kMissedDeadline,  // more than startingDeadline late
  kCatchUp,         // older than what catchUp keeps
  kForbid,          // a run was active under Forbid
  kReplaced,        // a newer fire replaced it under Replace
};
std::string_view SkipReasonName(SkipReason r);

struct SkippedFire {
  int64_t time_us = 0;
  SkipReason reason = SkipReason::kCatchUp;
};

// What to do now. The server cancels `cancel`, starts `start` (oldest first), records the
// skipped fires and stores `watermark_us`; it decides again at `wake_us` and when a run ends.
struct ScheduleDecision {
  std::vector<std::string> cancel;   // Replace: the active runs to cancel first
  std::vector<ScheduleTimes> start;  // oldest first
  std::vector<SkippedFire> skipped;  // at most kMaxListed, oldest first
  int64_t skipped_count = 0;         // all of them, listed or not
  int waiting = 0;                   // due fires left for a later decision
  bool suspended = false;
  int64_t watermark_us = 0;
  std::optional<int64_t> wake_us;    // the next fire time after now; none while suspended

  static constexpr size_t kMaxListed = 100;
};

// Decides what schedule `cron` with `policy` does at `now_us` given `state` (see the model
// above). Pure: the same arguments give the same decision.
ScheduleDecision DecideSchedule(const CronSchedule& cron, const SchedulePolicy& policy,
                                const ScheduleState& state, int64_t now_us);

// The times a run started for fire time `fire_s` (Unix seconds) sees: its interval starts at the
// fire before it.
ScheduleTimes TimesOf(const CronSchedule& cron, int64_t fire_s);

// Backfill: every fire time from `from_us` to `to_us` (both included), oldest first, with its
// data interval. Fails when `to_us` is before `from_us`, or when there are more than
// `max_fires` (say how many at least, and to narrow the range).
Result<std::vector<ScheduleTimes>> Backfill(const CronSchedule& cron, int64_t from_us,
                                            int64_t to_us, size_t max_fires = 10000);

}  // namespace sluice
