// Checks of one task against what it uses (internal to src/spec, used by compile.cc).
#pragma once

#include <vector>

#include "common/error.h"
#include "spec/plan.h"

namespace sluice {

// A fallback stands in for its task: it must declare the same outputs.
Status CheckFallbackOutputs(const PlanTask& task, const PlanTask& fb);
// A `uses` task's `with:` arguments against the component's params: known names, literal
// types, required params given.
Status CheckArguments(const TaskSpec& t, const ComponentSpec& c);
// The component's params as the task binds them (after CheckArguments): literal arguments and
// defaults as values of the declared type, placeholders left to each attempt.
std::vector<ComponentArg> BindArguments(const TaskSpec& t, const ComponentSpec& c);

}  // namespace sluice
