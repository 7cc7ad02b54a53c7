// `sluice eval`: an expression evaluated on variables given as JSON, to debug a condition.
#include <cstdio>

#include "cli/cli_support.h"
#include "common/strings.h"
#include "common/value.h"
#include "expr/expr.h"

namespace sluice {

namespace {
class JsonVars : public Activation {
 public:
  explicit JsonVars(const TimeZones* zones) : zones_(zones) {}
  std::map<std::string, Value> vars;
  const TimeZones* time_zones() const override { return zones_; }
  Result<Resolved> Resolve(std::span<const std::string> path) const override {
    auto it = vars.find(path[0]);
    if (it == vars.end()) {
      return Fail(ErrorCode::kInvalidInput, "undeclared variable {} (pass --var {}=JSON)",
                  Quote(path[0]), path[0]);
    }
    return Resolved{it->second, 1};
  }

 private:
  const TimeZones* zones_;
};
}  // namespace

int CmdEval(Env& env, const std::string& text, const std::vector<std::string>& vars,
            const std::string& vars_file) {
  JsonVars activation(env.time_zones());
  if (!vars_file.empty()) {
    auto content = env.files().ReadFile(vars_file);
    if (!content) return Report(Error(ErrorCode::kInvalidInput, content.error().message));
    auto doc = ParseJson(*content);
    if (!doc || !doc->is_map()) {
      return Report(Error(ErrorCode::kInvalidInput,
                          fmt::format("{}: {}", vars_file, doc ? "must hold a JSON object" : doc.error().message)));
    }
    for (const auto& [k, v] : doc->as_map()) activation.vars[k.ToText()] = v;
  }
  for (const auto& kv : vars) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Report(Error(ErrorCode::kInvalidInput, fmt::format("--var expects name=JSON, got {}", Quote(kv))));
    }
    auto v = ParseJson(kv.substr(eq + 1));
    if (!v) {
      return Report(Error(ErrorCode::kInvalidInput,
                          fmt::format("--var {}: {}", kv.substr(0, eq), v.error().message)));
    }
    activation.vars[kv.substr(0, eq)] = *v;
  }
  auto e = Expression::Parse(text);
  if (!e) return Report(e.error());
  auto v = e->Evaluate(activation);
  if (!v) return Report(v.error());
  std::printf("%s\n", v->ToJson().c_str());
  return 0;
}

}  // namespace sluice
