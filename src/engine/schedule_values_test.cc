// schedule.time, schedule.intervalStart and schedule.intervalEnd in placeholders: the fire that
// started the run (EngineOptions::schedule, set by `sluice server`), or null in any other run.
#include <gtest/gtest.h>

#include <string>

#include "engine/attempt.h"
#include "engine/decider_test_fixture.h"
#include "engine/engine.h"
#include "engine/engine_fakes.h"
#include "env/env.h"

namespace sluice {
namespace schedule_values_test {

constexpr int64_t kFire = 1'774'746'000;  // 2026-03-29T01:00:00Z

Result<std::shared_ptr<const Plan>> TryCompile(const std::string& tasks) {
  MemFileSystem fs(std::map<std::string, std::string>{{"/p.yaml", "apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: t}\n"
                                "spec:\n  tasks:\n" + tasks}});
  return LoadPlan(fs, "/p.yaml");
}

ScheduleTimes Fire() {
  return ScheduleTimes{kFire * 1'000'000, (kFire - 84'600) * 1'000'000, kFire * 1'000'000};
}

TEST_F(DeciderTest, AScheduledRunSeesItsFireTimeAndDataInterval) {
  Build("    - {name: a, run: [load, '${{ schedule.intervalStart }}', '${{ schedule.intervalEnd }}',\n"
        "       '${{ schedule.time.getHours(\"Europe/Paris\") }}']}\n");
  ScheduleTimes t = Fire();
  ctx_.schedule = ScheduleValue(&t);
  static std::unique_ptr<TimeZones> zones = NewSystemTimeZones();
  ctx_.time_zones = zones.get();
  Resolution r = ResolveAttempt(*state_, ctx_, I("a"), kS);
  ASSERT_EQ(r.kind, Resolution::Kind::kStart) << r.message;
  EXPECT_EQ(r.request.argv, (Names{"load", "2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "3"}));
}

TEST_F(DeciderTest, ARunNoScheduleStartedSeesNulls) {
  Build("    - {name: a, run: [load, '${{ schedule.time == null ? \"manual\" : string(schedule.time) }}']}\n");
  Resolution r = ResolveAttempt(*state_, ctx_, I("a"), kS);
  ASSERT_EQ(r.kind, Resolution::Kind::kStart) << r.message;
  EXPECT_EQ(r.request.argv, (Names{"load", "manual"}));
}

TEST(ScheduleValues, EngineOptionsCarryTheFireToTheTasks) {
  Harness h;
  auto plan = Compile("    - {name: a, run: [x, '${{ schedule.time }}']}\n");
  EngineOptions o;
  o.run_id = "r1";
  o.capacity.jobs = 1;
  o.breakers = &h.breakers;
  o.schedule = Fire();
  Engine e(plan, Value(ValueMap{}), o, h.clock, h.exec, h.sink, nullptr, nullptr);
  ASSERT_TRUE(e.Run());
  ASSERT_EQ(h.exec.requests.size(), 1u);
  EXPECT_EQ(h.exec.requests[0].argv, (std::vector<std::string>{"x", "2026-03-29T01:00:00Z"}));
}

TEST(ScheduleValues, ValidateKnowsTheNamesAndTheirTypes) {
  auto typo = TryCompile("    - {name: a, run: [x, '${{ schedule.tim }}']}\n");
  ASSERT_FALSE(typo);
  EXPECT_NE(typo.error().message.find("unknown schedule.tim: schedule has time, intervalStart and "
                                      "intervalEnd (did you mean \"time\"?)"),
            std::string::npos) << typo.error().message;
  auto wrong = TryCompile("    - {name: a, run: [x, '${{ schedule.intervalEnd > 1 }}']}\n");
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("no such overload"), std::string::npos) << wrong.error().message;
  auto bare = TryCompile("    - {name: a, run: [x, '{{ schedule.time }}']}\n");
  ASSERT_FALSE(bare);
  EXPECT_NE(bare.error().message.find("is not a placeholder"), std::string::npos);
  EXPECT_TRUE(TryCompile("    - {name: a, run: [x, '${{ schedule.intervalEnd - schedule.intervalStart }}']}\n"));
}

}  // namespace schedule_values_test
}  // namespace sluice
