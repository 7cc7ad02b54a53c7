// The Kubeflow Pipelines export (export.h, docs/interop.md): the v2 pipeline IR
// (PipelineSpec) as KFP's compiler writes it (../shared/interop/kfp's goldens): one component
// and one executor per task, the root DAG's tasks with componentRef, dependentTasks and inputs
// (componentInputParameter, taskOutputParameter, taskOutputArtifact, runtimeValue), a forEach
// task wrapped in a for-loop DAG component with a parameterIterator, the main tasks wrapped in
// an exit-handler DAG when the pipeline has finally tasks (which then run with
// ALL_UPSTREAM_TASKS_COMPLETED), and a DAG template as a DAG component. A wrapped DAG receives
// what it reads from outside as "pipelinechannel--" inputs, as KFP names them.
#include <fmt/format.h>

#include <map>

#include "common/strings.h"
#include "interop/export.h"
#include "interop/export_kfp.h"

namespace sluice {
namespace {

constexpr char kChannel[] = "pipelinechannel--";
constexpr char kSdkVersion[] = "kfp-2.13.0";  // the IR version the goldens were compiled with

YamlNode ArtifactDef() {
  YamlNode d;
  d["artifactType"]["schemaTitle"] = "system.Artifact";
  d["artifactType"]["schemaVersion"] = "0.0.1";
  return d;
}

YamlNode ParamDef(ParamType t) {
  YamlNode d;
  d["parameterType"] = std::string(KfpParameterType(t));
  return d;
}

std::string ProtoDuration(int64_t ms) {
  return ms % 1000 == 0 ? fmt::format("{}s", ms / 1000) : fmt::format("{}s", ms / 1000.0);
}

// A DAG being written (the root, the exit handler, a loop, a DAG template) and the channels
// its component receives from the DAG around it.
struct Dag {
  Dag* parent = nullptr;
  int scope = -1;
  std::set<int> members;        // plan indices of its tasks
  std::string item;             // a loop's item input, "" elsewhere
  bool wrapped = false;         // pipeline params come in as channels (exit handler, loops)
  YamlNode input_defs;          // its component's inputDefinitions
  YamlNode parent_inputs;       // the inputs its calling task passes
};

class KfpWriter {
 public:
  KfpWriter(const Plan& plan, const ExportOptions& options) : plan_(plan), options_(options) {}

  ExportResult Write() {
    const PipelineSpec& p = *plan_.pipeline;
    NameTable root_names;
    if (plan_.num_finally > 0) root_names.Unique("exit-handler-1");
    for (int i = 0; i < plan_.num_main + plan_.num_finally; ++i) Name(root_names, i);
    Dag root;
    std::vector<int> main, fin;
    for (int i = 0; i < plan_.num_main; ++i) main.push_back(i);
    for (int i = plan_.num_main; i < plan_.num_main + plan_.num_finally; ++i) fin.push_back(i);
    YamlNode tasks;
    if (fin.empty()) {
      root.members.insert(main.begin(), main.end());
      tasks = Tasks(main, root);
    } else {
      tasks = ExitHandler(main, fin, root);
    }
    YamlNode doc;
    doc["components"] = std::move(components_);
    doc["deploymentSpec"]["executors"] = std::move(executors_);
    doc["pipelineInfo"]["name"] = TargetName(p.name);
    doc["root"]["dag"]["tasks"] = std::move(tasks);
    for (const auto& d : p.params) {
      YamlNode def = ParamDef(d.type);
      if (d.default_value) {
        def["defaultValue"] = YamlNode::FromValue(*d.default_value);
        def["isOptional"] = true;
      }
      if (!d.description.empty()) def["description"] = d.description;
      doc["root"]["inputDefinitions"]["parameters"][d.name] = std::move(def);
    }
    doc["schemaVersion"] = "2.1.0";
    doc["sdkVersion"] = kSdkVersion;
    ListPlanWideGaps(plan_, missing_);
    for (const auto& [pool, units] : plan_.pipeline->run_pools) {
      missing_.Add(fmt::format("spec.resources: pool {}, held by the whole run", pool));
    }
    ExportResult out;
    out.not_expressed = missing_.Take();
    out.files.push_back({TargetName(p.name) + ".kfp.yaml",
                         HeaderComment(plan_, "kfp", out.not_expressed) + EmitYaml(doc)});
    return out;
  }

 private:
  // KFP's compiler numbers loops and their literal item inputs from one counter
  // (loop-item-param-1, for-loop-2, ...): so do these names, in the pipeline's task order.
  void Name(NameTable& names, int i) {
    const PlanTask& t = plan_.tasks[i];
    if (!t.spec->for_each || !LoopMaps(t)) {
      names_[i] = names.Unique(t.spec->name);
      return;
    }
    if (t.spec->for_each->literal) item_numbers_[i] = ++loops_;
    names_[i] = names.Unique(fmt::format("for-loop-{}", ++loops_));
  }

  // KFP's dsl.ExitHandler: the main tasks in an exit-handler DAG, the finally tasks after it
  // whatever its outcome.
  YamlNode ExitHandler(const std::vector<int>& main, const std::vector<int>& fin, Dag& root) {
    const std::string comp_name = components_names_.Unique("comp-exit-handler-1");
    Dag handler;
    handler.parent = &root;
    handler.wrapped = true;
    handler.members.insert(main.begin(), main.end());
    root.members.insert(fin.begin(), fin.end());
    YamlNode inner = Tasks(main, handler);
    YamlNode comp;
    comp["dag"]["tasks"] = std::move(inner);
    if (!handler.input_defs.empty()) comp["inputDefinitions"] = std::move(handler.input_defs);
    components_[comp_name] = std::move(comp);
    YamlNode tasks;
    YamlNode& h = tasks["exit-handler-1"];
    h["componentRef"]["name"] = comp_name;
    if (!handler.parent_inputs.empty()) h["inputs"] = std::move(handler.parent_inputs);
    h["taskInfo"]["name"] = TargetName(plan_.pipeline->name);
    for (int i : fin) {
      YamlNode entry = TaskEntry(plan_.tasks[i], root);
      YamlNode deps = YamlNode::List();
      deps.Add("exit-handler-1");
      for (const auto& d : entry["dependentTasks"].list()) deps.Add(d);
      entry["dependentTasks"] = std::move(deps);
      entry["triggerPolicy"]["strategy"] = "ALL_UPSTREAM_TASKS_COMPLETED";
      tasks[names_.at(i)] = std::move(entry);
    }
    return tasks;
  }

  // Whether a forEach becomes a loop: over a literal list, or a reference KFP can pass (not a
  // gathered output of another loop).
  bool LoopMaps(const PlanTask& t) {
    const ForEachSpec& fe = *t.spec->for_each;
    if (fe.literal) return true;
    auto src = LoopSource(fe, t.scope);
    if (!src) return false;
    return src->task < 0 || !plan_.tasks[src->task].spec->for_each;
  }

  YamlNode Tasks(const std::vector<int>& indices, Dag& dag) {
    YamlNode tasks;
    for (int i : indices) {
      const PlanTask& t = plan_.tasks[i];
      if (t.spec->for_each && !LoopMaps(t)) {
        missing_.Add(fmt::format("{}: forEach {} cannot be iterated in KFP (computed, or "
                                 "another loop's gathered output); exported without its loop",
                                 Subject(t), Quote(t.spec->for_each->expr->tmpl.text())));
      }
      tasks[names_.at(i)] = t.spec->for_each && LoopMaps(t) ? Loop(t, dag) : TaskEntry(t, dag);
    }
    return tasks;
  }

  // KFP's dsl.ParallelFor: a for-loop DAG component holding the task, iterated over the list.
  YamlNode Loop(const PlanTask& t, Dag& dag) {
    const ForEachSpec& fe = *t.spec->for_each;
    Dag loop;
    loop.parent = &dag;
    loop.scope = t.scope;
    loop.wrapped = true;
    loop.members.insert(t.index);
    const std::string& name = names_.at(t.index);
    YamlNode entry;
    if (fe.literal) {
      loop.item = fmt::format("{}loop-item-param-{}", kChannel, item_numbers_.at(t.index));
      entry["parameterIterator"]["items"]["raw"] = fe.literal->ToJson();
    } else if (auto src = LoopSource(fe, t.scope)) {
      auto list = Bind(*src, loop, t);
      if (list) {
        std::string ch = (*list)["componentInputParameter"].scalar();
        loop.item = ch + "-loop-item";
        entry["parameterIterator"]["items"]["inputParameter"] = ch;
        loop.input_defs["parameters"][ch] = ParamDef(ParamType::kList);
      }
    }
    if (loop.item.empty()) {
      missing_.Add(fmt::format("{}: forEach {} cannot be passed into its loop; exported "
                               "without the loop", Subject(t), fe.expr ? Quote(fe.expr->tmpl.text()) : ""));
      return TaskEntry(t, dag);
    }
    loop.input_defs["parameters"][loop.item] = ParamDef(ItemType(fe));
    entry["parameterIterator"]["itemInput"] = loop.item;
    std::string comp = components_names_.Unique("comp-" + name);
    YamlNode inner = TaskEntry(t, loop);
    YamlNode c;
    c["dag"]["tasks"][TargetName(t.spec->name)] = std::move(inner);
    c["inputDefinitions"] = std::move(loop.input_defs);
    components_[comp] = std::move(c);
    entry["componentRef"]["name"] = comp;
    YamlNode deps = Dependencies(t, dag);
    if (!deps.empty()) entry["dependentTasks"] = std::move(deps);
    if (!loop.parent_inputs.empty()) entry["inputs"] = std::move(loop.parent_inputs);
    if (fe.parallelism > 0) entry["iteratorPolicy"]["parallelismLimit"] = fe.parallelism;
    entry["taskInfo"]["name"] = name;
    return entry;
  }

  // The type of a literal list's items (its first's), as KFP types a loop's item input.
  static ParamType ItemType(const ForEachSpec& fe) {
    if (!fe.literal || !fe.literal->is_list() || fe.literal->as_list().empty()) {
      return ParamType::kString;
    }
    const Value& v = fe.literal->as_list()[0];
    if (v.is_int()) return ParamType::kInt;
    if (v.is_double()) return ParamType::kNumber;
    if (v.is_bool()) return ParamType::kBool;
    if (v.is_map()) return ParamType::kMap;
    if (v.is_list()) return ParamType::kList;
    return ParamType::kString;
  }

  std::optional<Source> LoopSource(const ForEachSpec& fe, int scope) {
    const auto& pieces = fe.expr->tmpl.pieces();
    if (pieces.size() != 1 || !pieces[0].expr) return std::nullopt;
    auto path = PlainPath(*pieces[0].expr);
    return path ? SourceOf(plan_, scope, *path) : std::nullopt;
  }

  YamlNode Dependencies(const PlanTask& t, const Dag& dag) {
    YamlNode deps = YamlNode::List();
    for (int d : t.deps) {
      if (dag.members.contains(d)) deps.Add(names_.at(d));
    }
    return deps;
  }

  // One task of `dag`: its component (and executor, or DAG component) and its entry.
  YamlNode TaskEntry(const PlanTask& t, Dag& dag) {
    TaskIo io = ReadTask(plan_, t, options_.default_image, missing_);
    YamlNode entry;
    YamlNode defs;
    entry["cachingOptions"] = YamlNode();
    if (t.cache.enabled) entry["cachingOptions"]["enableCache"] = true;
    std::string comp = t.tmpl() >= 0 ? TemplateComponent(t) : components_names_.Unique("comp-" + t.spec->name);
    entry["componentRef"]["name"] = comp;
    YamlNode deps = Dependencies(t, dag);
    if (!deps.empty()) entry["dependentTasks"] = std::move(deps);
    for (const auto& in : io.inputs) {
      const char* kind = in.artifact ? "artifacts" : "parameters";
      defs[kind][in.name] = in.artifact ? ArtifactDef() : ParamDef(in.type);
      YamlNode& spec = entry["inputs"][kind][in.name];
      if (in.constant) {
        spec["runtimeValue"]["constant"] = YamlNode::FromValue(*in.constant);
        continue;
      }
      const bool single = in.value.size() == 1 && in.value[0].kind == Piece::Kind::kSource;
      if (auto bound = single ? Bind(in.value[0].source, dag, t) : std::nullopt) {
        spec = std::move(*bound);
        continue;
      }
      missing_.Add(single ? fmt::format("{}: input {} cannot be passed where the task runs in "
                                        "KFP's DAG; passed as a constant", Subject(t), in.name)
                          : fmt::format("{}: input {} joins text and placeholders; KFP passes "
                                        "it as the constant text", Subject(t), in.name));
      spec["runtimeValue"]["constant"] = Flatten(in.value);
    }
    entry["taskInfo"]["name"] = t.spec->name;
    if (const TemplateField* when = t.spec->when()) Condition(t, *when, dag, entry, defs);
    Limits(t, entry);
    if (t.tmpl() < 0) {
      YamlNode c;
      std::string exec = executors_names_.Unique("exec-" + t.spec->name);
      c["executorLabel"] = exec;
      if (!defs.empty()) c["inputDefinitions"] = std::move(defs);
      YamlNode outs = OutputDefs(t.outputs);
      if (!outs.empty()) c["outputDefinitions"] = std::move(outs);
      components_[comp] = std::move(c);
      executors_[exec]["container"] = KfpExecutor(t, io, missing_);
    }
    return entry;
  }

  static YamlNode OutputDefs(const OutputsDecl* outputs) {
    YamlNode outs;
    if (!outputs) return outs;
    for (const auto& p : outputs->params) {
      outs["parameters"][p.name] = ParamDef(p.type.value_or(ParamType::kString));
    }
    for (const auto& a : outputs->artifacts) outs["artifacts"][a.name] = ArtifactDef();
    return outs;
  }

  std::string Flatten(const Text& text) {
    std::string out;
    for (const auto& p : text) {
      if (p.kind == Piece::Kind::kText) out += p.text;
      else out += "[not expressed: " + (p.text.empty() ? std::string("a reference") : p.text) + "]";
    }
    return out;
  }

  // What a task input reads in `dag`, as KFP's input spec; channels added to `dag` for what
  // comes from outside it. None when KFP cannot pass it.
  std::optional<YamlNode> Bind(const Source& s, Dag& dag, const PlanTask& t) {
    YamlNode spec;
    switch (s.kind) {
      case Source::Kind::kParam: {
        if (!dag.wrapped) {
          spec["componentInputParameter"] = s.key;
          return spec;
        }
        ParamType type = ParamType::kString;
        for (const auto& d : plan_.ParamsIn(dag.scope)) {
          if (d.name == s.key) type = d.type;
        }
        return Channel(kChannel + s.key, ParamDef(type), false, s, dag, t);
      }
      case Source::Kind::kItem: {
        if (dag.item.empty()) return std::nullopt;
        spec["componentInputParameter"] = dag.item;
        if (!s.key.empty()) {
          std::string selector = "parseJson(string_value)";
          for (const auto& k : Split(s.key, '.')) selector += "[\"" + k + "\"]";
          spec["parameterExpressionSelector"] = selector;
        }
        return spec;
      }
      default: break;
    }
    const PlanTask& producer = plan_.tasks[s.task];
    bool artifact = s.kind == Source::Kind::kTaskArtifact;
    if (dag.members.contains(s.task)) {
      if (producer.spec->for_each) {
        missing_.Add(fmt::format("{}: reads {} of forEach task {} (KFP's dsl.Collected is not "
                                 "written)", Subject(t), s.key, producer.name));
        return std::nullopt;
      }
      YamlNode& ref = spec[artifact ? "taskOutputArtifact" : "taskOutputParameter"];
      ref[artifact ? "outputArtifactKey" : "outputParameterKey"] = s.key;
      ref["producerTask"] = names_.at(s.task);
      return spec;
    }
    if (!dag.parent) return std::nullopt;
    ParamType type = ParamType::kString;
    if (producer.outputs) {
      for (const auto& p : producer.outputs->params) {
        if (p.name == s.key && p.type) type = *p.type;
      }
    }
    return Channel(fmt::format("{}{}-{}", kChannel, TargetName(producer.spec->name), s.key),
                   artifact ? ArtifactDef() : ParamDef(type), artifact, s, dag, t);
  }

  // An input of `dag`'s component named `name`, bound in the DAG around it.
  std::optional<YamlNode> Channel(const std::string& name, YamlNode def, bool artifact,
                                  const Source& s, Dag& dag, const PlanTask& t) {
    const char* kind = artifact ? "artifacts" : "parameters";
    if (!dag.parent) return std::nullopt;
    bool known = false;
    for (const auto& [k, v] : dag.input_defs[kind].map()) known |= k == name;
    if (!known) {
      auto outer = Bind(s, *dag.parent, t);
      if (!outer) return std::nullopt;
      dag.input_defs[kind][name] = std::move(def);
      dag.parent_inputs[kind][name] = std::move(*outer);
    }
    YamlNode spec;
    spec[artifact ? "componentInputArtifact" : "componentInputParameter"] = name;
    return spec;
  }

  // when: as triggerPolicy.condition, a CEL expression over the task's own inputs.
  void Condition(const PlanTask& t, const TemplateField& when, Dag& dag, YamlNode& entry,
                 YamlNode& defs) {
    const auto& pieces = when.tmpl.pieces();
    bool bound = true;
    auto ref = [&](const Source& s) {
      std::string name = std::string(kChannel) + "when-" +
                         (s.kind == Source::Kind::kParam ? s.key
                          : s.kind == Source::Kind::kItem ? "item" + (s.key.empty() ? "" : "-" + s.key)
                          : TargetName(plan_.tasks[s.task].spec->name) + "-" + s.key);
      auto spec = Bind(s, dag, t);
      if (!spec || s.kind == Source::Kind::kTaskArtifact) {
        bound = false;
        return name;
      }
      entry["inputs"]["parameters"][name] = std::move(*spec);
      defs["parameters"][name] = ParamDef(ParamType::kString);
      if (s.kind == Source::Kind::kParam) {
        for (const auto& d : plan_.ParamsIn(t.scope)) {
          if (d.name == s.key) defs["parameters"][name] = ParamDef(d.type);
        }
      }
      return fmt::format("inputs.parameter_values['{}']", name);
    };
    std::optional<std::string> cond;
    if (when.literal) cond = when.literal->ToJson();
    else if (pieces.size() == 1 && pieces[0].expr) {
      cond = ConvertCondition(plan_, t.scope, *pieces[0].expr, ref, false, true, "double");
    }
    if (cond && bound) {
      entry["triggerPolicy"]["condition"] = *cond;
      return;
    }
    missing_.Add(fmt::format("{}: when {} has no KFP equivalent; exported without it",
                             Subject(t), Quote(when.tmpl.text())));
  }

  void Limits(const PlanTask& t, YamlNode& entry) {
    if (const RetryPolicy* r = t.retry; r && r->limit > 0) {
      YamlNode& rp = entry["retryPolicy"];
      rp["backoffDuration"] = ProtoDuration(r->initial_ms);
      rp["backoffFactor"] = r->factor;
      rp["backoffMaxDuration"] = ProtoDuration(r->max_ms);
      rp["maxRetryCount"] = r->limit;
      if (!r->on.empty() || !r->except.empty() || r->when) {
        missing_.Add(fmt::format("{}: retry on/except/when (KFP retries any failure)", Subject(t)));
      }
    }
    if (t.timeout_ms > 0 || t.deadline_ms > 0) {
      missing_.Add(fmt::format("{}: timeout and deadline (KFP's IR has no per-task timeout)",
                               Subject(t)));
    }
    if (t.spec->continue_on_failure) missing_.Add(fmt::format("{}: continueOnFailure", Subject(t)));
    if (t.approval()) {
      missing_.Add(fmt::format("{}: approval (KFP cannot pause a run for a person; the task "
                               "runs without it)", Subject(t)));
    }
    if (!t.gate().empty()) missing_.Add(fmt::format("{}: gate policies", Subject(t)));
    if (t.resources && !t.resources->pools.empty()) {
      missing_.Add(fmt::format("{}: pools", Subject(t)));
    }
    if (t.labels()) missing_.Add(fmt::format("{}: placement labels", Subject(t)));
    if (t.executor == ExecutorKind::kSlurm) {
      missing_.Add(fmt::format("{}: executor: slurm", Subject(t)));
    }
  }

  // A DAG template as a DAG component, written on its first call.
  std::string TemplateComponent(const PlanTask& call) {
    int k = call.tmpl();
    if (auto it = template_comps_.find(k); it != template_comps_.end()) return it->second;
    const PlanTemplate& pt = plan_.templates[k];
    const ComponentSpec& c = *pt.component;
    std::string comp = components_names_.Unique(fmt::format("comp-{}-{}", c.name, c.major));
    template_comps_[k] = comp;
    NameTable names;
    Dag dag;
    dag.scope = k;
    std::vector<int> tasks;
    for (int i = pt.first; i < pt.first + pt.num_main; ++i) {
      Name(names, i);
      tasks.push_back(i);
      dag.members.insert(i);
    }
    if (pt.num_finally > 0) missing_.Add(fmt::format("DAG template {}: finally tasks", c.name));
    YamlNode node;
    node["dag"]["tasks"] = Tasks(tasks, dag);
    const PlanTask& any = plan_.tasks[pt.first];
    for (const auto& [name, field] : c.dag->output_values) {
      Text v = ReadDagSide(plan_, any, field, missing_);
      if (v.size() != 1 || v[0].kind != Piece::Kind::kSource || v[0].source.task < 0) {
        missing_.Add(fmt::format("DAG template {}: output {} is computed", c.name, name));
        continue;
      }
      const Source& s = v[0].source;
      if (s.kind == Source::Kind::kTaskArtifact) {
        YamlNode sel;
        sel["outputArtifactKey"] = s.key;
        sel["producerSubtask"] = names_.at(s.task);
        ListAt(node["dag"]["outputs"]["artifacts"][name], "artifactSelectors").Add(std::move(sel));
      } else {
        YamlNode& from = node["dag"]["outputs"]["parameters"][name]["valueFromParameter"];
        from["outputParameterKey"] = s.key;
        from["producerSubtask"] = names_.at(s.task);
      }
    }
    for (const auto& d : c.params) node["inputDefinitions"]["parameters"][d.name] = ParamDef(d.type);
    YamlNode outs = OutputDefs(&c.outputs);
    if (!outs.empty()) node["outputDefinitions"] = std::move(outs);
    components_[comp] = std::move(node);
    return comp;
  }

  const Plan& plan_;
  const ExportOptions& options_;
  NotExpressed missing_;
  NameTable components_names_, executors_names_;
  std::map<int, std::string> names_;          // plan index -> its entry's name in its DAG
  std::map<int, std::string> template_comps_;  // DAG template index -> its component
  std::map<int, int> item_numbers_;  // forEach over a literal list -> its item input's number
  int loops_ = 0;
  YamlNode components_, executors_;
};

}  // namespace

Result<ExportResult> ExportKfp(const Plan& plan, const ExportOptions& options) {
  return KfpWriter(plan, options).Write();
}

}  // namespace sluice
