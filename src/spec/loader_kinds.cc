// The readers of the documents besides pipelines: Component, Breaker, Policy and Waiver.
#include <set>

#include "spec/text_checks.h"
#include "spec/yaml_reader.h"

namespace sluice {

Result<ComponentSpec> Reader::Component(const YNode& doc) const {
  SLUICE_TRY_STATUS(CheckKeys(doc, {"apiVersion", "kind", "metadata", "spec"}, "a Component"));
  ComponentSpec c;
  c.loc = Loc(doc);
  const auto& md = doc["metadata"];
  SLUICE_TRY_STATUS(CheckKeys(md, {"name", "version", "labels", "description"}, "metadata"));
  if (!md["name"]) return FailAt(Loc(md), "metadata needs a name");
  if (!md["version"]) return FailAt(Loc(md), "a Component needs metadata.version (semver, e.g. 1.0.0)");
  SLUICE_TRY(name, Name(md["name"], "component name"));
  c.name = *name;
  c.loc = Loc(md["name"]);
  SLUICE_TRY(version, Str(md["version"], "version"));
  std::vector<int> parts;
  if (!ParseVersionParts(*version, 3, &parts) || parts.size() != 3) {
    return FailAt(Loc(md["version"]), "version {} is not semver MAJOR.MINOR.PATCH (e.g. 1.2.0, "
                  "at most 9 digits a part)", Quote(*version));
  }
  c.version = *version;
  c.major = parts[0];
  c.minor = parts[1];
  c.patch = parts[2];
  const auto& spec = doc["spec"];
  ScopedNames names(*this, spec);
  SLUICE_TRY_STATUS(ComponentKeys(spec));
  if (spec["params"]) {
    SLUICE_TRY(ps, Params(spec["params"]));
    c.params = std::move(*ps);
    for (const auto& d : c.params) {
      if (d.secret) {
        return FailAt(d.loc, "component param {} cannot be secret: a component receives secrets "
                      "through its task's secrets: and env:", Quote(d.name));
      }
    }
  }
  if (spec["tasks"]) {
    SLUICE_TRY_STATUS(DagTemplate(spec, &c));
    return c;
  }
  if (spec["outputs"]) {
    SLUICE_TRY(o, Outputs(spec["outputs"]));
    c.outputs = std::move(*o);
  }
  if (spec["argoSubstitution"]) {
    SLUICE_TRY(b, Bool(spec["argoSubstitution"], "argoSubstitution"));
    c.argo_substitution = *b;
  }
  {
    // The one exception to "no placeholder in inline code" (docs/interop.md): a component that
    // declares Argo's substitution, which the admission input shows to policies.
    const bool saved = inline_code_placeholders_allowed_;
    inline_code_placeholders_allowed_ = saved || c.argo_substitution;
    Status body = BodyOf(spec, MapKeys(spec), &c.body, false, "component", c.name);
    inline_code_placeholders_allowed_ = saved;
    SLUICE_TRY_STATUS(body);
  }
  if (spec["env"]) {
    SLUICE_TRY(env, Env(spec["env"]));
    c.env = std::move(*env);
  }
  if (spec["retry"]) {
    SLUICE_TRY(r, Retry(spec["retry"]));
    c.retry = std::move(*r);
  }
  if (spec["timeout"]) {
    SLUICE_TRY(ms, Duration(spec["timeout"], "timeout"));
    c.timeout_ms = *ms;
  }
  if (spec["resources"]) {
    SLUICE_TRY(r, ResourcesOf(spec["resources"]));
    c.resources = std::move(*r);
  }
  if (spec["cache"]) {
    SLUICE_TRY(cc, Cache(spec["cache"]));
    c.cache = *cc;
  }
  if (spec["workingDir"]) {
    SLUICE_TRY(w, WorkingDirOf(spec["workingDir"]));
    c.working_dir = *w;
  }
  if (spec["privatePaths"]) SLUICE_TRY_STATUS(PrivatePaths(spec["privatePaths"], &c));
  if (spec["image"]) {
    SLUICE_TRY(image, ImageOf(spec["image"]));
    c.image = *image;
  }
  SLUICE_TRY_STATUS(PlacementOf(spec, &c.placement));
  return c;
}

// privatePaths: absolute folders, each the attempt's own in its sandbox. Not the host's system
// folders, which the sandbox needs as they are.
Status Reader::PrivatePaths(const YNode& list, ComponentSpec* c) const {
  SLUICE_TRY_STATUS(ExpectList(list, "privatePaths"));
  for (const YNode& n : list) {
    SLUICE_TRY(p, Str(n, "a private path"));
    std::string_view top = std::string_view(*p).substr(1, p->find('/', 1) - 1);
    if (!p->starts_with('/') || p->size() < 2 || p->find("..") != std::string::npos ||
        p->find("//") != std::string::npos || p->ends_with('/') || top == "proc" ||
        top == "dev" || top == "sys" || top == "usr" || top == "etc" || top == "lib" ||
        top == "bin" || top == "attempt") {
      return FailAt(Loc(n), "private path {} must be an absolute folder such as /tmp or "
                    "/mnt/out, without .., and not under /proc, /dev, /sys, /usr, /etc, /lib, "
                    "/bin or /attempt", Quote(*p));
    }
    c->private_paths.push_back(*p);
  }
  return {};
}

// A Component spec's keys: a DAG template's (tasks:) or a single body's.
Status Reader::ComponentKeys(const YNode& spec) const {
  if (spec["tasks"]) {
    SLUICE_TRY_STATUS(CheckKeys(spec, {"params", "outputs", "tasks", "finally", "defaults"},
                                "a DAG template's spec (a Component with tasks:; its tasks "
                                "say how they run, and defaults: holds their retry, timeout "
                                "and resources)"));
  } else {
    SLUICE_TRY_STATUS(CheckKeys(spec, {"params", "outputs", "run", "script", "shell", "env",
                                       "retry", "timeout", "resources", "cache", "finally",
                                       "defaults", "workingDir", "executor", "placement",
                                       "slurm", "argoSubstitution", "privatePaths", "image"},
                                "a Component spec"));
    for (const char* key : {"finally", "defaults"}) {
      if (spec[key]) {
        return FailAt(Loc(spec[key]), "{} is only for a DAG template (a Component with tasks:)",
                      key);
      }
    }
  }
  return {};
}

// A DAG template's tasks, finally tasks, defaults and outputs (each `value:` a placeholder
// over its tasks' outputs).
Status Reader::DagTemplate(const YNode& spec, ComponentSpec* c) const {
  c->dag = std::make_unique<DagBody>();
  DagBody& dag = *c->dag;
  SLUICE_TRY_STATUS(ExpectList(spec["tasks"], "tasks"));
  if (spec["tasks"].size() == 0) {
    return FailAt(Loc(spec["tasks"]), "a DAG template needs at least one task");
  }
  dag.tasks.reserve(spec["tasks"].size());
  for (const auto& t : spec["tasks"]) SLUICE_TRY_STATUS(TaskInto(t, &dag.tasks.emplace_back()));
  if (const auto& fin = spec["finally"]) {
    SLUICE_TRY_STATUS(ExpectList(fin, "finally"));
    for (const auto& t : fin) {
      SLUICE_TRY(task, Task(t, TaskKind::kFinally));
      dag.finally_tasks.push_back(std::move(*task));
    }
  }
  if (const auto& d = spec["defaults"]) SLUICE_TRY_STATUS(Defaults(d, &dag.defaults));
  const auto& outs = spec["outputs"];
  if (!outs) return {};
  SLUICE_TRY_STATUS(ExpectMap(outs, "outputs"));
  SLUICE_TRY_STATUS(CheckKeys(outs, {"params", "artifacts"}, "outputs"));
  std::set<std::string> seen;
  for (const char* group : {"params", "artifacts"}) {
    const auto& list = outs[group];
    if (!list) continue;
    SLUICE_TRY_STATUS(ExpectList(list, fmt::format("outputs.{}", group)));
    for (const auto& o : list) {
      SLUICE_TRY_STATUS(ExpectMap(o, "a template output"));
      SLUICE_TRY_STATUS(CheckKeys(o, {"name", "value"}, "a template output"));
      if (!o["name"] || !o["value"]) {
        return FailAt(Loc(o), "a template output needs name and value (e.g. value: "
                      "\"${{{{ tasks.evaluate.outputs.params.accuracy }}}}\")");
      }
      SLUICE_TRY(name, Name(o["name"], "output name"));
      if (!seen.insert(*name).second) return FailAt(Loc(o["name"]), "duplicate output {}", Quote(*name));
      SLUICE_TRY(f, Field(o["value"], "an output's value", false));
      if (!f->tmpl.has_placeholders()) {
        return FailAt(f->loc, "a template output's value reads its tasks' outputs, e.g. "
                      "\"${{{{ tasks.NAME.outputs.{}.NAME }}}}\"", group);
      }
      if (std::string_view(group) == "params") {
        OutputParamDecl d;
        d.name = *name;
        d.loc = Loc(o);
        c->outputs.params.push_back(std::move(d));
      } else {
        ArtifactDecl d;
        d.name = *name;
        d.loc = Loc(o);
        c->outputs.artifacts.push_back(std::move(d));
      }
      dag.output_values.emplace_back(*name, std::move(*f));
    }
  }
  return {};
}

Status Reader::BreakerSettings(const YNode& n, BreakerSpec* b) const {
  SLUICE_TRY_STATUS(CheckKeys(n, {"name", "slidingWindowType", "slidingWindowSize",
                                  "minimumNumberOfCalls", "failureRateThreshold",
                                  "slowCallRateThreshold", "slowCallDurationThreshold",
                                  "waitDurationInOpenState", "permittedNumberOfCallsInHalfOpenState",
                                  "maxWaitDurationInHalfOpenState"},
                              "a breaker"));
  if (const auto& t = n["slidingWindowType"]) {
    SLUICE_TRY(type, Str(t, "slidingWindowType"));
    if (*type != "COUNT_BASED" && *type != "TIME_BASED") {
      return FailAt(Loc(t), "slidingWindowType must be COUNT_BASED (the last N calls) or "
                    "TIME_BASED (the calls of the last N seconds), not {}", Quote(*type));
    }
    b->time_based = *type == "TIME_BASED";
  }
  auto count = [&](const char* key, int* out) -> Status {
    if (!n[key]) return {};
    SLUICE_TRY(v, Int(n[key], key, 1, 1'000'000));
    *out = static_cast<int>(*v);
    return {};
  };
  auto percent = [&](const char* key, double* out) -> Status {
    if (!n[key]) return {};
    SLUICE_TRY(v, Number(n[key], key));
    if (*v <= 0 || *v > 100) return FailAt(Loc(n[key]), "{} is a percentage: more than 0, at most 100", key);
    *out = *v;
    return {};
  };
  auto duration = [&](const char* key, int64_t* out) -> Status {
    if (!n[key]) return {};
    SLUICE_TRY(ms, Duration(n[key], key));
    *out = *ms;
    return {};
  };
  SLUICE_TRY_STATUS(count("slidingWindowSize", &b->window_size));
  SLUICE_TRY_STATUS(count("minimumNumberOfCalls", &b->minimum_calls));
  SLUICE_TRY_STATUS(count("permittedNumberOfCallsInHalfOpenState", &b->half_open_calls));
  SLUICE_TRY_STATUS(percent("failureRateThreshold", &b->failure_rate));
  SLUICE_TRY_STATUS(percent("slowCallRateThreshold", &b->slow_rate));
  SLUICE_TRY_STATUS(duration("slowCallDurationThreshold", &b->slow_ms));
  SLUICE_TRY_STATUS(duration("waitDurationInOpenState", &b->wait_open_ms));
  SLUICE_TRY_STATUS(duration("maxWaitDurationInHalfOpenState", &b->max_wait_half_open_ms));
  return {};
}

Result<BreakerSpec> Reader::Breaker(const YNode& doc) const {
  const auto& md = doc["metadata"];
  SLUICE_TRY_STATUS(CheckKeys(md, {"name", "labels", "description"}, "metadata"));
  if (!md["name"]) return FailAt(Loc(md), "metadata needs a name");
  BreakerSpec b;
  SLUICE_TRY(name, Name(md["name"], "breaker name"));
  b.name = *name;
  b.loc = Loc(md["name"]);
  if (doc["spec"]["name"]) return FailAt(Loc(doc["spec"]["name"]), "a Breaker is named by metadata.name");
  SLUICE_TRY_STATUS(BreakerSettings(doc["spec"], &b));
  return b;
}

namespace {

// "2026-12-31" (midnight UTC) or "2026-12-31T18:00:00Z" -> microseconds since the epoch.
std::optional<int64_t> ParseDateUs(std::string_view s) {
  auto num = [&](size_t at, size_t len, int* out) {
    if (at + len > s.size() || !AllDigits(s.substr(at, len))) return false;
    *out = std::stoi(std::string(s.substr(at, len)));
    return true;
  };
  int y, mo, d, h = 0, mi = 0, se = 0;
  if (!num(0, 4, &y) || s.size() < 10 || s[4] != '-' || !num(5, 2, &mo) || s[7] != '-' ||
      !num(8, 2, &d) || mo < 1 || mo > 12 || d < 1 || d > 31) {
    return std::nullopt;
  }
  if (s.size() != 10) {
    if (s.size() != 20 || (s[10] != 'T' && s[10] != ' ') || !num(11, 2, &h) || s[13] != ':' ||
        !num(14, 2, &mi) || s[16] != ':' || !num(17, 2, &se) || s[19] != 'Z' || h > 23 ||
        mi > 59 || se > 60) {
      return std::nullopt;
    }
  }
  int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  return (days * 86400 + h * 3600 + mi * 60 + se) * 1'000'000;
}

}  // namespace

Result<std::shared_ptr<const Expression>> Reader::Cel(const YNode& n, std::string_view what) const {
  SLUICE_TRY(text, Str(n, what));
  if (text->find("${{") != std::string::npos) {
    return FailAt(Loc(n), "{} is a CEL expression itself; write it without ${{{{ }}}}", what);
  }
  auto e = Expression::Parse(*text);
  if (!e) {
    std::string msg = e.error().message;
    int col = 0;
    if (std::sscanf(msg.c_str(), "column %d:", &col) == 1) {
      msg = fmt::format("{} (in the expression, column {})", msg.substr(msg.find(':') + 2), col);
    }
    return FailAt(Loc(n), "{}: {}", what, msg);
  }
  return std::make_shared<const Expression>(std::move(*e));
}

// The keys are read in this order, so that the first error of a file is always the same.
Result<PolicySpec> Reader::Policy(const YNode& doc) const {
  const auto& md = doc["metadata"];
  SLUICE_TRY_STATUS(CheckKeys(md, {"name", "labels", "description"}, "metadata"));
  if (!md["name"]) return FailAt(Loc(md), "metadata needs a name");
  PolicySpec p;
  SLUICE_TRY(name, Name(md["name"], "policy name"));
  p.name = *name;
  p.loc = Loc(md["name"]);
  const auto& spec = doc["spec"];
  SLUICE_TRY_STATUS(CheckKeys(spec, {"stage", "match", "variables", "rules", "failurePolicy"},
                              "a Policy spec"));
  if (spec["stage"]) {
    SLUICE_TRY(stage, Str(spec["stage"], "stage"));
    if (*stage != "admission" && *stage != "gate" && *stage != "promotion") {
      return FailAt(Loc(spec["stage"]), "stage must be admission (the compiled pipeline, when a "
                    "run is submitted), gate (a task's inputs, before it starts) or promotion (a "
                    "deploy's candidate model, before it is rolled out), not {}",
                    Quote(*stage));
    }
    p.stage = *stage;
  }
  if (const auto& m = spec["match"]) SLUICE_TRY_STATUS(PolicyMatch(m, &p));
  if (const auto& vs = spec["variables"]) SLUICE_TRY_STATUS(PolicyVariables(vs, &p));
  if (!spec["rules"]) return FailAt(Loc(spec), "a Policy needs rules");
  SLUICE_TRY_STATUS(PolicyRules(spec["rules"], &p));
  if (spec["failurePolicy"]) {
    SLUICE_TRY(fp, Str(spec["failurePolicy"], "failurePolicy"));
    if (*fp != "fail" && *fp != "ignore") {
      return FailAt(Loc(spec["failurePolicy"]), "failurePolicy must be fail (an evaluation error "
                    "denies) or ignore, not {}", Quote(*fp));
    }
    p.fail_closed = *fp == "fail";
  }
  SLUICE_TRY(content, ToValue(doc));
  p.hash = Sha256Hex(CanonicalJson(*content));
  return p;
}

Status Reader::PolicyMatch(const YNode& m, PolicySpec* p) const {
  SLUICE_TRY_STATUS(ExpectMap(m, "match"));
  SLUICE_TRY_STATUS(CheckKeys(m, {"pipelines", "tasks", "components", "labels", "environments"}, "match"));
  auto globs = [&](const char* key, std::vector<std::string>* out) -> Status {
    if (!m[key]) return {};
    SLUICE_TRY_STATUS(ExpectList(m[key], fmt::format("match.{}", key)));
    for (const auto& g : m[key]) {
      SLUICE_TRY(s, Str(g, fmt::format("a match.{} entry", key)));
      out->push_back(*s);
    }
    return {};
  };
  SLUICE_TRY_STATUS(globs("pipelines", &p->match_pipelines));
  SLUICE_TRY_STATUS(globs("tasks", &p->match_tasks));
  SLUICE_TRY_STATUS(globs("components", &p->match_components));
  SLUICE_TRY_STATUS(globs("environments", &p->match_environments));
  if (const auto& labels = m["labels"]) {
    SLUICE_TRY_STATUS(ExpectMap(labels, "match.labels"));
    for (auto it = labels.begin(); it != labels.end(); ++it) {
      SLUICE_TRY(k, Str(it->first, "a label"));
      SLUICE_TRY(v, Str(it->second, "a label value"));
      p->match_labels[*k] = *v;
    }
  }
  return {};
}

Status Reader::PolicyVariables(const YNode& vs, PolicySpec* p) const {
  SLUICE_TRY_STATUS(ExpectList(vs, "variables"));
  for (const auto& v : vs) {
    SLUICE_TRY_STATUS(ExpectMap(v, "a variable"));
    SLUICE_TRY_STATUS(CheckKeys(v, {"name", "expression"}, "a variable"));
    if (!v["name"] || !v["expression"]) return FailAt(Loc(v), "a variable needs name and expression");
    PolicyVariable var;
    SLUICE_TRY(vn, Name(v["name"], "variable name"));
    var.name = *vn;
    var.loc = Loc(v["expression"]);
    SLUICE_TRY(e, Cel(v["expression"], "expression"));
    var.expr = *e;
    for (const auto& other : p->variables) {
      if (other.name == var.name) return FailAt(Loc(v["name"]), "duplicate variable {}", Quote(var.name));
    }
    p->variables.push_back(std::move(var));
  }
  return {};
}

Status Reader::PolicyRules(const YNode& rules, PolicySpec* p) const {
  SLUICE_TRY_STATUS(ExpectList(rules, "rules"));
  if (rules.size() == 0) return FailAt(Loc(rules), "a Policy needs at least one rule");
  for (const auto& r : rules) {
    SLUICE_TRY_STATUS(ExpectMap(r, "a rule"));
    SLUICE_TRY_STATUS(CheckKeys(r, {"name", "expression", "message", "messageExpression", "action"},
                                "a rule"));
    if (!r["name"] || !r["expression"]) return FailAt(Loc(r), "a rule needs name and expression");
    PolicyRule rule;
    SLUICE_TRY(rn, Name(r["name"], "rule name"));
    rule.name = *rn;
    rule.loc = Loc(r["expression"]);
    for (const auto& other : p->rules) {
      if (other.name == rule.name) return FailAt(Loc(r["name"]), "duplicate rule {}", Quote(rule.name));
    }
    SLUICE_TRY(e, Cel(r["expression"], "expression"));
    rule.expr = *e;
    if (r["message"]) {
      SLUICE_TRY(m, Str(r["message"], "message"));
      rule.message = *m;
    }
    if (r["messageExpression"]) {
      SLUICE_TRY(me, Cel(r["messageExpression"], "messageExpression"));
      rule.message_expr = *me;
    }
    if (r["action"]) {
      SLUICE_TRY(a, Str(r["action"], "action"));
      static const std::vector<std::string> kActions = {"deny", "warn", "audit"};
      auto it = std::find(kActions.begin(), kActions.end(), *a);
      if (it == kActions.end()) {
        return FailAt(Loc(r["action"]), "action must be deny, warn or audit, not {}{}", Quote(*a),
                      DidYouMean(*a, kActions));
      }
      rule.action = static_cast<PolicyRule::Action>(it - kActions.begin());
    }
    p->rules.push_back(std::move(rule));
  }
  return {};
}

Result<WaiverSpec> Reader::Waiver(const YNode& doc) const {
  const auto& md = doc["metadata"];
  SLUICE_TRY_STATUS(CheckKeys(md, {"name", "labels", "description"}, "metadata"));
  if (!md["name"]) return FailAt(Loc(md), "metadata needs a name");
  WaiverSpec w;
  SLUICE_TRY(name, Name(md["name"], "waiver name"));
  w.name = *name;
  w.loc = Loc(md["name"]);
  const auto& spec = doc["spec"];
  SLUICE_TRY_STATUS(CheckKeys(spec, {"policy", "rule", "scope", "justification", "grantedBy",
                                     "expires"}, "a Waiver spec"));
  for (const char* k : {"policy", "justification", "grantedBy", "expires"}) {
    if (!spec[k]) return FailAt(Loc(spec), "a Waiver needs policy, justification, grantedBy and expires");
  }
  SLUICE_TRY(policy, Name(spec["policy"], "policy"));
  w.policy = *policy;
  if (spec["rule"]) {
    SLUICE_TRY(rule, Name(spec["rule"], "rule"));
    w.rule = *rule;
  }
  if (const auto& sc = spec["scope"]) {
    SLUICE_TRY_STATUS(ExpectMap(sc, "scope"));
    SLUICE_TRY_STATUS(CheckKeys(sc, {"pipeline", "task"}, "scope"));
    if (sc["pipeline"]) {
      SLUICE_TRY(pl, Str(sc["pipeline"], "scope.pipeline"));
      w.pipeline = *pl;
    }
    if (sc["task"]) {
      SLUICE_TRY(t, Str(sc["task"], "scope.task"));
      w.task = *t;
    }
  }
  SLUICE_TRY(j, Str(spec["justification"], "justification"));
  if (Trim(*j).size() < 10) {
    return FailAt(Loc(spec["justification"]), "a justification says why, in at least 10 characters");
  }
  w.justification = *j;
  SLUICE_TRY(g, Str(spec["grantedBy"], "grantedBy"));
  w.granted_by = *g;
  SLUICE_TRY(ex, Str(spec["expires"], "expires"));
  auto us = ParseDateUs(*ex);
  if (!us) {
    return FailAt(Loc(spec["expires"]), "expires must be a date (2026-12-31) or a UTC time "
                  "(2026-12-31T18:00:00Z), not {}", Quote(*ex));
  }
  w.expires_us = *us;
  return w;
}

}  // namespace sluice
