// Reading `kind: Schedule` documents (schedule_spec.h), with the loader's Reader: unknown keys,
// wrong types and a bad cron expression fail at FILE:LINE:COL.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>

#include "common/strings.h"
#include "spec/plan.h"
#include "spec/schedule_spec.h"
#include "spec/yaml_reader.h"

namespace sluice {

namespace {

// Where byte `off` of scalar `n`'s text sits in the file. Reader::TextLoc points at two
// bytes, so a spot among the last two (or just past the end) is found from the byte two before
// the end and moved right.
Location SpotIn(const Reader& r, const YNode& n, std::string_view text, size_t off) {
  if (off + 2 <= text.size()) return r.TextLoc(n, text, off);
  if (text.size() < 2) return r.Loc(n);
  const size_t base = text.size() - 2;
  Location loc = r.TextLoc(n, text, base);
  const Location whole = r.Loc(n);
  if (base > 0 && loc.line == whole.line && loc.column == whole.column) return whole;  // not found
  loc.column += static_cast<int>(off - base);
  return loc;
}

// `cron:`: parsed, and an error placed at the column of the text that is wrong.
Status ReadCron(const Reader& r, const YNode& n, ScheduleSpec* s) {
  SLUICE_TRY(text, r.Str(n, "cron"));
  s->cron_loc = r.Loc(n);
  auto e = ParseCron(*text);
  if (e) {
    s->cron = std::move(*e);
    return {};
  }
  const std::string& msg = e.error().message;
  int col = 0;
  size_t colon = msg.find(": ");
  if (std::sscanf(msg.c_str(), "column %d:", &col) != 1 || col < 1 || colon == std::string::npos) {
    return FailAt(s->cron_loc, "cron {}: {}", Quote(*text), msg);
  }
  return FailAt(SpotIn(r, n, *text, static_cast<size_t>(col - 1)), "cron {}: {}", Quote(*text),
                msg.substr(colon + 2));
}

// One of `names` (exact); the error lists them with a "did you mean".
Result<size_t> ChoiceOf(const Reader& r, const YNode& n, std::string_view what,
                     const std::vector<std::string>& names) {
  SLUICE_TRY(s, r.Str(n, what));
  auto it = std::find(names.begin(), names.end(), *s);
  if (it == names.end()) {
    return FailAt(r.Loc(n), "{} must be {}, not {}{}", what, Join(names, ", "), Quote(*s),
                  DidYouMean(*s, names));
  }
  return static_cast<size_t>(it - names.begin());
}

Status ReadScheduleParams(const Reader& r, const YNode& ps, ScheduleSpec* s) {
  SLUICE_TRY_STATUS(r.ExpectMap(ps, "params"));
  std::set<std::string_view> seen;  // any name goes here: the pipeline's declarations decide
  for (auto it = ps.begin(); it != ps.end(); ++it) {
    if (!it->first.IsScalar()) return FailAt(r.Loc(it->first), "keys must be param names");
    if (!seen.insert(it->first.Scalar()).second) {
      return FailAt(r.Loc(it->first), "param {} is given twice", Quote(it->first.Scalar()));
    }
  }
  for (auto it = ps.begin(); it != ps.end(); ++it) {
    ScheduleParam p;
    p.name = std::string(it->first.Scalar());
    p.loc = r.Loc(it->second);
    SLUICE_TRY(v, r.ToValue(it->second));
    p.value = std::move(*v);
    p.scalar = it->second.IsScalar();
    if (p.scalar) p.text = std::string(it->second.Scalar());
    s->params.push_back(std::move(p));
  }
  return {};
}

// The policy keys of schedule.h: concurrency, deadline, catch-up, suspend, maxActiveRuns.
Status ReadPolicy(const Reader& r, const YNode& spec, ScheduleSpec* s) {
  SchedulePolicy& p = s->policy;
  if (const auto& c = spec["concurrencyPolicy"]) {
    SLUICE_TRY(i, ChoiceOf(r, c, "concurrencyPolicy", {"Allow", "Forbid", "Replace"}));
    p.concurrency = static_cast<ConcurrencyPolicy>(*i);
  }
  if (const auto& d = spec["startingDeadline"]) {
    SLUICE_TRY(ms, r.Duration(d, "startingDeadline"));
    p.starting_deadline_us = *ms * 1000;
  }
  if (const auto& c = spec["catchUp"]) {
    SLUICE_TRY(i, ChoiceOf(r, c, "catchUp", {"none", "last", "all"}));
    p.catch_up = static_cast<CatchUp>(*i);
  }
  if (const auto& cap = spec["catchUpCap"]) {
    if (p.catch_up != CatchUp::kAll) {
      return FailAt(r.Loc(cap), "catchUpCap bounds catchUp: all; this schedule's catchUp starts "
                    "at most one fire");
    }
    SLUICE_TRY(n, r.Int(cap, "catchUpCap", 1, 10000));
    p.catch_up_cap = static_cast<int>(*n);
  }
  if (const auto& su = spec["suspend"]) {
    SLUICE_TRY(b, r.Bool(su, "suspend"));
    p.suspend = *b;
  }
  if (const auto& m = spec["maxActiveRuns"]) {
    SLUICE_TRY(n, r.Int(m, "maxActiveRuns", 1, 10000));
    p.max_active_runs = static_cast<int>(*n);
  }
  return {};
}

}  // namespace

std::string ScheduleSpec::PipelinePath() const {
  std::filesystem::path p = pipeline.starts_with('/') ? pipeline : PathJoin(Dirname(file), pipeline);
  return p.lexically_normal().string();  // no I/O: "/s/../ml" is "/ml" whatever /s is
}

Status Reader::KindMetadata(const YNode& md, std::string_view what, std::string* name,
                            Location* loc, std::string* description,
                            std::map<std::string, std::string>* labels) const {
  SLUICE_TRY_STATUS(CheckKeys(md, {"name", "labels", "description"}, "metadata"));
  if (!md["name"]) return FailAt(Loc(md), "metadata needs a name");
  SLUICE_TRY(n, Name(md["name"], what));
  *name = *n;
  *loc = Loc(md["name"]);
  if (md["description"]) {
    SLUICE_TRY(d, Str(md["description"], "description"));
    *description = *d;
  }
  if (const auto& ls = md["labels"]) {
    SLUICE_TRY_STATUS(ExpectMap(ls, "labels"));
    for (auto it = ls.begin(); it != ls.end(); ++it) {
      SLUICE_TRY(k, Str(it->first, "a label"));
      SLUICE_TRY(v, Str(it->second, "a label value"));
      (*labels)[*k] = *v;
    }
  }
  return {};
}

Result<ScheduleSpec> ReadSchedule(const Reader& r, const YNode& doc) {
  ScheduleSpec s;
  s.file = r.file();
  SLUICE_TRY_STATUS(r.KindMetadata(doc["metadata"], "schedule name", &s.name, &s.loc,
                                    &s.description, &s.labels));
  const auto& spec = doc["spec"];
  SLUICE_TRY_STATUS(r.CheckKeys(spec, {"pipeline", "params", "cron", "timeZone",
                                       "concurrencyPolicy", "startingDeadline", "catchUp",
                                       "catchUpCap", "suspend", "maxActiveRuns"},
                                "a Schedule spec"));
  if (!spec["pipeline"] || !spec["cron"]) {
    return FailAt(r.Loc(spec), "a Schedule needs pipeline (a pipeline file, relative to this "
                  "file) and cron (e.g. \"30 2 * * *\" or @daily)");
  }
  SLUICE_TRY(pipeline, r.Str(spec["pipeline"], "pipeline"));
  if (Trim(*pipeline).empty()) return FailAt(r.Loc(spec["pipeline"]), "pipeline is an empty path");
  s.pipeline = *pipeline;
  s.pipeline_loc = r.Loc(spec["pipeline"]);
  if (const auto& ps = spec["params"]) SLUICE_TRY_STATUS(ReadScheduleParams(r, ps, &s));
  SLUICE_TRY_STATUS(ReadCron(r, spec["cron"], &s));
  if (const auto& tz = spec["timeZone"]) {
    SLUICE_TRY(zone, r.Str(tz, "timeZone"));
    if (Trim(*zone).empty()) return FailAt(r.Loc(tz), "timeZone is empty; omit it for UTC");
    s.time_zone = *zone;
    s.time_zone_loc = r.Loc(tz);
  }
  SLUICE_TRY_STATUS(ReadPolicy(r, spec, &s));
  return s;
}

Result<std::map<std::string, std::string>> ScheduleParamTexts(const ScheduleSpec& s,
                                                              const Plan& plan) {
  std::vector<std::string> names;
  for (const auto& d : plan.pipeline->params) names.push_back(d.name);
  std::map<std::string, std::string> out;
  for (const auto& p : s.params) {
    auto d = std::find_if(plan.pipeline->params.begin(), plan.pipeline->params.end(),
                          [&](const ParamDecl& decl) { return decl.name == p.name; });
    if (d == plan.pipeline->params.end()) {
      return FailAt(p.loc, "unknown param {}{}; pipeline {} declares: {}", Quote(p.name),
                    DidYouMean(p.name, names), plan.pipeline->name,
                    names.empty() ? "none" : Join(names, ", "));
    }
    if (d->type == ParamType::kString) {
      if (!p.scalar) return FailAt(p.loc, "param {} must be a string", Quote(p.name));
      out[p.name] = p.text;
    } else if (!ValueMatchesType(p.value, d->type)) {
      return FailAt(p.loc, "param {} must be {}, got {}", Quote(p.name), ParamTypeName(d->type),
                    Quote(p.value.is_string() ? p.value.as_string() : p.value.ToJson()));
    } else {
      out[p.name] = p.value.ToJson();
    }
  }
  return out;
}

}  // namespace sluice
