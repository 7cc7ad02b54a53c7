// The Airflow export's DAG file, read as text: decorators and their arguments, the wiring,
// and what is listed as not expressed. tests/interop/export_python.py compiles and parses the
// exports of every example.
#include <gtest/gtest.h>

#include "env/fake_env.h"
#include "interop/export.h"

namespace sluice {
namespace export_airflow_test {

Result<std::shared_ptr<const Plan>> Load(std::string_view spec) {
  MemFileSystem fs(std::map<std::string, std::string>{
      {"/p/pipeline.yaml",
       "apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: demo, labels: {team: ml}}\nspec:\n" +
           std::string(spec)}});
  return LoadPlan(fs, "/p/pipeline.yaml");
}

// The DAG file and the not_expressed lines of an export of `spec`.
ExportResult Export(std::string_view spec) {
  auto plan = Load(spec);
  EXPECT_TRUE(plan) << plan.error().message;
  if (!plan) return {};
  auto r = ExportAirflow(**plan, ExportOptions{});
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : ExportResult{};
}

bool Has(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

constexpr std::string_view kPipeline =
    "  params:\n"
    "    - {name: sweep, type: list, default: [1, 2]}\n"
    "    - {name: go, type: bool, default: true, description: 'say \"yes\"'}\n"
    "  tasks:\n"
    "    - name: prepare\n"
    "      run: [/bin/echo, 'it''s \"quoted\" {{ ds }} $(rm -rf /)']\n"
    "      retry: {limit: 2, backoff: {initial: 1s, factor: 2, max: 10s}}\n"
    "      timeout: 90s\n"
    "      outputs: {params: [{name: n, from: {stdout: text}}]}\n"
    "    - name: train\n"
    "      forEach: '${{ params.sweep }}'\n"
    "      parallelism: 2\n"
    "      run: [/bin/echo, '${{ item }}', '${{ tasks.prepare.outputs.params.n }}']\n"
    "    - name: fixed\n"
    "      forEach: [a, b]\n"
    "      run: [/bin/echo, '${{ item }}']\n"
    "    - name: report\n"
    "      needs: [train]\n"
    "      when: '${{ params.go }}'\n"
    "      run: [/bin/true]\n"
    "  finally:\n"
    "    - {name: notify, run: [/bin/echo, done]}\n";

TEST(ExportAirflow, WritesOneFileNamedAfterThePipeline) {
  ExportResult r = Export(kPipeline);
  ASSERT_EQ(r.files.size(), 1u);
  EXPECT_EQ(r.files[0].name, "demo.py");
}

TEST(ExportAirflow, ImportsTheTaskFlowApiOfBothVersions) {
  const std::string text = Export(kPipeline).files.at(0).text;
  EXPECT_TRUE(Has(text, "    from airflow.sdk import Param, dag, task, task_group\n"
                        "except ImportError:  # Airflow 2.10\n"
                        "    from airflow.decorators import dag, task, task_group\n"
                        "    from airflow.models.param import Param\n"));
}

TEST(ExportAirflow, DagHasParamsTagsAndNoSchedule) {
  const std::string text = Export(kPipeline).files.at(0).text;
  EXPECT_TRUE(Has(text, "    dag_id=\"demo\",\n")) << text;
  EXPECT_TRUE(Has(text, "    schedule=None,\n"));
  EXPECT_TRUE(Has(text, "    tags=[\"team=ml\"],\n"));
  EXPECT_TRUE(Has(text, "        \"sweep\": Param([1, 2], type=\"array\"),\n"));
  EXPECT_TRUE(Has(text, "        \"go\": Param(True, type=\"boolean\", description=\"say \\\"yes\\\"\"),\n"));
  EXPECT_TRUE(Has(text, "\ndag_demo()\n"));
}

TEST(ExportAirflow, RetriesBackoffAndTimeoutAreOperatorArguments) {
  const std::string text = Export(kPipeline).files.at(0).text;
  EXPECT_TRUE(Has(text, "@task.bash(task_id=\"prepare\", retries=2, "
                        "retry_delay=datetime.timedelta(seconds=1), "
                        "retry_exponential_backoff=True, "
                        "max_retry_delay=datetime.timedelta(seconds=10), "
                        "execution_timeout=datetime.timedelta(seconds=90))\n"
                        "def t_prepare(up, P=None, item=None, **context):\n")) << text;
  EXPECT_TRUE(Has(text, "@task.bash(task_id=\"report\", retries=0)\n"));
}

TEST(ExportAirflow, HostileArgvIsAPythonLiteralNeverShellText) {
  const std::string text = Export(kPipeline).files.at(0).text;
  // The command is quoted by shlex when the task runs, and its braces are escaped for Jinja
  // there (_jinja_literal): the DAG file holds only the Python literal.
  EXPECT_TRUE(Has(text, "    argv = [\"/bin/echo\", \"it's \\\"quoted\\\" {{ ds }} $(rm -rf /)\"]\n"))
      << text;
  EXPECT_TRUE(Has(text, "shlex.join(argv)"));
}

TEST(ExportAirflow, ForEachIsDynamicTaskMapping) {
  const std::string text = Export(kPipeline).files.at(0).text;
  // Over a param: a helper task computes the items when the run starts.
  EXPECT_TRUE(Has(text, "@task(task_id=\"train__items\", retries=0)\n")) << text;
  EXPECT_TRUE(Has(text, "    return list(P[\"sweep\"])\n"));
  EXPECT_TRUE(Has(text, "    v_train = t_train.partial(up={\"prepare\": v_prepare})"
                        ".expand(item=x_items_train(up={\"prepare\": v_prepare}))\n"));
  EXPECT_TRUE(Has(text, "max_active_tis_per_dagrun=2"));
  // Over a literal list: expanded directly.
  EXPECT_TRUE(Has(text, "    v_fixed = t_fixed.partial(up={}).expand(item=[\"a\", \"b\"])\n"));
}

TEST(ExportAirflow, DependenciesAreExplicitAndOutputsPassByXcom) {
  const std::string text = Export(kPipeline).files.at(0).text;
  EXPECT_TRUE(Has(text, "    [v_prepare] >> v_train\n")) << text;
  EXPECT_TRUE(Has(text, "    [v_train] >> v_report\n"));
  EXPECT_TRUE(Has(text, "_text(_out(up[\"prepare\"], \"params\", \"n\"))"));
}

TEST(ExportAirflow, WhenFalseSkipsWithExitCode99) {
  const std::string text = Export(kPipeline).files.at(0).text;
  EXPECT_TRUE(Has(text, "    if not (P[\"go\"]):\n        return \"exit 99\"")) << text;
}

TEST(ExportAirflow, FinallyRunsAllDoneAndAWatcherFailsTheRun) {
  const std::string text = Export(kPipeline).files.at(0).text;
  EXPECT_TRUE(Has(text, "@task.bash(task_id=\"notify\", retries=0, trigger_rule=\"all_done\")"))
      << text;
  EXPECT_TRUE(Has(text, "    [v_prepare, v_train, v_fixed, v_report] >> v_notify\n"));
  EXPECT_TRUE(Has(text, "trigger_rule=\"one_failed\""));
  EXPECT_TRUE(Has(text, "    [v_prepare, v_train, v_fixed, v_report] >> x_run_failed()\n"));
}

TEST(ExportAirflow, ApprovalsAreSensorsAndGatesRunSluicePolicyEval) {
  MemFileSystem fs(std::map<std::string, std::string>{
      {"/p/pipeline.yaml",
       "apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: gov}\nspec:\n"
       "  policies: [gate.yaml]\n"
       "  tasks:\n"
       "    - {name: build, run: [make]}\n"
       "    - name: sign-off\n"
       "      needs: [build]\n"
       "      approval: {approvers: [alice], timeout: 1h, instructions: look}\n"
       "    - name: publish\n"
       "      needs: [sign-off]\n"
       "      gate: {policies: [quality]}\n"
       "      run: [publish]\n"},
      {"/p/gate.yaml",
       "apiVersion: sluice/v1\nkind: Policy\nmetadata: {name: quality}\nspec:\n"
       "  stage: gate\n"
       "  rules: [{name: ok, expression: 'true', message: no}]\n"}});
  auto plan = LoadPlan(fs, "/p/pipeline.yaml");
  ASSERT_TRUE(plan) << plan.error().message;
  auto r = ExportAirflow(**plan, ExportOptions{});
  ASSERT_TRUE(r);
  const std::string& text = r->files.at(0).text;
  EXPECT_TRUE(Has(text, "@task.sensor(task_id=\"sign-off\", retries=0, poke_interval=60, "
                        "timeout=3600, mode=\"reschedule\")\n")) << text;
  EXPECT_TRUE(Has(text, "    return _approval(context[\"run_id\"], \"sign-off\")\n"));
  EXPECT_TRUE(Has(text, "    _gate_input(folder, \"publish\", \"gov\", {}, P, up)\n"));
  EXPECT_TRUE(Has(text, "gate=[\"/p/gate.yaml\"])\n"));
  bool listed = false;
  for (const auto& line : r->not_expressed) listed |= Has(line, "task \"sign-off\": approval by alice");
  EXPECT_TRUE(listed);
  EXPECT_TRUE(Has(text, "#   - task \"sign-off\": approval by alice"));
}

TEST(ExportAirflow, WhatCannotMapIsListedInResultAndHeader) {
  ExportResult r = Export(
      "  breakers: [{name: reg}]\n"
      "  resources: {deploy-prod: 1}\n"
      "  tasks:\n"
      "    - name: push\n"
      "      run: [push]\n"
      "      breaker: reg\n"
      "      cache: true\n"
      "      retry: {limit: 3, on: [exit(75)], backoff: {factor: 3}}\n"
      "      resources: {cpu: 2}\n"
      "      compensate: {run: [undo]}\n");
  const std::string& text = r.files.at(0).text;
  for (std::string_view want :
       {"task \"push\": circuit breaker \"reg\"", "task \"push\": cache by content hash",
        "task \"push\": retry on/except/when", "task \"push\": resources (cpu 2)",
        "task \"push\": compensate handler", "task \"push\": retry backoff factor 3",
        "spec.resources: the run holds 1 of central pool \"deploy-prod\""}) {
    bool found = false;
    for (const auto& line : r.not_expressed) found |= Has(line, want);
    EXPECT_TRUE(found) << want;
    EXPECT_TRUE(Has(text, "#   - " + std::string(want))) << want;
  }
}

TEST(ExportAirflow, DagTemplatesBecomeTaskGroups) {
  MemFileSystem fs(std::map<std::string, std::string>{
      {"/p/pipeline.yaml",
       "apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: t}\nspec:\n"
       "  imports: [lib.yaml]\n"
       "  tasks:\n"
       "    - {name: first, run: [echo]}\n"
       "    - {name: call, needs: [first], uses: pair@1, with: {x: hello}}\n"
       "    - {name: after, run: [echo, '${{ tasks.call.outputs.params.out }}']}\n"},
      {"/p/lib.yaml",
       "apiVersion: sluice/v1\nkind: Component\nmetadata: {name: pair, version: 1.0.0}\nspec:\n"
       "  params: [{name: x}]\n"
       "  outputs: {params: [{name: out, value: '${{ tasks.b.outputs.params.o }}'}]}\n"
       "  tasks:\n"
       "    - {name: a, run: [echo, '${{ params.x }}']}\n"
       "    - {name: b, needs: [a], run: [echo], outputs: {params: [{name: o, from: {stdout: text}}]}}\n"}});
  auto plan = LoadPlan(fs, "/p/pipeline.yaml");
  ASSERT_TRUE(plan) << plan.error().message;
  auto r = ExportAirflow(**plan, ExportOptions{});
  ASSERT_TRUE(r);
  const std::string& text = r->files.at(0).text;
  EXPECT_TRUE(Has(text, "@task_group(group_id=\"call\")\ndef g_call(P):\n")) << text;
  EXPECT_TRUE(Has(text, "    v_a = t_a(up={}, P=P)\n"));
  EXPECT_TRUE(Has(text, "    [v_a] >> v_b\n"));
  EXPECT_TRUE(Has(text, "        return {\"x\": \"hello\"}\n"));
  EXPECT_TRUE(Has(text, "    v_call = g_call(P=a_call)\n"));
  EXPECT_TRUE(Has(text, "    [v_first] >> a_call\n"));
  EXPECT_TRUE(Has(text, "    [v_call] >> v_after\n"));
  EXPECT_TRUE(Has(text, "return {\"params\": {\"out\": _out(up[\"b\"], \"params\", \"o\")}"));
}

}  // namespace export_airflow_test
}  // namespace sluice
