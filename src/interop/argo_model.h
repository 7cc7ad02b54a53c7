// The importer's picture of an Argo workflow between reading it (argo_import.cc) and writing
// the Sluice file (argo_emit.cc): texts already translated into Sluice's forms. Internal to
// src/interop.
#pragma once

#include <map>
#include <optional>

#include "common/error.h"
#include <set>
#include <string>
#include <vector>

namespace sluice {

struct ImportedParam {
  std::string name;
  std::optional<std::string> value;  // the default; none: required
  // A default Argo computes from a tag: the Sluice text each call that does not give the param
  // passes instead (its placeholders read the workflow values the caller has).
  std::string computed;
  std::string comment;
};

// A step of a steps template or a task of a dag template: a call of a template.
struct ImportedCall {
  std::string name;
  std::string tmpl;  // the component it uses
  std::vector<std::pair<std::string, std::string>> with;  // Sluice template texts
  std::string depends;   // Argo's depends text (dependencies joined by &&; a steps group's)
  std::string when;      // a Sluice condition, "${{ … }}"
  std::string for_each;  // YAML text of forEach (a flow list, or a quoted placeholder)
  int parallelism = 0;
  bool continue_on_failure = false;
  // Run pools it holds one unit of besides its component's (a template's `parallelism`).
  std::vector<std::string> pools;
  Location at;  // where the step or task is written
  std::vector<std::string> comments;
};

struct ImportedOutput {
  std::string name;
  bool artifact = false;
  std::string file;    // container/script: the path it is read from
  std::optional<std::string> default_value;  // valueFrom.default
  bool stdout_text = false;
  std::string value;   // steps/dag: a placeholder over its tasks
};

struct ImportedTemplate {
  std::string name;
  std::vector<ImportedParam> params;  // its inputs, then the workflow values it needs
  std::set<std::string> inputs;
  std::set<std::string> globals;      // direct, then (after Close) through its calls too
  std::string image;
  // container/script: the argv (Sluice template texts), and whether a placeholder sits in code
  // a shell or interpreter runs (Argo's substitution).
  std::vector<std::string> run;
  bool substitutes_code = false;
  std::vector<std::string> private_paths;  // absolute folders it reads or writes (privatePaths)
  // inputs.artifacts: name and the absolute path the step reads it at.
  std::vector<std::pair<std::string, std::string>> input_artifacts;
  std::vector<std::pair<std::string, std::string>> env;
  // steps/dag
  bool dag = false;
  std::vector<ImportedCall> calls;
  std::vector<ImportedOutput> outputs;
  bool result = false;  // declares the `result` output (stdout)
  std::string retry;    // YAML flow text, "" = none
  std::string timeout;  // a duration, "" = none
  std::string cache;    // YAML flow text of `cache:` (from memoize), "" = none
  // Pools it holds one unit of: central pools and mutexes (synchronization), the run's
  // argo-parallelism (spec.parallelism).
  std::vector<std::string> pools;
  bool pod = false;       // a container or script: what Argo runs as a pod (parallelism counts it)
  bool approval = false;  // a suspend without a duration: its callers wait for an approval
  // steps/dag: `parallelism` (0: none); the calls that run at once in some group, which hold
  // the run pool argo-parallelism-NAME (the others get forEach parallelism).
  int parallelism = 0;
  Location parallelism_at;
  std::set<std::string> grouped;  // names of those calls
  // globalName: each global output it gives (Argo's workflow.outputs.parameters.X), X -> the
  // name of its output that gives it; steps/dag: "argo-output-X" when a call gives it.
  std::map<std::string, std::string> exports;
  std::vector<std::string> comments;
};

// A workflow-level lifecycle hook with an expression: a task beside the entrypoint's (it holds
// while the workflow runs) or an exit handler with a condition (over its final status).
struct ImportedHook {
  std::string name;  // the task: hooks.NAME
  std::string tmpl;
  std::string when;  // "" at the start; else a Sluice condition "${{ … }}"
  std::string comment;
};

struct ImportedWorkflow {
  std::string file;  // the Argo file
  std::string kind;
  std::string name;
  std::map<std::string, std::string> labels;
  std::vector<ImportedParam> params;  // arguments.parameters
  std::string entrypoint;
  std::string on_exit;
  Location on_exit_at;  // where the workflow names it
  std::vector<ImportedHook> hooks;
  std::string deadline;
  std::map<std::string, int> pools;     // the run's pools (spec.pools): parallelism
  // Central pools the whole run holds one unit of (spec.resources): synchronization.
  std::vector<std::string> run_pools;
  std::vector<std::string> approvers;   // of the approvals suspend templates become
  std::vector<std::string> comments;
  std::vector<ImportedTemplate> templates;
};

// The Sluice file for `w`.
std::string EmitSluice(const ImportedWorkflow& w);

}  // namespace sluice
