// The run of an analysis (analysis.cc) against a scripted provider and a FakeClock: Argo's
// outcome rules, limits, dryRun, "no data", termination and resuming from stored measurements.
#include <gtest/gtest.h>

#include <deque>

#include "common/strings.h"
#include "env/fake_env.h"
#include "rollout/analysis.h"

namespace sluice {
namespace analysis_test {


// Answers each metric's measurements from a script, keyed by the command's first argument (or
// the query), and advances the clock by how long a measurement takes.
class ScriptedProvider : public MetricProvider {
 public:
  explicit ScriptedProvider(FakeClock* clock) : clock_(clock) {}
  Result<Value> Measure(const ResolvedProvider& p) override {
    const std::string key = p.argv.empty() ? p.query : p.argv[0];
    seen.push_back(p);
    clock_->Advance(100'000);
    auto& q = script[key];
    if (q.empty()) return Fail(ErrorCode::kInternal, "nothing scripted for {}", key);
    Result<Value> r = q.front();
    q.pop_front();
    return r;
  }
  void Add(const std::string& key, std::vector<Result<Value>> results) {
    for (auto& r : results) script[key].push_back(std::move(r));
  }
  std::map<std::string, std::deque<Result<Value>>> script;
  std::vector<ResolvedProvider> seen;

 private:
  FakeClock* clock_;
};

Result<Value> Num(double v) { return Value(ValueList{Value(v)}); }
Result<Value> NoData() { return Fail(ErrorCode::kInvalidInput, "no data: the query matched no series"); }

std::vector<AnalysisTemplate> Templates(const std::string& metrics, const std::string& args = "[]") {
  auto ts = ParseAnalysisTemplates("/c/a.yaml", "apiVersion: sluice/v1\nkind: AnalysisTemplate\n"
                                   "metadata: {name: t}\nspec:\n  args: " + args +
                                   "\n  metrics:\n" + metrics);
  if (!ts) throw std::runtime_error(ts.error().message);
  return *ts;
}

// A metric `name` on a command provider `name`, with extra fields (each "KEY: VALUE; ...").
std::string Metric(const std::string& name, const std::string& fields) {
  std::string out = "    - name: " + name + "\n";
  size_t start = 0;
  while (start < fields.size()) {
    size_t end = fields.find("; ", start);
    if (end == std::string::npos) end = fields.size();
    out += "      " + fields.substr(start, end - start) + "\n";
    start = end + 2;
  }
  return out + "      provider: {command: {run: [" + name + "]}}\n";
}

class AnalysisRunTest : public ::testing::Test {
 protected:
  std::unique_ptr<AnalysisRun> Start(std::vector<AnalysisTemplate> ts,
                                     std::map<std::string, std::string> args = {}) {
    auto run = AnalysisRun::Create(std::move(ts), args, clock_.NowUs(), &clock_, &provider_);
    if (!run) throw std::runtime_error(run.error().message);
    (*run)->set_on_measurement([this](const Measurement& m) { taken_.push_back(m); });
    return std::move(*run);
  }
  // Ticks at each due time until the run ends (at most `max` ticks).
  void RunToEnd(AnalysisRun& run, int max = 100) {
    int64_t next = run.Tick(clock_.NowUs());
    for (int i = 0; i < max && next != AnalysisRun::kNever; ++i) {
      clock_.Set(std::max(next, clock_.NowUs()));
      next = run.Tick(clock_.NowUs());
    }
  }

  FakeClock clock_;
  ScriptedProvider provider_{&clock_};
  std::vector<Measurement> taken_;
};

TEST_F(AnalysisRunTest, SucceedsOnceCountMeasurementsAreTakenAtTheInterval) {
  auto run = Start(Templates(Metric("ratio", "interval: 2s; count: 3; successCondition: result[0] < 0.05")));
  provider_.Add("ratio", {Num(0.01), Num(0.02), Num(0.0)});
  const int64_t t0 = clock_.NowUs();
  const int64_t next = run->Tick(t0);
  ASSERT_EQ(taken_.size(), 1u);
  EXPECT_EQ(next, taken_[0].finished_us + 2 * kSecondUs) << "the next is due an interval after the end";
  EXPECT_EQ(run->Tick(next - 1), next) << "nothing is due before then";
  EXPECT_EQ(taken_.size(), 1u);
  RunToEnd(*run);
  ASSERT_EQ(taken_.size(), 3u);
  EXPECT_EQ(taken_[2].phase, AnalysisPhase::kSuccessful);
  EXPECT_EQ(taken_[2].value, "[0.0]");
  EXPECT_EQ(taken_[1].value, "[0.02]");
  EXPECT_EQ(run->outcome().phase, AnalysisPhase::kSuccessful);
  EXPECT_EQ(run->Tick(clock_.NowUs() + 100 * kSecondUs), AnalysisRun::kNever);
  EXPECT_EQ(taken_.size(), 3u) << "an ended run measures nothing";
}

TEST_F(AnalysisRunTest, FailsWhenFailuresPassFailureLimit) {
  auto run = Start(Templates(Metric("ratio", "interval: 1s; count: 5; failureLimit: 1; "
                                             "successCondition: result[0] < 0.05")));
  provider_.Add("ratio", {Num(0.01), Num(0.2), Num(0.01), Num(0.3), Num(0.0)});
  RunToEnd(*run);
  ASSERT_EQ(taken_.size(), 4u) << "it ends at the second failure";
  EXPECT_EQ(taken_[1].phase, AnalysisPhase::kFailed);
  EXPECT_EQ(taken_[1].message, "successCondition \"result[0] < 0.05\" does not hold");
  EXPECT_EQ(run->outcome().phase, AnalysisPhase::kFailed);
  EXPECT_EQ(run->outcome().reason,
            "metric \"ratio\" failed 2 times, more than failureLimit 1; last: successCondition "
            "\"result[0] < 0.05\" does not hold");
}

TEST_F(AnalysisRunTest, OneFailureFailsWithTheDefaultLimitOfZero) {
  auto run = Start(Templates(Metric("ratio", "interval: 1s; count: 5; failureCondition: result[0] > 0.1")));
  provider_.Add("ratio", {Num(0.01), Num(0.5)});
  RunToEnd(*run);
  EXPECT_EQ(taken_.size(), 2u);
  EXPECT_EQ(run->outcome().phase, AnalysisPhase::kFailed);
  EXPECT_EQ(taken_[1].message, "failureCondition \"result[0] > 0.1\" holds");
}

TEST_F(AnalysisRunTest, NeitherConditionHoldingIsInconclusive) {
  auto run = Start(Templates(Metric("ratio", "interval: 1s; count: 3; successCondition: result[0] < 0.05; "
                                             "failureCondition: result[0] > 0.1")));
  provider_.Add("ratio", {Num(0.01), Num(0.07)});
  RunToEnd(*run);
  ASSERT_EQ(taken_.size(), 2u);
  EXPECT_EQ(taken_[1].phase, AnalysisPhase::kInconclusive);
  EXPECT_EQ(run->outcome().phase, AnalysisPhase::kInconclusive);
  EXPECT_EQ(run->outcome().reason.substr(0, 69),
            "metric \"ratio\" was inconclusive 1 time, more than inconclusiveLimit 0");
}

TEST_F(AnalysisRunTest, NoDataIsAnErrorNeverHealthyAndEndsAfterConsecutiveErrorLimit) {
  auto run = Start(Templates(Metric("ratio", "interval: 1s; count: 2; successCondition: result[0] < 0.05")));
  // An error between successes resets the run of errors; errors do not count towards count.
  provider_.Add("ratio", {NoData(), Num(0.0), NoData(), NoData(), NoData(), NoData(), NoData()});
  RunToEnd(*run);
  ASSERT_EQ(taken_.size(), 7u);
  EXPECT_EQ(taken_[0].phase, AnalysisPhase::kError);
  EXPECT_EQ(taken_[0].value, "");
  EXPECT_EQ(taken_[0].message, "no data: the query matched no series");
  auto m = run->metrics()[0];
  EXPECT_EQ(m.count, 1);
  EXPECT_EQ(m.errors, 6);
  EXPECT_EQ(m.consecutive_errors, 5);
  EXPECT_EQ(run->outcome().phase, AnalysisPhase::kError);
  EXPECT_EQ(run->outcome().reason,
            "metric \"ratio\" had 5 errors in a row, more than consecutiveErrorLimit 4; last: no "
            "data: the query matched no series");
}

TEST_F(AnalysisRunTest, ALoneMeasurementIsRetriedTenSecondsAfterAnError) {
  auto run = Start(Templates(Metric("probe", "successCondition: result[0] < 0.05")));
  provider_.Add("probe", {NoData(), Num(0.01)});
  const int64_t next = run->Tick(clock_.NowUs());
  EXPECT_EQ(next, taken_[0].finished_us + AnalysisRun::kErrorRetryUs);
  EXPECT_FALSE(run->done());
  clock_.Set(next);
  EXPECT_EQ(run->Tick(next), AnalysisRun::kNever);
  EXPECT_EQ(run->outcome().phase, AnalysisPhase::kSuccessful);
}

TEST_F(AnalysisRunTest, InitialDelayHoldsTheFirstMeasurement) {
  const int64_t t0 = clock_.NowUs();
  auto run = Start(Templates(Metric("ratio", "initialDelay: 5s; successCondition: result[0] < 0.05")));
  provider_.Add("ratio", {Num(0.0)});
  EXPECT_EQ(run->Tick(t0 + 4 * kSecondUs), t0 + 5 * kSecondUs);
  EXPECT_TRUE(taken_.empty());
  clock_.Set(t0 + 5 * kSecondUs);
  run->Tick(t0 + 5 * kSecondUs);
  EXPECT_EQ(taken_.size(), 1u);
  EXPECT_EQ(run->outcome().phase, AnalysisPhase::kSuccessful);
}

TEST_F(AnalysisRunTest, DryRunMetricsAreMeasuredAndReportedButNeverDecide) {
  auto run = Start(Templates(Metric("latency", "dryRun: true; successCondition: result[0] < 0.5") +
                             Metric("ratio", "successCondition: result[0] < 0.05")));
  provider_.Add("latency", {Num(3.0)});
  provider_.Add("ratio", {Num(0.01)});
  RunToEnd(*run);
  ASSERT_EQ(taken_.size(), 2u);
  EXPECT_TRUE(taken_[0].dry_run);
  EXPECT_EQ(taken_[0].phase, AnalysisPhase::kFailed);
  EXPECT_EQ(run->metrics()[0].phase, AnalysisPhase::kFailed);
  EXPECT_EQ(run->outcome().phase, AnalysisPhase::kSuccessful);

  taken_.clear();
  auto only_dry = Start(Templates(Metric("latency", "dryRun: true; successCondition: result[0] < 0.5")));
  provider_.Add("latency", {Num(3.0)});
  RunToEnd(*only_dry);
  EXPECT_EQ(only_dry->outcome().phase, AnalysisPhase::kSuccessful);
  EXPECT_EQ(only_dry->outcome().reason, "every metric is dryRun: reported, not deciding");
}

TEST_F(AnalysisRunTest, AFailingMetricEndsTheRunAndTerminatesTheOthers) {
  auto run = Start(Templates(Metric("background", "interval: 1s; successCondition: result[0] < 0.05") +
                             Metric("ratio", "interval: 3s; count: 3; successCondition: result[0] < 0.05")));
  provider_.Add("background", {Num(0.0), Num(0.0), Num(0.0), Num(0.0), Num(0.0)});
  provider_.Add("ratio", {Num(0.0), Num(0.9)});
  RunToEnd(*run);
  EXPECT_EQ(run->outcome().phase, AnalysisPhase::kFailed);
  EXPECT_EQ(run->outcome().reason.substr(0, 54), "metric \"ratio\" failed 1 time, more than failureLimit 0");
  auto ms = run->metrics();
  EXPECT_EQ(ms[0].phase, AnalysisPhase::kSuccessful) << "terminated without failing";
  EXPECT_EQ(ms[1].phase, AnalysisPhase::kFailed);
  ASSERT_FALSE(taken_.empty());
  EXPECT_EQ(taken_.back().metric, "ratio") << "nothing is measured after the failure";
  EXPECT_EQ(run->Tick(clock_.NowUs() + 100 * kSecondUs), AnalysisRun::kNever);
}

TEST_F(AnalysisRunTest, FailedIsWorseThanErrorIsWorseThanInconclusive) {
  auto run = Start(Templates(Metric("a", "successCondition: result[0] < 1.0; failureCondition: result[0] > 2.0") +
                             Metric("b", "consecutiveErrorLimit: 0; successCondition: result[0] < 1.0") +
                             Metric("c", "successCondition: result[0] < 1.0")));
  provider_.Add("a", {Num(1.5)});
  provider_.Add("b", {NoData()});
  provider_.Add("c", {Num(5.0)});
  run->Tick(clock_.NowUs());
  EXPECT_EQ(run->outcome().phase, AnalysisPhase::kFailed);
  EXPECT_EQ(run->outcome().reason.substr(0, 14), "metric \"c\" fai");
  EXPECT_GT(AnalysisPhase::kFailed, AnalysisPhase::kError);
  EXPECT_GT(AnalysisPhase::kError, AnalysisPhase::kInconclusive);
  EXPECT_GT(AnalysisPhase::kInconclusive, AnalysisPhase::kSuccessful);
}

TEST_F(AnalysisRunTest, TerminatingABackgroundAnalysisIsSuccessful) {
  auto run = Start(Templates(Metric("background", "interval: 1s; successCondition: result[0] < 0.05")));
  provider_.Add("background", {Num(0.0), Num(0.0)});
  int64_t next = run->Tick(clock_.NowUs());
  clock_.Set(next);
  next = run->Tick(next);
  EXPECT_FALSE(run->done()) << "no count: it runs until terminated";
  run->Terminate();
  EXPECT_EQ(run->outcome().phase, AnalysisPhase::kSuccessful);
  EXPECT_EQ(run->outcome().reason, "terminated; no metric failed");
  EXPECT_EQ(run->Tick(next), AnalysisRun::kNever);
  EXPECT_EQ(taken_.size(), 2u);
}

TEST_F(AnalysisRunTest, ArgsFillPlaceholdersAndConditions) {
  auto ts = Templates("    - name: ratio\n"
                      "      successCondition: result[0] < double(args.threshold)\n"
                      "      provider: {prometheus: {address: \"http://p:9090\", query: "
                      "'rate(x{version=\"${{ args.version }}\"}[10s])'}}\n",
                      "[{name: version}, {name: threshold, value: \"0.05\"}]");
  auto missing = AnalysisRun::Create(ts, {}, 0, &clock_, &provider_);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, "AnalysisTemplate \"t\" needs arg \"version\" (declared at "
                                     "/c/a.yaml:5:17 without a value), which was not given");
  auto run = Start(ts, {{"version", "v2"}, {"threshold", "0.5"}, {"unused", "x"}});
  provider_.Add("rate(x{version=\"v2\"}[10s])", {Num(0.3)});
  run->Tick(clock_.NowUs());
  ASSERT_EQ(provider_.seen.size(), 1u);
  EXPECT_EQ(provider_.seen[0].address, "http://p:9090");
  EXPECT_EQ(run->outcome().phase, AnalysisPhase::kSuccessful) << "0.3 < the given 0.5";
}

TEST_F(AnalysisRunTest, RefusesMetricNamesSharedAcrossTemplates) {
  auto a = Templates(Metric("ratio", "successCondition: result[0] < 1.0"));
  auto b = a;
  b[0].name = "u";
  a.push_back(b[0]);
  auto run = AnalysisRun::Create(a, {}, 0, &clock_, &provider_);
  ASSERT_FALSE(run);
  EXPECT_EQ(run.error().message, "metric \"ratio\" is in both AnalysisTemplate \"t\" and \"u\"; "
                                 "metric names must differ across an analysis's templates");
}

TEST_F(AnalysisRunTest, ResumesFromStoredMeasurements) {
  const std::string metrics = Metric("ratio", "interval: 2s; count: 4; failureLimit: 1; "
                                              "successCondition: result[0] < 0.05");
  const int64_t t0 = clock_.NowUs();
  auto first = Start(Templates(metrics));
  provider_.Add("ratio", {Num(0.5), NoData(), Num(0.01)});
  int64_t next = first->Tick(t0);
  for (int i = 0; i < 2; ++i) {
    clock_.Set(next);
    next = first->Tick(next);
  }
  ASSERT_EQ(taken_.size(), 3u);
  const std::vector<Measurement> stored = taken_;
  first.reset();  // kill -9

  taken_.clear();
  auto resumed = Start(Templates(metrics));
  ASSERT_TRUE(resumed->Restore(stored));
  auto m = resumed->metrics()[0];
  EXPECT_EQ(m.count, 2);
  EXPECT_EQ(m.failed, 1);
  EXPECT_EQ(m.errors, 1);
  EXPECT_EQ(m.consecutive_errors, 0);
  EXPECT_FALSE(resumed->done());
  EXPECT_TRUE(taken_.empty()) << "restored measurements are not reported again";
  EXPECT_EQ(resumed->Tick(stored[2].finished_us + 1), stored[2].finished_us + 2 * kSecondUs)
      << "the next is due an interval after the last stored one";
  provider_.Add("ratio", {Num(0.3)});
  clock_.Set(stored[2].finished_us + 2 * kSecondUs);
  resumed->Tick(clock_.NowUs());
  EXPECT_EQ(resumed->outcome().phase, AnalysisPhase::kFailed) << "the stored failure counts";

  auto other = Start(Templates(Metric("latency", "successCondition: result[0] < 1.0")));
  auto refused = other->Restore(stored);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message, "a stored measurement of metric \"ratio\" of template \"t\" "
                                     "is not of this analysis (did its AnalysisTemplate change?)");
}

TEST_F(AnalysisRunTest, ARestoredEndedRunStaysEnded) {
  const std::string metrics = Metric("ratio", "successCondition: result[0] < 0.05");
  auto first = Start(Templates(metrics));
  provider_.Add("ratio", {Num(0.5)});
  first->Tick(clock_.NowUs());
  ASSERT_EQ(first->outcome().phase, AnalysisPhase::kFailed);
  auto resumed = Start(Templates(metrics));
  ASSERT_TRUE(resumed->Restore(taken_));
  EXPECT_EQ(resumed->outcome().phase, AnalysisPhase::kFailed);
  EXPECT_EQ(resumed->outcome().reason, first->outcome().reason);
  EXPECT_EQ(resumed->Tick(clock_.NowUs()), AnalysisRun::kNever);
}

// Argo's EvaluateResult, one row a case.
TEST(AssessResult, CombinesTheConditionsAsArgoDoes) {
  struct Case {
    std::string success, failure;
    Value result;
    AnalysisPhase want;
  };
  const Value one(ValueList{Value(1.0)});
  const std::vector<Case> cases = {
      {"", "", one, AnalysisPhase::kSuccessful},
      {"result[0] > 0.5", "", one, AnalysisPhase::kSuccessful},
      {"result[0] > 2.0", "", one, AnalysisPhase::kFailed},
      {"", "result[0] > 0.5", one, AnalysisPhase::kFailed},
      {"", "result[0] > 2.0", one, AnalysisPhase::kSuccessful},
      {"result[0] > 0.5", "result[0] > 0.5", one, AnalysisPhase::kFailed},
      {"result[0] > 2.0", "result[0] > 2.0", one, AnalysisPhase::kInconclusive},
      {"result[0] > 0.5", "result[0] > 2.0", one, AnalysisPhase::kSuccessful},
      {"result[0]", "", one, AnalysisPhase::kError},
      {"result[3] > 0.5", "", one, AnalysisPhase::kError},
      {"result.ok", "", Value(ValueMap{{Value("ok"), Value(true)}}), AnalysisPhase::kSuccessful},
  };
  for (const auto& c : cases) {
    AnalysisMetric m;
    if (!c.success.empty()) m.success_condition = std::make_shared<const Expression>(*Expression::Parse(c.success));
    if (!c.failure.empty()) m.failure_condition = std::make_shared<const Expression>(*Expression::Parse(c.failure));
    std::string message;
    EXPECT_EQ(AssessResult(m, c.result, Value(ValueMap{}), &message), c.want)
        << c.success << " / " << c.failure << ": " << message;
  }
  AnalysisMetric m;
  m.success_condition = std::make_shared<const Expression>(*Expression::Parse("result[0]"));
  std::string message;
  AssessResult(m, one, Value(ValueMap{}), &message);
  EXPECT_EQ(message, "successCondition \"result[0]\" gave 1.0 (double), not a bool");
}

TEST(Measurements, RoundTripThroughJson) {
  Measurement m{"error-rate", "error-ratio", AnalysisPhase::kInconclusive, "[0.07]",
                "neither holds", 1'700'000'000'000'000, 1'700'000'000'100'000, true};
  auto text = MeasurementToValue(m).ToJson();
  auto back = MeasurementFromValue(*ParseJson(text));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(MeasurementToValue(*back).ToJson(), text);
  EXPECT_EQ(back->phase, AnalysisPhase::kInconclusive);
  EXPECT_EQ(back->finished_us, 1'700'000'000'100'000);
  EXPECT_TRUE(back->dry_run);
  auto running = MeasurementFromValue(*ParseJson(
      R"({"template":"t","metric":"m","phase":"Running","value":"","message":"","startedUs":1,"finishedUs":2,"dryRun":false})"));
  ASSERT_FALSE(running);
  EXPECT_EQ(running.error().message,
            "a measurement's phase \"Running\" is not Successful, Failed, Inconclusive or Error");
  auto partial = MeasurementFromValue(*ParseJson(R"({"template":"t","metric":"m"})"));
  ASSERT_FALSE(partial);
  EXPECT_EQ(partial.error().message, "a measurement's \"phase\" is missing or of the wrong type");
}

TEST(AnalysisPhases, NamesRoundTrip) {
  for (auto p : {AnalysisPhase::kPending, AnalysisPhase::kRunning, AnalysisPhase::kSuccessful,
                 AnalysisPhase::kInconclusive, AnalysisPhase::kError, AnalysisPhase::kFailed}) {
    EXPECT_EQ(AnalysisPhaseFromName(AnalysisPhaseName(p)), p);
  }
  EXPECT_FALSE(AnalysisPhaseFromName("Passed"));
}

}  // namespace analysis_test
}  // namespace sluice
