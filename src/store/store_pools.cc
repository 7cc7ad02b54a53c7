// Central pools' holds and queues (store.h, PoolHoldRow; docs/pools.md): what every engine of a
// state folder or server takes before an attempt that asks for a pool of STATE/pools.yaml
// starts.
//
// Design: one table holds both the holds (granted=1) and the queue (granted=0, ordered by
// since_us, then run and task), so that one transaction under the store's write lock sees the
// whole of a pool: a pool grants an ask when its held units, the units of every ask queued
// before it and the ask's own fit its capacity. First come, first served therefore holds across
// runs, and a big ask is not starved by small ones that keep arriving (they queue behind it);
// like Argo's semaphores, a small ask behind a big one that does not fit yet waits too. An ask
// is all or nothing across the pools it names, so two tasks that each need two pools never hold
// one each. The queue needs no cleanup by its owner: a waiting row whose engine stopped asking
// for kPoolWaitForgetUs is dropped by the next ask. Holds of a run that no process executes
// any more are given back by its next engine (SetPoolHolds) or reclaimed by the engines that
// wait (cli/pools.cc), which can tell. Rejected: counters per pool (a crash between the
// increment and the attempt's record leaks units for good, and no queue order); advisory locks
// per unit (PostgreSQL only, and no queue).
#include "store/store_impl.h"

namespace sluice {

namespace {

#define POOL_COLUMNS "pool,run_id,task,attempt,units_milli,granted,since_us,seen_us"

PoolHoldRow ReadPoolHold(SqlStmt* st) {
  PoolHoldRow r;
  r.pool = Text(st, 0);
  r.run_id = Text(st, 1);
  r.task = Text(st, 2);
  r.attempt = static_cast<int>(Int(st, 3));
  r.units_milli = Int(st, 4);
  r.granted = Int(st, 5) != 0;
  r.since_us = Int(st, 6);
  r.seen_us = Int(st, 7);
  return r;
}

}  // namespace

Result<bool> Store::AcquirePools(const std::string& run_id, const std::string& task, int attempt,
                                 int64_t since_us, const std::vector<PoolAsk>& asks,
                                 int64_t now_us) {
  auto& m = *impl_;
  return m.InTransaction([&]() -> Result<bool> {
    SLUICE_TRY_STATUS(m.Run("DELETE FROM pool_holds WHERE granted=0 AND seen_us<?",
                            now_us - kPoolWaitForgetUs));
    bool fits = true;
    for (const PoolAsk& a : asks) {
      // Its place in the queue is kept (since_us is written only by the insert).
      SLUICE_TRY_STATUS(m.Run(
          "INSERT INTO pool_holds(" POOL_COLUMNS ") VALUES(?,?,?,?,?,0,?,?) ON CONFLICT "
          "(pool, run_id, task) DO UPDATE SET attempt=excluded.attempt, "
          "units_milli=excluded.units_milli, seen_us=excluded.seen_us",
          a.pool, run_id, task, attempt, a.units_milli, since_us, now_us));
      using Sums = std::pair<int64_t, int64_t>;
      SLUICE_TRY(sums, m.First<Sums>(
          "SELECT COALESCE(SUM(CASE WHEN granted<>0 THEN units_milli ELSE 0 END),0), "
          "COALESCE(SUM(CASE WHEN granted=0 AND (since_us<? OR (since_us=? AND (run_id<? OR "
          "(run_id=? AND task<?)))) THEN units_milli ELSE 0 END),0) FROM pool_holds "
          "WHERE pool=? AND NOT (run_id=? AND task=?)",
          [](SqlStmt* st) { return Sums{Int(st, 0), Int(st, 1)}; }, since_us, since_us, run_id,
          run_id, task, a.pool, run_id, task));
      const auto [held, ahead] = sums->value_or(Sums{0, 0});
      if (held + ahead + a.units_milli > a.capacity_milli) fits = false;
    }
    if (!fits) return false;  // committed: the rows keep their places
    SLUICE_TRY_STATUS(m.Run("UPDATE pool_holds SET granted=1 WHERE run_id=? AND task=?", run_id,
                            task));
    return true;
  });
}

Status Store::ReleasePools(const std::string& run_id, const std::string& task) {
  return impl_->InTransaction([&]() -> Status {
    if (task.empty()) return impl_->Run("DELETE FROM pool_holds WHERE run_id=?", run_id);
    return impl_->Run("DELETE FROM pool_holds WHERE run_id=? AND task=?", run_id, task);
  });
}

Status Store::SetPoolHolds(const std::string& run_id, const std::vector<PoolHoldRow>& held) {
  return impl_->InTransaction([&]() -> Status {
    SLUICE_TRY_STATUS(impl_->Run("DELETE FROM pool_holds WHERE run_id=?", run_id));
    for (const PoolHoldRow& h : held) {
      SLUICE_TRY_STATUS(impl_->Run("INSERT INTO pool_holds(" POOL_COLUMNS ") "
                                   "VALUES(?,?,?,?,?,1,?,?)",
                                   h.pool, run_id, h.task, h.attempt, h.units_milli, h.since_us,
                                   h.seen_us));
    }
    return {};
  });
}

Result<std::vector<PoolHoldRow>> Store::ListPoolHolds() {
  return impl_->Rows<PoolHoldRow>("SELECT " POOL_COLUMNS " FROM pool_holds ORDER BY pool, "
                                  "granted DESC, since_us, run_id, task",
                                  ReadPoolHold);
}

}  // namespace sluice
