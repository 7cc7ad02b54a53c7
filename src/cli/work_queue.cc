// The work queue of a run, over the store (work_queue.h).
#include "cli/work_queue.h"

#include <cmath>

namespace sluice {

namespace {

// WorkQueue over one run's rows of the store's work table.
class StoreWorkQueue : public WorkQueue {
 public:
  StoreWorkQueue(Store& store, Clock& clock, std::string run_id, std::function<void()> queued)
      : store_(store), clock_(clock), run_id_(std::move(run_id)), queued_(std::move(queued)) {}

  Result<std::vector<int64_t>> Enqueue(std::span<const AttemptRequest> batch,
                                       const std::vector<std::string>& json) override {
    std::vector<WorkRow> rows;
    const int64_t now = clock_.NowUs();
    for (size_t k = 0; k < batch.size(); ++k) {
      const AttemptRequest& r = batch[k];
      WorkRow w;
      w.run_id = r.run_id;
      w.task = r.task;
      w.attempt = r.attempt;
      w.request = json[k];
      w.labels = r.labels;
      w.cpu_milli = std::llround(r.cpu * 1000);
      w.memory_bytes = std::llround(r.memory);
      w.gpu_milli = std::llround(r.gpu * 1000);
      w.created_us = now;
      w.ready_us = r.ready_us;
      rows.push_back(std::move(w));
    }
    auto ids = store_.EnqueueWork(rows);
    if (ids && queued_) queued_();
    return ids;
  }

  Result<std::vector<QueuedWork>> Ended() override {
    SLUICE_TRY(rows, store_.EndedWork(run_id_));
    std::vector<QueuedWork> out;
    for (auto& r : *rows) out.push_back({r.id, std::move(r.state), std::move(r.end)});
    return out;
  }

  Status Collected(const std::vector<int64_t>& ids) override { return store_.CollectWork(ids); }

  Status Cancel(int64_t id, const std::string& end_json) override {
    return store_.CancelWork(id, end_json);
  }

  Result<std::optional<QueuedWork>> Find(const std::string& task, int attempt) override {
    SLUICE_TRY(row, store_.FindWork(run_id_, task, attempt));
    if (!*row) return std::optional<QueuedWork>();
    return std::optional<QueuedWork>(QueuedWork{(*row)->id, (*row)->state, (*row)->end});
  }

 private:
  Store& store_;
  Clock& clock_;
  std::string run_id_;
  std::function<void()> queued_;
};

}  // namespace

std::unique_ptr<WorkQueue> NewStoreWorkQueue(Store& store, Clock& clock, const std::string& run_id,
                                             std::function<void()> queued) {
  return std::make_unique<StoreWorkQueue>(store, clock, run_id, std::move(queued));
}

std::string RunBellPath(Env& env, const GlobalOptions& g, const std::string& run_id) {
  return PathJoin(RunDir(env, g, run_id), "work.bell");
}

std::string ServerBellPath(Env& env, const GlobalOptions& g) {
  return env.files().Absolute(PathJoin(g.state_dir, "work.bell"));
}

bool HasWorkerTasks(const Plan& plan) {
  for (const PlanTask& t : plan.tasks) {
    if (t.on_worker()) return true;
  }
  return false;
}

Result<std::unique_ptr<WorkerPlane>> OpenWorkerPlane(Env& env, const GlobalOptions& g,
                                                     const std::string& run_id, Executor& local) {
  auto p = std::make_unique<WorkerPlane>();
  SLUICE_TRY(store, OpenStore(env, g, false));
  p->store = std::move(*store);
  // The server's lease requests wait on its bell: a ring after each commit of queued work
  // hands it to an idle worker at once rather than at the server's next look.
  p->queue = NewStoreWorkQueue(*p->store, env.clock(), run_id,
                               [&env, bell = ServerBellPath(env, g)] { env.RingBell(bell); });
  FileSystem& fs = env.files();
  p->queued = std::make_unique<WorkerQueueExecutor>(
      *p->queue, fs.Absolute(PathJoin(g.state_dir, "artifacts")),
      fs.Absolute(PathJoin(g.state_dir, "bundles")));
  p->routing = std::make_unique<RoutingExecutor>(local, *p->queued);
  // The server rings when it records ends: over PostgreSQL's NOTIFY when the store is one (a
  // server on any host), else on the run's bell socket; without either the loop polls.
  if (auto pg = Store::ListenEnds(g.store, run_id); pg && *pg) {
    p->bell = std::move(*pg);
  } else if (auto bell = env.ListenBell(RunBellPath(env, g, run_id))) {
    p->bell = std::move(*bell);
  }
  if (p->bell) p->routing->SetBell(p->bell.get());
  return p;
}

}  // namespace sluice
