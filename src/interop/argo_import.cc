// Reading an Argo workflow into ImportedWorkflow (argo_model.h): the workflow, each template
// and its body, translated field by field. A field the table maps (argo_fields.cc) that this
// importer does not translate yet is an error that says so: nothing is dropped silently.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>

#include "common/strings.h"
#include "interop/argo_expr.h"
#include "interop/argo_fields.h"
#include "interop/argo_importer.h"
#include "interop/yaml_text.h"

namespace sluice {

Status Importer::Handled(const YNode& map, std::string_view definition,
                         std::initializer_list<std::string_view> handled) const {
  for (const auto& e : map) {
    std::string_view key = e.first.Scalar();
    const ArgoField* f = FindArgoField(definition, key);
    if (!f || f->cls != FieldClass::kMapped) continue;  // the checker has judged it
    if (std::ranges::find(handled, key) != handled.end()) continue;
    return At(e.first, "{} is not imported yet: the importer does not translate this field of "
              "an Argo {} (docs/interop.md)", key, definition);
  }
  return {};
}

Result<std::string> Importer::Scalar(const YNode& n, std::string_view what) const {
  if (!n.IsScalar()) return At(n, "{} must be a string", what);
  return std::string(n.Scalar());
}

Result<std::string> Importer::Text(const YNode& n, ArgoScope& scope) const {
  SLUICE_TRY(s, Scalar(n, "a value"));
  return Located(n, TranslateArgoText(*s, scope), scope);
}

Result<std::string> Importer::Expression(const YNode& n, ArgoScope& scope) const {
  SLUICE_TRY(s, Scalar(n, "an expression"));
  SLUICE_TRY(cel, Located(n, TranslateArgoExpr(*s, scope), scope));
  return fmt::format("${{{{ {} }}}}", *cel);
}

Result<std::string> Importer::Located(const YNode& n, Result<std::string> translated,
                                      const ArgoScope& scope) const {
  if (!translated) return At(n, "{}", translated.error().message);
  for (const std::string& g : scope.globals) global_at_.emplace(g, r_->Loc(n));
  return translated;
}

// Argo's seconds: an int, or a string holding one (or a duration such as "10s", as `timeout`
// takes).
Result<std::string> Importer::Seconds(const YNode& n, std::string_view what) const {
  SLUICE_TRY(s, Scalar(n, what));
  if (IsIntText(*s)) return *s + "s";
  if (s->find("{{") != std::string::npos) {
    return At(n, "{} from a tag ({}) is not imported yet: a timeout is fixed when the file loads",
              what, *s);
  }
  if (!s->empty() && std::isdigit(static_cast<unsigned char>((*s)[0])) &&
      std::string_view("smh").find(s->back()) != std::string_view::npos) {
    return *s;
  }
  return At(n, "{} must be a number of seconds or a duration such as 30s, not {}", what,
            Quote(*s));
}

Result<std::vector<ImportedParam>> Importer::Params(const YNode& list, std::string_view what,
                                                    ArgoScope* scope) const {
  std::vector<ImportedParam> out;
  for (const YNode& p : list) {
    SLUICE_TRY_STATUS(Handled(p, "Parameter", {"name", "value", "default", "description", "enum"}));
    ImportedParam param;
    SLUICE_TRY(name, Scalar(p["name"], "a parameter's name"));
    if (!IsName(*name)) return At(p["name"], "{} {} is not a name Sluice can use", what, Quote(*name));
    param.name = *name;
    YNode v = p["value"] ? p["value"] : p["default"];
    if (v) {
      if (!v.IsScalar()) return At(v, "a parameter's value must be text");
      param.value = std::string(v.Scalar());
      // Argo substitutes a tag in a default. A Sluice default is a literal, so the value is
      // computed where the template is called (argo_emit.cc).
      SLUICE_TRY(text, scope ? Text(v, *scope) : Result<std::string>(*param.value));
      if (*text != *param.value) {
        param.computed = *text;
        param.value = "";
        param.comment = "Argo's default reads tags: each caller computes it";
      } else if (!scope && text->find("{{") != std::string::npos) {
        return At(v, "{} is not imported yet: a tag in {}'s value", p["value"] ? "value" : "default", what);
      }
    }
    if (p["enum"]) param.comment = "enum: not checked here";
    out.push_back(std::move(param));
  }
  return out;
}

Result<ImportedWorkflow> Importer::Workflow(const YNode& doc) {
  ImportedWorkflow w;
  w.file = r_->file();
  w.kind = std::string(doc["kind"].Scalar());
  const YNode spec = w.kind == "CronWorkflow" ? doc["spec"]["workflowSpec"] : doc["spec"];
  const YNode md = doc["metadata"];
  std::string name(md["name"] ? md["name"].Scalar() : md["generateName"].Scalar());
  while (!name.empty() && (name.back() == '-' || name.back() == '.')) name.pop_back();
  w.name = IsName(name) ? name : "argo-workflow";
  if (w.kind == "CronWorkflow") SLUICE_TRY_STATUS(Cron(doc["spec"]));
  SLUICE_TRY_STATUS(Handled(spec, "WorkflowSpec", {"entrypoint", "arguments", "templates",
                                                    "onExit", "activeDeadlineSeconds",
                                                    "podSpecPatch", "workflowTemplateRef",
                                                    "parallelism", "hooks", "synchronization"}));
  SLUICE_TRY_STATUS(Spec(spec, &w));
  // workflowTemplateRef: the WorkflowTemplate's spec runs, with this workflow's entrypoint,
  // arguments (by name) and onExit where it gives them.
  if (const YNode ref = spec["workflowTemplateRef"]) {
    SLUICE_TRY_STATUS(Handled(ref, "WorkflowTemplateRef", {"name", "clusterScope"}));
    const ArgoLibrary::Doc* lib = library_.Find(ref["name"].Scalar(), ref["clusterScope"].Scalar() == "true");
    if (!lib) return At(ref["name"] ? ref["name"] : ref, "{}", library_.Missing(ref["name"].Scalar(), ref["clusterScope"].Scalar() == "true"));
    SLUICE_TRY_STATUS(library_.Check(*lib));
    ImportedWorkflow base;
    const Reader* saved = r_;
    r_ = lib->reader;
    Status read = Spec(lib->doc["spec"], &base);
    if (read) read = ImportTemplates(lib->doc["spec"], "");
    r_ = saved;
    SLUICE_TRY_STATUS(read);
    if (w.entrypoint.empty()) w.entrypoint = base.entrypoint;
    if (w.on_exit.empty()) {
      w.on_exit = base.on_exit;
      w.on_exit_at = base.on_exit_at;
    }
    if (w.hooks.empty()) w.hooks = base.hooks;
    if (w.deadline.empty()) w.deadline = base.deadline;
    if (w.pools.empty()) w.pools = base.pools;
    if (w.run_pools.empty()) w.run_pools = base.run_pools;
    for (ImportedParam& p : base.params) {
      if (std::ranges::none_of(w.params, [&](const ImportedParam& q) { return q.name == p.name; })) {
        w.params.push_back(std::move(p));
      }
    }
    w.comments.insert(w.comments.end(), base.comments.begin(), base.comments.end());
    w.comments.push_back(fmt::format("the templates of WorkflowTemplate {} (workflowTemplateRef)",
                                     ref["name"].Scalar()));
  }
  if (w.entrypoint.empty()) return At(doc["kind"], "a {} without an entrypoint cannot run", w.kind);
  SLUICE_TRY_STATUS(ImportTemplates(spec, ""));
  w.templates = std::move(templates_);
  w.approvers = approvers_;
  // A steps or dag template has no stdout: a containerSet's result is an output of its own.
  for (ImportedTemplate& t : w.templates) t.result = !t.dag && result_needed_.contains(t.name);
  // Workflow values reach a template through every template that calls it.
  for (bool changed = true; changed;) {
    changed = false;
    for (ImportedTemplate& t : w.templates) {
      for (const ImportedCall& c : t.calls) {
        for (const ImportedTemplate& callee : w.templates) {
          if (callee.name != c.tmpl) continue;
          for (const std::string& g : callee.globals) changed |= t.globals.insert(g).second;
        }
      }
    }
  }
  SLUICE_TRY_STATUS(Resolve(w));
  // What the pipeline passes down must be a workflow argument (Argo refuses it at submission).
  for (const ImportedTemplate& t : w.templates) {
    if (t.name != w.entrypoint && t.name != w.on_exit &&
        std::ranges::none_of(w.hooks, [&](const ImportedHook& h) { return h.tmpl == t.name; })) {
      continue;
    }
    for (const std::string& g : t.globals) {
      if (!g.starts_with("workflow-")) continue;
      const std::string name = g.substr(9);
      if (std::ranges::any_of(w.params, [&](const ImportedParam& p) { return p.name == name; })) {
        continue;
      }
      return FailAt(global_at_.at(g), "{{{{workflow.parameters.{}}}}} names a parameter the "
                    "workflow's arguments do not declare", name);
    }
  }
  return w;
}

// A CronWorkflow's schedule: its workflow runs once when it is run, and the import writes the
// Schedule that starts it (argo_emit.cc, EmitArgoSchedules).
Status Importer::Cron(const YNode& spec) {
  SLUICE_TRY_STATUS(Handled(spec, "CronWorkflowSpec", {"schedules", "timezone", "concurrencyPolicy",
                                                        "startingDeadlineSeconds", "suspend",
                                                        "workflowSpec"}));
  ArgoCron cron;
  for (const YNode& c : spec["schedules"]) {
    SLUICE_TRY(text, Scalar(c, "a schedule"));
    cron.crons.push_back(*text);
  }
  if (cron.crons.empty()) return At(spec, "a CronWorkflow needs spec.schedules");
  if (spec["timezone"]) SLUICE_TRY_ASSIGN(cron.time_zone, Scalar(spec["timezone"], "timezone"));
  if (spec["concurrencyPolicy"]) {
    SLUICE_TRY_ASSIGN(cron.concurrency, Scalar(spec["concurrencyPolicy"], "concurrencyPolicy"));
  }
  if (const YNode d = spec["startingDeadlineSeconds"]) {
    SLUICE_TRY(secs, Seconds(d, "startingDeadlineSeconds"));
    // Argo reads 0 as unset.
    if (*secs != "0s") cron.starting_deadline = *secs;
  }
  cron.suspend = spec["suspend"].Scalar() == "true";
  for (std::string_view k : {"successfulJobsHistoryLimit", "failedJobsHistoryLimit"}) {
    if (spec[k]) cron.comments.push_back(fmt::format("{}: keep runs with sluice prune (docs/cli.md)", k));
  }
  out_->cron = std::move(cron);
  Warn(spec["schedules"], "a CronWorkflow runs its workflow once here; sluice import argo -o "
                          "writes its schedule as a Sluice Schedule beside the pipeline");
  return {};
}

// What a workflow's (or a WorkflowTemplate's) spec says besides its templates.
Status Importer::Spec(const YNode& spec, ImportedWorkflow* w) {
  if (spec["podSpecPatch"]) SLUICE_TRY_STATUS(PodSpecPatch(spec["podSpecPatch"], &w->comments));
  if (spec["entrypoint"]) w->entrypoint = std::string(spec["entrypoint"].Scalar());
  if (spec["onExit"]) {
    w->on_exit = std::string(spec["onExit"].Scalar());
    w->on_exit_at = r_->Loc(spec["onExit"]);
  }
  // hooks.exit is the workflow's exit handler, as onExit is (which wins when both are given,
  // as in Argo).
  for (const auto& h : spec["hooks"]) {
    if (h.first.Scalar() != "exit") {
      SLUICE_TRY_STATUS(WorkflowHook(h.first, h.second, w));
      continue;
    }
    SLUICE_TRY_STATUS(Handled(h.second, "LifecycleHook", {"template"}));
    SLUICE_TRY(tmpl, Scalar(h.second["template"], "hooks.exit.template"));
    if (w->on_exit.empty()) {
      w->on_exit = *tmpl;
      w->on_exit_at = r_->Loc(h.second["template"]);
    }
  }
  if (const YNode sync = spec["synchronization"]) {
    SLUICE_TRY_STATUS(SyncPools(sync, true, &w->run_pools, &w->comments));
  }
  if (spec["activeDeadlineSeconds"]) {
    SLUICE_TRY(d, Seconds(spec["activeDeadlineSeconds"], "activeDeadlineSeconds"));
    w->deadline = *d;
  }
  // At most N pods at once: a pool of the run that every container and script holds a unit of
  // (Resolve).
  if (spec["parallelism"]) {
    SLUICE_TRY(n, Limit(spec["parallelism"], "parallelism"));
    w->pools["argo-parallelism"] = *n;
  }
  if (const YNode args = spec["arguments"]) {
    SLUICE_TRY_STATUS(Handled(args, "Arguments", {"parameters"}));
    SLUICE_TRY(params, Params(args["parameters"], "a workflow parameter"));
    w->params = std::move(*params);
  }
  return {};
}

Status Importer::ImportTemplates(const YNode& spec, const std::string& prefix) {
  const std::string saved = prefix_;
  prefix_ = prefix;
  for (const YNode& t : spec["templates"]) {
    const std::string name = prefix + std::string(t["name"].Scalar());
    auto& outputs = output_params_[name];
    for (const YNode& o : t["outputs"]["parameters"]) outputs.emplace_back(o["name"].Scalar());
    auto& inputs = input_params_[name];
    for (const YNode& i : t["inputs"]["parameters"]) inputs.emplace(i["name"].Scalar());
  }
  Status s;
  for (const YNode& t : spec["templates"]) {
    ImportedTemplate tmpl;
    s = Template(t, &tmpl);
    if (!s) break;
    templates_.push_back(std::move(tmpl));
  }
  prefix_ = saved;
  return s;
}

// templateRef: the component its template becomes, importing that WorkflowTemplate's
// templates the first time.
Result<std::string> Importer::Referenced(const YNode& ref) {
  SLUICE_TRY_STATUS(Handled(ref, "TemplateRef", {"name", "template", "clusterScope"}));
  const std::string name(ref["name"].Scalar());
  const bool cluster = ref["clusterScope"].Scalar() == "true";
  const ArgoLibrary::Doc* lib = library_.Find(name, cluster);
  if (!lib) return At(ref["name"] ? ref["name"] : ref, "{}", library_.Missing(name, cluster));
  SLUICE_TRY_STATUS(library_.Check(*lib));
  const std::string tmpl(ref["template"].Scalar());
  bool defined = false;
  for (const YNode& t : lib->doc["spec"]["templates"]) defined |= t["name"].Scalar() == tmpl;
  if (!defined) {
    return At(ref["template"] ? ref["template"] : ref, "{} {} has no template {}",
              cluster ? "ClusterWorkflowTemplate" : "WorkflowTemplate", Quote(name), Quote(tmpl));
  }
  if (imported_.insert((cluster ? "cluster:" : "") + name).second) {
    const Reader* saved = r_;
    r_ = lib->reader;
    Status s = ImportTemplates(lib->doc["spec"], name + ".");
    r_ = saved;
    SLUICE_TRY_STATUS(s);
  }
  return name + "." + tmpl;
}

Status Importer::Template(const YNode& t, ImportedTemplate* out) {
  SLUICE_TRY_STATUS(Handled(t, "Template", {"name", "inputs", "outputs", "container", "script",
                                            "steps", "dag", "containerSet", "retryStrategy",
                                            "activeDeadlineSeconds", "timeout", "podSpecPatch",
                                            "memoize", "suspend", "synchronization",
                                            "parallelism"}));
  if (t["podSpecPatch"]) SLUICE_TRY_STATUS(PodSpecPatch(t["podSpecPatch"], &out->comments));
  if (out->name.empty()) out->name = prefix_ + std::string(t["name"].Scalar());
  if (!IsName(out->name)) {
    return At(t["name"], "template name {} is not a name Sluice can use", Quote(out->name));
  }
  if (const YNode in = t["inputs"]) {
    SLUICE_TRY_STATUS(Handled(in, "Inputs", {"parameters", "artifacts"}));
    ArgoScope defaults;  // the workflow's values: what a template's defaults may read
    SLUICE_TRY(params, Params(in["parameters"], "an input parameter", &defaults));
    out->globals.insert(defaults.globals.begin(), defaults.globals.end());
    out->params = std::move(*params);
    for (const ImportedParam& p : out->params) out->inputs.insert(p.name);
    if (in["artifacts"] && !t["container"] && !t["script"]) {
      return At(in["artifacts"], "artifacts is not imported yet: inputs.artifacts of a steps, dag "
                "or container set template (only a container or script reads them)");
    }
    for (const YNode& a : in["artifacts"]) {
      SLUICE_TRY_STATUS(Handled(a, "Artifact", {"name", "path"}));
      SLUICE_TRY(name, Scalar(a["name"], "an artifact's name"));
      if (!a["path"]) return At(a, "input artifact {} needs path", Quote(*name));
      SLUICE_TRY(path, Scalar(a["path"], "an artifact's path"));
      if (!path->starts_with('/')) return At(a["path"], "input artifact path {} must be absolute", Quote(*path));
      SLUICE_TRY(sandboxed, SandboxPath(a["path"], *path, "input artifact path", out));
      (void)sandboxed;  // the step reads it at its own path, inside its private folder
      ImportedParam param;
      param.name = ArgoArtifactParam(*name);
      param.comment = fmt::format("the stored artifact copied to {}", *path);
      out->params.push_back(std::move(param));
      out->input_artifacts.emplace_back(*name, *path);
    }
  }
  std::map<std::string, std::string> calls;  // of a steps or dag template
  ArgoScope scope;
  scope.inputs = &out->inputs;
  scope.outputs = &output_params_;
  if (t["steps"] || t["dag"]) scope.calls = &calls;
  if (t["container"]) SLUICE_TRY_STATUS(Container(t["container"], false, out, scope));
  if (t["script"]) SLUICE_TRY_STATUS(Container(t["script"], true, out, scope));
  if (t["steps"]) SLUICE_TRY_STATUS(Steps(t["steps"], out, calls));
  if (t["dag"]) SLUICE_TRY_STATUS(Dag(t["dag"], out, scope, calls));
  if (t["containerSet"]) SLUICE_TRY_STATUS(ContainerSet(t["containerSet"], out));
  if (t["parallelism"]) SLUICE_TRY_STATUS(Parallelism(t, out));
  if (const YNode s = t["suspend"]) {
    SLUICE_TRY_STATUS(Handled(s, "SuspendTemplate", {"duration"}));
    if (!s["duration"]) {
      SLUICE_TRY_STATUS(Approval(s, out));
    } else {
      SLUICE_TRY(d, Seconds(s["duration"], "suspend.duration"));
      out->run = {"sleep", *d};
      out->comments.push_back("Argo's suspend with a duration: a timer, then the workflow goes on");
    }
  }
  if (!out->input_artifacts.empty()) CopyInputs(out);
  if (t["synchronization"]) SLUICE_TRY_STATUS(Synchronization(t["synchronization"], out));
  if (t["outputs"]) SLUICE_TRY_STATUS(Outputs(t["outputs"], out, scope));
  if (t["retryStrategy"]) SLUICE_TRY_STATUS(Retry(t["retryStrategy"], out));
  if (const YNode m = t["memoize"]) {
    // Sluice's cache key is the step's content (its command, environment and outputs), which
    // holds whatever an Argo key is made of when the key reads the step's inputs.
    SLUICE_TRY_STATUS(Handled(m, "Memoize", {"key", "maxAge"}));
    if (out->run.empty()) {
      return At(m, "memoize is not imported yet: on a steps, dag or container set template (a "
                "step's own is)");
    }
    SLUICE_TRY(key, Scalar(m["key"], "memoize.key"));
    out->cache = "{}";
    if (m["maxAge"]) {
      SLUICE_TRY(age, Seconds(m["maxAge"], "memoize.maxAge"));
      out->cache = fmt::format("{{ttl: {}}}", *age);
    }
    out->comments.push_back(fmt::format("memoize (Argo's key {}): the cache, keyed by the step's "
                                        "command, environment and outputs", *key));
  }
  // Argo's activeDeadlineSeconds limits a pod (an attempt); timeout the whole template. Both
  // become the attempt's timeout here.
  for (std::string_view key : {"activeDeadlineSeconds", "timeout"}) {
    if (!t[key]) continue;
    SLUICE_TRY(d, Seconds(t[key], key));
    out->timeout = *d;
  }
  out->globals.insert(scope.globals.begin(), scope.globals.end());
  result_needed_.insert(scope.results.begin(), scope.results.end());
  return {};
}

Status Importer::Outputs(const YNode& outputs, ImportedTemplate* out, ArgoScope& scope) {
  SLUICE_TRY_STATUS(Handled(outputs, "Outputs", {"parameters", "artifacts"}));
  const bool body = !out->run.empty();
  for (const YNode& p : outputs["parameters"]) {
    SLUICE_TRY_STATUS(Handled(p, "Parameter", {"name", "valueFrom", "globalName"}));
    ImportedOutput o;
    SLUICE_TRY(name, Scalar(p["name"], "an output's name"));
    o.name = *name;
    if (const YNode g = p["globalName"]) SLUICE_TRY_STATUS(GlobalName(g, o.name, out));
    const YNode from = p["valueFrom"];
    SLUICE_TRY_STATUS(Handled(from, "ValueFrom", body ? std::initializer_list<std::string_view>{"path", "default"}
                                                      : std::initializer_list<std::string_view>{"parameter", "expression"}));
    if (body && from["path"]) {
      SLUICE_TRY(path, Scalar(from["path"], "valueFrom.path"));
      SLUICE_TRY(file, SandboxPath(from["path"], *path, "output path", out));
      o.file = *file;
      if (from["default"]) SLUICE_TRY_ASSIGN(o.default_value, Scalar(from["default"], "valueFrom.default"));
    } else if (!body && from["parameter"]) {
      SLUICE_TRY(v, Text(from["parameter"], scope));
      o.value = *v;
    } else if (!body && from["expression"]) {
      SLUICE_TRY(v, Expression(from["expression"], scope));
      o.value = *v;
    } else {
      return At(from ? from : p, "output parameter {} needs valueFrom.{}", Quote(o.name),
                body ? "path" : "parameter");
    }
    out->outputs.push_back(std::move(o));
  }
  for (const YNode& a : outputs["artifacts"]) {
    SLUICE_TRY_STATUS(Handled(a, "Artifact", {"name", "path", "from", "s3"}));
    ImportedOutput o;
    o.artifact = true;
    SLUICE_TRY(name, Scalar(a["name"], "an artifact's name"));
    o.name = *name;
    if (const YNode s3 = a["s3"]) {
      // A key in the default repository: the local store keeps the artifact by its content, and
      // nothing here reads it back by key.
      SLUICE_TRY_STATUS(Handled(s3, "S3Artifact", {"key"}));
      SLUICE_TRY(key, Scalar(s3["key"], "s3.key"));
      out->comments.push_back(fmt::format("output artifact {}: Argo's s3 key {} (stored in the "
                                          "local artifact store by content)", *name, *key));
    }
    if (body && a["path"]) {
      SLUICE_TRY(path, Scalar(a["path"], "an artifact's path"));
      SLUICE_TRY(file, SandboxPath(a["path"], *path, "output path", out));
      o.file = *file;
    } else if (!body && a["from"]) {
      SLUICE_TRY(v, Text(a["from"], scope));
      o.value = *v;
    } else {
      return At(a, "artifact {} needs {}", Quote(o.name), body ? "path" : "from");
    }
    out->outputs.push_back(std::move(o));
  }
  return {};
}

Status Importer::Retry(const YNode& retry, ImportedTemplate* out) const {
  SLUICE_TRY_STATUS(Handled(retry, "RetryStrategy", {"limit", "retryPolicy", "backoff", "expression"}));
  std::vector<std::string> parts;
  if (retry["limit"]) {
    SLUICE_TRY(limit, Scalar(retry["limit"], "retryStrategy.limit"));
    if (!IsIntText(*limit)) return At(retry["limit"], "retryStrategy.limit must be a whole number");
    parts.push_back("limit: " + *limit);
  } else {
    // Argo retries without end when no limit is given; Sluice needs one.
    parts.push_back("limit: 1000");
    out->comments.push_back("retryStrategy without limit: retried up to 1000 times");
  }
  std::string policy = retry["retryPolicy"] ? std::string(retry["retryPolicy"].Scalar()) : "OnFailure";
  if (policy == "OnFailure") {
    parts.push_back("on: [exit, signal, timeout]");
  } else if (policy == "OnError") {
    parts.push_back("on: [spawn-error, lost, outputs-error]");
  } else if (policy == "OnTransientError") {
    parts.push_back("on: [lost]");
  } else if (policy != "Always") {
    return At(retry["retryPolicy"], "retryPolicy {} is not one of Always, OnFailure, OnError, "
              "OnTransientError", Quote(policy));
  }
  if (const YNode e = retry["expression"]) {
    ArgoScope scope;  // lastRetry only: retry.when reads no params
    scope.retry = true;
    SLUICE_TRY(when, Expression(e, scope));
    parts.push_back("when: " + YamlScalar(*when));
  }
  if (const YNode b = retry["backoff"]) {
    SLUICE_TRY_STATUS(Handled(b, "Backoff", {"duration", "factor", "cap", "maxDuration"}));
    std::vector<std::string> backoff;
    if (b["duration"]) {
      SLUICE_TRY(d, Seconds(b["duration"], "backoff.duration"));
      backoff.push_back("initial: " + *d);
    }
    if (b["factor"]) {
      SLUICE_TRY(f, Scalar(b["factor"], "backoff.factor"));
      backoff.push_back("factor: " + *f);
    }
    if (b["cap"] || b["maxDuration"]) {
      SLUICE_TRY(d, Seconds(b["cap"] ? b["cap"] : b["maxDuration"], "backoff.maxDuration"));
      backoff.push_back("max: " + *d);
      if (b["maxDuration"]) out->comments.push_back("backoff.maxDuration caps each delay here");
    }
    parts.push_back(fmt::format("backoff: {{{}}}", Join(backoff, ", ")));
  } else {
    // Argo without a backoff retries at once (as soon as a new pod starts); Sluice's default
    // backoff (1s, doubling) would take minutes over ten retries.
    parts.push_back("backoff: {initial: 100ms, factor: 1}");
  }
  out->retry = fmt::format("{{{}}}", Join(parts, ", "));
  return {};
}

}  // namespace sluice
