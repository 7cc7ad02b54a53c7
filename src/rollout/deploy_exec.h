// The rollout process (docs/rollouts.md): what a deploy task's attempt runs, `sluice-net
// rollout-exec SPEC`. It moves a model into an environment of STATE/environments with the
// task's strategy (canary steps or blue/green), deciding with analyses, and writes its state to
// the store's rollouts row at every step, so that a rollout killed anywhere continues from its
// stored step when the run is resumed (the weights are put into force again first).
//
// It reads the environment itself, from the state folder, and checks the promotion rules before
// it touches anything: SPEC (the engine's, from the pipeline) says what to deploy and how, never
// which rules apply. Its exit code is one of outcome.h's kDeployExit* or 0.
#pragma once

#include <string>

#include "env/env.h"

namespace sluice {

int RolloutExecMain(Env& env, const std::string& spec_json);

}  // namespace sluice
