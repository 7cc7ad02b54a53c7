// Writing a Sluice pipeline in another tool's format (issue 16, docs/interop.md):
// `sluice export --to argo|kfp|airflow|prefect pipeline.yaml [-o DIR]`.
//
// Every exporter reads the compiled Plan (components resolved, defaults applied, dependencies
// known) and returns the files to write. An export never drops a feature silently: what the
// target cannot express (circuit breakers, compensation, policies, waivers, ...) is either
// rendered as an explicit step or listed, one line each, in `not_expressed`, which the
// exporter also writes as a header comment of its main file.
// Pure functions of the plan and the options; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "spec/plan.h"

namespace sluice {

struct ExportOptions {
  // The container image of a task that sets none (`image:` on the task or its component).
  std::string default_image = "python:3.12-slim";
  // argo: the artifact repository's key prefix for outputs that are artifacts ("" = the
  // cluster's default repository).
  std::string artifact_repository;
  // argo: a WorkflowTemplate instead of a Workflow.
  bool workflow_template = false;
  // The image of the steps that evaluate gate policies (`sluice policy eval`): it must hold
  // sluice and the pipeline's folder at /sluice/pipeline.
  std::string sluice_image = "sluice:latest";
};

// One file of the export: its name relative to the output folder, and its whole text.
struct ExportedFile {
  std::string name;
  std::string text;
};

struct ExportResult {
  std::vector<ExportedFile> files;
  // What the target cannot express and the export left out or approximated: one line each,
  // naming the task (or the pipeline) and the feature.
  std::vector<std::string> not_expressed;
};

Result<ExportResult> ExportArgo(const Plan& plan, const ExportOptions& options);
Result<ExportResult> ExportKfp(const Plan& plan, const ExportOptions& options);
Result<ExportResult> ExportAirflow(const Plan& plan, const ExportOptions& options);
Result<ExportResult> ExportPrefect(const Plan& plan, const ExportOptions& options);

}  // namespace sluice
