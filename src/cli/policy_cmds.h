// Policy evaluation shared by the commands: admission of a pipeline, and the decisions' rows.
#pragma once

#include <string>
#include <vector>

#include "cli/commands.h"
#include "env/env.h"
#include "policy/policy.h"
#include "store/store.h"

namespace sluice {

// The decisions of every admission policy that matches `plan`: the central ones (`central`,
// from CentralPolicies), its own (spec.policies) and those in `policies_dir` ("" = none). Each
// policy is judged with the waivers of its own origin only. Fails on a malformed --policies
// file, or a policy that takes the name of another (a central one included).
Result<std::vector<Decision>> Admit(FileSystem& fs, const Plan& plan, const Value& params,
                                    const PolicySet& central, const std::string& policies_dir,
                                    int64_t now_us, const TimeZones* zones);
// The state folder's central policies and waivers: STATE/policies/ (LoadCentralPolicies) and,
// with `store`, the waivers granted with `sluice waiver grant` whose audit records chain. On
// failure returns the one-line error that refuses every run, validate and resume.
Result<PolicySet> CentralPolicies(Env& env, const GlobalOptions& g, Store* store);
// The granted waivers that count (waivers.cc): recorded, chained, not revoked; kCentral.
Result<std::vector<std::shared_ptr<const WaiverSpec>>> GrantedWaivers(Store& store);
// Admission of a new run that `actor` submits: Admit with `central` and `policies_dir`. When a
// policy denies it, records run.denied (by `actor`, with the denials) in the audit log, creates
// no run, and returns the decisions with `denied` set. Fails on a bad --policies file or the
// store.
struct Admission {
  std::vector<Decision> decisions;
  bool denied = false;
};
Result<Admission> AdmitNewRun(Env& env, Store& store, const std::string& actor, const Plan& plan,
                              const Value& params, const PolicySet& central,
                              const std::string& policies_dir);
// The decisions of every policy of `set` on an ad-hoc `input` (an object with an "object"
// field, as at admission or a gate), each with the waivers of `set`, now: `sluice policy eval`
// and POST /api/v1/policy/eval.
std::vector<Decision> EvaluateInput(Env& env, const PolicySet& set, const Value& input);
// The JSON policy input in file `path` (`policy eval --input`): an object with an "object"
// field. Fails with kInvalidInput naming the file otherwise.
Result<Value> ReadPolicyInput(Env& env, const std::string& path);
// One line a decision on stderr; `all` includes the allows.
void PrintDecisions(const std::vector<Decision>& ds, bool all);
std::vector<DecisionRow> DecisionRows(const std::vector<Decision>& ds, const std::string& run_id,
                                      const std::string& stage, int64_t now_us);

}  // namespace sluice
