// A rollout's analyses (deploy_analysis.h) on AnalysisRun (analysis.h) with the real providers.
#include "rollout/deploy_analysis.h"

#include <map>

#include "common/strings.h"
#include "rollout/analysis.h"

namespace sluice {

namespace {

Measurement FromRow(const MeasurementRow& r) {
  Measurement m;
  m.template_name = r.template_name;
  m.metric = r.metric;
  m.phase = AnalysisPhaseFromName(r.phase).value_or(AnalysisPhase::kError);
  m.value = r.value;
  m.message = r.message;
  m.started_us = r.started_us;
  m.finished_us = r.finished_us;
  m.dry_run = r.dry_run;
  return m;
}

MeasurementRow ToRow(const Measurement& m) {
  MeasurementRow r;
  r.template_name = m.template_name;
  r.metric = m.metric;
  r.phase = std::string(AnalysisPhaseName(m.phase));
  r.value = m.value;
  r.message = m.message;
  r.started_us = m.started_us;
  r.finished_us = m.finished_us;
  r.dry_run = m.dry_run;
  return r;
}

class RolloutAnalysis : public DeployAnalysis {
 public:
  RolloutAnalysis(std::unique_ptr<MetricProvider> provider, std::unique_ptr<AnalysisRun> run)
      : provider_(std::move(provider)), run_(std::move(run)) {}
  void Tick(int64_t now_us) override {
    if (now_us >= next_us_ && !run_->done()) next_us_ = run_->Tick(now_us);
  }
  AnalysisVerdict verdict() const override {
    return AnalysisVerdict{std::string(AnalysisPhaseName(run_->outcome().phase)),
                           run_->outcome().reason};
  }
  void Terminate() override { run_->Terminate(); }

 private:
  std::unique_ptr<MetricProvider> provider_;  // before run_, which uses it
  std::unique_ptr<AnalysisRun> run_;
  int64_t next_us_ = 0;
};

}  // namespace

Result<std::unique_ptr<DeployAnalysis>> DeployAnalysis::Start(
    Env& env, const EnvironmentsSpec& envs, const std::vector<std::string>& templates, Value args,
    const std::vector<MeasurementRow>& earlier, OnMeasurement on_measurement) {
  std::vector<AnalysisTemplate> ts;
  for (const auto& name : templates) {
    const AnalysisTemplate* t = envs.FindTemplate(name);
    if (!t) {
      return Fail(ErrorCode::kInvalidInput, "AnalysisTemplate {} is no longer declared in "
                  "STATE/environments", Quote(name));
    }
    ts.push_back(*t);
  }
  std::map<std::string, std::string> values;
  if (args.is_map()) {
    for (const auto& [k, v] : args.as_map()) values[k.ToText()] = v.ToText();
  }
  // initialDelay counts from the analysis's start: a resumed one started before its first
  // measurement.
  int64_t started_us = env.clock().NowUs();
  for (const auto& m : earlier) started_us = std::min(started_us, m.started_us);
  auto provider = NewMetricProvider(env);
  SLUICE_TRY(run, AnalysisRun::Create(std::move(ts), values, started_us, &env.clock(),
                                      provider.get()));
  std::vector<Measurement> restored;
  for (const auto& r : earlier) restored.push_back(FromRow(r));
  SLUICE_TRY_STATUS((*run)->Restore(restored));
  (*run)->set_on_measurement([f = std::move(on_measurement)](const Measurement& m) { f(ToRow(m)); });
  return std::unique_ptr<DeployAnalysis>(
      std::make_unique<RolloutAnalysis>(std::move(provider), std::move(*run)));
}

}  // namespace sluice
