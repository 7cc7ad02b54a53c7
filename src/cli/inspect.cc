// The commands that read: validate and graph (a pipeline file), runs, events, status and logs
// (the store and run folders), and the cache.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "cli/cli_support.h"
#include "cli/components.h"
#include "cli/identity.h"
#include "cli/policy_cmds.h"
#include "cli/pools.h"
#include "cli/render.h"
#include "cli/views.h"
#include "exec/local_executor.h"
#include "common/strings.h"
#include "common/value.h"
#include "env/env.h"
#include "interop/argo_import.h"
#include "policy/policy.h"
#include "spec/model.h"
#include "spec/plan.h"
#include "store/store.h"

namespace sluice {
namespace {

// A stored run with the store it came from. What a killed process left in the run's journal is
// published first (PublishLeftJournal), so the commands that read a run see every committed
// event.
struct StoredRun {
  std::unique_ptr<Store> store;
  RunRecord run;
};

Result<StoredRun> OpenRun(Env& env, const GlobalOptions& g, const std::string& id) {
  auto store = OpenStore(env, g, false);
  if (!store) return std::unexpected(store.error());
  auto run = (*store)->GetRun(id);
  if (!run) return std::unexpected(run.error());
  PublishLeftJournal(env, g, **store, *run);
  return StoredRun{std::move(*store), std::move(*run)};
}

}  // namespace

int CmdValidate(Env& env, const GlobalOptions& g, const std::string& file,
                const std::string& policies, const std::map<std::string, std::string>& given,
                const std::string& params_file, const ArgoImportOptions& argo) {
  // An Argo file is told apart by its apiVersion and imported first (docs/interop.md).
  ArgoImport imported;
  // An Argo suspend: by default, whoever validates approves it.
  auto plan = LoadPipelineFile(env.files(), file, WithActingApprover(env, g.state_dir, g.as, argo),
                               &imported);
  for (const std::string& w : imported.warnings) std::fprintf(stderr, "%s\n", w.c_str());
  if (!plan) return Report(plan.error());
  const Plan& p = **plan;
  auto texts = ParamsWithFile(env, p, params_file, given);
  if (!texts) return Report(texts.error());
  // Params as a run without -p would be submitted (the defaults), or as given.
  auto params = BindParams(p, *texts);
  if (!params && (!given.empty() || !params_file.empty())) return Report(params.error());
  // Admission with those params: the state folder's central policies, the pipeline's own and
  // --policies.
  // Granted waivers count when there is a store; validate creates none.
  std::unique_ptr<Store> store;
  if (!g.store.empty() || env.files().Stat(PathJoin(g.state_dir, "sluice.db")).exists) {
    auto opened = OpenStore(env, g, false);
    if (!opened) return Report(opened.error());
    store = std::move(*opened);
  }
  // Central pools as a local run here would be admitted (a server checks its own).
  if (auto s = CheckRunCentral(env, g.state_dir, p, "default"); !s) return Report(s.error());
  auto central = CentralPolicies(env, g, store.get());
  if (!central) return Report(central.error());
  std::vector<Decision> decisions;
  if (!policies.empty() || !p.policies.empty() || !central->policies.empty()) {
    auto admitted = Admit(env.files(), p, params ? *params : Value(ValueMap{}), *central,
                          policies, env.clock().NowUs(), env.time_zones());
    if (!admitted) return Report(admitted.error());
    decisions = std::move(*admitted);
    PrintDecisions(decisions, false);
  }
  const size_t handlers = p.tasks.size() - p.num_main - p.num_finally;
  if (g.json) {
    Value v(ValueMap{{"valid", Value(true)},
                     {"argo", imported.kind.empty() ? Value() : Value(imported.kind)},
                     {"pipeline", Value(p.pipeline->name)},
                     {"tasks", Value(static_cast<int64_t>(p.num_main))},
                     {"finally", Value(static_cast<int64_t>(p.num_finally))},
                     {"handlers", Value(static_cast<int64_t>(handlers))},
                     {"components", Value(static_cast<int64_t>(p.components.size()))},
                     {"uses", ComponentUsesJson(ComponentUses(p))},
                     {"digest", Value(p.digest)}});
    std::printf("%s\n", v.ToJson().c_str());
  } else {
    std::string extra;
    if (p.num_finally > 0) extra += fmt::format(", {} finally", p.num_finally);
    if (handlers > 0) extra += fmt::format(", {} handlers", handlers);
    if (!imported.kind.empty()) {
      std::printf("%s: valid Argo %s %s, imported as pipeline %s (sluice import argo shows it): "
                  "%zu components\n",
                  file.c_str(), imported.kind.c_str(), imported.name.c_str(),
                  p.pipeline->name.c_str(), p.components.size());
    } else {
      std::printf("%s: pipeline %s is valid: %d tasks%s, %zu components from %zu files\n",
                  file.c_str(), p.pipeline->name.c_str(), p.num_main, extra.c_str(),
                  p.components.size(), p.sources.size());
    }
    for (const auto& line : ComponentUsesText(ComponentUses(p))) std::printf("%s\n", line.c_str());
    if (!decisions.empty()) {
      std::printf("admission: %zu policy decisions, %s\n", decisions.size(),
                  AnyDenied(decisions) ? "DENIED" : "allowed");
    }
  }
  return AnyDenied(decisions) ? 1 : 0;
}

int CmdRuns(Env& env, const GlobalOptions& g, int limit) {
  auto store = OpenStore(env, g, false);
  if (!store) {
    if (store.error().code == ErrorCode::kNotFound) {
      std::printf(g.json ? "[]\n" : "no runs yet\n");
      return 0;
    }
    return Report(store.error());
  }
  auto runs = (*store)->ListRuns(limit);
  if (!runs) return Report(runs.error());
  ValueList l;
  for (const auto& r : *runs) l.push_back(RunSummaryJson(r, ShownStatus(env, g, r)));
  const Value listed(std::move(l));
  std::fputs(g.json ? (listed.ToJson() + "\n").c_str() : RunsText(listed).c_str(), stdout);
  return 0;
}

int CmdEvents(Env& env, const GlobalOptions& g, const std::string& id) {
  auto opened = OpenRun(env, g, id);
  if (!opened) return Report(opened.error());
  auto& [store, run] = *opened;
  auto events = store->LoadEvents(run.id);
  if (!events) return Report(events.error());
  ValueList out;
  for (const auto& e : *events) out.push_back(EventJson(e));
  const Value listed(std::move(out));
  std::fputs(g.json ? (listed.ToJson() + "\n").c_str() : EventsText(listed).c_str(), stdout);
  return 0;
}

int CmdStatus(Env& env, const GlobalOptions& g, const std::string& id) {
  auto opened = OpenRun(env, g, id);
  if (!opened) return Report(opened.error());
  auto& [store, run] = *opened;
  auto tasks = store->ListTasks(run.id);
  if (!tasks) return Report(tasks.error());
  auto attempts = store->ListAttempts(run.id);
  if (!attempts) return Report(attempts.error());
  auto decisions = store->ListDecisions(run.id);
  const std::vector<DecisionRow> no_decisions;
  const std::string status = ShownStatus(env, g, run);
  const std::vector<ComponentUse> uses = StoredComponentUses(*store, run);
  const Value shown = StatusJson(run, status, *tasks, *attempts,
                                 decisions ? *decisions : no_decisions, uses,
                                 StoredLabels(*store, run.id));
  std::fputs(g.json ? (shown.ToJson() + "\n").c_str() : StatusText(shown).c_str(), stdout);
  return 0;
}

namespace {

// Why `sluice logs RUN TASK` has nothing to show: the task has no attempt yet, or the run has no
// such task, with the names it may have meant (a typo, or a forEach item's "train[2]").
Error NoAttemptsError(Store& store, const std::string& run_id, const std::string& task) {
  auto tasks = store.ListTasks(run_id);
  std::vector<std::string> names;
  for (const auto& t : tasks ? *tasks : std::vector<TaskRecord>{}) {
    if (t.name == task) {
      return Error(ErrorCode::kNotFound,
                   fmt::format("task {} of run {} has no attempts (yet)", Quote(task), run_id));
    }
    names.push_back(t.name);
  }
  std::string hint = DidYouMean(task, names);
  if (hint.empty() && !names.empty()) {
    const size_t shown = std::min<size_t>(names.size(), 10);
    std::vector<std::string> some(names.begin(), names.begin() + shown);
    hint = fmt::format("; its tasks: {}{}", Join(some, ", "), names.size() > shown ? ", ..." : "");
  }
  return Error(ErrorCode::kNotFound, fmt::format("run {} has no task {}{}", run_id, Quote(task), hint));
}

}  // namespace

int CmdLogs(Env& env, const GlobalOptions& g, const std::string& id, const std::string& task,
            int attempt, bool follow) {
  auto opened = OpenRun(env, g, id);
  if (!opened) return Report(opened.error());
  auto& [store, run] = *opened;
  auto attempts = store->ListAttempts(run.id);
  if (!attempts) return Report(attempts.error());
  int last = 0;
  for (const auto& a : *attempts) {
    if (a.task == task) last = std::max(last, a.attempt);
  }
  if (last == 0) return Report(NoAttemptsError(*store, run.id, task));
  if (attempt == 0) attempt = last;
  if (attempt > last) {
    return Report(Error(ErrorCode::kNotFound, fmt::format("task {} has {} attempts", Quote(task), last)));
  }
  AttemptPaths paths = AttemptPathsFor(RunDir(env, g, run.id), task, attempt);
  size_t out_off = 0, err_off = 0;
  auto pump = [&] {
    for (auto [file, off, stream] : {std::tuple{paths.stdout_log, &out_off, stdout},
                                     std::tuple{paths.stderr_log, &err_off, stderr}}) {
      auto content = env.files().ReadFile(file);
      if (!content || content->size() <= *off) continue;
      std::fwrite(content->data() + *off, 1, content->size() - *off, stream);
      std::fflush(stream);
      *off = content->size();
    }
  };
  pump();
  while (follow) {
    auto current = store->ListAttempts(run.id);
    bool running = false;
    if (current) {
      for (const auto& a : *current) {
        if (a.task == task && a.attempt == attempt && a.status == "running") running = true;
      }
    }
    if (!running || !env.IsLocked(RunDir(env, g, run.id) + "/lock", nullptr)) {
      pump();
      break;
    }
    env.SleepUs(200'000);
    pump();
  }
  return 0;
}

int CmdCacheList(Env& env, const GlobalOptions& g) {
  auto store = OpenStore(env, g, false);
  if (!store) return Report(store.error());
  auto entries = (*store)->ListCache();
  if (!entries) return Report(entries.error());
  if (g.json) {
    ValueList l;
    for (const auto& c : *entries) {
      l.push_back(Value(ValueMap{{"key", Value(c.key)},
                                 {"run", Value(c.run_id)},
                                 {"task", Value(c.task)},
                                 {"created", Value(Ts(c.created_us))}}));
    }
    std::printf("%s\n", Value(std::move(l)).ToJson().c_str());
    return 0;
  }
  std::printf("%-16s %-26s %-24s %s\n", "KEY", "RUN", "TASK", "CREATED");
  for (const auto& c : *entries) {
    std::printf("%-16s %-26s %-24s %s\n", c.key.substr(0, 16).c_str(), c.run_id.c_str(),
                c.task.c_str(), Ts(c.created_us).c_str());
  }
  return 0;
}

int CmdCacheClear(Env& env, const GlobalOptions& g) {
  auto store = OpenStore(env, g, false);
  if (!store) return Report(store.error());
  auto n = (*store)->ClearCache();
  if (!n) return Report(n.error());
  if (g.json) std::printf("{\"removed\":%d}\n", *n);
  else std::printf("removed %d cache entries\n", *n);
  return 0;
}

}  // namespace sluice
