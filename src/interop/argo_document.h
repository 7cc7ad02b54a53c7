// Reading Argo Workflows files (issue 16, docs/interop.md): documents of apiVersion
// argoproj.io/v1alpha1 and kind Workflow, WorkflowTemplate, ClusterWorkflowTemplate or
// CronWorkflow, checked field by field against the Argo field table (argo_fields.h) before
// anything is translated. Every problem is one line, FILE:LINE:COL first, naming the field.
// Pure functions over the file's text; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace sluice {

// One problem: a located line ("FILE:LINE:COL: volumes is not supported here: ..."). A warning
// (a droppable field under --lenient) starts "FILE:LINE:COL: warning: ".
struct ArgoProblem {
  std::string line;
  bool error = true;
};

// One Argo document of the file as read.
struct ArgoDocument {
  std::string kind;  // Workflow, WorkflowTemplate, ClusterWorkflowTemplate or CronWorkflow
  std::string name;  // metadata.name, or metadata.generateName (ending "-") when only that is set
  int templates = 0;
};

// What checking a file found: its documents (those of a kind Sluice reads) and its problems in
// file order.
struct ArgoCheck {
  std::vector<ArgoDocument> documents;
  std::vector<ArgoProblem> problems;
  int errors() const;
};

// True when the file's first document declares apiVersion argoproj.io/... at its top level.
// A textual peek, so that a Sluice pipeline is not parsed twice to tell them apart.
bool LooksLikeArgo(std::string_view content);

// Checks every document of `content` (the text of `path`). On success the documents and every
// problem, located; with `lenient`, droppable fields are warnings instead of errors. On
// failure (not UTF-8 text, too deeply nested, not YAML) the one located error.
Result<ArgoCheck> CheckArgoFile(const std::string& path, std::string_view content, bool lenient);

}  // namespace sluice
