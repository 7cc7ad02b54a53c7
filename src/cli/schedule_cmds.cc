// The local schedule commands (schedule_cmds.h).
#include "cli/schedule_cmds.h"

#include <cstdio>

#include "cli/cli_support.h"
#include "cli/identity.h"
#include "cli/policy_cmds.h"
#include "cli/schedule_runs.h"
#include "common/strings.h"
#include "env/faults.h"
#include "policy/policy.h"
#include "spec/plan.h"

namespace sluice {

namespace {


// The current user's audit actor (users.yaml and --as apply).
Result<std::string> Actor(Env& env, const GlobalOptions& g) {
  SLUICE_TRY(who, NewEmbeddedIdentity(env, g.state_dir, g.as)->Current());
  return who->Actor();
}

// Executes stored scheduled run `run` in this process, as `sluice resume` would its first time.
int ExecuteScheduled(Env& env, const GlobalOptions& g, Store& store, const RunRecord& run,
                     const ExecOptions& x) {
  auto loaded = LoadStoredRun(store, run);
  if (!loaded) return Report(loaded.error());
  auto central = CentralPolicies(env, g, &store);
  if (!central) return Report(central.error());
  auto secrets = SecretsAgain(env, store, *loaded->first, loaded->second, run, x);
  if (!secrets) return Report(secrets.error());
  return Execute(env, g, store, loaded->first, loaded->second, run.id, false, x,
                 std::make_shared<const PolicySet>(std::move(*central)), secrets->get());
}

// The current account when it may apply, suspend and resume schedules: what they fire, a server
// runs as whoever applied them, so on a shared state folder only its owner and the accounts
// users.yaml grants "schedules" may (the server's own routes need the operator role).
Result<Principal> Manager(Env& env, const GlobalOptions& g) {
  return OwnerOrGranted(env, g, kRightSchedules, "manage schedules");
}

}  // namespace

int CmdScheduleApply(Env& env, const GlobalOptions& g, const std::string& file) {
  auto who = Manager(env, g);
  if (!who) return Report(who.error());
  const std::string actor = who->Actor();
  const int64_t now = env.clock().NowUs();
  auto rows = SnapshotSchedules(env, env.files(), env.files().Absolute(file), "default", actor, now);
  if (!rows) return Report(rows.error());
  auto store = OpenStore(env, g, true);
  if (!store) return Report(store.error());
  for (const ScheduleRow& row : *rows) {
    auto audit = AuditOf(env, actor, "schedule.applied", "", row.name,
                         Value(ValueMap{{"namespace", Value(row.ns)}, {"file", Value(row.file)},
                                        {"suspended", Value(row.suspended)}}));
    if (auto a = (*store)->ApplySchedule(row, std::move(audit)); !a) return Report(a.error());
    std::printf("applied schedule %s%s\n", row.name.c_str(), row.suspended ? " (suspended)" : "");
  }
  std::printf("it fires only while a `sluice server` runs on this state folder\n");
  return 0;
}

int CmdScheduleLs(Env& env, const GlobalOptions& g) {
  auto store = OpenStore(env, g, true);
  if (!store) return Report(store.error());
  auto rows = (*store)->ListSchedules("");
  if (!rows) return Report(rows.error());
  auto scheduled = (*store)->ScheduledRuns();
  if (!scheduled) return Report(scheduled.error());
  ValueList items;
  for (const ScheduleRow& row : *rows) {
    auto s = LoadStoredSchedule(env, row);
    if (!s) return Report(s.error());
    items.push_back(ScheduleJson(*s, *scheduled, env.clock().NowUs()));
  }
  const Value listed(std::move(items));
  if (g.json) std::printf("%s\n", listed.ToJson().c_str());
  else std::fputs(SchedulesText(listed).c_str(), stdout);
  return 0;
}

int CmdScheduleSuspend(Env& env, const GlobalOptions& g, const std::string& name, bool suspend) {
  if (auto who = Manager(env, g); !who) return Report(who.error());
  auto store = OpenStore(env, g, true);
  if (!store) return Report(store.error());
  auto audit = AuditBy(env, g, suspend ? "schedule.suspended" : "schedule.resumed", "", name,
                       Value(ValueMap{{"namespace", Value("default")}}));
  if (!audit) return Report(audit.error());
  auto done = (*store)->SuspendSchedule("default", name, suspend, std::move(*audit));
  if (!done) return Report(done.error());
  std::printf("%s schedule %s\n", suspend ? "suspended" : "resumed", name.c_str());
  return 0;
}

int CmdScheduleTrigger(Env& env, const GlobalOptions& g, const std::string& name,
                       const ExecOptions& x) {
  auto actor = Actor(env, g);
  if (!actor) return Report(actor.error());
  auto faults = FaultsFromEnv(env);  // the store's: the launcher's are read as a run's
  if (!faults) return Report(faults.error());
  auto store = OpenStore(env, g, true, StoreFaultsOf(*faults));
  if (!store) return Report(store.error());
  auto s = FindSchedule(env, **store, "default", name);
  if (!s) return Report(s.error());
  const ScheduleTimes t = TriggerTimes(*s->cron, env.clock().NowUs());
  auto run = CreateScheduledRun(env, g, **store, *s, t, *actor,
                                ManualRunId(**store, s->row, t.time_us));
  if (!run) return Report(run.error());
  return ExecuteScheduled(env, g, **store, *run, x);
}

int CmdBackfill(Env& env, const GlobalOptions& g, const std::string& name, const std::string& from,
                const std::string& to, const ExecOptions& x) {
  auto actor = Actor(env, g);
  if (!actor) return Report(actor.error());
  auto faults = FaultsFromEnv(env);  // the store's: the launcher's are read as a run's
  if (!faults) return Report(faults.error());
  auto store = OpenStore(env, g, true, StoreFaultsOf(*faults));
  if (!store) return Report(store.error());
  auto s = FindSchedule(env, **store, "default", name);
  if (!s) return Report(s.error());
  auto from_s = ParseInstant(from, *s->cron);
  if (!from_s) return Report(from_s.error().Wrap("--from"));
  auto to_s = ParseInstant(to, *s->cron);
  if (!to_s) return Report(to_s.error().Wrap("--to"));
  auto fires = PastFires(*s->cron, *from_s * kSecondUs, *to_s * kSecondUs, env.clock().NowUs());
  if (!fires) return Report(fires.error());
  int worst = 0;
  for (const ScheduleTimes& t : *fires) {
    const std::string id = ScheduledRunId(s->row, t.time_us, false);
    auto run = CreateScheduledRun(env, g, **store, *s, t, *actor, id);
    if (!run && run.error().code == ErrorCode::kConflict) {
      std::fprintf(stderr, "sluice: fire %s: run %s exists; left out\n", UtcOfUs(t.time_us).c_str(),
                   id.c_str());
      continue;
    }
    if (!run) return Report(run.error());
    worst = std::max(worst, ExecuteScheduled(env, g, **store, *run, x));
  }
  if (fires->empty()) std::fprintf(stderr, "sluice: schedule %s has no fire in that range\n", name.c_str());
  return worst;
}

}  // namespace sluice
