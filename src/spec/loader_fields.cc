// The Reader's readers for the parts that pipelines and components share: params, retry,
// resources, cache, outputs and env.
#include "spec/yaml_reader.h"

namespace sluice {

Result<std::vector<ParamDecl>> Reader::Params(const YNode& n) const {
  SLUICE_TRY_STATUS(ExpectList(n, "params"));
  std::vector<ParamDecl> out;
  std::set<std::string> seen;
  for (const auto& p : n) {
    SLUICE_TRY_STATUS(ExpectMap(p, "a param"));
    SLUICE_TRY_STATUS(CheckKeys(p, {"name", "type", "default", "required", "description"}, "a param"));
    ParamDecl d;
    d.loc = Loc(p);
    if (!p["name"]) return FailAt(d.loc, "a param needs a name");
    SLUICE_TRY(name, Name(p["name"], "param name"));
    d.name = *name;
    if (!seen.insert(d.name).second) {
      return FailAt(Loc(p["name"]), "duplicate param {}", Quote(d.name));
    }
    if (p["type"]) {
      SLUICE_TRY(t, Str(p["type"], "type"));
      static const std::vector<std::string> kTypes = {"string", "int", "number", "bool", "list", "map"};
      auto it = std::find(kTypes.begin(), kTypes.end(), *t);
      if (it == kTypes.end()) {
        return FailAt(Loc(p["type"]), "unknown type {}; expected one of string, int, number, bool, "
                      "list, map{}", Quote(*t), DidYouMean(*t, kTypes));
      }
      d.type = static_cast<ParamType>(it - kTypes.begin());
    }
    if (p["required"]) {
      SLUICE_TRY(r, Bool(p["required"], "required"));
      d.required = *r;
    }
    if (p["description"]) {
      SLUICE_TRY(desc, Str(p["description"], "description"));
      d.description = *desc;
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
  SLUICE_TRY_STATUS(CheckKeys(n, {"limit", "backoff", "on", "except"}, "retry"));
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
  if (const auto& on = n["on"]) {
    SLUICE_TRY_STATUS(ExpectList(on, "retry.on"));
    for (const auto& e : on) {
      SLUICE_TRY(s, Str(e, "a retry.on entry"));
      Value v = ScalarValue(e);
      static const std::vector<std::string> kClasses = {"any", "timeout", "lost", "spawn-error"};
      if (v.is_int() && v.as_int() >= 1 && v.as_int() <= 255) {
        r.on_exit_codes.push_back(static_cast<int>(v.as_int()));
      } else if (StartsWith(*s, "SIG") || StartsWith(*s, "signal:")) {
        static const std::vector<std::pair<std::string, int>> kSignals = {
            {"SIGHUP", 1}, {"SIGINT", 2}, {"SIGQUIT", 3}, {"SIGILL", 4}, {"SIGABRT", 6},
            {"SIGBUS", 7}, {"SIGFPE", 8}, {"SIGKILL", 9}, {"SIGSEGV", 11}, {"SIGPIPE", 13},
            {"SIGTERM", 15}};
        int sig = 0;
        for (const auto& [name, num] : kSignals) {
          if (*s == name) sig = num;
        }
        if (StartsWith(*s, "signal:")) {
          std::string_view num = std::string_view(*s).substr(7);
          sig = AllDigits(num) && num.size() <= 2 ? std::stoi(std::string(num)) : 0;
        }
        if (sig <= 0 || sig > 64) return FailAt(Loc(e), "unknown signal {}", Quote(*s));
        r.on_signals.push_back(sig);
      } else if (std::find(kClasses.begin(), kClasses.end(), *s) != kClasses.end()) {
        r.on_classes.push_back(*s);
      } else {
        return FailAt(Loc(e), "retry.on entries are exit codes (1-255), signals (SIGKILL), "
                      "timeout, lost, spawn-error or any; got {}{}", Quote(*s),
                      DidYouMean(*s, kClasses));
      }
    }
  }
  if (const auto& ex = n["except"]) {
    SLUICE_TRY_STATUS(ExpectList(ex, "retry.except"));
    for (const auto& e : ex) {
      SLUICE_TRY(code, Int(e, "a retry.except exit code", 1, 255));
      r.except_exit_codes.push_back(static_cast<int>(*code));
    }
  }
  return r;
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
    else r.pools[*key] = *q;
  }
  return r;
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

Result<OutputsDecl> Reader::Outputs(const YNode& n) const {
  SLUICE_TRY_STATUS(ExpectMap(n, "outputs"));
  SLUICE_TRY_STATUS(CheckKeys(n, {"params", "artifacts"}, "outputs"));
  OutputsDecl out;
  std::set<std::string> seen;
  if (const auto& ps = n["params"]) {
    SLUICE_TRY_STATUS(ExpectList(ps, "outputs.params"));
    for (const auto& p : ps) {
      SLUICE_TRY_STATUS(ExpectMap(p, "an output param"));
      SLUICE_TRY_STATUS(CheckKeys(p, {"name", "from"}, "an output param"));
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
