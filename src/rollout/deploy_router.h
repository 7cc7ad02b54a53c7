// Traffic routers of an environment (environment_spec.h RouterSpec; docs/rollouts.md): they put
// a split of the requests between slots into force and confirm it serves before the rollout
// moves on. nginx is built in; a `command` router hands the weights to hooks (Istio, Gateway
// API, a cloud load balancer).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "env/env.h"
#include "spec/environment_spec.h"

namespace sluice {

// One slot's share of the requests, in percent; the shares of a split add up to 100.
struct SlotWeight {
  std::string slot;
  std::string address;
  int weight = 0;
};

class Router {
 public:
  virtual ~Router() = default;
  // Puts `weights` into force as generation `generation` and returns once it serves them, or
  // fails saying which step did not happen (nothing changed when the check fails).
  virtual Status Apply(const std::vector<SlotWeight>& weights, int64_t generation) = 0;
};

std::unique_ptr<Router> MakeRouter(const EnvironmentSpec& spec);

// The weights as hooks receive them: {"environment", "generation", "weights": [{slot, address,
// weight}]}.
std::string WeightsJson(const std::string& environment, int64_t generation,
                        const std::vector<SlotWeight>& weights);


}  // namespace sluice
