// The Argo export's leaf templates (export_argo_parts.h).
#include "interop/export_argo_parts.h"

#include <fmt/format.h>

#include <cmath>
#include <set>

#include "common/strings.h"

namespace sluice {

std::string ValueText(const Value& v) { return v.is_string() ? v.as_string() : v.ToJson(); }

std::string Seconds(int64_t ms) { return std::to_string((ms + 999) / 1000); }

std::string ArgoDuration(int64_t ms) {
  return ms % 1000 == 0 ? fmt::format("{}s", ms / 1000) : fmt::format("{}ms", ms);
}

namespace {

std::string Quantity(double v) {
  if (v == std::floor(v)) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}m", static_cast<int64_t>(std::ceil(v * 1000)));
}

// An artifact's key under the repository prefix: PREFIX/WORKFLOW/TASK/NAME, unique per run
// and loop item (the pod name).
YamlNode ArtifactKey(const std::string& prefix, const std::string& name) {
  YamlNode s3;
  std::string p = prefix;
  while (!p.empty() && p.back() == '/') p.pop_back();
  s3["key"] = fmt::format("{}/{{{{workflow.name}}}}/{{{{pod.name}}}}/{}", p, name);
  return s3;
}

}  // namespace

std::string ArgoLeaf::Spell(const Text& text) const {
  std::string out;
  for (const auto& p : text) {
    if (p.kind == Piece::Kind::kInput) {
      const Input& in = io_.inputs[p.input];
      out += in.artifact ? fmt::format("{}/{}", kArgoInputsDir, in.name)
                         : fmt::format("{{{{inputs.parameters.{}}}}}", in.name);
    } else if (p.kind == Piece::Kind::kUnexpressed) {
      out += "[not expressed: " + p.text + "]";
    } else {
      out += p.text;
    }
  }
  return out;
}

std::vector<YamlNode> ArgoLeaf::Templates(const std::string& name, NameTable& names) {
  const bool approval_only = t_.approval() && t_.kind == Body::Kind::kBuiltin &&
                             io_.builtin == "noop";
  const bool gated = !t_.gate().empty();
  if (!t_.approval() && !gated) return {Body(name)};
  if (approval_only && !gated) return {Approval(name)};
  std::vector<YamlNode> out;
  out.emplace_back();  // the wrapper, filled last
  size_t body_inputs = io_.inputs.size();
  std::string approval, gate, body;
  if (t_.approval()) {
    approval = names.Unique(name + "-approval");
    out.push_back(Approval(approval));
  }
  if (!approval_only) {  // before the gate adds its inputs
    body = names.Unique(name + "-run");
    out.push_back(Body(body));
  }
  if (gated) {
    gate = names.Unique(name + "-gate");
    out.push_back(Gate(gate));
  }
  out[0] = Wrapper(name, approval, gate, body, body_inputs);
  return out;
}

YamlNode ArgoLeaf::Body(const std::string& name) {
  YamlNode tmpl;
  tmpl["name"] = name;
  for (const auto& in : io_.inputs) {
    YamlNode e;
    e["name"] = in.name;
    if (in.artifact) e["path"] = fmt::format("{}/{}", kArgoInputsDir, in.name);
    ListAt(tmpl["inputs"], in.artifact ? "artifacts" : "parameters").Add(std::move(e));
  }
  Outputs(tmpl);
  if (!io_.argv.empty()) {
    tmpl["container"] = Container();
  } else if (!io_.script.empty()) {
    tmpl["script"] = Script();
  } else if (io_.builtin == "deploy") {
    missing_.Add(fmt::format("{}: deploy (Sluice's rollout of a model to an environment); the "
                             "exported step fails saying so", Subject(t_)));
    YamlNode c;
    c["image"] = io_.image;
    YamlNode cmd = YamlNode::List();
    for (const char* a : {"sh", "-c"}) cmd.Add(a);
    cmd.Add(fmt::format("echo 'sluice deploy task {} is not expressed in Argo' >&2; exit 1",
                        t_.name));
    c["command"] = std::move(cmd);
    tmpl["container"] = std::move(c);
  } else {
    tmpl["suspend"]["duration"] = "0";  // builtin:noop: done at once, no pod
  }
  Limits(tmpl);
  return tmpl;
}

YamlNode ArgoLeaf::Container() {
  YamlNode c;
  c["image"] = io_.image;
  YamlNode cmd = YamlNode::List(), args = YamlNode::List();
  cmd.Add(Spell(io_.argv[0]));
  for (size_t i = 1; i < io_.argv.size(); ++i) args.Add(Spell(io_.argv[i]));
  c["command"] = std::move(cmd);
  if (!args.empty()) c["args"] = std::move(args);
  c["workingDir"] = kArgoWorkDir;
  YamlNode env = Env();
  if (!env.empty()) c["env"] = std::move(env);
  YamlNode res = Resources();
  if (!res.empty()) c["resources"] = std::move(res);
  return c;
}

YamlNode ArgoLeaf::Script() {
  YamlNode s;
  s["image"] = io_.image;
  YamlNode cmd = YamlNode::List();
  for (const auto& word : Split(io_.shell, ' ')) {
    if (!word.empty()) cmd.Add(word);
  }
  s["command"] = std::move(cmd);
  s["source"] = io_.script;
  if (io_.script.find("{{") != std::string::npos) {
    missing_.Add(fmt::format("{}: its script holds \"{{{{\", which Argo substitutes", Subject(t_)));
  }
  s["workingDir"] = kArgoWorkDir;
  YamlNode env = Env();
  if (!env.empty()) s["env"] = std::move(env);
  YamlNode res = Resources();
  if (!res.empty()) s["resources"] = std::move(res);
  return s;
}

YamlNode ArgoLeaf::Env() {
  YamlNode env = YamlNode::List();
  for (const auto& [name, text] : io_.env) {
    YamlNode e;
    e["name"] = name;
    e["value"] = Spell(text);
    env.Add(std::move(e));
  }
  for (const auto& use : t_.spec->secrets()) {
    if (use.env.empty()) {
      missing_.Add(fmt::format("{}: secret {} as a file", Subject(t_), use.name));
      continue;
    }
    YamlNode e;
    e["name"] = use.env;
    e["valueFrom"]["secretKeyRef"]["name"] = TargetName(use.name);
    e["valueFrom"]["secretKeyRef"]["key"] = "value";
    env.Add(std::move(e));
  }
  return env;
}

YamlNode ArgoLeaf::Resources() {
  YamlNode res;
  const sluice::Resources* r = t_.resources;
  if (!r) return res;
  if (r->cpu > 0) res["requests"]["cpu"] = Quantity(r->cpu);
  if (r->memory > 0) res["requests"]["memory"] = Quantity(r->memory);
  if (r->gpu > 0) res["limits"]["nvidia.com/gpu"] = Quantity(r->gpu);
  return res;
}

void ArgoLeaf::Outputs(YamlNode& tmpl) {
  if (!t_.outputs) return;
  for (const auto& p : t_.outputs->params) {
    if (p.source == OutputSource::kStdoutText || p.source == OutputSource::kStdoutJson) {
      continue;  // read as the step's outputs.result
    }
    if (p.source == OutputSource::kFileJson && !p.json_path.empty()) {
      missing_.Add(fmt::format("{}: output {} is field {} of {}; Argo gives the whole file",
                               Subject(t_), p.name, p.json_path, p.path));
    }
    YamlNode e;
    e["name"] = p.name;
    e["valueFrom"]["path"] = fmt::format("{}/{}", kArgoWorkDir, p.path);
    if (global_outputs) e["globalName"] = fmt::format("{}-{}", global_prefix, p.name);
    ListAt(tmpl["outputs"], "parameters").Add(std::move(e));
  }
  for (const auto& a : t_.outputs->artifacts) {
    YamlNode e;
    e["name"] = a.name;
    e["path"] = fmt::format("{}/{}", kArgoWorkDir, a.path);
    if (global_outputs) e["globalName"] = fmt::format("{}-{}", global_prefix, a.name);
    if (!options_.artifact_repository.empty()) {
      e["s3"] = ArtifactKey(options_.artifact_repository, a.name);
    }
    ListAt(tmpl["outputs"], "artifacts").Add(std::move(e));
  }
}

// Retries, timeouts, placement and pools.
void ArgoLeaf::Limits(YamlNode& tmpl) {
  if (const RetryPolicy* r = t_.retry; r && r->limit > 0) {
    YamlNode rs;
    rs["limit"] = std::to_string(r->limit);
    rs["retryPolicy"] = "Always";
    rs["backoff"]["duration"] = ArgoDuration(r->initial_ms);
    rs["backoff"]["factor"] = r->factor == std::floor(r->factor)
                                  ? std::to_string(static_cast<int64_t>(r->factor))
                                  : fmt::format("{}", r->factor);
    rs["backoff"]["cap"] = ArgoDuration(r->max_ms);
    if (t_.deadline_ms > 0) rs["backoff"]["maxDuration"] = ArgoDuration(t_.deadline_ms);
    std::vector<std::string> codes, except;
    bool other = !!r->when;
    for (const auto& m : r->on) {
      if (m.cls == ErrorClass::kExit && m.code >= 0) codes.push_back(std::to_string(m.code));
      else other = true;
    }
    for (const auto& m : r->except) {
      if (m.cls == ErrorClass::kExit && m.code >= 0) except.push_back(std::to_string(m.code));
      else other = true;
    }
    std::vector<std::string> terms;
    if (!codes.empty()) terms.push_back(fmt::format("asInt(lastRetry.exitCode) in [{}]", Join(codes, ", ")));
    if (!except.empty()) terms.push_back(fmt::format("!(asInt(lastRetry.exitCode) in [{}])", Join(except, ", ")));
    if (!terms.empty()) rs["expression"] = Join(terms, " && ");
    if (other) {
      missing_.Add(fmt::format("{}: retry on/except error classes other than exit codes, or "
                               "retry.when (retried on any failure)", Subject(t_)));
    }
    tmpl["retryStrategy"] = std::move(rs);
  }
  if (t_.timeout_ms > 0) tmpl["activeDeadlineSeconds"] = Seconds(t_.timeout_ms);
  if (t_.deadline_ms > 0) tmpl["timeout"] = ArgoDuration(t_.deadline_ms);
  if (const auto* labels = t_.labels()) {
    for (const auto& [k, v] : *labels) tmpl["nodeSelector"][k] = v;
  }
  if (t_.executor == ExecutorKind::kSlurm) {  // the Workflow's pods run where Argo puts them
    missing_.Add(fmt::format("{}: executor: slurm (its pod runs on the Kubernetes cluster)",
                             Subject(t_)));
  }
  if (t_.resources) {
    for (const auto& [pool, units] : t_.resources->pools) {
      YamlNode sem;
      sem["configMapKeyRef"]["name"] = "sluice-pools";
      sem["configMapKeyRef"]["key"] = TargetName(pool);
      ListAt(tmpl["synchronization"], "semaphores").Add(std::move(sem));
      missing_.Add(fmt::format("pool {}: a semaphore; create ConfigMap sluice-pools with key {} "
                               "set to its size", pool, TargetName(pool)));
      if (units != 1) {
        missing_.Add(fmt::format("{}: takes {} units of pool {} (an Argo semaphore counts 1)",
                                 Subject(t_), units, pool));
      }
    }
  }
}

YamlNode ArgoLeaf::Approval(const std::string& name) {
  const ApprovalSpec& a = *t_.approval();
  missing_.Add(fmt::format("{}: approval by {} (quorum {}{}) is a suspend step: anyone allowed "
                           "to resume the workflow approves it{}", Subject(t_),
                           a.approvers.empty() ? "anyone" : Join(a.approvers, ", "), a.quorum,
                           a.forbid_self ? ", not the submitter" : "",
                           a.timeout_ms > 0 ? "; its timeout is not expressed (it waits)" : ""));
  YamlNode tmpl;
  tmpl["name"] = name;
  tmpl["suspend"] = YamlNode();
  return tmpl;
}

// A step that runs `sluice policy eval` on the gate's input, built from the workflow's params
// and the upstream tasks' output params, which the wrapper receives as extra inputs.
YamlNode ArgoLeaf::Gate(const std::string& name) {
  std::string tasks_json;
  for (int d : t_.deps) {
    const PlanTask& up = plan_.tasks[d];
    std::string params;
    if (up.outputs) {
      for (const auto& p : up.outputs->params) {
        if (p.source == OutputSource::kStdoutText || p.source == OutputSource::kStdoutJson) continue;
        Input in;
        in.name = fmt::format("gate-{}-{}", TargetName(up.spec->name), p.name);
        in.value.push_back({Piece::Kind::kSource, "", -1,
                            Source{Source::Kind::kTaskParam, d, p.name}});
        bool raw = p.type && *p.type != ParamType::kString;
        std::string ref = fmt::format("{{{{inputs.parameters.{}}}}}", in.name);
        params += fmt::format("{}{}: {}", params.empty() ? "" : ", ", Value(p.name).ToJson(),
                              raw ? ref : "\"" + ref + "\"");
        io_.inputs.push_back(std::move(in));
      }
    }
    tasks_json += fmt::format("{}{}: {{\"state\": \"succeeded\", \"outputs\": {{\"params\": {{{}}}}}}}",
                              tasks_json.empty() ? "" : ", ", Value(up.spec->name).ToJson(), params);
  }
  std::string params_json;
  for (const auto& d : plan_.pipeline->params) {
    std::string ref = fmt::format("{{{{workflow.parameters.{}}}}}", d.name);
    params_json += fmt::format("{}{}: {}", params_json.empty() ? "" : ", ", Value(d.name).ToJson(),
                               d.type == ParamType::kString ? "\"" + ref + "\"" : ref);
  }
  std::set<std::string> files;
  std::string dir = plan_.pipeline->file.substr(0, plan_.pipeline->file.rfind('/') + 1);
  for (const PolicySpec* p : t_.gate()) {
    std::string file = p->loc.file ? *p->loc.file : "";
    files.insert(file.starts_with(dir) ? file.substr(dir.size()) : file);
  }
  std::string source = fmt::format(
      "cat > /tmp/gate-input.json <<'SLUICE_GATE_INPUT'\n"
      "{{\"object\": {{\"task\": {}, \"pipeline\": {}, \"params\": {{{}}}, \"tasks\": {{{}}}}}}}\n"
      "SLUICE_GATE_INPUT\n",
      Value(t_.spec->name).ToJson(), Value(plan_.pipeline->name).ToJson(), params_json,
      tasks_json);
  for (const auto& f : files) {
    source += fmt::format("sluice policy eval {} --input /tmp/gate-input.json\n", f);
  }
  missing_.Add(fmt::format("{}: its gate runs sluice policy eval in image {}, which must hold "
                           "sluice and the pipeline's folder at /sluice/pipeline (central gate "
                           "policies of the state folder are not evaluated)", Subject(t_),
                           options_.sluice_image));
  YamlNode tmpl;
  tmpl["name"] = name;
  for (size_t i = 0; i < io_.inputs.size(); ++i) {
    if (io_.inputs[i].name.starts_with("gate-")) {
      YamlNode e;
      e["name"] = io_.inputs[i].name;
      ListAt(tmpl["inputs"], "parameters").Add(std::move(e));
    }
  }
  tmpl["script"]["image"] = options_.sluice_image;
  tmpl["script"]["command"] = YamlNode::List();
  tmpl["script"]["command"].Add("sh");
  tmpl["script"]["command"].Add("-e");
  tmpl["script"]["source"] = source;
  tmpl["script"]["workingDir"] = "/sluice/pipeline";
  return tmpl;
}

// A steps template: approval, gate and body one after another, passing the body its inputs
// and handing back its outputs.
YamlNode ArgoLeaf::Wrapper(const std::string& name, const std::string& approval,
                           const std::string& gate, const std::string& body,
                           size_t body_inputs) {
  YamlNode tmpl;
  tmpl["name"] = name;
  auto pass = [&](size_t from, size_t to) {
    YamlNode args;
    for (size_t i = from; i < to; ++i) {
      const Input& in = io_.inputs[i];
      YamlNode e;
      e["name"] = in.name;
      if (in.artifact) e["from"] = fmt::format("{{{{inputs.artifacts.{}}}}}", in.name);
      else e["value"] = fmt::format("{{{{inputs.parameters.{}}}}}", in.name);
      ListAt(args, in.artifact ? "artifacts" : "parameters").Add(std::move(e));
    }
    return args;
  };
  for (const auto& in : io_.inputs) {
    YamlNode e;
    e["name"] = in.name;
    ListAt(tmpl["inputs"], in.artifact ? "artifacts" : "parameters").Add(std::move(e));
  }
  YamlNode steps = YamlNode::List();
  auto step = [&](const char* step_name, const std::string& tmpl_name, YamlNode args) {
    YamlNode s;
    s["name"] = step_name;
    s["template"] = tmpl_name;
    if (!args.empty()) s["arguments"] = std::move(args);
    YamlNode group = YamlNode::List();
    group.Add(std::move(s));
    steps.Add(std::move(group));
  };
  if (!approval.empty()) step("approve", approval, YamlNode());
  if (!gate.empty()) step("gate", gate, pass(body_inputs, io_.inputs.size()));
  if (!body.empty()) {
    step("run", body, pass(0, body_inputs));
    if (t_.outputs) {
      for (const auto& p : t_.outputs->params) {
        if (p.source == OutputSource::kStdoutText || p.source == OutputSource::kStdoutJson) {
          missing_.Add(fmt::format("{}: output {} (standard output) behind an approval or gate",
                                   Subject(t_), p.name));
          continue;
        }
        YamlNode e;
        e["name"] = p.name;
        e["valueFrom"]["parameter"] = fmt::format("{{{{steps.run.outputs.parameters.{}}}}}", p.name);
        ListAt(tmpl["outputs"], "parameters").Add(std::move(e));
      }
      for (const auto& a : t_.outputs->artifacts) {
        YamlNode e;
        e["name"] = a.name;
        e["from"] = fmt::format("{{{{steps.run.outputs.artifacts.{}}}}}", a.name);
        ListAt(tmpl["outputs"], "artifacts").Add(std::move(e));
      }
    }
  }
  tmpl["steps"] = std::move(steps);
  return tmpl;
}

}  // namespace sluice
