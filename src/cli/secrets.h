// A run's secret params and spec.secrets, as the process that runs its tasks holds them: bound
// (run) or asked for again (resume, rollback), fetched from their sources, and kept out of the
// environment that tasks inherit. Values live only in this process's memory: what is stored is
// "***" and, for a secret param, a salted hash that tells a value given again from another.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/value.h"
#include "engine/attempt.h"
#include "env/env.h"
#include "spec/plan.h"

namespace sluice {

// The params of a new run in the two forms that exist of them.
struct BoundParams {
  Value stored;   // for the store, events, audit and policies: secret params as "***"
  Value digests;  // secret param -> {"salt": HEX, "sha256": HEX}: an empty map when none
  std::shared_ptr<RunSecrets> secrets;  // null when the pipeline has no secrets of either kind
};

// Binds a new run's params (as BindParams does, with a secret param also read from
// SLUICE_PARAM_NAME when -p leaves it out). Fetches nothing: a pipeline's secret commands run
// only once it was admitted (FetchRunSecrets). On failure (a bad or missing param) returns an
// error that names it and shows no value.
Result<BoundParams> BindRunParams(Env& env, const Plan& plan,
                                  const std::map<std::string, std::string>& overrides);
// Fetches the secrets the tasks of an admitted run name into `secrets` (BindRunParams'; null:
// none) and builds its masker. On failure returns an error that names the secret, no value.
Status FetchRunSecrets(Env& env, const Plan& plan, RunSecrets* secrets);

// For resume and rollback of a run stored with `stored` params and `digests`: the secret params
// given again (`given`, -p, or SLUICE_PARAM_NAME), checked against their digests, and the
// secrets fetched again. Fails (naming what is missing or different) rather than run without.
// Returns null when the pipeline has no secrets of either kind.
Result<std::shared_ptr<RunSecrets>> RebindSecrets(Env& env, const Plan& plan, const Value& stored,
                                                  const Value& digests,
                                                  const std::map<std::string, std::string>& given);

// One secret's value from its source (env, file, command). Errors name the secret and where it
// is declared, and never hold its value.
Result<std::string> FetchSecret(Env& env, const SecretDecl& d);

// Set in the environment of an engine that `sluice server` started (server/api.h, StartEngine).
inline constexpr const char* kServedEngineVar = "SLUICE_SERVED_ENGINE";

// The environment tasks inherit: this process's, without the variables that spec.secrets come
// from, without SLUICE_PARAM_* (a task receives those only by naming them), without Sluice's own
// SLUICE_STORE, SLUICE_TOKEN and SLUICE_SERVER, and, in an engine a server started, without the
// PG* variables it was given for the server's store.
std::vector<std::string> TaskBaseEnvironment(Env& env, const Plan& plan);

}  // namespace sluice
