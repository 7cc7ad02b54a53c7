// Checks of one task against what it uses: a fallback's outputs, a component's arguments.
#include <algorithm>
#include <set>

#include "common/strings.h"
#include "spec/task_checks.h"

namespace sluice {

// A fallback stands in for its task, so downstream readers must find the same outputs.
Status CheckFallbackOutputs(const PlanTask& task, const PlanTask& fb) {
  auto names = [](const OutputsDecl& o) {
    std::set<std::string> params, artifacts;
    for (const auto& p : o.params) params.insert(p.name);
    for (const auto& a : o.artifacts) artifacts.insert(a.name);
    return std::make_pair(params, artifacts);
  };
  auto want = names(*task.outputs), got = names(*fb.outputs);
  for (int k = 0; k < 2; ++k) {
    const auto& w = k == 0 ? want.first : want.second;
    const auto& g = k == 0 ? got.first : got.second;
    const char* what = k == 0 ? "param" : "artifact";
    for (const auto& n : w) {
      if (!g.count(n)) {
        return FailAt(fb.spec->loc, "the fallback of task {} must declare the same outputs: "
                      "output {} {} is missing", Quote(task.name), what, Quote(n));
      }
    }
    for (const auto& n : g) {
      if (!w.count(n)) {
        return FailAt(fb.spec->loc, "the fallback of task {} must declare the same outputs: "
                      "task {} has no output {} {}", Quote(task.name), Quote(task.name), what,
                      Quote(n));
      }
    }
  }
  return {};
}

Status CheckArguments(const TaskSpec& t, const ComponentSpec& c) {
  std::vector<std::string> names;
  for (const auto& d : c.params) names.push_back(d.name);
  for (const auto& [arg, field] : t.body.with()) {
    auto it = std::find_if(c.params.begin(), c.params.end(),
                           [&](const ParamDecl& d) { return d.name == arg; });
    if (it == c.params.end()) {
      return FailAt(field.loc, "component {}@{} has no param {}{}", c.name, c.version,
                    Quote(arg), DidYouMean(arg, names));
    }
    if (!field.literal && !field.tmpl.has_placeholders() && it->type != ParamType::kString) {
      return FailAt(field.loc, "argument {} is string {}, but component {} declares it {}",
                    Quote(arg), Quote(field.tmpl.text()), c.name, ParamTypeName(it->type));
    }
    if (field.literal && !ValueMatchesType(*field.literal, it->type)) {
      return FailAt(field.loc, "argument {} is {} {}, but component {} declares it {}",
                    Quote(arg), field.literal->TypeName(), Quote(field.literal->ToText()),
                    c.name, ParamTypeName(it->type));
    }
  }
  for (const auto& d : c.params) {
    bool given = std::any_of(t.body.with().begin(), t.body.with().end(),
                             [&](const auto& w) { return w.first == d.name; });
    if (d.required && !given) {
      return FailAt(t.body.loc, "component {}@{} needs param {} (add it under with:)", c.name,
                    c.version, Quote(d.name));
    }
  }
  return {};
}

// The component's params as the task binds them (CheckArguments has checked them): literal
// arguments and defaults as values of the declared type, placeholders left to each attempt.
std::vector<ComponentArg> BindArguments(const TaskSpec& t, const ComponentSpec& c) {
  std::vector<ComponentArg> args;
  args.reserve(c.params.size());
  for (const auto& d : c.params) {
    ComponentArg a{d.name, d.type, d.default_value.value_or(Value()), nullptr};
    auto with = std::find_if(t.body.with().begin(), t.body.with().end(),
                             [&](const auto& w) { return w.first == d.name; });
    if (with != t.body.with().end()) {
      const TemplateField& f = with->second;
      if (f.literal) {
        a.value = *f.literal;
      } else if (f.tmpl.has_placeholders()) {
        a.field = &f;
      } else {
        a.value = Value(f.tmpl.text());  // plain text: a string param (CheckArguments)
      }
    }
    args.push_back(std::move(a));
  }
  return args;
}

}  // namespace sluice
