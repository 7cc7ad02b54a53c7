// The model's out-of-line members and helpers (model.h): defaults of the parts a task may leave
// out, and the names and checks of param types.
#include "common/value.h"
#include "spec/model.h"

namespace sluice {

const std::string& Body::shell() const {
  static const std::string kDefault = "sh -e";
  return extra ? extra->shell : kDefault;
}

const std::vector<std::pair<std::string, TemplateField>>& Body::with() const {
  static const std::vector<std::pair<std::string, TemplateField>> kNone;
  return extra ? extra->with : kNone;
}

const TaskOptions& TaskSpec::opts() const {
  static const TaskOptions kDefaults;
  return options ? *options : kDefaults;
}

std::string_view ParamTypeName(ParamType t) {
  static const char* kNames[] = {"string", "int", "number", "bool", "list", "map"};
  return kNames[static_cast<int>(t)];
}

bool ValueMatchesType(const Value& v, ParamType t) {
  switch (t) {
    case ParamType::kString: return v.is_string();
    case ParamType::kInt: return v.is_int();
    case ParamType::kNumber: return v.is_int() || v.is_double();
    case ParamType::kBool: return v.is_bool();
    case ParamType::kList: return v.is_list();
    case ParamType::kMap: return v.is_map();
  }
  return false;
}

}  // namespace sluice
