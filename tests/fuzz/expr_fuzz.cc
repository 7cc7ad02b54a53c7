// libFuzzer target: parse, check the references of, and evaluate arbitrary expressions and
// templates. Any crash, sanitizer report, or hang (the evaluation budget must stop it) is a bug.
// Built and run by scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <string>

#include "expr/check.h"
#include "expr/expr.h"

namespace {

class FuzzVars : public sluice::Activation {
 public:
  FuzzVars() {
    using sluice::Value;
    vars_ = Value(sluice::ValueMap{
        {"x", Value(int64_t{42})},
        {"s", Value("hello")},
        {"l", Value(sluice::ValueList{Value(int64_t{1}), Value(2.5), Value("three")})},
        {"m", Value(sluice::ValueMap{{"k", Value(true)}, {Value(int64_t{7}), Value()}})}});
  }
  sluice::Result<Resolved> Resolve(std::span<const std::string> path) const override {
    if (const sluice::Value* v = vars_.Find(path[0])) return Resolved{*v, 1};
    return sluice::Fail(sluice::ErrorCode::kInvalidInput, "unknown");
  }

 private:
  sluice::Value vars_;
};

class FuzzTypes : public sluice::TypeEnv {
 public:
  std::optional<std::pair<sluice::StaticType, size_t>> Lookup(
      std::span<const std::string> path) const override {
    if (path[0] == "x") return std::make_pair(sluice::StaticType::kInt, size_t{1});
    if (path[0] == "s") return std::make_pair(sluice::StaticType::kString, size_t{1});
    if (path[0] == "m") return std::make_pair(sluice::StaticType::kMap, size_t{1});
    return std::nullopt;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  static const FuzzVars vars;
  if (auto e = sluice::Expression::Parse(text)) {
    for (const auto& ref : e->references()) (void)ref.path.size();
    static const FuzzTypes types;
    (void)sluice::CheckExpression(*e, types);
    if (auto v = e->Evaluate(vars)) (void)v->ToJson();
  }
  if (auto t = sluice::Template::Parse(text)) {
    if (auto s = t->Render(vars)) (void)s->size();
  }
  return 0;
}
