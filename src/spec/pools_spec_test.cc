// Pools files (loader_pools.cc): what they hold, what they refuse at FILE:LINE:COL, which pool a
// namespace's run means, and admission's check of a plan's central pools.
#include <gtest/gtest.h>

#include "env/fake_env.h"
#include "spec/plan.h"
#include "spec/pools_spec.h"

namespace sluice {
namespace pools_spec_test {

constexpr const char* kGood = R"(apiVersion: sluice/v1
kind: Pools
metadata: {name: team}
spec:
  pools:
    - {name: gpus, capacity: 2, description: shared}
    - {name: gpus, namespace: ml, capacity: 8}
  mutexes:
    - {name: deploy-prod}
)";

std::string ErrorOf(const std::string& text) {
  auto spec = ParsePools("/s/pools.yaml", text);
  return spec ? "" : spec.error().message;
}

std::shared_ptr<const Plan> PlanOf(const std::string& resources, const std::string& extra = "") {
  MemFileSystem fs({{"/p.yaml", "apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: t}\n"
                                "spec:\n" + extra + "  tasks:\n    - name: a\n      run: [x]\n"
                                "      resources: " + resources + "\n"}});
  auto plan = LoadPlan(fs, "/p.yaml");
  if (!plan) throw std::runtime_error(plan.error().message);
  return *plan;
}

TEST(PoolsSpec, ReadsPoolsAndMutexesAndFindsANamespacesOwnFirst) {
  auto spec = ParsePools("/s/pools.yaml", kGood);
  ASSERT_TRUE(spec) << spec.error().message;
  ASSERT_EQ(spec->pools.size(), 3u);
  EXPECT_EQ(spec->Find("gpus", "ml")->capacity, 8);
  EXPECT_EQ(spec->Find("gpus", "ml")->Key(), "ml/gpus");
  EXPECT_EQ(spec->Find("gpus", "default")->capacity, 2) << "the shared one";
  EXPECT_EQ(spec->Find("gpus", "default")->Key(), "gpus");
  const CentralPool* m = spec->Find("deploy-prod", "team-a");
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->mutex);
  EXPECT_EQ(m->capacity, 1);
  EXPECT_EQ(spec->Find("tpus", "default"), nullptr);
}

TEST(PoolsSpec, RefusesBadFilesAtTheirPlace) {
  std::string text = kGood;
  EXPECT_EQ(ErrorOf(std::string(kGood).replace(text.find("capacity: 2"), 11, "capacity: 0")),
            "/s/pools.yaml:6:30: pool capacity must be a whole number from 1 to 1000000");
  EXPECT_EQ(ErrorOf(text + "    - {name: deploy-prod}\n"),
            "/s/pools.yaml:10:14: \"deploy-prod\" is declared twice (also at /s/pools.yaml:9:14)");
  EXPECT_NE(ErrorOf(text + "    - {name: gpu}\n").find("gpu is a built-in resource, not a pool"),
            std::string::npos);
  EXPECT_NE(ErrorOf(std::string(kGood).replace(text.find("ml"), 2, "ML!")).find("not a namespace name"),
            std::string::npos);
  EXPECT_NE(ErrorOf(std::string(kGood).replace(text.find("mutexes"), 7, "mutex")).find("unknown key"),
            std::string::npos);
  EXPECT_NE(ErrorOf("apiVersion: sluice/v1\nkind: Pipeline\nspec: {}\n").find("kind must be Pools"),
            std::string::npos);
  EXPECT_NE(ErrorOf("spec: [").find("/s/pools.yaml:"), std::string::npos);
}

TEST(PoolsSpec, AdmissionChecksCentralPoolsButNotARunsOwn) {
  auto spec = ParsePools("/s/pools.yaml", kGood);
  ASSERT_TRUE(spec);
  EXPECT_TRUE(CheckCentralPools(*PlanOf("{gpus: 2}"), *spec, "default"));
  EXPECT_TRUE(CheckCentralPools(*PlanOf("{gpus: 8}"), *spec, "ml")) << "ml's own 8";
  auto over = CheckCentralPools(*PlanOf("{gpus: 3}"), *spec, "default");
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().message,
            "/p.yaml:6:13: task \"a\" asks for 3 units of central pool \"gpus\", which only has 2");
  auto unknown = CheckCentralPools(*PlanOf("{gpu-s: 1}"), *spec, "default");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message,
            "/p.yaml:6:13: task \"a\" asks for pool \"gpu-s\", which neither spec.pools nor "
            "/s/pools.yaml declares for namespace \"default\" (did you mean \"gpus\"?)");
  // A pool of the run's own spec.pools is no central pool, whatever the file says.
  EXPECT_TRUE(CheckCentralPools(*PlanOf("{licence: 1}", "  pools: {licence: 1}\n"), *spec, "x"));
  auto none = CheckCentralPools(*PlanOf("{gpus: 1}"), CentralPoolsSpec{}, "default");
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("the state folder has no pools.yaml"), std::string::npos);
}

// spec.resources: central pools the whole run holds, checked at admission like a task's, and
// never a pool of the run's own or a built-in resource.
TEST(PoolsSpec, ARunLevelHoldIsCheckedAtAdmissionAtItsPlace) {
  auto spec = ParsePools("/s/pools.yaml", kGood);
  ASSERT_TRUE(spec);
  auto plan = PlanOf("{}", "  resources: {deploy-prod: 1}\n");
  EXPECT_TRUE(plan->asks_central_pools);
  ASSERT_EQ(plan->pipeline->run_pools.size(), 1u);
  EXPECT_EQ(plan->pipeline->run_pools[0].first, "deploy-prod");
  EXPECT_TRUE(CheckCentralPools(*plan, *spec, "default"));
  auto unknown = CheckCentralPools(*PlanOf("{}", "  resources: {deploy-prd: 1}\n"), *spec,
                                   "default");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message,
            "/p.yaml:5:15: spec.resources asks for pool \"deploy-prd\", which /s/pools.yaml does "
            "not declare for namespace \"default\" (did you mean \"deploy-prod\"?)");
  auto over = CheckCentralPools(*PlanOf("{}", "  resources: {deploy-prod: 2}\n"), *spec, "x");
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().message, "/p.yaml:5:15: spec.resources asks for 2 units of mutex "
                                  "\"deploy-prod\", which only has 1");
  auto none = CheckCentralPools(*plan, CentralPoolsSpec{}, "default");
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("the state folder has no pools.yaml"), std::string::npos);
  // A task asking for what its own run holds would wait for ever: refused.
  auto self = CheckCentralPools(*PlanOf("{deploy-prod: 1}", "  resources: {deploy-prod: 1}\n"),
                                *spec, "default");
  ASSERT_FALSE(self);
  EXPECT_NE(self.error().message.find("it would wait for its own run"), std::string::npos);
  EXPECT_TRUE(CheckCentralPools(*PlanOf("{gpus: 1}", "  resources: {gpus: 1}\n"), *spec, "x"))
      << "two units: one for the run, one for the task";
}

TEST(PoolsSpec, ARunLevelHoldTakesOnlyCentralPools) {
  auto error = [](const std::string& extra) {
    try {
      PlanOf("{}", extra);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(error("  resources: {cpu: 1}\n"),
            "/p.yaml:5:15: spec.resources names central pools the run holds as a whole; cpu is "
            "a task's request (put it in defaults.resources)");
  EXPECT_EQ(error("  pools: {db: 1}\n  resources: {db: 1}\n"),
            "/p.yaml:6:15: spec.resources asks for pool \"db\", which spec.pools declares: a run "
            "holds only central pools as a whole (docs/pools.md)");
  EXPECT_NE(error("  resources: {deploy: -1}\n").find("non-negative quantity"), std::string::npos);
}

}  // namespace pools_spec_test
}  // namespace sluice
