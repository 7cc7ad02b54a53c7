// The scheduler of the leader (scheduler.h) on a fake clock: each tick is given `now`, the
// store is a real SQLite file, the schedule and its pipeline live in the fake Env's files, and
// the engine's start is recorded (the real one is a process; tests/server/schedules_test.py
// runs it).
#include "server/scheduler.h"

#include <signal.h>

#include <gtest/gtest.h>

#include "common/strings.h"
#include "cli/cli_support.h"
#include "env/fake_env.h"
#include "store/temp_db.h"

namespace sluice {
namespace scheduler_test {


const TimeZones* Zones() {
  static std::unique_ptr<TimeZones> zones = NewSystemTimeZones();
  return zones.get();
}

int64_t At(const std::string& rfc3339) {
  auto cron = CronSchedule::Make(ParseCron("@daily").value(), "UTC", Zones());
  return ParseInstant(rfc3339, *cron).value() * kSecondUs;
}

const char* kPipeline = R"(apiVersion: sluice/v1
kind: Pipeline
metadata: {name: p}
spec:
  params:
    - {name: region, type: string, default: emea}
  tasks:
    - {name: t, run: [echo, "${{ params.region }}"]}
)";

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env.zones = Zones();
    env.fake_clock.Set(At("2026-05-17T09:55:00Z"));
    auto opened = Store::Open(db.path());
    ASSERT_TRUE(opened) << opened.error().message;
    store = std::move(*opened);
  }
  // Applies a schedule every 10 minutes with `policy` lines, at the fake clock's time.
  void Apply(const std::string& policy) {
    env.mem_files.WriteFile("/s/pipeline.yaml", kPipeline);
    env.mem_files.WriteFile("/s/every10.yaml", "apiVersion: sluice/v1\nkind: Schedule\n"
                            "metadata: {name: every10}\nspec:\n  pipeline: pipeline.yaml\n"
                            "  params: {region: amer}\n  cron: \"*/10 * * * *\"\n" + policy);
    auto rows = SnapshotSchedules(env, env.mem_files, "/s/every10.yaml", "default", "alice",
                                  env.fake_clock.NowUs());
    ASSERT_TRUE(rows) << rows.error().message;
    for (const auto& row : *rows) {
      ASSERT_TRUE(store->ApplySchedule(row, AuditOf(env, "alice", "schedule.applied", "",
                                                    row.name, Value(ValueMap{}))));
    }
  }
  void Tick(const std::string& now) {
    env.fake_clock.Set(At(now));
    scheduler.Tick(*store, At(now));
  }
  std::vector<std::string> Runs() {
    std::vector<std::string> ids;
    auto runs = store->ListRuns(100);
    for (const auto& r : *runs) ids.push_back(r.id);
    std::sort(ids.begin(), ids.end());
    return ids;
  }
  void Finish(const std::string& id) {
    Event e;
    e.run_id = id;
    e.kind = EventKind::kRunFinished;
    e.status = "succeeded";
    store->Append(e);
    ASSERT_TRUE(store->Commit());
  }
  std::vector<std::string> Audited(const std::string& action) {
    std::vector<std::string> out;
    auto audit = store->ListAudit();
    for (const auto& a : *audit) {
      if (a.action == action) out.push_back(a.details);
    }
    return out;
  }

  FakeEnv env;
  GlobalOptions g = [] {
    GlobalOptions o;
    o.state_dir = "/state";
    return o;
  }();
  TempDb db;
  std::unique_ptr<Store> store;
  std::vector<std::string> started;
  std::vector<std::string> logged;
  Scheduler scheduler{env, g, Scheduler::Hooks{[this](const std::string& id) -> Status {
                                                  started.push_back(id);
                                                  return {};
                                                },
                                                [this](const std::string& m) { logged.push_back(m); }}};
};

TEST_F(SchedulerTest, AFireStartsARunUnderItsDeterministicIdWithItsScheduleTimes) {
  Apply("");
  Tick("2026-05-17T09:59:59Z");
  EXPECT_TRUE(Runs().empty()) << "nothing is due before 10:00";
  Tick("2026-05-17T10:00:01Z");
  ASSERT_EQ(Runs(), std::vector<std::string>{"sched-every10-20260517T1000Z"});
  EXPECT_EQ(started, Runs());
  auto times = ScheduleOfRun(*store, "sched-every10-20260517T1000Z", {});
  ASSERT_TRUE(times);
  EXPECT_EQ(*times, (ScheduleTimes{At("2026-05-17T10:00:00Z"), At("2026-05-17T09:50:00Z"),
                                   At("2026-05-17T10:00:00Z")}));
  auto run = store->GetRun("sched-every10-20260517T1000Z");
  EXPECT_EQ(run->params, R"({"region":"amer"})");
  EXPECT_EQ(*store->RunSubmitter(run->id), "sluice");
  Tick("2026-05-17T10:05:00Z");
  EXPECT_EQ(Runs().size(), 1u) << "the fire is not started again";
}

TEST_F(SchedulerTest, ALeaderThatDiedBeforeStoringTheWatermarkDoesNotFireTwice) {
  Apply("");
  Tick("2026-05-17T10:00:01Z");
  ASSERT_EQ(Runs().size(), 1u);
  // The run was recorded but the leader died before the watermark, and before its engine.
  db.Sql("UPDATE schedules SET watermark_us=" + std::to_string(At("2026-05-17T09:55:00Z")));
  Scheduler next{env, g, Scheduler::Hooks{[this](const std::string& id) -> Status {
                                             started.push_back(id);
                                             return {};
                                           },
                                           [](const std::string&) {}}};
  next.Tick(*store, At("2026-05-17T10:00:03Z"));
  EXPECT_EQ(Runs(), std::vector<std::string>{"sched-every10-20260517T1000Z"});
  EXPECT_EQ(started.size(), 2u) << "the new leader gave the run that had no engine one";
  EXPECT_EQ(store->ListSchedules("default")->front().watermark_us, At("2026-05-17T10:00:00Z"));
  env.mem_files.WriteFile("/state/runs/sched-every10-20260517T1000Z/engine.log", "");
  db.Sql("UPDATE schedules SET watermark_us=" + std::to_string(At("2026-05-17T09:55:00Z")));
  next.Tick(*store, At("2026-05-17T10:00:04Z"));
  EXPECT_EQ(started.size(), 2u) << "a run with an engine is left to it";
}

TEST_F(SchedulerTest, AFireWhoseRunWasPrunedIsHandledNotRetriedForever) {
  Apply("");
  Tick("2026-05-17T10:00:01Z");
  Finish("sched-every10-20260517T1000Z");
  Event tomb;
  tomb.run_id = "sched-every10-20260517T1000Z";
  tomb.kind = EventKind::kRunPruned;
  tomb.message = "pruned by ops";
  ASSERT_TRUE(store->PruneRun(tomb.run_id, tomb, AuditOf(env, "ops", "run.pruned", tomb.run_id,
                                                         "", Value(ValueMap{}))));
  db.Sql("UPDATE schedules SET watermark_us=" + std::to_string(At("2026-05-17T09:55:00Z")));
  Tick("2026-05-17T10:00:02Z");
  EXPECT_TRUE(Runs().empty());
  EXPECT_EQ(store->ListSchedules("default")->front().watermark_us, At("2026-05-17T10:00:00Z"))
      << "the watermark moves past it";
}

TEST_F(SchedulerTest, ForbidSkipsAFireWhileItsRunIsActiveAndAuditsTheSkip) {
  Apply("  concurrencyPolicy: Forbid\n");
  Tick("2026-05-17T10:00:01Z");
  Tick("2026-05-17T10:10:01Z");
  EXPECT_EQ(Runs().size(), 1u);
  auto skipped = Audited("schedule.skipped");
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_NE(skipped[0].find(R"("reason":"forbid")"), std::string::npos) << skipped[0];
  EXPECT_NE(skipped[0].find("2026-05-17T10:10:00Z"), std::string::npos) << skipped[0];
  Finish("sched-every10-20260517T1000Z");
  Tick("2026-05-17T10:20:01Z");
  EXPECT_EQ(Runs().back(), "sched-every10-20260517T1020Z");
}

TEST_F(SchedulerTest, AllowStartsAFireWhileAnotherRunIsActive) {
  Apply("");
  Tick("2026-05-17T10:00:01Z");
  Tick("2026-05-17T10:10:01Z");
  EXPECT_EQ(Runs().size(), 2u);
}

TEST_F(SchedulerTest, MaxActiveRunsHoldsAndAWaitingFireStartsWhenARunEnds) {
  Apply("  maxActiveRuns: 1\n  catchUp: all\n");
  Tick("2026-05-17T10:00:01Z");
  Tick("2026-05-17T10:10:01Z");
  EXPECT_EQ(Runs(), std::vector<std::string>{"sched-every10-20260517T1000Z"}) << "10:10 waits";
  EXPECT_TRUE(Audited("schedule.skipped").empty());
  Finish("sched-every10-20260517T1000Z");
  Tick("2026-05-17T10:10:02Z");
  EXPECT_EQ(Runs().back(), "sched-every10-20260517T1010Z") << "started once the first ended";
}

TEST_F(SchedulerTest, ASuspendedScheduleStartsNothingUntilResumedThenCatchesUpTheLast) {
  Apply("");
  ASSERT_TRUE(store->SuspendSchedule("default", "every10", true,
                                     AuditOf(env, "bob", "schedule.suspended", "", "every10",
                                             Value(ValueMap{}))));
  Tick("2026-05-17T10:00:01Z");
  Tick("2026-05-17T10:30:01Z");
  EXPECT_TRUE(Runs().empty());
  ASSERT_TRUE(store->SuspendSchedule("default", "every10", false,
                                     AuditOf(env, "bob", "schedule.resumed", "", "every10",
                                             Value(ValueMap{}))));
  Tick("2026-05-17T10:31:00Z");
  EXPECT_EQ(Runs(), std::vector<std::string>{"sched-every10-20260517T1030Z"})
      << "catchUp: last starts the newest due fire and skips the older ones";
  EXPECT_EQ(Audited("schedule.skipped").size(), 1u);
}

TEST_F(SchedulerTest, ReplaceCancelsTheActiveRunThroughTheProcessThatExecutesIt) {
  Apply("  concurrencyPolicy: Replace\n");
  Tick("2026-05-17T10:00:01Z");
  env.HoldLock(PathJoin(RunDir(env, g, "sched-every10-20260517T1000Z"), "lock"), "777");
  env.live_pids.insert(777);
  Tick("2026-05-17T10:10:01Z");
  EXPECT_EQ(env.signals, (std::vector<std::pair<int, int>>{{777, SIGTERM}}));
  EXPECT_EQ(Runs().back(), "sched-every10-20260517T1010Z");
}

TEST_F(SchedulerTest, ALaterEditOfItsPipelineChangesNothingUntilItIsAppliedAgain) {
  Apply("");
  // The stored snapshot is what fires: a later edit of the pipeline changes nothing.
  env.mem_files.WriteFile("/s/pipeline.yaml", "not: a pipeline");
  Tick("2026-05-17T10:00:01Z");
  EXPECT_EQ(Runs().size(), 1u);
}

}  // namespace scheduler_test
}  // namespace sluice
