// Compiling DAG templates (Components with tasks:): each template once, its tasks scoped to
// it, and the checks a call, a template's outputs and calls among templates get at validate.
#include <gtest/gtest.h>

#include "env/fake_env.h"
#include "spec/plan.h"

namespace sluice {
namespace template_compile_test {

Result<std::shared_ptr<const Plan>> Load(const std::string& tasks, const std::string& lib,
                                         const std::string& extra = "") {
  MemFileSystem fs(std::map<std::string, std::string>{
      {"/p/pipeline.yaml", "apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n"
                           "  imports: [lib.yaml]\n" + extra + "  tasks:\n" + tasks},
      {"/p/lib.yaml", lib}});
  return LoadPlan(fs, "/p/pipeline.yaml");
}

std::string Template(const std::string& name, const std::string& spec) {
  return "apiVersion: sluice/v1\nkind: Component\nmetadata: {name: " + name +
         ", version: 1.2.0}\nspec:\n" + spec;
}

std::string ErrorOf(const Result<std::shared_ptr<const Plan>>& r) {
  return r ? std::string("(compiled)") : r.error().message;
}

TEST(TemplateCompile, ATemplateIsCompiledOnceWithItsTasksScopedToIt) {
  auto plan = Load("    - {name: x, uses: t@1}\n    - {name: y, uses: t@1}\n",
                   Template("t", "  tasks:\n    - {name: a, run: [x]}\n"
                                 "    - {name: b, needs: [a], run: [x]}\n"
                                 "  finally:\n    - {name: f, run: [x]}\n"));
  ASSERT_TRUE(plan) << plan.error().message;
  const Plan& p = **plan;
  ASSERT_EQ(p.templates.size(), 1u);
  const PlanTemplate& tp = p.templates[0];
  EXPECT_EQ(tp.num_main, 2);
  EXPECT_EQ(tp.num_finally, 1);
  const PlanTask* b = p.FindIn(0, "b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->name, "t@1.2.0/b");
  EXPECT_EQ(b->deps, (std::vector<int>{tp.first}));
  EXPECT_EQ(p.FindIn(-1, "b"), nullptr);  // not a pipeline task
  EXPECT_EQ(p.Find("x")->tmpl(), 0);
  EXPECT_EQ(p.Find("y")->tmpl(), 0);
}

TEST(TemplateCompile, TemplateDefaultsComeBeforeThePipelines) {
  auto plan = Load("    - {name: x, uses: t@1}\n",
                   Template("t", "  defaults: {timeout: 7s}\n  tasks:\n    - {name: a, run: [x]}\n"),
                   "  defaults: {timeout: 1m}\n");
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ((*plan)->FindIn(0, "a")->timeout_ms, 7000);
}

TEST(TemplateCompile, ATemplatesTaskReadsOnlyItsOwnTasksAndParams) {
  auto r = Load("    - {name: outside, run: [x]}\n    - {name: x, uses: t@1}\n",
                Template("t", "  tasks:\n    - {name: a, needs: [outside], run: [x]}\n"));
  EXPECT_NE(ErrorOf(r).find("needs \"outside\", which does not exist"), std::string::npos)
      << ErrorOf(r);
  r = Load("    - {name: x, uses: t@1}\n",
           Template("t", "  params: [{name: n, type: int, default: 1}]\n"
                         "  tasks:\n    - {name: a, run: [x, '${{ params.m }}']}\n"));
  EXPECT_NE(ErrorOf(r).find("unknown param \"m\""), std::string::npos) << ErrorOf(r);
}

TEST(TemplateCompile, OutputsMustReadTheTemplatesTasksDeclaredOutputs) {
  auto r = Load("    - {name: x, uses: t@1}\n",
                Template("t", "  tasks:\n    - {name: a, run: [x]}\n"
                              "  outputs:\n    params: [{name: o, value: '${{ tasks.a.outputs.params.nope }}'}]\n"));
  EXPECT_NE(ErrorOf(r).find("has no output param \"nope\""), std::string::npos) << ErrorOf(r);
}

TEST(TemplateCompile, ATemplatesTaskCannotTakeTheNameOfACallsHandler) {
  auto r = Load("    - {name: x, uses: t@1, fallback: {run: [y]}}\n",
                Template("t", "  tasks:\n    - {name: fallback, run: [x]}\n"));
  EXPECT_NE(ErrorOf(r).find("cannot be named \"fallback\""), std::string::npos) << ErrorOf(r);
}

TEST(TemplateCompile, ACallGetsNoDefaultRetryItsTasksWouldMultiply) {
  auto plan = Load("    - {name: x, uses: t@1}\n",
                   Template("t", "  tasks:\n    - {name: a, run: [x]}\n"),
                   "  defaults: {retry: 3}\n");
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ((*plan)->Find("x")->retry->limit, 0);
  EXPECT_EQ((*plan)->FindIn(0, "a")->retry->limit, 3);
}

TEST(TemplateCompile, ACallCannotCacheOrDeclareOutputs) {
  auto r = Load("    - {name: x, uses: t@1, cache: true}\n",
                Template("t", "  tasks:\n    - {name: a, run: [x]}\n"));
  EXPECT_NE(ErrorOf(r).find("calls a DAG template, so it cannot have cache"), std::string::npos)
      << ErrorOf(r);
}

TEST(TemplateCompile, CallsInACycleWithoutWhenAreRefusedButRecursionUnderWhenIsNot) {
  auto r = Load("    - {name: x, uses: t@1}\n",
                Template("t", "  tasks:\n    - {name: again, uses: t@1}\n"));
  EXPECT_NE(ErrorOf(r).find("cycle with no `when`"), std::string::npos) << ErrorOf(r);
  EXPECT_NE(ErrorOf(r).find("lib.yaml:"), std::string::npos) << ErrorOf(r);
  r = Load("    - {name: x, uses: t@1}\n",
           Template("t", "  tasks:\n    - {name: again, when: '${{ 1 > 2 }}', uses: t@1}\n"));
  EXPECT_TRUE(r) << ErrorOf(r);
}

TEST(TemplateCompile, NestingDeeperThanMaxDepthIsRefused) {
  std::string lib = Template("t1", "  tasks:\n    - {name: a, uses: t2@1}\n") + "---\n" +
                    Template("t2", "  tasks:\n    - {name: a, uses: t3@1}\n") + "---\n" +
                    Template("t3", "  tasks:\n    - {name: a, run: [x]}\n");
  EXPECT_TRUE(Load("    - {name: x, uses: t1@1}\n", lib, "  maxDepth: 3\n"));
  auto r = Load("    - {name: x, uses: t1@1}\n", lib, "  maxDepth: 2\n");
  EXPECT_NE(ErrorOf(r).find("more than spec.maxDepth (2)"), std::string::npos) << ErrorOf(r);
}

}  // namespace template_compile_test
}  // namespace sluice
