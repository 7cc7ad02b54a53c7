// Approvals from the command line: the votes the engine reads, `sluice approvals`, and
// `sluice approve|reject RUN TASK`.
#include <algorithm>
#include <cstdio>

#include "cli/approvals.h"
#include "cli/cli_support.h"
#include "cli/identity.h"
#include "common/strings.h"
#include "common/value.h"

namespace sluice {

Result<std::vector<ApprovalVote>> StoreApprovals::Votes(const std::string& run_id,
                                                        const std::string& task) {
  SLUICE_TRY(rows, store_.ListVotes(run_id, task));
  std::vector<ApprovalVote> out;
  for (const auto& r : *rows) out.push_back({r.user, r.account, r.approve, r.comment, r.time_us});
  return out;
}

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

// How many distinct accounts approved: votes one account cast under several names count once.
size_t DistinctApprovers(const std::vector<VoteRow>& votes) {
  std::vector<std::string> accounts;
  for (const auto& v : votes) {
    if (v.approve && std::find(accounts.begin(), accounts.end(), v.account) == accounts.end()) {
      accounts.push_back(v.account);
    }
  }
  return accounts.size();
}

}  // namespace

int CmdApprovals(Env& env, const GlobalOptions& g, bool all) {
  auto store = OpenStore(env, g, false);
  if (!store) return Report(store.error());
  auto requests = (*store)->ListApprovalRequests(!all);
  if (!requests) return Report(requests.error());
  ValueList out;
  if (!g.json) {
    std::printf("%-22s %-20s %-9s %-6s %-24s %s\n", "RUN", "TASK", "STATE", "VOTES", "DEADLINE",
                "APPROVERS");
  }
  for (const auto& r : *requests) {
    auto votes = (*store)->ListVotes(r.run_id, r.task);
    if (!votes) return Report(votes.error());
    auto req = ParseJson(r.request);
    const Value* q = req && req->is_map() ? req->Find("quorum") : nullptr;
    const Value* approvers = req && req->is_map() ? req->Find("approvers") : nullptr;
    const Value* instr = req && req->is_map() ? req->Find("instructions") : nullptr;
    size_t yes = DistinctApprovers(*votes);
    std::string quorum = q && q->is_int() ? std::to_string(q->as_int()) : "1";
    if (g.json) {
      ValueList vl;
      for (const auto& v : *votes) {
        vl.push_back(Value(ValueMap{{"user", Value(v.user)}, {"account", Value(v.account)},
                                    {"approve", Value(v.approve)}, {"comment", Value(v.comment)},
                                    {"time", Value(Ts(v.time_us))}}));
      }
      out.push_back(Value(ValueMap{{"run", Value(r.run_id)},
                                   {"task", Value(r.task)},
                                   {"state", Value(r.state)},
                                   {"requested", Value(Ts(r.requested_us))},
                                   {"deadline", Value(r.deadline_us ? Ts(r.deadline_us) : "")},
                                   {"round", Value(r.round)},
                                   {"request", req ? *req : Value()},
                                   {"votes", Value(std::move(vl))}}));
      continue;
    }
    std::printf("%-22s %-20s %-9s %-6s %-24s %s\n", r.run_id.c_str(), r.task.c_str(),
                r.state.c_str(), fmt::format("{}/{}", yes, quorum).c_str(),
                r.deadline_us ? Ts(r.deadline_us).c_str() : "-",
                approvers ? approvers->ToJson().c_str() : "");
    if (instr && instr->is_string() && !instr->as_string().empty()) {
      std::printf("  %s\n", instr->as_string().c_str());
    }
  }
  if (g.json) std::printf("%s\n", Value(std::move(out)).ToJson().c_str());
  return 0;
}

int CmdVote(Env& env, const GlobalOptions& g, const std::string& run_ref, const std::string& task,
            bool approve, const std::string& comment) {
  auto store = OpenStore(env, g, false);
  if (!store) return Report(store.error());
  auto run = (*store)->GetRun(run_ref);
  if (!run) return Report(run.error());
  auto who = NewEmbeddedIdentity(env, g.state_dir, g.as)->Current();
  if (!who) return Report(who.error());
  auto request = (*store)->GetApprovalRequest(run->id, task);
  if (!request) return Report(request.error());
  if (!*request || (*request)->state != "pending") {
    return Report(Error(ErrorCode::kConflict,
                        fmt::format("task {} of run {} is not awaiting approval{}", Quote(task),
                                    run->id, *request ? " (it was " + (*request)->state + ")" : "")));
  }
  const Request req = ParseRequest((*request)->request);
  const char* verb = approve ? "approve" : "reject";
  if (!IsApprover(*who, req.approvers)) {
    return Report(Error(ErrorCode::kInvalidInput,
                        fmt::format("{} may not {} {}: its approvers are {}", who->Actor(), verb,
                                    task, Join(req.approvers, ", "))));
  }
  // Self-approval is judged on the real principal as well as the name: an account that
  // submitted as dave cannot approve as alice.
  auto submitter = (*store)->RunSubmitter(run->id);
  if (!submitter) return Report(submitter.error());
  auto [by_name, by_account] = ParseActor(*submitter);
  if (req.forbid_self && by_name == who->name) {
    return Report(Error(ErrorCode::kInvalidInput,
                        fmt::format("{} submitted run {} and may not {} it (forbidSelfApproval)",
                                    who->Actor(), run->id, verb)));
  }
  if (req.forbid_self && by_account == who->account) {
    return Report(Error(ErrorCode::kInvalidInput,
                        fmt::format("{} may not {} run {}: {} submitted it, the same account "
                                    "(forbidSelfApproval)", who->Actor(), verb, run->id,
                                    *submitter)));
  }
  VoteRow vote{who->name, who->account, approve, comment, env.clock().NowUs(), (*request)->round, 0};
  auto audit = AuditOf(env, who->Actor(), approve ? "approval.approved" : "approval.rejected",
                       run->id, task, Value(ValueMap{{"comment", Value(comment)},
                                                     {"round", Value(vote.round)}}));
  if (auto cast = (*store)->CastVote(run->id, task, vote, std::move(audit)); !cast) {
    return Report(cast.error());
  }
  auto votes = (*store)->ListVotes(run->id, task);
  std::printf("%s %s of run %s (%zu of %lld approvals)\n", approve ? "approved" : "rejected",
              task.c_str(), run->id.c_str(), votes ? DistinctApprovers(*votes) : 0,
              static_cast<long long>(req.quorum));
  return 0;
}

}  // namespace sluice
