// The Kubeflow Pipelines export's parts (export.h has ExportKfp): export_kfp.cc writes the
// PipelineSpec (components, the root DAG, loops and the exit handler) and
// export_kfp_executor.cc each task's container.
#pragma once

#include "interop/export_common.h"

namespace sluice {

// deploymentSpec.executors' entry of a leaf task: {container: {image, command, args, ...}}'s
// container map. What KFP cannot run (a secret as env, an output's json field) goes to
// `missing`.
YamlNode KfpExecutor(const PlanTask& t, const TaskIo& io, NotExpressed& missing);

}  // namespace sluice
