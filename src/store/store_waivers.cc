// Waivers granted with `sluice waiver grant`, and which of them count.
//
// Design: as with votes (store_approvals.cc), a grant is two rows written in one transaction: a
// `waivers` row (the waiver's document, canonical JSON of a Waiver document, which the loader
// reads back) and the waiver.granted audit record it points to (`audit_seq`). Only the audit
// chain is tamper-evident, so a waiver counts only when its record exists, names it, holds the
// same document and actor, and chains from the log's first record: a row written straight into
// SQLite lifts nothing. A revocation is a waiver.revoked record (and `revoked_us` on the row);
// a chained revocation record revokes the grant before it even if the row was edited back.
#include "common/value.h"
#include "store/store_impl.h"

namespace sluice {

namespace {

// Whether audit record `a` records the grant of waiver row `w`.
bool RecordsGrant(const AuditRecord& a, const WaiverRow& w) {
  if (a.seq != w.audit_seq || a.action != "waiver.granted" || a.subject != w.name ||
      a.actor != w.granted_by || !a.run_id.empty()) {
    return false;
  }
  auto details = ParseJson(a.details);
  const Value* document = details && details->is_map() ? details->Find("document") : nullptr;
  return document && CanonicalJson(*document) == w.document;
}

}  // namespace

Result<AuditRecord> Store::GrantWaiver(const WaiverRow& w, AuditRecord audit) {
  return impl_->InTransaction([&]() -> Result<AuditRecord> {
    auto current = ListWaivers();
    if (!current) return std::unexpected(current.error());
    for (const auto& other : *current) {
      if (other.name == w.name && other.verified && other.revoked_us == 0) {
        return Fail(ErrorCode::kConflict, "waiver {} is already granted (by {}); revoke it first "
                    "or choose another name", Quote(w.name), other.granted_by);
      }
    }
    auto appended = impl_->InsertAudit(std::move(audit));
    if (!appended) return appended;
    if (auto s = impl_->Run("DELETE FROM waivers WHERE name=?", w.name); !s) {
      return std::unexpected(s.error());
    }
    auto s = impl_->Run("INSERT INTO waivers(name,document,granted_by,granted_us,revoked_us,"
                        "audit_seq) VALUES(?,?,?,?,0,?)", w.name, w.document, w.granted_by,
                        w.granted_us, appended->seq);
    if (!s) return std::unexpected(s.error());
    return appended;
  });
}

Result<AuditRecord> Store::RevokeWaiver(const std::string& name, int64_t now_us,
                                        AuditRecord audit) {
  return impl_->InTransaction([&]() -> Result<AuditRecord> {
    auto current = ListWaivers();
    if (!current) return std::unexpected(current.error());
    bool found = false;
    for (const auto& w : *current) found = found || (w.name == name && w.revoked_us == 0);
    if (!found) {
      return Fail(ErrorCode::kNotFound, "no waiver {} is in force (sluice waiver list)", Quote(name));
    }
    auto appended = impl_->InsertAudit(std::move(audit));
    if (!appended) return appended;
    auto s = impl_->Run("UPDATE waivers SET revoked_us=? WHERE name=?", now_us, name);
    if (!s) return std::unexpected(s.error());
    return appended;
  });
}

Result<std::vector<WaiverRow>> Store::ListWaivers() {
  struct Pair {
    WaiverRow waiver;
    std::optional<AuditRecord> record;
    int64_t revoked_seq = 0;  // the first chained-looking waiver.revoked record after the grant
  };
  auto rows = impl_->Rows<Pair>(
      "SELECT w.name,w.document,w.granted_by,w.granted_us,w.revoked_us,w.audit_seq,a.seq,a.time_us,"
      "a.actor,a.action,a.run_id,a.subject,a.details,a.prev_hash,a.hash,(SELECT MIN(r.seq) FROM audit r WHERE r.action='waiver.revoked' AND r.subject=w.name AND "
      "r.seq>w.audit_seq) FROM waivers w LEFT JOIN audit a ON a.seq=w.audit_seq ORDER BY w.name",
      [](SqlStmt* st) {
        Pair p;
        p.waiver = {Text(st, 0), Text(st, 1), Text(st, 2), Int(st, 3), Int(st, 4), Int(st, 5)};
        if (!st->IsNull(6)) p.record = ReadAuditRecord(st, 6);
        p.revoked_seq = Int(st, 15);
        return p;
      });
  if (!rows) return std::unexpected(rows.error());
  std::vector<WaiverRow> out;
  for (auto& p : *rows) {
    WaiverRow& w = p.waiver;
    if (p.record && RecordsGrant(*p.record, w)) {
      auto holds = impl_->ChainHolds(w.audit_seq);
      if (!holds) return std::unexpected(holds.error());
      w.verified = *holds;
    }
    if (p.revoked_seq > 0 && w.revoked_us == 0) {
      auto holds = impl_->ChainHolds(p.revoked_seq);
      if (!holds) return std::unexpected(holds.error());
      if (*holds) w.revoked_us = -1;  // revoked by its record, though the row says otherwise
    }
    out.push_back(std::move(w));
  }
  return out;
}

}  // namespace sluice
