// Binding a run's params from the command line's texts (plan.h: BindParams).
#include <algorithm>

#include "common/strings.h"
#include "spec/plan.h"

namespace sluice {
namespace {

// Whether a string in `v` (a map's keys included) holds a NUL character.
bool HoldsNul(const Value& v) {
  if (v.is_string()) return v.as_string().find('\0') != std::string::npos;
  if (v.is_list()) return std::any_of(v.as_list().begin(), v.as_list().end(), HoldsNul);
  if (v.is_map()) {
    return std::any_of(v.as_map().begin(), v.as_map().end(), [](const auto& kv) {
      return HoldsNul(kv.first) || HoldsNul(kv.second);
    });
  }
  return false;
}

}  // namespace

Result<Value> BindParams(const Plan& plan, const std::map<std::string, std::string>& overrides) {
  const auto& decls = plan.pipeline->params;
  std::vector<std::string> names;
  for (const auto& d : decls) names.push_back(d.name);
  for (const auto& [k, v] : overrides) {
    if (std::find(names.begin(), names.end(), k) == names.end()) {
      return Fail(ErrorCode::kInvalidInput, "unknown param {}{}", Quote(k), DidYouMean(k, names));
    }
  }
  ValueMap out;
  for (const auto& d : decls) {
    auto it = overrides.find(d.name);
    if (it == overrides.end()) {
      if (d.default_value) {
        out.emplace_back(d.name, *d.default_value);
      } else if (d.required) {
        return Fail(ErrorCode::kInvalidInput, "param {} is required (pass -p {}=VALUE)",
                    Quote(d.name), d.name);
      } else {
        out.emplace_back(d.name, Value());
      }
      continue;
    }
    const std::string& text = it->second;
    Value v;
    if (d.type == ParamType::kString) {
      v = Value(text);
    } else {
      auto parsed = ParseJson(text);
      if (!parsed || !ValueMatchesType(*parsed, d.type)) {
        return Fail(ErrorCode::kInvalidInput, "param {} must be {}, got {}", Quote(d.name),
                    ParamTypeName(d.type), Quote(text));
      }
      v = *parsed;
    }
    // What a policy judges is what a process gets: a NUL would end the string at the process.
    if (HoldsNul(v)) {
      return Fail(ErrorCode::kInvalidInput, "param {}: its value holds a NUL character (\\u0000), "
                  "which no program argument, variable or file name can carry", Quote(d.name));
    }
    out.emplace_back(d.name, std::move(v));
  }
  return Value(std::move(out));
}

}  // namespace sluice
