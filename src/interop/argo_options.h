// How an Argo file is imported (`sluice run|validate|import argo` options; docs/interop.md).
// Apart from argo_import.h so that the CLI's option structs need not include the plan.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace sluice {

struct ArgoImportOptions {
  // --image-map IMAGE=PROGRAM: what runs for a container of IMAGE that gives no command (its
  // image's entrypoint), e.g. argoproj/argosay:v2=/opt/argosay. The image is matched exactly,
  // then without its tag.
  std::vector<std::pair<std::string, std::string>> image_map;
  // --lenient: fields that are safe to drop are dropped with a warning instead of an error.
  bool lenient = false;
  // --templates PATH (repeatable): files or folders of WorkflowTemplates and
  // ClusterWorkflowTemplates that templateRef and workflowTemplateRef name.
  std::vector<std::string> templates;
  // --approvers NAME,... (user names and group:NAME): who may resume a `suspend` without a
  // duration, which is an approval here. Empty: `default_approver` alone.
  std::vector<std::string> approvers;
  // Who acts (the CLI sets it: the submitter of `run`, the one who imports): Argo lets whoever
  // submitted a workflow resume it. Empty with no --approvers: such a suspend is an error.
  std::string default_approver;
};

}  // namespace sluice
