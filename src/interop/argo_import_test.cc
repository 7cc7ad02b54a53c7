// Importing Argo workflows (argo_import.h, argo_tags.h): inline documents in, Sluice text and
// compiled plans out.
#include "interop/argo_import.h"

#include <gtest/gtest.h>

#include "env/fake_env.h"
#include "interop/argo_tags.h"
#include "interop/yaml_text.h"

namespace sluice {
namespace argo_import_test {

std::string Tag(std::string_view text, ArgoScope& scope) {
  auto t = TranslateArgoText(text, scope);
  return t ? *t : "error: " + t.error().message;
}

TEST(ArgoTags, SimpleTagsBecomePlaceholders) {
  std::set<std::string> inputs = {"message", "seq-list"};
  std::map<std::string, std::string> calls = {{"flip-coin", "flip"}, {"gen", "gen-tmpl"}};
  ArgoScope s;
  s.inputs = &inputs;
  s.calls = &calls;
  s.item = true;
  EXPECT_EQ(Tag("echo {{inputs.parameters.message}}!", s), "echo ${{ params.message }}!");
  EXPECT_EQ(Tag("{{ inputs.parameters.seq-list }}", s), "${{ params.seq-list }}");
  EXPECT_EQ(Tag("{{steps.flip-coin.outputs.result}}", s),
            "${{ tasks.flip-coin.outputs.params.result }}");
  EXPECT_EQ(Tag("{{tasks.gen.outputs.parameters.out-param}}", s),
            "${{ tasks.gen.outputs.params.`out-param` }}");
  EXPECT_EQ(Tag("{{item.os-name}} {{item}}", s), "${{ item.`os-name` }} ${{ item }}");
  EXPECT_EQ(Tag("{{workflow.name}} {{pod.name}}", s), "${{ run.id }} ${{ task.name }}");
  EXPECT_EQ(Tag("{{workflow.parameters.repo}}", s), "${{ params.workflow-repo }}");
  EXPECT_EQ(s.globals, (std::set<std::string>{"workflow-repo"}));
  EXPECT_EQ(s.results, (std::set<std::string>{"flip"}));
  // Other braces stay text; a Sluice placeholder is never made from them.
  EXPECT_EQ(Tag("docker inspect {{.State.Running}}", s), "docker inspect {{.State.Running}}");
}

TEST(ArgoTags, WhatCannotBeImportedIsNamed) {
  std::set<std::string> inputs = {"a"};
  ArgoScope s;
  s.inputs = &inputs;
  EXPECT_EQ(Tag("x {{inputs.parameters.b}}", s),
            "error: {{inputs.parameters.b}} is not imported: the template has no input parameter "
            "\"b\" (column 3)");
  EXPECT_EQ(Tag("{{steps.a.outputs.result}}", s),
            "error: {{steps.a.outputs.result}} is not imported: steps.* is only known in a steps "
            "or dag template (column 1)");
  EXPECT_EQ(Tag("{{item}}", s),
            "error: {{item}} is not imported: item is only bound in a step or task with a loop "
            "(column 1)");
  EXPECT_EQ(Tag("x {{= sprig.upper(inputs.parameters.a)}}", s),
            "error: {{= sprig.upper(inputs.parameters.a)}} is not imported: expression: "
            "sprig.upper() is not imported (docs/interop.md lists the functions that are) "
            "(column 7)");
}

std::string When(std::string_view text) {
  std::map<std::string, std::string> calls = {{"flip-coin", "flip"}};
  ArgoScope s;
  s.calls = &calls;
  s.item = true;
  auto w = TranslateArgoWhen(text, s);
  return w ? *w : "error: " + w.error().message;
}

TEST(ArgoTags, WhenIsGovaluateOverSubstitutedText) {
  EXPECT_EQ(When("{{steps.flip-coin.outputs.result}} == heads"),
            "${{ string(tasks.flip-coin.outputs.params.result) == 'heads' }}");
  EXPECT_EQ(When("{{item}} > 5"), "${{ double(item) > 5.0 }}");
  EXPECT_EQ(When("{{item}} =~ '^a.*'"), "${{ string(item).matches('^a.*') }}");
  EXPECT_EQ(When("false"), "${{ false }}");
  EXPECT_EQ(When("{{item}} == 'x' && !({{item}} != y)"),
            "${{ string(item) == 'x' && !((string(item) != 'y')) }}");
  EXPECT_EQ(When("'{{item}}-a' == b-a"), "${{ string(item) + '-a' == 'b-a' }}");
  EXPECT_EQ(When("{{item}} =="), "error: when: a value is missing at the end (column 12)");
}

TEST(YamlText, ScalarsReadBackAsTheSameString) {
  EXPECT_EQ(YamlScalar("hello"), "hello");
  EXPECT_EQ(YamlScalar("true"), "\"true\"");
  EXPECT_EQ(YamlScalar("5"), "\"5\"");
  EXPECT_EQ(YamlScalar("-c"), "\"-c\"");
  EXPECT_EQ(YamlScalar("a: b"), "\"a: b\"");
  EXPECT_EQ(YamlScalar("${{ params.x }}"), "\"${{ params.x }}\"");
  EXPECT_EQ(YamlScalar(""), "\"\"");
  EXPECT_EQ(YamlText("a\nb\n", 4), "|\n      a\n      b");
  EXPECT_EQ(YamlText("a\n\tb", 0), "\"a\\n\\tb\"");
  EXPECT_EQ(YamlText(" lead\nx", 0), "\" lead\\nx\"");
}

constexpr std::string_view kSteps = R"(apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: coinflip-}
spec:
  entrypoint: main
  arguments:
    parameters: [{name: greeting, value: hi}]
  templates:
  - name: main
    steps:
    - - name: flip
        template: flip
    - - name: heads
        template: say
        when: "{{steps.flip.outputs.result}} == heads"
        arguments:
          parameters: [{name: msg, value: "{{steps.flip.outputs.result}}"}]
  - name: flip
    script:
      image: python:alpine
      command: [python]
      source: print("heads")
  - name: say
    inputs:
      parameters: [{name: msg}]
    retryStrategy: {limit: "2", retryPolicy: Always}
    container:
      image: busybox
      command: [sh, -c]
      args: ["echo {{workflow.parameters.greeting}} {{inputs.parameters.msg}} > /tmp/out.txt"]
    outputs:
      parameters:
      - name: said
        valueFrom: {path: /tmp/out.txt}
)";

Result<std::shared_ptr<const Plan>> Load(const std::string& yaml) {
  MemFileSystem fs(std::map<std::string, std::string>{{"/w/wf.yaml", yaml}});
  return LoadPlan(fs, "/w/wf.yaml");
}

TEST(ArgoImport, StepsBecomeADagTemplateThatLoads) {
  auto imported = ImportArgo("/w/wf.yaml", kSteps, {});
  ASSERT_TRUE(imported.has_value()) << imported.error().message;
  const std::string& y = imported->yaml;
  EXPECT_EQ(imported->kind, "Workflow");
  EXPECT_EQ(imported->name, "coinflip");
  // The second group waits for the first; when becomes a CEL condition.
  EXPECT_NE(y.find("      uses: say@1.0.0\n      depends: flip\n"
                   "      when: \"${{ string(tasks.flip.outputs.params.result) == 'heads' }}\"\n"),
            std::string::npos) << y;
  // A script runs its source through its interpreter's -c; python is python3 here.
  EXPECT_NE(y.find("  run:\n    - python3\n    - \"-c\"\n    - \"print(\\\"heads\\\")\"\n"),
            std::string::npos) << y;
  EXPECT_NE(y.find("{name: result, from: {stdout: text}}"), std::string::npos) << y;
  // The workflow parameter reaches `say` through main.
  EXPECT_NE(y.find("workflow-greeting: \"${{ params.greeting }}\""), std::string::npos) << y;
  EXPECT_NE(y.find("workflow-greeting: \"${{ params.workflow-greeting }}\""), std::string::npos) << y;
  // An absolute output path is the step's own, in its sandbox.
  EXPECT_NE(y.find("privatePaths: [/tmp]"), std::string::npos) << y;
  EXPECT_NE(y.find("{name: said, from: {file: root/tmp/out.txt}}"), std::string::npos) << y;
  EXPECT_NE(y.find("argoSubstitution: true"), std::string::npos) << y;
  EXPECT_NE(y.find("retry: {limit: 2, backoff: {initial: 100ms, factor: 1}}"), std::string::npos) << y;
  auto plan = Load(y);
  ASSERT_TRUE(plan.has_value()) << plan.error().message << "\n" << y;
  EXPECT_EQ((*plan)->pipeline->name, "coinflip");
  ASSERT_NE((*plan)->Find("main"), nullptr);
}

TEST(ArgoImport, AFieldNotTranslatedYetIsALocatedError) {
  std::string wf(kSteps);
  wf.replace(wf.find("    retryStrategy:"), 0, "    failFast: true\n");
  auto imported = ImportArgo("/w/wf.yaml", wf, {});
  ASSERT_FALSE(imported.has_value());
  EXPECT_EQ(imported.error().message,
            "/w/wf.yaml:26:5: failFast is not imported yet: the importer does not translate this "
            "field of an Argo Template (docs/interop.md)");
}

// parallelism, globalName and a suspend without a duration (argo_import_resolve.cc).
TEST(ArgoImport, ParallelismGlobalOutputsAndApprovals) {
  constexpr std::string_view kWf = R"(apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: w}
spec:
  entrypoint: main
  parallelism: 3
  templates:
  - name: main
    parallelism: 2
    steps:
    - - {name: a, template: make}
      - {name: b, template: say, withItems: [1, 2, 3]}
    - - {name: ok, template: ok}
    - - {name: c, template: say}
  - name: ok
    suspend: {}
  - name: make
    container: {image: busybox, command: [sh, -c, "echo 1 > /tmp/v"]}
    outputs: {parameters: [{name: v, globalName: g, valueFrom: {path: /tmp/v}}]}
  - name: say
    container: {image: busybox, command: [echo, "{{workflow.outputs.parameters.g}}"]}
)";
  ArgoImportOptions o;
  o.approvers = {"bob", "group:ops"};
  auto imported = ImportArgo("/w/wf.yaml", kWf, o);
  ASSERT_TRUE(imported.has_value()) << imported.error().message;
  const std::string& y = imported->yaml;
  for (std::string_view want : {
           "pools: {argo-parallelism: 3, argo-parallelism-main: 2}",
           "resources: {argo-parallelism: 1, argo-parallelism-main: 1}",  // a and b: one group
           "forEach: [1,2,3]\n      parallelism: 2\n",
           "approval: {approvers: [bob, \"group:ops\"], forbidSelfApproval: false}",
           "argo-output-g: \"${{ has(tasks.a.outputs.params.v) ? tasks.a.outputs.params.v : "
           "(params.argo-output-g) }}\"",  // c runs after a
           "- {name: argo-output-g, value: \"${{ has(tasks.a.outputs.params.v) ? "
           "tasks.a.outputs.params.v : ('') }}\"}",
       }) {
    EXPECT_NE(y.find(want), std::string::npos) << want << "\n" << y;
  }
  // b runs beside a: it reads the value from its caller, not from a.
  EXPECT_EQ(y.find("has(tasks.a.outputs.params.v) ? tasks.a.outputs.params.v : (params.argo-output-g) }}\"\n"
                   "    - name: ok"), std::string::npos) << y;
  // What is written loads.
  MemFileSystem fs(std::map<std::string, std::string>{{"/w/out.yaml", y}});
  EXPECT_TRUE(LoadPlan(fs, "/w/out.yaml").has_value());
  // Without approvers, a suspend without a duration names what is missing.
  auto none = ImportArgo("/w/wf.yaml", kWf, {});
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().message, "/w/wf.yaml:16:14: suspend without a duration waits until someone "
            "resumes the workflow, an approval here: give --approvers NAME,... (users, group:NAME)");
}

TEST(ArgoImport, TemplateRefReadsTheTemplatesFiles) {
  constexpr std::string_view kLib = R"(apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: lib}
spec:
  templates:
  - name: echo
    inputs: {parameters: [{name: m}]}
    container: {image: busybox, command: [echo, "{{inputs.parameters.m}}"]}
  - name: twice
    steps:
    - - {name: a, template: echo, arguments: {parameters: [{name: m, value: a}]}}
)";
  constexpr std::string_view kWf = R"(apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: uses-lib}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: one, templateRef: {name: lib, template: twice}}
      - {name: two, depends: one, templateRef: {name: lib, template: echo},
         arguments: {parameters: [{name: m, value: b}]}}
)";
  auto missing = ImportArgo("/w/wf.yaml", kWf, {});
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().message,
            "/w/wf.yaml:10:41: WorkflowTemplate \"lib\" is in no file given with --templates");
  auto imported = ImportArgo("/w/wf.yaml", kWf, {}, {{"/w/lib.yaml", std::string(kLib)}});
  ASSERT_TRUE(imported.has_value()) << imported.error().message;
  EXPECT_NE(imported->yaml.find("uses: lib.twice@1.0.0"), std::string::npos) << imported->yaml;
  EXPECT_NE(imported->yaml.find("uses: lib.echo@1.0.0"), std::string::npos) << imported->yaml;
  auto plan = Load(imported->yaml);
  ASSERT_TRUE(plan.has_value()) << plan.error().message << "\n" << imported->yaml;
}

TEST(ArgoImport, DagTargetRunsOnlyTheTargetsAndWhatTheyNeed) {
  std::string wf = R"(apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: targets}
spec:
  entrypoint: main
  arguments: {parameters: [{name: target, value: B}]}
  templates:
  - name: main
    dag:
      target: TARGET
      tasks:
      - {name: A, template: echo}
      - {name: B, depends: A, template: echo}
      - {name: C, depends: A, template: echo}
  - name: echo
    container: {image: busybox, command: [echo, hi]}
)";
  std::string fixed = wf;
  fixed.replace(fixed.find("TARGET"), 6, "B");
  auto imported = ImportArgo("/w/wf.yaml", fixed, {});
  ASSERT_TRUE(imported.has_value()) << imported.error().message;
  EXPECT_NE(imported->yaml.find("- name: B"), std::string::npos) << imported->yaml;
  EXPECT_EQ(imported->yaml.find("- name: C"), std::string::npos) << imported->yaml;
  std::string tagged = wf;
  tagged.replace(tagged.find("TARGET"), 6, "\"{{workflow.parameters.target}}\"");
  imported = ImportArgo("/w/wf.yaml", tagged, {});
  ASSERT_TRUE(imported.has_value()) << imported.error().message;
  EXPECT_NE(imported->yaml.find("when: \"${{ [' C '].exists(n, (' ' + "
                                "string(params.workflow-target) + ' ').contains(n)) }}\""),
            std::string::npos) << imported->yaml;
  ASSERT_TRUE(Load(imported->yaml).has_value()) << imported->yaml;
  std::string wrong = wf;
  wrong.replace(wrong.find("TARGET"), 6, "Z");
  imported = ImportArgo("/w/wf.yaml", wrong, {});
  ASSERT_FALSE(imported.has_value());
  EXPECT_EQ(imported.error().message, "/w/wf.yaml:10:15: target \"Z\" is not a task of this dag");
}

}  // namespace argo_import_test
}  // namespace sluice
