// The documents and texts of `sluice rollout status` and `sluice env ls|history` (rollouts.cc),
// and the one way a rollout is given a command, shared by the local commands and the server's
// routes (src/server/rollouts_api.cc) so that both print the same text from the same JSON and
// judge a promote by the same rules: the CLI against a server (remote_rollouts.cc) renders what
// the API serves with these functions.
#pragma once

#include <string>
#include <vector>

#include "cli/identity.h"
#include "common/value.h"
#include "env/env.h"
#include "spec/environment_spec.h"
#include "store/store.h"

namespace sluice {

// A rollout with its measurements: what `sluice rollout status -o json` prints and
// GET /api/v1/runs/{id}/rollouts/{task} serves. Times are given both as text ("started") and as
// microseconds since the epoch ("startedUs"), which the report's charts use.
Value RolloutJson(const RolloutRow& r, const std::vector<MeasurementRow>& ms);
// The RolloutJson of deploy task `task` of run `run_id`, read from `store`; kNotFound when the
// task has no rollout (not a deploy task, or not started).
Result<Value> RolloutDocument(Store& store, const std::string& run_id, const std::string& task);
// Its text: the run, task, environment and phase, the candidate and stable slots, a line per
// measurement.
std::string RolloutText(const Value& rollout);

// Each declared environment's current release and active rollout, in declaration order (`sluice
// env ls -o json`, GET /api/v1/environments). Fails with the store's error.
Result<Value> EnvironmentsJson(const EnvironmentsSpec& envs, Store& store);
std::string EnvironmentsText(const Value& environments);
// An environment's releases, newest first (`sluice env history -o json`, GET
// /api/v1/environments/{name}/history), and their text ("NAME has had no release" for none).
Value ReleasesJson(const std::vector<ReleaseRow>& rows);
std::string ReleasesText(const std::string& environment, const Value& releases);

// What a command given to a rollout did.
struct RolloutCommanded {
  std::string environment;
  AuditRecord audit;  // as appended (its seq)
};
// `who` gives the rollout of `task` in `run` `command` (promote, pause, resume, abort), audited
// as rollout.COMMAND by who.Actor() in the same transaction. promote and resume follow the
// environment's approval (STATE/environments of `state_dir`) as a vote would (MayPromote).
// On failure nothing is stored: kNotFound when the task has no rollout, kConflict when it has
// ended, kInvalidInput with `*refused` set when the approval's rules refuse `who`; otherwise
// the environments' or the store's error.
Result<RolloutCommanded> GiveRolloutCommand(Env& env, const std::string& state_dir, Store& store,
                                            const RunRecord& run, const std::string& task,
                                            const Principal& who, const std::string& command,
                                            bool* refused);
// "COMMAND the rollout of TASK in run RUN (ENVIRONMENT)\n": what the command prints.
std::string RolloutCommandText(const std::string& command, const std::string& task,
                               const std::string& run, const std::string& environment);

}  // namespace sluice
