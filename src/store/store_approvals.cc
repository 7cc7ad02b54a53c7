// Approvals in the store: the requests (a projection of approval.requested/decided events), the
// votes people cast, and which of those votes count.
//
// Design: a vote is two rows written in one transaction, an `approval_votes` row and the
// approval.approved|rejected audit record it points to (`audit_seq`). Only the audit chain is
// tamper-evident, so a vote counts only when its record exists, says the same thing as the row
// (who, which way, which round, the comment) and chains from the log's first record: a row
// written straight into SQLite, or one whose record was lost, decides nothing. An approval asked
// again (a group retry) is a new round; votes belong to the round they were cast in.
#include "common/value.h"
#include "store/store_impl.h"

namespace sluice {

// A request is pending while its task still awaits approval: a cancelled run leaves its request
// 'pending' in approval_requests, but its task is cancelled, and that is the state shown.
#define APPROVAL_SELECT                                                                        \
  "SELECT r.run_id,r.task,r.requested_us,r.deadline_us,r.request,CASE WHEN r.state='pending' " \
  "AND t.state!='awaiting-approval' THEN t.state ELSE r.state END,r.round FROM "              \
  "approval_requests r JOIN tasks t ON t.run_id=r.run_id AND t.name=r.task "

namespace {

// A row of APPROVAL_SELECT.
ApprovalRequestRow ReadApprovalRequest(SqlStmt* st) {
  return {Text(st, 0), Text(st, 1), Int(st, 2), Int(st, 3), Text(st, 4), Text(st, 5), Int(st, 6)};
}

// Whether audit record `a` records vote `v` on `task` of `run_id`.
bool RecordsVote(const AuditRecord& a, const std::string& run_id, const std::string& task,
                 const VoteRow& v) {
  if (a.seq != v.audit_seq || a.run_id != run_id || a.subject != task ||
      a.actor != ActorName(v.user, v.account) ||
      a.action != (v.approve ? "approval.approved" : "approval.rejected")) {
    return false;
  }
  auto details = ParseJson(a.details);
  if (!details || !details->is_map()) return false;
  const Value* round = details->Find("round");
  const Value* comment = details->Find("comment");
  return round && round->is_int() && round->as_int() == v.round && comment &&
         comment->is_string() && comment->as_string() == v.comment;
}

}  // namespace

Result<std::vector<ApprovalRequestRow>> Store::ListApprovalRequests(bool pending_only) {
  return impl_->Rows<ApprovalRequestRow>(
      APPROVAL_SELECT "WHERE ?=0 OR (r.state='pending' AND t.state='awaiting-approval') "
                      "ORDER BY r.requested_us",
      ReadApprovalRequest, static_cast<int64_t>(pending_only));
}

Result<std::optional<ApprovalRequestRow>> Store::GetApprovalRequest(const std::string& run_id,
                                                                    const std::string& task) {
  return impl_->First<ApprovalRequestRow>(APPROVAL_SELECT "WHERE r.run_id=? AND r.task=?",
                                          ReadApprovalRequest, run_id, task);
}

Result<AuditRecord> Store::CastVote(const std::string& run_id, const std::string& task,
                                    const VoteRow& v, AuditRecord audit) {
  return impl_->InTransaction([&]() -> Result<AuditRecord> {
    // Checked again here, under the write lock: the run's process may have decided the round,
    // or asked again, since the voter read it.
    auto request = GetApprovalRequest(run_id, task);
    if (!request) return std::unexpected(request.error());
    if (!*request || (*request)->state != "pending" || (*request)->round != v.round) {
      return Fail(ErrorCode::kConflict, "task {} of run {} is no longer awaiting this approval",
                  Quote(task), run_id);
    }
    if ((*request)->deadline_us > 0 && v.time_us >= (*request)->deadline_us) {
      return Fail(ErrorCode::kConflict, "the approval of {} in run {} timed out at {}: a vote "
                  "after its deadline does not count", Quote(task), run_id,
                  FormatTimestampMs((*request)->deadline_us / 1000));
    }
    SLUICE_TRY(voted, impl_->First<std::string>(
                          "SELECT \"user\" FROM approval_votes WHERE run_id=? AND task=? AND "
                          "round=? AND account=?",
                          [](SqlStmt* st) { return Text(st, 0); }, run_id, task, v.round,
                          v.account));
    std::string earlier = voted->value_or("");
    if (!earlier.empty()) {
      return Fail(ErrorCode::kConflict, "{} has already voted on {} of run {}{}", v.account, task,
                  run_id, earlier == v.account ? "" : " (as " + earlier + ")");
    }
    auto appended = impl_->InsertAudit(std::move(audit));
    if (!appended) return appended;
    auto s = impl_->Run("INSERT INTO approval_votes(run_id,task,round,account,\"user\",approve,comment,"
                        "time_us,audit_seq) VALUES(?,?,?,?,?,?,?,?,?)", run_id, task, v.round,
                        v.account, v.user, static_cast<int64_t>(v.approve), v.comment, v.time_us,
                        appended->seq);
    if (!s) return std::unexpected(s.error());
    return appended;
  });
}

Result<std::vector<VoteRow>> Store::ListVotes(const std::string& run_id, const std::string& task) {
  struct Pair {
    VoteRow vote;
    std::optional<AuditRecord> record;
  };
  auto rows = impl_->Rows<Pair>(
      "SELECT v.\"user\",v.account,v.approve,v.comment,v.time_us,v.round,v.audit_seq,a.seq,a.time_us,"
      "a.actor,a.action,a.run_id,a.subject,a.details,a.prev_hash,a.hash FROM approval_votes v "
      "JOIN approval_requests r ON r.run_id=v.run_id AND r.task=v.task AND r.round=v.round "
      "LEFT JOIN audit a ON a.seq=v.audit_seq WHERE v.run_id=? AND v.task=? "
      "ORDER BY v.time_us, v.rowid",
      [](SqlStmt* st) {
        Pair p;
        p.vote = {Text(st, 0), Text(st, 1), Int(st, 2) != 0, Text(st, 3), Int(st, 4), Int(st, 5),
                  Int(st, 6)};
        if (!st->IsNull(7)) p.record = ReadAuditRecord(st, 7);
        return p;
      },
      run_id, task);
  if (!rows) return std::unexpected(rows.error());
  std::vector<VoteRow> out;
  for (auto& p : *rows) {
    if (!p.record || !RecordsVote(*p.record, run_id, task, p.vote)) continue;
    auto holds = impl_->ChainHolds(p.vote.audit_seq);
    if (!holds) return std::unexpected(holds.error());
    if (*holds) out.push_back(std::move(p.vote));
  }
  return out;
}

Result<std::string> Store::RunSubmitter(const std::string& run_id) {
  auto record = SubmittedRecord(run_id);
  if (!record) return std::unexpected(record.error());
  return *record ? (*record)->actor : std::string();
}

Result<std::optional<AuditRecord>> Store::LastAuditRecord(const std::string& run_id) {
  return impl_->First<AuditRecord>("SELECT " AUDIT_COLUMNS " FROM audit WHERE run_id=? ORDER BY "
                                   "seq DESC LIMIT 1",
                                   [](SqlStmt* st) { return ReadAuditRecord(st, 0); }, run_id);
}

Result<std::optional<AuditRecord>> Store::SubmittedRecord(const std::string& run_id) {
  auto found = impl_->First<AuditRecord>("SELECT " AUDIT_COLUMNS " FROM audit WHERE run_id=? AND "
                                         "action='run.submitted' ORDER BY seq LIMIT 1",
                                         [](SqlStmt* st) { return ReadAuditRecord(st, 0); },
                                         run_id);
  if (!found) return std::unexpected(found.error());
  std::optional<AuditRecord> out = std::move(*found);
  if (!out) return out;
  auto holds = impl_->ChainHolds(out->seq);
  if (!holds) return std::unexpected(holds.error());
  if (!*holds) {
    return Fail(ErrorCode::kConflict, "the audit log does not verify up to the submission of run "
                "{} (sluice audit verify names the record)", run_id);
  }
  return out;
}

}  // namespace sluice
