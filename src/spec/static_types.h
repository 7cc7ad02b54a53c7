// Static types that the reference checks (references.cc) know from declarations: params,
// output params with a `type:`, and which types a component's param accepts. Internal to
// src/spec.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <utility>

#include "expr/check.h"
#include "spec/plan.h"

namespace sluice {

StaticType StaticOf(ParamType t);

// The declared type of the output that `path` (tasks.NAME.outputs.params.NAME) reads, as seen
// by task `reader`, and how many segments it covers: a forEach task's outputs are the list of
// its children's, except for its own handlers, which read their instance's. nullopt (unknown)
// for an output declared without a type, and for any other path.
std::optional<std::pair<StaticType, size_t>> DeclaredOutputType(
    const Plan& plan, const PlanTask& reader, std::span<const std::string> path);

// Whether a value of static type `t` can be bound to a component param declared `want`, by the
// rules of binding when the task runs: a string may be read as any type, and anything becomes a
// string.
bool ArgumentFits(StaticType t, ParamType want);

// What is wrong with a reference to pipeline.FIELD, or "": pipeline has dir (the absolute
// folder of the pipeline file), in a pipeline's and a component's scope.
std::string PipelineRootProblem(std::span<const std::string> path);

}  // namespace sluice
