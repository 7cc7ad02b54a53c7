#include "engine/engine.h"

#include "engine/breaker.h"
#include "engine/run_state_retry.h"

namespace sluice {

namespace {

RunContext ContextOf(const EngineOptions& o, Value params, Breakers* breakers, CacheLookup* cache) {
  RunContext ctx;
  ctx.run_id = o.run_id;
  ctx.params = std::move(params);
  ctx.files = o.files;
  ctx.time_zones = o.time_zones;
  ctx.cache = cache;
  ctx.breakers = breakers;
  ctx.pools = o.pools;
  ctx.secrets = o.secrets;
  ctx.central_policies = o.central_policies;
  if (o.schedule) ctx.schedule = ScheduleValue(&*o.schedule);
  ctx.environments = o.environments;
  ctx.releases = o.releases;
  ctx.rollout_context = o.rollout_context;
  return ctx;
}

}  // namespace

Engine::Engine(std::shared_ptr<const Plan> plan, Value params, EngineOptions opts, Clock& clock,
               Executor& executor, EventSink& sink, CacheLookup* cache, RunObserver* observer)
    : own_breakers_(opts.breakers ? nullptr : std::make_unique<MemoryBreakers>()),
      ctx_(ContextOf(opts, std::move(params), opts.breakers ? opts.breakers : own_breakers_.get(),
                     cache)),
      state_(std::move(plan)),
      rec_(state_, opts.run_id, &sink, observer),
      decider_(state_, rec_, ctx_, opts.capacity, opts.approvals),
      loop_(state_, rec_, decider_, executor, clock,
            LoopOptions{opts.kill_grace_us, opts.pid, opts.cancel_only, opts.rollback}) {}

Status Engine::Retry(const std::vector<std::string>& tasks, const std::string& by,
                     int64_t now_us) {
  auto e = RetryEvent(state_, tasks, by);
  if (!e) return std::unexpected(e.error());
  rec_.Record(std::move(*e), now_us);
  if (auto err = rec_.error()) return std::unexpected(*err);
  return {};
}

TaskState Engine::StateOf(std::string_view name) const {
  int i = state_.Find(name);
  return i < 0 ? TaskState::kPending : state_.at(i).state;
}

const Value* Engine::OutputsOf(std::string_view name) const {
  int i = state_.Find(name);
  return i < 0 ? nullptr : &state_.at(i).outputs;
}

}  // namespace sluice
