// Reference checks: what a task's placeholders may name, the static types of what they read,
// and the dependencies that follow from the outputs they read and from `needs`.
#include "spec/references.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "common/strings.h"
#include "expr/check.h"
#include "schedule/schedule.h"
#include "spec/static_types.h"

namespace sluice {
namespace {

class ReferenceChecker {
 public:
  explicit ReferenceChecker(const Plan& plan) : plan_(&plan) {}

  Status CheckReferences(PlanTask& pt) {
    const TaskSpec& t = *pt.spec;
    scope_ = pt.scope;
    if (!t.secrets().empty()) SLUICE_TRY_STATUS(CheckSecretUses(pt));
    for (const auto& [name, field] : t.body.with()) SLUICE_TRY_STATUS(CheckField(pt, field, false));
    if (pt.component()) SLUICE_TRY_STATUS(CheckArgumentTypes(pt));
    if (!pt.component()) {
      for (const auto& a : t.body.run) SLUICE_TRY_STATUS(CheckField(pt, a, false));
    } else {
      for (const auto& a : pt.component()->body.run) SLUICE_TRY_STATUS(CheckField(pt, a, true));
      for (const auto& [name, field] : pt.component()->env) SLUICE_TRY_STATUS(CheckField(pt, field, true));
    }
    if (const DeploySpec* d = t.body.deploy()) {  // what it deploys reads upstream outputs
      SLUICE_TRY_STATUS(CheckField(pt, d->model, false));
      if (d->version) SLUICE_TRY_STATUS(CheckField(pt, *d->version, false));
      for (const auto& [name, field] : d->args) SLUICE_TRY_STATUS(CheckField(pt, field, false));
    }
    in_env_ = true;
    for (const auto& [name, field] : t.env()) {
      auto st = CheckField(pt, field, false);
      if (!st) {
        in_env_ = false;
        return st;
      }
    }
    in_env_ = false;
    if (const TemplateField* when = t.when()) {
      SLUICE_TRY_STATUS(CheckField(pt, *when, false));
      SLUICE_TRY_STATUS(CheckKind(pt, *when, "when must be a condition (a bool)",
                                  {StaticType::kBool}));
      for (const auto& piece : when->tmpl.pieces()) {
        if (!piece.expr) continue;
        for (const auto& ref : piece.expr->references()) pt.when_reads_item |= ref.path[0] == "item";
      }
    }
    if (t.for_each && t.for_each->expr) SLUICE_TRY_STATUS(CheckForEach(pt, *t.for_each->expr));
    if (pt.retry->when) {
      retry_when_ = true;
      auto st = CheckField(pt, *pt.retry->when, false);
      retry_when_ = false;
      SLUICE_TRY_STATUS(st);
    }
    return Dependencies(pt);
  }

 private:
  // A task's secrets: each a secret spec.secrets declares, received as a variable that its env:
  // does not also set.
  Status CheckSecretUses(const PlanTask& pt) {
    const PipelineSpec& p = *plan_->pipeline;
    for (const auto& u : pt.spec->secrets()) {
      if (!p.FindSecret(u.name)) {
        std::vector<std::string> names;
        for (const auto& d : p.secrets) names.push_back(d.name);
        return FailAt(u.loc, "task {} names secret {}, which spec.secrets does not declare{}",
                      Quote(pt.name), Quote(u.name), DidYouMean(u.name, names));
      }
      for (const auto& [name, field] : pt.spec->env()) {
        if (!u.env.empty() && name == u.env) {
          return FailAt(u.loc, "task {} sets env {} both from secret {} and in env:",
                        Quote(pt.name), Quote(name), Quote(u.name));
        }
      }
    }
    return {};
  }

  // forEach's placeholder gives the list of items, so it cannot read an item itself.
  Status CheckForEach(PlanTask& pt, const TemplateField& expr) {
    for (const auto& piece : expr.tmpl.pieces()) {
      if (!piece.expr) continue;
      for (const auto& ref : piece.expr->references()) {
        if (ref.path[0] == "item") {
          return FailAt(expr.loc, "forEach cannot refer to item");
        }
      }
    }
    SLUICE_TRY_STATUS(CheckField(pt, expr, false));
    // A string may hold a JSON list (an upstream output read as text).
    return CheckKind(pt, expr, "forEach must give a list", {StaticType::kList, StaticType::kString});
  }

  // pt.deps: the tasks it reads outputs of (data_deps, found by CheckField) and the ones it
  // needs, sorted and each once. Fails on a needs entry that names no task, itself, or a task
  // of the other DAG (main or finally).
  Status Dependencies(PlanTask& pt) {
    const TaskSpec& t = *pt.spec;
    std::sort(pt.data_deps.begin(), pt.data_deps.end());
    pt.data_deps.erase(std::unique(pt.data_deps.begin(), pt.data_deps.end()), pt.data_deps.end());
    if (pt.role != TaskRole::kMain && pt.role != TaskRole::kFinally) {
      pt.data_deps.clear();  // a handler starts when its owner is settled; it waits for nothing
      return {};
    }
    // Dependencies stay inside one DAG: a finally task reads main tasks' outputs, but they are
    // over before it starts.
    // A sorted vector, not a std::set: two allocations fewer a task.
    std::vector<int>& deps = pt.deps;
    deps.clear();
    deps.reserve(pt.data_deps.size() + t.needs.size());
    for (int d : pt.data_deps) {
      if (plan_->tasks[d].role == pt.role) deps.push_back(d);
    }
    for (const auto& [need, loc] : t.needs) {
      const PlanTask* up = plan_->FindIn(pt.scope, need);
      if (!up) {
        std::vector<std::string> names = NamesIn(pt.scope);
        return FailAt(loc, "task {} needs {}, which does not exist{}", Quote(pt.name), Quote(need),
                      DidYouMean(need, names));
      }
      if (up->index == pt.index) return FailAt(loc, "task {} needs itself", Quote(pt.name));
      if (up->role != pt.role) {
        if (pt.role == TaskRole::kFinally) {
          return FailAt(loc, "finally task {} needs {}: finally tasks run after every task, so "
                        "they can only need other finally tasks", Quote(pt.name), Quote(need));
        }
        return FailAt(loc, "task {} needs {}, a finally task, which runs after every task",
                      Quote(pt.name), Quote(need));
      }
      deps.push_back(up->index);
    }
    std::sort(deps.begin(), deps.end());
    deps.erase(std::unique(deps.begin(), deps.end()), deps.end());
    return {};
  }

  // The types known before a run, for the static check: declared params, run and task fields.
  class ScopeTypes : public TypeEnv {
   public:
    // `reader`, in the pipeline's scope: the task whose placeholders are checked, so that the
    // declared types of the outputs it reads are known (null in a component's scope).
    explicit ScopeTypes(const std::vector<ParamDecl>& params, const Plan* plan = nullptr,
                        const PlanTask* reader = nullptr)
        : params_(params), plan_(plan), reader_(reader) {}
    std::optional<std::pair<StaticType, size_t>> Lookup(
        std::span<const std::string> path) const override {
      if (path[0] == "tasks" && plan_) return DeclaredOutputType(*plan_, *reader_, path);
      if (path[0] == "params" && path.size() >= 2) {
        for (const auto& d : params_) {
          if (d.name == path[1]) return std::make_pair(StaticOf(d.type), size_t{2});
        }
        return std::nullopt;
      }
      if (path.size() < 2) return std::nullopt;
      const std::string &root = path[0], &field = path[1];
      if ((root == "run" || root == "scope") && field == "duration") {
        return std::make_pair(StaticType::kDuration, size_t{2});
      }
      if ((root == "run" || root == "scope") && field == "failures") {
        return std::make_pair(StaticType::kList, size_t{2});
      }
      if (root == "scope" && field == "depth") return std::make_pair(StaticType::kInt, size_t{2});
      if ((root == "run" && (field == "id" || field == "status")) || (root == "scope" && field == "name") ||
          (root == "task" && field == "name") || (root == "component" && field == "dir") ||
          (root == "pipeline" && field == "dir") ||
          (root == "error" && (field == "class" || field == "message" || field == "task"))) {
        return std::make_pair(StaticType::kString, size_t{2});
      }
      if ((root == "task" && field == "attempt") ||
          (root == "error" && (field == "exitCode" || field == "signal"))) {
        return std::make_pair(StaticType::kInt, size_t{2});
      }
      if (root == "run" && field == "failedTasks") return std::make_pair(StaticType::kList, size_t{2});
      if (root == "run" && field == "started") return std::make_pair(StaticType::kTimestamp, size_t{2});
      // Null in a run no schedule started (docs/schedules.md, "In expressions").
      if (root == "schedule" && IsScheduleField(field)) {
        return std::make_pair(StaticType::kTimestamp, size_t{2});
      }
      return std::nullopt;
    }

   private:
    const std::vector<ParamDecl>& params_;
    const Plan* plan_;
    const PlanTask* reader_;
  };

  // Checks every placeholder reference of one template in the pipeline scope (is_component =
  // false) or in a component's scope, and records data dependencies.
  Status CheckField(PlanTask& pt, const TemplateField& f, bool is_component) {
    if (f.literal) return {};
    ScopeTypes types = is_component ? ScopeTypes(pt.component()->params)
                                    : ScopeTypes(plan_->ParamsIn(pt.scope), plan_, &pt);
    for (const auto& piece : f.tmpl.pieces()) {
      if (!piece.expr) continue;
      for (const auto& ref : piece.expr->references()) {
        Location loc = f.loc;
        SLUICE_TRY_STATUS(CheckReference(pt, ref.path, is_component, loc, piece.offset + ref.column));
      }
      if (auto st = CheckExpression(*piece.expr, types); !st) {
        // "column N: ..." inside the expression -> the column within the whole field.
        std::string msg = st.error().message;
        int col = 0;
        if (std::sscanf(msg.c_str(), "column %d:", &col) == 1) {
          msg = fmt::format("{} (in the placeholder, column {})", msg.substr(msg.find(':') + 2),
                            col + piece.offset);
        }
        return FailAt(f.loc, "{}", msg);
      }
    }
    return {};
  }

  // A `with:` argument that is one placeholder whose type is known must fit the component's
  // param: a string may still be read as the param's type when the task runs, anything else
  // that is not that type cannot.
  Status CheckArgumentTypes(const PlanTask& pt) {
    ScopeTypes types(plan_->ParamsIn(pt.scope), plan_, &pt);
    for (const auto& [name, field] : pt.spec->body.with()) {
      const auto& pieces = field.tmpl.pieces();
      if (field.literal || pieces.size() != 1 || !pieces[0].expr) continue;
      const ParamDecl* d = nullptr;
      for (const auto& p : pt.component()->params) {
        if (p.name == name) d = &p;
      }
      auto t = CheckedType(*pieces[0].expr, types);
      if (!d || !t || ArgumentFits(*t, d->type)) continue;
      return FailAt(field.loc, "argument {} gives {} ({}), but component {} declares it {}",
                    Quote(name), StaticTypeName(*t), Quote(field.tmpl.text()),
                    pt.component()->name, ParamTypeName(d->type));
    }
    return {};
  }

  // A field that is one placeholder must give one of `ok` when its type is known at validate.
  Status CheckKind(const PlanTask& pt, const TemplateField& f, std::string_view what,
                   std::initializer_list<StaticType> ok) {
    const auto& pieces = f.tmpl.pieces();
    if (f.literal || pieces.size() != 1 || !pieces[0].expr) return {};
    ScopeTypes types(plan_->ParamsIn(pt.scope), plan_, &pt);
    auto t = CheckedType(*pieces[0].expr, types);
    if (!t || *t == StaticType::kDyn || std::find(ok.begin(), ok.end(), *t) != ok.end()) return {};
    return FailAt(f.loc, "{}; {} gives {}", what, Quote(f.tmpl.text()), StaticTypeName(*t));
  }

  Status CheckReference(PlanTask& pt, const std::vector<std::string>& path, bool is_component,
                        const Location& loc, int col) {
    std::string problem = ReferenceProblem(pt, path, is_component);
    if (problem.empty()) return {};
    return FailAt(loc, "{} (in the placeholder, column {})", problem, col);
  }

  // What is wrong with a reference to `path`, or "" when it names something in scope; a task
  // output that is read becomes a data dependency of `pt`.
  std::string ReferenceProblem(PlanTask& pt, const std::vector<std::string>& path,
                               bool is_component) {
    const std::string& root = path[0];
    if (retry_when_ && root != "error" && root != "task" && root != "run") {
      return fmt::format("retry.when sees error, task and run, not {}", Quote(root));
    }
    if (root == "params") return ParamProblem(pt, path, is_component);
    if (root == "pipeline") return PipelineRootProblem(path);
    if (root == "secrets" && !is_component) {
      return fmt::format("secrets cannot be read by placeholders: the value would reach the "
                         "command line, the store or a cache key. Name the secret in the task's "
                         "secrets: (e.g. secrets: [{{name: {}, env: VAR}}]) and read $VAR",
                         path.size() >= 2 ? path[1] : "NAME");
    }
    if (root == "run" || root == "scope") {
      static const std::vector<std::string> kRun = {"id", "status", "failedTasks", "duration",
                                                    "failures", "started"};
      static const std::vector<std::string> kScope = {"name", "duration", "failures", "depth"};
      const auto& fields = root == "run" ? kRun : kScope;
      if (path.size() >= 2 && std::find(fields.begin(), fields.end(), path[1]) == fields.end()) {
        return fmt::format("unknown {}: {} has {}{}", Join(path, "."), root, Join(fields, ", "),
                           DidYouMean(path[1], fields));
      }
      return "";
    }
    if (root == "schedule") {
      static const std::vector<std::string> kFields = {"time", "intervalStart", "intervalEnd"};
      if (path.size() >= 2 && !IsScheduleField(path[1])) {
        return fmt::format("unknown {}: schedule has time, intervalStart and intervalEnd{}",
                           Join(path, "."), DidYouMean(path[1], kFields));
      }
      return "";
    }
    if (root == "error") return ErrorProblem(pt, path);
    if (root == "task") {
      if (path.size() >= 2 && path[1] != "name" && path[1] != "attempt") {
        return fmt::format("unknown {}: task has name and attempt", Join(path, "."));
      }
      return "";
    }
    if (root == "component" && is_component) {
      if (path.size() >= 2 && path[1] != "dir") return fmt::format("unknown {}: component has dir", Join(path, "."));
      return "";
    }
    if (root == "item" && !is_component) {
      const TaskSpec* itemized = pt.owner >= 0 ? plan_->tasks[pt.owner].spec : pt.spec;
      if (!itemized->for_each) return "item is only defined in a task with forEach";
      return "";
    }
    if (root == "tasks" && !is_component) return OutputProblem(pt, path);
    std::vector<std::string> roots = is_component
        ? std::vector<std::string>{"params", "component", "pipeline", "run", "task", "schedule"}
        : std::vector<std::string>{"params", "tasks", "item", "pipeline", "run", "scope", "task",
                                   "schedule",
                                   "error"};
    static const std::vector<std::string> kTypeNames = {
        "int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type",
        "google"};  // type denotations (type(x) == int), google.protobuf.Timestamp/Duration
    if (std::find(kTypeNames.begin(), kTypeNames.end(), root) != kTypeNames.end()) return "";
    return fmt::format("unknown variable {}{}", Quote(root), DidYouMean(root, roots));
  }

  // params.NAME: a declared param of the pipeline, or of the component.
  std::string ParamProblem(const PlanTask& pt, const std::vector<std::string>& path,
                           bool is_component) {
    if (path.size() < 2) return "";
    std::vector<std::string> names;
    const auto& decls = is_component ? pt.component()->params : plan_->ParamsIn(pt.scope);
    for (const auto& d : decls) names.push_back(d.name);
    if (std::find(names.begin(), names.end(), path[1]) == names.end()) {
      return fmt::format("unknown param {}{}", Quote(path[1]), DidYouMean(path[1], names));
    }
    const ParamDecl* d = is_component || pt.scope >= 0 ? nullptr : plan_->pipeline->FindParam(path[1]);
    if (d && d->secret && !in_env_) {
      return fmt::format("param {} is secret: it may reach a task only through env: (e.g. env: "
                         "{{TOKEN: \"${{{{ params.{} }}}}\"}}), never through the command line, "
                         "conditions or outputs", Quote(path[1]), path[1]);
    }
    return "";
  }

  // error.FIELD: only where a failure is being handled.
  std::string ErrorProblem(const PlanTask& pt, const std::vector<std::string>& path) {
    if (!retry_when_ && pt.role != TaskRole::kCatch && pt.role != TaskRole::kFallback) {
      return "error is only defined in retry.when, catch handlers and fallbacks";
    }
    static const std::vector<std::string> kFields = {"class", "exitCode", "signal", "message",
                                                     "task"};
    if (path.size() >= 2 && std::find(kFields.begin(), kFields.end(), path[1]) == kFields.end()) {
      return fmt::format("unknown {}: error has {}{}", Join(path, "."), Join(kFields, ", "),
                         DidYouMean(path[1], kFields));
    }
    return "";
  }

  // tasks.NAME.outputs.(params|artifacts).NAME: a declared output of a task that has ended
  // when `pt` reads it; that task becomes a data dependency.
  std::string OutputProblem(PlanTask& pt, const std::vector<std::string>& path) {
    if (path.size() < 5 || path[2] != "outputs" || (path[3] != "params" && path[3] != "artifacts")) {
      return fmt::format("{} must read tasks.NAME.outputs.params.NAME or "
                         "tasks.NAME.outputs.artifacts.NAME", Join(path, "."));
    }
    const PlanTask* up = plan_->FindIn(pt.scope, path[1]);
    if (!up) {
      std::vector<std::string> names = NamesIn(pt.scope);
      return fmt::format("unknown task {}{}{}", Quote(path[1]), DidYouMean(path[1], names),
                         pt.scope >= 0 ? " (a DAG template's tasks read only its own tasks; "
                                         "pass what they need as params)" : "");
    }
    if (up->index == pt.index) return fmt::format("task {} reads its own outputs", Quote(pt.name));
    if (up->role != TaskRole::kMain && up->role != TaskRole::kFinally) {
      return fmt::format("task {} is a handler; its outputs cannot be read", Quote(path[1]));
    }
    if (up->role == TaskRole::kFinally && pt.role != TaskRole::kFinally) {
      return fmt::format("{} is a finally task: it runs last, so only other finally "
                         "tasks can read its outputs", Quote(path[1]));
    }
    if (up->index == pt.owner && pt.role != TaskRole::kCompensate) {
      return fmt::format("the {} of task {} runs when it failed, so it has no outputs to "
                         "read", pt.role == TaskRole::kCatch ? "catch handler" : "fallback",
                         Quote(up->name));
    }
    std::vector<std::string> outs;
    if (path[3] == "params") {
      for (const auto& o : up->outputs->params) outs.push_back(o.name);
    } else {
      for (const auto& o : up->outputs->artifacts) outs.push_back(o.name);
    }
    if (std::find(outs.begin(), outs.end(), path[4]) == outs.end()) {
      return fmt::format("task {} has no output {} {}{}", Quote(path[1]),
                         path[3] == "params" ? "param" : "artifact", Quote(path[4]),
                         DidYouMean(path[4], outs));
    }
    pt.data_deps.push_back(up->index);
    return "";
  }

  // The main and finally tasks' own names in `scope` (-1: the pipeline), for suggestions.
  std::vector<std::string> NamesIn(int scope) const {
    std::vector<std::string> names;
    for (const auto& t : plan_->tasks) {
      if (t.scope == scope && t.owner < 0) names.push_back(t.spec->name);
    }
    return names;
  }

 public:
  // A DAG template's outputs: each value reads its tasks' outputs (which become its
  // output_deps) and a param's reads a param, an artifact's an artifact.
  Status CheckTemplateOutputs(PlanTemplate& tp, int scope) {
    static const TaskSpec kNoTask;
    PlanTask pt;
    pt.index = -1;
    pt.scope = scope_ = scope;
    pt.spec = &kNoTask;
    const ComponentSpec& c = *tp.component;
    for (const auto& [name, field] : c.dag->output_values) {
      const bool artifact = std::any_of(c.outputs.artifacts.begin(), c.outputs.artifacts.end(),
                                        [&](const ArtifactDecl& a) { return a.name == name; });
      for (const auto& piece : field.tmpl.pieces()) {
        if (!piece.expr) continue;
        for (const auto& ref : piece.expr->references()) {
          const auto& path = ref.path;
          if (path[0] != "tasks" && path[0] != "params") {
            return FailAt(field.loc, "output {} of DAG template {} reads {}: an output reads its "
                          "tasks' outputs or its params", Quote(name), c.name, Quote(path[0]));
          }
          if (artifact && (path[0] != "tasks" || path.size() < 4 || path[3] != "artifacts")) {
            return FailAt(field.loc, "output artifact {} of DAG template {} must be one of its "
                          "tasks' artifacts (tasks.NAME.outputs.artifacts.NAME)", Quote(name), c.name);
          }
        }
      }
      SLUICE_TRY_STATUS(CheckField(pt, field, false));
    }
    std::sort(pt.data_deps.begin(), pt.data_deps.end());
    pt.data_deps.erase(std::unique(pt.data_deps.begin(), pt.data_deps.end()), pt.data_deps.end());
    tp.output_deps = std::move(pt.data_deps);
    return {};
  }

 private:
  const Plan* plan_;
  int scope_ = -1;  // the scope of the task being checked
  bool retry_when_ = false;  // checking a retry.when: only error, task and run are in scope
  bool in_env_ = false;      // checking a task's env: values, where secret params may be read
};

}  // namespace

Status CheckTaskReferences(const Plan& plan, PlanTask& pt) {
  return ReferenceChecker(plan).CheckReferences(pt);
}

Status CheckTemplateOutputs(const Plan& plan, PlanTemplate& tp) {
  int scope = static_cast<int>(&tp - plan.templates.data());
  return ReferenceChecker(plan).CheckTemplateOutputs(tp, scope);
}

}  // namespace sluice
