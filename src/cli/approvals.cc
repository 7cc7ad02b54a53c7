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
  for (const auto& r : *rows) out.push_back({r.user, r.approve, r.comment, r.time_us});
  return out;
}

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
    int yes = static_cast<int>(std::count_if(votes->begin(), votes->end(),
                                             [](const VoteRow& v) { return v.approve; }));
    std::string quorum = q && q->is_int() ? std::to_string(q->as_int()) : "1";
    if (g.json) {
      ValueList vl;
      for (const auto& v : *votes) {
        vl.push_back(Value(ValueMap{{"user", Value(v.user)}, {"approve", Value(v.approve)},
                                    {"comment", Value(v.comment)}, {"time", Value(Ts(v.time_us))}}));
      }
      out.push_back(Value(ValueMap{{"run", Value(r.run_id)},
                                   {"task", Value(r.task)},
                                   {"state", Value(r.state)},
                                   {"requested", Value(Ts(r.requested_us))},
                                   {"deadline", Value(r.deadline_us ? Ts(r.deadline_us) : "")},
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
  auto req = ParseJson((*request)->request);
  std::vector<std::string> approvers;
  bool forbid_self = true;
  if (req && req->is_map()) {
    if (const Value* a = req->Find("approvers"); a && a->is_list()) {
      for (const auto& x : a->as_list()) {
        if (x.is_string()) approvers.push_back(x.as_string());
      }
    }
    if (const Value* f = req->Find("forbidSelfApproval"); f && f->is_bool()) forbid_self = f->as_bool();
  }
  bool allowed = std::find(approvers.begin(), approvers.end(), who->name) != approvers.end();
  for (const auto& grp : who->groups) {
    allowed = allowed || std::find(approvers.begin(), approvers.end(), "group:" + grp) != approvers.end();
  }
  if (!allowed) {
    return Report(Error(ErrorCode::kInvalidInput,
                        fmt::format("{} may not {} {}: its approvers are {}", who->name,
                                    approve ? "approve" : "reject", task, Join(approvers, ", "))));
  }
  auto submitter = (*store)->RunSubmitter(run->id);
  if (!submitter) return Report(submitter.error());
  if (forbid_self && *submitter == who->name) {
    return Report(Error(ErrorCode::kInvalidInput,
                        fmt::format("{} submitted run {} and may not {} it (forbidSelfApproval)",
                                    who->name, run->id, approve ? "approve" : "reject")));
  }
  VoteRow vote{who->name, approve, comment, env.clock().NowUs()};
  if (auto s = (*store)->AddVote(run->id, task, vote); !s) return Report(s.error());
  if (auto a = (*store)->AppendAudit(AuditOf(env, who->name, approve ? "approval.approved" : "approval.rejected",
                                              run->id, task, Value(ValueMap{{"comment", Value(comment)}})));
      !a) {
    return Report(a.error());
  }
  auto votes = (*store)->ListVotes(run->id, task);
  int yes = votes ? static_cast<int>(std::count_if(votes->begin(), votes->end(),
                                                   [](const VoteRow& v) { return v.approve; }))
                  : 0;
  const Value* q = req && req->is_map() ? req->Find("quorum") : nullptr;
  std::printf("%s %s of run %s (%d of %lld approvals)\n", approve ? "approved" : "rejected",
              task.c_str(), run->id.c_str(), yes,
              static_cast<long long>(q && q->is_int() ? q->as_int() : 1));
  return 0;
}

}  // namespace sluice
