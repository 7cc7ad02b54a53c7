// The schedules table (store_schedules.cc), on both engines: applied with its audit record,
// applied again without losing its watermark, suspended, and the runs schedules started.
#include <gtest/gtest.h>

#include "store/store.h"
#include "store/temp_db.h"

namespace sluice {
namespace store_schedules_test {

AuditRecord Record(const std::string& action, const std::string& subject) {
  AuditRecord a;
  a.time_us = 5;
  a.actor = "alice";
  a.action = action;
  a.subject = subject;
  a.details = "{}";
  return a;
}

ScheduleRow Row(const std::string& name, int64_t watermark_us) {
  ScheduleRow r;
  r.name = name;
  r.file = "/s/nightly.yaml";
  r.document = "kind: Schedule";
  r.sources = R"({"/p/pipeline.yaml":"v1"})";
  r.params = R"({"seed":"1"})";
  r.watermark_us = watermark_us;
  r.applied_by = "alice";
  r.applied_us = watermark_us;
  return r;
}

class StoreSchedules : public ::testing::TestWithParam<SqlEngine> {
 protected:
  void SetUp() override { SLUICE_REQUIRE_DB(db); }
  TempDb db{GetParam()};
};
INSTANTIATE_TEST_SUITE_P(Engine, StoreSchedules,
                         ::testing::Values(SqlEngine::kSqlite, SqlEngine::kPostgres), EngineName);

TEST_P(StoreSchedules, ApplyingAgainKeepsTheWatermarkAndTakesTheNewSnapshot) {
  auto store = Store::Open(db.path());
  ASSERT_TRUE(store) << store.error().message;
  ASSERT_TRUE((*store)->ApplySchedule(Row("nightly", 100), Record("schedule.applied", "nightly")));
  ASSERT_TRUE((*store)->AdvanceWatermark("default", "nightly", 500));
  ASSERT_TRUE((*store)->AdvanceWatermark("default", "nightly", 300)) << "a lower one is a no-op";
  ScheduleRow again = Row("nightly", 900);
  again.sources = R"({"/p/pipeline.yaml":"v2"})";
  again.suspended = true;
  ASSERT_TRUE((*store)->ApplySchedule(again, Record("schedule.applied", "nightly")));
  auto rows = (*store)->ListSchedules("default");
  ASSERT_TRUE(rows) << rows.error().message;
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].watermark_us, 500) << "fires already handled are not fired again";
  EXPECT_EQ((*rows)[0].sources, again.sources);
  EXPECT_TRUE((*rows)[0].suspended);
  EXPECT_EQ((*rows)[0].params, R"({"seed":"1"})");
  EXPECT_TRUE((*store)->ListSchedules("other")->empty());
  EXPECT_EQ((*store)->ListSchedules("")->size(), 1u);
}

TEST_P(StoreSchedules, SuspendIsAuditedAndAnUnknownScheduleIsNotFound) {
  auto store = Store::Open(db.path());
  ASSERT_TRUE(store) << store.error().message;
  ASSERT_TRUE((*store)->ApplySchedule(Row("a", 1), Record("schedule.applied", "a")));
  ASSERT_TRUE((*store)->SuspendSchedule("default", "a", true, Record("schedule.suspended", "a")));
  EXPECT_TRUE((*store)->ListSchedules("default")->front().suspended);
  ASSERT_TRUE((*store)->SuspendSchedule("default", "a", false, Record("schedule.resumed", "a")));
  EXPECT_FALSE((*store)->ListSchedules("default")->front().suspended);
  auto missing = (*store)->SuspendSchedule("default", "b", true, Record("schedule.suspended", "b"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  auto audit = (*store)->ListAudit();
  ASSERT_EQ(audit->size(), 3u) << "the refused suspend left no record";
  EXPECT_EQ((*audit)[1].action, "schedule.suspended");
  EXPECT_EQ((*audit)[1].actor, "alice");
}

TEST_P(StoreSchedules, ScheduledRunsAreTheUnfinishedRunsSchedulesStarted) {
  auto store = Store::Open(db.path());
  ASSERT_TRUE(store) << store.error().message;
  for (const char* id : {"sched-a-20260101T0000Z", "sched-a-20260102T0000Z", "20260101-x"}) {
    RunRecord r;
    r.id = id;
    r.pipeline = "p";
    r.status = "pending";
    Event created;
    created.run_id = id;
    created.kind = EventKind::kRunCreated;
    created.data = std::string(R"({"schedule":{"name":")") + id + "\"}}";
    ASSERT_TRUE((*store)->CreateRun(r, {}, created));
  }
  Event done;
  done.run_id = "sched-a-20260101T0000Z";
  done.kind = EventKind::kRunFinished;
  done.status = "succeeded";
  (*store)->Append(done);
  ASSERT_TRUE((*store)->Commit());
  auto runs = (*store)->ScheduledRuns();
  ASSERT_TRUE(runs) << runs.error().message;
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].first, "sched-a-20260102T0000Z");
  EXPECT_EQ((*runs)[0].second, R"({"schedule":{"name":"sched-a-20260102T0000Z"}})");
}

}  // namespace store_schedules_test
}  // namespace sluice
