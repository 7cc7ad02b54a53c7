// POST /api/v1/runs/{id}/resume and /rollback (docs/api.md): what `sluice resume|rollback` do,
// asked over the API. The same refusals come first and record nothing (CheckResumable: 409 when
// the run's state does not allow it or a process executes it; a stored run whose files are not
// those submitted is 409 too), then the action's audit record names the token's user, and the
// run's engine starts as a process of its own (`sluice resume|rollback RUN`, its output in the
// run folder's engine.log), as a submitted run's does, so a restart of the server leaves it
// running. That engine records its own start as the server's account, as it does for a
// submission.
#include "cli/cli_support.h"
#include "common/strings.h"
#include "server/api.h"
#include "spec/plan.h"
#include "store/store.h"

namespace sluice {

namespace {

ApiResponse Continue(const ApiContext& ctx, const ApiRequest& req, bool rollback) {
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  auto run = (*store)->GetRun(req.params.at("id"));
  if (!run) return FromError(run.error());
  if (auto ok = CheckResumable(ctx.env, ctx.g, *run, rollback); !ok) return FromError(ok.error());
  auto loaded = LoadStoredRun(**store, *run);
  if (!loaded) return FromError(loaded.error());
  for (const auto& p : loaded->first->pipeline->params) {
    // Their values are never stored and would have to travel in the request.
    if (p.secret) {
      return ErrorResponse(400, fmt::format("run {} has secret param {}: {} it with the CLI, "
                                            "which asks for it again", run->id, Quote(p.name),
                                            rollback ? "roll it back" : "resume"));
    }
  }
  const char* action = rollback ? "run.rollback" : "run.resumed";
  auto audit = AuditOf(ctx.env, req.who.user, action, run->id, run->pipeline,
                       Value(ValueMap{{"status", Value(run->status)}}));
  if (auto a = (*store)->AppendAudit(std::move(audit)); !a) return FromError(a.error());
  if (auto s = StartEngine(ctx, run->id, rollback ? "rollback" : "resume"); !s) {
    return ErrorResponse(500, s.error().message);
  }
  ApiResponse r;
  r.status = 202;
  r.body = Value(ValueMap{{"id", Value(run->id)}, {"action", Value(rollback ? "rollback" : "resume")},
                          {"by", Value(req.who.user)}})
               .ToJson();
  return r;
}

}  // namespace

void AddRunActionRoutes(Router& router, const ApiContext& ctx) {
  const ApiContext* c = &ctx;
  router.Add({"POST", "/api/v1/runs/{id}/resume", true, Action::kOperate,
              [c](const ApiRequest& r) { return Continue(*c, r, false); }});
  router.Add({"POST", "/api/v1/runs/{id}/rollback", true, Action::kOperate,
              [c](const ApiRequest& r) { return Continue(*c, r, true); }});
}

}  // namespace sluice
