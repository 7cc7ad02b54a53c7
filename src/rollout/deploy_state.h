// What a rollout process works from and keeps (deploy_exec.h): the request the engine resolved
// for its attempt, the state it stores in its rollouts row at every transition, its slots'
// commands, the args its analyses get, and the promotion rules it checks before it starts, as
// pure functions. Internal to src/rollout.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "common/value.h"
#include "env/env.h"
#include "rollout/deploy_router.h"
#include "spec/environment_spec.h"
#include "store/rollout_rows.h"

namespace sluice {

// What the engine passed (attempt_deploy.cc) and the attempt's identity from its environment.
struct DeployRequest {
  std::string run_id, task;
  int attempt = 0;
  std::string environment, model, version;
  // The digest the producing task stored the model with, which its policies judged; "": the
  // model is no upstream artifact.
  std::string digest;
  Value args;      // {NAME: text}
  Value strategy;  // {"canary": {...}} or {"blueGreen": {...}} (loader_deploy.cc)
  bool supersede = false;
  std::string state_dir, store;
};
Result<DeployRequest> ParseDeployRequest(Env& env, const std::string& json);

// "sha256:" and the first 12 hex digits of a model's digest, as messages show it.
std::string ShortDigest(const std::string& digest);

// "blue=75 green=25": a split as the rollout's log shows it.
std::string WeightText(const std::vector<SlotWeight>& split);

// A field of a JSON map, or `fallback`.
int64_t IntOf(const Value& v, const char* key, int64_t fallback = 0);
std::string TextOf(const Value& v, const char* key);
bool BoolOf(const Value& v, const char* key, bool fallback);

// What a rollout has done so far: the data column of its rollouts row.
struct DeployState {
  std::string stage = "new";  // new, started, steps, switched, post, scaledown
  int step = 0;               // the canary step in progress
  int64_t step_started_us = 0;
  std::string pause;          // "", "step", "inconclusive", "promotion": what a promote ends
  bool manual_pause = false;  // sluice rollout pause
  std::string stable_slot, stable_digest, stable_version;
  std::string canary_slot, digest, version;
  int weight = 0;             // the candidate's share of requests, in percent
  int64_t generation = 0;     // the router's last split
  int64_t seen_command = 0;
  int epoch = 0;  // the attempt that began this run of the rollout (measurements are its own)
  int64_t released_us = 0;
  // What happened when, for the report: {"us", "kind" (weight, analysis, pause, promote,
  // abort, release), "weight", "message"}, at most kTimelineMax (a rollout has few steps).
  ValueList timeline;

  Value ToValue() const {
    return Value(ValueMap{
        {Value("stage"), Value(stage)}, {Value("step"), Value(int64_t{step})},
        {Value("stepStartedUs"), Value(step_started_us)}, {Value("pause"), Value(pause)},
        {Value("manualPause"), Value(manual_pause)}, {Value("stableSlot"), Value(stable_slot)},
        {Value("stableDigest"), Value(stable_digest)},
        {Value("stableVersion"), Value(stable_version)},
        {Value("canarySlot"), Value(canary_slot)}, {Value("digest"), Value(digest)},
        {Value("version"), Value(version)}, {Value("weight"), Value(int64_t{weight})},
        {Value("generation"), Value(generation)}, {Value("seenCommand"), Value(seen_command)},
        {Value("epoch"), Value(int64_t{epoch})},
        {Value("releasedUs"), Value(released_us)}, {Value("timeline"), Value(timeline)}});
  }
  static DeployState From(const Value& v) {
    DeployState s;
    s.stage = TextOf(v, "stage");
    s.step = static_cast<int>(IntOf(v, "step"));
    s.step_started_us = IntOf(v, "stepStartedUs");
    s.pause = TextOf(v, "pause");
    s.manual_pause = BoolOf(v, "manualPause", false);
    s.stable_slot = TextOf(v, "stableSlot");
    s.stable_digest = TextOf(v, "stableDigest");
    s.stable_version = TextOf(v, "stableVersion");
    s.canary_slot = TextOf(v, "canarySlot");
    s.digest = TextOf(v, "digest");
    s.version = TextOf(v, "version");
    s.weight = static_cast<int>(IntOf(v, "weight"));
    s.generation = IntOf(v, "generation");
    s.seen_command = IntOf(v, "seenCommand");
    s.epoch = static_cast<int>(IntOf(v, "epoch"));
    s.released_us = IntOf(v, "releasedUs");
    const Value* t = v.is_map() ? v.Find("timeline") : nullptr;
    if (t && t->is_list()) s.timeline = t->as_list();
    return s;
  }
};

// The args an analysis of the rollout is given: the deploy's `args`, the analysis's own (which
// win), and the built-in ones neither sets: version, stableVersion, environment, canarySlot,
// stableSlot, previewAddress (the candidate slot's address) and stableAddress.
Value AnalysisArgs(const Value& deploy_args, const Value& analysis, const EnvironmentSpec& env,
                   const DeployState& st);

// Why promotion rule `after` + `soak` of `env` refuses model `digest` (shown as `version`), from
// the releases of the environment that must come first; "" when it allows it (or has no such
// rule).
std::string PromotionRefusal(const EnvironmentSpec& env, const std::vector<ReleaseRow>& after,
                             const std::string& digest, const std::string& version, int64_t now_us);
// When the freeze window `env` is in at `now_us` ends (microseconds); 0 when it is in none.
int64_t FrozenUntil(const EnvironmentSpec& env, const TimeZones* zones, int64_t now_us);

// The model a slot's commands are given: ${{ model.path }}, ${{ model.digest }},
// ${{ model.version }}.
struct SlotModel {
  std::string path, digest, version;
};
// Runs one of `slot`'s commands (`what`: start, stop, health) with its placeholders filled;
// fails with its output when it does not exit 0.
Status RunSlot(const EnvironmentSpec& env, const SlotSpec& slot,
               const std::vector<TemplateField>& argv, const char* what, const SlotModel& model);
// Whether `slot` serves: its health URL answers 2xx, or its health command exits 0.
Status SlotHealthy(const EnvironmentSpec& env, const SlotSpec& slot, const SlotModel& model);

}  // namespace sluice
