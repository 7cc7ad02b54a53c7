#include "schedule/schedule.h"

#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "common/strings.h"
#include "env/env.h"
#include "env/fake_env.h"

namespace sluice {
namespace schedule_test {

constexpr int64_t kMin = 60 * kSecondUs;

const TimeZones* Zones() {
  static std::unique_ptr<TimeZones> zones = NewSystemTimeZones();
  return zones.get();
}

CronSchedule In(std::string_view expr, const std::string& zone = "UTC") {
  auto s = CronSchedule::Make(ParseCron(expr).value(), zone, Zones());
  EXPECT_TRUE(s) << zone;
  return *s;
}

int64_t Us(std::string_view rfc3339) { return ParseInstant(rfc3339, In("@daily")).value() * kSecondUs; }
std::string Text(int64_t us) { return FormatLocal(us / kSecondUs, 0); }

std::vector<std::string> Started(const ScheduleDecision& d) {
  std::vector<std::string> out;
  for (const auto& s : d.start) out.push_back(Text(s.time_us));
  return out;
}

std::vector<std::string> Skipped(const ScheduleDecision& d) {
  std::vector<std::string> out;
  for (const auto& s : d.skipped) {
    out.push_back(Text(s.time_us) + " " + std::string(SkipReasonName(s.reason)));
  }
  return out;
}

// A schedule "every 10 minutes" applied at 09:55 UTC, asked at `now`.
ScheduleDecision Every10(const SchedulePolicy& p, std::string_view now,
                         std::vector<ActiveRun> active = {},
                         std::string_view watermark = "2026-05-17T09:55:00Z") {
  return DecideSchedule(In("*/10 * * * *"), p, ScheduleState{Us(watermark), std::move(active)}, Us(now));
}

TEST(ScheduleDecision, StartsAFireOnTimeWithItsDataInterval) {
  auto d = Every10({}, "2026-05-17T10:00:02Z");
  ASSERT_EQ(d.start.size(), 1u);
  EXPECT_EQ(d.start[0], (ScheduleTimes{Us("2026-05-17T10:00:00Z"), Us("2026-05-17T09:50:00Z"),
                                       Us("2026-05-17T10:00:00Z")}));
  EXPECT_EQ(d.watermark_us, Us("2026-05-17T10:00:00Z"));
  EXPECT_EQ(Text(*d.wake_us), "2026-05-17T10:10:00+00:00");
  EXPECT_TRUE(d.skipped.empty());
}

TEST(ScheduleDecision, NothingIsDueBeforeTheScheduleWasApplied) {
  auto d = Every10({}, "2026-05-17T09:59:59Z");
  EXPECT_TRUE(d.start.empty());
  EXPECT_EQ(d.skipped_count, 0);
  EXPECT_EQ(d.watermark_us, Us("2026-05-17T09:55:00Z"));
  EXPECT_EQ(Text(*d.wake_us), "2026-05-17T10:00:00+00:00");
}

TEST(ScheduleDecision, CatchUpLastStartsOnlyTheNewestMissedFire) {
  auto d = Every10({}, "2026-05-17T10:35:00Z");  // down since 09:55: 10:00..10:30 are due
  EXPECT_EQ(Started(d), (std::vector<std::string>{"2026-05-17T10:30:00+00:00"}));
  EXPECT_EQ(Skipped(d), (std::vector<std::string>{"2026-05-17T10:00:00+00:00 catchUp",
                                                  "2026-05-17T10:10:00+00:00 catchUp",
                                                  "2026-05-17T10:20:00+00:00 catchUp"}));
  EXPECT_EQ(d.watermark_us, Us("2026-05-17T10:30:00Z"));
}

TEST(ScheduleDecision, CatchUpNoneStartsNothingLate) {
  SchedulePolicy p;
  p.catch_up = CatchUp::kNone;
  EXPECT_EQ(Started(Every10(p, "2026-05-17T10:00:30Z")).size(), 1u);  // a loop a little late
  auto d = Every10(p, "2026-05-17T10:05:00Z");
  EXPECT_TRUE(d.start.empty());
  EXPECT_EQ(Skipped(d), (std::vector<std::string>{"2026-05-17T10:00:00+00:00 catchUp"}));
  EXPECT_EQ(d.watermark_us, Us("2026-05-17T10:00:00Z"));
}

TEST(ScheduleDecision, CatchUpAllStartsTheNewestCapOldestFirst) {
  SchedulePolicy p;
  p.catch_up = CatchUp::kAll;
  p.catch_up_cap = 2;
  auto d = Every10(p, "2026-05-17T10:35:00Z");
  EXPECT_EQ(Started(d), (std::vector<std::string>{"2026-05-17T10:20:00+00:00",
                                                  "2026-05-17T10:30:00+00:00"}));
  EXPECT_EQ(d.start[0].interval_start_us, Us("2026-05-17T10:10:00Z"));
  EXPECT_EQ(Skipped(d), (std::vector<std::string>{"2026-05-17T10:00:00+00:00 catchUp",
                                                  "2026-05-17T10:10:00+00:00 catchUp"}));
}

TEST(ScheduleDecision, FiresPastTheStartingDeadlineAreMissed) {
  SchedulePolicy p;
  p.catch_up = CatchUp::kAll;
  p.starting_deadline_us = 12 * kMin;
  auto d = Every10(p, "2026-05-17T10:35:00Z");
  EXPECT_EQ(Started(d), (std::vector<std::string>{"2026-05-17T10:30:00+00:00"}));
  EXPECT_EQ(Skipped(d), (std::vector<std::string>{"2026-05-17T10:00:00+00:00 missed",
                                                  "2026-05-17T10:10:00+00:00 missed",
                                                  "2026-05-17T10:20:00+00:00 missed"}));
  p.catch_up = CatchUp::kLast;
  p.starting_deadline_us = 2 * kMin;
  d = Every10(p, "2026-05-17T10:35:00Z");  // even the newest is 5 minutes late
  EXPECT_TRUE(d.start.empty());
  EXPECT_EQ(Skipped(d).back(), "2026-05-17T10:30:00+00:00 missed");
  EXPECT_EQ(d.watermark_us, Us("2026-05-17T10:30:00Z"));
}

TEST(ScheduleDecision, ForbidSkipsAFireWhileARunIsActive) {
  SchedulePolicy p;
  p.concurrency = ConcurrencyPolicy::kForbid;
  auto d = Every10(p, "2026-05-17T10:10:00Z", {{"r1", Us("2026-05-17T10:00:00Z")}},
                   "2026-05-17T10:00:00Z");
  EXPECT_TRUE(d.start.empty());
  EXPECT_EQ(Skipped(d), (std::vector<std::string>{"2026-05-17T10:10:00+00:00 forbid"}));
  EXPECT_EQ(d.watermark_us, Us("2026-05-17T10:10:00Z"));
  EXPECT_EQ(Started(Every10(p, "2026-05-17T10:10:00Z", {}, "2026-05-17T10:00:00Z")).size(), 1u);
}

TEST(ScheduleDecision, ForbidWithCatchUpAllRunsMissedFiresOneAfterAnother) {
  SchedulePolicy p;
  p.concurrency = ConcurrencyPolicy::kForbid;
  p.catch_up = CatchUp::kAll;
  auto d = Every10(p, "2026-05-17T10:25:00Z");  // 10:00, 10:10 and 10:20 are due
  EXPECT_EQ(Started(d), (std::vector<std::string>{"2026-05-17T10:00:00+00:00"}));
  EXPECT_EQ(d.waiting, 2);
  EXPECT_EQ(d.watermark_us, Us("2026-05-17T10:00:00Z"));
  // While that run is active the 10:10 and 10:20 fires wait, and nothing is skipped.
  d = Every10(p, "2026-05-17T10:26:00Z", {{"r1", Us("2026-05-17T10:00:00Z")}}, "2026-05-17T10:00:00Z");
  EXPECT_TRUE(d.start.empty());
  EXPECT_EQ(d.skipped_count, 0);
  EXPECT_EQ(d.waiting, 2);
  EXPECT_EQ(d.watermark_us, Us("2026-05-17T10:00:00Z"));
  d = Every10(p, "2026-05-17T10:27:00Z", {}, "2026-05-17T10:00:00Z");  // it ended
  EXPECT_EQ(Started(d), (std::vector<std::string>{"2026-05-17T10:10:00+00:00"}));
}

TEST(ScheduleDecision, ReplaceCancelsTheActiveRunsAndStartsTheNewestFire) {
  SchedulePolicy p;
  p.concurrency = ConcurrencyPolicy::kReplace;
  p.catch_up = CatchUp::kAll;
  auto d = Every10(p, "2026-05-17T10:20:00Z",
                   {{"r1", Us("2026-05-17T09:40:00Z")}, {"r2", Us("2026-05-17T09:50:00Z")}},
                   "2026-05-17T09:50:00Z");
  EXPECT_EQ(d.cancel, (std::vector<std::string>{"r1", "r2"}));
  EXPECT_EQ(Started(d), (std::vector<std::string>{"2026-05-17T10:20:00+00:00"}));
  EXPECT_EQ(Skipped(d), (std::vector<std::string>{"2026-05-17T10:00:00+00:00 replaced",
                                                  "2026-05-17T10:10:00+00:00 replaced"}));
  // Nothing due: nothing is cancelled.
  EXPECT_TRUE(Every10(p, "2026-05-17T10:21:00Z", {{"r3", 0}}, "2026-05-17T10:20:00Z").cancel.empty());
}

TEST(ScheduleDecision, MaxActiveRunsLeavesTheRestWaiting) {
  SchedulePolicy p;
  p.catch_up = CatchUp::kAll;
  p.max_active_runs = 2;
  auto d = Every10(p, "2026-05-17T10:35:00Z", {{"r1", Us("2026-05-17T09:50:00Z")}});
  EXPECT_EQ(Started(d), (std::vector<std::string>{"2026-05-17T10:00:00+00:00"}));
  EXPECT_EQ(d.waiting, 3);
  EXPECT_EQ(d.watermark_us, Us("2026-05-17T10:00:00Z"));
  p.max_active_runs = 1;
  d = Every10(p, "2026-05-17T10:35:00Z", {{"r1", 0}});
  EXPECT_TRUE(d.start.empty());
  EXPECT_EQ(d.waiting, 4);
}

TEST(ScheduleDecision, ASuspendedScheduleStartsNothingAndCatchesUpOnResume) {
  SchedulePolicy p;
  p.suspend = true;
  auto d = Every10(p, "2026-05-17T10:35:00Z");
  EXPECT_TRUE(d.suspended);
  EXPECT_TRUE(d.start.empty());
  EXPECT_EQ(d.skipped_count, 0);
  EXPECT_FALSE(d.wake_us);
  EXPECT_EQ(d.watermark_us, Us("2026-05-17T09:55:00Z"));
  p.suspend = false;  // resumed: catchUp (last) decides
  EXPECT_EQ(Started(Every10(p, "2026-05-17T10:36:00Z")),
            (std::vector<std::string>{"2026-05-17T10:30:00+00:00"}));
}

TEST(ScheduleDecision, AYearDownWithAMinutelyScheduleStaysBounded) {
  auto d = DecideSchedule(In("* * * * *"), {}, ScheduleState{Us("2025-05-17T10:00:00Z"), {}},
                          Us("2026-05-17T10:00:30Z"));
  EXPECT_EQ(Started(d), (std::vector<std::string>{"2026-05-17T10:00:00+00:00"}));
  EXPECT_EQ(d.skipped.size(), ScheduleDecision::kMaxListed);
  EXPECT_EQ(d.skipped_count, 100'000);  // counted up to the walk's bound
  EXPECT_EQ(d.watermark_us, Us("2026-05-17T10:00:00Z"));
}

// A server's loop on a fake clock: wakes at each decision's wake time (or a minute later)
// and starts what it is told; runs end at once. Returns the UTC times of the runs started.
std::vector<std::string> Simulate(const CronSchedule& cron, std::string_view from,
                                  std::string_view to) {
  FakeClock clock(Us(from));
  ScheduleState state{clock.NowUs(), {}};
  std::vector<std::string> out;
  while (clock.NowUs() < Us(to)) {
    auto d = DecideSchedule(cron, {}, state, clock.NowUs());
    for (const auto& s : d.start) out.push_back(Text(s.time_us));
    state.watermark_us = d.watermark_us;
    clock.Set(d.wake_us ? *d.wake_us : clock.NowUs() + kMin);
  }
  return out;
}

TEST(ScheduleDecision, ADailyJobRunsOnceADayAcrossBothParisTransitions) {
  auto cron = In("30 2 * * *", "Europe/Paris");
  EXPECT_EQ(Simulate(cron, "2026-03-28T00:00:00Z", "2026-03-31T00:00:00Z"),
            (std::vector<std::string>{"2026-03-28T01:30:00+00:00", "2026-03-29T01:00:00+00:00",
                                      "2026-03-30T00:30:00+00:00"}));
  EXPECT_EQ(Simulate(cron, "2026-10-24T00:00:00Z", "2026-10-27T00:00:00Z"),
            (std::vector<std::string>{"2026-10-24T00:30:00+00:00", "2026-10-25T00:30:00+00:00",
                                      "2026-10-26T01:30:00+00:00"}));
  // The run of the jump day covers its data interval: from the day before's 02:30 CET.
  auto spring = TimesOf(cron, Us("2026-03-29T01:00:00Z") / kSecondUs);
  EXPECT_EQ(Text(spring.interval_start_us), "2026-03-28T01:30:00+00:00");
}

TEST(ScheduleDecision, AnHourlyJobRunsEveryElapsedHourAcrossNewYorkTransitions) {
  auto cron = In("@hourly", "America/New_York");
  EXPECT_EQ(Simulate(cron, "2026-03-08T05:30:00Z", "2026-03-08T09:30:00Z"),
            (std::vector<std::string>{"2026-03-08T06:00:00+00:00", "2026-03-08T07:00:00+00:00",
                                      "2026-03-08T08:00:00+00:00", "2026-03-08T09:00:00+00:00"}));
  EXPECT_EQ(Simulate(cron, "2026-11-01T04:30:00Z", "2026-11-01T08:30:00Z"),
            (std::vector<std::string>{"2026-11-01T05:00:00+00:00", "2026-11-01T06:00:00+00:00",
                                      "2026-11-01T07:00:00+00:00", "2026-11-01T08:00:00+00:00"}));
  // The repeated 01:00: the second run's interval is the hour after the first's.
  auto second = TimesOf(cron, Us("2026-11-01T06:00:00Z") / kSecondUs);
  EXPECT_EQ(Text(second.interval_start_us), "2026-11-01T05:00:00+00:00");
}

TEST(ScheduleBackfill, ListsTheFireTimesOfARangeWithTheirIntervals) {
  auto cron = In("30 2 * * *", "Europe/Paris");
  auto b = Backfill(cron, Us("2026-03-28T01:30:00Z"), Us("2026-03-30T00:30:00Z"));
  ASSERT_TRUE(b) << b.error().message;
  ASSERT_EQ(b->size(), 3u);  // both ends included
  EXPECT_EQ(Text((*b)[1].time_us), "2026-03-29T01:00:00+00:00");
  EXPECT_EQ(Text((*b)[1].interval_start_us), "2026-03-28T01:30:00+00:00");
  EXPECT_EQ(Text((*b)[2].interval_start_us), "2026-03-29T01:00:00+00:00");
  EXPECT_TRUE(Backfill(cron, Us("2026-03-28T01:31:00Z"), Us("2026-03-28T02:00:00Z"))->empty());
  auto backwards = Backfill(cron, Us("2026-03-30T00:00:00Z"), Us("2026-03-29T00:00:00Z"));
  ASSERT_FALSE(backwards);
  EXPECT_NE(backwards.error().message.find("ends"), std::string::npos);
  auto huge = Backfill(In("* * * * *"), Us("2026-01-01T00:00:00Z"), Us("2026-12-31T00:00:00Z"), 1000);
  ASSERT_FALSE(huge);
  EXPECT_NE(huge.error().message.find("more than 1000 fire times"), std::string::npos);
}

}  // namespace schedule_test
}  // namespace sluice
