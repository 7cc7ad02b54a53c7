// The notifications' outbox (store_notifications.cc), on both engines: the watermark starts at
// the newest event, moves only with the rows it enqueues and only from where it was read, a
// row is never enqueued twice, and attempts are recorded.
#include <gtest/gtest.h>

#include "store/store.h"
#include "store/temp_db.h"

namespace sluice {
namespace store_notifications_test {

class StoreNotifications : public ::testing::TestWithParam<SqlEngine> {
 protected:
  void SetUp() override { SLUICE_REQUIRE_DB(db); }
  // A run with its run.created event, then `finished` (a run.finished with that status) if set.
  void AddRun(Store& store, const std::string& id, const std::string& finished = "") {
    RunRecord r;
    r.id = id;
    r.pipeline = "p";
    r.status = "pending";
    Event created;
    created.run_id = id;
    created.kind = EventKind::kRunCreated;
    ASSERT_TRUE(store.CreateRun(r, {}, created));
    if (finished.empty()) return;
    Event done;
    done.run_id = id;
    done.kind = EventKind::kRunFinished;
    done.status = finished;
    store.Append(done);
    ASSERT_TRUE(store.Commit());
  }
  static NotificationRow Row(const std::string& hook, const std::string& source) {
    NotificationRow r;
    r.hook = hook;
    r.event = "run.failed";
    r.source = source;
    r.run_id = "r1";
    r.payload = R"({"text":"run r1 failed"})";
    r.created_us = 10;
    r.next_us = 10;
    return r;
  }
  TempDb db{GetParam()};
};
INSTANTIATE_TEST_SUITE_P(Engine, StoreNotifications,
                         ::testing::Values(SqlEngine::kSqlite, SqlEngine::kPostgres), EngineName);

TEST_P(StoreNotifications, TheWatermarkStartsAtTheNewestEventSoThePastIsNotTold) {
  auto store = Store::Open(db.path());
  ASSERT_TRUE(store) << store.error().message;
  AddRun(**store, "old", "failed");
  auto w = (*store)->NotificationWatermark();
  ASSERT_TRUE(w) << w.error().message;
  EXPECT_EQ(w->event_seq, 2);
  EXPECT_EQ(w->breaker_seq, 0);
  AddRun(**store, "new", "failed");
  auto again = (*store)->NotificationWatermark();
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *w) << "a later look keeps the stored watermark";
  auto events = (*store)->NotableEvents(w->event_seq, 100, 10);
  ASSERT_TRUE(events) << events.error().message;
  ASSERT_EQ(events->size(), 1u) << "run.created is not notable";
  EXPECT_EQ((*events)[0].run_id, "new");
  EXPECT_EQ((*events)[0].status, "failed");
  EXPECT_EQ((*events)[0].seq, 4);
}

TEST_P(StoreNotifications, EnqueueMovesTheWatermarkOnlyFromWhereItWasRead) {
  auto store = Store::Open(db.path());
  ASSERT_TRUE(store) << store.error().message;
  auto w = (*store)->NotificationWatermark();
  ASSERT_TRUE(w);
  NotifyWatermark to{5, 1};
  ASSERT_TRUE((*store)->EnqueueNotifications(*w, to, {Row("a", "event:5"), Row("b", "event:5")}));
  auto stale = (*store)->EnqueueNotifications(*w, {9, 1}, {Row("a", "event:9")});
  ASSERT_FALSE(stale) << "a deposed leader's pass stores nothing";
  EXPECT_EQ(stale.error().code, ErrorCode::kConflict);
  EXPECT_EQ(*(*store)->NotificationWatermark(), to);
  ASSERT_TRUE((*store)->EnqueueNotifications(to, {6, 1}, {Row("a", "event:5")}))
      << "a row enqueued again is ignored, not an error";
  auto rows = (*store)->ListNotifications(false, 10);
  ASSERT_TRUE(rows) << rows.error().message;
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].hook, "b") << "newest first";
  EXPECT_EQ((*rows)[1].payload, R"({"text":"run r1 failed"})");
  EXPECT_EQ((*rows)[1].state, "pending");
}

TEST_P(StoreNotifications, AttemptsAreRecordedAndOnlyDueRowsAreGiven) {
  auto store = Store::Open(db.path());
  ASSERT_TRUE(store) << store.error().message;
  auto w = (*store)->NotificationWatermark();
  ASSERT_TRUE(w);
  ASSERT_TRUE((*store)->EnqueueNotifications(*w, {1, 0}, {Row("a", "event:1"), Row("b", "event:1")}));
  auto due = (*store)->DueNotifications(10, 10);
  ASSERT_TRUE(due) << due.error().message;
  ASSERT_EQ(due->size(), 2u);
  NotificationRow retry = (*due)[0];
  retry.attempts = 1;
  retry.last_status = 503;
  retry.last_error = "the hook answered 503";
  retry.next_us = 1000;
  ASSERT_TRUE((*store)->RecordAttempt(retry));
  NotificationRow failed = (*due)[1];
  failed.attempts = 1;
  failed.last_status = 400;
  failed.state = "failed";
  ASSERT_TRUE((*store)->RecordAttempt(failed));
  EXPECT_TRUE((*store)->DueNotifications(999, 10)->empty());
  due = (*store)->DueNotifications(1000, 10);
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].attempts, 1);
  EXPECT_EQ((*due)[0].last_status, 503);
  EXPECT_EQ((*due)[0].last_error, "the hook answered 503");
  NotificationRow done = (*due)[0];
  done.state = "delivered";
  done.attempts = 2;
  done.last_status = 200;
  done.last_error = "";
  done.delivered_us = 1001;
  ASSERT_TRUE((*store)->RecordAttempt(done));
  done.state = "pending";  // a late second recorder cannot reopen it
  ASSERT_TRUE((*store)->RecordAttempt(done));
  EXPECT_TRUE((*store)->DueNotifications(5000, 10)->empty());
  auto failed_only = (*store)->ListNotifications(true, 10);
  ASSERT_EQ(failed_only->size(), 1u);
  EXPECT_EQ((*failed_only)[0].hook, "b");
  EXPECT_EQ((*store)->ListNotifications(false, 10)->front().delivered_us, 0)
      << "newest first: b, which failed";
  EXPECT_EQ((*store)->ListNotifications(false, 10)->back().delivered_us, 1001);
}

TEST_P(StoreNotifications, OnlyTransitionsToOpenAreGiven) {
  auto store = Store::Open(db.path());
  ASSERT_TRUE(store) << store.error().message;
  auto w = (*store)->NotificationWatermark();
  ASSERT_TRUE(w);
  auto open = [](std::string& data) -> Result<std::vector<BreakerTransitionRow>> {
    data = "{}";
    return std::vector<BreakerTransitionRow>{{"", "closed", "open", "failure rate 75%", "r/t#1", 0},
                                             {"", "open", "half-open", "cool-down", "r/t#1", 0}};
  };
  ASSERT_TRUE((*store)->UpdateBreaker("reg", 10, open));
  auto last = (*store)->LastBreakerTransitionSeq();
  ASSERT_TRUE(last);
  auto ts = (*store)->OpeningTransitions(w->breaker_seq, *last, 10);
  ASSERT_TRUE(ts) << ts.error().message;
  ASSERT_EQ(ts->size(), 1u);
  EXPECT_EQ((*ts)[0].second.name, "reg");
  EXPECT_EQ((*ts)[0].second.reason, "failure rate 75%");
  EXPECT_EQ((*ts)[0].first, w->breaker_seq + 1);
}

}  // namespace store_notifications_test
}  // namespace sluice
