// The work queue of sluice server's workers (store/work.h), on both engines: leases go to the
// worker that fits, once; heartbeats extend only what a worker holds; a result for a lease that
// expired is refused; the engine collects ends once.
#include <gtest/gtest.h>

#include "store/store.h"
#include "store/temp_db.h"

namespace sluice {
namespace store_work_test {

WorkRow Row(const std::string& task, std::vector<std::pair<std::string, std::string>> labels = {},
            int64_t cpu_milli = 0) {
  WorkRow w;
  w.run_id = "r1";
  w.task = task;
  w.attempt = 1;
  w.request = "{\"task\":\"" + task + "\"}";
  w.labels = std::move(labels);
  w.cpu_milli = cpu_milli;
  w.created_us = 1;
  return w;
}

WorkerOffer Offer(const std::string& worker, int slots,
                  std::vector<std::pair<std::string, std::string>> labels = {}) {
  WorkerOffer o;
  o.worker = worker;
  o.slots = slots;
  o.labels = std::move(labels);
  o.cpu_milli = o.memory_bytes = o.gpu_milli = -1;
  return o;
}

class StoreWork : public ::testing::TestWithParam<SqlEngine> {
 protected:
  void SetUp() override {
    SLUICE_REQUIRE_DB(db);
    auto s = Store::Open(db.path());
    ASSERT_TRUE(s) << s.error().message;
    store = std::move(*s);
  }
  std::function<std::string()> Leases() {
    return [this] { return "lease-" + std::to_string(++serial); };
  }
  TempDb db{GetParam()};
  std::unique_ptr<Store> store;
  int serial = 0;
};
INSTANTIATE_TEST_SUITE_P(Engine, StoreWork,
                         ::testing::Values(SqlEngine::kSqlite, SqlEngine::kPostgres), EngineName);

TEST(WorkMatching, AWorkerMustHaveEveryLabelAndTheFreeCapacity) {
  WorkRow gpu = Row("t", {{"gpu", "1"}, {"zone", "eu"}}, 2000);
  WorkerOffer o = Offer("w", 1, {{"gpu", "1"}, {"os", "linux"}, {"zone", "eu"}});
  EXPECT_TRUE(FitsWorker(gpu, o));
  o.cpu_milli = 1000;
  EXPECT_FALSE(FitsWorker(gpu, o)) << "two cpus asked, one free";
  o.cpu_milli = -1;
  EXPECT_FALSE(FitsWorker(gpu, Offer("w", 1, {{"gpu", "1"}, {"zone", "us"}}))) << "other value";
  EXPECT_FALSE(FitsWorker(gpu, Offer("w", 1, {{"gpu", "1"}}))) << "a label missing";
  EXPECT_FALSE(FitsWorker(gpu, Offer("w", 0, {{"gpu", "1"}, {"zone", "eu"}}))) << "no free slot";
  EXPECT_TRUE(FitsWorker(Row("plain"), Offer("w", 1))) << "no labels asked: any worker";
}

TEST_P(StoreWork, LeasesGoOldestFirstToTheWorkerThatFitsAndOnlyOnce) {
  auto ids = store->EnqueueWork({Row("a"), Row("gpu", {{"gpu", "1"}}), Row("b")});
  ASSERT_TRUE(ids) << ids.error().message;
  ASSERT_EQ(ids->size(), 3u);
  auto again = store->EnqueueWork({Row("a")});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  auto plain = store->LeaseWork(Offer("w1", 5), 50, 100, Leases());
  ASSERT_TRUE(plain) << plain.error().message;
  ASSERT_EQ(plain->size(), 2u) << "the gpu task waits for a gpu worker";
  EXPECT_EQ((*plain)[0].task, "a");
  EXPECT_EQ((*plain)[1].task, "b");
  EXPECT_EQ((*plain)[0].state, "leased");
  EXPECT_TRUE(store->LeaseWork(Offer("w2", 5), 50, 100, Leases())->empty());
  auto gpu = store->LeaseWork(Offer("w2", 5, {{"gpu", "1"}}), 50, 100, Leases());
  ASSERT_EQ(gpu->size(), 1u);
  EXPECT_EQ((*gpu)[0].worker, "w2");
  EXPECT_EQ(*store->QueuedWork(), 0);
}

TEST_P(StoreWork, CapacityIsTakenByEachGrantBeforeTheNext) {
  ASSERT_TRUE(store->EnqueueWork({Row("a", {}, 1500), Row("b", {}, 1500), Row("c", {}, 500)}));
  WorkerOffer o = Offer("w", 4);
  o.cpu_milli = 2000;
  auto got = store->LeaseWork(o, 50, 100, Leases());
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].task, "a");
  EXPECT_EQ((*got)[1].task, "c") << "b does not fit the 0.5 cpu a leaves";
}

TEST_P(StoreWork, HeartbeatsExtendHeldLeasesAndNameWhatToKill) {
  auto ids = store->EnqueueWork({Row("a"), Row("b")});
  auto got = store->LeaseWork(Offer("w1", 2), 50, 100, Leases());
  ASSERT_EQ(got->size(), 2u);
  const std::string a = (*got)[0].lease, b = (*got)[1].lease;
  ASSERT_TRUE(store->CancelWork((*ids)[1], "{}"));
  auto hb = store->Heartbeat("w1", {a, b, "lease-unknown"}, 500);
  ASSERT_TRUE(hb) << hb.error().message;
  EXPECT_EQ(hb->extended, (std::vector<std::string>{a, b}));
  EXPECT_EQ(hb->kill, (std::vector<std::string>{b, "lease-unknown"})) << "cancelled, and not its own";
  auto other = store->Heartbeat("w2", {a}, 900);
  EXPECT_EQ(other->kill, std::vector<std::string>{a}) << "another worker's lease is not extended";
  EXPECT_EQ(*store->ExpireLeases(400, "{\"how\":\"lost\"}"), 0) << "extended to 500";
}

TEST_P(StoreWork, AnExpiredLeaseIsLostAndItsLateResultRefused) {
  ASSERT_TRUE(store->EnqueueWork({Row("a")}));
  auto got = store->LeaseWork(Offer("w1", 1), 50, 100, Leases());
  const std::string lease = (*got)[0].lease;
  ASSERT_TRUE(store->GraceLeases(300));  // a server that starts gives it a full lease time
  EXPECT_EQ(*store->ExpireLeases(200, "{\"how\":\"lost\"}"), 0);
  EXPECT_EQ(*store->ExpireLeases(301, "{\"how\":\"lost\",\"message\":\"no heartbeat\"}"), 1);
  auto late = store->EndWork("w1", lease, "{\"how\":\"exited\"}");
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, ErrorCode::kConflict);
  auto hb = store->Heartbeat("w1", {lease}, 900);
  EXPECT_EQ(hb->kill, std::vector<std::string>{lease}) << "the worker must kill it";
  auto ended = store->EndedWork("r1");
  ASSERT_EQ(ended->size(), 1u);
  EXPECT_EQ((*ended)[0].state, "lost");
  EXPECT_EQ((*ended)[0].end, "{\"how\":\"lost\",\"message\":\"no heartbeat\"}");
}

TEST_P(StoreWork, EndsAreCollectedOnceAndACancelledQueuedRowEndsAtOnce) {
  auto ids = store->EnqueueWork({Row("a"), Row("b")});
  auto got = store->LeaseWork(Offer("w1", 1), 50, 100, Leases());
  ASSERT_EQ(got->size(), 1u);
  auto end = store->EndWork("w1", (*got)[0].lease, "{\"how\":\"exited\",\"exitCode\":0}");
  ASSERT_TRUE(end) << end.error().message;
  EXPECT_EQ(end->task, "a");
  ASSERT_TRUE(store->CancelWork((*ids)[1], "{\"how\":\"signaled\"}"));
  auto ended = store->EndedWork("r1");
  ASSERT_EQ(ended->size(), 2u);
  EXPECT_EQ((*ended)[1].end, "{\"how\":\"signaled\"}");
  ASSERT_TRUE(store->CollectWork({(*ended)[0].id, (*ended)[1].id}));
  EXPECT_TRUE(store->EndedWork("r1")->empty());
  auto found = store->FindWork("r1", "a", 1);
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->state, "ended");
  EXPECT_FALSE(*store->FindWork("r1", "a", 2));
}

TEST_P(StoreWork, ABatchOfEndsIsRecordedTogetherAndRefusesOnlyLeasesNoLongerHeld) {
  ASSERT_TRUE(store->EnqueueWork({Row("a"), Row("b"), Row("c")}));
  auto got = store->LeaseWork(Offer("w1", 3), 50, 100, Leases());
  ASSERT_EQ(got->size(), 3u);
  auto ends = store->EndWorks("w1", {{(*got)[0].lease, "{\"how\":\"exited\"}"},
                                     {"lease-unknown", "{}"},
                                     {(*got)[2].lease, "{\"how\":\"signaled\"}"}});
  ASSERT_TRUE(ends) << ends.error().message;
  ASSERT_EQ(ends->size(), 3u);
  ASSERT_TRUE((*ends)[0]);
  EXPECT_EQ((*ends)[0]->task, "a");
  ASSERT_FALSE((*ends)[1]);
  EXPECT_EQ((*ends)[1].error().code, ErrorCode::kConflict);
  ASSERT_TRUE((*ends)[2]);
  auto ended = store->EndedWork("r1");
  ASSERT_EQ(ended->size(), 2u) << "b is still leased";
  EXPECT_EQ((*ended)[0].task, "a");
  EXPECT_EQ((*ended)[1].task, "c");
  EXPECT_EQ((*ended)[1].end, "{\"how\":\"signaled\"}");
}

// The lease query filters in SQL and reads in pages: a worker finds what fits past more rows
// that do not than one page holds, and gets each granted row whole (its request included).
TEST_P(StoreWork, ALeaseFindsWhatFitsPastAPageOfRowsThatDoNot) {
  std::vector<WorkRow> rows;
  for (int k = 0; k < 40; ++k) rows.push_back(Row("gpu" + std::to_string(k), {{"gpu", "1"}}));
  rows.push_back(Row("big", {}, 4000));
  rows.push_back(Row("p1"));
  rows.push_back(Row("p2"));
  ASSERT_TRUE(store->EnqueueWork(rows));
  WorkerOffer plain = Offer("w1", 1);
  plain.cpu_milli = 2000;
  auto got = store->LeaseWork(plain, 50, 100, Leases());
  ASSERT_TRUE(got) << got.error().message;
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].task, "p1") << "past 40 rows asking for a label and one asking 4 cpus";
  EXPECT_EQ((*got)[0].request, "{\"task\":\"p1\"}");
  EXPECT_EQ((*got)[0].state, "leased");
  EXPECT_EQ((*got)[0].worker, "w1");
  EXPECT_EQ((*got)[0].lease, "lease-1");
  EXPECT_EQ((*got)[0].lease_expires_us, 100);
  auto gpu = store->LeaseWork(Offer("w2", 50, {{"gpu", "1"}}), 50, 100, Leases());
  ASSERT_TRUE(gpu) << gpu.error().message;
  ASSERT_EQ(gpu->size(), 42u) << "every gpu row, then big and p2 (its cpu is unbounded)";
  EXPECT_EQ(gpu->back().task, "p2");
  ASSERT_EQ((*gpu)[0].labels.size(), 1u);
  EXPECT_EQ((*gpu)[0].labels[0].first, "gpu");
  EXPECT_EQ(*store->QueuedWork(), 0);
}

// ready -> start (store/ready_to_start.h): a lease adds each grant's wait since its ready time;
// an engine's samples are written with its next commit of events.
TEST_P(StoreWork, GrantsAndEnginesAddTheirReadyToStartToTheHistogram) {
  WorkRow a = Row("a"), b = Row("b"), c = Row("c");
  a.ready_us = 49'000;  // 1 ms before the grant: the first bucket (le 1 ms holds 1 ms)
  b.ready_us = 30'000;  // 20 ms: le 25 ms
  ASSERT_TRUE(store->EnqueueWork({a, b, c}));
  ASSERT_TRUE(store->LeaseWork(Offer("w1", 3), 50'000, 900'000, Leases()));
  auto h = store->ReadyToStart();
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(h->samples[0], 1);
  EXPECT_EQ(h->samples[4], 1);
  int64_t total = 0, sum = 0;
  for (size_t k = 0; k < h->samples.size(); ++k) {
    total += h->samples[k];
    sum += h->sum_us[k];
  }
  EXPECT_EQ(total, 2) << "c's ready time is not known: no sample";
  EXPECT_EQ(sum, 21'000);

  RunRecord run;
  run.id = "r1";
  run.pipeline = "p";
  run.status = "pending";
  run.created_us = 1;
  Event created;
  created.run_id = "r1";
  created.kind = EventKind::kRunCreated;
  ASSERT_TRUE(store->CreateRun(run, {}, created));
  store->ObserveReadyToStart(3'000'000);
  store->ObserveReadyToStart(60'000'000);
  EXPECT_EQ(store->ReadyToStart()->samples[11], 0) << "not before the engine commits";
  Event spawned = created;
  spawned.kind = EventKind::kAttemptSpawned;
  store->Append(spawned);
  ASSERT_TRUE(store->Commit());
  ReadyToStartHistogram more;
  more.Add(3'000'000);
  ASSERT_TRUE(store->AddReadyToStart(more));
  h = store->ReadyToStart();
  EXPECT_EQ(h->samples[11], 2) << "le 5 s";
  EXPECT_EQ(h->samples[13], 1) << "above 10 s";
  EXPECT_EQ(h->sum_us[13], 60'000'000);
  EXPECT_EQ(h->samples[0], 1) << "kept";
}

TEST_P(StoreWork, WorkersAreFoundAndCountedBySinceWhenTheyWereSeen) {
  ASSERT_TRUE(store->RegisterWorker({"w-1", "host", "0.1.0", "{}", 4, 10, 10, "robot"}));
  ASSERT_TRUE(store->RegisterWorker({"w-2", "host", "0.1.0", "{}", 4, 10, 50, "robot"}));
  ASSERT_TRUE(store->RegisterWorker({"w-1", "host", "0.1.0", "{}", 2, 10, 60, "robot"}));
  EXPECT_EQ(*store->CountWorkers(40), 2);
  EXPECT_EQ(*store->CountWorkers(55), 1);
  ASSERT_TRUE(store->TouchWorker("w-2", 70));
  EXPECT_EQ(*store->CountWorkers(65), 1);
  auto w = store->FindWorker("w-1");
  ASSERT_TRUE(w && *w);
  EXPECT_EQ((*w)->slots, 2);
  EXPECT_FALSE(*store->FindWorker("w-9"));
}

// A batch is queued in one transaction whose ids are read back after its inserts: each row
// gets its own id in the batch's order, and an attempt queued already (before, or twice in the
// batch) fails the whole batch.
TEST_P(StoreWork, ABatchGetsItsIdsInOrderAndAnAttemptQueuedTwiceFailsItWhole) {
  auto first = store->EnqueueWork({Row("a"), Row("b")});
  ASSERT_TRUE(first) << first.error().message;
  auto ids = store->EnqueueWork({Row("d"), Row("c")});
  ASSERT_TRUE(ids) << ids.error().message;
  ASSERT_EQ(ids->size(), 2u);
  EXPECT_LT((*first)[1], (*ids)[0]);
  EXPECT_LT((*ids)[0], (*ids)[1]);
  EXPECT_EQ((*store->FindWork("r1", "d", 1))->id, (*ids)[0]);
  EXPECT_EQ((*store->FindWork("r1", "c", 1))->id, (*ids)[1]);
  auto again = store->EnqueueWork({Row("e"), Row("a")});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  auto twice = store->EnqueueWork({Row("f"), Row("f")});
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code, ErrorCode::kConflict);
  EXPECT_FALSE(*store->FindWork("r1", "e", 1));
  EXPECT_FALSE(*store->FindWork("r1", "f", 1));
  EXPECT_EQ(*store->QueuedWork(), 4);
}

// Work queued and ends recorded NOTIFY the listeners of other connections (a server or an
// engine on another host) when their transactions commit; a rolled-back one tells no one. The
// waits are bounds on a failure, not timings: a listener returns as soon as it is rung.
TEST(StorePostgresWork, QueuedWorkAndRecordedEndsRingTheirListeners) {
  TempDb t(SqlEngine::kPostgres);
  SLUICE_REQUIRE_DB(t);
  auto store = Store::Open(t.path());
  ASSERT_TRUE(store) << store.error().message;
  auto work = Store::ListenWork(t.path());
  auto ends = Store::ListenEnds(t.path(), "r1");
  auto others = Store::ListenEnds(t.path(), "r2");
  ASSERT_TRUE(work && *work && ends && *ends && others && *others);
  EXPECT_FALSE((*work)->Wait(0));
  ASSERT_TRUE((*store)->EnqueueWork({Row("a"), Row("b")}));
  EXPECT_TRUE((*work)->Wait(10'000'000));
  EXPECT_FALSE((*store)->EnqueueWork({Row("a")}));  // a conflict: rolled back
  auto got = (*store)->LeaseWork(Offer("w1", 2), 50, 100, [n = 0]() mutable { return "l" + std::to_string(++n); });
  ASSERT_TRUE(got) << got.error().message;
  ASSERT_EQ(got->size(), 2u);
  EXPECT_FALSE((*ends)->Wait(0));
  ASSERT_TRUE((*store)->EndWorks("w1", {{"l1", "{}"}}));
  EXPECT_TRUE((*ends)->Wait(10'000'000));
  EXPECT_FALSE((*work)->Wait(300'000)) << "the rolled-back batch rang";
  EXPECT_FALSE((*others)->Wait(0));
  auto lite = Store::ListenWork(TempDb().path());
  ASSERT_TRUE(lite);
  EXPECT_FALSE(*lite) << "SQLite has no notifications";
}

}  // namespace store_work_test
}  // namespace sluice
