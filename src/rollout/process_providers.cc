// The command and job providers (providers.h), started through the Env's RunCommand, and the
// MetricProvider that dispatches to every real provider.
#include "common/strings.h"
#include "env/env.h"
#include "rollout/providers.h"

namespace sluice {

namespace {

// A command's result is JSON of at most this size; a job's output is kept only for its message.
constexpr size_t kMaxCommandOutput = 1 << 20;
constexpr size_t kMaxJobOutput = 16 << 20;
constexpr size_t kJobOutputShown = 400;

std::string Seconds(int64_t us) { return FormatDurationMs(us / 1000); }

class RealMetricProvider : public MetricProvider {
 public:
  explicit RealMetricProvider(Env& env) : env_(env) {}
  Result<Value> Measure(const ResolvedProvider& p) override {
    switch (p.kind) {
      case AnalysisProvider::Kind::kPrometheus: return MeasurePrometheus(p);
      case AnalysisProvider::Kind::kWeb: return MeasureWeb(p);
      case AnalysisProvider::Kind::kCommand: return MeasureCommand(env_, p);
      case AnalysisProvider::Kind::kJob: return MeasureJob(env_, p);
    }
    return Fail(ErrorCode::kInternal, "unknown provider kind");
  }

 private:
  Env& env_;
};

}  // namespace

Result<Value> MeasureCommand(Env& env, const ResolvedProvider& p) {
  SLUICE_TRY(r, env.RunCommand(p.argv, "", p.timeout_us, kMaxCommandOutput));
  const std::string& cmd = p.argv[0];
  if (r->timed_out) return Fail(ErrorCode::kIo, "{} timed out after {}", cmd, Seconds(p.timeout_us));
  if (r->too_long) {
    return Fail(ErrorCode::kIo, "{} printed more than {} bytes", cmd, kMaxCommandOutput);
  }
  if (r->exit_code != 0) {
    return Fail(ErrorCode::kIo, "{} {}", cmd,
                r->signal ? fmt::format("was killed by signal {}", r->signal)
                          : fmt::format("exited with status {}", r->exit_code));
  }
  std::string_view out = Trim(r->out);
  if (out.empty()) return Fail(ErrorCode::kInvalidInput, "no data: {} printed nothing", cmd);
  auto v = ParseJson(out);
  if (!v) {
    return Fail(ErrorCode::kInvalidInput, "{} printed {}, which is not JSON: {}", cmd,
                Quote(out.substr(0, 80)), v.error().message);
  }
  if (v->is_null()) return Fail(ErrorCode::kInvalidInput, "no data: {} printed null", cmd);
  return v;
}

Result<Value> MeasureJob(Env& env, const ResolvedProvider& p) {
  // Only a start failure is an Error; a job that runs and fails (or overruns) is Failed.
  SLUICE_TRY(r, env.RunCommand(p.argv, "", p.timeout_us, kMaxJobOutput));
  std::string_view out = Trim(r->out);
  if (out.size() > kJobOutputShown) out = out.substr(out.size() - kJobOutputShown);
  ValueMap m;
  m.emplace_back(Value("exitCode"), Value(static_cast<int64_t>(r->exit_code)));
  m.emplace_back(Value("timedOut"), Value(r->timed_out));
  m.emplace_back(Value("signal"), Value(static_cast<int64_t>(r->signal)));
  m.emplace_back(Value("output"), Value(std::string(out)));
  return Value(std::move(m));
}

std::unique_ptr<MetricProvider> NewMetricProvider(Env& env) {
  return std::make_unique<RealMetricProvider>(env);
}

}  // namespace sluice
