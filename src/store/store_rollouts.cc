// Rollouts, their measurements and environments' releases (rollout_rows.h; docs/rollouts.md).
//
// Design: a rollout's process (rollout_exec.cc) owns its row's state and rewrites it whole at
// every step, so that a rollout killed anywhere resumes from its last written step; people's
// commands go into the same row's command columns with a sequence number the process compares,
// so a command is acted on once and a state write never loses one (PutRollout leaves those
// columns alone). Only one rollout acts on an environment: PutRollout(claim) checks and writes
// in one write transaction; a rollout that waits for its turn is Waiting, which claims nothing. Releases are history: pruning a run keeps them, as it keeps the
// audit chain.
#include "store/store_impl.h"

namespace sluice {

namespace {

#define ROLLOUT_COLUMNS \
  "run_id,task,environment,phase,message,step,data,started_us,updated_us,command,command_seq," \
  "command_by"
#define MEASUREMENT_COLUMNS \
  "run_id,task,seq,epoch,analysis,template,metric,phase,value,message,started_us,finished_us," \
  "dry_run"
#define RELEASE_COLUMNS \
  "seq,environment,slot,digest,version,run_id,task,actor,since_us,until_us"

RolloutRow ReadRollout(SqlStmt* st) {
  RolloutRow r;
  r.run_id = Text(st, 0);
  r.task = Text(st, 1);
  r.environment = Text(st, 2);
  r.phase = Text(st, 3);
  r.message = Text(st, 4);
  r.step = static_cast<int>(Int(st, 5));
  r.data = Text(st, 6);
  r.started_us = Int(st, 7);
  r.updated_us = Int(st, 8);
  r.command = Text(st, 9);
  r.command_seq = Int(st, 10);
  r.command_by = Text(st, 11);
  return r;
}

MeasurementRow ReadMeasurement(SqlStmt* st) {
  MeasurementRow m;
  m.run_id = Text(st, 0);
  m.task = Text(st, 1);
  m.seq = Int(st, 2);
  m.epoch = static_cast<int>(Int(st, 3));
  m.analysis = Text(st, 4);
  m.template_name = Text(st, 5);
  m.metric = Text(st, 6);
  m.phase = Text(st, 7);
  m.value = Text(st, 8);
  m.message = Text(st, 9);
  m.started_us = Int(st, 10);
  m.finished_us = Int(st, 11);
  m.dry_run = Int(st, 12) != 0;
  return m;
}

ReleaseRow ReadRelease(SqlStmt* st) {
  ReleaseRow r;
  r.seq = Int(st, 0);
  r.environment = Text(st, 1);
  r.slot = Text(st, 2);
  r.digest = Text(st, 3);
  r.version = Text(st, 4);
  r.run_id = Text(st, 5);
  r.task = Text(st, 6);
  r.actor = Text(st, 7);
  r.since_us = Int(st, 8);
  r.until_us = Int(st, 9);
  return r;
}

}  // namespace

Result<std::optional<RolloutRow>> Store::PutRollout(const RolloutRow& r, bool claim) {
  auto& m = *impl_;
  return m.InTransaction([&]() -> Result<std::optional<RolloutRow>> {
    if (claim) {
      SLUICE_TRY(other, m.First<RolloutRow>(
          "SELECT " ROLLOUT_COLUMNS " FROM rollouts WHERE environment=? AND phase NOT IN "
          "('Healthy','Degraded','Waiting') AND NOT (run_id=? AND task=?) ORDER BY started_us LIMIT 1",
          ReadRollout, r.environment, r.run_id, r.task));
      if (*other) return *other;
    }
    SLUICE_TRY_STATUS(m.Run(
        "INSERT INTO rollouts(" ROLLOUT_COLUMNS ") VALUES(?,?,?,?,?,?,?,?,?,'',0,'') "
        "ON CONFLICT (run_id, task) DO UPDATE SET environment=excluded.environment, "
        "phase=excluded.phase, message=excluded.message, step=excluded.step, data=excluded.data, "
        "updated_us=excluded.updated_us",
        r.run_id, r.task, r.environment, r.phase, r.message, r.step, r.data, r.started_us,
        r.updated_us));
    return std::optional<RolloutRow>();
  });
}

Result<std::optional<RolloutRow>> Store::GetRollout(const std::string& run_id,
                                                    const std::string& task) {
  return impl_->First<RolloutRow>("SELECT " ROLLOUT_COLUMNS " FROM rollouts WHERE run_id=? AND "
                                  "task=?", ReadRollout, run_id, task);
}

Result<std::vector<RolloutRow>> Store::ListRollouts(const std::string& environment) {
  if (environment.empty()) {
    return impl_->Rows<RolloutRow>("SELECT " ROLLOUT_COLUMNS " FROM rollouts ORDER BY "
                                   "started_us DESC, run_id, task", ReadRollout);
  }
  return impl_->Rows<RolloutRow>("SELECT " ROLLOUT_COLUMNS " FROM rollouts WHERE environment=? "
                                 "ORDER BY started_us DESC, run_id, task", ReadRollout,
                                 environment);
}

Result<AuditRecord> Store::CommandRollout(const std::string& run_id, const std::string& task,
                                          const std::string& command, AuditRecord audit) {
  auto& m = *impl_;
  return m.InTransaction([&]() -> Result<AuditRecord> {
    SLUICE_TRY(row, GetRollout(run_id, task));
    if (!*row) {
      return Fail(ErrorCode::kNotFound, "task {} of run {} has no rollout (it is not a deploy "
                  "task, or it has not started)", Quote(task), run_id);
    }
    if (!(*row)->active()) {
      return Fail(ErrorCode::kConflict, "the rollout of {} in run {} has ended ({}); nothing to "
                  "{}", Quote(task), run_id, (*row)->phase, command);
    }
    const std::string actor = audit.actor;
    auto appended = m.InsertAudit(std::move(audit));
    if (!appended) return appended;
    SLUICE_TRY_STATUS(m.Run("UPDATE rollouts SET command=?, command_seq=command_seq+1, "
                            "command_by=? WHERE run_id=? AND task=?",
                            command, actor, run_id, task));
    return appended;
  });
}

Status Store::AddMeasurement(const MeasurementRow& x) {
  auto& m = *impl_;
  return m.InTransaction([&]() -> Status {
    return m.Run("INSERT INTO measurements(" MEASUREMENT_COLUMNS ") SELECT ?,?,"
                 "COALESCE(MAX(seq),0)+1,?,?,?,?,?,?,?,?,?,? FROM measurements WHERE run_id=? AND "
                 "task=?",
                 x.run_id, x.task, x.epoch, x.analysis, x.template_name, x.metric, x.phase, x.value,
                 x.message, x.started_us, x.finished_us, int64_t{x.dry_run ? 1 : 0}, x.run_id,
                 x.task);
  });
}

Result<std::vector<MeasurementRow>> Store::Measurements(const std::string& run_id,
                                                        const std::string& task) {
  return impl_->Rows<MeasurementRow>("SELECT " MEASUREMENT_COLUMNS " FROM measurements WHERE "
                                     "run_id=? AND task=? ORDER BY seq", ReadMeasurement, run_id,
                                     task);
}

Status Store::RecordRelease(const ReleaseRow& r, AuditRecord audit) {
  auto& m = *impl_;
  return m.InTransaction([&]() -> Status {
    SLUICE_TRY_STATUS(m.Run("UPDATE releases SET until_us=? WHERE environment=? AND until_us=0",
                            r.since_us, r.environment));
    SLUICE_TRY_STATUS(m.Run("INSERT INTO releases(environment,slot,digest,version,run_id,task,"
                            "actor,since_us,until_us) VALUES(?,?,?,?,?,?,?,?,0)",
                            r.environment, r.slot, r.digest, r.version, r.run_id, r.task,
                            r.actor, r.since_us));
    auto appended = m.InsertAudit(std::move(audit));
    if (!appended) return std::unexpected(appended.error());
    return {};
  });
}

Result<std::vector<ReleaseRow>> Store::Releases(const std::string& environment, int limit) {
  if (environment.empty()) {
    return impl_->Rows<ReleaseRow>("SELECT " RELEASE_COLUMNS " FROM releases ORDER BY seq DESC "
                                   "LIMIT ?", ReadRelease, limit);
  }
  return impl_->Rows<ReleaseRow>("SELECT " RELEASE_COLUMNS " FROM releases WHERE environment=? "
                                 "ORDER BY seq DESC LIMIT ?", ReadRelease, environment, limit);
}

}  // namespace sluice
