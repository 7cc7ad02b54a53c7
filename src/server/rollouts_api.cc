// Rollouts and environments over the API (docs/api.md, "Rollouts and environments"; issue 14):
// a deploy task's rollout (the document `sluice rollout status -o json` prints), the commands
// that act on it, and the environments with their releases.
//
// A command is given as the token's user (NewTokenIdentity: its groups from users.yaml) and
// audited as rollout.COMMAND by that user, through the local command's own function
// (GiveRolloutCommand, cli/rollout_views.h). promote and resume move a rollout on, so they need
// the approve action in the run's namespace and, on top of it, pass the environment's approval
// as a vote would (its approvers by name or group, forbidSelfApproval against the run's
// submitter): a refusal by those rules is a 403 with the local message. pause and abort hold or
// undo, which an operator may do. A body names nothing (the actor is the token's user).
//
// Environments are central configuration (STATE/environments), not a namespace's: their routes
// are judged in the "default" namespace, where any role but worker reads them.
#include "cli/identity.h"
#include "cli/rollout_views.h"
#include "common/strings.h"
#include "server/api.h"
#include "spec/environment_spec.h"
#include "store/store.h"

namespace sluice {

namespace {

// GET /api/v1/runs/{id}/rollouts/{task}.
ApiResponse GetRolloutRoute(const ApiContext& ctx, const ApiRequest& req) {
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  auto run = (*store)->GetRun(req.params.at("id"));
  if (!run) return FromError(run.error());
  auto doc = RolloutDocument(**store, run->id, req.params.at("task"));
  if (!doc) return FromError(doc.error());
  return Json(*doc);
}

// POST /api/v1/runs/{id}/rollouts/{task}/COMMAND.
ApiResponse CommandRoute(const ApiContext& ctx, const ApiRequest& req, const std::string& command) {
  if (!req.body.empty()) {
    auto v = ParseJson(req.body);
    if (!v || !v->is_map() || !v->as_map().empty()) {
      return ErrorResponse(400,
                           "a rollout command takes no body (or {}): the actor is the "
                           "token's user");
    }
  }
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  auto run = (*store)->GetRun(req.params.at("id"));
  if (!run) return FromError(run.error());
  auto who = NewTokenIdentity(ctx.env, ctx.g.state_dir, req.who.user)->Current();
  if (!who) return ErrorResponse(500, who.error().message);
  const std::string& task = req.params.at("task");
  bool refused = false;
  auto done =
      GiveRolloutCommand(ctx.env, ctx.g.state_dir, **store, *run, task, *who, command, &refused);
  if (!done) return refused ? ErrorResponse(403, done.error().message) : FromError(done.error());
  return Json(Value(ValueMap{{"run", Value(run->id)},
                             {"task", Value(task)},
                             {"environment", Value(done->environment)},
                             {"command", Value(command)},
                             {"by", Value(who->Actor())},
                             {"auditSeq", Value(done->audit.seq)}}));
}

// GET /api/v1/environments.
ApiResponse ListEnvironments(const ApiContext& ctx) {
  auto envs = LoadEnvironments(ctx.env.files(), ctx.g.state_dir);
  // A broken central file is the server's configuration, not the client's request.
  if (!envs) return ErrorResponse(500, envs.error().message);
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  auto items = EnvironmentsJson(**envs, **store);
  if (!items) return FromError(items.error());
  return Json(Value(ValueMap{{"items", std::move(*items)}}));
}

// GET /api/v1/environments/{name}/history?limit=N (default 20, at most 1000), as `sluice env
// history NAME`: an environment that never had a release has an empty history.
ApiResponse EnvironmentHistory(const ApiContext& ctx, const ApiRequest& req) {
  auto limit = QueryInt(req, "limit", 20, 1000);
  if (!limit) return BadQueryInt("limit");
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  auto rows = (*store)->Releases(req.params.at("name"), static_cast<int>(*limit));
  if (!rows) return FromError(rows.error());
  return Json(Value(ValueMap{{"items", ReleasesJson(*rows)}}));
}

}  // namespace

void AddRolloutRoutes(Router& router, const ApiContext& ctx) {
  const ApiContext* c = &ctx;
  router.Add({"GET", "/api/v1/runs/{id}/rollouts/{task}", true, Action::kRead,
              [c](const ApiRequest& r) { return GetRolloutRoute(*c, r); }});
  for (const char* command : {"promote", "resume", "pause", "abort"}) {
    const bool moves_on = command == std::string("promote") || command == std::string("resume");
    const std::string name = command;
    router.Add({"POST", "/api/v1/runs/{id}/rollouts/{task}/" + name, true,
                moves_on ? Action::kApprove : Action::kOperate,
                [c, name](const ApiRequest& r) { return CommandRoute(*c, r, name); }});
  }
  router.Add({"GET", "/api/v1/environments", true, Action::kRead,
              [c](const ApiRequest&) { return ListEnvironments(*c); }});
  router.Add({"GET", "/api/v1/environments/{name}/history", true, Action::kRead,
              [c](const ApiRequest& r) { return EnvironmentHistory(*c, r); }});
}

}  // namespace sluice
