// The engine's side of the work queue over a real store: attempts of executor: worker are
// queued rows, local ones processes, and each end, cancel and adoption follows the handle.
#include "cli/work_queue.h"

#include <gtest/gtest.h>

#include "env/fake_env.h"
#include "exec/local_executor.h"
#include "exec/work_codec.h"
#include "store/temp_db.h"

namespace sluice {
namespace work_queue_test {

AttemptRequest Request(std::string task, std::string executor) {
  AttemptRequest r;
  r.run_id = "r1";
  r.task = std::move(task);
  r.attempt = 1;
  r.argv = {"sh", "-c", "cat /srv/state/artifacts/sha256/ab/x/model"};
  r.executor = std::move(executor);
  r.labels = {{"gpu", "1"}};
  r.cpu = 1.5;
  r.params = {{"acc", WantedParam::Source::kFile, "acc", "", WantedParam::Type::kNumber, {}}};
  r.artifacts = {{"model", "model.bin"}};
  return r;
}

struct Plane {
  Plane() {
    auto s = Store::Open(db.path());
    EXPECT_TRUE(s) << s.error().message;
    store = std::move(*s);
    queue = NewStoreWorkQueue(*store, env.clock(), "r1");
    queued = std::make_unique<WorkerQueueExecutor>(*queue, "/srv/state/artifacts", "/srv/state/bundles");
    routing = std::make_unique<RoutingExecutor>(local, *queued);
  }
  TempDb db;  // SQLite: the store's engines are tested alike in store_work_test.cc
  FakeEnv env;
  LocalExecutor local{env, env.fake_processes, "/state/runs/r1", "/state/artifacts", {}};
  std::unique_ptr<Store> store;
  std::unique_ptr<WorkQueue> queue;
  std::unique_ptr<WorkerQueueExecutor> queued;
  std::unique_ptr<RoutingExecutor> routing;
};

TEST(WorkCodec, RequestsAndEndsSurviveTheirJsonForm) {
  AttemptRequest r = Request("t", "worker");
  r.env = {{"A", "1"}};
  r.working_dir = "/srv/state/bundles/x";
  auto back = RequestFromValue(*ParseJson(RequestToValue(r).ToJson()));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->argv, r.argv);
  EXPECT_EQ(back->env, r.env);
  EXPECT_EQ(back->labels, r.labels);
  EXPECT_EQ(back->cpu, 1.5);
  ASSERT_EQ(back->params.size(), 1u);
  EXPECT_EQ(back->params[0].type, WantedParam::Type::kNumber);
  EXPECT_EQ(back->artifacts[0].path, "model.bin");
  EXPECT_EQ(back->working_dir, r.working_dir);
  EXPECT_FALSE(RequestFromValue(*ParseJson(R"({"runId":"r","task":"t","attempt":1,"argv":[1]})")));

  AttemptEnd end;
  end.how = AttemptEnd::How::kExited;
  end.exit_code = 0;
  end.outputs = AttemptOutputs{Value(ValueMap{{"acc", Value(0.9)}}), {{"model", "ab12", 9, "/w/model.bin"}}};
  auto e = EndFromValue(*ParseJson(EndToValue(end).ToJson()), 7);
  ASSERT_TRUE(e && e->outputs && *e->outputs);
  EXPECT_EQ(e->handle, 7);
  EXPECT_EQ((*e->outputs)->params.ToJson(), R"({"acc":0.9})");
  EXPECT_EQ((*e->outputs)->artifacts[0].digest, "ab12");
  end.outputs = Result<AttemptOutputs>(Fail(ErrorCode::kInvalidInput, "no file acc"));
  e = EndFromValue(*ParseJson(EndToValue(end).ToJson()), 7);
  ASSERT_TRUE(e && e->outputs && !*e->outputs);
  EXPECT_EQ(e->outputs->error().message, "no file acc");
}

TEST(WorkQueueExecutor, WorkerAttemptsAreQueuedRowsAndLocalOnesProcesses) {
  Plane p;
  std::vector<AttemptRequest> batch = {Request("remote", "worker"), Request("here", "local")};
  auto handles = p.routing->Submit(batch);
  ASSERT_EQ(handles.size(), 2u);
  ASSERT_TRUE(handles[0] && handles[1]);
  EXPECT_TRUE(IsQueueHandle(*handles[0]));
  EXPECT_FALSE(IsQueueHandle(*handles[1]));
  EXPECT_EQ(p.env.fake_processes.spawned.size(), 1u) << "only the local attempt is a process";
  auto row = p.store->FindWork("r1", "remote", 1);
  ASSERT_TRUE(row && *row);
  EXPECT_EQ((*row)->state, "queued");
  EXPECT_EQ((*row)->cpu_milli, 1500);
  EXPECT_EQ((*row)->labels, batch[0].labels);
  EXPECT_NE((*row)->request.find("\"serverArtifacts\":\"/srv/state/artifacts\""), std::string::npos);
  EXPECT_TRUE(p.routing->Poll(0).ends.empty());

  // A worker leases it and reports its end: the next poll returns it under its handle, once.
  WorkerOffer o;
  o.worker = "w";
  o.slots = 1;
  o.labels = {{"gpu", "1"}};
  o.cpu_milli = o.memory_bytes = o.gpu_milli = -1;
  auto leased = p.store->LeaseWork(o, 50, 100, [] { return std::string("L1"); });
  ASSERT_EQ(leased->size(), 1u);
  AttemptEnd end;
  end.how = AttemptEnd::How::kExited;
  end.exit_code = 3;
  ASSERT_TRUE(p.store->EndWork("w", "L1", EndToValue(end).ToJson()));
  PollResult polled = p.routing->Poll(1'000'000);
  ASSERT_EQ(polled.ends.size(), 1u);
  EXPECT_EQ(polled.ends[0].handle, *handles[0]);
  EXPECT_EQ(polled.ends[0].exit_code, 3);
  p.routing->Recorded();
  EXPECT_TRUE(p.store->EndedWork("r1")->empty()) << "collected once recorded";
}

// A doorbell that counts its waits and rings.
class CountingBell : public Doorbell {
 public:
  bool Wait(int64_t timeout_us) override {
    ++waits;
    last_timeout_us = timeout_us;
    return rung;
  }
  int waits = 0;
  int64_t last_timeout_us = 0;
  bool rung = false;
};

TEST(WorkQueueExecutor, QueuedWorkRingsTheServerAndTheEngineWaitsOnItsBellWhileNothingRunsHere) {
  Plane p;
  int rings = 0;
  p.queue = NewStoreWorkQueue(*p.store, p.env.clock(), "r1", [&] { ++rings; });
  p.queued = std::make_unique<WorkerQueueExecutor>(*p.queue, "/a", "/b");
  p.routing = std::make_unique<RoutingExecutor>(p.local, *p.queued);
  CountingBell bell;
  p.routing->SetBell(&bell);
  std::vector<AttemptRequest> remote = {Request("remote", "worker")};
  ASSERT_TRUE(p.routing->Submit(remote)[0]);
  EXPECT_EQ(rings, 1) << "one ring per committed batch";
  EXPECT_TRUE(p.routing->Poll(120'000).ends.empty());
  EXPECT_GE(bell.waits, 1) << "only a worker runs something: the engine waits on its bell";
  EXPECT_LE(bell.last_timeout_us, RoutingExecutor::kBellFallbackUs);
  std::vector<AttemptRequest> here = {Request("here", "local")};
  ASSERT_TRUE(p.routing->Submit(here)[0]);
  EXPECT_EQ(rings, 1) << "a local attempt rings nobody";
  const int before = bell.waits;
  p.routing->Poll(20'000);
  EXPECT_EQ(bell.waits, before) << "a local attempt runs: the local executor's wait sees its end";
}

TEST(WorkQueueExecutor, CancelEndsAQueuedAttemptAndSecretsNeverReachTheQueue) {
  Plane p;
  AttemptRequest secret = Request("s", "worker");
  secret.secret_env = {{"TOKEN", "x"}};
  std::vector<AttemptRequest> batch = {Request("q", "worker"), secret};
  auto handles = p.routing->Submit(batch);
  ASSERT_TRUE(handles[0]);
  ASSERT_FALSE(handles[1]);
  EXPECT_NE(handles[1].error().message.find("secrets"), std::string::npos);
  EXPECT_FALSE(*p.store->FindWork("r1", "s", 1)) << "nothing of it was stored";
  p.routing->Cancel(*handles[0], StopMode::kTerminate);
  PollResult polled = p.routing->Poll(0);
  ASSERT_EQ(polled.ends.size(), 1u);
  EXPECT_EQ(polled.ends[0].how, AttemptEnd::How::kSignaled);
}

TEST(WorkQueueExecutor, AfterARestartAttemptsAreAdoptedEndedOrLostByTheirRows) {
  Plane p;
  std::vector<AttemptRequest> batch = {Request("waiting", "worker"), Request("done", "worker")};
  auto handles = p.routing->Submit(batch);
  WorkerOffer o;
  o.worker = "w";
  o.slots = 1;
  o.labels = {{"gpu", "1"}};
  o.cpu_milli = o.memory_bytes = o.gpu_milli = -1;
  auto leased = p.store->LeaseWork(o, 50, 100, [] { return std::string("L1"); });
  ASSERT_EQ((*leased)[0].task, "waiting");
  ASSERT_TRUE(p.store->ExpireLeases(200, R"({"how":"lost","message":"gone"})"));

  // A new engine process: a fresh executor over the same store.
  WorkerQueueExecutor again(*p.queue, "/a", "/b");
  LocalExecutor local{p.env, p.env.fake_processes, "/state/runs/r1", "/state/artifacts", {}};
  RoutingExecutor routing(local, again);
  std::vector<OpenAttempt> open = {{"r1", "waiting", 1, *handles[0], {}, {}},
                                   {"r1", "done", 1, 0, {}, {}},
                                   {"r1", "never", 1, kQueueHandleBit | 999, {}, {}}};
  std::vector<Adoption> got = routing.Adopt(open);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].verdict, Adoption::Verdict::kLost) << "its lease expired";
  EXPECT_EQ(got[0].end.message, "gone");
  EXPECT_EQ(got[1].verdict, Adoption::Verdict::kAdopted) << "still queued; a handle never recorded";
  EXPECT_TRUE(IsQueueHandle(got[1].handle));
  EXPECT_EQ(got[2].verdict, Adoption::Verdict::kLost) << "it never reached the queue";
}

}  // namespace work_queue_test
}  // namespace sluice
