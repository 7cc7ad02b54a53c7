// `sluice retry` and `sluice rerun`: a stored run executed again, in place (retry) or as a new
// run of the same snapshot (rerun). Both load the pipeline the run was submitted with (verified
// against its run.submitted audit record), judge admission again with the central policies as
// `run` does, and are audited under the principal settled first.
#include "cli/rerun.h"

#include <algorithm>
#include <cstdio>

#include "cli/cli_support.h"
#include "cli/identity.h"
#include "cli/policy_cmds.h"
#include "cli/pools.h"
#include "cli/secrets.h"
#include "common/strings.h"
#include "engine/run_state.h"
#include "engine/run_state_retry.h"
#include "env/faults.h"
#include "spec/plan.h"
#include "spec/text_checks.h"

namespace sluice {

Value AdmissionSummary(const std::vector<Decision>& decisions) {
  ValueList notable;
  for (const auto& d : decisions) {
    if (d.result != "allow") notable.push_back(DecisionToValue(d));
  }
  return Value(ValueMap{{"decisions", Value(static_cast<int64_t>(decisions.size()))},
                        {"notAllowed", Value(std::move(notable))}});
}

Result<Readmission> AdmitAgain(Env& env, const GlobalOptions& g, Store& store, const Plan& plan,
                             const Value& params, const std::string& actor,
                             const std::string& run_id, ValueMap about, bool print) {
  auto central = CentralPolicies(env, g, &store);
  if (!central) return std::unexpected(central.error());
  auto decisions =
      Admit(env.files(), plan, params, *central, "", env.clock().NowUs(), env.time_zones());
  if (!decisions) return std::unexpected(decisions.error());
  if (print) PrintDecisions(*decisions, false);
  Readmission a{std::move(*central), std::move(*decisions), false};
  if (!AnyDenied(a.decisions)) return a;
  ValueList denied;
  for (const auto& d : a.decisions) {
    if (d.result == "deny") denied.push_back(DecisionToValue(d));
  }
  about.emplace_back("specDigest", Value(plan.digest));
  about.emplace_back("decisions", Value(std::move(denied)));
  auto r = store.AppendAudit(
      AuditOf(env, actor, "run.denied", run_id, plan.pipeline->name, Value(std::move(about))));
  if (!r) return std::unexpected(r.error());
  a.denied = true;
  return a;
}

Status CheckRetryable(Env& env, const GlobalOptions& g, const RunRecord& run) {
  if (env.IsLocked(RunDir(env, g, run.id) + "/lock", nullptr)) {
    return Fail(ErrorCode::kConflict,
                "run {} is being executed by another sluice process; retry "
                "it once it has ended",
                run.id);
  }
  if (!IsFinishedRun(run.status)) {
    return Fail(ErrorCode::kConflict,
                "run {} did not finish ({}); continue it with: sluice "
                "resume {}",
                run.id, ShownStatus(env, g, run), run.id);
  }
  auto s = ParseRunStatus(run.status);
  if (s == RunStatus::kCompensated || s == RunStatus::kCompensationFailed) {
    return Fail(ErrorCode::kConflict,
                "run {} ended {}: its completed work was undone, so its "
                "tasks are not retried in place; start it anew with: sluice rerun {}",
                run.id, run.status, run.id);
  }
  return {};
}

// The executing process decides again, under the run's lock.
Result<Event> PlanRetry(Store& store, const std::shared_ptr<const Plan>& plan, const RunRecord& run,
                        const std::vector<std::string>& tasks, const std::string& actor) {
  auto events = store.LoadEvents(run.id);
  if (!events) return std::unexpected(events.error());
  RunState state(plan);
  if (auto s = state.Replay(*events); !s)
    return std::unexpected(s.error().Wrap("replaying the run"));
  auto e = RetryEvent(state, tasks, actor);
  if (!e) return Fail(e.error().code, "run {}: {}", run.id, e.error().message);
  return e;
}

Result<std::map<std::string, std::string>> RerunParams(
    Env& env, const Plan& plan, const Value& stored,
    const std::map<std::string, std::string>& changed) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : stored.is_map() ? stored.as_map() : ValueMap{}) {
    const ParamDecl* d = k.is_string() ? plan.pipeline->FindParam(k.as_string()) : nullptr;
    if (!d || v.is_null()) continue;
    if (d->secret) {
      if (!changed.contains(d->name) && !env.GetVar(SecretParamVar(d->name))) {
        return Fail(ErrorCode::kInvalidInput,
                    "secret param {} is needed again: its value was "
                    "never stored (pass -p {}=VALUE or the environment variable {})",
                    Quote(d->name), d->name, SecretParamVar(d->name));
      }
      continue;
    }
    out[d->name] = d->type == ParamType::kString && v.is_string() ? v.as_string() : v.ToJson();
  }
  for (const auto& [k, v] : changed) out[k] = v;
  return out;
}

namespace {

// The main tasks upstream of `task` (its dependencies, theirs, ...), in plan order.
std::vector<int> Upstream(const Plan& plan, int task) {
  std::vector<bool> seen(plan.tasks.size(), false);
  std::vector<int> stack(plan.tasks[task].deps);
  while (!stack.empty()) {
    int t = stack.back();
    stack.pop_back();
    if (seen[t]) continue;
    seen[t] = true;
    for (int d : plan.tasks[t].deps) stack.push_back(d);
  }
  std::vector<int> out;
  for (int t = 0; t < static_cast<int>(seen.size()); ++t) {
    if (seen[t]) out.push_back(t);
  }
  return out;
}

}  // namespace

// A reused task is cached with the outputs (and artifacts) it had there, or skipped as it was.
Result<std::vector<Event>> ReusedTasks(Store& store, const std::shared_ptr<const Plan>& plan,
                                       const RunRecord& old, const std::string& from) {
  std::vector<Event> out;
  if (from.empty()) return out;
  const PlanTask* t = plan->Find(from);
  if (!t || t->role != TaskRole::kMain) {
    std::vector<std::string> names;
    for (int p = 0; p < plan->num_main; ++p) names.push_back(plan->tasks[p].name);
    return Fail(ErrorCode::kInvalidInput, "--from {}: the pipeline has no task {}{}", from,
                Quote(from), DidYouMean(from, names));
  }
  auto events = store.LoadEvents(old.id);
  if (!events) return std::unexpected(events.error());
  RunState state(plan);
  if (auto s = state.Replay(*events); !s)
    return std::unexpected(s.error().Wrap("replaying the run"));
  for (int p : Upstream(*plan, t->index)) {
    const Instance& in = state.at(state.top(p));
    if (state.Find(in.name + ".compensate") >= 0) {
      return Fail(ErrorCode::kInvalidInput,
                  "--from {}: task {} is upstream of it, and run {} "
                  "compensated it (its work was undone), so it is not reused; rerun from it or "
                  "from a task before it",
                  from, Quote(in.name), old.id);
    }
    Event e;
    e.task = in.name;
    if (in.state == TaskState::kSkipped) {
      e.kind = EventKind::kTaskSkipped;
      e.message = fmt::format("skipped in run {}, which this run reruns", old.id);
    } else if (HasOutputs(in.state, in.outputs)) {
      e.kind = EventKind::kTaskFinished;
      e.status = std::string(TaskStateName(TaskState::kCached));
      e.message = fmt::format("reused from run {}", old.id);
      e.data = in.outputs.is_map() ? in.outputs.ToJson() : "";
    } else {
      return Fail(ErrorCode::kInvalidInput,
                  "--from {}: task {} is upstream of it and is {} in "
                  "run {}, so it has no results to reuse; rerun from it or from a task before it",
                  from, Quote(in.name), TaskStateName(in.state), old.id);
    }
    out.push_back(std::move(e));
  }
  return out;
}

int CmdRetry(Env& env, const GlobalOptions& g, const std::string& id,
             const std::vector<std::string>& tasks, const ExecOptions& o) {
  auto opened = OpenStoredRun(env, g, id);
  if (!opened) return Report(opened.error());
  auto& [who, store, run] = *opened;
  if (auto s = CheckRetryable(env, g, *run); !s) return Report(s.error());
  auto loaded = LoadStoredRun(*store, *run);
  if (!loaded) return Report(loaded.error());
  auto planned = PlanRetry(*store, loaded->first, *run, tasks, who->Actor());
  if (!planned) return Report(planned.error());
  if (auto s = CheckRunCentral(env, g.state_dir, *loaded->first, run->ns); !s) return Report(s.error());
  auto admitted = AdmitAgain(env, g, *store, *loaded->first, loaded->second, who->Actor(), run->id,
                             ValueMap{{"retryOf", Value(run->id)}});
  if (!admitted) return Report(admitted.error());
  if (admitted->denied) {
    std::fprintf(stderr,
                 "sluice: admission denied: pipeline %s breaks a policy (see above); run "
                 "%s was not retried\n",
                 run->pipeline.c_str(), run->id.c_str());
    return 1;
  }
  auto secrets = SecretsAgain(env, *store, *loaded->first, loaded->second, *run, o);
  if (!secrets) return Report(secrets.error());
  auto data = ParseJson(planned->data);
  const Value* reset = data && data->is_map() ? data->Find("tasks") : nullptr;
  ValueList asked;
  for (const auto& t : tasks) asked.push_back(Value(t));
  Value details(ValueMap{{"status", Value(run->status)},
                         {"requested", Value(std::move(asked))},
                         {"tasks", reset ? *reset : Value(ValueList{})},
                         {"admission", AdmissionSummary(admitted->decisions)}});
  if (auto a = store->AppendAudit(
          AuditOf(env, who->Actor(), "run.retried", run->id, run->pipeline, details));
      !a) {
    return Report(a.error());
  }
  ExecOptions x = o;
  x.retry = true;
  x.retry_tasks = tasks;
  x.actor = who->Actor();
  return Execute(env, g, *store, loaded->first, loaded->second, run->id, true, x,
                 std::make_shared<const PolicySet>(std::move(admitted->central)), secrets->get());
}

int CmdRerun(Env& env, const GlobalOptions& g, const RerunOptions& o) {
  auto opened = OpenStoredRun(env, g, o.run);
  if (!opened) return Report(opened.error());
  auto& [who, store, old] = *opened;
  PublishLeftJournal(env, g, *store, *old);  // what a killed run committed last is reused too
  auto loaded = LoadStoredRun(*store, *old);
  if (!loaded) return Report(loaded.error());
  const Plan& plan = *loaded->first;
  auto raw = RerunParams(env, plan, loaded->second, o.params);
  if (!raw) return Report(raw.error());
  auto bound = BindRunParams(env, plan, *raw);
  if (!bound) return Report(bound.error());
  auto reused = ReusedTasks(*store, loaded->first, *old, o.from);
  if (!reused) return Report(reused.error());
  if (auto s = CheckRunCentral(env, g.state_dir, plan, old->ns); !s) return Report(s.error());
  auto admitted = AdmitAgain(env, g, *store, plan, bound->stored, who->Actor(), "",
                             ValueMap{{"rerunOf", Value(old->id)}});
  if (!admitted) return Report(admitted.error());
  if (admitted->denied) {
    std::fprintf(stderr,
                 "sluice: admission denied: pipeline %s breaks a policy (see above); no "
                 "run was created\n",
                 plan.pipeline->name.c_str());
    return 1;
  }
  // Only now, admitted: a pipeline's secret commands are its author's code.
  if (auto s = FetchRunSecrets(env, plan, bound->secrets.get()); !s) return Report(s.error());
  // A rerun is in its run's namespace, and no scheduled run: schedule.* are null.
  RunOrigin again{old->ns, old->id, o.from, std::move(*reused), Value(), Value()};
  const size_t n_reused = again.reused.size();
  auto run = CreateRunRecord(env, who->Actor(), *store, plan, bound->stored, bound->digests,
                             admitted->decisions, &again);
  if (!run) return Report(run.error());
  std::fprintf(stderr, "rerun of %s: %zu task%s reused\n", old->id.c_str(), n_reused,
               n_reused == 1 ? "" : "s");
  return Execute(env, g, *store, loaded->first, bound->stored, run->id, true, o.exec,
                 std::make_shared<const PolicySet>(std::move(admitted->central)),
                 bound->secrets.get());
}

}  // namespace sluice
