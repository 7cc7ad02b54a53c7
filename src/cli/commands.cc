// The commands that execute runs (run, resume, cancel): wiring of the Env they are given, the
// store, executor and engine. What the command files share is in cli_support.cc; the commands
// that only read are in inspect.cc.
#include "cli/commands.h"
#include "interop/argo_import.h"

#include <signal.h>

#include <cstdio>

#include "cli/approvals.h"
#include "cli/breakers.h"
#include "cli/cli_support.h"
#include "cli/work_queue.h"
#include "cli/components.h"
#include "cli/identity.h"
#include "cli/policy_cmds.h"
#include "cli/pools.h"
#include "spec/environment_spec.h"
#include "cli/progress.h"
#include "cli/run_report.h"
#include "cli/schedule_runs.h"
#include "cli/secrets.h"
#include "common/outcome.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "common/value.h"
#include "engine/engine.h"
#include "expr/expr.h"
#include "env/fake_env.h"
#include "env/faults.h"
#include "exec/local_executor.h"
#include "exec/slurm_executor.h"
#include "spec/params_file.h"
#include "spec/plan.h"
#include "store/store.h"

namespace sluice {

namespace {


class StoreCache : public CacheLookup {
 public:
  explicit StoreCache(Store& store) : store_(store) {}
  std::optional<Value> Find(const std::string& key, int64_t ttl_ms, int64_t now_us) override {
    auto found = store_.FindCache(key, ttl_ms, now_us);
    if (!found || !*found) return std::nullopt;
    auto v = ParseJson(**found);
    if (!v) return std::nullopt;
    return *v;
  }

 private:
  Store& store_;
};

EngineOptions EngineOptionsFor(Env& env, const std::string& run_id, const ExecOptions& x) {
  EngineOptions opts;
  opts.run_id = run_id;
  opts.capacity.jobs = x.jobs > 0 ? x.jobs : env.CpuCount();
  opts.capacity.gpu = x.gpus;
  opts.capacity.cpu = env.CpuCount();
  opts.capacity.memory = env.MemoryBytes();
  opts.files = &env.files();
  opts.pid = env.Pid();
  opts.cancel_only = x.cancel_only;
  opts.rollback = x.rollback;
  opts.time_zones = env.time_zones();
  return opts;
}

// Takes the run's lock and, under it, opens its journal (what the last process to execute the
// run left there reaches the tables) and reads its history when it is resumed. Returns the
// lock, or the exit code of the refusal.
Result<std::unique_ptr<FileLock>> LockRun(Env& env, Store& store, const std::string& run_dir,
                                          const std::string& run_id, bool replay,
                                          std::vector<Event>* history) {
  FileSystem& fs = env.files();
  if (auto s = fs.MakeDirs(run_dir); !s) return std::unexpected(s.error());
  auto lock = env.TryLock(run_dir + "/lock", std::to_string(env.Pid()));
  if (!lock) return std::unexpected(lock.error());
  if (!*lock) {
    return Fail(ErrorCode::kConflict, "run {} is being executed by another sluice process", run_id);
  }
  // A server's claim (server/run_actions.cc) ends once the run is held; one left behind only
  // delays the next API resume by its 10 s.
  (void)fs.Remove(run_dir + "/engine.claim");
  if (auto s = store.OpenJournal(fs, run_dir + "/journal", run_id); !s) return std::unexpected(s.error());
  if (replay) {
    auto events = store.LoadEvents(run_id);
    if (!events) return std::unexpected(events.error());
    *history = std::move(*events);
  }
  return std::move(*lock);
}

}  // namespace

int Execute(Env& env, const GlobalOptions& g, Store& store, std::shared_ptr<const Plan> plan,
            const Value& params, const std::string& run_id, bool replay, const ExecOptions& x,
            std::shared_ptr<const PolicySet> central, const RunSecrets* secrets) {
  const bool cancel_only = x.cancel_only;
  const std::string run_dir = RunDir(env, g, run_id);
  std::vector<Event> history;
  auto lock = LockRun(env, store, run_dir, run_id, replay, &history);
  if (!lock) return Report(lock.error());
  if (!cancel_only) {
    std::printf("%s\n", run_id.c_str());  // the first line of output, for scripts
    std::fflush(stdout);
  }
  Clock& clock = env.clock();
  auto faults = cancel_only ? Result<FaultPlan>(FaultPlan{})
                            : FaultPlan::Parse(env.GetVar("SLUICE_FAULTS").value_or(""));
  if (!faults) return Report(faults.error());
  ProcessLauncher& real_launcher = env.processes();  // the first use blocks SIGINT/SIGTERM
  std::optional<FaultyLauncher> faulty_launcher;
  if (!faults->rules.empty()) faulty_launcher.emplace(real_launcher, *faults);
  ProcessLauncher& launcher = faulty_launcher ? *faulty_launcher : real_launcher;
  FaultySink faulty_sink(store, faults->CountFor(FaultRule::Kind::kCommitFail));
  LocalExecutor executor(env, launcher, run_dir,
                         env.files().Absolute(PathJoin(g.state_dir, "artifacts")),
                         TaskBaseEnvironment(env, *plan));
  // Tasks of executor: worker go through the store's work queue (docs/workers.md).
  std::unique_ptr<WorkerPlane> workers;
  Executor* run_executor = &executor;
  if (HasWorkerTasks(*plan)) {
    auto opened = OpenWorkerPlane(env, g, run_id, executor);
    if (!opened) return Report(opened.error());
    workers = std::move(*opened);
    run_executor = workers->routing.get();
  }
  // Tasks of executor: slurm are Slurm jobs (docs/slurm.md).
  std::unique_ptr<SlurmExecutor> slurm;
  std::unique_ptr<RoutingExecutor> slurm_routing;
  if (std::any_of(plan->tasks.begin(), plan->tasks.end(),
                  [](const PlanTask& t) { return t.executor == ExecutorKind::kSlurm; })) {
    slurm = std::make_unique<SlurmExecutor>(env, executor, run_dir, TaskBaseEnvironment(env, *plan));
    if (!workers) slurm_routing = std::make_unique<RoutingExecutor>(executor);
    RoutingExecutor* routing = workers ? workers->routing.get() : slurm_routing.get();
    routing->SetSlurm(slurm.get());
    run_executor = routing;
  }
  StoreCache cache(store);
  bool tty = env.IsTty(2) && !cancel_only;
  auto no_color = env.GetVar("NO_COLOR");
  ProgressPrinter progress(stderr, tty, tty && !(no_color && !no_color->empty()), clock);
  EngineOptions opts = EngineOptionsFor(env, run_id, x);
  opts.schedule = ScheduleOfRun(store, run_id, history);  // a scheduled run's schedule.*
  opts.central_policies = std::move(central);
  StoreBreakers breakers(store);
  opts.breakers = &breakers;
  auto pools = OpenStorePools(env, g, store, *plan, run_id);  // central pools (pools.h)
  if (!pools) return Report(pools.error());
  opts.pools = pools->get();
  StoreApprovals approvals(store);
  opts.approvals = &approvals;
  opts.secrets = secrets;
  if (plan->has_deploy) {  // deploy tasks: their environments' approvals (docs/rollouts.md)
    auto envs = LoadEnvironments(env.files(), g.state_dir);
    if (!envs) return Report(envs.error());
    opts.environments = *envs;
    opts.rollout_context = Value(ValueMap{{"stateDir", Value(env.files().Absolute(g.state_dir))},
                                          {"store", Value(g.store)}});
  }
  StoreReleases releases(store);
  opts.releases = &releases;
  // The engine (and the plan it holds) is never destroyed: freeing a large run's state took
  // ~30 ms per 100,000 tasks, only to delay the exit that follows this command. A global keeps
  // it reachable, so leak checkers do not count it; its destructor has nothing else to do.
  static Engine* kept_engine = nullptr;
  kept_engine = new Engine(plan, params, opts, clock, *run_executor, faulty_sink, &cache,
                           &progress);
  Engine& engine = *kept_engine;
  if (auto s = engine.Replay(history); !s) return Report(s.error());
  if (x.retry) {  // sluice retry (rerun.cc)
    if (auto s = engine.Retry(x.retry_tasks, x.actor, clock.NowUs()); !s) return Report(s.error());
  }
  int64_t run_start_us = clock.NowUs();
  auto summary = engine.Run();
  int64_t run_us = clock.NowUs() - run_start_us;
  progress.Finish();
  // After a store failure the journal stays: `resume` publishes what it holds.
  if (summary || summary.error().code == ErrorCode::kConflict) {
    if (auto s = store.CloseJournal(); !s && summary) return Report(s.error());
  }
  if (!summary) {
    Report(summary.error());
    if (summary.error().code == ErrorCode::kConflict) return 2;  // refused; nothing changed
    std::fprintf(stderr, "the run stopped; continue it with: sluice resume %s\n", run_id.c_str());
    return 3;
  }
  ReportRun(env.files(), engine, store, run_id, run_dir, *summary, run_us, x,
            secrets ? secrets->masker.get() : nullptr);
  return summary->status == (x.rollback ? RunStatus::kCompensated : RunStatus::kSucceeded) ? 0 : 1;
}

Result<RunRecord> CreateRunRecordWithId(Env& env, const std::string& actor, Store& store,
                                        const Plan& plan, const Value& params,
                                        const Value& secret_digests,
                                        const std::vector<Decision>& decisions,
                                        const std::string& id, const RunOrigin* again) {
  Clock& clock = env.clock();
  RunRecord run;
  run.id = id;
  run.pipeline = plan.pipeline->name;
  run.status = "pending";
  run.created_us = clock.NowUs();
  run.params = params.ToJson();
  run.spec_path = plan.pipeline->file;
  run.spec_digest = plan.digest;
  if (again) run.ns = again->ns;
  Event created;
  created.run_id = run.id;
  created.time_us = run.created_us;
  created.kind = EventKind::kRunCreated;
  created.status = "pending";
  created.data = secret_digests.is_map() && !secret_digests.as_map().empty()
                     ? fmt::format("{{\"params\":{},\"secretParams\":{}", run.params,
                                   secret_digests.ToJson())
                     : fmt::format("{{\"params\":{}", run.params);
  // Which version each `uses` resolved to ("train": "train@1.1.0"): what ran, for the record.
  if (auto uses = ComponentUses(plan); !uses.empty()) {
    created.data += fmt::format(",\"components\":{}", ComponentVersions(uses).ToJson());
  }
  if (again && !again->schedule.is_null()) {  // schedule_runs.h: what its engines read back
    created.data += ",\"schedule\":" + again->schedule.ToJson();
  }
  if (again && again->labels.is_map()) created.data += ",\"labels\":" + again->labels.ToJson();
  created.data += "}";
  // Admission's decisions other than allow (with any waivers used) ride with the submission.
  ValueList notable;
  for (const auto& d : decisions) {
    if (d.result != "allow") notable.push_back(DecisionToValue(d));
  }
  ValueMap details{{"namespace", Value(run.ns)},
                   {"specDigest", Value(run.spec_digest)},
                   {"specPath", Value(run.spec_path)},
                   {"params", params},
                   {"admission", Value(ValueMap{
                       {"decisions", Value(static_cast<int64_t>(decisions.size()))},
                       {"notAllowed", Value(std::move(notable))}})}};
  std::vector<Event> then;
  if (again && !again->schedule.is_null()) details.emplace_back("schedule", again->schedule);
  if (again && again->labels.is_map()) details.emplace_back("labels", again->labels);
  if (again && !again->rerun_of.empty()) {  // sluice rerun: what it reruns, the tasks it reuses
    details.emplace_back("rerunOf", Value(again->rerun_of));
    if (!again->from.empty()) details.emplace_back("from", Value(again->from));
    then = again->reused;
    for (auto& e : then) {
      e.run_id = run.id;
      e.time_us = run.created_us;
    }
  }
  AuditRecord audit = AuditOf(env, actor, "run.submitted", run.id, run.pipeline,
                              Value(std::move(details)));
  SLUICE_TRY_STATUS(store.CreateRun(run, plan.sources, created, &audit,
                                    DecisionRows(decisions, run.id, "admission", run.created_us),
                                    then));
  return run;
}

// Records a new run, admitted with `decisions`, under a new id: the run, its sources, its first
// event (with the salted digests of its secret params), the audit record of its submission.
// Run ids carry 32 random bits; an id that is taken nonetheless (the store checks in the write
// transaction) is drawn again. On failure returns the
// store's error; nothing is recorded.
Result<RunRecord> CreateRunRecord(Env& env, const std::string& actor, Store& store, const Plan& plan,
                                  const Value& params, const Value& secret_digests,
                                  const std::vector<Decision>& decisions, const RunOrigin* again) {
  for (int tries = 1;; ++tries) {
    auto run = CreateRunRecordWithId(env, actor, store, plan, params, secret_digests,
                                     decisions, NewRunId(env), again);
    if (run || run.error().code != ErrorCode::kConflict || tries == 8) return run;
  }
}

// Loads a stored run's plan from the sources it was submitted with. They, and its params, must
// be what its run.submitted audit record says was submitted: the tables can be edited in SQLite,
// the chained record cannot without `audit verify` noticing, so an edited pipeline is refused
// instead of resumed or rolled back.
Result<std::pair<std::shared_ptr<const Plan>, Value>> LoadStoredRun(Store& store,
                                                                    const RunRecord& run) {
  auto sources = store.LoadSources(run.id);
  if (!sources) return std::unexpected(sources.error());
  MemFileSystem mem(*sources);
  auto plan = LoadPlan(mem, run.spec_path);
  if (!plan) return std::unexpected(plan.error().Wrap("reloading the run's pipeline"));
  auto params = ParseJson(run.params);
  if (!params) return std::unexpected(params.error());
  SLUICE_TRY(submitted, store.SubmittedRecord(run.id));
  auto details = *submitted ? ParseJson((*submitted)->details) : Result<Value>(Value());
  const Value* digest = details && details->is_map() ? details->Find("specDigest") : nullptr;
  const Value* submitted_params = details && details->is_map() ? details->Find("params") : nullptr;
  if (!digest || !digest->is_string() || digest->as_string() != (*plan)->digest) {
    return Fail(ErrorCode::kConflict,
                "run {}: its stored pipeline is not the one submitted ({}); it was changed in "
                "the store, and is not run again", run.id,
                *submitted ? "the digest differs from its run.submitted audit record"
                           : "it has no run.submitted audit record");
  }
  if (!submitted_params || CanonicalJson(*submitted_params) != CanonicalJson(*params)) {
    return Fail(ErrorCode::kConflict, "run {}: its stored params are not the ones submitted (its "
                "run.submitted audit record differs); they were changed in the store, and are "
                "not used again", run.id);
  }
  return std::make_pair(*plan, *params);
}

// Resume and rollback run tasks again, so they ask for the run's secret params once more and
// fetch its secrets again. The salted digests of the secret params are in its run.created event.
Result<std::shared_ptr<RunSecrets>> SecretsAgain(Env& env, Store& store, const Plan& plan,
                                                 const Value& stored, const RunRecord& run,
                                                 const ExecOptions& o) {
  Value digests(ValueMap{});
  if (std::any_of(plan.pipeline->params.begin(), plan.pipeline->params.end(),
                  [](const ParamDecl& d) { return d.secret; })) {
    auto events = store.LoadEvents(run.id);
    if (!events) return std::unexpected(events.error());
    for (const auto& e : *events) {
      if (e.kind != EventKind::kRunCreated) continue;
      auto data = ParseJson(e.data);
      const Value* d = data && data->is_map() ? data->Find("secretParams") : nullptr;
      if (d) digests = *d;
      break;
    }
  }
  return RebindSecrets(env, plan, stored, digests, o.secret_params);
}

// Refuses a plan with a task of executor: worker: only `sluice server` hands attempts to
// workers, and a local run would wait for them forever.
static Status NoWorkerTasks(const Plan& plan) {
  for (const PlanTask& t : plan.tasks) {
    if (!t.on_worker()) continue;
    return FailAt(t.spec->loc, "task {} has executor: worker, which needs `sluice server` and "
                  "its workers: submit the pipeline to a server (docs/workers.md)", Quote(t.name));
  }
  return {};
}

int CmdRun(Env& env, const GlobalOptions& g, const RunOptions& o) {
  FileSystem& fs = env.files();
  Clock& clock = env.clock();
  int64_t t0 = clock.NowUs();
  // Who submits is settled first: an untrusted users.yaml or a refused --as stops everything.
  auto who = NewEmbeddedIdentity(env, g.state_dir, g.as)->Current();
  if (!who) return Report(who.error());
  ArgoImport imported;  // an Argo file is imported first (docs/interop.md)
  ArgoImportOptions argo = o.argo;
  argo.default_approver = who->name;  // Argo lets the submitter resume a suspend
  auto plan = LoadPipelineFile(fs, o.file, argo, &imported);
  for (const std::string& w : imported.warnings) std::fprintf(stderr, "%s\n", w.c_str());
  if (!plan) return Report(plan.error());
  if (auto s = NoWorkerTasks(**plan); !s) return Report(s.error());
  if (auto s = CheckRunCentral(env, g.state_dir, **plan, "default"); !s) return Report(s.error());
  auto given = ParamsWithFile(env, **plan, o.params_file, o.params);
  if (!given) return Report(given.error());
  auto bound = BindRunParams(env, **plan, *given);
  if (!bound) return Report(bound.error());
  const Value* params = &bound->stored;  // secret params as "***": what is stored and judged
  int64_t t1 = clock.NowUs();
  auto faults = FaultsFromEnv(env);
  if (!faults) return Report(faults.error());
  // The state folder's policies apply to every run; --policies only adds to them. An untrusted
  // STATE/policies/ refuses before anything is written.
  auto central = CentralPolicies(env, g, nullptr);
  if (!central) return Report(central.error());
  auto store = OpenStore(env, g, true, StoreFaultsOf(*faults));
  if (!store) return Report(store.error());
  auto granted = GrantedWaivers(**store);  // sluice waiver grant
  if (!granted) return Report(granted.error());
  central->waivers.insert(central->waivers.end(), granted->begin(), granted->end());
  auto admission = AdmitNewRun(env, **store, who->Actor(), **plan, *params, *central, o.policies);
  if (!admission) return Report(admission.error());
  PrintDecisions(admission->decisions, false);
  if (admission->denied) {
    std::fprintf(stderr, "sluice: admission denied: pipeline %s breaks a policy (see above); no "
                 "run was created\n", (*plan)->pipeline->name.c_str());
    return 1;
  }
  // Only now, admitted: a pipeline's secret commands are its author's code.
  if (auto s = FetchRunSecrets(env, **plan, bound->secrets.get()); !s) return Report(s.error());
  auto run = CreateRunRecord(env, who->Actor(), **store, **plan, *params, bound->digests,
                             admission->decisions, nullptr);
  if (!run) return Report(run.error());
  ExecOptions x = o.exec;
  x.load_us = t1 - t0;
  x.submit_us = clock.NowUs() - t1;
  return Execute(env, g, **store, *plan, *params, run->id, false, x,
                 std::make_shared<const PolicySet>(std::move(*central)), bound->secrets.get());
}

Result<OpenedRun> OpenStoredRun(Env& env, const GlobalOptions& g, const std::string& id) {
  OpenedRun o;
  SLUICE_TRY(who, NewEmbeddedIdentity(env, g.state_dir, g.as)->Current());
  o.who = std::move(*who);
  SLUICE_TRY(faults, FaultsFromEnv(env));
  SLUICE_TRY(store, OpenStore(env, g, false, StoreFaultsOf(*faults)));
  o.store = std::move(*store);
  SLUICE_TRY(run, o.store->GetRun(id));
  o.run = std::move(*run);
  return o;
}

Status CheckResumable(Env& env, const GlobalOptions& g, const RunRecord& run, bool rollback) {
  if (rollback ? !IsFinishedRun(run.status) && run.status != "compensating"
               : IsFinishedRun(run.status)) {
    if (rollback) {
      return Fail(ErrorCode::kConflict, "run {} is {}; let it finish or cancel it before rolling "
                  "it back", run.id, ShownStatus(env, g, run));
    }
    return Fail(ErrorCode::kConflict, "run {} already finished ({})", run.id, run.status);
  }
  if (rollback && run.status != "succeeded" && run.status != "failed" &&
      run.status != "compensating") {
    return Fail(ErrorCode::kConflict, "run {} ended {}; only a succeeded or failed run can be "
                "rolled back", run.id, run.status);
  }
  if (env.IsLocked(RunDir(env, g, run.id) + "/lock", nullptr)) {
    return Fail(ErrorCode::kConflict, "run {} is being executed by another sluice process", run.id);
  }
  return {};
}

// Whether a resume need not be audited: only an engine a server started (kServedEngineVar) whose
// run's newest audit record is already this actor's `action`, so the server's leader starting
// the engine again (leader.h) adds no record per try. Any other actor's action in between, and
// every resume from the command line, is audited.
static Result<bool> RepeatsLastAudit(Env& env, Store& store, const std::string& run_id,
                                     const std::string& actor, const std::string& action) {
  if (!env.GetVar(kServedEngineVar)) return false;
  SLUICE_TRY(last, store.LastAuditRecord(run_id));
  return *last && (*last)->actor == actor && (*last)->action == action;
}

int CmdResume(Env& env, const GlobalOptions& g, const std::string& id, const ExecOptions& o) {
  auto opened = OpenStoredRun(env, g, id);
  if (!opened) return Report(opened.error());
  auto& [who, store, run] = *opened;
  // Refusals that need no replay come before the audit record, so it records what happens.
  if (auto ok = CheckResumable(env, g, *run, o.rollback); !ok) return Report(ok.error());
  auto loaded = LoadStoredRun(*store, *run);
  if (!loaded) return Report(loaded.error());
  auto central = CentralPolicies(env, g, store.get());  // its gates apply them as they are now
  if (!central) return Report(central.error());
  auto secrets = SecretsAgain(env, *store, *loaded->first, loaded->second, *run, o);
  if (!secrets) return Report(secrets.error());
  const char* action = o.rollback ? "run.rollback" : "run.resumed";
  auto repeats = RepeatsLastAudit(env, *store, run->id, who->Actor(), action);
  if (!repeats) return Report(repeats.error());
  if (!*repeats) {
    auto a = store->AppendAudit(AuditOf(env, who->Actor(), action, run->id, run->pipeline,
                                        Value(ValueMap{{"status", Value(run->status)}})));
    if (!a) return Report(a.error());
  }
  return Execute(env, g, *store, loaded->first, loaded->second, run->id, true, o,
                 std::make_shared<const PolicySet>(std::move(*central)), secrets->get());
}

int CmdCancel(Env& env, const GlobalOptions& g, const std::string& id) {
  auto store = OpenStore(env, g, false);
  if (!store) return Report(store.error());
  auto run = (*store)->GetRun(id);
  if (!run) return Report(run.error());
  if (IsFinishedRun(run->status)) {
    return Report(Error(ErrorCode::kConflict,
                        fmt::format("run {} already finished ({})", run->id, run->status)));
  }
  std::string owner;
  const bool live = env.IsLocked(RunDir(env, g, run->id) + "/lock", &owner);
  // Without a live process this one cancels it, from the stored pipeline: refused (and so not
  // audited) when that is not the one submitted.
  auto loaded = live ? decltype(LoadStoredRun(**store, *run))() : LoadStoredRun(**store, *run);
  if (!loaded) return Report(loaded.error());
  if (auto s = Audit(env, g, **store, "run.cancelled", run->id, run->pipeline); !s) {
    return Report(s.error());
  }
  if (live) {
    // A live process runs it: ask it to cancel (it terminates its tasks and records it).
    int pid = std::atoi(owner.c_str());
    if (!env.SignalProcess(pid, SIGTERM)) {
      return Report(Error(ErrorCode::kIo, fmt::format("cannot signal process {}", pid)));
    }
    std::printf("cancelling %s (sent SIGTERM to sluice process %d)\n", run->id.c_str(), pid);
    return 0;
  }
  ExecOptions x;
  x.jobs = 1;
  x.cancel_only = true;
  int rc = Execute(env, g, **store, loaded->first, loaded->second, run->id, true, x, nullptr);
  return rc == 1 ? 0 : rc;
}

}  // namespace sluice
