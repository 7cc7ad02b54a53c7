// The Decider and central pools (interfaces.h, CentralPools; docs/pools.md): units are taken
// before an attempt starts and given back once it ended, in the store every engine of the
// state folder or server shares. A run's spec.resources are taken before it decides anything
// and given back when it ends (ReleaseAllCentralPools).
//
// Design: what an instance holds is kept in `pool_held_` with the attempt that holds it; at
// the start of each turn, holders whose attempt is no longer open (ended, cancelled, lost, or
// never started: a cache hit, a breaker) give their units back. A refused pool is asked again
// after kPoolPollUs (NextDueUs wakes the loop then), not on every turn: a run whose tasks wait
// costs the store a transaction per poll, not one per event. Rejected: giving units back in
// the transaction that records the attempt's end (ends are published later, from the
// journal, which would hold pools for up to its publishing delay and tie the journal to the
// pools); a process that dies leaves its rows, which AdoptCentralPools (on resume) or another
// run's reclaim (store-side: the run's engine is gone) settles.
#include "engine/decider.h"

#include "common/strings.h"

namespace sluice {

namespace {

constexpr int64_t kPoolPollUs = 200'000;

}  // namespace

Decider::PoolTake Decider::TakeCentralPools(int i) {
  const PlanTask& t = state_.task_of(i);
  const Instance& in = state_.at(i);
  for (const auto& [pool, units] : t.central_pools()) {
    if (pool_retry_at_.count(pool)) {  // refused less than a poll ago
      pool_wait_ = true;
      return PoolTake::kWait;
    }
  }
  if (!ctx_.pools) {
    FailTask(i, ErrorClass::kUnschedulable, 0,
             fmt::format("task {} asks for central pool {}, which this engine has no store of",
                         Quote(in.name), Quote(t.central_pools().front().first)));
    return PoolTake::kFailed;
  }
  auto took = ctx_.pools->Acquire(in.name, in.attempt + 1, in.ready_us, t.central_pools(), now_);
  if (!took) {
    if (took.error().code == ErrorCode::kInvalidInput) {  // the pools file changed
      FailTask(i, ErrorClass::kUnschedulable, 0, took.error().message);
    } else {
      rec_.Fail(took.error());  // the store failed: the run stops, as for breakers
    }
    return PoolTake::kFailed;
  }
  if (!*took) {
    for (const auto& [pool, units] : t.central_pools()) pool_retry_at_[pool] = now_ + kPoolPollUs;
    pool_wait_ = true;
    return PoolTake::kWait;
  }
  return PoolTake::kTaken;
}

// After StartAttempt: an attempt that started holds the units until it ends; an instance
// settled without one (cache hit, breaker open, bad expression) gives them back now.
void Decider::HeldCentralPools(int i) {
  const Instance& in = state_.at(i);
  if (in.attempt_open) {
    pool_held_[i] = in.attempt;
    return;
  }
  if (auto st = ctx_.pools->Release(in.name); !st) rec_.Fail(st.error());
}

void Decider::ReleaseCentralPools() {
  for (auto it = pool_held_.begin(); it != pool_held_.end();) {
    const Instance& in = state_.at(it->first);
    if (in.attempt_open && in.attempt == it->second) {
      ++it;
      continue;
    }
    if (auto st = ctx_.pools->Release(in.name); !st) {
      rec_.Fail(st.error());
      return;
    }
    // What waited for these pools in this run may ask again at once.
    for (const auto& [pool, units] : state_.task_of(it->first).central_pools()) {
      pool_retry_at_.erase(pool);
    }
    it = pool_held_.erase(it);
  }
}

// The run's own hold has the holder name CentralPools::kRunHolder, which no task can have. Its
// place in the queues is the run's first start, so a resumed run that had not taken it yet
// keeps its place.
bool Decider::TakeRunPools() {
  const auto& units = plan_.pipeline->run_pools;
  for (const auto& [pool, n] : units) {
    if (pool_retry_at_.count(pool)) {  // refused less than a poll ago
      pool_wait_ = true;
      return false;
    }
  }
  run_pools_held_ = true;
  if (!ctx_.pools) {
    run_pools_error_ = fmt::format("the run holds central pool {} (spec.resources), which this "
                                   "engine has no store of", Quote(units.front().first));
    return true;
  }
  const int64_t since = state_.run_started_us() > 0 ? state_.run_started_us() : now_;
  auto took = ctx_.pools->Acquire(CentralPools::kRunHolder, 1, since, units, now_);
  if (!took) {
    if (took.error().code == ErrorCode::kInvalidInput) {  // the pools file changed
      run_pools_error_ = took.error().message;
      return true;
    }
    run_pools_held_ = false;
    rec_.Fail(took.error());  // the store failed: the run stops, as for breakers
    return false;
  }
  if (!*took) {
    run_pools_held_ = false;
    for (const auto& [pool, n] : units) pool_retry_at_[pool] = now_ + kPoolPollUs;
    pool_wait_ = true;
    return false;
  }
  return true;
}

Status Decider::AdoptCentralPools(int64_t now_us) {
  if (!UsesCentralPools()) return {};  // no transaction for the runs that ask for none
  std::vector<CentralPools::Held> held;
  // A run that decided anything had taken its spec.resources, and holds them until it ends.
  if (state_.began() && !plan_.pipeline->run_pools.empty()) {
    held.push_back({CentralPools::kRunHolder, 1, plan_.pipeline->run_pools});
    run_pools_held_ = true;
  }
  for (int i : state_.open()) {
    const Instance& in = state_.at(i);
    const auto& units = state_.task_of(i).central_pools();
    if (units.empty()) continue;
    held.push_back({in.name, in.attempt, units});
    pool_held_[i] = in.attempt;
  }
  return ctx_.pools->Reset(held, now_us);
}

void Decider::ReleaseAllCentralPools(int64_t now_us) {
  if (!UsesCentralPools()) return;
  pool_held_.clear();
  run_pools_held_ = false;
  (void)ctx_.pools->Reset({}, now_us);  // on failure the rows stay until reclaimed
}

}  // namespace sluice
