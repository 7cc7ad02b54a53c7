// Schedule files, their stored snapshots and the runs of their fires (schedule_runs.h).
#include "cli/schedule_runs.h"

#include "cli/cli_support.h"
#include "cli/policy_cmds.h"
#include "cli/pools.h"
#include "cli/secrets.h"
#include "common/strings.h"
#include "env/fake_env.h"
#include "policy/policy.h"
#include "spec/loader.h"
#include "spec/plan.h"

namespace sluice {

namespace {


// "2026-12-06T02:30:15Z" -> "20261206T023015Z"; without seconds when `seconds` is false.
std::string CompactTime(int64_t us, bool seconds) {
  std::string out;
  for (char c : UtcOfUs(us)) {
    if (c != '-' && c != ':') out += c;
  }
  if (!seconds && out.size() == 16) out.erase(13, 2);  // 20261206T023000Z -> 20261206T0230Z
  return out;
}

Value TimesValue(const std::string& ns, const std::string& name, const ScheduleTimes& t) {
  return Value(ValueMap{{"namespace", Value(ns)},
                        {"name", Value(name)},
                        {"time", Value(t.time_us)},
                        {"intervalStart", Value(t.interval_start_us)},
                        {"intervalEnd", Value(t.interval_end_us)}});
}

}  // namespace

Result<std::vector<ScheduleSpec>> ReadScheduleFile(FileSystem& fs, const std::string& path) {
  LoadBudget budget;
  SLUICE_TRY(content, budget.Read(fs, path));
  SLUICE_TRY(spec, ParseSpecFile(path, *content, &budget));
  if (spec->schedules.empty() || !spec->pipelines.empty() || !spec->components.empty() ||
      !spec->breakers.empty() || !spec->policies.empty() || !spec->waivers.empty()) {
    return Fail(ErrorCode::kInvalidInput, "{}: a schedule file holds only Schedule documents "
                "(kind: Schedule; its pipeline is named by spec.pipeline)", path);
  }
  return std::move(spec->schedules);
}

Result<CronSchedule> CronOf(const TimeZones* zones, const ScheduleSpec& s) {
  auto cron = CronSchedule::Make(s.cron, s.time_zone, zones);
  if (!cron) {
    return FailAt(s.time_zone_loc.line > 0 ? s.time_zone_loc : s.cron_loc, "{}",
                  cron.error().message);
  }
  return cron;
}

Result<std::vector<ScheduleRow>> SnapshotSchedules(Env& env, FileSystem& fs,
                                                   const std::string& path, const std::string& ns,
                                                   const std::string& actor, int64_t now_us) {
  SLUICE_TRY(specs, ReadScheduleFile(fs, path));
  SLUICE_TRY(document, fs.ReadFile(path));
  std::vector<ScheduleRow> rows;
  for (const ScheduleSpec& s : *specs) {
    SLUICE_TRY_STATUS(CronOf(env.time_zones(), s));
    const std::string pipeline = s.PipelinePath();
    if (!fs.Stat(pipeline).exists) {
      return FailAt(s.pipeline_loc, "pipeline {} does not exist (a path relative to the "
                    "schedule file)", Quote(pipeline));
    }
    SLUICE_TRY(plan, LoadPlan(fs, pipeline));
    for (const auto& p : (*plan)->pipeline->params) {
      if (p.secret) {
        return FailAt(s.pipeline_loc, "schedule {}: param {} of its pipeline is secret, which "
                      "a schedule cannot give; run such pipelines with sluice run",
                      Quote(s.name), Quote(p.name));
      }
    }
    SLUICE_TRY(texts, ScheduleParamTexts(s, **plan));
    auto bound = BindParams(**plan, *texts);
    if (!bound) return FailAt(s.loc, "schedule {}: {}", Quote(s.name), bound.error().message);
    ValueMap sources, params;
    for (const auto& [file, text] : (*plan)->sources) sources.emplace_back(Value(file), Value(text));
    for (const auto& [name, text] : *texts) params.emplace_back(Value(name), Value(text));
    ScheduleRow row;
    row.ns = ns;
    row.name = s.name;
    row.file = path;
    row.document = *document;
    row.sources = Value(std::move(sources)).ToJson();
    row.params = Value(std::move(params)).ToJson();
    row.suspended = s.policy.suspend;
    row.watermark_us = now_us;
    row.applied_by = actor;
    row.applied_us = now_us;
    rows.push_back(std::move(row));
  }
  return rows;
}

SchedulePolicy LoadedSchedule::Policy() const {
  SchedulePolicy p = spec.policy;
  p.suspend = row.suspended;
  return p;
}

Result<LoadedSchedule> LoadStoredSchedule(Env& env, const ScheduleRow& row) {
  auto fail = [&](const Error& e) {
    return Fail(ErrorCode::kConflict, "schedule {}: its stored snapshot does not load ({}); "
                "apply it again", Quote(row.name), e.message);
  };
  auto sources = ParseJson(row.sources);
  auto params = ParseJson(row.params);
  if (!sources || !sources->is_map() || !params || !params->is_map()) {
    return fail(Error(ErrorCode::kInvalidInput, "its sources or params are not JSON objects"));
  }
  std::map<std::string, std::string> files;
  for (const auto& [k, v] : sources->as_map()) files[k.as_string()] = v.is_string() ? v.as_string() : "";
  files[row.file] = row.document;
  MemFileSystem mem(std::move(files));
  auto specs = ReadScheduleFile(mem, row.file);
  if (!specs) return fail(specs.error());
  LoadedSchedule out;
  out.row = row;
  bool found = false;
  for (auto& s : *specs) {
    if (s.name == row.name) out.spec = std::move(s), found = true;
  }
  if (!found) return fail(Error(ErrorCode::kNotFound, "its file no longer defines it"));
  auto cron = CronOf(env.time_zones(), out.spec);
  if (!cron) return fail(cron.error());
  out.cron = std::make_shared<const CronSchedule>(std::move(*cron));
  auto plan = LoadPlan(mem, out.spec.PipelinePath());
  if (!plan) return fail(plan.error());
  out.plan = *plan;
  for (const auto& [k, v] : params->as_map()) out.params[k.as_string()] = v.ToText();
  return out;
}

Result<LoadedSchedule> FindSchedule(Env& env, Store& store, const std::string& ns,
                                    const std::string& name) {
  SLUICE_TRY(rows, store.ListSchedules(ns));
  for (const auto& row : *rows) {
    if (row.name == name) return LoadStoredSchedule(env, row);
  }
  return Fail(ErrorCode::kNotFound, "no schedule {} in namespace {} (sluice schedule ls)",
              Quote(name), Quote(ns));
}

std::string ScheduledRunId(const ScheduleRow& row, int64_t time_us, bool manual) {
  const std::string ns = row.ns == "default" ? "" : row.ns + "~";
  return fmt::format("sched-{}{}-{}{}", ns, row.name, CompactTime(time_us, manual),
                     manual ? "-manual" : "");
}

std::string ManualRunId(Store& store, const ScheduleRow& row, int64_t time_us) {
  const std::string base = ScheduledRunId(row, time_us, true);
  std::string id = base;
  for (int n = 2; n <= 100; ++n) {
    auto taken = store.GetRun(id);  // an ambiguous prefix: ID-2... exist, and so does ID
    if (taken ? taken->id != id : taken.error().code != ErrorCode::kInvalidInput) break;
    id = fmt::format("{}-{}", base, n);
  }
  return id;
}

ScheduleTimes TriggerTimes(const CronSchedule& cron, int64_t now_us) {
  const int64_t now_s = now_us / kSecondUs;
  auto prev = cron.Prev(now_s + 1);  // the last fire at or before now
  return ScheduleTimes{now_s * kSecondUs, prev.value_or(now_s) * kSecondUs, now_s * kSecondUs};
}

Result<RunRecord> CreateScheduledRun(Env& env, const GlobalOptions& g, Store& store,
                                     const LoadedSchedule& s, const ScheduleTimes& t,
                                     const std::string& actor, const std::string& run_id) {
  if (auto taken = store.GetRun(run_id); taken && taken->id == run_id) {
    return Fail(ErrorCode::kConflict, "run {} exists: that fire was started before", run_id);
  }
  SLUICE_TRY(bound, BindRunParams(env, *s.plan, s.params));
  RunOrigin again;
  again.ns = s.row.ns;
  again.schedule = TimesValue(s.row.ns, s.row.name, t);
  SLUICE_TRY(made, AdmitAndCreateRun(env, g, store, *s.plan, *bound, actor, run_id, &again));
  if (made->denied) {
    return Fail(ErrorCode::kInvalidInput, "admission denied: pipeline {} breaks a policy (the "
                "run.denied audit record says which)", s.plan->pipeline->name);
  }
  return *made->run;
}

Result<AdmittedRun> AdmitAndCreateRun(Env& env, const GlobalOptions& g, Store& store,
                                      const Plan& plan, const BoundParams& bound,
                                      const std::string& actor, const std::string& run_id,
                                      const RunOrigin* again) {
  SLUICE_TRY_STATUS(CheckRunCentral(env, g.state_dir, plan, again ? again->ns : "default"));
  SLUICE_TRY(central, CentralPolicies(env, g, &store));
  SLUICE_TRY(admission, AdmitNewRun(env, store, actor, plan, bound.stored, *central, ""));
  AdmittedRun out;
  out.decisions = std::move(admission->decisions);
  out.denied = admission->denied;
  if (out.denied) return out;
  auto run = run_id.empty()
                 ? CreateRunRecord(env, actor, store, plan, bound.stored, bound.digests,
                                   out.decisions, again)
                 : CreateRunRecordWithId(env, actor, store, plan, bound.stored, bound.digests,
                                         out.decisions, run_id, again);
  if (!run) return std::unexpected(run.error());
  out.run = std::move(*run);
  return out;
}

Value ScheduleJson(const LoadedSchedule& s,
                   const std::vector<std::pair<std::string, std::string>>& scheduled,
                   int64_t now_us) {
  const ScheduleRow& row = s.row;
  auto next = s.cron->Next(std::max(now_us, row.watermark_us) / kSecondUs);
  ValueList active;
  for (const auto& [id, data] : scheduled) {
    auto of = ScheduleOfCreated(data);
    if (of && of->ns == row.ns && of->name == row.name) active.push_back(Value(id));
  }
  return Value(ValueMap{{"namespace", Value(row.ns)},
                        {"name", Value(row.name)},
                        {"cron", Value(s.spec.cron.text)},
                        {"timeZone", Value(s.cron->zone())},
                        {"pipeline", Value(s.plan->pipeline->name)},
                        {"suspended", Value(row.suspended)},
                        {"next", next ? Value(UtcOfUs(*next * kSecondUs)) : Value()},
                        {"watermark", Value(UtcOfUs(row.watermark_us))},
                        {"activeRuns", Value(std::move(active))},
                        {"appliedBy", Value(row.applied_by)},
                        {"appliedAt", Value(UtcOfUs(row.applied_us))}});
}

std::string SchedulesText(const Value& items) {
  std::string text = fmt::format("{:<24} {:<16} {:<20} {:<9} {:<21} {}\n", "NAME", "CRON",
                                 "TIME ZONE", "SUSPENDED", "NEXT", "ACTIVE");
  if (!items.is_list()) return text;
  for (const Value& v : items.as_list()) {
    auto field = [&](const char* k) {
      const Value* f = v.is_map() ? v.Find(k) : nullptr;
      return f && !f->is_null() ? f->ToText() : std::string("-");
    };
    const Value* active = v.is_map() ? v.Find("activeRuns") : nullptr;
    const Value* suspended = v.is_map() ? v.Find("suspended") : nullptr;
    text += fmt::format("{:<24} {:<16} {:<20} {:<9} {:<21} {}\n", field("name"), field("cron"),
                        field("timeZone"),
                        suspended && suspended->is_bool() && suspended->as_bool() ? "yes" : "no",
                        field("next"), active && active->is_list() ? active->as_list().size() : 0);
  }
  return text;
}

std::optional<RunSchedule> ScheduleOfCreated(const std::string& data) {
  auto v = ParseJson(data);
  const Value* sched = v && v->is_map() ? v->Find("schedule") : nullptr;
  if (!sched || !sched->is_map()) return std::nullopt;
  auto text = [&](const char* k) {
    const Value* f = sched->Find(k);
    return f && f->is_string() ? f->as_string() : std::string();
  };
  auto num = [&](const char* k) {
    const Value* f = sched->Find(k);
    return f && f->is_int() ? f->as_int() : int64_t{0};
  };
  return RunSchedule{text("namespace"), text("name"),
                     ScheduleTimes{num("time"), num("intervalStart"), num("intervalEnd")}};
}

std::optional<ScheduleTimes> ScheduleOfRun(Store& store, const std::string& run_id,
                                           const std::vector<Event>& history) {
  if (!run_id.starts_with("sched-")) return std::nullopt;
  std::vector<Event> loaded;
  const std::vector<Event>* events = &history;
  if (history.empty()) {
    auto stored = store.LoadEvents(run_id);
    if (!stored) return std::nullopt;
    loaded = std::move(*stored);
    events = &loaded;
  }
  for (const Event& e : *events) {
    if (e.kind != EventKind::kRunCreated) continue;
    auto s = ScheduleOfCreated(e.data);
    if (s) return s->times;
    break;
  }
  return std::nullopt;
}

Result<std::vector<ScheduleTimes>> PastFires(const CronSchedule& cron, int64_t from_us,
                                             int64_t to_us, int64_t now_us, size_t max_fires) {
  if (to_us > now_us) {
    return Fail(ErrorCode::kInvalidInput, "a backfill runs fires that are past: the range ends "
                "after now ({}); future fires are the schedule's own", FormatTimestampMs(now_us / 1000));
  }
  return Backfill(cron, from_us, to_us, max_fires);
}

std::string UtcOfUs(int64_t us) { return FormatTimestamp(Timestamp{us / 1'000'000, 0}); }

}  // namespace sluice
