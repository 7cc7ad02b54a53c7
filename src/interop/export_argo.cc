// The Argo Workflows export (export.h, docs/interop.md): a Workflow (or WorkflowTemplate)
// whose entrypoint is a `dag` template with the pipeline's tasks, one leaf template per task
// (container for `run:`, script for `script:`), a dag template per DAG template, and the
// finally tasks as the workflow's onExit dag. Argo's schema types IntOrString fields
// (retryStrategy.limit, backoff.factor, activeDeadlineSeconds) as strings: they are written so.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "common/strings.h"
#include "interop/export.h"
#include "interop/export_argo_parts.h"
#include "interop/export_common.h"

namespace sluice {
namespace {

class ArgoWriter {
 public:
  ArgoWriter(const Plan& plan, const ExportOptions& options) : plan_(plan), options_(options) {}

  ExportResult Write() {
    const PipelineSpec& p = *plan_.pipeline;
    if (plan_.num_finally > 0) finally_reads_ = true;
    for (int i = 0; i < plan_.num_main + plan_.num_finally; ++i) {
      task_names_[i] = pipeline_tasks_.Unique(plan_.tasks[i].spec->name);
    }
    std::string entry = template_names_.Unique(p.name);
    std::string exit = plan_.num_finally > 0 ? template_names_.Unique(p.name + "-finally") : "";
    YamlNode spec;
    spec["entrypoint"] = entry;
    if (!p.params.empty()) spec["arguments"]["parameters"] = WorkflowParams();
    if (!exit.empty()) spec["onExit"] = exit;
    // An integer here, unlike a template's IntOrString.
    if (p.deadline_ms > 0) spec["activeDeadlineSeconds"] = (p.deadline_ms + 999) / 1000;
    YamlNode main = Dag(entry, 0, plan_.num_main);
    if (!p.fail_fast) main["dag"]["failFast"] = false;
    templates_.Add(std::move(main));
    if (!exit.empty()) templates_.Add(Dag(exit, plan_.num_main, plan_.num_finally));
    spec["templates"] = std::move(templates_);

    YamlNode doc;
    doc["apiVersion"] = "argoproj.io/v1alpha1";
    doc["kind"] = options_.workflow_template ? "WorkflowTemplate" : "Workflow";
    if (options_.workflow_template) doc["metadata"]["name"] = TargetName(p.name);
    else doc["metadata"]["generateName"] = TargetName(p.name) + "-";
    if (!p.labels.empty()) {
      for (const auto& [k, v] : p.labels) doc["metadata"]["labels"][k] = v;
    }
    RunPools(spec);
    doc["spec"] = std::move(spec);
    ListPlanWideGaps(plan_, missing_);
    ExportResult out;
    out.not_expressed = missing_.Take();
    std::string file = TargetName(p.name) + ".argo.yaml";
    out.files.push_back({file, HeaderComment(plan_, "argo", out.not_expressed) + EmitYaml(doc)});
    return out;
  }

 private:
  // spec.resources: the workflow's own synchronization, which Argo holds from before its first
  // pod until it completes, as Sluice holds them for the whole run.
  void RunPools(YamlNode& spec) {
    for (const auto& [pool, units] : plan_.pipeline->run_pools) {
      YamlNode sem;
      sem["configMapKeyRef"]["name"] = "sluice-pools";
      sem["configMapKeyRef"]["key"] = TargetName(pool);
      ListAt(spec["synchronization"], "semaphores").Add(std::move(sem));
      missing_.Add(fmt::format("pool {}: a semaphore; create ConfigMap sluice-pools with key {} "
                               "set to its size", pool, TargetName(pool)));
      if (units != 1) {
        missing_.Add(fmt::format("spec.resources: holds {} units of pool {} (an Argo semaphore "
                                 "counts 1)", units, pool));
      }
    }
  }

  YamlNode WorkflowParams() {
    YamlNode list = YamlNode::List();
    for (const auto& d : plan_.pipeline->params) {
      YamlNode e;
      e["name"] = d.name;
      if (d.default_value) e["value"] = ValueText(*d.default_value);
      if (!d.description.empty()) e["description"] = d.description;
      if (d.secret) missing_.Add(fmt::format("param {}: secret (Argo shows parameters in the "
                                             "workflow's status)", d.name));
      list.Add(std::move(e));
    }
    return list;
  }

  // A dag template over plan tasks [first, first + count) (of one scope).
  YamlNode Dag(const std::string& name, int first, int count) {
    YamlNode tmpl;
    tmpl["name"] = name;
    YamlNode tasks = YamlNode::List();
    for (int i = first; i < first + count; ++i) tasks.Add(DagTask(plan_.tasks[i]));
    tmpl["dag"]["tasks"] = std::move(tasks);
    return tmpl;
  }

  // One task of a dag: its template (added to templates_), dependencies, arguments, when,
  // loop and continueOn.
  YamlNode DagTask(const PlanTask& t) {
    YamlNode task;
    task["name"] = task_names_.at(t.index);
    TaskIo io = ReadTask(plan_, t, options_.default_image, missing_);
    task["template"] = t.tmpl() >= 0 ? TemplateDag(t) : Leaf(t, io);
    YamlNode deps = YamlNode::List();
    for (int d : t.deps) {  // the exit handler's dag holds the finally tasks only
      if (plan_.tasks[d].role == t.role) deps.Add(task_names_.at(d));
    }
    if (!deps.empty()) task["dependencies"] = std::move(deps);
    YamlNode args = Arguments(t, io, t.tmpl() >= 0);
    if (!args.empty()) task["arguments"] = std::move(args);
    if (const TemplateField* when = t.spec->when()) {
      if (auto w = When(t, *when)) task["when"] = *w;
    }
    if (t.spec->for_each) Loop(t, task);
    if (t.spec->continue_on_failure) task["continueOn"]["failed"] = true;
    if (t.cache.enabled) {
      missing_.Add(fmt::format("{}: cache (Sluice's content-hash cache; Argo's memoize needs a "
                               "ConfigMap and a key of your choosing)", Subject(t)));
    }
    return task;
  }

  YamlNode Arguments(const PlanTask& t, const TaskIo& io, bool params_only) {
    YamlNode args;
    for (const auto& in : io.inputs) {
      YamlNode e;
      e["name"] = in.name;
      if (in.artifact && !params_only) {
        const Source& src = in.value[0].source;
        if (plan_.tasks[src.task].spec->for_each) {
          missing_.Add(fmt::format("{}: reads artifact {} of forEach task {}: Argo does not "
                                   "gather a loop's artifacts", Subject(t), src.key,
                                   plan_.tasks[src.task].name));
        }
        e["from"] = SpellDag(in.value, t);
        ListAt(args, "artifacts").Add(std::move(e));
        continue;
      }
      if (in.artifact) {
        missing_.Add(fmt::format("{}: passes artifact {} into a DAG template as a param; "
                                 "Argo passes its key, not a path", Subject(t), in.name));
      }
      e["value"] = in.constant ? ValueText(*in.constant) : SpellDag(in.value, t);
      ListAt(args, "parameters").Add(std::move(e));
    }
    return args;
  }

  std::optional<std::string> When(const PlanTask& t, const TemplateField& when) {
    if (when.literal) return when.literal->ToJson();
    const auto& pieces = when.tmpl.pieces();
    if (pieces.size() == 1 && pieces[0].expr) {
      auto ref = [&](const Source& s) { return SpellSource(s, t); };
      if (auto c = ConvertCondition(plan_, t.scope, *pieces[0].expr, ref, true, true)) return c;
    }
    missing_.Add(fmt::format("{}: when {} has no Argo equivalent; the task is exported without "
                             "it", Subject(t), Quote(when.tmpl.text())));
    return std::nullopt;
  }

  void Loop(const PlanTask& t, YamlNode& task) {
    const ForEachSpec& fe = *t.spec->for_each;
    if (fe.parallelism > 0) {
      missing_.Add(fmt::format("{}: forEach parallelism {} (Argo limits a whole template's "
                               "parallelism, not one loop's)", Subject(t), fe.parallelism));
    }
    if (fe.literal) {
      task["withItems"] = YamlNode::FromValue(*fe.literal);
      return;
    }
    const auto& pieces = fe.expr->tmpl.pieces();
    if (pieces.size() == 1 && pieces[0].expr) {
      if (auto path = PlainPath(*pieces[0].expr)) {
        if (auto src = SourceOf(plan_, t.scope, *path)) {
          task["withParam"] = SpellSource(*src, t);
          return;
        }
      }
    }
    missing_.Add(fmt::format("{}: forEach {} is computed; the task is exported without its "
                             "loop", Subject(t), Quote(fe.expr->tmpl.text())));
  }

  // A leaf task's templates; returns the name its DAG task calls.
  std::string Leaf(const PlanTask& t, TaskIo& io) {
    ArgoLeaf leaf(plan_, options_, t, io, missing_);
    leaf.global_outputs = finally_reads_ && t.scope < 0 && t.role == TaskRole::kMain;
    leaf.global_prefix = task_names_.at(t.index);
    std::string name = template_names_.Unique(t.scope < 0 ? t.spec->name : t.name);
    for (auto& tmpl : leaf.Templates(name, template_names_)) templates_.Add(std::move(tmpl));
    return name;
  }

  // The dag template of a DAG template call, written on its first call.
  std::string TemplateDag(const PlanTask& t) {
    int k = t.tmpl();
    if (auto it = template_dag_names_.find(k); it != template_dag_names_.end()) return it->second;
    const PlanTemplate& pt = plan_.templates[k];
    const ComponentSpec& c = *pt.component;
    std::string name = template_names_.Unique(fmt::format("{}-{}", c.name, c.major));
    template_dag_names_[k] = name;
    NameTable names;
    for (int i = pt.first; i < pt.first + pt.size(); ++i) {
      task_names_[i] = names.Unique(plan_.tasks[i].spec->name);
    }
    if (pt.num_finally > 0) {
      missing_.Add(fmt::format("DAG template {}: finally tasks (exported as ordinary tasks would "
                               "change their meaning; left out)", c.name));
    }
    YamlNode tmpl = Dag(name, pt.first, pt.num_main);
    if (!c.params.empty()) {
      YamlNode params = YamlNode::List();
      for (const auto& d : c.params) {
        YamlNode e;
        e["name"] = d.name;
        if (d.default_value) e["value"] = ValueText(*d.default_value);
        params.Add(std::move(e));
      }
      tmpl["inputs"]["parameters"] = std::move(params);
    }
    YamlNode outputs = TemplateOutputs(pt);
    if (!outputs.empty()) tmpl["outputs"] = std::move(outputs);
    templates_.Add(std::move(tmpl));
    return name;
  }

  // A DAG template's declared outputs, taken from its tasks' outputs.
  YamlNode TemplateOutputs(const PlanTemplate& pt) {
    YamlNode outputs;
    const ComponentSpec& c = *pt.component;
    const PlanTask& any = plan_.tasks[pt.first];
    for (const auto& [name, field] : c.dag->output_values) {
      Text value = ReadDagSide(plan_, any, field, missing_);
      bool artifact = std::any_of(c.outputs.artifacts.begin(), c.outputs.artifacts.end(),
                                  [&](const ArtifactDecl& a) { return a.name == name; });
      YamlNode e;
      e["name"] = name;
      const char* kind = artifact ? "artifacts" : "parameters";
      if (artifact) e["from"] = SpellDag(value, any);
      else e["valueFrom"]["parameter"] = SpellDag(value, any);
      ListAt(outputs, kind).Add(std::move(e));
    }
    return outputs;
  }

  std::string SpellDag(const Text& text, const PlanTask& t) {
    std::string out;
    for (const auto& p : text) {
      switch (p.kind) {
        case Piece::Kind::kSource: out += SpellSource(p.source, t); break;
        case Piece::Kind::kUnexpressed: out += "[not expressed: " + p.text + "]"; break;
        default: out += p.text; break;
      }
    }
    return out;
  }

  // A source as Argo spells it from the DAG that calls `t`. A finally task (the onExit dag)
  // reads main tasks' outputs through their globalName.
  std::string SpellSource(const Source& s, const PlanTask& t) {
    switch (s.kind) {
      case Source::Kind::kParam:
        return t.scope < 0 ? fmt::format("{{{{workflow.parameters.{}}}}}", s.key)
                           : fmt::format("{{{{inputs.parameters.{}}}}}", s.key);
      case Source::Kind::kItem:
        return s.key.empty() ? "{{item}}" : fmt::format("{{{{item.{}}}}}", s.key);
      default: break;
    }
    const PlanTask& producer = plan_.tasks[s.task];
    const std::string& name = task_names_.at(s.task);
    bool across = t.role == TaskRole::kFinally && producer.role == TaskRole::kMain;
    if (s.kind == Source::Kind::kTaskResult) {
      if (across) {
        missing_.Add(fmt::format("{}: reads {}'s standard output from the exit handler",
                                 Subject(t), producer.name));
      }
      return fmt::format("{{{{tasks.{}.outputs.result}}}}", name);
    }
    const char* kind = s.kind == Source::Kind::kTaskArtifact ? "artifacts" : "parameters";
    if (across) return fmt::format("{{{{workflow.outputs.{}.{}-{}}}}}", kind, name, s.key);
    return fmt::format("{{{{tasks.{}.outputs.{}.{}}}}}", name, kind, s.key);
  }

  const Plan& plan_;
  const ExportOptions& options_;
  NotExpressed missing_;
  NameTable template_names_, pipeline_tasks_;
  std::map<int, std::string> task_names_;         // plan index -> its DAG task's name
  std::map<int, std::string> template_dag_names_;  // DAG template index -> its dag template
  YamlNode templates_ = YamlNode::List();
  bool finally_reads_ = false;
};

}  // namespace

Result<ExportResult> ExportArgo(const Plan& plan, const ExportOptions& options) {
  return ArgoWriter(plan, options).Write();
}

}  // namespace sluice
