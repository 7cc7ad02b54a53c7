// Reference checks of a compiled task (internal to src/spec, used by compile.cc).
#pragma once

#include "common/error.h"
#include "spec/plan.h"

namespace sluice {

// Checks every placeholder of task `pt` against its scope (params, tasks.NAME.outputs..., item,
// run, task, error, component) and, where the type is known before a run, its type; then sets
// its dependencies: pt.deps from `needs` and the outputs it reads, pt.data_deps and
// pt.when_reads_item. `pt` is one of plan.tasks; the others must be built already.
Status CheckTaskReferences(const Plan& plan, PlanTask& pt);
// Checks the outputs of DAG template `tp` (one of plan.templates) in its scope and sets its
// output_deps.
Status CheckTemplateOutputs(const Plan& plan, PlanTemplate& tp);

}  // namespace sluice
