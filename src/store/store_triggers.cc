// The webhook triggers `sluice trigger apply` stores and `sluice server` fires (store.h,
// TriggerRow; docs/triggers.md).
//
// Design: one row per trigger, keyed by namespace and name, holding what a fire needs (the
// trigger file's text and its pipeline's files, as a schedule's row does: what fires is what was
// applied) and its token as an id and the SHA-256 of its secret. The token lives here, not in
// the tokens table, so that it authorizes nothing but its own trigger: the API's bearer check
// never finds it. Applying again keeps the token (a webhook configured at the sender goes on
// working); rotating replaces it. Every change is audited in the row's transaction. Rejected: a
// token row with a "trigger" role (one more role for every route to refuse, and a leak of the
// tokens table would widen).
#include "common/strings.h"
#include "store/store_impl.h"

namespace sluice {

namespace {

#define TRIGGER_COLUMNS \
  "namespace,name,file,document,sources,token_id,token_hash,applied_by,applied_us,rotated_us"

TriggerRow ReadTrigger(SqlStmt* st) {
  TriggerRow r;
  r.ns = Text(st, 0);
  r.name = Text(st, 1);
  r.file = Text(st, 2);
  r.document = Text(st, 3);
  r.sources = Text(st, 4);
  r.token_id = Text(st, 5);
  r.token_hash = Text(st, 6);
  r.applied_by = Text(st, 7);
  r.applied_us = Int(st, 8);
  r.rotated_us = Int(st, 9);
  return r;
}

Error NoSuchTrigger(const std::string& ns, const std::string& name) {
  return Error(ErrorCode::kNotFound, fmt::format("no trigger {} in namespace {} (sluice trigger "
                                                 "ls)", Quote(name), Quote(ns)));
}

}  // namespace

Result<bool> Store::ApplyTrigger(const TriggerRow& row, AuditRecord audit) {
  return impl_->InTransaction([&]() -> Result<bool> {
    SLUICE_TRY(before, FindTrigger(row.ns, row.name));
    SLUICE_TRY_STATUS(impl_->InsertAudit(std::move(audit)));
    // The token columns are written only by the insert: applied again, the token stays.
    SLUICE_TRY_STATUS(impl_->Run(
        "INSERT INTO triggers(" TRIGGER_COLUMNS ") VALUES(?,?,?,?,?,?,?,?,?,?) "
        "ON CONFLICT (namespace, name) DO UPDATE SET file=excluded.file, "
        "document=excluded.document, sources=excluded.sources, applied_by=excluded.applied_by, "
        "applied_us=excluded.applied_us",
        row.ns, row.name, row.file, row.document, row.sources, row.token_id, row.token_hash,
        row.applied_by, row.applied_us, row.rotated_us));
    return !before->has_value();
  });
}

Status Store::RotateTrigger(const std::string& ns, const std::string& name,
                            const std::string& token_id, const std::string& token_hash,
                            int64_t now_us, AuditRecord audit) {
  return impl_->InTransaction([&]() -> Status {
    SLUICE_TRY(before, FindTrigger(ns, name));
    if (!*before) return std::unexpected(NoSuchTrigger(ns, name));
    SLUICE_TRY_STATUS(impl_->InsertAudit(std::move(audit)));
    return impl_->Run("UPDATE triggers SET token_id=?, token_hash=?, rotated_us=? WHERE "
                      "namespace=? AND name=?", token_id, token_hash, now_us, ns, name);
  });
}

Status Store::RemoveTrigger(const std::string& ns, const std::string& name, AuditRecord audit) {
  return impl_->InTransaction([&]() -> Status {
    SLUICE_TRY(before, FindTrigger(ns, name));
    if (!*before) return std::unexpected(NoSuchTrigger(ns, name));
    SLUICE_TRY_STATUS(impl_->InsertAudit(std::move(audit)));
    return impl_->Run("DELETE FROM triggers WHERE namespace=? AND name=?", ns, name);
  });
}

Result<std::optional<TriggerRow>> Store::FindTrigger(const std::string& ns,
                                                     const std::string& name) {
  return impl_->First<TriggerRow>(
      "SELECT " TRIGGER_COLUMNS " FROM triggers WHERE namespace=? AND name=?", ReadTrigger, ns,
      name);
}

Result<std::vector<TriggerRow>> Store::ListTriggers(const std::string& ns) {
  if (ns.empty()) {
    return impl_->Rows<TriggerRow>(
        "SELECT " TRIGGER_COLUMNS " FROM triggers ORDER BY namespace, name", ReadTrigger);
  }
  return impl_->Rows<TriggerRow>(
      "SELECT " TRIGGER_COLUMNS " FROM triggers WHERE namespace=? ORDER BY name", ReadTrigger, ns);
}

}  // namespace sluice
