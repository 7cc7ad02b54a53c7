#include "cli/components.h"

#include <algorithm>

#include "common/strings.h"
#include "env/fake_env.h"

namespace sluice {

std::vector<ComponentUse> ComponentUses(const Plan& plan) {
  std::vector<ComponentUse> out;
  for (const PlanTask& t : plan.tasks) {
    const ComponentSpec* c = t.component();
    if (!c) continue;
    const bool written = t.role != TaskRole::kCatch && t.role != TaskRole::kFallback &&
                         t.role != TaskRole::kCompensate && t.spec &&
                         t.spec->body.kind == Body::Kind::kUses;
    out.push_back({t.name, written ? t.spec->body.text : c->name, c->name, c->version});
  }
  return out;
}

Value ComponentVersions(const std::vector<ComponentUse>& uses) {
  ValueMap m;
  for (const auto& u : uses) m.emplace_back(u.task, Value(u.component + "@" + u.version));
  return Value(std::move(m));
}

Value ComponentUsesJson(const std::vector<ComponentUse>& uses) {
  ValueList l;
  for (const auto& u : uses) {
    l.push_back(Value(ValueMap{{"task", Value(u.task)}, {"uses", Value(u.uses)},
                               {"component", Value(u.component)}, {"version", Value(u.version)}}));
  }
  return Value(std::move(l));
}

std::vector<std::string> ComponentUsesText(const std::vector<ComponentUse>& uses) {
  // Grouped by reference and resolution, in the order first used.
  std::vector<std::pair<std::string, std::vector<std::string>>> groups;
  for (const auto& u : uses) {
    std::string key = fmt::format("{} -> {}@{}", u.uses, u.component, u.version);
    auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == key; });
    if (it == groups.end()) it = groups.insert(groups.end(), {key, {}});
    it->second.push_back(u.task);
  }
  std::vector<std::string> out;
  for (auto& [key, tasks] : groups) {
    if (tasks.size() > 5) {
      size_t more = tasks.size() - 5;
      tasks.resize(5);
      tasks.push_back(fmt::format("and {} more", more));
    }
    out.push_back(fmt::format("  {} ({})", key, Join(tasks, ", ")));
  }
  return out;
}

std::vector<ComponentUse> StoredComponentUses(Store& store, const RunRecord& run) {
  auto sources = store.LoadSources(run.id);
  if (!sources) return {};
  // Compiling a large pipeline again costs; one whose files name no `uses` needs none of it.
  bool any = std::any_of(sources->begin(), sources->end(), [](const auto& s) {
    return s.second.find("uses") != std::string::npos;
  });
  if (!any) return {};
  MemFileSystem mem(*sources);
  auto plan = LoadPlan(mem, run.spec_path);
  if (!plan) return {};
  return ComponentUses(**plan);
}

Result<std::shared_ptr<const Plan>> StoredPlan(Store& store, const RunRecord& run) {
  SLUICE_TRY(sources, store.LoadSources(run.id));
  MemFileSystem mem(std::move(*sources));
  auto plan = LoadPlan(mem, run.spec_path);
  if (!plan) return std::unexpected(plan.error().Wrap("reloading the run's pipeline"));
  return plan;
}

}  // namespace sluice
