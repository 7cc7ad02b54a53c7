// YAML -> model: bodies, tasks, pipelines, components and the file entry point.
#include "spec/inline_code.h"
#include "spec/yaml_reader.h"

namespace sluice {

Status Reader::BodyOf(const YNode& n, const MapKeys& k, Body* body, bool allow_uses,
                      std::string_view what, std::string_view name) const {
  auto where = [&] { return fmt::format("{} {}", what, Quote(name)); };
  int count = 0;
  const char* present[4] = {};
  for (const char* key : {"run", "script", "uses", "deploy"}) {
    if (k[key]) present[count++] = key;
  }
  if (count > 1) {
    return FailAt(Loc(k[present[1]]), "{} has two bodies ({} and {}); give exactly one of run, "
                  "script{}", where(), present[0], present[1], allow_uses ? ", uses or deploy" : "");
  }
  if (count == 0) {
    return FailAt(Loc(n), "{} needs a body: one of run, script{}", where(),
                  allow_uses ? ", uses or deploy" : "");
  }
  if (const auto& deploy = k["deploy"]) {
    if (!allow_uses) return FailAt(Loc(deploy), "a component body must be run or script");
    if (k["with"] || k["shell"]) {
      return FailAt(Loc(k["with"] ? k["with"] : k["shell"]), "{} is not used with deploy",
                    k["with"] ? "with" : "shell");
    }
    return DeployBody(deploy, body);
  }
  if (const auto& run = k["run"]) SLUICE_TRY_STATUS(RunBody(run, body));
  if (const auto& script = k["script"]) {
    SLUICE_TRY_STATUS(ScriptBody(script, k["shell"], body));
  } else if (k["shell"]) {
    return FailAt(Loc(k["shell"]), "shell is only used with script");
  }
  if (const auto& uses = k["uses"]) {
    if (!allow_uses) return FailAt(Loc(uses), "a component body must be run or script");
    SLUICE_TRY_STATUS(UsesBody(uses, k["with"], body));
  } else if (k["with"]) {
    return FailAt(Loc(k["with"]), "with is only used with uses");
  }
  return {};
}

Status Reader::RunBody(const YNode& run, Body* body) const {
  body->loc = Loc(run);
  body->kind = Body::Kind::kRun;
  if (run.IsScalar()) {
    return FailAt(Loc(run), "run must be a list of arguments (it runs without a shell); use "
                  "script: for shell text");
  }
  SLUICE_TRY_STATUS(ExpectList(run, "run"));
  if (run.size() == 0) return FailAt(Loc(run), "run needs at least the program to start");
  body->run.reserve(run.size());
  for (const auto& a : run) {
    SLUICE_TRY(f, Field(a, "run argument", false));
    body->run.push_back(std::move(*f));
  }
  SLUICE_TRY_STATUS(NoPlaceholderInInlineCode(run, *body));
  const Template& t0 = body->run[0].tmpl;
  if (!t0.has_placeholders() && StartsWith(t0.text(), "builtin:")) {
    body->kind = Body::Kind::kBuiltin;
    body->text = t0.text().substr(8);
    if (body->text != "noop") {
      return FailAt(Loc(run.Item(0)), "unknown builtin {}; known: builtin:noop", Quote(t0.text()));
    }
    // The name is in text; what stays in run is only checked. A bare builtin keeps no list:
    // a million `run: [builtin:noop]` tasks would hold ~150 MB of them.
    body->run.erase(body->run.begin());
    if (body->run.empty()) std::vector<TemplateField>().swap(body->run);
  }
  return {};
}

Status Reader::NoPlaceholderInInlineCode(const YNode& run, const Body& body) const {
  if (inline_code_placeholders_allowed_) return {};
  std::vector<std::string_view> texts;
  texts.reserve(body.run.size());
  for (const auto& a : body.run) texts.push_back(a.tmpl.text());
  auto code = FindInlineCode(texts);
  if (!code || !body.run[code->index].tmpl.has_placeholders()) return {};
  const YNode arg = run.Item(code->index);
  return FailAt(PlaceholderLoc(arg, std::string(arg.Scalar())),
                "a ${{{{ }}}} placeholder in the code that `{}` runs would splice a value into "
                "code (a value could run commands). Pass it through env: (e.g. env: {{MSG: "
                "\"${{{{ params.msg }}}}\"}}) and read \"$MSG\" (os.environ['MSG'] in Python), or "
                "pass it as an argument after the code", code->program);
}

Status Reader::ScriptBody(const YNode& script, const YNode& shell, Body* body) const {
  body->loc = Loc(script);
  body->kind = Body::Kind::kScript;
  SLUICE_TRY(text, Str(script, "script"));
  if (text->find("${{") != std::string::npos) {
    return FailAt(PlaceholderLoc(script, *text), "a script body cannot hold ${{{{ }}}} "
                  "placeholders: no value may become shell code. Pass it through env: (e.g. "
                  "env: {{X: \"${{{{ ... }}}}\"}}) and read \"$X\" in the script");
  }
  SLUICE_TRY_STATUS(NoBareTemplate(script, *text, true));
  body->text = *text;
  if (shell) {
    SLUICE_TRY(sh, Str(shell, "shell"));
    if (Trim(*sh).empty()) return FailAt(Loc(shell), "shell must not be empty");
    body->MutableExtra().shell = *sh;
  }
  return {};
}

Status Reader::UsesBody(const YNode& uses, const YNode& with, Body* body) const {
  body->loc = Loc(uses);
  body->kind = Body::Kind::kUses;
  SLUICE_TRY(u, Str(uses, "uses"));
  if (!IsUsesRef(*u)) {
    return FailAt(Loc(uses), "uses must be NAME or NAME@VERSION (e.g. train@1 or train@1.2.0), "
                  "not {}", Quote(*u));
  }
  body->text = *u;
  if (!with) return {};
  SLUICE_TRY_STATUS(ExpectMap(with, "with"));
  std::set<std::string> seen;
  for (auto it = with.begin(); it != with.end(); ++it) {
    SLUICE_TRY(key, Name(it->first, "with argument"));
    if (!seen.insert(*key).second) return FailAt(Loc(it->first), "duplicate argument {}", Quote(*key));
    SLUICE_TRY(f, Field(it->second, "with argument", true));
    body->MutableExtra().with.emplace_back(*key, std::move(*f));
  }
  return {};
}

Result<TaskSpec> Reader::Task(const YNode& n, TaskKind kind, const std::string& owner) const {
  TaskSpec t;
  SLUICE_TRY_STATUS(TaskInto(n, &t, kind, owner));
  return t;
}

// The keys are checked in this order, so that the first error of a task is always the same.
Status Reader::TaskInto(const YNode& n, TaskSpec* out, TaskKind kind, const std::string& owner) const {
  TaskSpec& t = *out;
  t.loc = Loc(n);
  const MapKeys k(n);
  SLUICE_TRY_STATUS(TaskIdentity(n, k, &t, kind, owner));
  if (kind == TaskKind::kMain && k["approval"] && !k["run"] && !k["script"] && !k["uses"] &&
      !k["deploy"]) {
    t.body.kind = Body::Kind::kBuiltin;  // an approval-only task: it waits, then succeeds
    t.body.text = "noop";
    t.body.loc = Loc(k["approval"]);
  } else {
    SLUICE_TRY_STATUS(BodyOf(n, k, &t.body, true, "task", t.name));
  }
  if (const auto& needs = k["needs"]) SLUICE_TRY_STATUS(Needs(needs, &t.needs));
  if (const auto& depends = k["depends"]) SLUICE_TRY_STATUS(Depends(depends, &t));
  if (k["env"]) {
    SLUICE_TRY(env, Env(k["env"]));
    t.MutableOptions().env = std::move(*env);
  }
  if (k["secrets"]) SLUICE_TRY_STATUS(TaskSecrets(k["secrets"], &t.MutableOptions().secrets));
  if (k["outputs"]) {
    if (t.body.kind == Body::Kind::kUses) {
      return FailAt(Loc(k["outputs"]), "a task that uses a component gets its outputs from the "
                    "component; remove outputs");
    }
    SLUICE_TRY(o, Outputs(k["outputs"]));
    t.MutableOptions().outputs = std::move(*o);
  }
  if (const auto& when = k["when"]) SLUICE_TRY_STATUS(When(when, &t));
  if (const auto& fe = k["forEach"]) SLUICE_TRY_STATUS(ForEach(fe, &t));
  if (k["parallelism"]) {
    if (!k["forEach"]) return FailAt(Loc(k["parallelism"]), "parallelism is only used with forEach");
    SLUICE_TRY(p, Int(k["parallelism"], "parallelism", 1, 100000));
    t.for_each->parallelism = static_cast<int>(*p);
  }
  SLUICE_TRY_STATUS(TaskScheduling(k, &t));
  if (kind == TaskKind::kMain && (k["catch"] || k["fallback"] || k["compensate"] || k["breaker"] ||
                                  k["gate"] || k["approval"])) {
    SLUICE_TRY(h, Handlers(n, t.name));
    t.MutableOptions().handlers = std::move(*h);
  }
  return {};
}

// A main or finally task's allowed keys and its name; a handler's allowed keys, and its name
// made from its owner's.
Status Reader::TaskIdentity(const YNode& n, const MapKeys& k, TaskSpec* t, TaskKind kind,
                            const std::string& owner) const {
  if (kind == TaskKind::kMain || kind == TaskKind::kFinally) {
    SLUICE_TRY_STATUS(ExpectMap(n, "a task"));
    if (kind == TaskKind::kMain) {
      SLUICE_TRY_STATUS(CheckKeys(n, {"name", "run", "script", "shell", "uses", "with", "needs",
                                      "depends", "env", "outputs", "when", "forEach",
                                      "parallelism", "retry", "timeout", "deadline", "resources",
                                      "cache",
                                      "continueOnFailure", "catch", "fallback", "compensate",
                                      "breaker", "gate", "approval", "secrets", "workingDir",
                                      "executor", "placement", "slurm", "deploy", "image"},
                                  "a task"));
    } else {
      SLUICE_TRY_STATUS(CheckKeys(n, {"name", "run", "script", "shell", "uses", "with", "needs",
                                      "depends", "env", "outputs", "when", "forEach",
                                      "parallelism", "retry", "timeout", "deadline", "resources",
                                      "continueOnFailure", "secrets", "workingDir", "executor",
                                      "placement", "slurm", "image"},
                                  "a finally task"));
    }
    if (!k["name"]) return FailAt(t->loc, "a task needs a name");
    SLUICE_TRY(name, Name(k["name"], "task name"));
    t->name = *name;
    t->loc = Loc(k["name"]);
    return {};
  }
  const char* what = kind == TaskKind::kCatch ? "a catch entry"
                     : kind == TaskKind::kFallback ? "fallback" : "compensate";
  SLUICE_TRY_STATUS(ExpectMap(n, what));
  if (kind == TaskKind::kCatch) {
    SLUICE_TRY_STATUS(CheckKeys(n, {"on", "recover", "run", "script", "shell", "uses", "with",
                                    "env", "retry", "timeout", "resources", "secrets"}, what));
  } else if (kind == TaskKind::kFallback) {
    SLUICE_TRY_STATUS(CheckKeys(n, {"run", "script", "shell", "uses", "with", "env", "outputs",
                                    "retry", "timeout", "resources", "secrets"}, what));
  } else {
    SLUICE_TRY_STATUS(CheckKeys(n, {"run", "script", "shell", "uses", "with", "env", "retry",
                                    "timeout", "resources", "secrets"}, what));
  }
  t->name = owner + (kind == TaskKind::kFallback ? ".fallback" : kind == TaskKind::kCompensate
                                                                     ? ".compensate" : ".catch");
  return {};
}

Status Reader::Needs(const YNode& needs, std::vector<std::pair<std::string, Location>>* out) const {
  if (needs.IsScalar()) {
    out->emplace_back(needs.Scalar(), Loc(needs));
    return {};
  }
  SLUICE_TRY_STATUS(ExpectList(needs, "needs"));
  out->reserve(needs.size());
  for (const auto& e : needs) {
    SLUICE_TRY(dep, Str(e, "a needs entry"));
    out->emplace_back(*dep, Loc(e));
  }
  return {};
}

Status Reader::When(const YNode& when, TaskSpec* t) const {
  SLUICE_TRY(f, Field(when, "when", true));
  if (f->literal && !f->literal->is_bool()) {
    return FailAt(f->loc, "when must be a condition such as \"${{{{ params.x > 1 }}}}\"");
  }
  if (!f->literal && !f->tmpl.has_placeholders()) {
    return FailAt(f->loc, "when must be a condition inside ${{{{ }}}}, e.g. "
                  "\"${{{{ params.deploy }}}}\"");
  }
  t->MutableOptions().when = std::make_unique<TemplateField>(std::move(*f));
  return {};
}

Status Reader::ForEach(const YNode& fe, TaskSpec* t) const {
  t->for_each = std::make_unique<ForEachSpec>();
  t->for_each->loc = Loc(fe);
  if (fe.IsSequence()) {
    SLUICE_TRY(v, ToValue(fe));
    t->for_each->literal = *v;
    return {};
  }
  SLUICE_TRY(f, Field(fe, "forEach", false));
  if (!f->tmpl.has_placeholders()) {
    return FailAt(f->loc, "forEach must be a list, or a placeholder that gives a list "
                  "(\"${{{{ params.items }}}}\")");
  }
  t->for_each->expr = std::make_unique<TemplateField>(std::move(*f));
  return {};
}

// How an attempt is scheduled and retried: retry, timeout, deadline, resources, cache and
// continueOnFailure.
Status Reader::TaskScheduling(const MapKeys& k, TaskSpec* t) const {
  if (k["executor"] || k["placement"] || k["slurm"]) {
    SLUICE_TRY_STATUS(PlacementOf(k.node(), &t->MutableOptions().placement));
  }
  if (k["workingDir"]) {
    SLUICE_TRY(w, WorkingDirOf(k["workingDir"]));
    t->MutableOptions().working_dir = *w;
  }
  if (k["image"]) {
    SLUICE_TRY(image, ImageOf(k["image"]));
    t->MutableOptions().image = *image;
  }
  if (k["retry"]) {
    SLUICE_TRY(r, Retry(k["retry"]));
    t->MutableOptions().retry = std::make_unique<RetryPolicy>(std::move(*r));
  }
  if (k["timeout"]) {
    SLUICE_TRY(ms, Duration(k["timeout"], "timeout"));
    t->MutableOptions().timeout_ms = *ms;
  }
  if (k["deadline"]) {
    SLUICE_TRY(ms, Duration(k["deadline"], "deadline"));
    t->MutableOptions().deadline_ms = *ms;
  }
  if (k["resources"]) {
    SLUICE_TRY(r, ResourcesOf(k["resources"]));
    t->MutableOptions().resources = std::move(*r);
  }
  if (k["cache"]) {
    SLUICE_TRY(c, Cache(k["cache"]));
    t->MutableOptions().cache = *c;
  }
  if (k["continueOnFailure"]) {
    SLUICE_TRY(b, Bool(k["continueOnFailure"], "continueOnFailure"));
    t->continue_on_failure = *b;
  }
  return {};
}

static Status CheckHeader(const Reader& r, const YNode& doc, std::string* kind) {
  if (!doc.IsMap()) {
    return FailAt(r.Loc(doc), "a sluice document must be a map with apiVersion, kind, metadata "
                  "and spec");
  }
  // Nothing of a file that is not meant as a sluice document is quoted: it may be any file
  // (`imports: [/etc/shadow]`), and its text is not the user's to see through sluice.
  if (!doc["apiVersion"] && !doc["kind"]) {
    return FailAt(r.Loc(doc), "not a sluice document: no apiVersion or kind (its content is not "
                  "shown)");
  }
  SLUICE_TRY_STATUS(r.CheckKeys(doc, {"apiVersion", "kind", "metadata", "spec"}, "a sluice document"));
  for (const char* k : {"apiVersion", "kind", "metadata", "spec"}) {
    if (!doc[k]) return FailAt(r.Loc(doc), "missing required field {}", k);
  }
  SLUICE_TRY(api, r.Str(doc["apiVersion"], "apiVersion"));
  if (*api != "sluice/v1") {
    return FailAt(r.Loc(doc["apiVersion"]), "unsupported apiVersion {}; expected sluice/v1", Quote(*api));
  }
  SLUICE_TRY(k, r.Str(doc["kind"], "kind"));
  static const std::vector<std::string> kKinds = {"Pipeline", "Component", "Breaker", "Policy",
                                                  "Waiver", "Schedule", "Trigger"};
  if (std::find(kKinds.begin(), kKinds.end(), *k) == kKinds.end()) {
    return FailAt(r.Loc(doc["kind"]), "unknown kind {}; expected Pipeline, Component, Breaker, "
                  "Policy, Waiver, Schedule or Trigger{}",
                  Quote(*k), DidYouMean(*k, kKinds));
  }
  *kind = *k;
  SLUICE_TRY_STATUS(r.ExpectMap(doc["metadata"], "metadata"));
  SLUICE_TRY_STATUS(r.ExpectMap(doc["spec"], "spec"));
  return {};
}

// The keys are read in this order, so that the first error of a file is always the same.
Result<PipelineSpec> Reader::Pipeline(const YNode& doc) const {
  SLUICE_TRY_STATUS(CheckKeys(doc, {"apiVersion", "kind", "metadata", "spec"}, "a Pipeline"));
  PipelineSpec p;
  p.file = file_;
  p.loc = Loc(doc);
  SLUICE_TRY_STATUS(PipelineMetadata(doc["metadata"], &p));
  const auto& spec = doc["spec"];
  ScopedNames names(*this, spec);
  SLUICE_TRY_STATUS(CheckKeys(spec, {"params", "imports", "defaults", "pools", "resources",
                                     "tasks", "finally", "failFast", "onFailure", "deadline",
                                     "breakers", "groups", "policies", "secrets", "maxDepth"},
                              "a Pipeline spec"));
  if (const auto& ps = spec["policies"]) {
    SLUICE_TRY_STATUS(ExpectList(ps, "policies"));
    for (const auto& entry : ps) {
      SLUICE_TRY(path, Str(entry, "a policies entry"));
      p.policies.emplace_back(*path, Loc(entry));
    }
  }
  if (const auto& gs = spec["groups"]) SLUICE_TRY_STATUS(Groups(gs, &p.groups));
  if (const auto& bs = spec["breakers"]) SLUICE_TRY_STATUS(Breakers(bs, &p.breakers));
  SLUICE_TRY_STATUS(PipelineFailure(spec, &p));
  if (spec["params"]) {
    SLUICE_TRY(ps, Params(spec["params"]));
    p.params = std::move(*ps);
  }
  if (const auto& ss = spec["secrets"]) SLUICE_TRY_STATUS(Secrets(ss, &p.secrets));
  if (const auto& imports = spec["imports"]) {
    SLUICE_TRY_STATUS(ExpectList(imports, "imports"));
    for (const auto& i : imports) {
      SLUICE_TRY(path, Str(i, "an import"));
      p.imports.emplace_back(*path, Loc(i));
    }
  }
  if (const auto& d = spec["defaults"]) SLUICE_TRY_STATUS(Defaults(d, &p.defaults));
  if (const auto& pools = spec["pools"]) SLUICE_TRY_STATUS(Pools(pools, &p.pools));
  if (const auto& held = spec["resources"]) SLUICE_TRY_STATUS(RunPools(held, &p));
  SLUICE_TRY_STATUS(PipelineTasks(spec, &p));
  return p;
}

Status Reader::PipelineMetadata(const YNode& md, PipelineSpec* p) const {
  SLUICE_TRY_STATUS(CheckKeys(md, {"name", "labels", "description"}, "metadata"));
  if (!md["name"]) return FailAt(Loc(md), "metadata needs a name");
  SLUICE_TRY(name, Name(md["name"], "pipeline name"));
  p->name = *name;
  if (const auto& labels = md["labels"]) {
    SLUICE_TRY_STATUS(ExpectMap(labels, "labels"));
    for (auto it = labels.begin(); it != labels.end(); ++it) {
      SLUICE_TRY(k, Name(it->first, "label"));
      SLUICE_TRY(v, Str(it->second, "label value"));
      p->labels[*k] = *v;
    }
  }
  return {};
}

Status Reader::Groups(const YNode& gs, std::vector<GroupSpec>* out) const {
  SLUICE_TRY_STATUS(ExpectList(gs, "groups"));
  for (const auto& g : gs) {
    SLUICE_TRY_STATUS(ExpectMap(g, "a group"));
    SLUICE_TRY_STATUS(CheckKeys(g, {"name", "tasks", "retry"}, "a group"));
    GroupSpec gr;
    gr.loc = Loc(g);
    if (!g["name"] || !g["tasks"] || !g["retry"]) {
      return FailAt(gr.loc, "a group needs name, tasks and retry");
    }
    SLUICE_TRY(name, Name(g["name"], "group name"));
    gr.name = *name;
    gr.loc = Loc(g["name"]);
    SLUICE_TRY_STATUS(ExpectList(g["tasks"], "group tasks"));
    for (const auto& t : g["tasks"]) {
      SLUICE_TRY(task, Str(t, "a group task"));
      gr.tasks.emplace_back(*task, Loc(t));
    }
    if (gr.tasks.size() < 2) return FailAt(Loc(g["tasks"]), "a group needs at least two tasks");
    SLUICE_TRY(r, Retry(g["retry"]));
    if (r->when) {
      return FailAt(r->when->loc, "a group's retry decides by on and except; when is for a "
                    "task's retry");
    }
    gr.retry = std::move(*r);
    out->push_back(std::move(gr));
  }
  return {};
}

Status Reader::Breakers(const YNode& bs, std::vector<BreakerSpec>* out) const {
  SLUICE_TRY_STATUS(ExpectList(bs, "breakers"));
  for (const auto& b : bs) {
    SLUICE_TRY_STATUS(ExpectMap(b, "a breaker"));
    BreakerSpec bk;
    bk.loc = Loc(b);
    if (!b["name"]) return FailAt(bk.loc, "a breaker needs a name");
    SLUICE_TRY(name, Name(b["name"], "breaker name"));
    bk.name = *name;
    bk.loc = Loc(b["name"]);
    SLUICE_TRY_STATUS(BreakerSettings(b, &bk));
    out->push_back(std::move(bk));
  }
  return {};
}

// What a failure does to the run: failFast, onFailure and the run's deadline.
Status Reader::PipelineFailure(const YNode& spec, PipelineSpec* p) const {
  if (spec["failFast"]) {
    SLUICE_TRY(b, Bool(spec["failFast"], "failFast"));
    p->fail_fast = *b;
  }
  if (spec["onFailure"]) {
    SLUICE_TRY(mode, Str(spec["onFailure"], "onFailure"));
    if (*mode != "wait" && *mode != "cancel") {
      return FailAt(Loc(spec["onFailure"]), "onFailure must be wait (running tasks finish) or "
                    "cancel (running tasks are cancelled), not {}", Quote(*mode));
    }
    p->cancel_on_failure = *mode == "cancel";
  }
  if (spec["deadline"]) {
    SLUICE_TRY(ms, Duration(spec["deadline"], "deadline"));
    p->deadline_ms = *ms;
  }
  if (!spec["maxDepth"]) return {};
  SLUICE_TRY(d, Int(spec["maxDepth"], "maxDepth", 1, 100));
  p->max_depth = static_cast<int>(*d);
  return {};
}

Status Reader::Defaults(const YNode& d, TaskDefaults* p) const {
  SLUICE_TRY_STATUS(ExpectMap(d, "defaults"));
  SLUICE_TRY_STATUS(CheckKeys(d, {"retry", "timeout", "resources", "workingDir", "executor",
                                  "placement", "slurm"}, "defaults"));
  SLUICE_TRY_STATUS(PlacementOf(d, &p->placement));
  if (d["workingDir"]) {
    SLUICE_TRY(w, WorkingDirOf(d["workingDir"]));
    p->working_dir = *w;
  }
  if (d["retry"]) {
    SLUICE_TRY(r, Retry(d["retry"]));
    p->retry = std::move(*r);
  }
  if (d["timeout"]) {
    SLUICE_TRY(ms, Duration(d["timeout"], "defaults.timeout"));
    p->timeout_ms = *ms;
  }
  if (d["resources"]) {
    SLUICE_TRY(r, ResourcesOf(d["resources"]));
    p->resources = std::move(*r);
  }
  return {};
}

Status Reader::Pools(const YNode& pools, std::map<std::string, double>* out) const {
  SLUICE_TRY_STATUS(ExpectMap(pools, "pools"));
  for (auto it = pools.begin(); it != pools.end(); ++it) {
    SLUICE_TRY(k, Name(it->first, "pool name"));
    if (*k == "cpu" || *k == "memory" || *k == "gpu") {
      return FailAt(Loc(it->first), "{} is a built-in resource, not a pool", *k);
    }
    SLUICE_TRY(v, Int(it->second, "pool capacity", 1, 1'000'000));
    (*out)[*k] = static_cast<double>(*v);
  }
  return {};
}

// spec.tasks, read in place into the pipeline's vector, then spec.finally.
Status Reader::PipelineTasks(const YNode& spec, PipelineSpec* p) const {
  if (!spec["tasks"]) return FailAt(Loc(spec), "a Pipeline spec needs tasks");
  SLUICE_TRY_STATUS(ExpectList(spec["tasks"], "tasks"));
  if (spec["tasks"].size() == 0) return FailAt(Loc(spec["tasks"]), "a Pipeline needs at least one task");
  p->tasks.reserve(spec["tasks"].size());
  for (const auto& t : spec["tasks"]) SLUICE_TRY_STATUS(TaskInto(t, &p->tasks.emplace_back()));
  if (const auto& fin = spec["finally"]) {
    SLUICE_TRY_STATUS(ExpectList(fin, "finally"));
    for (const auto& t : fin) {
      SLUICE_TRY(task, Task(t, TaskKind::kFinally));
      p->finally_tasks.push_back(std::move(*task));
    }
  }
  return {};
}

Result<std::string> LoadBudget::Read(FileSystem& fs, const std::string& path) {
  auto content = fs.ReadFileAtMost(path, kMaxBytes - bytes_);
  if (!content) {
    if (content.error().code == ErrorCode::kInvalidInput && fs.Stat(path).size > kMaxBytes - bytes_) {
      return Fail(ErrorCode::kInvalidInput, "cannot read {}: the files of one pipeline (imports, "
                  "components and policies included) hold at most {} MiB together", path,
                  kMaxBytes >> 20);
    }
    return content;
  }
  bytes_ += static_cast<int64_t>(content->size());
  return content;
}

Result<SpecFile> ParseSpecFile(const std::string& path, std::string_view content,
                               LoadBudget* budget) {
  if (Trim(content).empty()) {
    return Fail(ErrorCode::kInvalidInput, "{}: the file is empty", path);
  }
  if (!IsTextUtf8(content)) {
    return Fail(ErrorCode::kInvalidInput, "{}: not a text file (binary data or invalid UTF-8)", path);
  }
  SLUICE_TRY_STATUS(CheckNesting(path, content));
  Reader r(path, budget);
  r.set_source(content);
  SpecFile out;
  out.path = path;
  std::string dir = path.substr(0, path.rfind('/'));
  auto tree = YamlTree::Parse(content);
  if (!tree) return Fail(ErrorCode::kInvalidInput, "{}:{}", path, tree.error().message);
  for (const auto& doc : (*tree)->documents()) {
    if (doc.IsNull()) continue;  // an empty document between two ---
    std::string kind;
    SLUICE_TRY_STATUS(CheckHeader(r, doc, &kind));
    if (kind == "Pipeline") {
      SLUICE_TRY(p, r.Pipeline(doc));
      out.pipelines.push_back(std::move(*p));
    } else if (kind == "Breaker") {
      SLUICE_TRY(b, r.Breaker(doc));
      out.breakers.push_back(std::move(*b));
    } else if (kind == "Policy") {
      SLUICE_TRY(pol, r.Policy(doc));
      out.policies.push_back(std::move(*pol));
    } else if (kind == "Waiver") {
      SLUICE_TRY(w, r.Waiver(doc));
      out.waivers.push_back(std::move(*w));
    } else if (kind == "Schedule") {  // loader_schedule.cc
      SLUICE_TRY(sc, ReadSchedule(r, doc));
      for (const auto& other : out.schedules) {
        if (other.name == sc->name) {
          return FailAt(sc->loc, "schedule {} is declared twice (also at {})", Quote(sc->name),
                        other.loc.ToString());
        }
      }
      out.schedules.push_back(std::move(*sc));
    } else if (kind == "Trigger") {  // loader_trigger.cc; names checked with the schedules'
      SLUICE_TRY(tr, ReadTrigger(r, doc));
      out.triggers.push_back(std::move(*tr));
    } else {
      SLUICE_TRY(c, r.Component(doc));
      c->dir = dir;
      out.components.push_back(std::move(*c));
    }
  }
  if (out.pipelines.empty() && out.components.empty() && out.breakers.empty() &&
      out.policies.empty() && out.waivers.empty() && out.schedules.empty() && out.triggers.empty()) {
    return Fail(ErrorCode::kInvalidInput, "{}: no sluice documents in the file", path);
  }
  return out;
}

}  // namespace sluice
