// What `sluice server` keeps and reads beyond runs: its API tokens (store.h, TokenRow), the
// counts /metrics serves, the runs its leader keeps going and the leader's lock. Of a token (access/access.h) the store keeps the id, the SHA-256 of
// its secret and whom it speaks for, never the secret itself. Creating and revoking a token are
// audited in the same transaction as the row they write.
#include "common/outcome.h"
#include "store/store_impl.h"

namespace sluice {

namespace {

TokenRow ReadToken(SqlStmt* st) {
  TokenRow t;
  t.id = Text(st, 0);
  t.secret_hash = Text(st, 1);
  t.user = Text(st, 2);
  t.roles = Text(st, 3);
  t.created_by = Text(st, 4);
  t.created_us = Int(st, 5);
  t.expires_us = Int(st, 6);
  t.revoked_us = Int(st, 7);
  return t;
}

#define TOKEN_COLUMNS \
  "id,secret_hash,user_name,roles,created_by,created_us,expires_us,revoked_us"

}  // namespace

Result<AuditRecord> Store::CreateToken(const TokenRow& t, AuditRecord audit) {
  return impl_->InTransaction([&]() -> Result<AuditRecord> {
    auto existing = FindToken(t.id);
    if (!existing) return std::unexpected(existing.error());
    if (*existing) return Fail(ErrorCode::kConflict, "a token with id {} exists", t.id);
    auto appended = impl_->InsertAudit(std::move(audit));
    if (!appended) return appended;
    auto s = impl_->Run("INSERT INTO tokens(" TOKEN_COLUMNS ") VALUES(?,?,?,?,?,?,?,0)", t.id,
                        t.secret_hash, t.user, t.roles, t.created_by, t.created_us, t.expires_us);
    if (!s) return std::unexpected(s.error());
    return appended;
  });
}

Result<AuditRecord> Store::RevokeToken(const std::string& id, int64_t now_us, AuditRecord audit) {
  return impl_->InTransaction([&]() -> Result<AuditRecord> {
    auto existing = FindToken(id);
    if (!existing) return std::unexpected(existing.error());
    if (!*existing || (*existing)->revoked_us != 0) {
      return Fail(ErrorCode::kNotFound, "no token {} is in force (sluice token list)", Quote(id));
    }
    auto appended = impl_->InsertAudit(std::move(audit));
    if (!appended) return appended;
    auto s = impl_->Run("UPDATE tokens SET revoked_us=? WHERE id=?", now_us, id);
    if (!s) return std::unexpected(s.error());
    return appended;
  });
}

Result<std::optional<TokenRow>> Store::FindToken(const std::string& id) {
  auto rows = impl_->Rows<TokenRow>("SELECT " TOKEN_COLUMNS " FROM tokens WHERE id=?", ReadToken,
                                    id);
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return std::optional<TokenRow>();
  return std::optional<TokenRow>(std::move(rows->front()));
}

Result<std::vector<TokenRow>> Store::ListTokens() {
  return impl_->Rows<TokenRow>("SELECT " TOKEN_COLUMNS " FROM tokens ORDER BY created_us, id",
                               ReadToken);
}

Result<std::vector<std::pair<std::string, int64_t>>> Store::CountRunsByStatus() {
  using Row = std::pair<std::string, int64_t>;
  return impl_->Rows<Row>("SELECT status, COUNT(*) FROM runs GROUP BY status ORDER BY status",
                          [](SqlStmt* st) { return Row{Text(st, 0), Int(st, 1)}; });
}

Result<std::vector<std::pair<std::string, int64_t>>> Store::CountTasksByState() {
  using Row = std::pair<std::string, int64_t>;
  return impl_->Rows<Row>("SELECT state, COUNT(*) FROM tasks GROUP BY state ORDER BY state",
                          [](SqlStmt* st) { return Row{Text(st, 0), Int(st, 1)}; });
}

Result<std::vector<std::string>> Store::UnfinishedRunIds() {
  // The finished statuses are IsFinished's (common/outcome.h), the one rule about them.
  static const std::string kSql = [] {
    std::string finished;
    for (int k = 0; k <= static_cast<int>(RunStatus::kCompensationFailed); ++k) {
      const auto status = static_cast<RunStatus>(k);
      if (IsFinished(status)) {
        finished += fmt::format("{}'{}'", finished.empty() ? "" : ",", RunStatusName(status));
      }
    }
    return fmt::format("SELECT id FROM runs WHERE status NOT IN ({}) ORDER BY id", finished);
  }();
  return impl_->Rows<std::string>(kSql.c_str(), [](SqlStmt* st) { return Text(st, 0); });
}

Result<bool> Store::HoldLeadership() {
  if (impl_->db->engine() != SqlEngine::kPostgres) {
    return Fail(ErrorCode::kInvalidInput, "only a PostgreSQL store elects a leader");
  }
  // A session-level advisory lock, held by this connection until it closes (a killed server's
  // connection is closed by its kernel, and the lock freed at once). pg_try_advisory_lock
  // counts re-entries, so it is asked only when pg_locks shows this session without it: after
  // a reconnection (PgConn reconnects by itself) the session, and the lock, are new. Key
  // 0x534C4349 ("SLCI"): classid 0, objid the key, objsubid 1 for a one-bigint lock.
  auto held = impl_->First<int64_t>(
      "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND "
      "pid = pg_backend_pid() AND granted AND classid = 0 AND objid = 1397506889 AND "
      "objsubid = 1) THEN 1 WHEN pg_try_advisory_lock(1397506889) THEN 1 ELSE 0 END",
      [](SqlStmt* st) { return Int(st, 0); });
  if (!held) return std::unexpected(held.error());
  return held->value_or(0) == 1;
}

}  // namespace sluice
