// What new users trip on in placeholders (issue 12): `{{ }}` without its `$`, names with
// hyphens, typed outputs, pipeline.dir and workingDir.
#include <gtest/gtest.h>

#include "env/fake_env.h"
#include "spec/plan.h"

namespace sluice {
namespace placeholders_test {

// Loads a pipeline whose spec is `spec` (indented two spaces); the plan, or "error: MESSAGE".
Result<std::shared_ptr<const Plan>> LoadSpec(std::string_view spec) {
  MemFileSystem fs(std::map<std::string, std::string>{
      {"/p/pipeline.yaml", fmt::format("apiVersion: sluice/v1\nkind: Pipeline\n"
                                       "metadata: {{name: p}}\nspec:\n{}", spec)}});
  return LoadPlan(fs, "/p/pipeline.yaml");
}

std::string ErrorOf(std::string_view spec) {
  auto plan = LoadSpec(spec);
  return plan ? "ok" : plan.error().message;
}

TEST(BareTemplate, BracesWithoutDollarAreAnErrorShowingThePlaceholder) {
  EXPECT_EQ(ErrorOf("  tasks:\n"
                    "    - {name: a, run: [x], outputs: {params: [{name: o, from: {stdout: text}}]}}\n"
                    "    - {name: b, run: [echo, '{{ tasks.a.outputs.params.o }}']}\n"),
            "/p/pipeline.yaml:7:30: \"{{ tasks.a.outputs.params.o }}\" is not a placeholder: "
            "placeholders start with $, write \"${{ tasks.a.outputs.params.o }}\"");
  EXPECT_EQ(ErrorOf("  tasks:\n    - name: b\n      env: {N: 'n={{params.n}}'}\n"
                    "      run: [x]\n").substr(0, 23),
            "/p/pipeline.yaml:7:19: ");
}

TEST(BareTemplate, OtherBracesAndRealPlaceholdersPass) {
  EXPECT_EQ(ErrorOf("  params: [{name: n, type: int, default: 1}]\n  tasks:\n"
                    "    - {name: a, run: [docker, inspect, -f, '{{.State.Running}}', '{{ x }}',"
                    " '${{ params.n }}']}\n"
                    "    - {name: b, script: 'echo {{ .Values.x }}'}\n"),
            "ok");
}

TEST(HyphenatedNames, TaskAndParamNamesWithHyphensReadWithoutBackticks) {
  auto plan = LoadSpec("  params: [{name: max-depth, type: int, default: 3}, {name: n, type: int, default: 1}]\n"
                       "  tasks:\n"
                       "    - {name: flip-coin, run: [x], outputs: {params: [{name: side, from: {stdout: text}}]}}\n"
                       "    - name: heads\n"
                       "      when: \"${{ tasks.flip-coin.outputs.params.side == 'heads' }}\"\n"
                       "      run: [echo, '${{ params.max-depth + 1 }}', '${{ params.n-1 }}']\n");
  ASSERT_TRUE(plan) << plan.error().message;
  const PlanTask& heads = *(*plan)->Find("heads");
  EXPECT_EQ(heads.deps, (std::vector<int>{(*plan)->Find("flip-coin")->index}));
}

TEST(HyphenatedNames, SubtractionStaysWhenNoSuchNameIsDeclared) {
  // params.n-1 with no param "n-1" is n minus 1; tasks.a-b with no task "a-b" is unknown task a.
  EXPECT_EQ(ErrorOf("  params: [{name: n, type: int, default: 1}]\n  tasks:\n"
                    "    - {name: a, run: [echo, '${{ params.n-1 }}']}\n"),
            "ok");
  EXPECT_NE(ErrorOf("  tasks:\n    - {name: t, run: [echo, '${{ tasks.a-b.outputs.params.o }}']}\n")
                .find("tasks.a must read tasks.NAME.outputs"),
            std::string::npos);
}

TEST(HyphenatedNames, AnAmbiguousParamIsAnError) {
  EXPECT_EQ(ErrorOf("  params: [{name: n, type: int, default: 1}, {name: n-1, type: int, default: 2}]\n"
                    "  tasks:\n    - {name: a, run: [echo, '${{ params.n-1 }}']}\n"),
            "/p/pipeline.yaml:7:29: in run argument: column 12: params.n-1 is ambiguous: params "
            "\"n-1\" and \"n\" are both declared, so it could also be params.n - 1; write "
            "params.`n-1` for the name, or put spaces around the '-' for a subtraction");
  // With spaces, or in backticks, it is not.
  EXPECT_EQ(ErrorOf("  params: [{name: n, type: int, default: 1}, {name: n-1, type: int, default: 2}]\n"
                    "  tasks:\n    - {name: a, run: [echo, '${{ params.n - 1 }}', '${{ params.`n-1` }}']}\n"),
            "ok");
}

constexpr std::string_view kTyped =
    "  tasks:\n"
    "    - name: t\n"
    "      run: [x]\n"
    "      outputs:\n"
    "        params:\n"
    "          - {name: acc, type: number, from: {stdout: text}}\n"
    "          - {name: tags, type: list, from: {stdout: json}}\n";

TEST(OutputTypes, AMismatchInAnExpressionIsAValidateError) {
  EXPECT_EQ(ErrorOf(std::string(kTyped) +
                    "    - {name: u, when: \"${{ tasks.t.outputs.params.acc > 'x' }}\", run: [x]}\n"),
            "/p/pipeline.yaml:12:23: no such overload: number > string (in the placeholder, "
            "column 32)");
  EXPECT_EQ(ErrorOf(std::string(kTyped) +
                    "    - {name: u, when: \"${{ tasks.t.outputs.params.acc }}\", run: [x]}\n"),
            "/p/pipeline.yaml:12:23: when must be a condition (a bool); "
            "\"${{ tasks.t.outputs.params.acc }}\" gives number");
  EXPECT_EQ(ErrorOf(std::string(kTyped) +
                    "    - {name: u, when: \"${{ tasks.t.outputs.params.acc > 0.9 }}\", run: [x]}\n"
                    "    - {name: v, forEach: \"${{ tasks.t.outputs.params.tags }}\", run: [x]}\n"),
            "ok");
}

TEST(OutputTypes, AForEachTasksOutputIsAList) {
  EXPECT_EQ(ErrorOf("  tasks:\n"
                    "    - name: t\n      forEach: [1, 2]\n      run: [x]\n"
                    "      outputs: {params: [{name: acc, type: number, from: {stdout: text}}]}\n"
                    "    - {name: u, when: \"${{ math.greatest(tasks.t.outputs.params.acc) > 0.9 "
                    "&& tasks.t.outputs.params.acc[0] > 0.5 }}\", run: [x]}\n"),
            "ok");
  EXPECT_NE(ErrorOf("  tasks:\n"
                    "    - name: t\n      forEach: [1, 2]\n      run: [x]\n"
                    "      outputs: {params: [{name: acc, type: number, from: {stdout: text}}]}\n"
                    "    - {name: u, when: \"${{ tasks.t.outputs.params.acc > 0.9 }}\", run: [x]}\n")
                .find("no such overload: list > double"),
            std::string::npos);
}

TEST(OutputTypes, AWithArgumentOfAnotherTypeIsAValidateError) {
  MemFileSystem fs(std::map<std::string, std::string>{
      {"/p/c.yaml", "apiVersion: sluice/v1\nkind: Component\nmetadata: {name: c, version: 1.0.0}\n"
                    "spec:\n  params: [{name: n, type: int}, {name: s, type: string}]\n"
                    "  run: [echo, '${{ params.n }}']\n"},
      {"/p/pipeline.yaml",
       std::string("apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n"
                   "  imports: [c.yaml]\n") + std::string(kTyped) +
           "    - {name: u, uses: c@1, with: {s: '${{ tasks.t.outputs.params.tags }}', "
           "n: '${{ tasks.t.outputs.params.tags }}'}}\n"}});
  auto plan = LoadPlan(fs, "/p/pipeline.yaml");
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().message,
            "/p/pipeline.yaml:13:79: argument \"n\" gives list "
            "(\"${{ tasks.t.outputs.params.tags }}\"), but component c declares it int");
}

TEST(OutputTypes, AnUnknownTypeIsRefused) {
  EXPECT_NE(ErrorOf("  tasks:\n    - name: t\n      run: [x]\n"
                    "      outputs: {params: [{name: a, type: float, from: {stdout: text}}]}\n")
                .find("unknown type \"float\""),
            std::string::npos);
}

TEST(PipelineDir, IsAStringInScopeAndWorkingDirIsRead) {
  auto plan = LoadSpec("  defaults: {workingDir: pipeline}\n  tasks:\n"
                       "    - {name: a, run: [python3, '${{ pipeline.dir }}/train.py']}\n"
                       "    - {name: b, run: [x], workingDir: attempt}\n");
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ((*plan)->pipeline->defaults.working_dir, WorkingDir::kPipeline);
  EXPECT_EQ((*plan)->Find("b")->spec->opts().working_dir, WorkingDir::kAttempt);
  EXPECT_NE(ErrorOf("  tasks:\n    - {name: a, run: ['${{ pipeline.file }}']}\n")
                .find("unknown pipeline.file: pipeline has dir"),
            std::string::npos);
  EXPECT_NE(ErrorOf("  tasks:\n    - {name: a, run: ['${{ pipeline.dir + 1 }}']}\n")
                .find("no such overload: string + int"),
            std::string::npos);
  EXPECT_NE(ErrorOf("  tasks:\n    - {name: a, run: [x], workingDir: pipline}\n")
                .find("workingDir must be attempt (a fresh folder for each attempt, the default) "
                      "or pipeline (the pipeline file's folder), not \"pipline\" (did you mean "
                      "\"pipeline\"?)"),
            std::string::npos);
}

}  // namespace placeholders_test
}  // namespace sluice
