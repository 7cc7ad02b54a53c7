// The rules of an approval vote, in one place for `sluice approve|reject|approvals` (approvals.cc)
// and the API's approvals (src/server/approvals_api.cc): who may vote (the request's approvers,
// by name or users.yaml group), forbidSelfApproval (by name and by account), how votes count
// towards a quorum (distinct accounts), and the JSON document of a request with its votes.
#pragma once

#include <string>
#include <vector>

#include "cli/identity.h"
#include "common/value.h"
#include "env/env.h"
#include "spec/model.h"
#include "store/store.h"

namespace sluice {

// How many distinct accounts approved: votes one account cast under several names count once.
size_t DistinctApprovers(const std::vector<VoteRow>& votes);

// What a vote did: the approvals counted after it, and the quorum the request asks for.
struct VoteResult {
  size_t approvals = 0;
  int64_t quorum = 1;
};

// `who` approves (or rejects) the pending approval of `task` in `run`, with its audit record
// (approval.approved|rejected by who.Actor()) in the same transaction. On failure nothing is
// stored, and the error says why: kConflict when the task does not await approval (or the
// store refuses the vote: a decided round, a passed deadline, a second vote of one account);
// kInvalidInput when `who` may not vote on it (not among its approvers, or forbidSelfApproval
// and `who` submitted the run, by name or by account).
Result<VoteResult> CastApprovalVote(Env& env, Store& store, const RunRecord& run,
                                    const std::string& task, const Principal& who, bool approve,
                                    const std::string& comment);

// Whether `who` may give a rollout of `run` a command that moves it on (promote, resume): as a
// vote on `approval` would be judged (its approvers; forbidSelfApproval by name and account).
// No approval: anyone who may act on the run. Fails (kInvalidInput) saying why not.
Status MayPromote(Store& store, const RunRecord& run, const Principal& who,
                  const ApprovalSpec* approval, const char* verb);

// One approval request with its votes, as `sluice approvals -o json` prints it.
Value ApprovalJson(const ApprovalRequestRow& r, const std::vector<VoteRow>& votes);

}  // namespace sluice
