// The Argo export's leaf templates (export_argo.cc has the DAGs): one task's container or
// script template with its inputs, outputs, retryStrategy and limits, and, for a task with an
// approval or gate, the suspend and policy-check steps a steps template runs before it.
#pragma once

#include <string>
#include <vector>

#include "interop/export.h"
#include "interop/export_common.h"

namespace sluice {

// Where an exported task starts (its relative output paths are below it) and where its input
// artifacts are placed.
inline constexpr char kArgoWorkDir[] = "/tmp/sluice";
inline constexpr char kArgoInputsDir[] = "/tmp/sluice-inputs";

std::string ValueText(const Value& v);  // strings as they are, anything else as JSON
std::string Seconds(int64_t ms);        // whole seconds, rounded up, as Argo's IntOrString
std::string ArgoDuration(int64_t ms);   // "90s", "1500ms"

// Writes the templates of one leaf task. Not thread-safe; one per task.
class ArgoLeaf {
 public:
  // `io` may gain inputs (what a gate reads), which the caller passes as the DAG task's
  // arguments like the others.
  ArgoLeaf(const Plan& plan, const ExportOptions& options, const PlanTask& t, TaskIo& io,
           NotExpressed& missing)
      : plan_(plan), options_(options), t_(t), io_(io), missing_(missing) {}

  // Outputs get globalName "<global_prefix>-<output>", so that the onExit dag reads them.
  bool global_outputs = false;
  std::string global_prefix;

  // The task's templates; the first is named `name` and is the one its DAG task calls.
  // Helper templates take their names from `names`.
  std::vector<YamlNode> Templates(const std::string& name, NameTable& names);

 private:
  YamlNode Body(const std::string& name);
  YamlNode Container();
  YamlNode Script();
  void Outputs(YamlNode& tmpl);
  void Limits(YamlNode& tmpl);
  YamlNode Resources();
  YamlNode Env();
  YamlNode Approval(const std::string& name);
  YamlNode Gate(const std::string& name);
  YamlNode Wrapper(const std::string& name, const std::string& approval, const std::string& gate,
                   const std::string& body, size_t body_inputs);
  std::string Spell(const Text& text) const;

  const Plan& plan_;
  const ExportOptions& options_;
  const PlanTask& t_;
  TaskIo& io_;
  NotExpressed& missing_;
};

}  // namespace sluice
