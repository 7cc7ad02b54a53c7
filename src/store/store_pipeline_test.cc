// Large and failing commits on both engines (SQLite, and PostgreSQL when SLUICE_TEST_PG_URL names
// a server): a PostgreSQL transaction is a pipeline of statements (sql.h, "Round trips"), synced
// every 1,024 statements, so these check that nothing is lost, reordered or half-kept across the
// syncs.
#include "store/store.h"
#include "store/temp_db.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice {
namespace store_pipeline_test {

Event Ev(EventKind kind, std::string task, std::string status = "", int attempt = 0) {
  Event e;
  e.run_id = "r1";
  e.time_us = 1000;
  e.kind = kind;
  e.task = std::move(task);
  e.status = std::move(status);
  e.attempt = attempt;
  return e;
}

RunRecord Run1() {
  RunRecord r;
  r.id = "r1";
  r.pipeline = "p";
  r.status = "pending";
  r.created_us = 1;
  return r;
}

// A fresh database of the engine the test is instantiated for.
class StorePipeline : public ::testing::TestWithParam<SqlEngine> {
 protected:
  void SetUp() override { SLUICE_REQUIRE_DB(t); }
  TempDb t{GetParam()};
};
INSTANTIATE_TEST_SUITE_P(Engine, StorePipeline,
                         ::testing::Values(SqlEngine::kSqlite, SqlEngine::kPostgres), EngineName);

// The number of events of `events` that are not where a commit in order without gaps puts
// them: seq i + 1 at index i, and after the run's creation the task named by `task_of(i)`.
template <typename TaskOf>
int Misplaced(const std::vector<Event>& events, TaskOf task_of, std::string* first) {
  int bad = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    const bool ok = events[i].seq == static_cast<int64_t>(i + 1) &&
                    (i == 0 || events[i].task == task_of(i));
    if (!ok && bad++ == 0) *first = fmt::format("#{}: seq {} task {}", i, events[i].seq, events[i].task);
  }
  return bad;
}

// A commit of thousands of events is one transaction of thousands of statements, which
// PostgreSQL receives as a pipeline synced every 1,024 statements: every event lands, numbered
// without a gap in the order appended, with its projections.
TEST_P(StorePipeline, ALargeCommitKeepsEveryEventInOrderWithoutGaps) {
  auto store = Store::Open(t.path());
  ASSERT_TRUE(store) << store.error().message;
  ASSERT_TRUE((*store)->CreateRun(Run1(), {}, Ev(EventKind::kRunCreated, "")));
  constexpr int kTasks = 1500;  // 3 events and 7 statements each
  auto name = [](size_t i) { return "t" + std::to_string(i); };
  for (int i = 0; i < kTasks; ++i) {
    (*store)->Append(Ev(EventKind::kAttemptStarted, name(i), "", 1));
    (*store)->Append(Ev(EventKind::kAttemptFinished, name(i), "succeeded", 1));
    (*store)->Append(Ev(EventKind::kTaskFinished, name(i), "succeeded", 1));
  }
  auto committed = (*store)->Commit();
  ASSERT_TRUE(committed) << committed.error().message;
  auto events = (*store)->LoadEvents("r1");
  ASSERT_TRUE(events) << events.error().message;
  ASSERT_EQ(events->size(), 1u + 3 * kTasks);
  std::string first;
  EXPECT_EQ(Misplaced(*events, [&](size_t i) { return name((i - 1) / 3); }, &first), 0) << first;
  EXPECT_EQ((*events)[3].kind, EventKind::kTaskFinished);
  EXPECT_EQ(t.Int("SELECT count(*) FROM tasks WHERE state='succeeded'"), kTasks);
  EXPECT_EQ(t.Int("SELECT count(*) FROM attempts WHERE status='succeeded'"), kTasks);
}

// A statement that fails in the middle of a commit (on PostgreSQL after a part of the pipeline
// was synced, with more sent behind it) fails the commit whole: none of its events or rows is
// kept, and the next commit's events follow the last committed one without a gap.
TEST_P(StorePipeline, AStatementFailingMidCommitLosesTheWholeCommitAndLeavesNoGap) {
  auto store = Store::Open(t.path());
  ASSERT_TRUE(store) << store.error().message;
  ASSERT_TRUE((*store)->CreateRun(Run1(), {}, Ev(EventKind::kRunCreated, "")));
  t.FailInserts("attempts", "no room for boom", "boom");
  for (int i = 0; i < 600; ++i) {  // 3 statements each: past the first sync
    (*store)->Append(Ev(EventKind::kAttemptStarted, "t" + std::to_string(i), "", 1));
  }
  (*store)->Append(Ev(EventKind::kAttemptStarted, "boom", "", 1));
  for (int i = 600; i < 700; ++i) {
    (*store)->Append(Ev(EventKind::kAttemptStarted, "t" + std::to_string(i), "", 1));
  }
  auto failed = (*store)->Commit();
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().message.find("no room for boom"), std::string::npos)
      << failed.error().message;
  EXPECT_EQ(t.Int("SELECT count(*) FROM events"), 1);
  EXPECT_EQ(t.Int("SELECT count(*) FROM tasks"), 0);
  EXPECT_EQ(t.Int("SELECT count(*) FROM attempts"), 0);
  (*store)->Append(Ev(EventKind::kAttemptStarted, "after", "", 1));
  auto next = (*store)->Commit();
  ASSERT_TRUE(next) << next.error().message;
  auto events = (*store)->LoadEvents("r1");
  ASSERT_TRUE(events) << events.error().message;
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[1].seq, 2);
  EXPECT_EQ((*events)[1].task, "after");
  EXPECT_EQ(t.Int("SELECT count(*) FROM attempts"), 1);
}

}  // namespace store_pipeline_test
}  // namespace sluice
