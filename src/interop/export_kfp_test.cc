// The Kubeflow Pipelines export (export_kfp.cc): components, executors, the root DAG, loops and
// the exit handler, read back from the IR it writes.
#include <gtest/gtest.h>

#include "env/fake_env.h"
#include "interop/export.h"
#include "spec/yaml_tree.h"

namespace sluice {
namespace export_kfp_test {

struct Exported {
  ExportResult result;
  std::unique_ptr<YamlTree> tree;
  YNode doc() const { return tree->documents()[0]; }
  bool Lists(std::string_view part) const {
    for (const auto& l : result.not_expressed) {
      if (l.find(part) != std::string::npos) return true;
    }
    return false;
  }
};

Exported Export(std::string_view spec) {
  MemFileSystem fs(std::map<std::string, std::string>{
      {"/p/pipeline.yaml",
       fmt::format("apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {{name: demo}}\nspec:\n{}",
                   spec)}});
  auto plan = LoadPlan(fs, "/p/pipeline.yaml");
  EXPECT_TRUE(plan) << plan.error().message;
  Exported e;
  auto r = ExportKfp(**plan, ExportOptions{});
  EXPECT_TRUE(r) << r.error().message;
  e.result = std::move(*r);
  auto tree = YamlTree::Parse(e.result.files[0].text);
  EXPECT_TRUE(tree) << tree.error().message << "\n" << e.result.files[0].text;
  e.tree = std::move(*tree);
  return e;
}

TEST(ExportKfp, TasksBecomeComponentsExecutorsAndRootDagTasks) {
  auto e = Export("  params: [{name: url, type: string, default: gs://x}]\n"
                  "  tasks:\n"
                  "    - name: download\n"
                  "      run: [gsutil, cp, \"${{ params.url }}\", out.txt]\n"
                  "      outputs: {params: [{name: downloaded, from: {file: out.txt}}]}\n"
                  "      retry: {limit: 2}\n"
                  "    - name: echo\n"
                  "      run: [echo, \"${{ tasks.download.outputs.params.downloaded }}\"]\n"
                  "      cache: true\n");
  YNode doc = e.doc();
  EXPECT_EQ(doc["schemaVersion"].Scalar(), "2.1.0");
  EXPECT_EQ(doc["pipelineInfo"]["name"].Scalar(), "demo");
  EXPECT_EQ(doc["root"]["inputDefinitions"]["parameters"]["url"]["parameterType"].Scalar(), "STRING");
  YNode tasks = doc["root"]["dag"]["tasks"];
  EXPECT_EQ(tasks["download"]["componentRef"]["name"].Scalar(), "comp-download");
  EXPECT_EQ(tasks["download"]["inputs"]["parameters"]["url"]["componentInputParameter"].Scalar(), "url");
  EXPECT_EQ(tasks["download"]["retryPolicy"]["maxRetryCount"].Scalar(), "2");
  EXPECT_EQ(tasks["echo"]["dependentTasks"].Item(0).Scalar(), "download");
  YNode in = tasks["echo"]["inputs"]["parameters"]["download-downloaded"]["taskOutputParameter"];
  EXPECT_EQ(in["producerTask"].Scalar(), "download");
  EXPECT_EQ(in["outputParameterKey"].Scalar(), "downloaded");
  EXPECT_EQ(tasks["echo"]["cachingOptions"]["enableCache"].Scalar(), "true");
  YNode comp = doc["components"]["comp-download"];
  EXPECT_EQ(comp["executorLabel"].Scalar(), "exec-download");
  EXPECT_EQ(comp["outputDefinitions"]["parameters"]["downloaded"]["parameterType"].Scalar(), "STRING");
  YNode echo = doc["deploymentSpec"]["executors"]["exec-echo"]["container"];
  EXPECT_EQ(echo["command"].Item(0).Scalar(), "echo");
  EXPECT_EQ(echo["args"].Item(0).Scalar(), "{{$.inputs.parameters['download-downloaded']}}");
  YNode download = doc["deploymentSpec"]["executors"]["exec-download"]["container"];
  EXPECT_EQ(download["command"].Item(0).Scalar(), "sh");
  EXPECT_NE(download["command"].Item(2).Scalar().find(
                "cp 'out.txt' \"{{$.outputs.parameters['downloaded'].output_file}}\""),
            std::string::npos);
}

TEST(ExportKfp, ForEachIsAForLoopDagAndFinallyRunsAfterTheExitHandler) {
  auto e = Export("  params: [{name: xs, type: list, default: [a, b]}]\n"
                  "  tasks:\n"
                  "    - name: each\n"
                  "      forEach: \"${{ params.xs }}\"\n"
                  "      parallelism: 2\n"
                  "      run: [echo, \"${{ item }}\"]\n"
                  "    - {name: after, needs: [each], run: [echo, done]}\n"
                  "  finally:\n"
                  "    - {name: notify, run: [echo, bye]}\n");
  YNode doc = e.doc();
  YNode root = doc["root"]["dag"]["tasks"];
  ASSERT_EQ(root.size(), 2u);
  EXPECT_EQ(root["exit-handler-1"]["componentRef"]["name"].Scalar(), "comp-exit-handler-1");
  EXPECT_EQ(root["notify"]["dependentTasks"].Item(0).Scalar(), "exit-handler-1");
  EXPECT_EQ(root["notify"]["triggerPolicy"]["strategy"].Scalar(), "ALL_UPSTREAM_TASKS_COMPLETED");
  YNode handler = doc["components"]["comp-exit-handler-1"];
  EXPECT_EQ(handler["inputDefinitions"]["parameters"]["pipelinechannel--xs"]["parameterType"].Scalar(),
            "LIST");
  YNode loop = handler["dag"]["tasks"]["for-loop-1"];
  EXPECT_EQ(loop["parameterIterator"]["items"]["inputParameter"].Scalar(), "pipelinechannel--xs");
  EXPECT_EQ(loop["parameterIterator"]["itemInput"].Scalar(), "pipelinechannel--xs-loop-item");
  EXPECT_EQ(loop["iteratorPolicy"]["parallelismLimit"].Scalar(), "2");
  EXPECT_EQ(handler["dag"]["tasks"]["after"]["dependentTasks"].Item(0).Scalar(), "for-loop-1");
  YNode inner = doc["components"][loop["componentRef"]["name"].Scalar()]["dag"]["tasks"]["each"];
  EXPECT_EQ(inner["inputs"]["parameters"]["item"]["componentInputParameter"].Scalar(),
            "pipelinechannel--xs-loop-item");
}

TEST(ExportKfp, ConditionsAreCelOverTheTasksInputsAndApprovalsAreListed) {
  auto e = Export("  params: [{name: mode, type: string, default: fast}]\n"
                  "  tasks:\n"
                  "    - name: a\n"
                  "      run: [echo]\n"
                  "      when: \"${{ params.mode == 'slow' }}\"\n"
                  "      approval: {approvers: [bob]}\n");
  YNode a = e.doc()["root"]["dag"]["tasks"]["a"];
  EXPECT_EQ(a["triggerPolicy"]["condition"].Scalar(),
            "inputs.parameter_values['pipelinechannel--when-mode'] == 'slow'");
  EXPECT_EQ(a["inputs"]["parameters"]["pipelinechannel--when-mode"]["componentInputParameter"].Scalar(),
            "mode");
  EXPECT_TRUE(e.Lists("task a: approval"));
}

TEST(ExportKfp, AnOrderingOverAReferenceCastsItToDouble) {
  auto e = Export("  params: [{name: n, type: int, default: 3}]\n"
                  "  tasks:\n"
                  "    - {name: a, run: [echo], when: \"${{ params.n > 2 }}\"}\n");
  EXPECT_EQ(e.doc()["root"]["dag"]["tasks"]["a"]["triggerPolicy"]["condition"].Scalar(),
            "double(inputs.parameter_values['pipelinechannel--when-n']) > 2");
}

}  // namespace export_kfp_test
}  // namespace sluice
