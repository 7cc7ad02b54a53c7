// POST /api/v1/runs/{id}/resume and /rollback (docs/api.md): what `sluice resume|rollback` do,
// asked over the API. The same refusals come first and record nothing (CheckResumable: 409 when
// the run's state does not allow it or a process executes it; a stored run whose files are not
// those submitted is 409 too), then the request claims the run (ClaimRun: of two requests at
// once, one wins and the other gets 409 with nothing recorded), then the action's audit record
// names the token's user, and the run's engine starts as a process of its own (`sluice
// resume|rollback RUN`, its output in the run folder's engine.log), as a submitted run's does,
// so a restart of the server leaves it running. That engine records its own start as the
// server's account, as it does for a submission.
#include <charconv>

#include "cli/cli_support.h"
#include "common/strings.h"
#include "server/api.h"
#include "spec/plan.h"
#include "store/store.h"

namespace sluice {

namespace {

// How long a claim keeps other requests from starting a run's engine (see ClaimRun).
constexpr int64_t kClaimUs = 10'000'000;

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
  // The run is claimed before anything is recorded: of two requests at once, one holds the
  // run's lock and the other gets 409 with no audit record.
  if (auto claimed = ClaimRun(ctx, run->id); !claimed) return FromError(claimed.error());
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

// A claim younger than kClaimUs means an engine another request started has not taken the lock
// yet (an engine removes the claim when it takes the lock: cli's LockRun).
Status ClaimRun(const ApiContext& ctx, const std::string& run_id,
                const std::function<Status()>& under_lock) {
  const std::string dir = RunDir(ctx.env, ctx.g, run_id);
  SLUICE_TRY(lock, ctx.env.TryLock(PathJoin(dir, "lock"), std::to_string(ctx.env.Pid())));
  if (!*lock) return Fail(ErrorCode::kConflict, "a process executes run {}", run_id);
  const std::string claim = PathJoin(dir, "engine.claim");
  const int64_t now = ctx.env.clock().NowUs();
  if (auto text = ctx.env.files().ReadFile(claim)) {
    int64_t at = 0;
    std::from_chars(text->data(), text->data() + text->size(), at);
    if (at <= now && now - at < kClaimUs) {
      return Fail(ErrorCode::kConflict, "an engine for run {} was started {:.1f} s ago; ask "
                  "again in a few seconds", run_id, static_cast<double>(now - at) / 1e6);
    }
  }
  if (under_lock) {
    SLUICE_TRY_STATUS(under_lock());
  }
  return ctx.env.files().WriteFile(claim, std::to_string(now));
}

void AddRunActionRoutes(Router& router, const ApiContext& ctx) {
  const ApiContext* c = &ctx;
  router.Add({"POST", "/api/v1/runs/{id}/resume", true, Action::kOperate,
              [c](const ApiRequest& r) { return Continue(*c, r, false); }});
  router.Add({"POST", "/api/v1/runs/{id}/rollback", true, Action::kOperate,
              [c](const ApiRequest& r) { return Continue(*c, r, true); }});
}

}  // namespace sluice
