// Approvals over the API (docs/api.md, "Approvals"): the approval requests that wait (of one run,
// or of every run the token may read), and approve or reject. The voter is always the token's
// user (NewTokenIdentity: its groups from users.yaml); a body names nothing but an optional
// comment, and a request that names anything else is refused. The rules (approvers, quorum,
// forbidSelfApproval, one vote per account and round) are the CLI's own (cli/approval_rules.h),
// and the vote's audit record names the token's user.
#include "cli/approval_rules.h"
#include "cli/identity.h"
#include "common/strings.h"
#include "server/api.h"
#include "store/store.h"

namespace sluice {

namespace {

// GET /api/v1/approvals and /api/v1/runs/{id}/approvals: pending ones, or all with ?all=true.
ApiResponse ListApprovals(const ApiContext& ctx, const ApiRequest& req, bool one_run) {
  const std::string all = req.Query("all", "false");
  if (all != "true" && all != "false") return ErrorResponse(400, "query parameter all must be true or false");
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  std::string run_id;
  if (one_run) {
    auto run = (*store)->GetRun(req.params.at("id"));
    if (!run) return FromError(run.error());
    run_id = run->id;
  }
  auto requests = (*store)->ListApprovalRequests(all == "false");
  if (!requests) return FromError(requests.error());
  ValueList items;
  for (const auto& r : *requests) {
    if (one_run ? r.run_id != run_id : !MayReadRun(ctx, req.who, r.run_id)) {
      continue;
    }
    auto votes = (*store)->ListVotes(r.run_id, r.task);
    if (!votes) return FromError(votes.error());
    items.push_back(ApprovalJson(r, *votes));
  }
  return Json(Value(ValueMap{{"items", Value(std::move(items))}}));
}

// The comment of a vote's body ({"comment": "..."} or empty); 400 for anything else, so that a
// client that thinks it can name the voter learns it cannot.
Result<std::string> VoteComment(const std::string& body) {
  if (body.empty()) return std::string();
  auto v = ParseJson(body);
  if (!v || !v->is_map()) return Fail(ErrorCode::kInvalidInput, "the body must be a JSON object");
  std::string comment;
  for (const auto& [k, val] : v->as_map()) {
    if (k.as_string() == "comment" && val.is_string()) {
      comment = val.as_string();
    } else {
      return Fail(ErrorCode::kInvalidInput, "unknown or mistyped field {} (a vote takes only "
                  "comment: string; the voter is the token's user)", Quote(k.as_string()));
    }
  }
  return comment;
}

// POST /api/v1/runs/{id}/tasks/{task}/approve|reject.
ApiResponse Vote(const ApiContext& ctx, const ApiRequest& req, bool approve) {
  auto comment = VoteComment(req.body);
  if (!comment) return ErrorResponse(400, comment.error().message);
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  auto run = (*store)->GetRun(req.params.at("id"));
  if (!run) return FromError(run.error());
  auto who = NewTokenIdentity(ctx.env, ctx.g.state_dir, req.who.user)->Current();
  if (!who) return ErrorResponse(500, who.error().message);
  const std::string& task = req.params.at("task");
  auto voted = CastApprovalVote(ctx.env, **store, *run, task, *who, approve, *comment);
  if (!voted) {
    // Not an approver, or forbidSelfApproval: the vote is forbidden to this user.
    if (voted.error().code == ErrorCode::kInvalidInput) return ErrorResponse(403, voted.error().message);
    return FromError(voted.error());
  }
  return Json(Value(ValueMap{{"run", Value(run->id)}, {"task", Value(task)},
                             {"approve", Value(approve)}, {"by", Value(who->Actor())},
                             {"approvals", Value(static_cast<int64_t>(voted->approvals))},
                             {"quorum", Value(voted->quorum)}}));
}

}  // namespace

void AddApprovalRoutes(Router& router, const ApiContext& ctx) {
  const ApiContext* c = &ctx;
  // Every run's: the namespaces are checked per request (namespaced=false).
  router.Add({"GET", "/api/v1/approvals", true, Action::kRead,
              [c](const ApiRequest& r) { return ListApprovals(*c, r, false); }, false});
  router.Add({"GET", "/api/v1/runs/{id}/approvals", true, Action::kRead,
              [c](const ApiRequest& r) { return ListApprovals(*c, r, true); }});
  router.Add({"POST", "/api/v1/runs/{id}/tasks/{task}/approve", true, Action::kApprove,
              [c](const ApiRequest& r) { return Vote(*c, r, true); }});
  router.Add({"POST", "/api/v1/runs/{id}/tasks/{task}/reject", true, Action::kApprove,
              [c](const ApiRequest& r) { return Vote(*c, r, false); }});
}

}  // namespace sluice
