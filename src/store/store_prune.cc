// Retention: deleting the records of finished runs (`sluice prune`, a server's --retention),
// leaving each a tombstone event and the whole audit chain. docs/store.md, "Retention".
#include "common/outcome.h"
#include "store/store_impl.h"

namespace sluice {

namespace {

bool IsFinishedStatus(std::string_view status) {
  auto s = ParseRunStatus(status);
  return s && IsFinished(*s);
}

}  // namespace

Result<std::vector<std::string>> Store::RunNamespaces() {
  return impl_->Rows<std::string>("SELECT DISTINCT namespace FROM runs ORDER BY namespace",
                                  [](SqlStmt* st) { return Text(st, 0); });
}

Result<std::vector<RunRecord>> Store::FinishedRunsBefore(int64_t before_us, int limit,
                                                         const std::string& ns) {
  // Finished runs have finished_us set; the status is checked as IsFinished reads it.
  static const std::string sql = fmt::format(
      "SELECT {} FROM runs WHERE finished_us > 0 AND finished_us < ? AND (?='' OR namespace=?) "
      "ORDER BY finished_us, id LIMIT ?", Impl::kRunColumns);
  SLUICE_TRY(rows, impl_->Rows<RunRecord>(sql.c_str(), Impl::ReadRun, before_us, ns, ns,
                                          int64_t{limit}));
  std::vector<RunRecord> out;
  for (auto& r : *rows) {
    if (IsFinishedStatus(r.status)) out.push_back(std::move(r));
  }
  return out;
}

Result<AuditRecord> Store::PruneRun(const std::string& run_id, const Event& tombstone,
                                    AuditRecord audit) {
  Impl& m = *impl_;
  return m.InTransaction([&]() -> Result<AuditRecord> {
    SLUICE_TRY(status, m.First<std::string>("SELECT status FROM runs WHERE id=?",
                                             [](SqlStmt* st) { return Text(st, 0); }, run_id));
    if (!*status) return Fail(ErrorCode::kNotFound, "no run {}", run_id);
    if (!IsFinishedStatus(**status)) {
      return Fail(ErrorCode::kConflict, "run {} is {}, not finished: it is kept", run_id, **status);
    }
    // The tombstone first, so that it is numbered after every event deleted below: event
    // numbers only grow, and a stream that saw this run's last event still sees its tombstone.
    SLUICE_TRY_STATUS(m.Insert(tombstone));
    SLUICE_TRY_STATUS(m.Run("DELETE FROM events WHERE run_id=? AND kind<>'run.pruned'", run_id));
    for (const char* sql : {"DELETE FROM runs WHERE id=?", "DELETE FROM sources WHERE run_id=?",
                            "DELETE FROM tasks WHERE run_id=?", "DELETE FROM attempts WHERE run_id=?",
                            "DELETE FROM artifacts WHERE run_id=?", "DELETE FROM cache WHERE run_id=?",
                            "DELETE FROM decisions WHERE run_id=?",
                            "DELETE FROM approval_requests WHERE run_id=?",
                            "DELETE FROM approval_votes WHERE run_id=?",
                            "DELETE FROM work WHERE run_id=?",
                            "DELETE FROM pool_holds WHERE run_id=?",
                            "DELETE FROM rollouts WHERE run_id=?",
                            "DELETE FROM measurements WHERE run_id=?",
                            // its deliveries' log; one still pending is sent all the same
                            "DELETE FROM notifications WHERE run_id=? AND state<>'pending'"}) {
      SLUICE_TRY_STATUS(m.Run(sql, run_id));
    }
    return m.InsertAudit(std::move(audit));
  });
}

Result<std::vector<std::string>> Store::ReferencedArtifacts() {
  SLUICE_TRY(paths, impl_->Rows<std::string>("SELECT DISTINCT path FROM artifacts",
                                             [](SqlStmt* st) { return Text(st, 0); }));
  // A cache entry's outputs name the artifacts a hit hands on, even when the run that made
  // them no longer lists them (a retry retired that task).
  SLUICE_TRY(outputs, impl_->Rows<std::string>("SELECT outputs FROM cache",
                                               [](SqlStmt* st) { return Text(st, 0); }));
  for (const auto& text : *outputs) {
    auto out = ParseJson(text);
    const Value* arts = out && out->is_map() ? out->Find("artifacts") : nullptr;
    if (!arts || !arts->is_map()) continue;
    for (const auto& [name, path] : arts->as_map()) {
      if (path.is_string()) paths->push_back(path.as_string());
    }
  }
  // A worker's end the engine has not collected yet names blobs no artifacts row names yet
  // (work_codec.cc: {"outputs": {"artifacts": [{"digest", ...}]}}), kept by their digest.
  SLUICE_TRY(ends, impl_->Rows<std::string>(
                       "SELECT end_json FROM work WHERE collected=0 AND end_json<>''",
                       [](SqlStmt* st) { return Text(st, 0); }));
  for (const auto& text : *ends) {
    auto end = ParseJson(text);
    const Value* out = end && end->is_map() ? end->Find("outputs") : nullptr;
    const Value* arts = out && out->is_map() ? out->Find("artifacts") : nullptr;
    if (!arts || !arts->is_list()) continue;
    for (const Value& a : arts->as_list()) {
      const Value* d = a.is_map() ? a.Find("digest") : nullptr;
      if (!d || !d->is_string()) continue;
      std::string hex = d->as_string();
      if (hex.starts_with("sha256:")) hex.erase(0, 7);
      if (hex.size() == 64) paths->push_back("/sha256/" + hex.substr(0, 2) + "/" + hex);
    }
  }
  return paths;
}

Result<std::optional<Event>> Store::FindTombstone(const std::string& run_id) {
  return impl_->First<Event>(
      "SELECT seq,time_us,message,data FROM events WHERE run_id=? AND kind='run.pruned' LIMIT 1",
      [&](SqlStmt* st) {
        Event e;
        e.seq = Int(st, 0);
        e.run_id = run_id;
        e.time_us = Int(st, 1);
        e.kind = EventKind::kRunPruned;
        e.message = Text(st, 2);
        e.data = Text(st, 3);
        return e;
      },
      run_id);
}

}  // namespace sluice
