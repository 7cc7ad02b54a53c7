// Importing Argo Workflows (issue 16, docs/interop.md): an Argo file becomes one Sluice file, a
// Pipeline and a Component per template, which the normal loader then reads. `sluice run` and
// `validate` on an Argo file, and `sluice import argo`, share this one translation, so that
// what runs is what `import` shows.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "env/env.h"
#include "interop/argo_options.h"
#include "spec/plan.h"

namespace sluice {

// A CronWorkflow's schedule, as a Sluice Schedule reads it (docs/schedules.md).
struct ArgoCron {
  std::vector<std::string> crons;  // spec.schedules: one Schedule each
  std::string time_zone;           // "" = UTC
  std::string concurrency;         // Allow, Forbid, Replace; "" = Allow
  std::string starting_deadline;   // a duration; "" = none
  bool suspend = false;
  std::vector<std::string> comments;
};

struct ArgoImport {
  std::string kind;                   // of the document imported: Workflow, ...
  std::string name;                   // its name (metadata.name or generateName)
  std::string yaml;                   // the Sluice file: a Pipeline, then its Components
  std::vector<std::string> warnings;  // located lines ("FILE:LINE:COL: warning: ...")
  std::optional<ArgoCron> cron;       // a CronWorkflow's schedule (its workflow runs once here)
};

// The Schedule file of an imported CronWorkflow: one Schedule per cron expression, named NAME,
// NAME-2, …, starting the pipeline at `pipeline` (relative to the Schedule file).
std::string EmitArgoSchedules(const ArgoImport& imported, std::string_view pipeline);

// Translates the Argo file `path` (its text `content`). On failure every error, one located
// line each, joined by newlines.
// `templates` are the files (path, text) of --templates, whose WorkflowTemplates and
// ClusterWorkflowTemplates templateRef and workflowTemplateRef may name.
Result<ArgoImport> ImportArgo(const std::string& path, std::string_view content,
                              const ArgoImportOptions& options,
                              const std::vector<std::pair<std::string, std::string>>& templates = {});

// ImportArgo on the file `path` (its text `content`), with the --templates files of `options`
// read through `fs`.
Result<ArgoImport> ImportArgoFile(FileSystem& fs, const std::string& path,
                                  std::string_view content, const ArgoImportOptions& options);

// Loads `path` as `LoadPlan` does, translating it first when it is an Argo file; the plan's
// source is then the translated text (so a resumed run reloads exactly that). When it was an
// Argo file and `imported` is given, the translation is left there (its warnings included); a
// Sluice file leaves it untouched.
Result<std::shared_ptr<const Plan>> LoadPipelineFile(FileSystem& fs, const std::string& path,
                                                     const ArgoImportOptions& options,
                                                     ArgoImport* imported = nullptr);

}  // namespace sluice
