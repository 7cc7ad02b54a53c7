// What `sluice server` keeps and reads beyond runs: its API tokens (store.h, TokenRow) and the
// counts /metrics serves. Of a token (access/access.h) the store keeps the id, the SHA-256 of
// its secret and whom it speaks for, never the secret itself. Creating and revoking a token are
// audited in the same transaction as the row they write.
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

}  // namespace sluice
