// The leader's election and its loop (leader.h).
#include "server/leader.h"

#include "cli/cli_support.h"
#include "cli/prune.h"
#include "server/notifier.h"
#include "store/store.h"

namespace sluice {

namespace {

constexpr int64_t kLookUs = 1'000'000;           // between two looks at the runs
constexpr int64_t kFirstPauseUs = 2'000'000;     // before an engine is started again
constexpr int64_t kLongestPauseUs = 300'000'000;
constexpr int64_t kPruneEveryUs = 3'600'000'000;  // --retention: between two prunes
constexpr int kPruneBatch = 100;  // runs a tick prunes at most, so engines and fires wait little

}  // namespace

void Leader::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void Leader::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Leader::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    l.unlock();
    const bool was = leading_.load();
    const bool now = Elect();
    leading_ = now;
    if (now != was) {
      ctx_.Log(now ? "leading: this server keeps the runs going" : "no longer leading");
    }
    if (now) {
      KeepRunsGoing();
      FireSchedules();  // schedules (issue 13): scheduler.cc
      PruneWhenDue();
      if (ctx_.notifier) {  // notifications (issue 13): notifier.h
        if (auto store = ctx_.ThreadStore()) ctx_.notifier->Enqueue(**store);
      }
    }
    if (!now) {
      idle_.clear();  // a new leader looks afresh
      next_prune_us_ = 0;
    }
    l.lock();
    wake_.wait_for(l, std::chrono::microseconds(kLookUs), [this] { return stop_; });
  }
  leading_ = false;
  file_lock_.reset();
}

// Takes or keeps the leadership: the store's lock on PostgreSQL, a file lock beside a SQLite
// store. An error of the store (PostgreSQL down) means not leading until it answers again.
bool Leader::Elect() {
  auto store = ctx_.ThreadStore();
  if (!store) return false;
  auto held = (*store)->HoldLeadership();
  if (held) return *held;
  if (held.error().code != ErrorCode::kInvalidInput) return false;
  if (!file_lock_) {  // a SQLite store
    auto lock = ctx_.env.TryLock(PathJoin(ctx_.g.state_dir, "leader.lock"),
                                 std::to_string(ctx_.env.Pid()));
    if (lock && *lock) file_lock_ = std::move(*lock);
  }
  return file_lock_ != nullptr;
}

// Every unfinished run a server started, with no engine for two looks in a row, gets one.
void Leader::KeepRunsGoing() {
  auto store = ctx_.ThreadStore();
  if (!store) return;
  auto ids = (*store)->UnfinishedRunIds();
  if (!ids) return;
  std::map<std::string, Idle> seen;
  const int64_t now = ctx_.env.clock().NowUs();
  for (const auto& id : *ids) {
    const std::string dir = RunDir(ctx_.env, ctx_.g, id);
    if (!ServedRun(ctx_, id)) continue;  // a CLI run
    auto known = idle_.find(id);
    Idle idle = known != idle_.end() ? known->second : Idle{};
    if (ctx_.env.IsLocked(PathJoin(dir, "lock"), nullptr)) {  // executing
      if (idle.started) {
        ctx_.Log(fmt::format("run {}: the engine started for it runs it", id), {{"run", Value(id)}});
      }
      idle.looks = 0;  // the pause is kept: the engine may yet end without finishing
      idle.started = false;
      seen[id] = idle;
      continue;
    }
    if (++idle.looks >= 2 && idle.started) {  // it ended without taking the run's lock
      idle.started = false;
      ctx_.Log(fmt::format("run {}: the engine started for it ended without running it (see {}); "
                           "starting one again in {} s", id, PathJoin(dir, kEngineLog),
                           std::max<int64_t>(0, idle.retry_at_us - now) / 1'000'000),
               {{"run", Value(id)}});
    }
    if (idle.looks >= 2 && now >= idle.retry_at_us) StartEngineFor(id, idle);
    seen[id] = idle;
  }
  idle_ = std::move(seen);  // finished runs are forgotten
}

void Leader::StartEngineFor(const std::string& run_id, Idle& idle) {
  const int64_t now = ctx_.env.clock().NowUs();
  // Whether the engine took the run is logged once a later look knows (KeepRunsGoing).
  auto s = StartEngine(ctx_, run_id);
  ctx_.Log(fmt::format("run {} had no engine: {}", run_id,
                       s ? "starting one" : "cannot start one: " + s.error().message),
           {{"run", Value(run_id)}});
  idle.started = static_cast<bool>(s);
  // Should that engine end without finishing the run, the next one waits longer.
  idle.pause_us = idle.pause_us == 0 ? kFirstPauseUs : std::min(idle.pause_us * 2, kLongestPauseUs);
  idle.retry_at_us = now + idle.pause_us;
  idle.looks = 0;
}

void Leader::PruneWhenDue() {
  const int64_t now = ctx_.env.clock().NowUs();
  if ((ctx_.retention_us <= 0 && ctx_.retention_by_ns.empty()) || now < next_prune_us_) return;
  next_prune_us_ = now + kPruneEveryUs;
  auto store = ctx_.ThreadStore();
  if (!store) return;
  PruneOptions o;
  o.older_than_us = ctx_.retention_us;
  o.namespace_older_than_us = ctx_.retention_by_ns;
  o.max_runs = kPruneBatch;
  o.actor = "sluice";
  o.reason = "the server's retention";
  auto report = PruneRuns(ctx_.env, ctx_.g, **store, o);
  if (!report) {
    ctx_.Log("retention: " + report.error().message);
    return;
  }
  if (report->more) next_prune_us_ = now;  // the rest of a backlog at the next tick
  for (const auto& w : report->warnings) ctx_.Log("retention: " + w);
  if (!report->pruned.empty() || report->artifacts_removed > 0) {
    ctx_.Log(fmt::format("retention: pruned {} runs, collected {} artifacts",
                         report->pruned.size(), report->artifacts_removed),
             {{"pruned", Value(static_cast<int64_t>(report->pruned.size()))},
              {"artifacts", Value(int64_t{report->artifacts_removed})}});
  }
}

}  // namespace sluice
