// The pipeline model: what a `sluice/v1` file says, after YAML parsing and per-field checks but
// before cross-references are resolved (compile.h does that). Every field that a later check
// may complain about keeps its Location so that errors read FILE:LINE:COL.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/outcome.h"
#include "expr/expr.h"
#include "common/value.h"
#include "spec/depends.h"

namespace sluice {

enum class ParamType { kString, kInt, kNumber, kBool, kList, kMap };
std::string_view ParamTypeName(ParamType t);
// Whether `v` is acceptable for `t` (an int is a number; nothing else converts).
bool ValueMatchesType(const Value& v, ParamType t);

struct ParamDecl {
  std::string name;
  ParamType type = ParamType::kString;
  std::optional<Value> default_value;
  bool required = false;
  // A secret param (pipelines only): stored as a salted hash and shown as "***"; its value
  // reaches tasks only through env:. Always a string, never with a default.
  bool secret = false;
  std::string description;
  Location loc;
};

// A field that may hold `${{ }}` placeholders, or a typed literal (a number, list or map
// written in YAML, e.g. a `with:` argument).
struct TemplateField {
  Template tmpl;
  std::optional<Value> literal;  // set for non-string YAML values
  Location loc;

  bool has_placeholders() const { return !literal && tmpl.has_placeholders(); }
  Result<Value> Evaluate(const Activation& act) const {
    if (literal) return *literal;
    return tmpl.Evaluate(act);
  }
};

enum class Jitter { kNone, kFull, kEqual };

// Where a task's process starts (workingDir): its attempt's own fresh folder (the default), or
// the folder of the pipeline file. Output paths stay relative to the attempt's folder.
enum class WorkingDir { kAttempt, kPipeline };

// One entry of an `on:` or `except:` list: an error class, for `exit` and `signal` optionally
// narrowed to one code. Written 3, exit(3), exit, SIGKILL, signal(9), timeout, any, ...
struct ErrorMatch {
  ErrorClass cls = ErrorClass::kAny;  // kExit, kSignal, kTimeout, ..., or kAny
  int code = -1;                      // -1: any code
};
// Whether a failure of class `cls` (with exit code or signal `code`) is in `list`.
bool MatchesError(const std::vector<ErrorMatch>& list, ErrorClass cls, int code);
// ErrorLabel (common/outcome.h) of a class stored by name: "exit(3)", "timeout"; a name that
// is not a class is shown as it is.
std::string ErrorLabel(std::string_view cls, int code);

struct RetryPolicy {
  int limit = 0;  // retries after the first attempt
  int64_t initial_ms = 1000;
  double factor = 2.0;
  int64_t max_ms = 300'000;
  Jitter jitter = Jitter::kNone;
  std::vector<ErrorMatch> on;      // which failures retry; empty = any
  std::vector<ErrorMatch> except;  // failures that never retry
  // A condition over error.* and task.attempt, checked after on/except.
  std::shared_ptr<const TemplateField> when;
  Location loc;
};

struct Resources {
  double cpu = 0;
  double memory = 0;  // bytes
  double gpu = 0;
  std::vector<std::pair<std::string, double>> pools;  // pool name → units, each once
  bool set = false;
};

// Which data plane runs a task's attempts (executor:), which workers may take them
// (placement: {labels: {...}}) and what a Slurm job asks for (slurm: {...}): set on a task, its
// component or the defaults; the first that sets a field wins (docs/workers.md, docs/slurm.md).
enum class ExecutorKind : uint8_t { kLocal, kWorker, kSlurm };
struct SlurmSpec {
  std::string partition, account, qos, constraint;  // "": sbatch's default
  std::vector<std::string> extra;                   // more sbatch options, as written
  Location loc;
};
struct Placement {
  std::optional<ExecutorKind> executor;
  std::optional<std::vector<std::pair<std::string, std::string>>> labels;  // sorted by key
  std::optional<SlurmSpec> slurm;
};

struct CacheSpec {
  bool enabled = false;
  int64_t ttl_ms = 0;  // 0 = forever
};

enum class OutputSource { kFile, kFileJson, kStdoutText, kStdoutJson };

struct OutputParamDecl {
  std::string name;
  OutputSource source = OutputSource::kFile;
  std::string path;       // kFile, kFileJson
  std::string json_path;  // kFileJson: dotted path, "" = the whole document
  // Declared `type:`: checked where expressions read it, and the value must parse as it.
  std::optional<ParamType> type;
  // default: the value when its file is missing, and what readers get when the task was
  // skipped (as Argo's valueFrom.default).
  std::optional<std::string> default_value;
  Location loc;
};

struct ArtifactDecl {
  std::string name;
  std::string path;
  Location loc;
};

struct OutputsDecl {
  std::vector<OutputParamDecl> params;
  std::vector<ArtifactDecl> artifacts;
};

// A deploy task's body (deploy:, docs/rollouts.md): a model moved into an environment of
// STATE/environments with a strategy. The environment is a literal, so that its promotion rules
// (an approval, a soak) are known when the run is admitted.
struct DeploySpec {
  std::string environment;
  Location environment_loc;
  TemplateField model;  // the model file's path
  std::unique_ptr<TemplateField> version;  // its label; none: the digest's first 12 digits
  std::vector<std::pair<std::string, TemplateField>> args;  // every analysis's args
  // {"canary": {...}} or {"blueGreen": {...}} as checked by the loader, durations in ms; what
  // the rollout process (src/rollout) follows.
  Value strategy;
  std::vector<std::pair<std::string, Location>> templates;  // AnalysisTemplates it names
  bool supersede = false;  // abort the environment's active rollout instead of waiting for it
  Location loc;
};

// The body of a task or component: exactly one of run, script, uses or (tasks only) deploy.
struct Body {
  enum class Kind { kNone, kRun, kScript, kUses, kBuiltin };
  Kind kind = Kind::kNone;
  // argv; for a builtin, only the arguments after `builtin:NAME` (checked, never run).
  std::vector<TemplateField> run;
  // By kind: the builtin's name ("noop" for run: [builtin:noop]), the script's text, or the
  // component reference ("name@version"). One string, not three: a pipeline may hold a million
  // tasks.
  std::string text;
  Location loc;
  // What few bodies set, behind one pointer (null: neither): a script's `shell:` and a uses
  // body's `with:` arguments.
  struct Extra {
    std::string shell = "sh -e";
    std::vector<std::pair<std::string, TemplateField>> with;
    std::shared_ptr<const DeploySpec> deploy;  // builtin "deploy"
  };
  std::unique_ptr<Extra> extra;

  // The shell a script runs in ("sh -e" unless `shell:` says otherwise).
  const std::string& shell() const;
  // A deploy body's spec; null for other bodies.
  const DeploySpec* deploy() const { return extra ? extra->deploy.get() : nullptr; }
  // A uses body's arguments, in the order written; empty for other bodies.
  const std::vector<std::pair<std::string, TemplateField>>& with() const;
  // The extra fields, created on first use (by the loader).
  Extra& MutableExtra() {
    if (!extra) extra = std::make_unique<Extra>();
    return *extra;
  }
};

struct TaskHandlers;

// forEach: a literal list, or a template that yields a list, each item run as its own instance.
struct ForEachSpec {
  std::optional<Value> literal;
  std::unique_ptr<TemplateField> expr;  // when not a literal
  Location loc;
  int parallelism = 0;  // items running at once, 0 = unbounded
};

// A human sign-off a task waits for before it starts (approval:).
struct ApprovalSpec {
  std::vector<std::string> approvers;  // user names, and "group:NAME"
  int quorum = 1;                      // distinct approvers needed
  bool forbid_self = true;             // whoever submitted the run cannot approve it
  int64_t timeout_ms = 0;              // on expiry the approval is rejected; 0 = wait forever
  std::string instructions;
  Location loc;
};

// A secret the pipeline declares (spec.secrets): where its value comes from when the process
// that runs the tasks starts. The value is never part of the model, the store or a cache key.
struct SecretDecl {
  enum class Source { kEnv, kFile, kCommand };
  std::string name;
  Source source = Source::kEnv;
  std::string env;                   // kEnv: a variable of the process that runs the tasks
  std::string file;                  // kFile: absolute path, read when the run (re)starts
  std::vector<std::string> command;  // kCommand: argv; its standard output is the value
  std::string dir;                   // kCommand: where it runs, the pipeline file's folder
  int64_t timeout_ms = 30'000;       // kCommand
  std::string version;  // the user's label of the value: covered by cache keys, unlike it
  Location loc;
};

// A secret a task names (its secrets: list), and how it receives it: exactly one of env and
// file is set.
struct SecretUse {
  std::string name;
  std::string env;   // as this environment variable
  std::string file;  // as this file in its working folder (mode 0600, removed after)
  Location loc;
};

// A task's keys that most tasks leave out. Outputs, timeout, deadline, resources and cache
// are read only by compilation (a plan task holds what they resolve to).
struct TaskOptions {
  std::vector<std::pair<std::string, TemplateField>> env;
  std::unique_ptr<TemplateField> when;
  // depends: when it may start, over how the tasks it names ended (spec/depends.h); its names
  // are also in needs.
  std::shared_ptr<const DependsExpr> depends;
  std::unique_ptr<RetryPolicy> retry;
  OutputsDecl outputs;
  std::optional<int64_t> timeout_ms;
  std::optional<int64_t> deadline_ms;
  Resources resources;
  std::optional<CacheSpec> cache;
  // catch, fallback, compensate, breaker, approval and gate (main tasks only).
  std::unique_ptr<TaskHandlers> handlers;
  std::vector<SecretUse> secrets;  // what of spec.secrets it receives
  std::optional<WorkingDir> working_dir;  // workingDir:, else its component's or the default
  Placement placement;                    // executor: and placement:
  // image:, the container image an export runs it in (else its component's); recorded only,
  // a local run ignores it.
  std::string image;
};

struct TaskSpec {
  std::string name;
  Location loc;
  Body body;
  std::vector<std::pair<std::string, Location>> needs;
  // Rare, large fields live behind pointers: a pipeline may hold a million tasks.
  std::unique_ptr<ForEachSpec> for_each;  // null: not a forEach task
  std::unique_ptr<TaskOptions> options;  // null: none of them set
  bool continue_on_failure = false;

  // The options, or the defaults (no env, outputs, limits or resources) when none is set.
  const TaskOptions& opts() const;
  const std::vector<std::pair<std::string, TemplateField>>& env() const { return opts().env; }
  const TemplateField* when() const { return options ? options->when.get() : nullptr; }
  const DependsExpr* depends() const { return options ? options->depends.get() : nullptr; }
  const RetryPolicy* retry() const { return options ? options->retry.get() : nullptr; }
  const TaskHandlers* handlers() const { return options ? options->handlers.get() : nullptr; }
  const std::vector<SecretUse>& secrets() const { return opts().secrets; }
  // The options, created on first use (by the loader).
  TaskOptions& MutableOptions() {
    if (!options) options = std::make_unique<TaskOptions>();
    return *options;
  }
};

// A catch entry: which terminal failures it handles, and its handler (a body, run with
// ${{ error.* }}). With recover, a handler that succeeds makes the task `recovered`.
struct CatchSpec {
  std::vector<ErrorMatch> on;  // empty = any
  bool recover = true;
  std::unique_ptr<TaskSpec> handler;
  Location loc;
};

struct TaskHandlers {
  std::vector<CatchSpec> catches;
  std::unique_ptr<TaskSpec> fallback;    // stands in for the task; same outputs
  std::unique_ptr<TaskSpec> compensate;  // undoes the task when the run fails or is rolled back
  std::string breaker;  // the circuit breaker guarding its attempts, "" = none
  Location breaker_loc;
  std::vector<std::pair<std::string, Location>> gate;  // gate.policies, checked before it starts
  std::unique_ptr<ApprovalSpec> approval;
};

// Defaults for the tasks of a pipeline or a DAG template (spec.defaults): used where a task
// and its component set none.
struct TaskDefaults {
  std::optional<RetryPolicy> retry;
  std::optional<int64_t> timeout_ms;
  Resources resources;
  std::optional<WorkingDir> working_dir;  // defaults.workingDir
  Placement placement;                    // defaults.executor, defaults.placement
};

// What a DAG template (a Component with tasks: instead of a body) holds besides a component's
// name, params and output names: its tasks, its finally tasks (run when the template's tasks
// are over), its defaults for them, and where each declared output comes from.
struct DagBody {
  std::vector<TaskSpec> tasks;
  std::vector<TaskSpec> finally_tasks;
  TaskDefaults defaults;
  // By output name, in ComponentSpec::outputs' order (params, then artifacts): a placeholder
  // over the template's tasks, e.g. ${{ tasks.evaluate.outputs.params.accuracy }}.
  std::vector<std::pair<std::string, TemplateField>> output_values;
};

struct ComponentSpec {
  std::string name;
  std::string version;  // semver text
  int major = 0, minor = 0, patch = 0;
  std::string dir;  // absolute folder of the file that defines it
  Location loc;
  std::vector<ParamDecl> params;
  OutputsDecl outputs;
  Body body;  // run or script; kNone for a DAG template
  std::unique_ptr<DagBody> dag;  // set for a DAG template
  std::vector<std::pair<std::string, TemplateField>> env;
  std::optional<RetryPolicy> retry;
  std::optional<int64_t> timeout_ms;
  Resources resources;
  std::optional<CacheSpec> cache;
  std::optional<WorkingDir> working_dir;  // workingDir:; a task's own wins
  Placement placement;                    // executor:, placement:; a task's own win
  // argoSubstitution: placeholders may sit in the code its run list gives a shell or an
  // interpreter, as Argo substitutes into script text (imported documents, docs/interop.md).
  bool argo_substitution = false;
  // privatePaths: absolute folders that are the attempt's own (ATTEMPT/root/PATH), in a private
  // mount namespace where the rest of the host is read-only (bubblewrap; docs/spec.md 5.2).
  std::vector<std::string> private_paths;
  std::string image;  // image:, for exports only; a task's own wins
};

// A circuit breaker, with resilience4j's names and defaults. Its state is shared by every run
// that uses the same state directory (engine/breaker.h).
struct BreakerSpec {
  std::string name;
  bool time_based = false;      // slidingWindowType: COUNT_BASED (calls) or TIME_BASED (seconds)
  int window_size = 100;        // slidingWindowSize
  int minimum_calls = 100;      // minimumNumberOfCalls
  double failure_rate = 50;     // failureRateThreshold, percent
  double slow_rate = 100;       // slowCallRateThreshold, percent
  int64_t slow_ms = 60'000;     // slowCallDurationThreshold
  int64_t wait_open_ms = 60'000;  // waitDurationInOpenState
  int half_open_calls = 10;     // permittedNumberOfCallsInHalfOpenState
  int64_t max_wait_half_open_ms = 0;  // maxWaitDurationInHalfOpenState, 0 = wait for the calls
  Location loc;
};

// A group of tasks retried together: when one of them fails for good, every member is reset
// and the group runs again (spec.groups).
struct GroupSpec {
  std::string name;
  std::vector<std::pair<std::string, Location>> tasks;
  RetryPolicy retry;
  Location loc;
};

// Where a policy or waiver comes from. A waiver covers only policies of its own origin: a
// pipeline's waiver its own policies, a --policies waiver the --policies ones, and only the
// central configuration (STATE/policies/ and `sluice waiver grant`) the central ones; so the
// pipeline being judged, or whoever submits it, can never lift a central denial.
enum class PolicyOrigin { kPipeline, kFlag, kCentral };

// "pipeline", "--policies" or "central", as decisions record it.
inline const char* PolicyOriginName(PolicyOrigin o) {
  switch (o) {
    case PolicyOrigin::kPipeline: return "pipeline";
    case PolicyOrigin::kFlag: return "--policies";
    case PolicyOrigin::kCentral: return "central";
  }
  return "pipeline";
}

// A policy (kind: Policy), shaped after Kubernetes' ValidatingAdmissionPolicy: CEL rules over
// an input (the compiled pipeline at admission, a task's inputs at a gate).
struct PolicyVariable {
  std::string name;
  std::shared_ptr<const Expression> expr;
  Location loc;
};

struct PolicyRule {
  enum class Action { kDeny, kWarn, kAudit };
  std::string name;
  std::shared_ptr<const Expression> expr;          // true = pass
  std::string message;                             // when it fails
  std::shared_ptr<const Expression> message_expr;  // a string, when it fails; wins over message
  Action action = Action::kDeny;
  Location loc;
};

struct PolicySpec {
  std::string name;
  std::string stage = "admission";  // admission | gate | promotion (central only)
  std::vector<std::string> match_pipelines;  // globs; empty = all
  std::vector<std::string> match_tasks;      // globs (gates); empty = all
  std::vector<std::string> match_components; // globs on NAME@VERSION; empty = all
  std::vector<std::string> match_environments;  // globs on the environments it deploys to
  std::map<std::string, std::string> match_labels;
  std::vector<PolicyVariable> variables;
  std::vector<PolicyRule> rules;
  bool fail_closed = true;  // failurePolicy: fail (an evaluation error denies) | ignore
  std::string hash;         // SHA-256 of its canonical content, recorded with each decision
  PolicyOrigin origin = PolicyOrigin::kPipeline;
  Location loc;
};

// A waiver (kind: Waiver): a denial by one rule, in one scope, accepted until it expires.
struct WaiverSpec {
  std::string name;
  std::string policy;
  std::string rule;      // "" = every rule of the policy
  std::string pipeline;  // glob; "" = any
  std::string task;      // glob; "" = any
  std::string justification;
  std::string granted_by;
  int64_t expires_us = 0;
  PolicyOrigin origin = PolicyOrigin::kPipeline;  // it covers only policies of this origin
  int64_t audit_seq = 0;  // granted with `sluice waiver grant`: its waiver.granted record
  Location loc;
};

struct PipelineSpec {
  std::string name;
  std::map<std::string, std::string> labels;
  std::string file;  // absolute path
  Location loc;
  std::vector<ParamDecl> params;
  std::vector<std::pair<std::string, Location>> imports;
  TaskDefaults defaults;
  std::map<std::string, double> pools;
  // spec.resources: units of central pools the run holds as a whole, from before its first task
  // starts until it ends (docs/pools.md), with where each was asked for.
  std::vector<std::pair<std::string, double>> run_pools;
  std::vector<Location> run_pool_locs;
  std::vector<TaskSpec> tasks;
  std::vector<TaskSpec> finally_tasks;  // spec.finally: run once the run is otherwise over
  bool fail_fast = true;                // no new tasks after a terminal failure
  bool cancel_on_failure = false;       // onFailure: cancel (true) or wait (false)
  int64_t deadline_ms = 0;              // the whole run, 0 = none
  int max_depth = 10;                   // how deep DAG template calls may nest (maxDepth)
  std::vector<BreakerSpec> breakers;
  std::vector<GroupSpec> groups;
  std::vector<std::pair<std::string, Location>> policies;  // spec.policies: files or folders
  std::vector<SecretDecl> secrets;                          // spec.secrets

  const SecretDecl* FindSecret(std::string_view name) const {
    for (const auto& s : secrets) {
      if (s.name == name) return &s;
    }
    return nullptr;
  }
  const ParamDecl* FindParam(std::string_view name) const {
    for (const auto& d : params) {
      if (d.name == name) return &d;
    }
    return nullptr;
  }
};

}  // namespace sluice
