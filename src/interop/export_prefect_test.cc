// The Prefect export's flow file, read as text: @task arguments, submits and maps with their
// wait_for, the finally block, approvals as pauses. tests/interop/export_python.py compiles and
// parses the exports of every example.
#include <gtest/gtest.h>

#include "env/fake_env.h"
#include "interop/export.h"

namespace sluice {
namespace export_prefect_test {

ExportResult Export(std::string_view spec) {
  MemFileSystem fs(std::map<std::string, std::string>{
      {"/p/pipeline.yaml",
       "apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: demo}\nspec:\n" + std::string(spec)}});
  auto plan = LoadPlan(fs, "/p/pipeline.yaml");
  EXPECT_TRUE(plan) << plan.error().message;
  if (!plan) return {};
  auto r = ExportPrefect(**plan, ExportOptions{});
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : ExportResult{};
}

bool Has(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

constexpr std::string_view kPipeline =
    "  params:\n"
    "    - {name: sweep, type: list, default: [1, 2]}\n"
    "    - {name: P, required: true}\n"
    "  deadline: 1h\n"
    "  tasks:\n"
    "    - name: prepare\n"
    "      run: [/bin/echo, 'a\\nb \"c\" \\\\ ''d''']\n"
    "      retry: {limit: 3, backoff: {initial: 1s, factor: 3, max: 5s}}\n"
    "      timeout: 2m\n"
    "      outputs: {params: [{name: n, from: {stdout: text}}]}\n"
    "    - name: train\n"
    "      forEach: '${{ params.sweep }}'\n"
    "      run: [/bin/echo, '${{ item }}', '${{ tasks.prepare.outputs.params.n }}']\n"
    "    - name: report\n"
    "      needs: [train]\n"
    "      when: '${{ size(tasks.prepare.outputs.params.n) > 0 }}'\n"
    "      run: [/bin/true]\n"
    "      outputs: {params: [{name: x, from: {stdout: text}}]}\n"
    "  finally:\n"
    "    - {name: notify, run: [/bin/echo, '${{ run.status }}', '${{ run.failedTasks }}']}\n";

TEST(ExportPrefect, ImportsPrefect3AndNamesTheFileAfterThePipeline) {
  ExportResult r = Export(kPipeline);
  ASSERT_EQ(r.files.size(), 1u);
  EXPECT_EQ(r.files[0].name, "demo.py");
  EXPECT_TRUE(Has(r.files[0].text, "from prefect import flow, task, unmapped\n"));
}

TEST(ExportPrefect, TaskArgumentsCarryRetriesTheirDelaysAndTheTimeout) {
  const std::string text = Export(kPipeline).files.at(0).text;
  // Sluice's backoff delay by delay: 1s, 3s, then capped at 5s.
  EXPECT_TRUE(Has(text, "@task(name=\"prepare\", retries=3, retry_delay_seconds=[1, 3, 5], "
                        "timeout_seconds=120)\n")) << text;
  EXPECT_TRUE(Has(text, "@task(name=\"train\", retries=0)\n"));
}

TEST(ExportPrefect, CommandsRunAsArgvListsWithCheck) {
  const std::string text = Export(kPipeline).files.at(0).text;
  EXPECT_TRUE(Has(text, "    argv = [\"/bin/echo\", \"a\\\\nb \\\"c\\\" \\\\\\\\ 'd'\"]\n")) << text;
  EXPECT_TRUE(Has(text, "subprocess.run(argv, cwd=cwd, env=full_env, check=True, stdout=stdout)"));
}

TEST(ExportPrefect, FlowParametersKeepSluiceNamesUnlessTaken) {
  const std::string text = Export(kPipeline).files.at(0).text;
  // Required first (Python's rule); "P" is the flow's own variable, so the param is renamed.
  EXPECT_TRUE(Has(text, "@flow(name=\"demo\", timeout_seconds=3600)\n"
                        "def flow_demo(param_P: str, sweep: list = [1, 2]):\n")) << text;
  EXPECT_TRUE(Has(text, "    P = {\"P\": param_P, \"sweep\": sweep}\n"));
}

TEST(ExportPrefect, SubmitsWithWaitForAndMapsForEach) {
  const std::string text = Export(kPipeline).files.at(0).text;
  EXPECT_TRUE(Has(text, "        v_prepare = t_prepare.submit(P=P, up={}, run_id=run_id, "
                        "where=\"prepare\", wait_for=[])\n")) << text;
  EXPECT_TRUE(Has(text, "        items_train = None if _skipped(up) else list(P[\"sweep\"])\n"));
  EXPECT_TRUE(Has(text, "        v_train = t_train.map(P=unmapped(P), up=unmapped({\"prepare\": "
                        "v_prepare}), run_id=unmapped(run_id), where=unmapped(\"train\"), "
                        "item=items_train, index=list(range(len(items_train))), "
                        "wait_for=[v_prepare]) if items_train is not None else _SKIPPED\n"));
  EXPECT_TRUE(Has(text, "        v_report = t_report.submit(P=P, up={\"prepare\": v_prepare, "
                        "\"train\": v_train}, run_id=run_id, where=\"report\", "
                        "wait_for=[v_prepare, *_futures(v_train)])\n"));
}

TEST(ExportPrefect, WhenSkipsAndSkipsDependents) {
  const std::string text = Export(kPipeline).files.at(0).text;
  EXPECT_TRUE(Has(text, "    if _skipped(up):\n        return _SKIPPED\n"));
  EXPECT_TRUE(Has(text, "    if not ((len(_out(up[\"prepare\"], \"params\", \"n\")) > 0)):\n"
                        "        return _SKIPPED  # its when is false\n")) << text;
}

TEST(ExportPrefect, FinallyTasksRunInAFinallyBlockWithTheRunStatus) {
  const std::string text = Export(kPipeline).files.at(0).text;
  EXPECT_TRUE(Has(text, "    v_prepare = v_train = v_report = None\n"
                        "    run_status = \"failed\"\n    try:\n")) << text;
  EXPECT_TRUE(Has(text, "        _wait([v_prepare, *_futures(v_train), v_report])\n"
                        "        run_status = \"succeeded\"\n"
                        "    finally:\n"
                        "        run_failed = _failed({\"prepare\": v_prepare, \"train\": v_train, "
                        "\"report\": v_report})\n"
                        "        v_notify = t_notify.submit(P=P, up={}, run_id=run_id, "
                        "where=\"notify\", run_status=run_status, run_failed=run_failed, "
                        "wait_for=[])\n"
                        "        _wait([v_notify])\n"));
  EXPECT_TRUE(Has(text, "    argv = [\"/bin/echo\", _text(run_status), _text(run_failed)]\n"));
}

TEST(ExportPrefect, ApprovalPausesTheFlowRun) {
  ExportResult r = Export(
      "  tasks:\n"
      "    - {name: build, run: [make]}\n"
      "    - name: sign-off\n"
      "      needs: [build]\n"
      "      approval: {approvers: [alice], timeout: 2h}\n");
  const std::string& text = r.files.at(0).text;
  EXPECT_TRUE(Has(text, "    up = _results({\"build\": v_build})\n"
                        "    if not _skipped(up) and True:  # approval: \n"
                        "        pause_flow_run(timeout=7200)\n"
                        "    v_sign_off = t_sign_off.submit(")) << text;
  bool listed = false;
  for (const auto& line : r.not_expressed) listed |= Has(line, "Prefect has no approvers");
  EXPECT_TRUE(listed);
}

TEST(ExportPrefect, ForEachParallelismIsListed) {
  ExportResult r = Export(
      "  tasks:\n"
      "    - {name: t, forEach: [1, 2], parallelism: 1, run: [echo, '${{ item }}']}\n");
  bool listed = false;
  for (const auto& line : r.not_expressed) listed |= Has(line, "task \"t\": forEach parallelism 1");
  EXPECT_TRUE(listed);
}

}  // namespace export_prefect_test
}  // namespace sluice
