// Compiling a pipeline: imports, component resolution, defaults and the DAG; the reference
// checks are in references.cc.
#include <algorithm>
#include <cstdio>
#include <functional>
#include <set>

#include "common/sha256.h"
#include "common/strings.h"
#include "spec/loader.h"
#include "spec/plan.h"
#include "spec/references.h"
#include "spec/task_checks.h"

namespace sluice {
namespace {

// The tasks plan.tasks[first, first + n) as a Graph, edges from each task's deps in order
// (node k = task first + k; names are the tasks' names, or empty when `named` is false).
Graph DependencyGraph(const Plan& plan, int first, int n, bool named) {
  Graph g;
  for (int i = 0; i < n; ++i) g.AddNode(named ? plan.tasks[first + i].name : std::string());
  for (int i = 0; i < n; ++i) {
    for (int d : plan.tasks[first + i].deps) g.AddEdge(d - first, i);
  }
  return g;
}


constexpr int kMaxImportFiles = 1000;

class Compiler {
 public:
  Compiler(FileSystem& fs) : fs_(fs), plan_(std::make_shared<Plan>()) {}

  Result<std::shared_ptr<const Plan>> Run(const std::string& path) {
    root_ = fs_.Absolute(path);
    SLUICE_TRY(file, Read(root_, Location{}));
    if (!file->schedules.empty()) {  // docs/schedules.md
      return FailAt(file->schedules[0].loc, "schedule {} is a Schedule document: it lives in its "
                    "own file and names its pipeline; check it with: sluice schedule validate {}",
                    Quote(file->schedules[0].name), root_);
    }
    if (!file->triggers.empty()) {  // docs/triggers.md
      return FailAt(file->triggers[0].loc, "a Trigger document names its pipeline; store it with: "
                    "sluice trigger apply {}", root_);
    }
    if (file->pipelines.empty()) {
      return Fail(ErrorCode::kInvalidInput, "{}: no Pipeline document (a file of components is "
                  "imported by a pipeline, not run)", root_);
    }
    if (file->pipelines.size() > 1) {
      return FailAt(file->pipelines[1].loc, "a file holds one Pipeline document; this is a "
                    "second one ({})", Quote(file->pipelines[1].name));
    }
    auto pipeline = std::make_shared<PipelineSpec>(std::move(file->pipelines[0]));
    plan_->pipeline = pipeline;
    plan_->asks_central_pools = !pipeline->run_pools.empty();  // spec.resources (docs/pools.md)
    for (auto& c : file->components) SLUICE_TRY_STATUS(AddComponent(std::move(c)));
    for (auto& b : file->breakers) SLUICE_TRY_STATUS(AddBreaker(std::move(b)));
    for (const auto& b : pipeline->breakers) SLUICE_TRY_STATUS(AddBreaker(b));
    SLUICE_TRY_STATUS(AddPolicies(*file));
    std::string dir = Dirname(root_);
    for (const auto& [imp, loc] : pipeline->imports) SLUICE_TRY_STATUS(Import(PathJoin(dir, imp), loc));
    for (const auto& [pol, loc] : pipeline->policies) SLUICE_TRY_STATUS(Import(PathJoin(dir, pol), loc));
    SLUICE_TRY_STATUS(BuildTasks());
    SLUICE_TRY_STATUS(BuildGroups());
    SLUICE_TRY_STATUS(BuildGraph());
    Sha256 h;
    for (const auto& [p, content] : plan_->sources) {
      h.Update(p);
      h.Update(std::string_view("\0", 1));
      h.Update(content);
    }
    plan_->digest = h.HexDigest();
    return std::shared_ptr<const Plan>(plan_);
  }

 private:
  Result<SpecFile> Read(const std::string& path, const Location& from) {
    auto content = budget_.Read(fs_, path);
    if (!content) {
      if (from.line > 0) return FailAt(from, "{}", content.error().message);
      return std::unexpected(content.error());
    }
    if (plan_->sources.size() >= kMaxImportFiles) {
      return FailAt(from, "too many imported files (more than {})", kMaxImportFiles);
    }
    const std::string& stored = plan_->sources[path] = std::move(*content);
    return ParseSpecFile(path, stored, &budget_);
  }

  Status Import(const std::string& raw, const Location& loc) {
    std::string path = fs_.Absolute(raw);
    FileInfo info = fs_.Stat(path);
    if (!info.exists) return FailAt(loc, "import {} does not exist", Quote(path));
    std::vector<std::string> files;
    if (info.is_dir) {
      SLUICE_TRY(names, fs_.ListDir(path));
      for (const auto& n : *names) {
        bool yaml = n.ends_with(".yaml") || n.ends_with(".yml");
        if (yaml && !fs_.Stat(PathJoin(path, n)).is_dir) files.push_back(PathJoin(path, n));
      }
    } else {
      files.push_back(path);
    }
    for (const auto& f : files) {
      if (f == root_) {
        return FailAt(loc, "import loop: {} imports itself", Quote(root_));
      }
      if (!imported_.insert(f).second) continue;
      SLUICE_TRY(file, Read(f, loc));
      if (!file->pipelines.empty()) {
        return FailAt(file->pipelines[0].loc, "only Component, Breaker, Policy and Waiver documents "
                      "can be imported, and this is a Pipeline (imported from {})", loc.ToString());
      }
      if (!file->triggers.empty()) {  // docs/triggers.md
        return FailAt(file->triggers[0].loc, "a Trigger cannot be imported (from {})", loc.ToString());
      }
      if (!file->schedules.empty()) {
        return FailAt(file->schedules[0].loc, "only Component, Breaker, Policy and Waiver "
                      "documents can be imported, and this is a Schedule (imported from {})",
                      loc.ToString());
      }
      for (auto& c : file->components) SLUICE_TRY_STATUS(AddComponent(std::move(c)));
      for (auto& b : file->breakers) SLUICE_TRY_STATUS(AddBreaker(std::move(b)));
      SLUICE_TRY_STATUS(AddPolicies(*file));
    }
    return {};
  }

  Status AddPolicies(SpecFile& file) {
    for (auto& p : file.policies) {
      for (const auto& other : plan_->policies) {
        if (other->name == p.name) {
          return FailAt(p.loc, "policy {} is declared twice (also at {})", Quote(p.name),
                        other->loc.ToString());
        }
      }
      SLUICE_TRY_STATUS(CheckPolicyReferences(p));
      plan_->policies.push_back(std::make_shared<const PolicySpec>(std::move(p)));
    }
    for (auto& w : file.waivers) plan_->waivers.push_back(std::make_shared<const WaiverSpec>(std::move(w)));
    return {};
  }

  Status AddBreaker(BreakerSpec b) {
    for (const auto& other : plan_->breakers) {
      if (other->name == b.name) {
        return FailAt(b.loc, "breaker {} is declared twice (also at {})", Quote(b.name),
                      other->loc.ToString());
      }
    }
    plan_->breakers.push_back(std::make_shared<const BreakerSpec>(std::move(b)));
    return {};
  }

  Status AddComponent(ComponentSpec c) {
    for (const auto& other : plan_->components) {
      if (other->name == c.name && other->version == c.version) {
        return FailAt(c.loc, "component {}@{} is defined twice (also at {})", c.name, c.version,
                      other->loc.ToString());
      }
    }
    plan_->components.push_back(std::make_shared<const ComponentSpec>(std::move(c)));
    return {};
  }

  // name, name@1, name@1.2, name@1.2.3 -> the highest matching version.
  Result<const ComponentSpec*> Resolve(const std::string& ref, const Location& loc) {
    std::string name = ref.substr(0, ref.find('@'));
    std::vector<int> want;
    if (ref.find('@') != std::string::npos) {
      for (const auto& part : Split(ref.substr(ref.find('@') + 1), '.')) want.push_back(std::stoi(part));
    }
    const ComponentSpec* best = nullptr;
    std::vector<std::string> names, versions;
    for (const auto& c : plan_->components) {
      names.push_back(c->name);
      if (c->name != name) continue;
      versions.push_back(c->version);
      int parts[3] = {c->major, c->minor, c->patch};
      bool match = true;
      for (size_t i = 0; i < want.size(); ++i) match = match && parts[i] == want[i];
      if (!match) continue;
      if (!best || std::tie(c->major, c->minor, c->patch) >
                       std::tie(best->major, best->minor, best->patch)) {
        best = c.get();
      }
    }
    if (best) return best;
    if (versions.empty()) {
      return FailAt(loc, "unknown component {}{}{}", Quote(name), DidYouMean(name, names),
                    plan_->pipeline->imports.empty() ? " (the pipeline has no imports)" : "");
    }
    std::sort(versions.begin(), versions.end());
    return FailAt(loc, "no version of component {} matches {}; available: {}", Quote(name),
                  Quote(ref), Join(versions, ", "));
  }

  Status BuildTasks() {
    const PipelineSpec& p = *plan_->pipeline;
    plan_->tasks.reserve(p.tasks.size() + p.finally_tasks.size());
    plan_->by_name.reserve(p.tasks.size() + p.finally_tasks.size());
    for (const auto& t : p.tasks) SLUICE_TRY_STATUS(BuildTask(t, TaskRole::kMain, -1, -1));
    plan_->num_main = static_cast<int>(plan_->tasks.size());
    for (const auto& t : p.finally_tasks) SLUICE_TRY_STATUS(BuildTask(t, TaskRole::kFinally, -1, -1));
    plan_->num_finally = static_cast<int>(plan_->tasks.size()) - plan_->num_main;
    SLUICE_TRY_STATUS(BuildHandlers(0, plan_->num_main));
    // Templates called register more templates as they are built.
    for (size_t k = 0; k < plan_->templates.size(); ++k) SLUICE_TRY_STATUS(BuildTemplate(static_cast<int>(k)));
    for (auto& pt : plan_->tasks) SLUICE_TRY_STATUS(CheckTaskReferences(*plan_, pt));
    for (auto& tp : plan_->templates) SLUICE_TRY_STATUS(CheckTemplateOutputs(*plan_, tp));
    return CheckTemplateNesting();
  }

  // The catch, fallback and compensate handlers of the main tasks plan.tasks[first, last).
  Status BuildHandlers(int first, int last) {
    for (int i = first; i < last; ++i) {
      const TaskHandlers* h = plan_->tasks[i].spec->handlers();
      if (!h || plan_->tasks[i].role != TaskRole::kMain) continue;
      const int scope = plan_->tasks[i].scope;
      for (const auto& c : h->catches) {
        SLUICE_TRY(idx, BuildTask(*c.handler, TaskRole::kCatch, i, scope));
        plan_->tasks[*idx].MutableRare().catch_spec = &c;
        plan_->tasks[i].MutableRare().catches.push_back(*idx);
      }
      if (h->fallback) {
        SLUICE_TRY(idx, BuildTask(*h->fallback, TaskRole::kFallback, i, scope));
        plan_->tasks[i].fallback = *idx;
        SLUICE_TRY_STATUS(CheckFallbackOutputs(plan_->tasks[i], plan_->tasks[*idx]));
      }
      if (h->compensate) {
        SLUICE_TRY(idx, BuildTask(*h->compensate, TaskRole::kCompensate, i, scope));
        plan_->tasks[i].compensate = *idx;
      }
    }
    return {};
  }

  // A DAG template's tasks, then its finally tasks (contiguous: a call's instance gets one of
  // each), then their handlers.
  Status BuildTemplate(int k) {
    const ComponentSpec& c = *plan_->templates[k].component;
    const int first = static_cast<int>(plan_->tasks.size());
    plan_->templates[k].first = first;
    for (const auto& t : c.dag->tasks) SLUICE_TRY_STATUS(BuildTask(t, TaskRole::kMain, -1, k));
    plan_->templates[k].num_main = static_cast<int>(plan_->tasks.size()) - first;
    for (const auto& t : c.dag->finally_tasks) SLUICE_TRY_STATUS(BuildTask(t, TaskRole::kFinally, -1, k));
    plan_->templates[k].num_finally =
        static_cast<int>(plan_->tasks.size()) - first - plan_->templates[k].num_main;
    return BuildHandlers(first, first + plan_->templates[k].num_main);
  }

  // The index of DAG template `c` in plan.templates, added (to be built) when new.
  int TemplateIndex(const ComponentSpec* c) {
    for (size_t k = 0; k < plan_->templates.size(); ++k) {
      if (plan_->templates[k].component == c) return static_cast<int>(k);
    }
    PlanTemplate tp;
    tp.component = c;
    plan_->templates.push_back(std::move(tp));
    return static_cast<int>(plan_->templates.size()) - 1;
  }

  // Calls among templates: a cycle of calls none of which has a `when` never ends, and nesting
  // without recursion deeper than spec.maxDepth would fail at run time, so both are refused.
  Status CheckTemplateNesting() {
    const int n = static_cast<int>(plan_->templates.size());
    if (n == 0) return {};
    // Edges: template -> template it calls unconditionally; the call sites for messages.
    std::vector<std::vector<std::pair<int, const PlanTask*>>> calls(n + 1);  // n: the pipeline
    for (const auto& pt : plan_->tasks) {
      if (pt.tmpl() < 0) continue;
      const int from = pt.scope < 0 ? n : pt.scope;
      calls[from].emplace_back(pt.tmpl(), &pt);
    }
    // Depth-first search for a cycle of calls without `when`, and the deepest nesting.
    std::vector<int> mark(n + 1, 0), depth(n + 1, 0);  // 0 new, 1 on the stack, 2 done
    std::vector<std::string> path;
    std::function<Status(int)> visit = [&](int v) -> Status {
      mark[v] = 1;
      for (const auto& [w, site] : calls[v]) {
        if (site->spec->when()) continue;  // recursion ends where a `when` says so
        if (mark[w] == 1) {
          path.push_back(TemplateName(w));
          return FailAt(site->spec->loc, "DAG templates call one another in a cycle with no "
                        "`when` to end it: {} (a recursive call needs a when: that becomes "
                        "false)", Join(path, " -> "));
        }
        if (mark[w] == 0) {
          path.push_back(TemplateName(w));
          SLUICE_TRY_STATUS(visit(w));
          path.pop_back();
        }
        depth[v] = std::max(depth[v], depth[w] + 1);
        if (depth[v] > plan_->pipeline->max_depth) {
          return FailAt(site->spec->loc, "DAG templates nest {} deep here, more than spec.maxDepth "
                        "({})", depth[v], plan_->pipeline->max_depth);
        }
      }
      mark[v] = 2;
      return {};
    };
    for (int v = n; v >= 0; --v) {
      if (mark[v] != 0) continue;
      path.assign(1, v == n ? plan_->pipeline->name : TemplateName(v));
      SLUICE_TRY_STATUS(visit(v));
    }
    return {};
  }

  std::string TemplateName(int k) const {
    const ComponentSpec& c = *plan_->templates[k].component;
    return c.name + "@" + c.version;
  }

  // Resolves one task's component and defaults and appends it; returns its index. `scope` is
  // the template it belongs to (-1: the pipeline).
  Result<int> BuildTask(const TaskSpec& t, TaskRole role, int owner, int scope) {
    SLUICE_TRY_STATUS(CheckNameFree(t, role, owner, scope));
    PlanTask pt;
    pt.index = static_cast<int>(plan_->tasks.size());
    pt.name = scope < 0 ? t.name : TemplateName(scope) + "/" + t.name;
    pt.role = role;
    pt.scope = scope;
    pt.owner = owner;
    pt.spec = &t;
    pt.body = &t.body;
    pt.outputs = &t.opts().outputs;
    pt.kind = t.body.kind;
    if (t.body.kind == Body::Kind::kUses) {
      SLUICE_TRY(c, Resolve(t.body.text, t.body.loc));
      const ComponentSpec* comp = *c;
      pt.MutableRare().component = comp;
      pt.outputs = &comp->outputs;
      if (comp->dag) {
        SLUICE_TRY_STATUS(CheckCall(t, role));
        pt.MutableRare().tmpl = TemplateIndex(comp);  // pt.kind stays kUses: a call
      } else {
        pt.body = &comp->body;
        pt.kind = comp->body.kind;
      }
      SLUICE_TRY_STATUS(CheckArguments(t, *comp));
      pt.MutableRare().component_args = BindArguments(t, *comp);
    }
    SLUICE_TRY_STATUS(ApplyDefaults(t, &pt));
    if (const TaskHandlers* h = t.handlers()) {
      if (h->approval) pt.MutableRare().approval = h->approval.get();
      SLUICE_TRY_STATUS(BindGates(*h, &pt));
      if (!h->breaker.empty()) SLUICE_TRY_STATUS(BindBreaker(*h, &pt));
    }
    if (scope < 0) {
      plan_->by_name[t.name] = pt.index;  // t lives in the pipeline, so its name stays put
    } else {
      plan_->by_name[plan_->scoped_names.emplace_back(pt.name)] = pt.index;
      if (owner < 0) plan_->templates[scope].by_name[t.name] = pt.index;
    }
    plan_->tasks.push_back(std::move(pt));
    return static_cast<int>(plan_->tasks.size()) - 1;
  }

  // What a call of a DAG template cannot have: it runs no process of its own, so no cache,
  // breaker, outputs, secrets, env, timeout or resources (its tasks, or the template's
  // defaults, have them), and compensation belongs to the tasks that did the work.
  Status CheckCall(const TaskSpec& t, TaskRole role) {
    const TaskOptions& o = t.opts();
    const TaskHandlers* h = t.handlers();
    const char* bad = o.cache ? "cache" : !o.outputs.params.empty() || !o.outputs.artifacts.empty()
                      ? "outputs" : !o.env.empty() ? "env" : !o.secrets.empty() ? "secrets"
                      : o.timeout_ms || o.deadline_ms ? "a timeout or deadline"
                      : o.resources.set ? "resources"
                      : h && !h->breaker.empty() ? "a breaker"
                      : h && h->compensate ? "compensate" : nullptr;
    if (bad) {
      return FailAt(t.loc, "task {} calls a DAG template, so it cannot have {}: its template's "
                    "tasks run and declare their own", Quote(t.name), bad);
    }
    if (role != TaskRole::kMain && role != TaskRole::kFinally) {
      return FailAt(t.body.loc, "a handler cannot call a DAG template; call a component with a "
                    "run or script body");
    }
    return {};
  }

  // Fails when a task or handler already has `t`'s name.
  Status CheckNameFree(const TaskSpec& t, TaskRole role, int owner, int scope) {
    if (scope >= 0) {
      const auto& names = plan_->templates[scope].by_name;
      // A call's handlers are named CALL.fallback, CALL.catch, CALL.compensate.
      if (owner < 0 && (t.name == "fallback" || t.name == "catch" || t.name == "compensate")) {
        return FailAt(t.loc, "a DAG template's task cannot be named {}: a call's {} handler "
                      "has that name", Quote(t.name), t.name);
      }
      if (owner < 0 && names.count(t.name)) {
        return FailAt(t.loc, "duplicate task name {} in DAG template {}", Quote(t.name),
                      TemplateName(scope));
      }
      return {};
    }
    auto it = plan_->by_name.find(t.name);
    if (it == plan_->by_name.end()) return {};
    if (owner >= 0) {
      return FailAt(plan_->tasks[it->second].spec->loc, "task name {} is taken by a handler of "
                    "task {}; rename the task", Quote(t.name), Quote(plan_->tasks[owner].name));
    }
    return FailAt(t.loc, "duplicate task name {}{}", Quote(t.name),
                  plan_->tasks[it->second].role == TaskRole::kFinally || role == TaskRole::kFinally
                      ? " (tasks and finally tasks share one namespace)" : "");
  }

  // executor:, placement.labels and slurm:, each the task's own, else its component's, else the
  // template's defaults', else the pipeline's.
  void ApplyPlacement(const Placement& own, const ComponentSpec* comp, const TaskDefaults* inner,
                      PlanTask* pt) {
    const Placement* chain[] = {&own, comp ? &comp->placement : nullptr,
                                inner ? &inner->placement : nullptr,
                                &plan_->pipeline->defaults.placement};
    auto first = [&](auto field) -> const Placement* {
      for (const Placement* p : chain) {
        if (p && p->*field) return p;
      }
      return nullptr;
    };
    if (const Placement* p = first(&Placement::executor)) pt->executor = *p->executor;
    const Placement* slurm = first(&Placement::slurm);
    if (slurm && pt->executor == ExecutorKind::kSlurm) pt->MutableRare().slurm = &*slurm->slurm;
    const Placement* labels = pt->on_worker() ? first(&Placement::labels) : nullptr;
    if (labels && !labels->labels->empty()) pt->MutableRare().labels = &*labels->labels;
  }

  // Retry, timeout, deadline, resources and cache: the task's own, else its component's, else
  // the pipeline's defaults. Fails when a pool of spec.pools is asked for more than it holds.
  Status ApplyDefaults(const TaskSpec& t, PlanTask* pt) {
    const PipelineSpec& p = *plan_->pipeline;
    const ComponentSpec* comp = pt->component();
    // A template's task: the template's defaults come before the pipeline's.
    const TaskDefaults* inner = pt->scope >= 0 ? &plan_->templates[pt->scope].component->dag->defaults
                                               : nullptr;
    // A call's retry is its own: a default would multiply the retries of its tasks.
    const bool call = pt->tmpl() >= 0;
    const RetryPolicy* retry = t.retry() ? t.retry()
                               : call ? nullptr
                               : comp && comp->retry ? &*comp->retry
                               : inner && inner->retry ? &*inner->retry
                               : p.defaults.retry ? &*p.defaults.retry : nullptr;
    static const RetryPolicy kNoRetry;
    pt->retry = retry ? retry : &kNoRetry;
    const TaskOptions& o = t.opts();
    pt->timeout_ms = o.timeout_ms ? *o.timeout_ms
                     : comp && comp->timeout_ms ? *comp->timeout_ms
                     : inner && inner->timeout_ms ? *inner->timeout_ms
                     : p.defaults.timeout_ms.value_or(0);
    pt->deadline_ms = o.deadline_ms.value_or(0);
    if (t.body.deploy()) {
      plan_->has_deploy = true;
      return DeployDefaults(t, pt);
    }
    ApplyPlacement(o.placement, comp, inner, pt);
    if (o.placement.slurm && pt->executor != ExecutorKind::kSlurm) {
      return FailAt(o.placement.slurm->loc, "task {} has slurm: but does not run on Slurm; add "
                    "executor: slurm", Quote(t.name));
    }
    pt->resources = o.resources.set ? &o.resources
                    : comp && comp->resources.set ? &comp->resources
                    : inner && inner->resources.set ? &inner->resources : &p.defaults.resources;
    for (const auto& [pool, units] : pt->resources->pools) {
      auto declared = p.pools.find(pool);
      if (declared == p.pools.end()) {  // a central pool: admission checks it (pools_spec.h)
        pt->MutableRare().central_pools.emplace_back(pool, units);
        plan_->asks_central_pools = true;
        continue;
      }
      if (units > declared->second) {
        return FailAt(t.loc, "task {} asks for {} units of pool {}, which only has {}",
                      Quote(t.name), units, Quote(pool), declared->second);
      }
    }
    if (o.cache) pt->cache = *o.cache;
    else if (comp && comp->cache) pt->cache = *comp->cache;
    return {};
  }

  // gate.policies: each names a Policy of stage gate.
  Status BindGates(const TaskHandlers& h, PlanTask* pt) {
    for (const auto& [name, loc] : h.gate) {
      const PolicySpec* found = nullptr;
      std::vector<std::string> names;
      for (const auto& p : plan_->policies) {
        if (p->stage != "gate") continue;
        names.push_back(p->name);
        if (p->name == name) found = p.get();
      }
      if (!found) {
        return FailAt(loc, "unknown gate policy {}{}{}", Quote(name), DidYouMean(name, names),
                      names.empty() ? " (gate policies come from spec.policies: a Policy with "
                                      "stage: gate)" : "");
      }
      pt->MutableRare().gate.push_back(found);
    }
    return {};
  }

  Status BindBreaker(const TaskHandlers& h, PlanTask* pt) {
    const std::string& want = h.breaker;
    std::vector<std::string> names;
    for (const auto& b : plan_->breakers) {
      if (b->name == want) pt->MutableRare().breaker = b.get();
      names.push_back(b->name);
    }
    if (!pt->breaker()) {
      return FailAt(h.breaker_loc, "unknown breaker {}{}{}", Quote(want), DidYouMean(want, names),
                    names.empty() ? " (declare it in spec.breakers or import a Breaker file)" : "");
    }
    return {};
  }

  // Groups: members must be plain main tasks (no forEach, catch or fallback: a retried group
  // resets its members, and those create instances of their own). A task outside a group that
  // needs one member waits for the whole group, so nothing outside has used a member's outputs
  // when the group is reset.
  Status BuildGroups() {
    for (const auto& g : plan_->pipeline->groups) {
      for (const auto& other : plan_->groups) {
        if (other.name == g.name) return FailAt(g.loc, "duplicate group {}", Quote(g.name));
      }
      PlanGroup pg;
      pg.name = g.name;
      pg.retry = &g.retry;
      const int gi = static_cast<int>(plan_->groups.size());
      for (const auto& [name, loc] : g.tasks) {
        PlanTask* t = nullptr;
        if (auto it = plan_->by_name.find(name); it != plan_->by_name.end()) t = &plan_->tasks[it->second];
        if (!t || t->role != TaskRole::kMain) {
          std::vector<std::string> names;
          for (int i = 0; i < plan_->num_main; ++i) names.push_back(plan_->tasks[i].name);
          return FailAt(loc, "group {} names {}, which is not a task{}", Quote(g.name), Quote(name),
                        DidYouMean(name, names));
        }
        if (t->group == gi) return FailAt(loc, "group {} names {} twice", Quote(g.name), Quote(name));
        if (t->group >= 0) {
          return FailAt(loc, "task {} is already in group {}", Quote(name),
                        Quote(plan_->groups[t->group].name));
        }
        if (t->spec->for_each || t->catches().size() ||
            t->fallback >= 0) {
          return FailAt(loc, "task {} cannot be in a group: a group's members cannot use forEach, "
                        "catch or fallback", Quote(name));
        }
        t->group = gi;
        pg.members.push_back(t->index);
      }
      std::sort(pg.members.begin(), pg.members.end());
      plan_->groups.push_back(std::move(pg));
    }
    if (plan_->groups.empty()) return {};
    for (int i = 0; i < plan_->num_main; ++i) {
      PlanTask& t = plan_->tasks[i];
      std::set<int> deps(t.deps.begin(), t.deps.end());
      for (int d : t.deps) {
        int g = plan_->tasks[d].group;
        if (g < 0 || g == t.group) continue;
        deps.insert(plan_->groups[g].members.begin(), plan_->groups[g].members.end());
      }
      t.deps.assign(deps.begin(), deps.end());
    }
    return {};
  }

  // Fills the tasks' dependents and rejects a cycle. The graph is only for the check: it
  // holds no names, and the plan does not keep it.
  Status BuildGraph() {
    SLUICE_TRY_STATUS(CheckDag(0, plan_->num_main + plan_->num_finally));
    for (const auto& tp : plan_->templates) SLUICE_TRY_STATUS(CheckDag(tp.first, tp.size()));
    return {};
  }

  // One DAG: the pipeline's, or a template's (its tasks need only one another).
  Status CheckDag(int first, int n) {
    for (int i = first; i < first + n; ++i) {
      const PlanTask& t = plan_->tasks[i];
      for (int d : t.deps) plan_->tasks[d].dependents.push_back(t.index);
    }
    Graph g = DependencyGraph(*plan_, first, n, false);
    if (auto cycle = g.FindCycle()) {
      std::vector<std::string> names;
      std::string why;
      for (int k : *cycle) {
        const PlanTask& t = plan_->tasks[first + k];
        names.push_back(t.spec->name);
        int grp = t.group;
        if (grp < 0 || !why.empty()) continue;
        for (int m : *cycle) {
          if (plan_->tasks[first + m].group == grp) continue;
          why = fmt::format(" (task {} is outside group {} but between its members: what needs "
                            "a member waits for the whole group)",
                            Quote(plan_->tasks[first + m].name), Quote(plan_->groups[grp].name));
          break;
        }
      }
      return FailAt(plan_->tasks[first + (*cycle)[0]].spec->loc, "dependency cycle: {}{}",
                    Join(names, " -> "), why);
    }
    return {};
  }

  FileSystem& fs_;
  std::shared_ptr<Plan> plan_;
  std::string root_;
  std::set<std::string> imported_;
  LoadBudget budget_;  // every file of this load counts against it
};

}  // namespace

Graph Plan::graph() const { return DependencyGraph(*this, 0, num_main + num_finally, true); }

Result<std::shared_ptr<const Plan>> LoadPlan(FileSystem& fs, const std::string& path) {
  return Compiler(fs).Run(path);
}

}  // namespace sluice
