#include "spec/static_types.h"

#include <fmt/format.h>

namespace sluice {

StaticType StaticOf(ParamType t) {
  switch (t) {
    case ParamType::kString: return StaticType::kString;
    case ParamType::kInt: return StaticType::kInt;
    case ParamType::kNumber: return StaticType::kNumber;
    case ParamType::kBool: return StaticType::kBool;
    case ParamType::kList: return StaticType::kList;
    case ParamType::kMap: return StaticType::kMap;
  }
  return StaticType::kDyn;
}

std::optional<std::pair<StaticType, size_t>> DeclaredOutputType(
    const Plan& plan, const PlanTask& reader, std::span<const std::string> path) {
  if (path.size() < 5 || path[2] != "outputs" || path[3] != "params") return std::nullopt;
  const PlanTask* up = plan.FindIn(reader.scope, path[1]);
  if (!up || !up->outputs) return std::nullopt;
  for (const auto& o : up->outputs->params) {
    if (o.name != path[4] || !o.type) continue;
    if (up->spec && up->spec->for_each && reader.owner != up->index) {
      return std::make_pair(StaticType::kList, size_t{5});
    }
    return std::make_pair(StaticOf(*o.type), size_t{5});
  }
  return std::nullopt;
}

bool ArgumentFits(StaticType t, ParamType want) {
  if (t == StaticType::kDyn || t == StaticType::kString || want == ParamType::kString) return true;
  switch (want) {
    case ParamType::kInt: return t == StaticType::kInt || t == StaticType::kNumber;
    case ParamType::kNumber:
      return t == StaticType::kInt || t == StaticType::kDouble || t == StaticType::kNumber;
    case ParamType::kBool: return t == StaticType::kBool;
    case ParamType::kList: return t == StaticType::kList;
    case ParamType::kMap: return t == StaticType::kMap;
    case ParamType::kString: return true;
  }
  return true;
}

std::string PipelineRootProblem(std::span<const std::string> path) {
  if (path.size() >= 2 && path[1] != "dir") {
    return fmt::format("unknown pipeline.{}: pipeline has dir", path[1]);
  }
  return "";
}

}  // namespace sluice
