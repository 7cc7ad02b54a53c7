// The Argo export (export_argo.cc): the DAG, templates, placeholders, retries, loops,
// conditions, exit handler and approvals, read back from the YAML it writes.
#include <gtest/gtest.h>

#include "env/fake_env.h"
#include "interop/export.h"
#include "spec/yaml_tree.h"

namespace sluice {
namespace export_argo_test {

struct Exported {
  ExportResult result;
  std::unique_ptr<YamlTree> tree;
  YNode doc() const { return tree->documents()[0]; }
  // The template named `name`.
  YNode Template(std::string_view name) const {
    for (const auto& t : doc()["spec"]["templates"]) {
      if (t["name"].Scalar() == name) return t;
    }
    return YNode();
  }
  bool Lists(std::string_view part) const {
    for (const auto& l : result.not_expressed) {
      if (l.find(part) != std::string::npos) return true;
    }
    return false;
  }
};

Exported Export(std::string_view spec, ExportOptions options = {}) {
  MemFileSystem fs(std::map<std::string, std::string>{
      {"/p/pipeline.yaml",
       fmt::format("apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {{name: demo}}\nspec:\n{}",
                   spec)}});
  auto plan = LoadPlan(fs, "/p/pipeline.yaml");
  EXPECT_TRUE(plan) << plan.error().message;
  Exported e;
  auto r = ExportArgo(**plan, options);
  EXPECT_TRUE(r) << r.error().message;
  e.result = std::move(*r);
  auto tree = YamlTree::Parse(e.result.files[0].text);
  EXPECT_TRUE(tree) << tree.error().message << "\n" << e.result.files[0].text;
  e.tree = std::move(*tree);
  return e;
}

TEST(ExportArgo, TasksBecomeDagTasksWithDependenciesAndPlaceholdersBecomeParameters) {
  auto e = Export("  params: [{name: n, type: int, default: 3}]\n"
                  "  tasks:\n"
                  "    - name: make\n"
                  "      run: [gen, --n, \"${{ params.n }}\"]\n"
                  "      image: alpine:3.20\n"
                  "      outputs: {params: [{name: count, from: {file: count.txt}}]}\n"
                  "    - name: use\n"
                  "      run: [echo, \"got ${{ tasks.make.outputs.params.count }}\"]\n");
  YNode doc = e.doc();
  EXPECT_EQ(doc["kind"].Scalar(), "Workflow");
  EXPECT_EQ(doc["metadata"]["generateName"].Scalar(), "demo-");
  EXPECT_EQ(doc["spec"]["entrypoint"].Scalar(), "demo");
  EXPECT_EQ(doc["spec"]["arguments"]["parameters"].Item(0)["value"].Scalar(), "3");
  YNode tasks = e.Template("demo")["dag"]["tasks"];
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_EQ(tasks.Item(0)["name"].Scalar(), "make");
  EXPECT_EQ(tasks.Item(0)["arguments"]["parameters"].Item(0)["value"].Scalar(),
            "{{workflow.parameters.n}}");
  EXPECT_EQ(tasks.Item(1)["dependencies"].Item(0).Scalar(), "make");
  EXPECT_EQ(tasks.Item(1)["arguments"]["parameters"].Item(0)["value"].Scalar(),
            "{{tasks.make.outputs.parameters.count}}");
  YNode make = e.Template(tasks.Item(0)["template"].Scalar());
  EXPECT_EQ(make["container"]["image"].Scalar(), "alpine:3.20");
  EXPECT_EQ(make["container"]["command"].Item(0).Scalar(), "gen");
  EXPECT_EQ(make["container"]["args"].Item(1).Scalar(), "{{inputs.parameters.n}}");
  EXPECT_EQ(make["outputs"]["parameters"].Item(0)["valueFrom"]["path"].Scalar(),
            "/tmp/sluice/count.txt");
  YNode use = e.Template(tasks.Item(1)["template"].Scalar());
  EXPECT_EQ(use["container"]["image"].Scalar(), "python:3.12-slim");
  EXPECT_EQ(use["container"]["args"].Item(0).Scalar(), "got {{inputs.parameters.make-count}}");
  EXPECT_TRUE(e.result.not_expressed.empty());
}

TEST(ExportArgo, RetryTimeoutLoopsAndConditionsMapToArgosFields) {
  auto e = Export("  params: [{name: xs, type: list, default: [a, b]}, {name: go, type: bool, default: true},\n"
                  "           {name: mode, type: string, default: fast}]\n"
                  "  tasks:\n"
                  "    - name: each\n"
                  "      forEach: \"${{ params.xs }}\"\n"
                  "      run: [echo, \"${{ item }}\"]\n"
                  "      retry: {limit: 2, on: [exit(3)], backoff: {initial: 1s, factor: 3, max: 1m}}\n"
                  "      timeout: 90s\n"
                  "      deadline: 10m\n"
                  "    - name: fixed\n"
                  "      forEach: [1, 2]\n"
                  "      run: [echo, \"${{ item }}\"]\n"
                  "      when: \"${{ params.go && params.mode != 'z' }}\"\n"
                  "      continueOnFailure: true\n");
  YNode tasks = e.Template("demo")["dag"]["tasks"];
  EXPECT_EQ(tasks.Item(0)["withParam"].Scalar(), "{{workflow.parameters.xs}}");
  EXPECT_EQ(tasks.Item(0)["arguments"]["parameters"].Item(0)["value"].Scalar(), "{{item}}");
  EXPECT_EQ(tasks.Item(1)["withItems"].Item(1).Scalar(), "2");
  EXPECT_EQ(tasks.Item(1)["when"].Scalar(),
            "{{workflow.parameters.go}} && ('{{workflow.parameters.mode}}' != 'z')");
  EXPECT_EQ(tasks.Item(1)["continueOn"]["failed"].Scalar(), "true");
  YNode each = e.Template("each");
  EXPECT_EQ(each["retryStrategy"]["limit"].Scalar(), "2");
  EXPECT_EQ(each["retryStrategy"]["backoff"]["duration"].Scalar(), "1s");
  EXPECT_EQ(each["retryStrategy"]["backoff"]["factor"].Scalar(), "3");
  EXPECT_EQ(each["retryStrategy"]["backoff"]["cap"].Scalar(), "60s");
  EXPECT_EQ(each["retryStrategy"]["backoff"]["maxDuration"].Scalar(), "600s");
  EXPECT_EQ(each["retryStrategy"]["expression"].Scalar(), "asInt(lastRetry.exitCode) in [3]");
  EXPECT_EQ(each["activeDeadlineSeconds"].Scalar(), "90");
  EXPECT_EQ(each["timeout"].Scalar(), "600s");
}

TEST(ExportArgo, FinallyIsTheExitHandlerAndAnApprovalIsASuspendStep) {
  auto e = Export("  tasks:\n"
                  "    - name: train\n"
                  "      run: [train]\n"
                  "      outputs: {params: [{name: acc, from: {file: acc}}]}\n"
                  "    - name: ship\n"
                  "      needs: [train]\n"
                  "      run: [ship]\n"
                  "      approval: {approvers: [alice], quorum: 1}\n"
                  "  finally:\n"
                  "    - name: notify\n"
                  "      run: [notify, \"${{ tasks.train.outputs.params.acc }}\"]\n",
                  ExportOptions{.workflow_template = true});
  YNode doc = e.doc();
  EXPECT_EQ(doc["kind"].Scalar(), "WorkflowTemplate");
  EXPECT_EQ(doc["metadata"]["name"].Scalar(), "demo");
  std::string exit = std::string(doc["spec"]["onExit"].Scalar());
  YNode notify = e.Template(exit)["dag"]["tasks"].Item(0);
  EXPECT_EQ(notify["name"].Scalar(), "notify");
  EXPECT_EQ(notify["arguments"]["parameters"].Item(0)["value"].Scalar(),
            "{{workflow.outputs.parameters.train-acc}}");
  EXPECT_EQ(e.Template("train")["outputs"]["parameters"].Item(0)["globalName"].Scalar(),
            "train-acc");
  YNode ship = e.Template("ship");
  EXPECT_EQ(ship["steps"].Item(0).Item(0)["name"].Scalar(), "approve");
  EXPECT_TRUE(e.Template(ship["steps"].Item(0).Item(0)["template"].Scalar())["suspend"].IsMap());
  EXPECT_EQ(ship["steps"].Item(1).Item(0)["name"].Scalar(), "run");
  EXPECT_TRUE(e.Lists("task ship: approval by alice"));
  EXPECT_NE(e.result.files[0].text.find("#   - task ship: approval by alice"), std::string::npos);
}

TEST(ExportArgo, ComputedPlaceholdersAndSluiceOnlyFeaturesAreListed) {
  auto e = Export("  params: [{name: n, type: int, default: 3}]\n"
                  "  tasks:\n"
                  "    - name: a\n"
                  "      run: [echo, \"${{ params.n + 1 }}\"]\n"
                  "      cache: true\n"
                  "      compensate: {run: [undo]}\n",
                  ExportOptions{.artifact_repository = "runs/"});
  YNode a = e.Template("a");
  EXPECT_EQ(a["container"]["args"].Item(0).Scalar(), "[not expressed: params.n + 1]");
  EXPECT_TRUE(e.Lists("task a: ${{ params.n + 1 }}"));
  EXPECT_TRUE(e.Lists("task a: compensate"));
  EXPECT_TRUE(e.Lists("task a: cache"));
}

TEST(ExportArgo, ArtifactsPassBetweenTasksUnderTheRepositoryPrefix) {
  auto e = Export("  tasks:\n"
                  "    - name: a\n"
                  "      run: [mk]\n"
                  "      outputs: {artifacts: [{name: data, path: out/data}]}\n"
                  "    - name: b\n"
                  "      run: [use, \"${{ tasks.a.outputs.artifacts.data }}\"]\n",
                  ExportOptions{.artifact_repository = "runs/"});
  YNode out = e.Template("a")["outputs"]["artifacts"].Item(0);
  EXPECT_EQ(out["path"].Scalar(), "/tmp/sluice/out/data");
  EXPECT_EQ(out["s3"]["key"].Scalar(), "runs/{{workflow.name}}/{{pod.name}}/data");
  YNode b = e.Template("b");
  EXPECT_EQ(b["inputs"]["artifacts"].Item(0)["path"].Scalar(), "/tmp/sluice-inputs/a-data");
  EXPECT_EQ(b["container"]["args"].Item(0).Scalar(), "/tmp/sluice-inputs/a-data");
  YNode task = e.Template("demo")["dag"]["tasks"].Item(1);
  EXPECT_EQ(task["arguments"]["artifacts"].Item(0)["from"].Scalar(),
            "{{tasks.a.outputs.artifacts.data}}");
}

TEST(ExportArgo, WhatTheRunHoldsAsAWholeIsTheWorkflowsSynchronization) {
  auto e = Export("  resources: {deploy-prod: 1, warehouse: 2}\n"
                  "  tasks:\n"
                  "    - {name: a, run: [echo, a]}\n");
  YNode sems = e.doc()["spec"]["synchronization"]["semaphores"];
  ASSERT_EQ(sems.size(), 2u) << e.result.files[0].text;
  EXPECT_EQ(sems.Item(0)["configMapKeyRef"]["name"].Scalar(), "sluice-pools");
  EXPECT_EQ(sems.Item(0)["configMapKeyRef"]["key"].Scalar(), "deploy-prod");
  EXPECT_EQ(sems.Item(1)["configMapKeyRef"]["key"].Scalar(), "warehouse");
  EXPECT_FALSE(e.Template("a")["synchronization"]) << "the run's, not the task's";
  EXPECT_TRUE(e.Lists("pool deploy-prod: a semaphore; create ConfigMap sluice-pools"));
  EXPECT_TRUE(e.Lists("spec.resources: holds 2 units of pool warehouse"));
}

}  // namespace export_argo_test
}  // namespace sluice
