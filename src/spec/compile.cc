// Compiling a pipeline: imports, component resolution, defaults and the DAG; the reference
// checks are in references.cc.
#include <algorithm>
#include <set>

#include "common/sha256.h"
#include "common/strings.h"
#include "spec/loader.h"
#include "spec/plan.h"
#include "spec/references.h"

#include <cstdio>

namespace sluice {
namespace {

// The main and finally tasks as a Graph, edges from each task's deps in order (node names are
// the tasks' names, or empty when `named` is false).
Graph DependencyGraph(const Plan& plan, bool named) {
  Graph g;
  const int n = plan.num_main + plan.num_finally;
  for (int i = 0; i < n; ++i) g.AddNode(named ? plan.tasks[i].name : std::string());
  for (int i = 0; i < n; ++i) {
    for (int d : plan.tasks[i].deps) g.AddEdge(d, i);
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
    for (const auto& t : p.tasks) SLUICE_TRY_STATUS(BuildTask(t, TaskRole::kMain, -1));
    plan_->num_main = static_cast<int>(plan_->tasks.size());
    for (const auto& t : p.finally_tasks) SLUICE_TRY_STATUS(BuildTask(t, TaskRole::kFinally, -1));
    plan_->num_finally = static_cast<int>(plan_->tasks.size()) - plan_->num_main;
    for (int i = 0; i < plan_->num_main; ++i) {
      const TaskHandlers* h = plan_->tasks[i].spec->handlers();
      if (!h) continue;
      for (const auto& c : h->catches) {
        SLUICE_TRY(idx, BuildTask(*c.handler, TaskRole::kCatch, i));
        plan_->tasks[*idx].MutableRare().catch_spec = &c;
        plan_->tasks[i].MutableRare().catches.push_back(*idx);
      }
      if (h->fallback) {
        SLUICE_TRY(idx, BuildTask(*h->fallback, TaskRole::kFallback, i));
        plan_->tasks[i].fallback = *idx;
        SLUICE_TRY_STATUS(CheckFallbackOutputs(plan_->tasks[i], plan_->tasks[*idx]));
      }
      if (h->compensate) {
        SLUICE_TRY(idx, BuildTask(*h->compensate, TaskRole::kCompensate, i));
        plan_->tasks[i].compensate = *idx;
      }
    }
    for (auto& pt : plan_->tasks) SLUICE_TRY_STATUS(CheckTaskReferences(*plan_, pt));
    return {};
  }

  // Resolves one task's component and defaults and appends it; returns its index.
  Result<int> BuildTask(const TaskSpec& t, TaskRole role, int owner) {
    SLUICE_TRY_STATUS(CheckNameFree(t, role, owner));
    PlanTask pt;
    pt.index = static_cast<int>(plan_->tasks.size());
    pt.name = t.name;
    pt.role = role;
    pt.owner = owner;
    pt.spec = &t;
    pt.body = &t.body;
    pt.outputs = &t.opts().outputs;
    pt.kind = t.body.kind;
    if (t.body.kind == Body::Kind::kUses) {
      SLUICE_TRY(c, Resolve(t.body.text, t.body.loc));
      const ComponentSpec* comp = *c;
      pt.MutableRare().component = comp;
      pt.body = &comp->body;
      pt.kind = comp->body.kind;
      pt.outputs = &comp->outputs;
      SLUICE_TRY_STATUS(CheckArguments(t, *comp));
      pt.MutableRare().component_args = BindArguments(t, *comp);
    }
    SLUICE_TRY_STATUS(ApplyDefaults(t, &pt));
    if (const TaskHandlers* h = t.handlers()) {
      if (h->approval) pt.MutableRare().approval = h->approval.get();
      SLUICE_TRY_STATUS(BindGates(*h, &pt));
      if (!h->breaker.empty()) SLUICE_TRY_STATUS(BindBreaker(*h, &pt));
    }
    plan_->by_name[t.name] = pt.index;  // t lives in the pipeline, so its name stays put
    plan_->tasks.push_back(std::move(pt));
    return static_cast<int>(plan_->tasks.size()) - 1;
  }

  // Fails when a task or handler already has `t`'s name.
  Status CheckNameFree(const TaskSpec& t, TaskRole role, int owner) {
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

  // Retry, timeout, deadline, resources and cache: the task's own, else its component's, else
  // the pipeline's defaults. Fails when the resources ask for a pool that is not declared, or
  // for more than it holds.
  Status ApplyDefaults(const TaskSpec& t, PlanTask* pt) {
    const PipelineSpec& p = *plan_->pipeline;
    const ComponentSpec* comp = pt->component();
    const RetryPolicy* retry = t.retry() ? t.retry()
                               : comp && comp->retry ? &*comp->retry
                               : p.default_retry ? &*p.default_retry : nullptr;
    static const RetryPolicy kNoRetry;
    pt->retry = retry ? retry : &kNoRetry;
    const TaskOptions& o = t.opts();
    pt->timeout_ms = o.timeout_ms ? *o.timeout_ms
                     : comp && comp->timeout_ms ? *comp->timeout_ms
                     : p.default_timeout_ms.value_or(0);
    pt->deadline_ms = o.deadline_ms.value_or(0);
    pt->resources = o.resources.set ? &o.resources
                    : comp && comp->resources.set ? &comp->resources : &p.default_resources;
    for (const auto& [pool, units] : pt->resources->pools) {
      if (!p.pools.count(pool)) {
        std::vector<std::string> known;
        for (const auto& [k, v] : p.pools) known.push_back(k);
        return FailAt(t.loc, "task {} asks for pool {}, which spec.pools does not declare{}",
                      Quote(t.name), Quote(pool), DidYouMean(pool, known));
      }
      if (units > p.pools.at(pool)) {
        return FailAt(t.loc, "task {} asks for {} units of pool {}, which only has {}",
                      Quote(t.name), units, Quote(pool), p.pools.at(pool));
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

  // A fallback stands in for its task, so downstream readers must find the same outputs.
  Status CheckFallbackOutputs(const PlanTask& task, const PlanTask& fb) {
    auto names = [](const OutputsDecl& o) {
      std::set<std::string> params, artifacts;
      for (const auto& p : o.params) params.insert(p.name);
      for (const auto& a : o.artifacts) artifacts.insert(a.name);
      return std::make_pair(params, artifacts);
    };
    auto want = names(*task.outputs), got = names(*fb.outputs);
    for (int k = 0; k < 2; ++k) {
      const auto& w = k == 0 ? want.first : want.second;
      const auto& g = k == 0 ? got.first : got.second;
      const char* what = k == 0 ? "param" : "artifact";
      for (const auto& n : w) {
        if (!g.count(n)) {
          return FailAt(fb.spec->loc, "the fallback of task {} must declare the same outputs: "
                        "output {} {} is missing", Quote(task.name), what, Quote(n));
        }
      }
      for (const auto& n : g) {
        if (!w.count(n)) {
          return FailAt(fb.spec->loc, "the fallback of task {} must declare the same outputs: "
                        "task {} has no output {} {}", Quote(task.name), Quote(task.name), what,
                        Quote(n));
        }
      }
    }
    return {};
  }

  Status CheckArguments(const TaskSpec& t, const ComponentSpec& c) {
    std::vector<std::string> names;
    for (const auto& d : c.params) names.push_back(d.name);
    for (const auto& [arg, field] : t.body.with()) {
      auto it = std::find_if(c.params.begin(), c.params.end(),
                             [&](const ParamDecl& d) { return d.name == arg; });
      if (it == c.params.end()) {
        return FailAt(field.loc, "component {}@{} has no param {}{}", c.name, c.version,
                      Quote(arg), DidYouMean(arg, names));
      }
      if (!field.literal && !field.tmpl.has_placeholders() && it->type != ParamType::kString) {
        return FailAt(field.loc, "argument {} is string {}, but component {} declares it {}",
                      Quote(arg), Quote(field.tmpl.text()), c.name, ParamTypeName(it->type));
      }
      if (field.literal && !ValueMatchesType(*field.literal, it->type)) {
        return FailAt(field.loc, "argument {} is {} {}, but component {} declares it {}",
                      Quote(arg), field.literal->TypeName(), Quote(field.literal->ToText()),
                      c.name, ParamTypeName(it->type));
      }
    }
    for (const auto& d : c.params) {
      bool given = std::any_of(t.body.with().begin(), t.body.with().end(),
                               [&](const auto& w) { return w.first == d.name; });
      if (d.required && !given) {
        return FailAt(t.body.loc, "component {}@{} needs param {} (add it under with:)", c.name,
                      c.version, Quote(d.name));
      }
    }
    return {};
  }

  // The component's params as the task binds them (CheckArguments has checked them): literal
  // arguments and defaults as values of the declared type, placeholders left to each attempt.
  static std::vector<ComponentArg> BindArguments(const TaskSpec& t, const ComponentSpec& c) {
    std::vector<ComponentArg> args;
    args.reserve(c.params.size());
    for (const auto& d : c.params) {
      ComponentArg a{d.name, d.type, d.default_value.value_or(Value()), nullptr};
      auto with = std::find_if(t.body.with().begin(), t.body.with().end(),
                               [&](const auto& w) { return w.first == d.name; });
      if (with != t.body.with().end()) {
        const TemplateField& f = with->second;
        if (f.literal) {
          a.value = *f.literal;
        } else if (f.tmpl.has_placeholders()) {
          a.field = &f;
        } else {
          a.value = Value(f.tmpl.text());  // plain text: a string param (CheckArguments)
        }
      }
      args.push_back(std::move(a));
    }
    return args;
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
    const int n = plan_->num_main + plan_->num_finally;
    for (int i = 0; i < n; ++i) {
      const PlanTask& t = plan_->tasks[i];
      for (int d : t.deps) plan_->tasks[d].dependents.push_back(t.index);
    }
    Graph g = DependencyGraph(*plan_, false);
    if (auto cycle = g.FindCycle()) {
      std::vector<std::string> names;
      std::string why;
      for (int n : *cycle) {
        names.push_back(plan_->tasks[n].name);
        int grp = plan_->tasks[n].group;
        if (grp < 0 || !why.empty()) continue;
        for (int m : *cycle) {
          if (plan_->tasks[m].group == grp) continue;
          why = fmt::format(" (task {} is outside group {} but between its members: what needs "
                            "a member waits for the whole group)", Quote(plan_->tasks[m].name),
                            Quote(plan_->groups[grp].name));
          break;
        }
      }
      return FailAt(plan_->tasks[(*cycle)[0]].spec->loc, "dependency cycle: {}{}",
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

Graph Plan::graph() const { return DependencyGraph(*this, true); }

Result<std::shared_ptr<const Plan>> LoadPlan(FileSystem& fs, const std::string& path) {
  return Compiler(fs).Run(path);
}

namespace {

// Whether a string in `v` (a map's keys included) holds a NUL character.
bool HoldsNul(const Value& v) {
  if (v.is_string()) return v.as_string().find('\0') != std::string::npos;
  if (v.is_list()) return std::any_of(v.as_list().begin(), v.as_list().end(), HoldsNul);
  if (v.is_map()) {
    return std::any_of(v.as_map().begin(), v.as_map().end(), [](const auto& kv) {
      return HoldsNul(kv.first) || HoldsNul(kv.second);
    });
  }
  return false;
}

}  // namespace

Result<Value> BindParams(const Plan& plan, const std::map<std::string, std::string>& overrides) {
  const auto& decls = plan.pipeline->params;
  std::vector<std::string> names;
  for (const auto& d : decls) names.push_back(d.name);
  for (const auto& [k, v] : overrides) {
    if (std::find(names.begin(), names.end(), k) == names.end()) {
      return Fail(ErrorCode::kInvalidInput, "unknown param {}{}", Quote(k), DidYouMean(k, names));
    }
  }
  ValueMap out;
  for (const auto& d : decls) {
    auto it = overrides.find(d.name);
    if (it == overrides.end()) {
      if (d.default_value) {
        out.emplace_back(d.name, *d.default_value);
      } else if (d.required) {
        return Fail(ErrorCode::kInvalidInput, "param {} is required (pass -p {}=VALUE)",
                    Quote(d.name), d.name);
      } else {
        out.emplace_back(d.name, Value());
      }
      continue;
    }
    const std::string& text = it->second;
    Value v;
    if (d.type == ParamType::kString) {
      v = Value(text);
    } else {
      auto parsed = ParseJson(text);
      if (!parsed || !ValueMatchesType(*parsed, d.type)) {
        return Fail(ErrorCode::kInvalidInput, "param {} must be {}, got {}", Quote(d.name),
                    ParamTypeName(d.type), Quote(text));
      }
      v = *parsed;
    }
    // What a policy judges is what a process gets: a NUL would end the string at the process.
    if (HoldsNul(v)) {
      return Fail(ErrorCode::kInvalidInput, "param {}: its value holds a NUL character (\\u0000), "
                  "which no program argument, variable or file name can carry", Quote(d.name));
    }
    out.emplace_back(d.name, std::move(v));
  }
  return Value(std::move(out));
}

}  // namespace sluice
