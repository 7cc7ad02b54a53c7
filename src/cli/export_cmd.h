// `sluice export --to argo|kfp|airflow|prefect PIPELINE [-o DIR]` (issue 16,
// docs/interop.md): a pipeline written in another tool's format.
#pragma once

#include <string>

#include "cli/commands.h"
#include "env/env.h"

namespace sluice {

struct ExportRequest {
  std::string target;  // argo, kfp, airflow or prefect
  std::string file;    // the pipeline
  std::string dir;     // -o: where the files go; "" = the main file to standard output
  std::string image;   // --image: the image of tasks that set none ("" = the exporter's default)
  std::string artifact_repository;  // --artifact-repo
  bool workflow_template = false;   // --workflow-template (argo)
};

// Loads and compiles the pipeline, exports it and prints or writes the files; what the target
// cannot express is printed to standard error as warnings. Returns 0, or 2 (the loader's
// located error, an unknown or unbuilt target), or the write's error code; with -o no file is
// left half-written.
int CmdExport(Env& env, const GlobalOptions& g, const ExportRequest& req);

}  // namespace sluice
