// `kind: Schedule` documents (docs/schedules.md): a pipeline, its params, a cron expression in a
// time zone and the policy of schedule/schedule.h. Read by the loader (loader_schedule.cc) with
// the same file:line:col errors as every other document; fired only by `sluice server`.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/value.h"
#include "schedule/cron.h"
#include "schedule/schedule.h"

namespace sluice {

struct Plan;
class Reader;
class YNode;

// One param the schedule gives its pipeline, as written.
struct ScheduleParam {
  std::string name;
  Location loc;       // of the value
  Value value;        // as YAML's core schema reads it
  std::string text;   // a scalar's text as written (what a string param takes); else ""
  bool scalar = false;
};

struct ScheduleSpec {
  std::string name;
  Location loc;               // of metadata.name
  std::string description;
  std::map<std::string, std::string> labels;
  std::string file;           // the schedule's file (absolute)
  std::string pipeline;       // as written: relative to the schedule file's folder, or absolute
  Location pipeline_loc;
  std::vector<ScheduleParam> params;
  CronExpr cron;
  Location cron_loc;
  std::string time_zone = "UTC";
  Location time_zone_loc;     // line 0 when not given
  SchedulePolicy policy;

  // The pipeline file's path: `pipeline` read from the schedule file's folder.
  std::string PipelinePath() const;
};

// Reads one Schedule document (its header already checked). Internal to src/spec.
Result<ScheduleSpec> ReadSchedule(const Reader& r, const YNode& doc);

// The schedule's params as `-p NAME=TEXT` texts for its pipeline's `plan` (BindParams reads
// them): a name the pipeline does not declare, or a value of the wrong type, fails at the
// param's location.
Result<std::map<std::string, std::string>> ScheduleParamTexts(const ScheduleSpec& s,
                                                              const Plan& plan);

}  // namespace sluice
