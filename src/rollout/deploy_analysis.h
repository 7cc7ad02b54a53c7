// A rollout's analyses (docs/rollouts.md): the AnalysisTemplates a step, a blue/green stage or
// the background names, run with the rollout's args (analysis.h AnalysisRun), each measurement
// handed to the rollout to store as it is taken. An analysis resumed after a restart continues
// from the measurements stored before (counts and consecutive errors rebuilt from them).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/value.h"
#include "env/env.h"
#include "spec/environment_spec.h"
#include "store/rollout_rows.h"

namespace sluice {

// Running, Successful, Failed, Inconclusive or Error (Argo Rollouts' outcomes), and why.
struct AnalysisVerdict {
  std::string phase = "Running";
  std::string reason;
};

class DeployAnalysis {
 public:
  using OnMeasurement = std::function<void(const MeasurementRow&)>;
  virtual ~DeployAnalysis() = default;
  // Fails when a template is not declared or an arg it needs is missing.
  static Result<std::unique_ptr<DeployAnalysis>> Start(Env& env, const EnvironmentsSpec& envs,
                                                       const std::vector<std::string>& templates,
                                                       Value args,
                                                       const std::vector<MeasurementRow>& earlier,
                                                       OnMeasurement on_measurement);
  // Takes the measurements that are due at `now_us`.
  virtual void Tick(int64_t now_us) = 0;
  virtual AnalysisVerdict verdict() const = 0;
  // A background analysis the rollout no longer needs: Successful unless it already decided.
  virtual void Terminate() = 0;
};

}  // namespace sluice
