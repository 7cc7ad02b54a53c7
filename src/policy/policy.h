// Evaluating policies (kind: Policy) and waivers (kind: Waiver) on an input: the compiled
// pipeline at admission, a task's inputs at a gate. Pure: time comes in as an argument, and
// decisions go back to the caller, which stores them.
//
// Each rule of a matching policy gives one decision: allow (its expression is true), deny, warn
// or audit (false, by the rule's action), or waived (a deny accepted by an unexpired waiver).
// An evaluation error (a missing field, a wrong type) denies when failurePolicy is fail.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/time_zone.h"
#include "common/value.h"
#include "spec/plan.h"

namespace sluice {

struct Decision {
  std::string policy;
  std::string rule;
  std::string policy_hash;
  std::string input_digest;  // SHA-256 of the input's canonical JSON
  std::string result;        // allow | deny | warn | audit | waived
  std::string message;
  std::string source;        // where the policy comes from: pipeline | --policies | central
  std::string waiver;        // for waived: the waiver's name
  std::string waiver_granted_by;  // for waived: who granted it
  std::string task;          // gates: the task
};

// What a policy is asked about, for `match` and waiver scopes.
struct PolicyScope {
  std::string pipeline;
  std::map<std::string, std::string> labels;
  std::string task;                     // "" at admission
  std::vector<std::string> components;  // NAME@VERSION of the components it uses
  std::vector<std::string> environments;  // the environments it deploys to (deploy tasks)
};

bool PolicyMatches(const PolicySpec& p, const PolicyScope& scope);

std::vector<Decision> EvaluatePolicy(const PolicySpec& p, const Value& input,
                                     const std::vector<std::shared_ptr<const WaiverSpec>>& waivers,
                                     const PolicyScope& scope, int64_t now_us,
                                     const TimeZones* zones = nullptr);

// The admission input: {"object": {name, labels, file, params, tasks: [...]}}. Each task:
// name, kind (run|script|uses|builtin), uses (as written), component {name, version}, retry
// {limit}, timeout and deadline (seconds, 0 = none), resources {cpu, memory, gpu}, cache,
// breaker, handlers {catch, fallback, compensate}, forEach, needs (all upstream tasks),
// approval {approvers, quorum, forbidSelfApproval, timeout (seconds, 0 = none)} or null, and
// when (the condition as written) or null. Its shape is also in spec/policies.cc, which checks
// a policy's field names against it at load.
Value AdmissionInput(const Plan& plan, const Value& params);
PolicyScope AdmissionScope(const Plan& plan);

bool AnyDenied(const std::vector<Decision>& ds);
Value DecisionToValue(const Decision& d);


}  // namespace sluice
