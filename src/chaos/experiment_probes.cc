// Probes (experiment.h, docs/chaos.md "Probes"): measured over the phase's runs, the store's
// breakers, a metric provider or CEL, judged by their tolerance; the hypothesis checked every
// interval while the faults are on; the rollbacks' commands.
#include "chaos/experiment.h"
#include "common/strings.h"
#include "engine/breaker.h"
#include "expr/expr.h"
#include "rollout/analysis.h"

namespace sluice::chaos {

namespace {

// The names a tolerance or a cel probe sees.
class ProbeActivation : public Activation {
 public:
  ProbeActivation(const Value& value, const Value& probes, const std::string& phase,
                  const Value& runs)
      : value_(value), probes_(probes), phase_(phase), runs_(runs) {}
  Result<Resolved> Resolve(std::span<const std::string> path) const override {
    if (path[0] == "value") return Resolved{value_, 1};
    if (path[0] == "probes") return Resolved{probes_, 1};
    if (path[0] == "phase") return Resolved{phase_, 1};
    if (path[0] == "runs") return Resolved{runs_, 1};
    return Fail(ErrorCode::kInvalidInput, "unknown name {}", Quote(path[0]));
  }

 private:
  const Value& value_;
  const Value& probes_;
  Value phase_;
  const Value& runs_;
};

}  // namespace

void Experiment::CheckContinuously() {
  if (phase_ != "during" || !spec_.CheckDuring()) return;
  const int64_t now = NowUs();
  ValueMap probes;
  ValueList runs;
  bool met = true;
  for (const auto& a : spec_.hypothesis) {
    if (a.probe.interval_ms == 0) continue;
    int64_t& due = due_us_[a.name];
    if (now < due) continue;
    due = now + a.probe.interval_ms * 1000;
    Value run = Probe(a, "during", probes);
    met = met && run.Find("status")->as_string() == "succeeded";
    runs.push_back(std::move(run));
  }
  if (runs.empty()) return;
  during_.push_back(Value(ValueMap{{"steady_state_met", Value(met)},
                                   {"probes", Value(std::move(runs))},
                                   {"continuous", Value(true)}}));
  if (met) return;
  deviated_ = true;
  say("  the steady state was NOT met while the faults were on{}",
      spec_.fail_fast ? "; failFast: the phase stops" : "");
  if (spec_.fail_fast) stop_phase_ = true;
}

Value Experiment::Probe(const ActivitySpec& a, const std::string& phase, ValueMap& probes) {
  const int64_t start = NowUs();
  std::vector<const TargetRun*> runs;
  ValueList run_values;
  for (const auto& r : runs_) {
    if (r.phase != phase) continue;
    runs.push_back(&r);
    run_values.push_back(TargetRunToValue(r));
  }
  const Value runs_value(std::move(run_values));
  Result<Value> value = Measure(a.probe, phase, runs, Value(probes), runs_value);
  if (!value) {
    return ActivityRun(a, start, NowUs(), "failed", Value(), {value.error().message}, false);
  }
  probes.emplace_back(a.name, *value);
  if (!a.probe.tolerance) return ActivityRun(a, start, NowUs(), "succeeded", *value, {});
  const Value seen(probes);
  ProbeActivation act(*value, seen, phase, runs_value);
  auto ok = a.probe.tolerance->Evaluate(act);
  if (!ok || !ok->is_bool()) {
    return ActivityRun(a, start, NowUs(), "failed", *value,
                       {ok ? "the tolerance is not a bool" : ok.error().message}, false);
  }
  const bool met = ok->as_bool();
  return ActivityRun(
      a, start, NowUs(), met ? "succeeded" : "failed", *value,
      met ? std::vector<std::string>{}
          : std::vector<std::string>{fmt::format("{} is outside the tolerance {}", value->ToJson(),
                                                 a.probe.tolerance_text)},
      met);
}

Result<Value> Experiment::Measure(const ProbeSpec& p, const std::string& phase,
                                  const std::vector<const TargetRun*>& runs, const Value& probes,
                                  const Value& runs_value) {
  switch (p.kind) {
    case ProbeSpec::Kind::kBreaker: {
      SLUICE_TRY(rows, store_.ListBreakers());
      for (const auto& b : *rows) {
        if (b.name != p.breaker) continue;
        auto data = ParseJson(b.data);
        const Value* st = data && data->is_map() ? data->Find("state") : nullptr;
        if (st && st->is_string()) return *st;
      }
      return Fail(ErrorCode::kNotFound, "no data: breaker {} was never used", Quote(p.breaker));
    }
    case ProbeSpec::Kind::kMetric: {
      SLUICE_TRY(resolved, ResolveProvider(p.provider, Value(args_)));
      return NewMetricProvider(env_)->Measure(*resolved);
    }
    case ProbeSpec::Kind::kCel: {
      const Value none;
      ProbeActivation act(none, probes, phase, runs_value);
      return p.expression->Evaluate(act);
    }
    default:
      return ProbeOverRuns(p, runs);
  }
}

Value Experiment::Command(const ActivitySpec& a) {
  const int64_t start = NowUs();
  auto r = RunCapturedCommand(a.command.argv, spec_.file.substr(0, spec_.file.rfind('/') + 1),
                              a.command.timeout_ms * 1000, 64 * 1024);
  if (!r) return ActivityRun(a, start, NowUs(), "failed", Value(), {r.error().message});
  const bool ok = r->exit_code == 0;
  return ActivityRun(
      a, start, NowUs(), ok ? "succeeded" : "failed",
      Value(ValueMap{{"status", Value(int64_t{r->exit_code})}, {"stdout", Value(r->out)}}),
      ok ? std::vector<std::string>{}
         : std::vector<std::string>{fmt::format("exited with {}", r->exit_code)});
}

Value Experiment::ActivityRun(const ActivitySpec& a, int64_t start, int64_t end,
                              const std::string& status, Value output,
                              const std::vector<std::string>& exception,
                              std::optional<bool> tolerance_met) {
  ValueMap m{{"activity", a.written},          {"status", Value(status)},
             {"output", std::move(output)},    {"start", Value(JournalTime(start))},
             {"end", Value(JournalTime(end))}, {"duration", Value((end - start) / 1e6)}};
  if (a.probe.tolerance) m.emplace_back("tolerance_met", Value(tolerance_met.value_or(false)));
  if (!exception.empty()) {
    ValueList e;
    for (const auto& x : exception) e.push_back(Value(x));
    m.emplace_back("exception", Value(std::move(e)));
  }
  return Value(std::move(m));
}

}  // namespace sluice::chaos
