// Checking Argo files (argo_document.h): inline documents in, located lines out.
#include "interop/argo_document.h"

#include <gtest/gtest.h>

namespace sluice {
namespace argo_document_test {

std::vector<std::string> Lines(std::string_view yaml, bool lenient = false) {
  auto c = CheckArgoFile("wf.yaml", yaml, lenient);
  EXPECT_TRUE(c.has_value()) << c.error().message;
  std::vector<std::string> out;
  if (c) {
    for (const ArgoProblem& p : c->problems) out.push_back(p.line);
  }
  return out;
}

constexpr std::string_view kHello = R"(apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: steps-
  labels: {workflows.argoproj.io/test: "true"}
spec:
  entrypoint: main
  serviceAccountName: argo
  podGC: {strategy: OnPodCompletion}
  arguments:
    parameters: [{name: message, value: hi}]
  templates:
  - name: main
    steps:
    - - name: a
        template: say
        arguments: {parameters: [{name: m, value: "{{workflow.parameters.message}}"}]}
    - - name: b
        template: dag
        when: "{{steps.a.outputs.result}} == hi"
  - name: dag
    dag:
      tasks:
      - {name: x, template: say, arguments: {parameters: [{name: m, value: x}]}}
      - {name: y, template: say, depends: "x.Succeeded", withItems: [1, 2]}
  - name: say
    inputs: {parameters: [{name: m}]}
    nodeSelector: {disk: ssd}
    retryStrategy: {limit: 2, backoff: {duration: 1s, factor: 2}}
    container:
      image: busybox
      imagePullPolicy: IfNotPresent
      command: [echo, "{{inputs.parameters.m}}"]
      resources: {limits: {memory: 32Mi}}
)";

TEST(ArgoDocument, MappedAndInertFieldsValidateAndAreCounted) {
  auto c = CheckArgoFile("wf.yaml", kHello, false);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->errors(), 0);
  EXPECT_TRUE(c->problems.empty()) << c->problems[0].line;
  ASSERT_EQ(c->documents.size(), 1u);
  EXPECT_EQ(c->documents[0].kind, "Workflow");
  EXPECT_EQ(c->documents[0].name, "steps-");
  EXPECT_EQ(c->documents[0].templates, 3);
}

TEST(ArgoDocument, UnsupportedFieldIsOneLocatedLineWithItsReason) {
  EXPECT_EQ(Lines(R"(apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: w}
spec:
  entrypoint: main
  volumes: [{name: work, emptyDir: {}}]
  templates:
  - name: main
    container:
      image: alpine
      volumeMounts: [{name: work, mountPath: /work}]
    sidecars: [{name: db, image: postgres}]
)"),
            (std::vector<std::string>{
                "wf.yaml:6:3: volumes is not supported here: volumes need a cluster; steps would "
                "not share their files",
                "wf.yaml:11:7: volumeMounts is not supported here: volumes need a cluster; steps "
                "would not share their files",
                "wf.yaml:12:5: sidecars is not supported here: sidecars run beside the step inside "
                "its pod"}));
}

constexpr std::string_view kPatched = R"(apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: w}
spec:
  entrypoint: main
  templates:
  - name: main
    hostAliases: [{ip: 127.0.0.1, hostnames: [db]}]
    script: {image: python:alpine, command: [python], source: print(1)}
)";

TEST(ArgoDocument, DroppableFieldIsAnErrorUnlessLenientMakesItAWarning) {
  EXPECT_EQ(Lines(kPatched), (std::vector<std::string>{
                                 "wf.yaml:8:5: hostAliases is not supported here: extra "
                                 "/etc/hosts entries of the pod (--lenient drops it)"}));
  auto c = CheckArgoFile("wf.yaml", kPatched, true);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->errors(), 0);
  ASSERT_EQ(c->problems.size(), 1u);
  EXPECT_EQ(c->problems[0].line,
            "wf.yaml:8:5: warning: hostAliases is not supported here, dropped (--lenient): extra "
            "/etc/hosts entries of the pod");
}

TEST(ArgoDocument, LenientNeverDropsAFieldThatChangesWhatRuns) {
  auto c = CheckArgoFile("wf.yaml", R"(apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: w}
spec:
  entrypoint: main
  templates:
  - {name: main, daemon: true, container: {image: nginx}}
)",
                         true);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->errors(), 1);
}

TEST(ArgoDocument, UnknownFieldIsAnErrorWithTheSchemaNameItResembles) {
  EXPECT_EQ(Lines(R"(apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: w}
spec:
  entrypont: main
  templates: [{name: main, container: {image: alpine, comand: [true]}}]
)"),
            (std::vector<std::string>{
                "wf.yaml:5:3: unknown field \"entrypont\" in an Argo WorkflowSpec (did you mean "
                "\"entrypoint\"?)",
                "wf.yaml:6:55: unknown field \"comand\" in an Argo Container (did you mean "
                "\"command\"?)"}));
}

TEST(ArgoDocument, ReferencesToTemplatesTheDocumentLacksAreNamed) {
  EXPECT_EQ(Lines(R"(apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: w}
spec:
  entrypoint: mian
  templates:
  - name: main
    dag:
      tasks: [{name: a, template: sya}]
  - name: say
    suspend: {}
  - name: idle
)"),
            (std::vector<std::string>{
                "wf.yaml:12:11: template \"idle\" does nothing: give it one of container, script, "
                "steps, dag or suspend",
                "wf.yaml:5:15: entrypoint names template \"mian\", which this document does not "
                "define (did you mean \"main\"?)",
                "wf.yaml:9:35: task names template \"sya\", which this document does not define "
                "(did you mean \"say\"?)"}));
}

TEST(ArgoDocument, AWorkflowNeedsAnEntrypoint) {
  EXPECT_EQ(Lines(R"(apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: w}
spec:
  templates: [{name: main, suspend: {}}]
)"),
            (std::vector<std::string>{"wf.yaml:4:1: a Workflow needs spec.entrypoint, the template "
                                      "it starts with"}));
}

TEST(ArgoDocument, AStepOrTaskMustCallSomething) {
  EXPECT_EQ(Lines(R"(apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: w}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: a, arguments: {parameters: [{name: x, value: "1"}]}}
)"),
            (std::vector<std::string>{"wf.yaml:9:16: step \"a\" runs nothing: give it template, "
                                      "templateRef or inline"}));
}

TEST(ArgoDocument, AWorkflowTemplateRefLeavesNamesToTheReferencedTemplate) {
  EXPECT_TRUE(Lines(R"(apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: ref-}
spec:
  entrypoint: whalesay-template
  workflowTemplateRef: {name: workflow-template-submittable}
)")
                  .empty());
}

TEST(ArgoDocument, ATemplateDoesOneThing) {
  EXPECT_EQ(Lines(R"(apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: t}
spec:
  templates:
  - name: both
    container: {image: alpine}
    script: {image: alpine, source: "true"}
)"),
            (std::vector<std::string>{"wf.yaml:8:5: template \"both\" has both container and "
                                      "script: a template does one thing"}));
}

TEST(ArgoDocument, ShapesThatDoNotFitTheSchemaAreNamed) {
  EXPECT_EQ(Lines(R"(apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: w}
spec:
  templates: main
)"),
            (std::vector<std::string>{"wf.yaml:5:14: templates must be a list, not a scalar"}));
}

TEST(ArgoDocument, CronWorkflowsAreReadThroughTheirWorkflowSpec) {
  auto c = CheckArgoFile("wf.yaml", R"(apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata: {name: hello-cron}
spec:
  schedules: ["* * * * *"]
  concurrencyPolicy: Replace
  successfulJobsHistoryLimit: 4
  workflowSpec:
    entrypoint: main
    templates: [{name: main, container: {image: alpine, hostNetwork: true}}]
)",
                         false);
  ASSERT_TRUE(c);
  ASSERT_EQ(c->documents.size(), 1u);
  EXPECT_EQ(c->documents[0].kind, "CronWorkflow");
  EXPECT_EQ(c->documents[0].templates, 1);
  ASSERT_EQ(c->problems.size(), 1u);  // hostNetwork belongs to the spec, not the container
  EXPECT_EQ(c->problems[0].line,
            "wf.yaml:10:57: unknown field \"hostNetwork\" in an Argo Container");
}

TEST(ArgoDocument, KindsSluiceDoesNotReadAreNamed) {
  EXPECT_EQ(Lines(R"(apiVersion: argoproj.io/v1alpha1
kind: WorkflowEventBinding
metadata: {name: e}
---
apiVersion: v1
kind: ConfigMap
)"),
            (std::vector<std::string>{
                "wf.yaml:2:7: kind WorkflowEventBinding is not supported here: event bindings "
                "start workflows from Argo's event API",
                "wf.yaml:5:13: apiVersion \"v1\" is not supported here: an Argo file holds "
                "argoproj.io/v1alpha1 documents only"}));
}

TEST(ArgoDocument, BrokenYamlIsOneLocatedError) {
  auto c = CheckArgoFile("wf.yaml", "apiVersion: argoproj.io/v1alpha1\nkind: [Workflow\n", false);
  ASSERT_FALSE(c);
  EXPECT_TRUE(c.error().message.starts_with("wf.yaml:")) << c.error().message;
}

TEST(ArgoDocument, LooksLikeArgoPeeksAtTheFirstDocumentsApiVersion) {
  EXPECT_TRUE(LooksLikeArgo("# comment\n---\napiVersion: argoproj.io/v1alpha1\nkind: Workflow\n"));
  EXPECT_TRUE(LooksLikeArgo("kind: Workflow\napiVersion: \"argoproj.io/v1alpha1\"\n"));
  EXPECT_FALSE(
      LooksLikeArgo("apiVersion: sluice/v1\nkind: Pipeline\n---\n"
                    "apiVersion: argoproj.io/v1alpha1\n"));
  EXPECT_FALSE(LooksLikeArgo("spec:\n  apiVersion: argoproj.io/v1alpha1\n"));
}

}  // namespace argo_document_test
}  // namespace sluice
