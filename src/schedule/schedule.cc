// The schedule decision and backfill (schedule.h).
#include "schedule/schedule.h"

#include <algorithm>

#include "common/strings.h"

namespace sluice {

namespace {

constexpr int64_t kOnTimeUs = 60 * kSecondUs;  // catchUp none: how late a fire may still start
constexpr int64_t kMaxCounted = 100'000;   // older due fires walked to count and list them

int64_t FloorSeconds(int64_t us) { return us / kSecondUs - ((us % kSecondUs != 0) && us < 0); }

// Records a skipped fire (listing the first kMaxListed) and moves the watermark past it.
void Skip(ScheduleDecision& d, int64_t fire_s, SkipReason why) {
  if (d.skipped.size() < ScheduleDecision::kMaxListed) d.skipped.push_back({fire_s * kSecondUs, why});
  ++d.skipped_count;
  d.watermark_us = std::max(d.watermark_us, fire_s * kSecondUs);
}

void Start(ScheduleDecision& d, const CronSchedule& cron, int64_t fire_s) {
  d.start.push_back(TimesOf(cron, fire_s));
  d.watermark_us = std::max(d.watermark_us, fire_s * kSecondUs);
}

// The due fires (after the watermark, at or before now): the newest `keep`, oldest first.
// Older due fires are skipped at once, as missed when past the deadline, else by catchUp.
std::vector<int64_t> NewestDue(const CronSchedule& cron, const SchedulePolicy& p,
                               int64_t watermark_s, int64_t now_us, size_t keep,
                               ScheduleDecision& d) {
  std::vector<int64_t> kept;
  auto f = cron.Prev(FloorSeconds(now_us) + 1);
  while (f && *f > watermark_s && kept.size() < keep) {
    kept.push_back(*f);
    f = cron.Prev(*f);
  }
  std::reverse(kept.begin(), kept.end());
  if (f && *f > watermark_s) {  // older ones: walked forward so they are listed oldest first
    int64_t walked = 0;
    for (auto g = cron.Next(watermark_s); g && *g < kept.front() && walked < kMaxCounted;
         g = cron.Next(*g), ++walked) {
      bool late = p.starting_deadline_us > 0 && now_us - *g * kSecondUs > p.starting_deadline_us;
      Skip(d, *g, late ? SkipReason::kMissedDeadline : SkipReason::kCatchUp);
    }
    d.watermark_us = std::max(d.watermark_us, *f * kSecondUs);
  }
  return kept;
}

// Rule 4 of schedule.h on the fires that survived rules 2 and 3 (oldest first).
void ApplyConcurrency(const CronSchedule& cron, const SchedulePolicy& p, const ScheduleState& s,
                      const std::vector<int64_t>& fires, ScheduleDecision& d) {
  if (fires.empty()) return;
  switch (p.concurrency) {
    case ConcurrencyPolicy::kReplace:
      for (const auto& r : s.active) d.cancel.push_back(r.run_id);
      for (size_t i = 0; i + 1 < fires.size(); ++i) Skip(d, fires[i], SkipReason::kReplaced);
      Start(d, cron, fires.back());
      return;
    case ConcurrencyPolicy::kForbid:
      if (s.active.empty()) {
        Start(d, cron, fires.front());
        d.waiting = static_cast<int>(fires.size()) - 1;
      } else if (p.catch_up == CatchUp::kAll) {
        d.waiting = static_cast<int>(fires.size());
      } else {
        for (int64_t f : fires) Skip(d, f, SkipReason::kForbid);
      }
      return;
    case ConcurrencyPolicy::kAllow: {
      const int room = std::max(0, p.max_active_runs - static_cast<int>(s.active.size()));
      const size_t n = std::min(fires.size(), static_cast<size_t>(room));
      for (size_t i = 0; i < n; ++i) Start(d, cron, fires[i]);
      d.waiting = static_cast<int>(fires.size() - n);
      return;
    }
  }
}

}  // namespace

std::string_view SkipReasonName(SkipReason r) {
  switch (r) {
    case SkipReason::kMissedDeadline: return "missed";
    case SkipReason::kCatchUp: return "catchUp";
    case SkipReason::kForbid: return "forbid";
    case SkipReason::kReplaced: return "replaced";
  }
  return "?";
}

Value ScheduleValue(const ScheduleTimes* t) {
  auto at = [&](int64_t us) {
    if (!t) return Value();
    return Value(Timestamp{us / kSecondUs, static_cast<int32_t>(us % kSecondUs * 1000)});
  };
  return Value(ValueMap{{"time", at(t ? t->time_us : 0)},
                        {"intervalStart", at(t ? t->interval_start_us : 0)},
                        {"intervalEnd", at(t ? t->interval_end_us : 0)}});
}

bool IsScheduleField(std::string_view field) {
  return field == "time" || field == "intervalStart" || field == "intervalEnd";
}

ScheduleTimes TimesOf(const CronSchedule& cron, int64_t fire_s) {
  auto prev = cron.Prev(fire_s);
  return ScheduleTimes{fire_s * kSecondUs, prev.value_or(fire_s) * kSecondUs, fire_s * kSecondUs};
}

ScheduleDecision DecideSchedule(const CronSchedule& cron, const SchedulePolicy& p,
                                const ScheduleState& s, int64_t now_us) {
  ScheduleDecision d;
  d.watermark_us = s.watermark_us;
  if (p.suspend) {  // rule 1: the due fires wait for resume
    d.suspended = true;
    return d;
  }
  if (auto next = cron.Next(FloorSeconds(now_us))) d.wake_us = *next * kSecondUs;
  const size_t keep = p.catch_up == CatchUp::kAll ? static_cast<size_t>(std::max(1, p.catch_up_cap)) : 1;
  std::vector<int64_t> kept = NewestDue(cron, p, FloorSeconds(s.watermark_us), now_us, keep, d);
  std::vector<int64_t> fires;
  for (int64_t f : kept) {
    const int64_t late_us = now_us - f * kSecondUs;
    if (p.starting_deadline_us > 0 && late_us > p.starting_deadline_us) {
      Skip(d, f, SkipReason::kMissedDeadline);  // rule 2
    } else if (p.catch_up == CatchUp::kNone && late_us >= kOnTimeUs) {
      Skip(d, f, SkipReason::kCatchUp);  // rule 3: none starts nothing late
    } else {
      fires.push_back(f);
    }
  }
  ApplyConcurrency(cron, p, s, fires, d);
  return d;
}

Result<std::vector<ScheduleTimes>> Backfill(const CronSchedule& cron, int64_t from_us,
                                            int64_t to_us, size_t max_fires) {
  if (to_us < from_us) {
    return Fail(ErrorCode::kInvalidInput, "the backfill range ends ({}) before it starts ({})",
                FormatLocal(FloorSeconds(to_us), 0), FormatLocal(FloorSeconds(from_us), 0));
  }
  std::vector<ScheduleTimes> out;
  // The first fire at or after from: the first after the second before it (fires are whole
  // seconds).
  for (auto f = cron.Next(FloorSeconds(from_us + kSecondUs - 1) - 1); f && *f * kSecondUs <= to_us;
       f = cron.Next(*f)) {
    if (out.size() == max_fires) {
      return Fail(ErrorCode::kInvalidInput, "the range from {} to {} holds more than {} fire "
                  "times; backfill a narrower range", FormatLocal(FloorSeconds(from_us), 0),
                  FormatLocal(FloorSeconds(to_us), 0), max_fires);
    }
    out.push_back(TimesOf(cron, *f));
  }
  return out;
}

}  // namespace sluice
