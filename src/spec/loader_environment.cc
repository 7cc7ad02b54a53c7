// Reading STATE/environments/ (environment_spec.h): Environment documents here, AnalysisTemplate
// documents with ReadAnalysisTemplate (analysis_spec.h).
#include <algorithm>

#include "schedule/cron.h"
#include "spec/analysis_spec.h"
#include "spec/environment_spec.h"
#include "spec/plan.h"
#include "spec/yaml_reader.h"

namespace sluice {

namespace {

Result<std::vector<std::string>> Argv(const Reader& r, const YNode& n, std::string_view what) {
  SLUICE_TRY_STATUS(r.ExpectList(n, what));
  std::vector<std::string> out;
  for (const auto& a : n) {
    SLUICE_TRY(s, r.Str(a, what));
    out.push_back(*s);
  }
  if (out.empty()) return FailAt(r.Loc(n), "{} needs at least the program to start", what);
  return out;
}

Result<std::vector<TemplateField>> ArgvTemplate(const Reader& r, const YNode& n,
                                                std::string_view what) {
  SLUICE_TRY_STATUS(r.ExpectList(n, what));
  std::vector<TemplateField> out;
  for (const auto& a : n) {
    SLUICE_TRY(f, r.Field(a, what, false));
    out.push_back(std::move(*f));
  }
  if (out.empty()) return FailAt(r.Loc(n), "{} needs at least the program to start", what);
  return out;
}

Status ReadSlot(const Reader& r, const YNode& n, SlotSpec* s) {
  SLUICE_TRY_STATUS(r.ExpectMap(n, "a slot"));
  SLUICE_TRY_STATUS(r.CheckKeys(n, {"name", "address", "start", "stop", "health", "startTimeout"},
                                "a slot"));
  if (!n["name"] || !n["address"] || !n["start"] || !n["stop"] || !n["health"]) {
    return FailAt(r.Loc(n), "a slot needs name, address, start, stop and health");
  }
  SLUICE_TRY(name, r.Name(n["name"], "slot name"));
  s->name = *name;
  s->loc = r.Loc(n["name"]);
  SLUICE_TRY(addr, r.Str(n["address"], "slot address"));
  if (addr->find(':') == std::string::npos || addr->find_first_of(" \t;{}") != std::string::npos) {
    return FailAt(r.Loc(n["address"]), "a slot's address is host:port, not {}", Quote(*addr));
  }
  s->address = *addr;
  SLUICE_TRY(start, ArgvTemplate(r, n["start"], "a slot's start command"));
  s->start = std::move(*start);
  SLUICE_TRY(stop, ArgvTemplate(r, n["stop"], "a slot's stop command"));
  s->stop = std::move(*stop);
  const YNode& h = n["health"];
  SLUICE_TRY_STATUS(r.ExpectMap(h, "a slot's health"));
  SLUICE_TRY_STATUS(r.CheckKeys(h, {"url", "command"}, "a slot's health"));
  if (static_cast<bool>(h["url"]) == static_cast<bool>(h["command"])) {
    return FailAt(r.Loc(h), "a slot's health is a url or a command (one of them)");
  }
  if (h["url"]) {
    SLUICE_TRY(url, r.Str(h["url"], "health url"));
    if (!url->starts_with("http://")) {
      return FailAt(r.Loc(h["url"]), "a health url starts with http://, not {}", Quote(*url));
    }
    s->health_url = *url;
  } else {
    SLUICE_TRY(cmd, ArgvTemplate(r, h["command"], "a slot's health command"));
    s->health_command = std::move(*cmd);
  }
  if (n["startTimeout"]) {
    SLUICE_TRY(ms, r.Duration(n["startTimeout"], "startTimeout"));
    s->start_timeout_ms = *ms;
  }
  return {};
}

Status ReadRouter(const Reader& r, const YNode& n, RouterSpec* out) {
  SLUICE_TRY_STATUS(r.ExpectMap(n, "router"));
  SLUICE_TRY_STATUS(r.CheckKeys(n, {"nginx", "command"}, "router"));
  if (static_cast<bool>(n["nginx"]) == static_cast<bool>(n["command"])) {
    return FailAt(r.Loc(n), "router is nginx or command (one of them)");
  }
  out->loc = r.Loc(n);
  if (const YNode& x = n["nginx"]) {
    out->kind = RouterSpec::Kind::kNginx;
    SLUICE_TRY_STATUS(r.ExpectMap(x, "router.nginx"));
    SLUICE_TRY_STATUS(r.CheckKeys(x, {"upstream", "file", "test", "pidFile", "liveUrl",
                                      "liveTimeout"}, "router.nginx"));
    if (!x["file"] || !x["test"] || !x["pidFile"] || !x["liveUrl"]) {
      return FailAt(r.Loc(x), "router.nginx needs file (the upstream file Sluice writes), test "
                    "(nginx -t ...), pidFile and liveUrl");
    }
    if (x["upstream"]) {
      SLUICE_TRY(u, r.Name(x["upstream"], "upstream name"));
      out->upstream = *u;
    }
    SLUICE_TRY(file, r.Str(x["file"], "router.nginx.file"));
    if (!file->starts_with("/")) return FailAt(r.Loc(x["file"]), "router.nginx.file is an absolute path");
    out->file = *file;
    SLUICE_TRY(test, Argv(r, x["test"], "router.nginx.test"));
    out->test = std::move(*test);
    SLUICE_TRY(pid, r.Str(x["pidFile"], "router.nginx.pidFile"));
    out->pid_file = *pid;
    SLUICE_TRY(live, r.Str(x["liveUrl"], "router.nginx.liveUrl"));
    if (!live->starts_with("http://")) {
      return FailAt(r.Loc(x["liveUrl"]), "liveUrl starts with http://, not {}", Quote(*live));
    }
    out->live_url = *live;
    if (x["liveTimeout"]) {
      SLUICE_TRY(ms, r.Duration(x["liveTimeout"], "liveTimeout"));
      out->live_timeout_ms = *ms;
    }
    return {};
  }
  const YNode& c = n["command"];
  out->kind = RouterSpec::Kind::kCommand;
  SLUICE_TRY_STATUS(r.ExpectMap(c, "router.command"));
  SLUICE_TRY_STATUS(r.CheckKeys(c, {"apply", "live", "liveTimeout"}, "router.command"));
  if (!c["apply"]) return FailAt(r.Loc(c), "router.command needs apply: the hook that sets the weights");
  SLUICE_TRY(apply, Argv(r, c["apply"], "router.command.apply"));
  out->apply = std::move(*apply);
  if (c["live"]) {
    SLUICE_TRY(live, Argv(r, c["live"], "router.command.live"));
    out->live = std::move(*live);
  }
  if (c["liveTimeout"]) {
    SLUICE_TRY(ms, r.Duration(c["liveTimeout"], "liveTimeout"));
    out->live_timeout_ms = *ms;
  }
  return {};
}

Status ReadPromotion(const Reader& r, const YNode& n, PromotionRules* p) {
  SLUICE_TRY_STATUS(r.ExpectMap(n, "promotion"));
  SLUICE_TRY_STATUS(r.CheckKeys(n, {"after", "soak", "policies", "approval"}, "promotion"));
  if (n["after"]) {
    SLUICE_TRY(after, r.Name(n["after"], "promotion.after"));
    p->after = *after;
    p->after_loc = r.Loc(n["after"]);
  }
  if (n["soak"]) {
    if (!n["after"]) return FailAt(r.Loc(n["soak"]), "soak is the time in promotion.after's environment; set after");
    SLUICE_TRY(ms, r.Delay(n["soak"], "promotion.soak"));
    p->soak_ms = *ms;
  }
  if (const YNode& ps = n["policies"]) {
    SLUICE_TRY_STATUS(r.ExpectList(ps, "promotion.policies"));
    for (const auto& x : ps) {
      SLUICE_TRY(name, r.Name(x, "a promotion policy"));
      p->policies.emplace_back(*name, r.Loc(x));
    }
  }
  if (n["approval"]) {
    SLUICE_TRY(a, r.Approval(n["approval"]));
    p->approval = std::move(*a);
  }
  return {};
}

Status ReadFreeze(const Reader& r, const YNode& n, std::vector<FreezeWindow>* out) {
  SLUICE_TRY_STATUS(r.ExpectList(n, "freeze"));
  for (const auto& w : n) {
    SLUICE_TRY_STATUS(r.ExpectMap(w, "a freeze window"));
    SLUICE_TRY_STATUS(r.CheckKeys(w, {"cron", "duration", "timeZone"}, "a freeze window"));
    if (!w["cron"] || !w["duration"]) return FailAt(r.Loc(w), "a freeze window needs cron and duration");
    FreezeWindow f;
    f.loc = r.Loc(w);
    SLUICE_TRY(cron, r.Str(w["cron"], "freeze cron"));
    if (auto c = ParseCron(*cron); !c) return FailAt(r.Loc(w["cron"]), "{}", c.error().message);
    f.cron = *cron;
    SLUICE_TRY(ms, r.Duration(w["duration"], "freeze duration"));
    f.duration_ms = *ms;
    if (w["timeZone"]) {
      SLUICE_TRY(tz, r.Str(w["timeZone"], "timeZone"));
      f.time_zone = *tz;
    }
    out->push_back(std::move(f));
  }
  return {};
}

Result<std::shared_ptr<EnvironmentSpec>> ReadEnvironment(const Reader& r, const YNode& doc,
                                                         const std::string& path) {
  SLUICE_TRY_STATUS(r.OwnFileHeader(doc, "Environment", {"slots", "router", "promotion", "freeze"}));
  const YNode& md = doc["metadata"];
  if (!md || !md["name"]) return FailAt(r.Loc(doc), "an Environment needs metadata.name");
  auto env = std::make_shared<EnvironmentSpec>();
  SLUICE_TRY(name, r.Name(md["name"], "environment name"));
  env->name = *name;
  env->loc = r.Loc(md["name"]);
  env->file = path;
  const YNode& spec = doc["spec"];
  if (!spec["slots"] || !spec["router"]) {
    return FailAt(r.Loc(spec), "an Environment needs slots (at least two) and a router");
  }
  SLUICE_TRY_STATUS(r.ExpectList(spec["slots"], "slots"));
  for (const auto& n : spec["slots"]) {
    SlotSpec s;
    SLUICE_TRY_STATUS(ReadSlot(r, n, &s));
    if (env->FindSlot(s.name)) return FailAt(s.loc, "slot {} is declared twice", Quote(s.name));
    env->slots.push_back(std::move(s));
  }
  if (env->slots.size() < 2) {
    return FailAt(r.Loc(spec["slots"]), "an Environment needs at least two slots: the stable "
                  "model keeps serving from one while the candidate starts in another");
  }
  SLUICE_TRY_STATUS(ReadRouter(r, spec["router"], &env->router));
  if (spec["promotion"]) SLUICE_TRY_STATUS(ReadPromotion(r, spec["promotion"], &env->promotion));
  if (spec["freeze"]) SLUICE_TRY_STATUS(ReadFreeze(r, spec["freeze"], &env->freeze));
  return env;
}

// An AnalysisTemplate document (analysis_spec.h), its name unique in the state folder.
Status AddAnalysisTemplate(const Reader& r, const YNode& doc, EnvironmentsSpec* out) {
  SLUICE_TRY(t, ReadAnalysisTemplate(r, doc));
  if (const AnalysisTemplate* other = out->FindTemplate(t->name)) {
    return FailAt(t->loc, "AnalysisTemplate {} is already declared at {}", Quote(t->name),
                  other->loc.ToString());
  }
  out->templates.push_back(std::make_shared<const AnalysisTemplate>(std::move(*t)));
  return {};
}

}  // namespace

const AnalysisTemplate* EnvironmentsSpec::FindTemplate(std::string_view name) const {
  for (const auto& t : templates) {
    if (t->name == name) return t.get();
  }
  return nullptr;
}

const SlotSpec* EnvironmentSpec::FindSlot(std::string_view slot) const {
  for (const auto& s : slots) {
    if (s.name == slot) return &s;
  }
  return nullptr;
}

const EnvironmentSpec* EnvironmentsSpec::Find(std::string_view name) const {
  for (const auto& e : environments) {
    if (e->name == name) return e.get();
  }
  return nullptr;
}

Status ParseEnvironmentsFile(const std::string& path, std::string_view content,
                             EnvironmentsSpec* out) {
  return ForEachDocument(path, content, [&](const Reader& r, const YNode& doc) -> Status {
    if (!doc.IsMap() || !doc["kind"] || !doc["kind"].IsScalar()) {
      return FailAt(r.Loc(doc), "a document of STATE/environments needs kind: Environment or "
                    "AnalysisTemplate");
    }
    const std::string kind(doc["kind"].Scalar());
    if (kind == "Environment") {
      SLUICE_TRY(env, ReadEnvironment(r, doc, path));
      if (const EnvironmentSpec* other = out->Find((*env)->name)) {
        return FailAt((*env)->loc, "environment {} is already declared at {}", Quote((*env)->name),
                      other->loc.ToString());
      }
      out->environments.push_back(std::move(*env));
    } else if (kind == "AnalysisTemplate") {
      SLUICE_TRY_STATUS(AddAnalysisTemplate(r, doc, out));
    } else {
      return FailAt(r.Loc(doc["kind"]), "STATE/environments holds Environment and AnalysisTemplate "
                    "documents, not {}", Quote(kind));
    }
    return {};
  });
}

Status CheckDeploys(const Plan& plan, const EnvironmentsSpec& envs) {
  if (!plan.has_deploy) return {};
  for (const PlanTask& t : plan.tasks) {
    const DeploySpec* d = t.body ? t.body->deploy() : nullptr;
    if (!d) continue;
    if (!envs.Find(d->environment)) {
      std::vector<std::string> known;
      for (const auto& e : envs.environments) known.push_back(e->name);
      return FailAt(d->environment_loc, "environment {} is not declared in STATE/environments "
                    "(declared: {})", Quote(d->environment),
                    known.empty() ? std::string("none") : Join(known, ", "));
    }
    for (const auto& [name, loc] : d->templates) {
      if (!envs.FindTemplate(name)) {
        return FailAt(loc, "AnalysisTemplate {} is not declared in STATE/environments",
                      Quote(name));
      }
    }
  }
  return {};
}

Status CheckPromotionPolicies(const Plan& plan, const EnvironmentsSpec& envs,
                              const PolicySet& central) {
  for (const PlanTask& t : plan.tasks) {
    const DeploySpec* d = t.body ? t.body->deploy() : nullptr;
    const EnvironmentSpec* env = d ? envs.Find(d->environment) : nullptr;
    if (!env) continue;
    for (const auto& [name, loc] : env->promotion.policies) {
      std::vector<std::string> known;
      bool found = false;
      for (const auto& p : central.policies) {
        if (p->stage != "promotion") continue;
        known.push_back(p->name);
        found = found || p->name == name;
      }
      if (!found) {
        return FailAt(loc, "promotion policy {} of environment {} is not a central policy of "
                      "stage promotion (STATE/policies){}", Quote(name), Quote(env->name),
                      DidYouMean(name, known));
      }
    }
  }
  return {};
}

Result<std::shared_ptr<const EnvironmentsSpec>> LoadEnvironments(FileSystem& fs,
                                                                 const std::string& state_dir) {
  auto out = std::make_shared<EnvironmentsSpec>();
  SLUICE_TRY(files, TrustedYamlFiles(fs, state_dir, "environments", "environments"));
  std::sort(files->begin(), files->end());
  for (const auto& f : *files) {
    SLUICE_TRY(text, fs.ReadFile(f));
    SLUICE_TRY_STATUS(ParseEnvironmentsFile(f, *text, out.get()));
  }
  for (const auto& e : out->environments) {
    const auto& p = e->promotion;
    if (!p.after.empty() && !out->Find(p.after)) {
      return FailAt(p.after_loc, "promotion.after names environment {}, which is not declared",
                    Quote(p.after));
    }
  }
  return std::shared_ptr<const EnvironmentsSpec>(out);
}

}  // namespace sluice
