// What the compiled plan holds: the graph built on demand from the tasks' edges, and the rare
// fields of a plan task behind one pointer.
#include "spec/plan.h"

#include <gtest/gtest.h>

#include "env/fake_env.h"

namespace sluice {
namespace compile_test {

std::shared_ptr<const Plan> Load(std::string_view tasks) {
  MemFileSystem fs(std::map<std::string, std::string>{{"/p/pipeline.yaml",
                     fmt::format("apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {{name: p}}\n"
                                 "spec:\n  tasks:\n{}",
                                 tasks)}});
  auto plan = LoadPlan(fs, "/p/pipeline.yaml");
  EXPECT_TRUE(plan) << plan.error().message;
  return plan ? *plan : nullptr;
}

TEST(Compile, GraphIsBuiltFromTheTasksDepsAndDependents) {
  auto plan = Load("    - {name: a, run: [x]}\n"
                   "    - {name: b, needs: [a], run: [x]}\n"
                   "    - {name: c, needs: [a, b], run: [x]}\n");
  ASSERT_TRUE(plan);
  Graph g = plan->graph();
  ASSERT_EQ(g.size(), 3);
  EXPECT_EQ(g.name(2), "c");
  EXPECT_EQ(g.predecessors(2), (std::vector<int>{0, 1}));
  EXPECT_EQ(g.successors(0), plan->tasks[0].dependents);
  EXPECT_EQ(plan->Find("b")->index, 1);
  EXPECT_EQ(plan->Find("nope"), nullptr);
}

TEST(Compile, CycleIsReportedWithTaskNames) {
  MemFileSystem fs(std::map<std::string, std::string>{{"/p/pipeline.yaml",
                     "apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n  tasks:\n"
                     "    - {name: a, needs: [b], run: [x]}\n"
                     "    - {name: b, needs: [a], run: [x]}\n"}});
  auto plan = LoadPlan(fs, "/p/pipeline.yaml");
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.error().message.find("dependency cycle: a -> b -> a"), std::string::npos)
      << plan.error().message;
}

TEST(Compile, RareFieldsAreSetOnlyForTasksThatHaveThem) {
  auto plan = Load("    - {name: a, run: [x]}\n"
                   "    - {name: b, run: [x], catch: [{run: [y]}], fallback: {run: [z]}}\n");
  ASSERT_TRUE(plan);
  const PlanTask& a = *plan->Find("a");
  EXPECT_EQ(a.rare, nullptr);
  EXPECT_TRUE(a.catches().empty());
  EXPECT_EQ(a.component(), nullptr);
  EXPECT_EQ(a.breaker(), nullptr);
  const PlanTask& b = *plan->Find("b");
  ASSERT_EQ(b.catches().size(), 1u);
  const PlanTask& c = plan->tasks[b.catches()[0]];
  ASSERT_NE(c.catch_spec(), nullptr);
  EXPECT_TRUE(c.catch_spec()->recover);
  EXPECT_EQ(plan->tasks[b.fallback].name, "b.fallback");
}

}  // namespace compile_test
}  // namespace sluice
