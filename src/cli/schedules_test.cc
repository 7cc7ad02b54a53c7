// `sluice schedule next|validate` against a FakeEnv: the schedule and pipeline files are in its
// MemFileSystem, now is its FakeClock, and zones come from the system's tz database.
#include "cli/schedules.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "env/fake_env.h"

namespace sluice {
namespace schedules_test {

constexpr const char* kPipeline = R"(apiVersion: sluice/v1
kind: Pipeline
metadata: {name: load}
spec:
  params:
    - {name: table, type: string, required: true}
    - {name: days, type: int, default: 1}
  tasks:
    - {name: a, run: [load, "${{ params.table }}", "${{ schedule.intervalStart }}"]}
)";

std::string Schedule(const std::string& extra) {
  return "apiVersion: sluice/v1\nkind: Schedule\nmetadata: {name: nightly}\nspec:\n"
         "  pipeline: ../pipelines/load.yaml\n  cron: '30 2 * * *'\n  timeZone: Europe/Paris\n" +
         extra;
}

struct Outcome {
  int rc = -1;
  std::string out, err;
};

Outcome Capture(const std::function<int()>& command) {
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  Outcome o;
  o.rc = command();
  o.out = testing::internal::GetCapturedStdout();
  o.err = testing::internal::GetCapturedStderr();
  return o;
}

class ScheduleCommands : public testing::Test {
 protected:
  ScheduleCommands() {
    static std::unique_ptr<TimeZones> zones = NewSystemTimeZones();
    env_.zones = zones.get();
    env_.fake_clock.Set(1'774'652'400'000'000);  // 2026-03-27T23:00:00Z
    EXPECT_TRUE(env_.mem_files.WriteFile("/w/pipelines/load.yaml", kPipeline));
  }
  Outcome Next(const std::string& schedule, int count, const std::string& from = "",
               bool json = false) {
    EXPECT_TRUE(env_.mem_files.WriteFile("/w/schedules/nightly.yaml", schedule));
    GlobalOptions g;
    g.json = json;
    return Capture([&] { return CmdScheduleNext(env_, g, "/w/schedules/nightly.yaml", count, from); });
  }
  Outcome Validate(const std::string& schedule) {
    EXPECT_TRUE(env_.mem_files.WriteFile("/w/schedules/nightly.yaml", schedule));
    return Capture([&] { return CmdScheduleValidate(env_, GlobalOptions{}, "/w/schedules/nightly.yaml"); });
  }

  FakeEnv env_;
};

TEST_F(ScheduleCommands, NextPrintsUtcAndLocalTimesWithIntervalsAcrossTheSpringJump) {
  Outcome o = Next(Schedule("  params: {table: events}\n"), 3);
  ASSERT_EQ(o.rc, 0) << o.err;
  EXPECT_EQ(o.out,
            "schedule nightly: cron \"30 2 * * *\" in Europe/Paris, pipeline ../pipelines/load.yaml\n"
            "  2026-03-28T01:30:00Z  2026-03-28T02:30:00+01:00  interval 2026-03-27T01:30:00Z to 2026-03-28T01:30:00Z\n"
            "  2026-03-29T01:00:00Z  2026-03-29T03:00:00+02:00  interval 2026-03-28T01:30:00Z to 2026-03-29T01:00:00Z\n"
            "  2026-03-30T00:30:00Z  2026-03-30T02:30:00+02:00  interval 2026-03-29T01:00:00Z to 2026-03-30T00:30:00Z\n");
}

TEST_F(ScheduleCommands, NextFromAWallTimeInTheZoneAndAsJson) {
  Outcome o = Next(Schedule("  suspend: true\n"), 2, "2026-10-25T02:00", true);
  ASSERT_EQ(o.rc, 0) << o.err;
  EXPECT_EQ(o.out,
            "{\"schedules\":[{\"name\":\"nightly\",\"cron\":\"30 2 * * *\",\"timeZone\":"
            "\"Europe/Paris\",\"pipeline\":\"../pipelines/load.yaml\",\"suspend\":true,\"fires\":["
            "{\"time\":\"2026-10-25T00:30:00Z\",\"local\":\"2026-10-25T02:30:00+02:00\","
            "\"intervalStart\":\"2026-10-24T00:30:00Z\",\"intervalEnd\":\"2026-10-25T00:30:00Z\"},"
            "{\"time\":\"2026-10-26T01:30:00Z\",\"local\":\"2026-10-26T02:30:00+01:00\","
            "\"intervalStart\":\"2026-10-25T00:30:00Z\",\"intervalEnd\":\"2026-10-26T01:30:00Z\"}]}]}\n");
  Outcome bad = Next(Schedule(""), 2, "tomorrow");
  EXPECT_EQ(bad.rc, 2);
  EXPECT_NE(bad.err.find("--from: \"tomorrow\" is not a time"), std::string::npos) << bad.err;
}

TEST_F(ScheduleCommands, ValidateChecksThePipelineAndItsParams) {
  Outcome ok = Validate(Schedule("  params: {table: events, days: 7}\n"));
  ASSERT_EQ(ok.rc, 0) << ok.err;
  EXPECT_EQ(ok.out, "/w/schedules/nightly.yaml: schedule nightly is valid: cron \"30 2 * * *\" in "
                    "Europe/Paris runs ../pipelines/load.yaml; next at 2026-03-28T01:30:00Z\n");
  Outcome missing = Validate(Schedule(""));
  EXPECT_EQ(missing.rc, 2);
  EXPECT_NE(missing.err.find("/w/schedules/nightly.yaml:3:18: schedule \"nightly\": "),
            std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("table"), std::string::npos) << missing.err;
  Outcome typo = Validate(Schedule("  params: {table: events, day: 7}\n"));
  EXPECT_EQ(typo.rc, 2);
  EXPECT_EQ(typo.err, "/w/schedules/nightly.yaml:8:32: unknown param \"day\" (did you mean "
                      "\"days\"?); pipeline load declares: table, days\n");
}

TEST_F(ScheduleCommands, ValidateLocatesAMissingPipelineAndAnUnknownZone) {
  Outcome nopipe = Validate("apiVersion: sluice/v1\nkind: Schedule\nmetadata: {name: n}\nspec:\n"
                            "  pipeline: nowhere.yaml\n  cron: '@daily'\n");
  EXPECT_EQ(nopipe.rc, 2);
  EXPECT_EQ(nopipe.err, "/w/schedules/nightly.yaml:5:13: pipeline \"/w/schedules/nowhere.yaml\" "
                        "does not exist (a path relative to the schedule file)\n");
  Outcome zone = Validate(Schedule("").replace(Schedule("").find("Europe/Paris"), 12, "Europe/Pariss"));
  EXPECT_EQ(zone.rc, 2);
  EXPECT_EQ(zone.err.find("/w/schedules/nightly.yaml:7:13: unknown time zone \"Europe/Pariss\""), 0u)
      << zone.err;
}

TEST_F(ScheduleCommands, AScheduleFileHoldsOnlySchedules) {
  Outcome o = Validate(Schedule("") + "---\n" + kPipeline);
  EXPECT_EQ(o.rc, 2);
  EXPECT_EQ(o.err, "/w/schedules/nightly.yaml: a schedule file holds only Schedule documents "
                   "(kind: Schedule; its pipeline is named by spec.pipeline)\n");
}

}  // namespace schedules_test
}  // namespace sluice
