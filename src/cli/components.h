// Which component version ran: the version each `uses` resolved to ("train@1" -> 1.1.0), for
// `validate -o json`, the run.created event and `status`.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/value.h"
#include "spec/plan.h"
#include "store/store.h"

namespace sluice {

// One plan task that uses a component.
struct ComponentUse {
  std::string task;       // the plan task ("train", or a handler "train.fallback")
  std::string uses;       // the reference as written ("train@1"); the name for a handler's
  std::string component;  // the component's name
  std::string version;    // the version it resolved to ("1.1.0")
};
std::vector<ComponentUse> ComponentUses(const Plan& plan);

// {"train": "train@1.1.0", ...}: what run.created records; an empty map when none.
Value ComponentVersions(const std::vector<ComponentUse>& uses);
// [{"task", "uses", "component", "version"}...] for -o json.
Value ComponentUsesJson(const std::vector<ComponentUse>& uses);
// One line a reference: "  train@1 -> train@1.1.0 (train, eval)".
std::vector<std::string> ComponentUsesText(const std::vector<ComponentUse>& uses);

// The components a stored run used, from the pipeline it was submitted with (so runs stored
// before the run.created event recorded them show them too). Empty when its files use none, or
// when they cannot be compiled again (a newer sluice's pipeline): best effort.
std::vector<ComponentUse> StoredComponentUses(Store& store, const RunRecord& run);
// The plan of a stored run, compiled again from the files it was submitted with, for showing it
// (resume and rollback use LoadStoredRun, which also checks them against the audit log).
Result<std::shared_ptr<const Plan>> StoredPlan(Store& store, const RunRecord& run);

}  // namespace sluice
