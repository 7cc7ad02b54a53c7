// The schedules `sluice schedule apply` stores and `sluice server`'s leader fires (store.h,
// ScheduleRow; docs/schedules.md).
//
// Design: one row per schedule, keyed by namespace and name. The row holds everything a fire
// needs (the schedule file's text, its pipeline's files, its params), so that what fires is
// what was applied, whatever happens to the files afterwards; and the watermark, the one piece
// of state the decision (schedule/schedule.h) keeps between ticks. The active runs are not
// stored: they are the unfinished runs whose run.created event names the schedule, so a run
// that ends, however it ends, stops counting at once. Rejected: a table of the runs a schedule
// started (a second truth that a crash between the two writes would make disagree).
// Applying, suspending and resuming are audited in the same transaction as the row.
#include "common/strings.h"
#include "store/store_impl.h"

namespace sluice {

namespace {

#define SCHEDULE_COLUMNS \
  "namespace,name,file,document,sources,params,suspended,watermark_us,applied_by,applied_us"

ScheduleRow ReadSchedule(SqlStmt* st) {
  ScheduleRow r;
  r.ns = Text(st, 0);
  r.name = Text(st, 1);
  r.file = Text(st, 2);
  r.document = Text(st, 3);
  r.sources = Text(st, 4);
  r.params = Text(st, 5);
  r.suspended = Int(st, 6) != 0;
  r.watermark_us = Int(st, 7);
  r.applied_by = Text(st, 8);
  r.applied_us = Int(st, 9);
  return r;
}

}  // namespace

Result<AuditRecord> Store::ApplySchedule(const ScheduleRow& row, AuditRecord audit) {
  return impl_->InTransaction([&]() -> Result<AuditRecord> {
    auto appended = impl_->InsertAudit(std::move(audit));
    if (!appended) return appended;
    // ON CONFLICT ... DO UPDATE reads the same in SQLite (3.24+) and PostgreSQL; the watermark
    // is left as it was.
    auto s = impl_->Run(
        "INSERT INTO schedules(" SCHEDULE_COLUMNS ") VALUES(?,?,?,?,?,?,?,?,?,?) "
        "ON CONFLICT (namespace, name) DO UPDATE SET file=excluded.file, "
        "document=excluded.document, sources=excluded.sources, params=excluded.params, "
        "suspended=excluded.suspended, applied_by=excluded.applied_by, "
        "applied_us=excluded.applied_us",
        row.ns, row.name, row.file, row.document, row.sources, row.params,
        static_cast<int64_t>(row.suspended ? 1 : 0), row.watermark_us, row.applied_by,
        row.applied_us);
    if (!s) return std::unexpected(s.error());
    return appended;
  });
}

Result<AuditRecord> Store::SuspendSchedule(const std::string& ns, const std::string& name,
                                           bool suspend, AuditRecord audit) {
  return impl_->InTransaction([&]() -> Result<AuditRecord> {
    auto found = impl_->Rows<int64_t>("SELECT COUNT(*) FROM schedules WHERE namespace=? AND name=?",
                                      [](SqlStmt* st) { return Int(st, 0); }, ns, name);
    if (!found) return std::unexpected(found.error());
    if (found->empty() || found->front() == 0) {
      return Fail(ErrorCode::kNotFound, "no schedule {} in namespace {} (sluice schedule ls)",
                  Quote(name), Quote(ns));
    }
    auto appended = impl_->InsertAudit(std::move(audit));
    if (!appended) return appended;
    auto s = impl_->Run("UPDATE schedules SET suspended=? WHERE namespace=? AND name=?",
                        static_cast<int64_t>(suspend ? 1 : 0), ns, name);
    if (!s) return std::unexpected(s.error());
    return appended;
  });
}

Result<std::vector<ScheduleRow>> Store::ListSchedules(const std::string& ns) {
  if (ns.empty()) {
    return impl_->Rows<ScheduleRow>(
        "SELECT " SCHEDULE_COLUMNS " FROM schedules ORDER BY namespace, name", ReadSchedule);
  }
  return impl_->Rows<ScheduleRow>(
      "SELECT " SCHEDULE_COLUMNS " FROM schedules WHERE namespace=? ORDER BY name", ReadSchedule,
      ns);
}

Status Store::AdvanceWatermark(const std::string& ns, const std::string& name,
                               int64_t watermark_us) {
  return impl_->InTransaction([&]() -> Status {
    return impl_->Run("UPDATE schedules SET watermark_us=? WHERE namespace=? AND name=? AND "
                      "watermark_us<?", watermark_us, ns, name, watermark_us);
  });
}

Result<std::vector<std::pair<std::string, std::string>>> Store::ScheduledRuns() {
  using Row = std::pair<std::string, std::string>;
  return impl_->Rows<Row>(
      "SELECT r.id, e.data FROM runs r JOIN events e ON e.run_id=r.id AND e.kind='run.created' "
      "WHERE r.id LIKE 'sched-%' AND r.status NOT IN "
      "('succeeded','failed','cancelled','compensated','compensation-failed') ORDER BY r.id",
      [](SqlStmt* st) { return Row{Text(st, 0), Text(st, 1)}; });
}

}  // namespace sluice
