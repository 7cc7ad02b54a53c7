// The parts of an Experiment document that loader_experiment.cc reads through
// loader_experiment_faults.cc: a fault of the method, and NAME: VALUE params. Internal to spec.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "spec/experiment_spec.h"
#include "spec/yaml_reader.h"

namespace sluice {

// NAME: scalar params, as `sluice run -p NAME=VALUE` takes them, appended to `out`.
Status ReadParams(const Reader& r, const YNode& ps, std::string_view what,
                  std::vector<std::pair<std::string, std::string>>* out);
// A fault of the method: its kind and what the runner gives the target (SLUICE_FAULTS text, the
// proxy's flags, the stress-ng command, the kill, the bad candidate's params).
Status ReadFault(const Reader& r, const YNode& n, FaultSpec* f);

}  // namespace sluice
