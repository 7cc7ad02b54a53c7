// Promotion policies (docs/rollouts.md, "Promotion policies"): central policies of stage
// promotion judge a deploy task's candidate model (its upstream evidence, its digest, where it
// was released before) just before the rollout starts, beside gates.
#include "engine/decider_test_fixture.h"
#include "env/fake_env.h"
#include "spec/environment_spec.h"

namespace sluice {
namespace decider_promotion_test {

// Releases as the store would give them, by model digest.
class FakeReleases : public ReleaseHistory {
 public:
  Result<std::vector<ReleaseRow>> OfModel(const std::string& digest) override {
    asked.push_back(digest);
    return rows[digest];
  }
  std::map<std::string, std::vector<ReleaseRow>> rows;
  Names asked;
};

// train stores a model and an accuracy; ship deploys that model to `environment`.
std::string Pipeline(const std::string& environment) {
  return "    - {name: train, run: [x], outputs: {params: [{name: accuracy, from: {stdout: json}}],"
         " artifacts: [{name: model, path: m}]}}\n"
         "    - name: ship\n"
         "      deploy:\n"
         "        environment: " + environment + "\n"
         "        model: ${{ tasks.train.outputs.artifacts.model }}\n"
         "        strategy: {canary: {steps: [{setWeight: 100}]}}\n";
}

const char* kEvidence =
    "apiVersion: sluice/v1\nkind: Policy\nmetadata: {name: evidence}\nspec:\n"
    "  stage: promotion\n  match: {environments: [prod]}\n  rules:\n"
    "    - name: accurate\n"
    "      expression: \"object.tasks.train.outputs.params.accuracy >= 0.9\"\n"
    "      messageExpression: \"'accuracy ' + string(object.tasks.train.outputs.params.accuracy)"
    " + ' is under 0.9'\"\n"
    "    - name: staged\n"
    "      expression: \"object.environment == 'prod' && object.model.digest == 'abc' && "
    "object.model.size == 42 && object.releases.exists(r, r.environment == 'staging' && "
    "r.live && r.soak >= 3600.0 && r.promotedBy == 'ann')\"\n"
    "      message: the model has not soaked an hour in staging\n"
    "---\n"
    "apiVersion: sluice/v1\nkind: Policy\nmetadata: {name: named}\nspec:\n"
    "  stage: promotion\n  match: {environments: [nowhere]}\n  rules:\n"
    "    - {name: sized, expression: \"object.model.size < 100\", message: too big}\n";

class DeciderPromotionTest : public DeciderTest {
 protected:
  void Deploying(const std::string& environment) {
    MemFileSystem fs(std::map<std::string, std::string>{{"/central/p.yaml", kEvidence}});
    auto central = LoadPolicies(fs, "/central", PolicyOrigin::kCentral);
    ASSERT_TRUE(central) << central.error().message;
    ctx_.central_policies = std::make_shared<const PolicySet>(std::move(*central));
    auto envs = std::make_shared<EnvironmentsSpec>();
    for (const char* name : {"staging", "prod"}) {
      auto e = std::make_shared<EnvironmentSpec>();
      e->name = name;
      if (e->name == "staging") e->promotion.policies.emplace_back("named", Location{});
      envs->environments.push_back(std::move(e));
    }
    ctx_.environments = envs;
    ctx_.releases = &releases_;
    Build(Pipeline(environment));
  }
  // train ends with its model of `size` bytes and `accuracy`; then a turn.
  Names TrainEnds(int64_t size, double accuracy) {
    Advance(kS);
    AttemptOutputs out;
    out.params = Value(ValueMap{{"accuracy", Value(accuracy)}});
    out.artifacts.push_back({"model", "abc", size, "/store/abc/m"});
    Exit("train", 0, 2 * kS, out);
    return Advance(2 * kS);
  }
  void Staged(int64_t since_us) {
    ReleaseRow r;
    r.environment = "staging";
    r.digest = "abc";
    r.actor = "ann";
    r.since_us = since_us;
    releases_.rows["abc"].push_back(r);
  }
  FakeReleases releases_;
};

TEST_F(DeciderPromotionTest, APromotionPolicyReadsTheEvidenceTheDigestAndTheReleases) {
  Deploying("prod");
  Staged(2 * kS - 3600 * kS);
  EXPECT_EQ(TrainEnds(42, 0.95), (Names{"ship"})) << Log();
  EXPECT_EQ(releases_.asked, (Names{"abc"}));
  const Event& d = Last(EventKind::kPolicyDecision, "ship");
  EXPECT_EQ(d.status, "allow") << d.data;
  EXPECT_NE(d.data.find(R"("stage":"promotion")"), std::string::npos) << d.data;
  // The rollout is told the digest its policies judged, to refuse a file changed since.
  Resolution r = ResolveAttempt(*state_, ctx_, I("ship"), 2 * kS);
  ASSERT_FALSE(r.request.argv.empty()) << r.message;
  EXPECT_NE(r.request.argv.back().find(R"("digest":"abc")"), std::string::npos)
      << r.request.argv.back();
}

TEST_F(DeciderPromotionTest, ADenialFailsTheDeployWithPolicyDeniedBeforeAnyRollout) {
  Deploying("prod");
  Staged(2 * kS - 60 * kS);  // a minute in staging: not enough
  EXPECT_TRUE(TrainEnds(42, 0.80).empty());
  const Event& fin = Last(EventKind::kTaskFinished, "ship");
  EXPECT_EQ(fin.error_class, "policy-denied");
  EXPECT_EQ(fin.message, "promotion: policy evidence rule accurate: accuracy 0.8 is under 0.9");
  EXPECT_EQ(Tasks(EventKind::kAttemptStarted), (Names{"train"}));
}

TEST_F(DeciderPromotionTest, AnEnvironmentNamesPoliciesThatJudgeItWhateverTheirMatch) {
  Deploying("staging");  // evidence matches prod only; staging names `named`
  EXPECT_TRUE(TrainEnds(142, 0.5).empty());
  const Event& fin = Last(EventKind::kTaskFinished, "ship");
  EXPECT_EQ(fin.message, "promotion: policy named rule sized: too big");
}

TEST_F(DeciderPromotionTest, ATaskThatDeploysNowhereMatchedIsNotJudged) {
  Deploying("staging");
  EXPECT_EQ(TrainEnds(42, 0.5), (Names{"ship"})) << Log();
  const Event& d = Last(EventKind::kPolicyDecision, "ship");
  EXPECT_EQ(d.status, "allow");
  EXPECT_EQ(d.data.find("evidence"), std::string::npos) << d.data;  // only `named` judged it
}

}  // namespace decider_promotion_test
}  // namespace sluice
