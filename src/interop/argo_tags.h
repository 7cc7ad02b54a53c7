// Argo's `{{…}}` tags in the text of an imported document, translated into Sluice's `${{ }}`
// placeholders (docs/interop.md, "Variables"), and Argo's `when` conditions (govaluate over the
// substituted text) into CEL conditions. Pure; thread-safe.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace sluice {

// What the tags of one template may name, and what they were found to read.
struct ArgoScope {
  // The template's input parameters (their names).
  const std::set<std::string>* inputs = nullptr;
  // steps and dag templates: their steps or tasks, by name, with the template each calls.
  // Null in a container or script template.
  const std::map<std::string, std::string>* calls = nullptr;
  bool item = false;  // {{item}} is bound (a step or task with a loop)
  bool retry = false;  // lastRetry.* is bound (retryStrategy.expression)
  // The output parameters each component declares, by component name (the calls' values).
  const std::map<std::string, std::vector<std::string>>* outputs = nullptr;
  // Out: the workflow-wide values the text reads, as the param names that carry them into a
  // component (ArgoGlobalParam).
  std::set<std::string> globals;
  // Out: the templates whose outputs.result is read (they declare a `result` output).
  std::set<std::string> results;
};

// `.name` as CEL member access, or `.`name`` when the name is not a CEL identifier (outputs
// such as hello-art).
std::string ArgoCelMember(std::string_view name);
// `s` as a single-quoted CEL string literal.
std::string ArgoCelString(std::string_view s);

// The component param that carries a workflow-wide value into a template: "workflow-NAME" for
// workflow.parameters.NAME, "argo-output-NAME" for workflow.outputs.parameters.NAME (a
// globalName), "argo-workflow-status" for workflow.status (and -failures, -duration).
std::string ArgoGlobalParam(std::string_view tag);
// The component param that carries input artifact NAME's stored path: "artifact-NAME".
inline std::string ArgoArtifactParam(std::string_view name) {
  return "artifact-" + std::string(name);
}
// The expression that gives that value at the pipeline's level; `exit_handler` for a task of
// spec.onExit, which runs when the rest is over (workflow.status is then known).
std::string ArgoGlobalValue(std::string_view param, bool exit_handler);

// `text` with every Argo tag replaced by a `${{ }}` placeholder. A tag that is not valid where
// it is written is an error naming it; `column` of the message is the tag's offset + 1.
Result<std::string> TranslateArgoText(std::string_view text, ArgoScope& scope);
// One tag's content (inside the braces, trimmed) as a CEL expression.
Result<std::string> ArgoTagExpr(std::string_view tag, ArgoScope& scope);
// Argo's `when` (tags substituted, then read by govaluate, where bare words are strings and
// numbers compare as numbers) as a Sluice condition "${{ … }}".
Result<std::string> TranslateArgoWhen(std::string_view when, ArgoScope& scope);

}  // namespace sluice
