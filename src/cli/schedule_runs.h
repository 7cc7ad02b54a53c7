// What the local schedule commands and `sluice server`'s scheduler share (docs/schedules.md):
// reading a schedule file, the snapshot `sluice schedule apply` stores, loading it back, and
// recording the run of one fire under its deterministic id.
//
// A scheduled run's id is `sched-NAME-YYYYMMDDTHHMMZ` (its fire time in UTC), so that a leader
// that dies between creating the run and storing the watermark cannot start the fire twice:
// the next leader's CreateRun of the same id is refused (kConflict), and it moves on. Runs of
// `sluice schedule trigger` add the second and `-manual`; backfilled fires take the fire's id,
// so a fire that already ran is not run again by a backfill.
//
// The schedule's times travel in the run's run.created event ({"schedule": {...}}), so every
// engine that executes or resumes the run sees the same schedule.* (ScheduleOfRun).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/cli_support.h"
#include "cli/commands.h"
#include "cli/secrets.h"
#include "policy/policy.h"
#include "env/env.h"
#include "schedule/schedule.h"
#include "spec/schedule_spec.h"
#include "store/store.h"

namespace sluice {

struct Plan;

// The schedules in schedule file `path` of `fs`. A schedule file holds only Schedule documents,
// so that a pipeline is never fired by accident from the file that defines it. On failure
// returns the error to report (kNotFound for a missing file, FILE:LINE:COL for bad YAML).
Result<std::vector<ScheduleSpec>> ReadScheduleFile(FileSystem& fs, const std::string& path);
// The schedule's cron expression in its zone, from `zones` (an unknown zone fails at the
// timeZone: line).
Result<CronSchedule> CronOf(const TimeZones* zones, const ScheduleSpec& s);

// The rows `sluice schedule apply` stores for the schedules of `path` in `fs` (an absolute
// path): each with its pipeline's files and params checked as a run would be submitted, by
// `actor` at `now_us`, its watermark `now_us` (nothing before the apply fires). Fails at the
// first bad schedule, pipeline or param (FILE:LINE:COL), or a pipeline with secret params,
// which a schedule cannot give.
Result<std::vector<ScheduleRow>> SnapshotSchedules(Env& env, FileSystem& fs,
                                                   const std::string& path, const std::string& ns,
                                                   const std::string& actor, int64_t now_us);

// A stored schedule, loaded back from its snapshot.
struct LoadedSchedule {
  ScheduleRow row;
  ScheduleSpec spec;
  std::shared_ptr<const CronSchedule> cron;
  std::shared_ptr<const Plan> plan;
  std::map<std::string, std::string> params;  // -p texts
  // Its policy, with the suspend flag of the row (suspend and resume change only the row).
  SchedulePolicy Policy() const;
};
// Loads `row`'s schedule and pipeline from the files it was applied with. Fails (kConflict)
// when the snapshot no longer loads (a newer build refusing what an older one took).
Result<LoadedSchedule> LoadStoredSchedule(Env& env, const ScheduleRow& row);
// The stored schedule `name` of namespace `ns`, loaded (kNotFound when there is none).
Result<LoadedSchedule> FindSchedule(Env& env, Store& store, const std::string& ns,
                                    const std::string& name);

// The run id of schedule `row`'s fire at `time_us`: sched-NAME-20261206T0230Z in namespace
// "default", sched-NS~NAME-20261206T0230Z in another (no name holds a '~', so two schedules of
// different namespaces never share ids); with `manual` (sluice schedule trigger)
// sched-NAME-20261206T023015Z-manual.
std::string ScheduledRunId(const ScheduleRow& row, int64_t time_us, bool manual);
// A manual trigger's id: ScheduledRunId's, or when a trigger of the same second took it,
// the first of ID-2, ID-3, ... (up to 100) that is free: two triggers in one second are two
// runs, where two fires of one time are one.
std::string ManualRunId(Store& store, const ScheduleRow& row, int64_t time_us);
// The times `sluice schedule trigger` gives a run at `now_us`: schedule.time now, its interval
// from the last fire before now (or now) to now.
ScheduleTimes TriggerTimes(const CronSchedule& cron, int64_t now_us);

// What AdmitAndCreateRun did: the run it recorded, or the decisions that denied it (`denied`,
// no run, its run.denied audit record written).
struct AdmittedRun {
  std::optional<RunRecord> run;
  std::vector<Decision> decisions;
  bool denied = false;
};
// The run-creation path a submission over the API, a schedule's fire and a webhook trigger
// share: judges a new run of `plan` with `bound` params by `actor` with the state folder's
// central policies (and granted waivers), and records it with its run.submitted audit record
// under `run_id` ("" = a new random id) with what `again` adds. Fails with kConflict when
// `run_id` is taken, else with the policies' or the store's error; nothing is then recorded.
Result<AdmittedRun> AdmitAndCreateRun(Env& env, const GlobalOptions& g, Store& store,
                                      const Plan& plan, const BoundParams& bound,
                                      const std::string& actor, const std::string& run_id,
                                      const RunOrigin* again);

// Records the run of schedule `s` for fire `t` under `run_id`, as the API's submit does:
// binds its params, judges it with the state folder's central policies (and granted waivers),
// and creates it with its run.submitted audit record by `actor` and its schedule in
// run.created. Fails with kConflict when `run_id` is taken (the fire was started before),
// kPermissionDenied-like kInvalidInput "admission denied ..." when a policy denies it (its
// run.denied record is written), else the store's or the params' error; nothing is recorded.
Result<RunRecord> CreateScheduledRun(Env& env, const GlobalOptions& g, Store& store,
                                     const LoadedSchedule& s, const ScheduleTimes& t,
                                     const std::string& actor, const std::string& run_id);

// How `schedule ls` and GET .../schedules show a stored schedule at `now_us`: namespace, name,
// cron, timeZone, pipeline, suspended, next (its next fire after the watermark), watermark,
// activeRuns (of `scheduled`, Store::ScheduledRuns), appliedBy, appliedAt.
Value ScheduleJson(const LoadedSchedule& s,
                   const std::vector<std::pair<std::string, std::string>>& scheduled,
                   int64_t now_us);
// The text of `schedule ls`: a table of such items.
std::string SchedulesText(const Value& items);

// The fires of a backfill from `from_us` to `to_us` (Backfill's), refused when `to_us` is after
// `now_us`: a backfilled run takes the id its fire would have, so a future fire backfilled now
// would never fire by itself.
Result<std::vector<ScheduleTimes>> PastFires(const CronSchedule& cron, int64_t from_us,
                                             int64_t to_us, int64_t now_us,
                                             size_t max_fires = 10000);

// A fire time (microseconds) as the schedules show it: "2026-12-06T02:30:00Z".
std::string UtcOfUs(int64_t us);

// What a scheduled run's run.created event records of its schedule.
struct RunSchedule {
  std::string ns, name;
  ScheduleTimes times;
};
// Reads it from run.created's `data` (nullopt: no schedule started the run).
std::optional<RunSchedule> ScheduleOfCreated(const std::string& data);
// The schedule of run `run_id` from its events (`history`, or the store's when empty).
std::optional<ScheduleTimes> ScheduleOfRun(Store& store, const std::string& run_id,
                                           const std::vector<Event>& history);

}  // namespace sluice
