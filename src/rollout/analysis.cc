// The run of an analysis (analysis.h): Argo Rollouts' AnalysisRun controller as a pure state
// machine over measurements (analysis/analysis.go: runMeasurements, assessMetricStatus,
// asssessRunStatus, generateMetricTasks), without its reconcile queue: the caller's Tick is it.
#include "rollout/analysis.h"

#include <algorithm>

#include "common/strings.h"

namespace sluice {

namespace {

constexpr std::string_view kPhaseNames[] = {"Pending", "Running", "Successful",
                                            "Inconclusive", "Error", "Failed"};

// What conditions and placeholders read: `result` (absent while rendering) and `args`.
class AnalysisActivation : public Activation {
 public:
  AnalysisActivation(const Value* result, const Value& args) : result_(result), args_(args) {}
  Result<Resolved> Resolve(std::span<const std::string> path) const override {
    if (path[0] == "result" && result_) return Resolved{*result_, 1};
    if (path[0] == "args") return Resolved{args_, 1};
    return Fail(ErrorCode::kInvalidInput, "unknown name {}", Quote(path[0]));
  }

 private:
  const Value* result_;
  const Value& args_;
};

// A condition's value, or why it has none.
Result<bool> Holds(const Expression& e, const Activation& act, std::string_view what) {
  auto v = e.Evaluate(act);
  if (!v) return Fail(ErrorCode::kInvalidInput, "{} {}: {}", what, Quote(e.text()), v.error().message);
  auto b = AsCondition(*v);
  if (!b) {
    return Fail(ErrorCode::kInvalidInput, "{} {} gave {} ({}), not a bool", what, Quote(e.text()),
                v->ToJson(), v->TypeName());
  }
  return *b;
}

std::string Plural(int n, std::string_view word) {
  return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s");
}

}  // namespace

std::string_view AnalysisPhaseName(AnalysisPhase p) { return kPhaseNames[static_cast<int>(p)]; }

std::optional<AnalysisPhase> AnalysisPhaseFromName(std::string_view name) {
  for (size_t i = 0; i < std::size(kPhaseNames); ++i) {
    if (kPhaseNames[i] == name) return static_cast<AnalysisPhase>(i);
  }
  return std::nullopt;
}

AnalysisPhase AssessResult(const AnalysisMetric& m, const Value& result, const Value& args,
                           std::string* message) {
  AnalysisActivation act(&result, args);
  bool success = false, failure = false;
  if (m.success_condition) {
    auto s = Holds(*m.success_condition, act, "successCondition");
    if (!s) {
      *message = s.error().message;
      return AnalysisPhase::kError;
    }
    success = *s;
  }
  if (m.failure_condition) {
    auto f = Holds(*m.failure_condition, act, "failureCondition");
    if (!f) {
      *message = f.error().message;
      return AnalysisPhase::kError;
    }
    failure = *f;
  }
  if (!m.success_condition && !m.failure_condition) return AnalysisPhase::kSuccessful;
  if (!m.failure_condition) failure = !success;
  if (!m.success_condition) success = !failure;
  if (failure) {
    *message = m.failure_condition
                   ? fmt::format("failureCondition {} holds", Quote(m.failure_condition->text()))
                   : fmt::format("successCondition {} does not hold",
                                 Quote(m.success_condition->text()));
    return AnalysisPhase::kFailed;
  }
  if (!success) {
    *message = fmt::format("neither successCondition {} nor failureCondition {} holds",
                           Quote(m.success_condition->text()), Quote(m.failure_condition->text()));
    return AnalysisPhase::kInconclusive;
  }
  return AnalysisPhase::kSuccessful;
}

struct AnalysisRun::MetricRun {
  AnalysisMetric spec;
  ResolvedProvider provider;
  MetricStatus status;
  std::string reason;  // why it ended, once it has
  std::optional<AnalysisPhase> last_phase;
  int64_t last_finished_us = 0;
};

AnalysisRun::AnalysisRun(Clock* clock, MetricProvider* provider)
    : clock_(clock), provider_(provider) {}

AnalysisRun::~AnalysisRun() = default;

namespace {

// The args' values: given, else the templates' defaults; each template's required ones given.
Result<Value> MergeArgs(const std::vector<AnalysisTemplate>& templates,
                        const std::map<std::string, std::string>& given) {
  std::map<std::string, std::pair<std::string, const AnalysisArg*>> merged;
  for (const auto& t : templates) {
    for (const auto& a : t.args) {
      if (auto it = given.find(a.name); it != given.end()) {
        merged[a.name] = {it->second, &a};
        continue;
      }
      if (!a.value) {
        return Fail(ErrorCode::kInvalidInput, "AnalysisTemplate {} needs arg {} (declared at "
                    "{} without a value), which was not given", Quote(t.name), Quote(a.name),
                    a.loc.ToString());
      }
      auto [it, fresh] = merged.try_emplace(a.name, *a.value, &a);
      if (!fresh && it->second.first != *a.value) {
        return Fail(ErrorCode::kInvalidInput, "arg {} has two defaults, {} at {} and {} at {}; "
                    "give it a value", Quote(a.name), Quote(it->second.first),
                    it->second.second->loc.ToString(), Quote(*a.value), a.loc.ToString());
      }
    }
  }
  ValueMap m;
  for (const auto& [name, v] : merged) m.emplace_back(Value(name), Value(v.first));
  return Value(std::move(m));
}

Result<std::string> Render(const AnalysisText& t, const Activation& act) {
  auto s = t.tmpl.Render(act);
  if (!s) return FailAt(t.loc, "{}", s.error().message);
  return s;
}

Result<ResolvedProvider> Resolve(const AnalysisProvider& p, const Value& args) {
  AnalysisActivation act(nullptr, args);
  ResolvedProvider r;
  r.kind = p.kind;
  r.timeout_us = p.timeout_ms * 1000;
  switch (p.kind) {
    case AnalysisProvider::Kind::kPrometheus: {
      SLUICE_TRY(address, Render(p.address, act));
      SLUICE_TRY(query, Render(p.query, act));
      r.address = *address;
      r.query = *query;
      break;
    }
    case AnalysisProvider::Kind::kWeb: {
      SLUICE_TRY(url, Render(p.url, act));
      r.url = *url;
      r.method = p.method;
      for (const auto& [name, value] : p.headers) {
        SLUICE_TRY(v, Render(value, act));
        r.headers.emplace_back(name, *v);
      }
      if (p.body) {
        SLUICE_TRY(body, Render(*p.body, act));
        r.body = *body;
      }
      if (!p.json_path.empty()) {
        SLUICE_TRY(steps, ParseJsonPath(p.json_path));
        r.json_path = std::move(*steps);
      }
      break;
    }
    case AnalysisProvider::Kind::kCommand:
    case AnalysisProvider::Kind::kJob:
      for (const auto& a : p.run) {
        SLUICE_TRY(v, Render(a, act));
        r.argv.push_back(*v);
      }
      break;
  }
  return r;
}

}  // namespace

Result<std::unique_ptr<AnalysisRun>> AnalysisRun::Create(
    std::vector<AnalysisTemplate> templates, const std::map<std::string, std::string>& args,
    int64_t started_us, Clock* clock, MetricProvider* provider) {
  if (templates.empty()) return Fail(ErrorCode::kInvalidInput, "an analysis needs a template");
  SLUICE_TRY(merged, MergeArgs(templates, args));
  std::unique_ptr<AnalysisRun> run(new AnalysisRun(clock, provider));
  run->started_us_ = started_us;
  run->args_ = std::move(*merged);
  for (auto& t : templates) {
    for (auto& m : t.metrics) {
      for (const auto& other : run->metrics_) {
        if (other.spec.name == m.name) {
          return Fail(ErrorCode::kInvalidInput, "metric {} is in both AnalysisTemplate {} and "
                      "{}; metric names must differ across an analysis's templates",
                      Quote(m.name), Quote(other.status.template_name), Quote(t.name));
        }
      }
      SLUICE_TRY(resolved, Resolve(m.provider, run->args_));
      MetricRun mr;
      mr.provider = std::move(*resolved);
      mr.status.template_name = t.name;
      mr.status.metric = m.name;
      mr.status.dry_run = m.dry_run;
      mr.spec = std::move(m);
      run->metrics_.push_back(std::move(mr));
    }
  }
  return run;
}

int64_t AnalysisRun::DueAt(const MetricRun& m) const {
  if (IsCompleted(m.status.phase)) return kNever;
  if (!m.last_phase) return started_us_ + m.spec.initial_delay_ms * 1000;
  if (m.spec.interval_ms > 0) return m.last_finished_us + m.spec.interval_ms * 1000;
  // No interval: one measurement, retried after an Error (Argo's DefaultErrorRetryInterval).
  if (*m.last_phase == AnalysisPhase::kError) return m.last_finished_us + kErrorRetryUs;
  return kNever;
}

void AnalysisRun::Measure(MetricRun& m) {
  Measurement ms;
  ms.template_name = m.status.template_name;
  ms.metric = m.spec.name;
  ms.dry_run = m.spec.dry_run;
  ms.started_us = clock_->NowUs();
  auto result = provider_->Measure(m.provider);
  ms.finished_us = clock_->NowUs();
  if (!result) {
    ms.phase = AnalysisPhase::kError;
    ms.message = result.error().message;
  } else if (m.provider.kind == AnalysisProvider::Kind::kJob) {
    // The job provider answers {"exitCode": N, "timedOut": bool, "signal": N}.
    ms.value = result->ToJson();
    const Value* code = result->is_map() ? result->Find("exitCode") : nullptr;
    const bool ok = code && code->is_int() && code->as_int() == 0;
    ms.phase = ok ? AnalysisPhase::kSuccessful : AnalysisPhase::kFailed;
    if (!ok) ms.message = fmt::format("the job failed: {}", ms.value);
  } else {
    ms.value = result->ToJson();
    ms.phase = AssessResult(m.spec, *result, args_, &ms.message);
  }
  Record(m, ms);
  if (on_measurement_) on_measurement_(ms);
}

// Argo's counters (runMeasurements): an Error does not count towards `count`, and any other
// phase ends a run of consecutive errors.
void AnalysisRun::Record(MetricRun& m, const Measurement& ms) {
  MetricStatus& s = m.status;
  if (ms.phase == AnalysisPhase::kError) {
    ++s.errors;
    ++s.consecutive_errors;
  } else {
    ++s.count;
    s.consecutive_errors = 0;
    if (ms.phase == AnalysisPhase::kSuccessful) ++s.successful;
    if (ms.phase == AnalysisPhase::kFailed) ++s.failed;
    if (ms.phase == AnalysisPhase::kInconclusive) ++s.inconclusive;
  }
  s.message = ms.message;
  m.last_phase = ms.phase;
  m.last_finished_us = ms.finished_us;
}

// Argo's assessMetricStatus: the limits first, then the count, then termination.
AnalysisPhase AnalysisRun::Assess(const MetricRun& m, bool terminating, std::string* reason) const {
  const MetricStatus& s = m.status;
  const AnalysisMetric& spec = m.spec;
  const std::string who = fmt::format("metric {}", Quote(spec.name));
  const std::string last = s.message.empty() ? "" : "; last: " + s.message;
  if (!m.last_phase) {
    if (!terminating) return AnalysisPhase::kPending;
    *reason = who + " was terminated before its first measurement";
    return AnalysisPhase::kSuccessful;
  }
  if (s.failed > spec.failure_limit) {
    *reason = fmt::format("{} failed {}, more than failureLimit {}{}", who, Plural(s.failed, "time"),
                          spec.failure_limit, last);
    return AnalysisPhase::kFailed;
  }
  if (s.inconclusive > spec.inconclusive_limit) {
    *reason = fmt::format("{} was inconclusive {}, more than inconclusiveLimit {}{}", who,
                          Plural(s.inconclusive, "time"), spec.inconclusive_limit, last);
    return AnalysisPhase::kInconclusive;
  }
  if (s.consecutive_errors > spec.consecutive_error_limit) {
    *reason = fmt::format("{} had {} in a row, more than consecutiveErrorLimit {}{}", who,
                          Plural(s.consecutive_errors, "error"), spec.consecutive_error_limit, last);
    return AnalysisPhase::kError;
  }
  if (auto total = spec.EffectiveCount(); total && s.count >= *total) {
    *reason = fmt::format("{} passed: {} of {} measurements successful", who, s.successful, s.count);
    return AnalysisPhase::kSuccessful;
  }
  if (terminating) {
    *reason = fmt::format("{} was terminated after {} without failing", who,
                          Plural(s.count, "measurement"));
    return AnalysisPhase::kSuccessful;
  }
  return AnalysisPhase::kRunning;
}

// Argo's IsTerminating: asked to, or a metric that decides has ended badly.
bool AnalysisRun::Terminating() const {
  if (terminated_) return true;
  return std::any_of(metrics_.begin(), metrics_.end(), [](const MetricRun& m) {
    return !m.spec.dry_run && IsCompleted(m.status.phase) &&
           m.status.phase != AnalysisPhase::kSuccessful;
  });
}

void AnalysisRun::AssessRun() {
  // Twice at most: a metric that ends badly terminates the others (Argo reaches the same point
  // on its next reconcile).
  for (int pass = 0; pass < 2; ++pass) {
    const bool terminating = Terminating();
    for (auto& m : metrics_) {
      if (IsCompleted(m.status.phase)) continue;  // a metric's end is final, as in Argo
      m.status.phase = Assess(m, terminating, &m.reason);
    }
    if (terminating == Terminating()) break;
  }
  const MetricRun* worst = nullptr;
  for (const auto& m : metrics_) {
    if (!IsCompleted(m.status.phase)) return;  // still Running
    if (m.spec.dry_run) continue;              // measured and reported, never deciding
    if (!worst || m.status.phase > worst->status.phase) worst = &m;
  }
  if (!worst) {
    outcome_ = {AnalysisPhase::kSuccessful, "every metric is dryRun: reported, not deciding"};
  } else if (worst->status.phase == AnalysisPhase::kSuccessful) {
    outcome_ = {AnalysisPhase::kSuccessful,
                terminated_ ? "terminated; no metric failed"
                            : fmt::format("{} successful", Plural(static_cast<int>(metrics_.size()),
                                                                  "metric"))};
  } else {
    outcome_ = {worst->status.phase, worst->reason};
  }
}

int64_t AnalysisRun::Tick(int64_t now_us) {
  if (done()) return kNever;
  if (!Terminating()) {
    for (auto& m : metrics_) {
      if (DueAt(m) <= now_us) Measure(m);
    }
  }
  AssessRun();
  if (done()) return kNever;
  int64_t next = kNever;
  for (const auto& m : metrics_) next = std::min(next, DueAt(m));
  return next;
}

void AnalysisRun::Terminate() {
  if (done()) return;
  terminated_ = true;
  AssessRun();
}

Status AnalysisRun::Restore(const std::vector<Measurement>& measurements) {
  for (const auto& ms : measurements) {
    auto it = std::find_if(metrics_.begin(), metrics_.end(), [&](const MetricRun& m) {
      return m.spec.name == ms.metric && m.status.template_name == ms.template_name;
    });
    if (it == metrics_.end()) {
      return Fail(ErrorCode::kInvalidInput, "a stored measurement of metric {} of template {} "
                  "is not of this analysis (did its AnalysisTemplate change?)", Quote(ms.metric),
                  Quote(ms.template_name));
    }
    if (IsCompleted(it->status.phase)) continue;  // as live: nothing is measured after the end
    Record(*it, ms);
    std::string reason;
    it->status.phase = Assess(*it, false, &reason);
    it->reason = reason;
  }
  AssessRun();
  return {};
}

std::vector<MetricStatus> AnalysisRun::metrics() const {
  std::vector<MetricStatus> out;
  for (const auto& m : metrics_) out.push_back(m.status);
  return out;
}

Result<ResolvedProvider> ResolveProvider(const AnalysisProvider& p, const Value& args) {
  return Resolve(p, args);
}

}  // namespace sluice
