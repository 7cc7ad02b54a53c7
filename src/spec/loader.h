// Reading `sluice/v1` files: YAML documents into the model of model.h, with every error
// located at FILE:LINE:COL. Parses with libyaml (yaml_tree.cc), which no other module sees.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "env/env.h"
#include "spec/model.h"

namespace sluice {

struct SpecFile {
  std::string path;  // absolute
  std::vector<PipelineSpec> pipelines;
  std::vector<ComponentSpec> components;
  std::vector<BreakerSpec> breakers;  // kind: Breaker documents
  std::vector<PolicySpec> policies;   // kind: Policy documents
  std::vector<WaiverSpec> waivers;    // kind: Waiver documents
};

// Parses `content` (the text of `path`) into pipelines and components. Rejects binary or
// non-UTF-8 text, YAML syntax errors, absurd nesting, unknown keys (with a "did you mean"),
// missing required fields, wrong types and duplicate keys. On failure returns the first error.
Result<SpecFile> ParseSpecFile(const std::string& path, std::string_view content);

}  // namespace sluice
