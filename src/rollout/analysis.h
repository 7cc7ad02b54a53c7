// The run of an analysis (docs/rollouts.md, "kind: AnalysisTemplate"): the metrics of one or more AnalysisTemplates,
// measured on their schedule and assessed with Argo Rollouts' rules, into one outcome a rollout
// acts on: Successful continues, Failed and Error abort, Inconclusive pauses for a person.
//
// The run is driven by its caller (the rollout's loop): Tick takes the measurements that are
// due and says when the next one is. It holds no thread and no timer, so the decisions are a
// pure function of the measurements and the times Tick is given; providers are reached through
// the MetricProvider seam (the real ones in *_provider.cc, fakes in unit tests). Every
// measurement is handed to `on_measurement` as it is taken, for the store; Restore rebuilds a
// run from those after a restart.
#pragma once

#include <cstdint>
#include <climits>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/value.h"
#include "env/env.h"
#include "spec/analysis_spec.h"

namespace sluice {

// Argo's phases in its order of severity: a later one is worse (IsWorse). A measurement is one of
// the four completed ones; a metric and a run are also Pending or Running before they end.
enum class AnalysisPhase { kPending, kRunning, kSuccessful, kInconclusive, kError, kFailed };

// "Pending", "Running", "Successful", "Inconclusive", "Error", "Failed" (Argo's spelling).
std::string_view AnalysisPhaseName(AnalysisPhase p);
std::optional<AnalysisPhase> AnalysisPhaseFromName(std::string_view name);
inline bool IsCompleted(AnalysisPhase p) { return p >= AnalysisPhase::kSuccessful; }

// One measurement, plain data: what the store keeps and the report draws.
struct Measurement {
  std::string template_name;
  std::string metric;
  AnalysisPhase phase = AnalysisPhase::kError;
  std::string value;    // the result as JSON text; "" when there was none (an Error)
  std::string message;  // why it is Failed, Inconclusive or Error; "" when Successful
  int64_t started_us = 0;
  int64_t finished_us = 0;
  bool dry_run = false;
};

// A measurement as a map that JSON carries (a store column, an event's payload, the API) and
// back: {"template", "metric", "phase", "value", "message", "startedUs", "finishedUs", "dryRun"},
// `value` being the result's JSON text. MeasurementFromValue fails, naming the field, on a map
// that is not one.
Value MeasurementToValue(const Measurement& m);
Result<Measurement> MeasurementFromValue(const Value& v);

// A provider with its placeholders rendered from the run's args.
struct ResolvedProvider {
  AnalysisProvider::Kind kind = AnalysisProvider::Kind::kCommand;
  std::string address, query;                                // prometheus
  std::string url, method, body;                             // web
  std::vector<std::pair<std::string, std::string>> headers;  // web
  std::vector<JsonPathStep> json_path;                       // web; empty = the whole answer
  std::vector<std::string> argv;                             // command, job
  int64_t timeout_us = 0;
};

// Where results come from. Implementations may block up to the provider's timeout; they are
// called from the thread that calls AnalysisRun::Tick.
class MetricProvider {
 public:
  virtual ~MetricProvider() = default;
  // Takes one measurement. On success, the result the conditions read as `result` (for a job,
  // its exit status as an int). On failure, an error whose message says why: the measurement is
  // an Error, and "no data" (an empty vector, NaN) is such a failure, never a healthy result.
  virtual Result<Value> Measure(const ResolvedProvider& p) = 0;
};

// The real providers (prometheus and web over HTTP, command and job as processes started
// through `env`, which must outlive it), dispatching on the provider's kind. Used from one
// thread, as the Env is.
std::unique_ptr<MetricProvider> NewMetricProvider(Env& env);
// `p` with its placeholders rendered from `args` ({NAME: text}).
Result<ResolvedProvider> ResolveProvider(const AnalysisProvider& p, const Value& args);

// Where a metric stands: Argo's MetricResult without the measurements.
struct MetricStatus {
  std::string template_name;
  std::string metric;
  AnalysisPhase phase = AnalysisPhase::kPending;
  bool dry_run = false;
  int count = 0;  // measurements that were not Errors (what `count` counts)
  int successful = 0, failed = 0, inconclusive = 0, errors = 0, consecutive_errors = 0;
  std::string message;  // of its last measurement
};

struct AnalysisOutcome {
  AnalysisPhase phase = AnalysisPhase::kRunning;  // kRunning until it ends
  // Why, in one line naming the metric and the limit: `metric "error-ratio" failed 1 time,
  // more than failureLimit 0 (last: result [0.2]...)`; "" while Running.
  std::string reason;
};

// Not thread-safe: one thread (the rollout's loop) drives a run.
class AnalysisRun {
 public:
  static constexpr int64_t kNever = INT64_MAX;
  // Argo's DefaultErrorRetryInterval: a metric without an interval retries an Error after it.
  static constexpr int64_t kErrorRetryUs = 10'000'000;

  // A run of `templates` with `args` (values for their args; args no template declares are
  // ignored, as Argo does), started at `started_us` (initialDelay counts from it: give the
  // original start when resuming). `clock` stamps measurements; `provider` takes them. Both must
  // outlive the run. Fails when a template's arg without a default has no value, when two
  // templates declare one arg with different defaults, when two metrics share a name, or when a
  // placeholder cannot be rendered.
  static Result<std::unique_ptr<AnalysisRun>> Create(std::vector<AnalysisTemplate> templates,
                                                     const std::map<std::string, std::string>& args,
                                                     int64_t started_us, Clock* clock,
                                                     MetricProvider* provider);

  ~AnalysisRun();
  AnalysisRun(const AnalysisRun&) = delete;
  AnalysisRun& operator=(const AnalysisRun&) = delete;

  // Receives each measurement as it is taken (not the restored ones).
  void set_on_measurement(std::function<void(const Measurement&)> f) { on_measurement_ = std::move(f); }

  // Rebuilds the metrics' counters from measurements stored by on_measurement (in the order they
  // were taken) after a restart, then assesses. Fails on a measurement of a metric this run does
  // not have.
  Status Restore(const std::vector<Measurement>& measurements);

  // Takes every measurement due at `now_us` (each metric at most once a call: an overdue
  // metric is measured once and rescheduled from then, as Argo does) and assesses the run.
  // Returns when the next measurement is due, kNever once the run has ended.
  int64_t Tick(int64_t now_us);

  // Ends the run for a rollout that no longer needs it (a background analysis at the last step):
  // metrics that have not failed are Successful, as in Argo. Idempotent.
  void Terminate();

  const AnalysisOutcome& outcome() const { return outcome_; }
  bool done() const { return outcome_.phase != AnalysisPhase::kRunning; }
  std::vector<MetricStatus> metrics() const;

 private:
  struct MetricRun;
  AnalysisRun(Clock* clock, MetricProvider* provider);
  int64_t DueAt(const MetricRun& m) const;
  void Measure(MetricRun& m);
  void Record(MetricRun& m, const Measurement& ms);
  AnalysisPhase Assess(const MetricRun& m, bool terminating, std::string* reason) const;
  bool Terminating() const;
  void AssessRun();

  Clock* clock_;
  MetricProvider* provider_;
  int64_t started_us_ = 0;
  Value args_;  // a map of strings, what conditions read as `args`
  std::vector<MetricRun> metrics_;
  bool terminated_ = false;
  AnalysisOutcome outcome_;
  std::function<void(const Measurement&)> on_measurement_;
};

// Argo's rules for one measurement's result (EvaluateResult): failureCondition true -> Failed;
// else successCondition true -> Successful; else Inconclusive. With only successCondition, false
// is Failed; with only failureCondition, false is Successful; with neither, Successful. A
// condition that fails to evaluate or is not a bool is an Error, its message in `message`.
AnalysisPhase AssessResult(const AnalysisMetric& m, const Value& result, const Value& args,
                           std::string* message);

}  // namespace sluice
