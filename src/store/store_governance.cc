// The store's tables besides runs and events: circuit breakers, the audit log (SHA-256
// chained), policy decisions and approvals.
#include <algorithm>

#include "common/sha256.h"
#include "store/store_impl.h"

namespace sluice {

namespace {

std::string AuditHash(const std::string& prev, const AuditRecord& r) {
  return Sha256Hex(prev + "\n" + AuditPayload(r));
}

}  // namespace

Status Store::Impl::AuditEvent(const Event& e, std::string action, const Value& details) {
  AuditRecord r;
  r.time_us = e.time_us;
  r.actor = "sluice";
  r.action = std::move(action);
  r.run_id = e.run_id;
  r.subject = e.task;
  r.details = CanonicalJson(details);
  auto a = InsertAudit(std::move(r));
  if (!a) return std::unexpected(a.error());
  return {};
}

Status Store::Impl::InsertDecision(const DecisionRow& d) {
  return Run("INSERT INTO decisions(time_us,run_id,stage,task,policy,rule,policy_hash,"
             "input_digest,result,message,waiver) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
             d.time_us, d.run_id, d.stage, d.task, d.policy, d.rule, d.policy_hash,
             d.input_digest, d.result, d.message, d.waiver);
}

Result<AuditRecord> Store::Impl::InsertAudit(AuditRecord r) {
  SLUICE_TRY(last, (First<std::pair<int64_t, std::string>>(
                       "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
                       [](SqlStmt* st) { return std::pair(Int(st, 0), Text(st, 1)); })));
  r.seq = *last ? (*last)->first + 1 : 1;
  r.prev_hash = *last ? (*last)->second : std::string(kGenesis);
  if (r.details.empty()) r.details = "{}";
  r.hash = AuditHash(r.prev_hash, r);
  auto s = Run("INSERT INTO audit(seq,time_us,actor,action,run_id,subject,details,prev_hash,hash) "
               "VALUES(?,?,?,?,?,?,?,?,?)", r.seq, r.time_us, r.actor, r.action, r.run_id,
               r.subject, r.details, r.prev_hash, r.hash);
  if (!s) return std::unexpected(s.error());
  return r;
}

Result<std::vector<BreakerTransitionRow>> Store::UpdateBreaker(const std::string& name,
                                                              int64_t now_us,
                                                              const BreakerUpdate& update) {
  return impl_->InTransaction([&]() -> Result<std::vector<BreakerTransitionRow>> {
    SLUICE_TRY(found, impl_->First<std::string>("SELECT data FROM breakers WHERE name=?",
                                                 [](SqlStmt* st) { return Text(st, 0); }, name));
    std::string data = found->value_or("");
    auto rows = update(data);
    if (!rows) return rows;
    auto s = impl_->Run("INSERT INTO breakers(name,data,updated_us) VALUES(?,?,?) ON "
                        "CONFLICT(name) DO UPDATE SET data=excluded.data, "
                        "updated_us=excluded.updated_us", name, data, now_us);
    for (auto it = rows->begin(); s && it != rows->end(); ++it) {
      s = impl_->Run("INSERT INTO breaker_transitions(name,from_state,to_state,reason,who,time_us) "
                     "VALUES(?,?,?,?,?,?)", name, it->from, it->to, it->reason, it->who, now_us);
    }
    if (!s) return std::unexpected(s.error());
    return rows;
  });
}
std::string AuditPayload(const AuditRecord& r) {
  auto details = ParseJson(r.details);
  return CanonicalJson(Value(ValueMap{{"seq", Value(r.seq)},
                                      {"time_us", Value(r.time_us)},
                                      {"actor", Value(r.actor)},
                                      {"action", Value(r.action)},
                                      {"run", Value(r.run_id)},
                                      {"subject", Value(r.subject)},
                                      {"details", details ? *details : Value(r.details)}}));
}


Result<std::vector<DecisionRow>> Store::ListDecisions(const std::string& run_id) {
  return impl_->Rows<DecisionRow>(
      "SELECT time_us,run_id,stage,task,policy,rule,policy_hash,input_digest,result,message,waiver "
      "FROM decisions WHERE run_id=? ORDER BY seq",
      [](SqlStmt* st) -> DecisionRow {
        return {Int(st, 0),  Text(st, 1), Text(st, 2), Text(st, 3), Text(st, 4), Text(st, 5),
                Text(st, 6), Text(st, 7), Text(st, 8), Text(st, 9), Text(st, 10)};
      },
      run_id);
}

Result<AuditRecord> Store::AppendAudit(AuditRecord r) {
  return impl_->InTransaction([&] { return impl_->InsertAudit(std::move(r)); });
}

AuditRecord ReadAuditRecord(SqlStmt* st, int col) {
  AuditRecord r;
  r.seq = Int(st, col);
  r.time_us = Int(st, col + 1);
  r.actor = Text(st, col + 2);
  r.action = Text(st, col + 3);
  r.run_id = Text(st, col + 4);
  r.subject = Text(st, col + 5);
  r.details = Text(st, col + 6);
  r.prev_hash = Text(st, col + 7);
  r.hash = Text(st, col + 8);
  return r;
}

Result<std::vector<AuditRecord>> Store::ListAudit(int64_t after_seq) {
  return impl_->Rows<AuditRecord>("SELECT " AUDIT_COLUMNS " FROM audit WHERE seq > ? ORDER BY seq",
                                  [](SqlStmt* st) { return ReadAuditRecord(st, 0); },
                                  after_seq);
}

namespace {

// Why record `r` breaks the chain when the record before it should be `expect_seq - 1` with hash
// `prev`; "" when it follows.
std::string ChainBreak(const AuditRecord& r, int64_t expect_seq, const std::string& prev) {
  if (r.seq != expect_seq) {
    return r.seq == expect_seq + 1 ? fmt::format("record {} is missing", expect_seq)
           : r.seq > expect_seq    ? fmt::format("records {} to {} are missing", expect_seq, r.seq - 1)
                                   : "its sequence number is out of order";
  }
  if (r.prev_hash != prev) {
    return "it does not follow the record before it (inserted, moved, or the one before changed)";
  }
  if (AuditHash(r.prev_hash, r) != r.hash) return "its content does not match its hash (changed)";
  return "";
}

}  // namespace

Result<bool> Store::Impl::ChainHolds(int64_t seq) {
  if (chain_checked_seq > 0) {
    // What was checked must still be there, unchanged.
    SLUICE_TRY(hash, First<std::string>("SELECT hash FROM audit WHERE seq=?",
                                        [](SqlStmt* st) { return Text(st, 0); },
                                        chain_checked_seq));
    if (*hash != chain_checked_hash) chain_checked_seq = 0;
  }
  if (chain_checked_seq == 0) chain_checked_hash = std::string(kGenesis);
  if (seq <= chain_checked_seq) return true;
  auto records = Rows<AuditRecord>(
      "SELECT " AUDIT_COLUMNS " FROM audit WHERE seq > ? AND seq <= ? ORDER BY seq",
      [](SqlStmt* st) { return ReadAuditRecord(st, 0); }, chain_checked_seq, seq);
  if (!records) return std::unexpected(records.error());
  for (const auto& r : *records) {
    if (!ChainBreak(r, chain_checked_seq + 1, chain_checked_hash).empty()) return false;
    chain_checked_seq = r.seq;
    chain_checked_hash = r.hash;
  }
  return chain_checked_seq == seq;
}

Result<AuditCheck> Store::VerifyAudit(const std::string& expect_head) {
  auto records = ListAudit();
  if (!records) return std::unexpected(records.error());
  AuditCheck c;
  std::string prev(kGenesis);
  int64_t expect_seq = 1;
  for (const auto& r : *records) {
    ++c.records;
    if (std::string why = ChainBreak(r, expect_seq, prev); !why.empty()) {
      c.broken_at = r.seq;
      c.why = why;
      return c;
    }
    prev = r.hash;
    expect_seq = r.seq + 1;
  }
  c.head = records->empty() ? std::string(kGenesis) : records->back().hash;
  if (!expect_head.empty() && expect_head != c.head) {
    bool known = std::any_of(records->begin(), records->end(),
                             [&](const AuditRecord& r) { return r.hash == expect_head; });
    c.broken_at = records->empty() ? 1 : records->back().seq;
    c.why = known ? "the expected head is an earlier record: records were added since (not an error "
                    "by itself; verify with the newer head)"
                  : "the expected head is not in the log: records at the end were removed or "
                    "rewritten";
    if (known) c.broken_at = 0;
  }
  return c;
}

Result<std::vector<BreakerRow>> Store::ListBreakers() {
  return impl_->Rows<BreakerRow>("SELECT name,data,updated_us FROM breakers ORDER BY name",
                                 [](SqlStmt* st) -> BreakerRow {
                                   return {Text(st, 0), Text(st, 1), Int(st, 2)};
                                 });
}

Result<std::vector<BreakerTransitionRow>> Store::ListBreakerTransitions(const std::string& name,
                                                                        int limit) {
  return impl_->Rows<BreakerTransitionRow>(
      "SELECT name,from_state,to_state,reason,who,time_us FROM (SELECT * FROM breaker_transitions "
      "WHERE name=? OR ?='' ORDER BY seq DESC LIMIT ?) AS last ORDER BY seq",
      [](SqlStmt* st) -> BreakerTransitionRow {
        return {Text(st, 0), Text(st, 1), Text(st, 2), Text(st, 3), Text(st, 4), Int(st, 5)};
      },
      name, name, static_cast<int64_t>(limit));
}

}  // namespace sluice
