#include "cli/schedules.h"

#include <cstdio>

#include "cli/cli_support.h"
#include "cli/schedule_runs.h"
#include "common/strings.h"
#include "spec/loader.h"
#include "spec/plan.h"

namespace sluice {

namespace {


std::string Utc(int64_t seconds) { return FormatTimestamp(Timestamp{seconds, 0}); }

Result<std::vector<ScheduleSpec>> ReadSchedules(Env& env, const std::string& file) {
  return ReadScheduleFile(env.files(), env.files().Absolute(file));
}

Result<CronSchedule> CronOf(Env& env, const ScheduleSpec& s) { return CronOf(env.time_zones(), s); }

// The fires of one schedule from `from_s` on, as JSON and printed text.
Value FiresOf(const CronSchedule& cron, int64_t from_s, int count, std::string* text) {
  ValueList fires;
  for (auto f = cron.Next(from_s - 1); f && static_cast<int>(fires.size()) < count; f = cron.Next(*f)) {
    ScheduleTimes t = TimesOf(cron, *f);
    std::string local = FormatLocal(*f, cron.OffsetAt(*f));
    *text += fmt::format("  {}  {}  interval {} to {}\n", Utc(*f), local,
                         Utc(t.interval_start_us / kSecondUs), Utc(t.interval_end_us / kSecondUs));
    fires.push_back(Value(ValueMap{{"time", Value(Utc(*f))},
                                   {"local", Value(local)},
                                   {"intervalStart", Value(Utc(t.interval_start_us / kSecondUs))},
                                   {"intervalEnd", Value(Utc(t.interval_end_us / kSecondUs))}}));
  }
  return Value(std::move(fires));
}

// Loads the schedule's pipeline and binds its params as a run of it would be submitted.
Status CheckPipeline(Env& env, const ScheduleSpec& s) {
  const std::string path = s.PipelinePath();
  if (!env.files().Stat(path).exists) {
    return FailAt(s.pipeline_loc, "pipeline {} does not exist (a path relative to the schedule "
                  "file)", Quote(path));
  }
  SLUICE_TRY(plan, LoadPlan(env.files(), path));
  SLUICE_TRY(texts, ScheduleParamTexts(s, **plan));
  auto bound = BindParams(**plan, *texts);
  if (!bound) return FailAt(s.loc, "schedule {}: {}", Quote(s.name), bound.error().message);
  return {};
}

}  // namespace

int CmdScheduleNext(Env& env, const GlobalOptions& g, const std::string& file, int count,
                    const std::string& from) {
  auto schedules = ReadSchedules(env, file);
  if (!schedules) return Report(schedules.error());
  ValueList out;
  std::string text;
  for (const auto& s : *schedules) {
    auto cron = CronOf(env, s);
    if (!cron) return Report(cron.error());
    int64_t from_s = env.clock().NowUs() / kSecondUs;
    if (!from.empty()) {
      auto t = ParseInstant(from, *cron);
      if (!t) return Report(t.error().Wrap("--from"));
      from_s = *t;
    }
    text += fmt::format("schedule {}: cron {} in {}, pipeline {}{}\n", s.name, Quote(s.cron.text),
                        cron->zone(), s.pipeline,
                        s.policy.suspend ? " (suspended: a server starts nothing)" : "");
    Value fires = FiresOf(*cron, from_s, count, &text);
    out.push_back(Value(ValueMap{{"name", Value(s.name)},
                                 {"cron", Value(s.cron.text)},
                                 {"timeZone", Value(cron->zone())},
                                 {"pipeline", Value(s.pipeline)},
                                 {"suspend", Value(s.policy.suspend)},
                                 {"fires", std::move(fires)}}));
  }
  if (g.json) std::printf("%s\n", Value(ValueMap{{"schedules", Value(std::move(out))}}).ToJson().c_str());
  else std::fputs(text.c_str(), stdout);
  return 0;
}

int CmdScheduleValidate(Env& env, const GlobalOptions& g, const std::string& file) {
  auto schedules = ReadSchedules(env, file);
  if (!schedules) return Report(schedules.error());
  ValueList out;
  for (const auto& s : *schedules) {
    auto cron = CronOf(env, s);
    if (!cron) return Report(cron.error());
    if (auto st = CheckPipeline(env, s); !st) return Report(st.error());
    auto next = cron->Next(env.clock().NowUs() / kSecondUs);
    out.push_back(Value(ValueMap{{"name", Value(s.name)},
                                 {"pipeline", Value(s.PipelinePath())},
                                 {"next", next ? Value(Utc(*next)) : Value()}}));
    if (!g.json) {
      std::printf("%s: schedule %s is valid: cron %s in %s runs %s; next at %s\n", file.c_str(),
                  s.name.c_str(), Quote(s.cron.text).c_str(), cron->zone().c_str(),
                  s.pipeline.c_str(), next ? Utc(*next).c_str() : "never");
    }
  }
  if (g.json) {
    std::printf("%s\n", Value(ValueMap{{"valid", Value(true)}, {"schedules", Value(std::move(out))}})
                            .ToJson().c_str());
  }
  return 0;
}

}  // namespace sluice
