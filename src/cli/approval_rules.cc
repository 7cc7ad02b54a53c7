// The rules of an approval vote (approval_rules.h).
#include "cli/approval_rules.h"

#include <algorithm>

#include "cli/cli_support.h"
#include "common/strings.h"

namespace sluice {

namespace {

// What an approval request asks for (its request JSON).
struct Request {
  std::vector<std::string> approvers;
  bool forbid_self = true;
  int64_t quorum = 1;
};

Request ParseRequest(const std::string& json) {
  Request out;
  auto req = ParseJson(json);
  if (!req || !req->is_map()) return out;
  if (const Value* a = req->Find("approvers"); a && a->is_list()) {
    for (const auto& x : a->as_list()) {
      if (x.is_string()) out.approvers.push_back(x.as_string());
    }
  }
  if (const Value* f = req->Find("forbidSelfApproval"); f && f->is_bool()) out.forbid_self = f->as_bool();
  if (const Value* q = req->Find("quorum"); q && q->is_int()) out.quorum = q->as_int();
  return out;
}

// Whether `who` is listed among `approvers`: by name, or by a group of users.yaml
// ("group:NAME" is only ever a group, never a user of that name).
bool IsApprover(const Principal& who, const std::vector<std::string>& approvers) {
  for (const auto& a : approvers) {
    if (StartsWith(a, "group:") ? who.InGroup(std::string_view(a).substr(6)) : a == who.name) {
      return true;
    }
  }
  return false;
}

// Refused (kInvalidInput) when `who` submitted the run and the request forbids that. It is
// judged on the real principal as well as the name: an account that submitted as dave cannot
// approve as alice.
Status CheckNotSelf(Store& store, const RunRecord& run, const Principal& who, const char* verb) {
  SLUICE_TRY(submitter, store.RunSubmitter(run.id));
  auto [by_name, by_account] = ParseActor(*submitter);
  if (by_name == who.name) {
    return Fail(ErrorCode::kInvalidInput, "{} submitted run {} and may not {} it "
                "(forbidSelfApproval)", who.Actor(), run.id, verb);
  }
  if (by_account == who.account) {
    return Fail(ErrorCode::kInvalidInput, "{} may not {} run {}: {} submitted it, the same "
                "account (forbidSelfApproval)", who.Actor(), verb, run.id, *submitter);
  }
  return {};
}

}  // namespace

Status MayPromote(Store& store, const RunRecord& run, const Principal& who,
                  const ApprovalSpec* approval, const char* verb) {
  if (!approval) return {};
  if (!IsApprover(who, approval->approvers)) {
    return Fail(ErrorCode::kInvalidInput, "{} may not {} this rollout: its environment's "
                "approvers are {}", who.Actor(), verb, Join(approval->approvers, ", "));
  }
  if (approval->forbid_self) SLUICE_TRY_STATUS(CheckNotSelf(store, run, who, verb));
  return {};
}

size_t DistinctApprovers(const std::vector<VoteRow>& votes) {
  std::vector<std::string> accounts;
  for (const auto& v : votes) {
    if (v.approve && std::find(accounts.begin(), accounts.end(), v.account) == accounts.end()) {
      accounts.push_back(v.account);
    }
  }
  return accounts.size();
}

Result<VoteResult> CastApprovalVote(Env& env, Store& store, const RunRecord& run,
                                    const std::string& task, const Principal& who, bool approve,
                                    const std::string& comment) {
  SLUICE_TRY(request, store.GetApprovalRequest(run.id, task));
  if (!*request || (*request)->state != "pending") {
    return Fail(ErrorCode::kConflict, "task {} of run {} is not awaiting approval{}", Quote(task),
                run.id, *request ? " (it was " + (*request)->state + ")" : "");
  }
  const Request req = ParseRequest((*request)->request);
  const char* verb = approve ? "approve" : "reject";
  if (!IsApprover(who, req.approvers)) {
    return Fail(ErrorCode::kInvalidInput, "{} may not {} {}: its approvers are {}", who.Actor(),
                verb, task, Join(req.approvers, ", "));
  }
  if (req.forbid_self) SLUICE_TRY_STATUS(CheckNotSelf(store, run, who, verb));
  VoteRow vote{who.name, who.account, approve, comment, env.clock().NowUs(), (*request)->round, 0};
  auto audit = AuditOf(env, who.Actor(), approve ? "approval.approved" : "approval.rejected",
                       run.id, task, Value(ValueMap{{"comment", Value(comment)},
                                                    {"round", Value(vote.round)}}));
  SLUICE_TRY_STATUS(store.CastVote(run.id, task, vote, std::move(audit)));
  auto votes = store.ListVotes(run.id, task);
  return VoteResult{votes ? DistinctApprovers(*votes) : 0, req.quorum};
}

Value ApprovalJson(const ApprovalRequestRow& r, const std::vector<VoteRow>& votes) {
  auto req = ParseJson(r.request);
  ValueList vl;
  for (const auto& v : votes) {
    vl.push_back(Value(ValueMap{{"user", Value(v.user)}, {"account", Value(v.account)},
                                {"approve", Value(v.approve)}, {"comment", Value(v.comment)},
                                {"time", Value(Ts(v.time_us))}}));
  }
  return Value(ValueMap{{"run", Value(r.run_id)},
                        {"task", Value(r.task)},
                        {"state", Value(r.state)},
                        {"requested", Value(Ts(r.requested_us))},
                        {"deadline", Value(r.deadline_us ? Ts(r.deadline_us) : "")},
                        {"round", Value(r.round)},
                        {"request", req ? *req : Value()},
                        {"votes", Value(std::move(vl))}});
}

}  // namespace sluice
