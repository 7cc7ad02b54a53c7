// ResolveAttempt and BackoffUs alone: attempt resolution (argv, env, with-values, cache keys)
// and retry delays, with the DeciderTest fixture (decider_test_fixture.h) only to build a run.
#include "engine/attempt.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/decider_test_fixture.h"
#include "engine/recorder.h"
#include "engine/run_state.h"

namespace sluice {
namespace {

const char* kToolSpec =
    "  imports: [lib.yaml]\n"
    "  params:\n    - {name: count, type: string, default: '1'}\n"
    "    - {name: seed, type: int, default: 7}\n";
const std::map<std::string, std::string> kToolFiles = {
    {"/lib.yaml",
     "apiVersion: sluice/v1\nkind: Component\nmetadata: {name: tool, version: 1.0.0}\n"
     "spec:\n  params:\n    - {name: n, type: int, default: 1}\n"
     "    - {name: label, type: string, default: none}\n"
     "  run: [x, '${{ params.n }}', '${{ params.label }}']\n"
     "  env: {MODE: component, OTHER: o}\n"}};

TEST_F(DeciderTest, ResolveConvertsWithValuesToTheComponentsParamTypes) {
  Build(
      "    - {name: a, uses: tool@1, with: {n: '${{ params.count }}', label: '${{ params.seed "
      "}}'}}\n",
      kToolSpec, kToolFiles);
  ctx_.params = Value(ValueMap{{"count", Value("42")}, {"seed", Value(7)}});
  Resolution r = ResolveAttempt(*state_, ctx_, I("a"), kS);
  ASSERT_EQ(r.kind, Resolution::Kind::kStart) << r.message;
  EXPECT_EQ(r.request.argv, (Names{"x", "42", "7"}));
  EXPECT_EQ(r.request.task, "a");
  EXPECT_EQ(r.request.attempt, 1);
}

TEST_F(DeciderTest, ResolveRefusesAWithValueOfTheWrongTypeAndTheTaskFails) {
  Build("    - {name: a, uses: tool@1, with: {n: '${{ params.count }}'}}\n", kToolSpec, kToolFiles);
  ctx_.params = Value(ValueMap{{"count", Value("many")}, {"seed", Value(7)}});
  Resolution r = ResolveAttempt(*state_, ctx_, I("a"), kS);
  ASSERT_EQ(r.kind, Resolution::Kind::kInvalid);
  EXPECT_EQ(r.message, "with.n: component tool declares it int, got string \"many\"");
  EXPECT_TRUE(Advance(kS).empty());
  EXPECT_EQ(Last(EventKind::kTaskFinished, "a").error_class, "expression-error");
}

TEST_F(DeciderTest, ResolveLetsTheTasksEnvOverrideItsComponentsInPlace) {
  Build("    - {name: a, uses: tool@1, env: {MODE: task, EXTRA: e}}\n", kToolSpec, kToolFiles);
  Resolution r = ResolveAttempt(*state_, ctx_, I("a"), kS);
  ASSERT_EQ(r.kind, Resolution::Kind::kStart) << r.message;
  using Env = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(r.request.env, (Env{{"MODE", "task"}, {"OTHER", "o"}, {"EXTRA", "e"}}));
}

TEST_F(DeciderTest, CacheKeysDifferWhenArgvEnvOrItemDiffer) {
  Build(
      "    - {name: a, run: [x, '1'], cache: true}\n"
      "    - {name: same, run: [x, '1'], cache: true}\n"
      "    - {name: argv, run: [x, '2'], cache: true}\n"
      "    - {name: env, run: [x, '1'], env: {E: '1'}, cache: true}\n"
      "    - {name: f, forEach: [1, 2], run: [x, '1'], cache: true}\n");
  Event expanded;
  expanded.kind = EventKind::kTaskExpanded;
  expanded.task = "f";
  expanded.data = "[1,2]";
  rec_->Record(expanded, kS);
  auto key = [&](const std::string& t) {
    return ResolveAttempt(*state_, ctx_, I(t), kS).cache_key;
  };
  EXPECT_FALSE(key("a").empty());
  EXPECT_EQ(key("a"), key("same"));  // the task's name is not part of what it does
  EXPECT_NE(key("a"), key("argv"));
  EXPECT_NE(key("a"), key("env"));
  EXPECT_NE(key("f[0]"), key("f[1]"));
  EXPECT_NE(key("a"), key("f[0]"));
}

TEST_F(DeciderTest, BackoffGrowsByItsFactorUpToItsMaxWithSeededJitter) {
  RetryPolicy r;
  r.initial_ms = 1000;
  r.factor = 2;
  r.max_ms = 5000;
  EXPECT_EQ(BackoffUs(r, 2, "s"), 1 * kS);
  EXPECT_EQ(BackoffUs(r, 3, "s"), 2 * kS);
  EXPECT_EQ(BackoffUs(r, 4, "s"), 4 * kS);
  EXPECT_EQ(BackoffUs(r, 5, "s"), 5 * kS);
  r.jitter = Jitter::kEqual;
  const int64_t d = BackoffUs(r, 3, "r1/a/3");
  EXPECT_EQ(BackoffUs(r, 3, "r1/a/3"), d);  // the same seed, the same delay
  EXPECT_GE(d, 1 * kS);
  EXPECT_LE(d, 2 * kS);
  EXPECT_NE(BackoffUs(r, 3, "r1/b/3"), d);
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

// Secrets: what reaches the attempt, what the key covers, and what a message may show.
class SecretAttemptTest : public DeciderTest {
 protected:
  void SetUp() override {
    Build("    - {name: a, run: [x], cache: true, secrets: [{name: api, env: API}],\n"
          "       env: {T: 'Bearer ${{ params.token }}', PLAIN: '${{ params.region }}'}}\n"
          "    - {name: b, run: [x], cache: true, secrets: [{name: key, file: k.pem}]}\n"
          "    - {name: bad, run: [x], env: {N: '${{ int(params.token) }}'}}\n",
          "  params:\n    - {name: token, secret: true}\n    - {name: region, default: eu}\n"
          "  secrets:\n    - {name: api, env: API_TOKEN, version: '1'}\n"
          "    - {name: key, file: /k.pem}\n");
    ctx_.params = Value(ValueMap{{"token", Value("***")}, {"region", Value("eu")}});
    secrets_.params = Value(ValueMap{{"token", Value("tok-VALUE")}, {"region", Value("eu")}});
    secrets_.secret_params = {"token"};
    secrets_.values = {{"api", "api-VALUE"}, {"key", "key-VALUE\n"}};
    secrets_.masker = std::make_shared<const Masker>(
        std::vector<std::string>{"tok-VALUE", "api-VALUE", "key-VALUE\n"});
    ctx_.secrets = &secrets_;
  }
  RunSecrets secrets_;
};

TEST_F(SecretAttemptTest, SecretsAndSecretParamsReachOnlyTheSecretFieldsOfTheRequest) {
  Resolution r = ResolveAttempt(*state_, ctx_, I("a"), kS);
  ASSERT_EQ(r.kind, Resolution::Kind::kStart) << r.message;
  using Env = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(r.request.env, (Env{{"PLAIN", "eu"}}));
  EXPECT_EQ(r.request.secret_env, (Env{{"T", "Bearer tok-VALUE"}, {"API", "api-VALUE"}}));
  EXPECT_EQ(r.request.masked, (Names{"tok-VALUE", "api-VALUE"}));
  Resolution b = ResolveAttempt(*state_, ctx_, I("b"), kS);
  EXPECT_EQ(b.request.secret_files, (Env{{"k.pem", "key-VALUE\n"}}));
  EXPECT_TRUE(b.request.secret_env.empty());
}

TEST_F(SecretAttemptTest, CacheKeyCoversTheSecretsVersionNotItsValue) {
  std::string before = ResolveAttempt(*state_, ctx_, I("a"), kS).cache_key;
  secrets_.values["api"] = "another-VALUE";
  secrets_.params = Value(ValueMap{{"token", Value("other")}, {"region", Value("eu")}});
  EXPECT_EQ(ResolveAttempt(*state_, ctx_, I("a"), kS).cache_key, before);
  const_cast<SecretDecl&>(state_->plan().pipeline->secrets[0]).version = "2";
  EXPECT_NE(ResolveAttempt(*state_, ctx_, I("a"), kS).cache_key, before);
}

TEST_F(SecretAttemptTest, AMessageAboutAnAttemptNeverShowsAValue) {
  Resolution r = ResolveAttempt(*state_, ctx_, I("bad"), kS);
  ASSERT_EQ(r.kind, Resolution::Kind::kInvalid);
  EXPECT_EQ(r.message.find("tok-VALUE"), std::string::npos) << r.message;
}

TEST_F(SecretAttemptTest, AnUnfetchedSecretFailsTheAttempt) {
  secrets_.values.erase("api");
  Resolution r = ResolveAttempt(*state_, ctx_, I("a"), kS);
  ASSERT_EQ(r.kind, Resolution::Kind::kInvalid);
  EXPECT_EQ(r.message, "secret \"api\" was not fetched by this process");
}

}  // namespace
}  // namespace sluice
