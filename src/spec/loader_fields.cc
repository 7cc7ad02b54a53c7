// The Reader's readers for the parts that pipelines and components share: params, retry,
// resources, cache, outputs and env.
#include "spec/depends.h"
#include "spec/yaml_reader.h"

namespace sluice {

Result<WorkingDir> Reader::WorkingDirOf(const YNode& n) const {
  SLUICE_TRY(w, Str(n, "workingDir"));
  if (*w == "attempt") return WorkingDir::kAttempt;
  if (*w == "pipeline") return WorkingDir::kPipeline;
  static const std::vector<std::string> kChoices = {"attempt", "pipeline"};
  return FailAt(Loc(n), "workingDir must be attempt (a fresh folder for each attempt, the "
                "default) or pipeline (the pipeline file's folder), not {}{}", Quote(*w),
                DidYouMean(*w, kChoices));
}

// A container image reference (registry/name:tag or @digest): one word, checked no further,
// since only the export's target resolves it.
Result<std::string> Reader::ImageOf(const YNode& n) const {
  SLUICE_TRY(image, Str(n, "image"));
  if (image->empty() || image->find_first_of(" \t\n") != std::string::npos) {
    return FailAt(Loc(n), "image must be one word such as python:3.12-slim, not {}",
                  Quote(*image));
  }
  return *image;
}

Result<ParamType> Reader::TypeOf(const YNode& n) const {
  SLUICE_TRY(t, Str(n, "type"));
  static const std::vector<std::string> kTypes = {"string", "int", "number", "bool", "list", "map"};
  auto it = std::find(kTypes.begin(), kTypes.end(), *t);
  if (it == kTypes.end()) {
    return FailAt(Loc(n), "unknown type {}; expected one of string, int, number, bool, list, "
                  "map{}", Quote(*t), DidYouMean(*t, kTypes));
  }
  return static_cast<ParamType>(it - kTypes.begin());
}

Result<std::vector<ParamDecl>> Reader::Params(const YNode& n) const {
  SLUICE_TRY_STATUS(ExpectList(n, "params"));
  std::vector<ParamDecl> out;
  std::set<std::string> seen;
  for (const auto& p : n) {
    SLUICE_TRY_STATUS(ExpectMap(p, "a param"));
    SLUICE_TRY_STATUS(CheckKeys(p, {"name", "type", "default", "required", "description", "secret"},
                                "a param"));
    ParamDecl d;
    d.loc = Loc(p);
    if (!p["name"]) return FailAt(d.loc, "a param needs a name");
    SLUICE_TRY(name, Name(p["name"], "param name"));
    d.name = *name;
    if (!seen.insert(d.name).second) {
      return FailAt(Loc(p["name"]), "duplicate param {}", Quote(d.name));
    }
    if (p["type"]) {
      SLUICE_TRY(t, TypeOf(p["type"]));
      d.type = *t;
    }
    if (p["required"]) {
      SLUICE_TRY(r, Bool(p["required"], "required"));
      d.required = *r;
    }
    if (p["description"]) {
      SLUICE_TRY(desc, Str(p["description"], "description"));
      d.description = *desc;
    }
    if (p["secret"]) {
      SLUICE_TRY(sec, Bool(p["secret"], "secret"));
      d.secret = *sec;
      if (d.secret && d.type != ParamType::kString) {
        return FailAt(Loc(p["secret"]), "secret param {} must be a string (its type is {})",
                      Quote(d.name), ParamTypeName(d.type));
      }
      if (d.secret && p["default"]) {
        return FailAt(Loc(p["default"]), "secret param {} cannot have a default: a value written "
                      "in the pipeline is not secret (use spec.secrets with a file, or pass it "
                      "with -p or ${}", Quote(d.name), SecretParamVar(d.name) + ")");
      }
    }
    if (p["default"]) {
      SLUICE_TRY(v, ToValue(p["default"]));
      if (!ValueMatchesType(*v, d.type)) {
        return FailAt(Loc(p["default"]), "default of param {} is {} {}, but its type is {}{}",
                      Quote(d.name), v->TypeName(), Quote(v->ToText()), ParamTypeName(d.type),
                      d.type == ParamType::kString ? " (quote it to make it a string)" : "");
      }
      d.default_value = *v;
    }
    out.push_back(std::move(d));
  }
  return out;
}

Result<RetryPolicy> Reader::Retry(const YNode& n) const {
  RetryPolicy r;
  r.loc = Loc(n);
  if (n.IsScalar()) {  // retry: 3
    SLUICE_TRY(limit, Int(n, "retry", 0, 1000));
    r.limit = static_cast<int>(*limit);
    return r;
  }
  SLUICE_TRY_STATUS(ExpectMap(n, "retry"));
  SLUICE_TRY_STATUS(CheckKeys(n, {"limit", "backoff", "on", "except", "when"}, "retry"));
  if (n["limit"]) {
    SLUICE_TRY(limit, Int(n["limit"], "retry.limit", 0, 1000));
    r.limit = static_cast<int>(*limit);
  }
  if (const auto& b = n["backoff"]) {
    SLUICE_TRY_STATUS(ExpectMap(b, "retry.backoff"));
    SLUICE_TRY_STATUS(CheckKeys(b, {"initial", "factor", "max", "jitter"}, "retry.backoff"));
    if (b["initial"]) {
      SLUICE_TRY(ms, Duration(b["initial"], "backoff.initial"));
      r.initial_ms = *ms;
    }
    if (b["max"]) {
      SLUICE_TRY(ms, Duration(b["max"], "backoff.max"));
      r.max_ms = *ms;
    }
    if (b["factor"]) {
      SLUICE_TRY(f, Number(b["factor"], "backoff.factor"));
      if (*f < 1 || *f > 100) return FailAt(Loc(b["factor"]), "backoff.factor must be from 1 to 100");
      r.factor = *f;
    }
    if (b["jitter"]) {
      SLUICE_TRY(j, Str(b["jitter"], "backoff.jitter"));
      static const std::vector<std::string> kJ = {"none", "full", "equal"};
      auto it = std::find(kJ.begin(), kJ.end(), *j);
      if (it == kJ.end()) {
        return FailAt(Loc(b["jitter"]), "jitter must be none, full or equal{}", DidYouMean(*j, kJ));
      }
      r.jitter = static_cast<Jitter>(it - kJ.begin());
    }
  }
  if (n["on"]) {
    SLUICE_TRY(on, ErrorMatches(n["on"], "retry.on"));
    r.on = std::move(*on);
  }
  if (n["except"]) {
    SLUICE_TRY(ex, ErrorMatches(n["except"], "retry.except"));
    r.except = std::move(*ex);
  }
  if (n["when"]) {
    SLUICE_TRY(f, Field(n["when"], "retry.when", true));
    if (f->literal || !f->tmpl.has_placeholders()) {
      return FailAt(f->loc, "retry.when must be a condition inside ${{{{ }}}}, e.g. "
                    "\"${{{{ error.exitCode != 2 }}}}\"");
    }
    r.when = std::make_shared<const TemplateField>(std::move(*f));
  }
  return r;
}

namespace {

const std::vector<std::string> kErrorClasses = {
    "any",   "exit",        "signal",           "timeout",       "spawn-error",
    "lost",  "cancelled",   "circuit-open",     "expression-error", "outputs-error",
    "policy-denied", "approval-rejected", "unschedulable", "oom"};

const std::vector<std::pair<std::string, int>> kSignals = {
    {"SIGHUP", 1}, {"SIGINT", 2},  {"SIGQUIT", 3},  {"SIGILL", 4},  {"SIGABRT", 6},
    {"SIGBUS", 7}, {"SIGFPE", 8},  {"SIGKILL", 9},  {"SIGSEGV", 11}, {"SIGPIPE", 13},
    {"SIGTERM", 15}};

// "exit(3)" -> 3; "exit" -> -1; anything else -> nullopt.
std::optional<int> CodeOf(std::string_view s, std::string_view cls, int max) {
  if (s == cls) return -1;
  if (!s.starts_with(cls) || s.size() < cls.size() + 3 || s[cls.size()] != '(' || s.back() != ')') {
    return std::nullopt;
  }
  std::string_view num = s.substr(cls.size() + 1, s.size() - cls.size() - 2);
  if (!AllDigits(num) || num.size() > 3) return std::nullopt;
  int n = std::stoi(std::string(num));
  if (n < 1 || n > max) return std::nullopt;
  return n;
}

}  // namespace

bool MatchesError(const std::vector<ErrorMatch>& list, ErrorClass cls, int code) {
  for (const auto& m : list) {
    if (m.cls == ErrorClass::kAny || (m.cls == cls && (m.code < 0 || m.code == code))) return true;
  }
  return false;
}

std::string ErrorLabel(std::string_view cls, int code) {
  auto c = ParseErrorClass(cls);
  return c ? ErrorLabel(*c, code) : std::string(cls);
}

Result<std::vector<ErrorMatch>> Reader::ErrorMatches(const YNode& n, std::string_view what) const {
  SLUICE_TRY_STATUS(ExpectList(n, what));
  std::vector<ErrorMatch> out;
  for (const auto& e : n) {
    SLUICE_TRY(s, Str(e, what));
    Value v = ScalarValue(e);
    ErrorMatch m;
    if (v.is_int() && v.as_int() >= 1 && v.as_int() <= 255) {
      m = {ErrorClass::kExit, static_cast<int>(v.as_int())};
    } else if (auto code = CodeOf(*s, "exit", 255)) {
      m = {ErrorClass::kExit, *code};
    } else if (*s == "signal") {
      m = {ErrorClass::kSignal, -1};
    } else if (StartsWith(*s, "signal:") || StartsWith(*s, "signal(")) {
      std::string_view num = std::string_view(*s).substr(7);
      if (num.ends_with(')') && (*s)[6] == '(') num.remove_suffix(1);
      int sig = AllDigits(num) && !num.empty() && num.size() <= 2 ? std::stoi(std::string(num)) : 0;
      if (sig <= 0 || sig > 64) return FailAt(Loc(e), "unknown signal {}", Quote(*s));
      m = {ErrorClass::kSignal, sig};
    } else if (StartsWith(*s, "SIG")) {
      auto sig = std::find_if(kSignals.begin(), kSignals.end(),
                              [&](const auto& named) { return named.first == *s; });
      if (sig == kSignals.end()) return FailAt(Loc(e), "unknown signal {}", Quote(*s));
      m = {ErrorClass::kSignal, sig->second};
    } else if (std::find(kErrorClasses.begin(), kErrorClasses.end(), *s) != kErrorClasses.end()) {
      m = {*ParseErrorClass(*s), -1};
    } else {
      return FailAt(Loc(e), "{} entries are error classes ({}), exit codes (3 or exit(3)) or "
                    "signals (SIGKILL or signal(9)); got {}{}", what, Join(kErrorClasses, ", "),
                    Quote(*s), DidYouMean(*s, kErrorClasses));
    }
    out.push_back(std::move(m));
  }
  return out;
}

Result<Resources> Reader::ResourcesOf(const YNode& n) const {
  SLUICE_TRY_STATUS(ExpectMap(n, "resources"));
  Resources r;
  r.set = true;
  std::set<std::string> seen;
  for (auto it = n.begin(); it != n.end(); ++it) {
    SLUICE_TRY(key, Name(it->first, "resource name"));
    if (!seen.insert(*key).second) return FailAt(Loc(it->first), "duplicate resource {}", Quote(*key));
    std::optional<double> q;
    if (it->second.IsScalar()) q = ParseQuantity(it->second.Scalar());
    if (!q || !std::isfinite(*q) || *q < 0) {
      return FailAt(Loc(it->second), "resource {} must be a non-negative quantity such as 2, "
                    "500m or 512Mi", Quote(*key));
    }
    if (*key == "cpu") r.cpu = *q;
    else if (*key == "memory") r.memory = *q;
    else if (*key == "gpu") r.gpu = *q;
    else r.pools.emplace_back(*key, *q);
  }
  return r;
}

Status Reader::PlacementOf(const YNode& n, Placement* p) const {
  if (const YNode& e = n["executor"]) {
    SLUICE_TRY(name, Str(e, "executor"));
    if (*name == "local") {
      p->executor = ExecutorKind::kLocal;
    } else if (*name == "worker") {
      p->executor = ExecutorKind::kWorker;
    } else if (*name == "slurm") {
      p->executor = ExecutorKind::kSlurm;
    } else {
      static const std::vector<std::string> kKinds = {"local", "worker", "slurm"};
      return FailAt(Loc(e), "executor must be local (a process beside the engine, the default), "
                    "worker (a sluice worker, docs/workers.md) or slurm (a Slurm job, "
                    "docs/slurm.md), not {}{}", Quote(*name), DidYouMean(*name, kKinds));
    }
  }
  if (const YNode& sl = n["slurm"]) SLUICE_TRY_STATUS(SlurmOf(sl, p));
  const YNode& pl = n["placement"];
  if (!pl) return {};
  SLUICE_TRY_STATUS(ExpectMap(pl, "placement"));
  SLUICE_TRY_STATUS(CheckKeys(pl, {"labels"}, "placement"));
  std::vector<std::pair<std::string, std::string>> labels;
  if (const YNode& l = pl["labels"]) {
    SLUICE_TRY_STATUS(ExpectMap(l, "placement.labels"));
    for (auto it = l.begin(); it != l.end(); ++it) {
      SLUICE_TRY(key, Str(it->first, "a label name"));
      if (!it->second.IsScalar()) {
        return FailAt(Loc(it->second), "label {} must be a text value", Quote(*key));
      }
      if (key->empty() || key->find_first_of(",= ") != std::string::npos) {
        return FailAt(Loc(it->first), "label name {} must be non-empty, without ',', '=' or "
                      "spaces", Quote(*key));
      }
      for (const auto& [k, v] : labels) {
        if (k == *key) return FailAt(Loc(it->first), "duplicate label {}", Quote(*key));
      }
      labels.emplace_back(*key, it->second.Scalar());
    }
  }
  std::sort(labels.begin(), labels.end());
  p->labels = std::move(labels);
  return {};
}

// slurm: {partition, account, qos, constraint, extra: [...]}. extra holds sbatch options as they
// are, except those Sluice sets itself to track the job (docs/slurm.md).
Status Reader::SlurmOf(const YNode& n, Placement* p) const {
  SLUICE_TRY_STATUS(ExpectMap(n, "slurm"));
  SLUICE_TRY_STATUS(CheckKeys(n, {"partition", "account", "qos", "constraint", "extra"}, "slurm"));
  SlurmSpec s;
  s.loc = Loc(n);
  std::pair<const char*, std::string*> fields[] = {{"partition", &s.partition},
                                                   {"account", &s.account},
                                                   {"qos", &s.qos},
                                                   {"constraint", &s.constraint}};
  for (auto& [key, out] : fields) {
    const YNode& v = n[key];
    if (!v) continue;
    SLUICE_TRY(text, Str(v, fmt::format("slurm.{}", key)));
    if (text->empty() || text->find_first_of(" \t\n") != std::string::npos) {
      return FailAt(Loc(v), "slurm.{} must be a name without spaces, not {}", key, Quote(*text));
    }
    *out = *text;
  }
  if (const YNode& extra = n["extra"]) {
    SLUICE_TRY_STATUS(ExpectList(extra, "slurm.extra"));
    static const std::vector<std::string> kOwn = {
        "--array", "-a", "--output", "-o", "--error", "-e", "--chdir", "-D", "--parsable",
        "--wrap", "--job-name", "-J", "--time", "-t", "--cpus-per-task", "-c", "--mem",
        "--gres", "--export", "--requeue", "--no-requeue", "--comment"};
    for (const YNode& o : extra) {
      SLUICE_TRY(opt, Str(o, "a slurm.extra option"));
      if (!opt->starts_with('-')) {
        return FailAt(Loc(o), "slurm.extra entries are sbatch options such as "
                      "--nodes=2 or --exclusive, not {}", Quote(*opt));
      }
      const std::string flag = opt->substr(0, opt->find('='));
      const bool own = std::find(kOwn.begin(), kOwn.end(), flag) != kOwn.end() ||
                       (flag.size() > 2 && flag[1] != '-' &&
                        std::find(kOwn.begin(), kOwn.end(), flag.substr(0, 2)) != kOwn.end());
      if (own) {
        return FailAt(Loc(o), "slurm.extra cannot set {}: Sluice sets it from the task "
                      "(resources, timeout, forEach; docs/slurm.md)", flag);
      }
      s.extra.push_back(*opt);
    }
  }
  p->slurm = std::move(s);
  return {};
}

Result<CacheSpec> Reader::Cache(const YNode& n) const {
  CacheSpec c;
  if (n.IsScalar()) {
    SLUICE_TRY(b, Bool(n, "cache"));
    c.enabled = *b;
    return c;
  }
  SLUICE_TRY_STATUS(ExpectMap(n, "cache"));
  SLUICE_TRY_STATUS(CheckKeys(n, {"ttl"}, "cache"));
  c.enabled = true;
  if (n["ttl"]) {
    SLUICE_TRY(ttl, Duration(n["ttl"], "cache.ttl"));
    c.ttl_ms = *ttl;
  }
  return c;
}

// depends: an expression over how the named tasks ended (spec/depends.h). Its names join needs.
Status Reader::Depends(const YNode& depends, TaskSpec* t) const {
  SLUICE_TRY(text, Str(depends, "depends"));
  auto expr = DependsExpr::Parse(*text);
  if (!expr) return FailAt(Loc(depends), "depends: {}", expr.error().message);
  for (const std::string& name : (*expr)->names()) {
    bool listed = false;
    for (const auto& n : t->needs) listed = listed || n.first == name;
    if (!listed) t->needs.emplace_back(name, Loc(depends));
  }
  t->MutableOptions().depends = std::move(*expr);
  return {};
}

Result<OutputsDecl> Reader::Outputs(const YNode& n) const {
  SLUICE_TRY_STATUS(ExpectMap(n, "outputs"));
  SLUICE_TRY_STATUS(CheckKeys(n, {"params", "artifacts"}, "outputs"));
  OutputsDecl out;
  std::set<std::string> seen;
  if (const auto& ps = n["params"]) {
    SLUICE_TRY_STATUS(ExpectList(ps, "outputs.params"));
    for (const auto& p : ps) {
      SLUICE_TRY_STATUS(ExpectMap(p, "an output param"));
      SLUICE_TRY_STATUS(CheckKeys(p, {"name", "from", "type", "default"}, "an output param"));
      OutputParamDecl d;
      d.loc = Loc(p);
      if (!p["name"] || !p["from"]) return FailAt(d.loc, "an output param needs name and from");
      SLUICE_TRY(name, Name(p["name"], "output name"));
      d.name = *name;
      if (!seen.insert(d.name).second) return FailAt(Loc(p["name"]), "duplicate output {}", Quote(d.name));
      const auto& from = p["from"];
      SLUICE_TRY_STATUS(ExpectMap(from, "from"));
      SLUICE_TRY_STATUS(CheckKeys(from, {"file", "json", "stdout"}, "from"));
      if (from["stdout"] && !from["file"] && !from["json"]) {
        SLUICE_TRY(mode, Str(from["stdout"], "from.stdout"));
        if (*mode == "text") d.source = OutputSource::kStdoutText;
        else if (*mode == "json") d.source = OutputSource::kStdoutJson;
        else return FailAt(Loc(from["stdout"]), "from.stdout must be text or json");
      } else if (from["file"] && !from["stdout"]) {
        SLUICE_TRY(path, Str(from["file"], "from.file"));
        if (path->empty() || (*path)[0] == '/' || path->find("..") != std::string::npos) {
          return FailAt(Loc(from["file"]), "from.file must be a relative path inside the task's "
                        "working directory");
        }
        d.path = *path;
        d.source = OutputSource::kFile;
        if (from["json"]) {
          SLUICE_TRY(jp, Str(from["json"], "from.json"));
          d.json_path = *jp;
          d.source = OutputSource::kFileJson;
        }
      } else {
        return FailAt(Loc(from), "from must be {{file: PATH}}, {{file: PATH, json: dotted.path}} "
                      "or {{stdout: text|json}}");
      }
      if (p["type"]) {
        SLUICE_TRY(t, TypeOf(p["type"]));
        d.type = *t;
      }
      if (p["default"]) {
        if (d.source != OutputSource::kFile) {
          return FailAt(Loc(p["default"]), "default is only for an output read from a file "
                        "(from: {{file: PATH}})");
        }
        SLUICE_TRY(v, Str(p["default"], "default"));
        d.default_value = *v;
      }
      out.params.push_back(std::move(d));
    }
  }
  if (const auto& as = n["artifacts"]) {
    SLUICE_TRY_STATUS(ExpectList(as, "outputs.artifacts"));
    for (const auto& a : as) {
      SLUICE_TRY_STATUS(ExpectMap(a, "an artifact"));
      SLUICE_TRY_STATUS(CheckKeys(a, {"name", "path"}, "an artifact"));
      ArtifactDecl d;
      d.loc = Loc(a);
      if (!a["name"] || !a["path"]) return FailAt(d.loc, "an artifact needs name and path");
      SLUICE_TRY(name, Name(a["name"], "artifact name"));
      d.name = *name;
      if (!seen.insert(d.name).second) return FailAt(Loc(a["name"]), "duplicate output {}", Quote(d.name));
      SLUICE_TRY(path, Str(a["path"], "artifact path"));
      if (path->empty() || (*path)[0] == '/' || path->find("..") != std::string::npos) {
        return FailAt(Loc(a["path"]), "artifact path must be relative to the task's working "
                      "directory");
      }
      d.path = *path;
      out.artifacts.push_back(std::move(d));
    }
  }
  return out;
}

Result<std::vector<std::pair<std::string, TemplateField>>> Reader::Env(const YNode& n) const {
  SLUICE_TRY_STATUS(ExpectMap(n, "env"));
  std::vector<std::pair<std::string, TemplateField>> out;
  std::set<std::string> seen;
  for (auto it = n.begin(); it != n.end(); ++it) {
    SLUICE_TRY(key, Str(it->first, "env name"));
    if (!IsEnvName(*key)) {
      return FailAt(Loc(it->first), "env name {} is not a valid variable name", Quote(*key));
    }
    if (!seen.insert(*key).second) return FailAt(Loc(it->first), "duplicate env {}", Quote(*key));
    if (StartsWith(*key, "SLUICE_")) {
      return FailAt(Loc(it->first), "env names starting with SLUICE_ are reserved");
    }
    SLUICE_TRY(f, Field(it->second, "env value", false));
    out.emplace_back(*key, std::move(*f));
  }
  return out;
}

}  // namespace sluice
