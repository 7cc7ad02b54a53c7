// The compiled pipeline: tasks with their components resolved, defaults applied, dependencies
// (declared and inferred from placeholders) checked and ordered. Immutable once built; shared
// by the engine and the CLI.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "dag/graph.h"
#include "env/env.h"
#include "spec/model.h"

namespace sluice {

// What a plan task is for. Plan::tasks holds the main tasks first (the pipeline's DAG), then
// the finally tasks (a DAG of their own, run once the rest is over), then the handlers: catch,
// fallback and compensate bodies, each started for one instance of its owner task.
enum class TaskRole { kMain, kFinally, kCatch, kFallback, kCompensate };

// One param of a `uses` task's component, as the task binds it: checked against the declared
// type at compile time. A value known then (a literal `with:` argument, the default) is stored
// converted; a `with:` argument with placeholders is evaluated, converted and checked per
// attempt.
struct ComponentArg {
  std::string name;
  ParamType type = ParamType::kString;
  Value value;                           // when `field` is null
  const TemplateField* field = nullptr;  // a `with:` argument with placeholders
};

// What few plan tasks have, behind one pointer (PlanTask::rare): handlers, what guards and
// gates it, and a `uses` task's component. A plan may hold a million tasks.
struct PlanTaskRare {
  std::vector<int> catches;  // main tasks: their catch handlers, by plan index
  const CatchSpec* catch_spec = nullptr;  // kCatch: its entry (on, recover)
  const BreakerSpec* breaker = nullptr;   // guards its attempts
  std::vector<const PolicySpec*> gate;    // gate policies, checked before it starts
  const ApprovalSpec* approval = nullptr; // a sign-off it waits for before it starts
  const ComponentSpec* component = nullptr;  // set for `uses`
  std::vector<ComponentArg> component_args;  // its params, in the component's order
  int tmpl = -1;  // a call of a DAG template: its index in Plan::templates
  // executor: worker: the labels a worker must have to take its attempts (placement.labels).
  const std::vector<std::pair<std::string, std::string>>* labels = nullptr;
  // executor: slurm: its sbatch options (slurm:), null when none are set.
  const SlurmSpec* slurm = nullptr;
  // The pools it asks for that spec.pools does not declare: central pools (pools_spec.h),
  // limits across runs, which admission checks and the engine takes through CentralPools.
  std::vector<std::pair<std::string, double>> central_pools;
};

struct PlanTask {
  int index = 0;
  // The task's name; for a task of a DAG template, qualified by it ("train-dag@1.0.0/evaluate").
  std::string name;
  TaskRole role = TaskRole::kMain;
  int scope = -1;  // the DAG template (index in Plan::templates) it belongs to, -1: the pipeline
  int owner = -1;  // handlers: the task they serve
  int group = -1;  // index into Plan::groups
  // Main tasks: their fallback and compensate handlers, by plan index (-1 = none).
  int fallback = -1;
  int compensate = -1;
  const TaskSpec* spec = nullptr;
  std::unique_ptr<PlanTaskRare> rare;  // null: none of its fields set
  // run, script or builtin: a `uses` of a component is resolved away; kUses only for a call of
  // a DAG template (rare->tmpl).
  Body::Kind kind = Body::Kind::kRun;
  const Body* body = nullptr;                // the task's or its component's body
  const OutputsDecl* outputs = nullptr;
  // Point into the task, its component or the pipeline's defaults (owned by the Plan).
  const RetryPolicy* retry = nullptr;
  const Resources* resources = nullptr;
  int64_t timeout_ms = 0;   // per attempt, 0 = none
  int64_t deadline_ms = 0;  // whole task, 0 = none
  CacheSpec cache;
  std::vector<int> deps;       // every upstream task, sorted
  std::vector<int> data_deps;  // upstream tasks whose outputs it reads, sorted
  std::vector<int> dependents;
  bool when_reads_item = false;  // `when` is decided per forEach item
  // Which data plane runs its attempts (executor:). A worker's or a Slurm job's attempts count
  // against the worker's or the cluster's slots and capacity, not this machine's (-j, cpu,
  // memory, gpu).
  ExecutorKind executor = ExecutorKind::kLocal;

  // PlanTaskRare's fields, or their defaults when it has none.
  const PlanTaskRare& rare_or_default() const {
    static const PlanTaskRare kNone;
    return rare ? *rare : kNone;
  }
  const std::vector<int>& catches() const { return rare_or_default().catches; }
  const CatchSpec* catch_spec() const { return rare ? rare->catch_spec : nullptr; }
  const BreakerSpec* breaker() const { return rare ? rare->breaker : nullptr; }
  const std::vector<const PolicySpec*>& gate() const { return rare_or_default().gate; }
  const ApprovalSpec* approval() const { return rare ? rare->approval : nullptr; }
  const ComponentSpec* component() const { return rare ? rare->component : nullptr; }
  int tmpl() const { return rare ? rare->tmpl : -1; }
  bool remote() const { return executor != ExecutorKind::kLocal; }
  bool on_worker() const { return executor == ExecutorKind::kWorker; }
  const SlurmSpec* slurm() const { return rare ? rare->slurm : nullptr; }
  const std::vector<std::pair<std::string, std::string>>* labels() const {
    return rare ? rare->labels : nullptr;
  }
  const std::vector<std::pair<std::string, double>>& central_pools() const {
    return rare_or_default().central_pools;
  }
  const std::vector<ComponentArg>& component_args() const {
    return rare_or_default().component_args;
  }
  // The rare fields, created on first use (by the compiler).
  PlanTaskRare& MutableRare() {
    if (!rare) rare = std::make_unique<PlanTaskRare>();
    return *rare;
  }
};

// A DAG template as compiled once for every call of it: its tasks are plan tasks (role kMain
// and kFinally, scope = its index), which each call's instance gets its own instances of
// (engine/run_state.h). Their deps point at tasks of the same template. A template may call
// itself (recursion): spec.maxDepth bounds the nesting at run time.
struct PlanTemplate {
  const ComponentSpec* component = nullptr;
  int first = 0;        // its tasks are Plan::tasks[first, first + num_main + num_finally)
  int num_main = 0;
  int num_finally = 0;
  // Its tasks by their own names (views of the template's TaskSpec names).
  std::unordered_map<std::string_view, int> by_name;
  // What its outputs read (ComponentSpec::dag->output_values): its tasks by plan index.
  std::vector<int> output_deps;

  int size() const { return num_main + num_finally; }
};

struct PlanGroup {
  std::string name;
  std::vector<int> members;  // plan task indices, sorted
  const RetryPolicy* retry = nullptr;
};

struct Plan {
  std::shared_ptr<const PipelineSpec> pipeline;
  std::vector<std::shared_ptr<const ComponentSpec>> components;
  std::vector<std::shared_ptr<const BreakerSpec>> breakers;  // spec.breakers and Breaker files
  std::vector<PlanGroup> groups;
  std::vector<PlanTemplate> templates;  // DAG templates that the pipeline calls
  // Policies and waivers of the pipeline's files (spec.policies, and documents beside it).
  std::vector<std::shared_ptr<const PolicySpec>> policies;
  std::vector<std::shared_ptr<const WaiverSpec>> waivers;
  std::vector<PlanTask> tasks;
  int num_main = 0;     // tasks[0, num_main) are the main DAG
  int num_finally = 0;  // tasks[num_main, num_main + num_finally) are spec.finally
  // Keys view the TaskSpec names the pipeline owns (they never move): no second copy.
  std::unordered_map<std::string_view, int> by_name;
  // The qualified names of templates' tasks and handlers, which by_name's keys view.
  std::deque<std::string> scoped_names;
  // Every file read to build the plan, by absolute path, so a run can be resumed from exactly
  // what it was submitted with.
  std::map<std::string, std::string> sources;
  std::string digest;  // SHA-256 over the sources
  // A task has PlanTaskRare::central_pools, or the run holds some (PipelineSpec::run_pools).
  bool asks_central_pools = false;
  bool has_deploy = false;  // a task deploys (DeploySpec): admission checks STATE/environments

  // The DAG of the main and finally tasks (node i = tasks[i]), for rendering. Built on each
  // call: the tasks' deps and dependents hold its edges, so the plan keeps no second copy.
  Graph graph() const;

  const PlanTask* Find(std::string_view name) const {
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : &tasks[it->second];
  }
  // A main or finally task by its own name in `scope` (-1: the pipeline, else a template).
  const PlanTask* FindIn(int scope, std::string_view name) const {
    if (scope < 0) {
      const PlanTask* t = Find(name);
      return t && t->scope < 0 ? t : nullptr;
    }
    const auto& m = templates[scope].by_name;
    auto it = m.find(name);
    return it == m.end() ? nullptr : &tasks[it->second];
  }
  // The params that `params.*` reads in `scope`: the pipeline's or the template's.
  const std::vector<ParamDecl>& ParamsIn(int scope) const {
    return scope < 0 ? pipeline->params : templates[scope].component->params;
  }
};

// Loads the pipeline in `path` with its imports through `fs` and compiles it. On failure
// returns the first error, located at FILE:LINE:COL.
Result<std::shared_ptr<const Plan>> LoadPlan(FileSystem& fs, const std::string& path);

// Reads every Policy and Waiver document in `path` (a file, or the *.yaml files of a folder),
// for `--policies DIR`. Rejects files holding other kinds.
struct PolicySet {
  std::vector<std::shared_ptr<const PolicySpec>> policies;
  std::vector<std::shared_ptr<const WaiverSpec>> waivers;
};
Result<PolicySet> LoadPolicies(FileSystem& fs, const std::string& path,
                               PolicyOrigin origin = PolicyOrigin::kFlag);
// The central policies and waivers: the *.yaml files of STATE/policies/ (none when it does not
// exist), marked kCentral. They are trusted under users.yaml's rule: the folder and each file
// are owned by the state folder's owner, writable by no one else, and no symbolic link. On
// failure (an untrusted or malformed file) returns a one-line error; no run may be admitted.
Result<PolicySet> LoadCentralPolicies(FileSystem& fs, const std::string& state_dir);
// The rule the state folder's own files follow (users.yaml, policies/, pools.yaml): `info` (of
// `path`, not following a link) is a regular file (a folder when `folder`) owned by
// `owner_uid` and writable by no one else. `what` names them in the error.
// A deploy task's plan fields (loader_deploy.cc): it runs beside the engine, is never cached,
// and a lost attempt starts again (its rollout goes on from its stored step); retry, timeout
// and deadline are its own. Fails on executor: worker.
Status DeployDefaults(const TaskSpec& t, PlanTask* pt);

// The *.yaml files of STATE/`folder_name` (central policies, environments), each checked with
// CheckTrusted as `what`; none when the folder does not exist.
Result<std::vector<std::string>> TrustedYamlFiles(FileSystem& fs, const std::string& state_dir,
                                                  const std::string& folder_name,
                                                  std::string_view what);

Status CheckTrusted(const std::string& path, const FileInfo& info, int64_t owner_uid,
                    bool folder, std::string_view what);
// Checks what a policy's expressions refer to: `object` fields its stage's input has, and
// declared variables. Errors are located at the expression.
Status CheckPolicyReferences(const PolicySpec& p);

// Binds run parameters: `overrides` are name=value texts from the command line, read according
// to each param's declared type (lists and maps as JSON). Fails on unknown names, bad values and
// missing required params.
Result<Value> BindParams(const Plan& plan, const std::map<std::string, std::string>& overrides);

}  // namespace sluice
