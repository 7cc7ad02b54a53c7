// Approvals from the command line: the votes the engine reads, `sluice approvals`, and
// `sluice approve|reject RUN TASK`.
#include <algorithm>
#include <cstdio>
#include <limits>

#include "cli/approval_rules.h"
#include "cli/approvals.h"
#include "cli/cli_support.h"
#include "cli/identity.h"
#include "cli/render.h"
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

// The releases table is never pruned and grows by one row a release: read whole, newest first.
Result<std::vector<ReleaseRow>> StoreReleases::OfModel(const std::string& digest) {
  SLUICE_TRY(rows, store_.Releases("", std::numeric_limits<int>::max()));
  std::erase_if(*rows, [&](const ReleaseRow& r) { return r.digest != digest; });
  return std::move(*rows);
}

int CmdApprovals(Env& env, const GlobalOptions& g, bool all) {
  auto store = OpenStore(env, g, false);
  if (!store) return Report(store.error());
  auto requests = (*store)->ListApprovalRequests(!all);
  if (!requests) return Report(requests.error());
  ValueList out;
  for (const auto& r : *requests) {
    auto votes = (*store)->ListVotes(r.run_id, r.task);
    if (!votes) return Report(votes.error());
    out.push_back(ApprovalJson(r, *votes));
  }
  const Value list(std::move(out));
  // The text is drawn from the JSON, as it is against a server (render.h).
  std::fputs(g.json ? (list.ToJson() + "\n").c_str() : ApprovalsText(list).c_str(), stdout);
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
  std::fputs(VoteText(Value(ValueMap{{"run", Value(run->id)}, {"task", Value(task)},
                                      {"approve", Value(approve)},
                                      {"approvals", Value(static_cast<int64_t>(voted->approvals))},
                                      {"quorum", Value(voted->quorum)}}))
                 .c_str(),
             stdout);
  return 0;
}

}  // namespace sluice
