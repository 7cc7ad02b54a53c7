// Firing schedules in the leader (scheduler.h).
#include "server/scheduler.h"

#include <signal.h>

#include "cli/cli_support.h"
#include "common/strings.h"
#include "server/api.h"
#include "server/leader.h"

namespace sluice {

namespace {


// The audit record of the fires a decision skipped: who (the server), which schedule, and the
// fires with their reasons (at most ScheduleDecision::kMaxListed, and how many in all).
AuditRecord SkippedRecord(Env& env, const ScheduleRow& row, const ScheduleDecision& d) {
  ValueList fires;
  for (const SkippedFire& f : d.skipped) {
    fires.push_back(Value(ValueMap{{"time", Value(UtcOfUs(f.time_us))},
                                   {"reason", Value(std::string(SkipReasonName(f.reason)))}}));
  }
  return AuditOf(env, "sluice", "schedule.skipped", "", row.name,
                 Value(ValueMap{{"namespace", Value(row.ns)},
                                {"count", Value(d.skipped_count)},
                                {"fires", Value(std::move(fires))}}));
}

}  // namespace

void Scheduler::Tick(Store& store, int64_t now_us) {
  auto rows = store.ListSchedules("");
  if (!rows) return hooks_.log("schedules: " + rows.error().message);
  auto scheduled = store.ScheduledRuns();
  if (!scheduled) return hooks_.log("schedules: " + scheduled.error().message);
  for (const ScheduleRow& row : *rows) {
    if (auto s = TickOne(store, row, *scheduled, now_us); !s) {
      hooks_.log(fmt::format("schedule {}: {}", row.name, s.error().message));
    }
  }
}

Result<const LoadedSchedule*> Scheduler::Loaded(const ScheduleRow& row) {
  const std::string key = row.ns + "/" + row.name;
  auto it = loaded_.find(key);
  if (it == loaded_.end() || it->second.row.applied_us != row.applied_us ||
      it->second.row.document != row.document || it->second.row.sources != row.sources) {
    SLUICE_TRY(s, LoadStoredSchedule(env_, row));
    it = loaded_.insert_or_assign(key, std::move(*s)).first;
  }
  it->second.row.suspended = row.suspended;
  it->second.row.watermark_us = row.watermark_us;
  return &it->second;
}

Status Scheduler::TickOne(Store& store, const ScheduleRow& row,
                          const std::vector<std::pair<std::string, std::string>>& scheduled,
                          int64_t now_us) {
  SLUICE_TRY(s, Loaded(row));
  const LoadedSchedule& sched = **s;
  ScheduleState state;
  state.watermark_us = row.watermark_us;
  for (const auto& [id, data] : scheduled) {
    auto of = ScheduleOfCreated(data);
    if (of && of->ns == row.ns && of->name == row.name) {
      state.active.push_back(ActiveRun{id, of->times.time_us});
    }
  }
  const ScheduleDecision d = DecideSchedule(*sched.cron, sched.Policy(), state, now_us);
  for (const std::string& id : d.cancel) Cancel(id, row.name);
  for (const ScheduleTimes& t : d.start) {
    if (auto f = Fire(store, sched, t); !f) {
      // The fires from this one on are decided again at the next tick.
      if (t.time_us - 1 > row.watermark_us) {
        SLUICE_TRY_STATUS(store.AdvanceWatermark(row.ns, row.name, t.time_us - 1));
      }
      return f;
    }
  }
  if (d.skipped_count > 0) {
    SLUICE_TRY_STATUS(store.AppendAudit(SkippedRecord(env_, row, d)));
    hooks_.log(fmt::format("schedule {}: skipped {} fire(s), the first at {} ({})", row.name,
                           d.skipped_count, UtcOfUs(d.skipped.front().time_us),
                           SkipReasonName(d.skipped.front().reason)));
  }
  if (d.watermark_us > row.watermark_us) {
    SLUICE_TRY_STATUS(store.AdvanceWatermark(row.ns, row.name, d.watermark_us));
  }
  return {};
}

Status Scheduler::Fire(Store& store, const LoadedSchedule& s, const ScheduleTimes& t) {
  const std::string id = ScheduledRunId(s.row, t.time_us, false);
  auto run = CreateScheduledRun(env_, g_, store, s, t, "sluice", id);
  if (!run && run.error().code == ErrorCode::kConflict) {
    // Started before, by this leader or one that died: it gets an engine if it never had one.
    auto existing = store.GetRun(id);
    if (!existing && existing.error().code == ErrorCode::kNotFound) return {};  // pruned since
    if (!existing) return std::unexpected(existing.error());
    const bool has_engine =
        env_.files().Stat(PathJoin(RunDir(env_, g_, id), kEngineLog)).exists;
    if (IsFinishedRun(existing->status) || has_engine) return {};
    hooks_.log(fmt::format("schedule {}: run {} was recorded without an engine; starting one",
                           s.row.name, id));
    return hooks_.start(id);
  }
  if (!run && run.error().code != ErrorCode::kStore && run.error().code != ErrorCode::kIo) {
    // A param or a policy refuses the fire: it is handled (logged, and a denial is audited by
    // admission), not retried every second.
    hooks_.log(fmt::format("schedule {}: fire at {} not started: {}", s.row.name, UtcOfUs(t.time_us),
                           run.error().message));
    return {};
  }
  if (!run) return std::unexpected(run.error());
  hooks_.log(fmt::format("schedule {}: fire at {} started run {}", s.row.name, UtcOfUs(t.time_us), id));
  return hooks_.start(id);
}

void Scheduler::Cancel(const std::string& run_id, const std::string& schedule) {
  std::string owner;
  if (!env_.IsLocked(PathJoin(RunDir(env_, g_, run_id), "lock"), &owner)) {
    hooks_.log(fmt::format("schedule {}: cannot cancel run {} for Replace: no process executes "
                           "it yet", schedule, run_id));
    return;
  }
  const bool sent = env_.SignalProcess(std::atoi(owner.c_str()), SIGTERM);
  hooks_.log(fmt::format("schedule {}: {} run {} (concurrencyPolicy: Replace)", schedule,
                         sent ? "cancelling" : "could not signal", run_id));
}

}  // namespace sluice

namespace sluice {

void Leader::FireSchedules() {
  auto store = ctx_.ThreadStore();
  if (!store) return;
  if (!scheduler_) {
    const ApiContext* ctx = &ctx_;
    scheduler_ = std::make_unique<Scheduler>(
        ctx_.env, ctx_.g,
        Scheduler::Hooks{[ctx](const std::string& id) { return StartEngine(*ctx, id); },
                         [ctx](const std::string& msg) { ctx->Log(msg); }});
  }
  scheduler_->Tick(**store, ctx_.env.clock().NowUs());
}

}  // namespace sluice
