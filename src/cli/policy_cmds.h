// Policy evaluation shared by the commands: admission of a pipeline, and the decisions' rows.
#pragma once

#include <string>
#include <vector>

#include "env/env.h"
#include "policy/policy.h"
#include "store/store.h"

namespace sluice {

// The decisions of every admission policy that matches `plan`: its own (spec.policies) and
// those in `policies_dir` ("" = none), with their waivers.
Result<std::vector<Decision>> Admit(FileSystem& fs, const Plan& plan, const Value& params,
                                    const std::string& policies_dir, int64_t now_us,
                                    const TimeZones* zones);
// One line a decision on stderr; `all` includes the allows.
void PrintDecisions(const std::vector<Decision>& ds, bool all);
std::vector<DecisionRow> DecisionRows(const std::vector<Decision>& ds, const std::string& run_id,
                                      const std::string& stage, int64_t now_us);

}  // namespace sluice
