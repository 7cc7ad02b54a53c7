// Approvals from the command line: the votes the engine reads, `sluice approvals`, and
// `sluice approve|reject RUN TASK`.
#include <algorithm>
#include <cstdio>

#include "cli/approval_rules.h"
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
      out.push_back(ApprovalJson(r, *votes));
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
  auto voted = CastApprovalVote(env, **store, *run, task, *who, approve, comment);
  if (!voted) return Report(voted.error());
  std::printf("%s %s of run %s (%zu of %lld approvals)\n", approve ? "approved" : "rejected",
              task.c_str(), run->id.c_str(), voted->approvals,
              static_cast<long long>(voted->quorum));
  return 0;
}

}  // namespace sluice
