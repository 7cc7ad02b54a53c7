// Expressions beyond what the CEL conformance data covers: the references the pipeline
// compiler checks, templates, and the bounds on hostile input.
#include "expr/expr.h"

#include <gtest/gtest.h>

#include "expr/check.h"

#include <map>

namespace sluice {
namespace expr_test {

class Vars : public Activation {
 public:
  std::map<std::string, Value> vars;
  Result<Resolved> Resolve(std::span<const std::string> path) const override {
    auto it = vars.find(path[0]);
    if (it == vars.end()) return Fail(ErrorCode::kInvalidInput, "unknown {}", path[0]);
    return Resolved{it->second, 1};
  }
};

std::vector<std::string> Paths(std::string_view text) {
  auto e = Expression::Parse(text);
  EXPECT_TRUE(e) << e.error().message;
  std::vector<std::string> out;
  for (const auto& r : e->references()) {
    std::string p;
    for (const auto& s : r.path) p += (p.empty() ? "" : ".") + s;
    out.push_back(p + "@" + std::to_string(r.column));
  }
  return out;
}

TEST(Expression, ReferencesAreDottedPathsWithColumns) {
  EXPECT_EQ(Paths("tasks.train.outputs.params.acc >= params.min"),
            (std::vector<std::string>{"tasks.train.outputs.params.acc@1", "params.min@35"}));
  EXPECT_EQ(Paths("size(params.labels) > 2"), (std::vector<std::string>{"params.labels@6"}));
  EXPECT_EQ(Paths("params.name.startsWith('a')"), (std::vector<std::string>{"params.name@1"}));
}

TEST(Expression, ComprehensionVariablesAreNotReferences) {
  EXPECT_EQ(Paths("params.xs.all(x, x > params.min)"),
            (std::vector<std::string>{"params.xs@1", "params.min@22"}));
  EXPECT_EQ(Paths("[1, 2].map(v, v * item)"), (std::vector<std::string>{"item@19"}));
}

TEST(Expression, AndOrAbsorbErrorsWhenTheOtherSideDecides) {
  Vars v;
  v.vars["ok"] = Value(true);
  auto e = Expression::Parse("missing > 1 || ok");
  ASSERT_TRUE(e);
  auto r = e->Evaluate(v);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->as_bool());
  auto bad = Expression::Parse("missing > 1 && ok");
  EXPECT_FALSE(bad->Evaluate(v));
}

TEST(Expression, RejectsAbsurdNestingWithoutCrashing) {
  std::string deep(100000, '(');
  auto e = Expression::Parse(deep + "1" + std::string(100000, ')'));
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("nested too deeply"), std::string::npos);
}

TEST(Expression, BoundsTheCostOfAComprehension) {
  Vars v;
  ValueList big(2000, Value(int64_t{1}));
  v.vars["xs"] = Value(big);
  // 2000 x 2000 steps is past the evaluation budget: an error, not a hang.
  auto e = Expression::Parse("xs.all(a, xs.all(b, a == b))");
  ASSERT_TRUE(e);
  auto r = e->Evaluate(v);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("too costly"), std::string::npos);
}

TEST(Template, OnePlaceholderKeepsItsTypeAndMixedTextRenders) {
  Vars v;
  v.vars["n"] = Value(int64_t{3});
  auto whole = Template::Parse("${{ [n, n] }}");
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->Evaluate(v)->ToJson(), "[3,3]");
  auto mixed = Template::Parse("n=${{ n + 1 }}!");
  ASSERT_TRUE(mixed);
  EXPECT_EQ(*mixed->Render(v), "n=4!");
  EXPECT_FALSE(Template::Parse("${{ n "));
  EXPECT_FALSE(Template::Parse("${{ }}"));
}

TEST(Template, PlainTextHasNoPiecesAndRendersAsItself) {
  Vars v;
  auto plain = Template::Parse("builtin:noop");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->has_placeholders());
  EXPECT_TRUE(plain->pieces().empty());
  EXPECT_EQ(*plain->Render(v), "builtin:noop");
  EXPECT_EQ(plain->Evaluate(v)->as_string(), "builtin:noop");
  auto mixed = Template::Parse("a ${{ 1 }} b");
  ASSERT_TRUE(mixed);
  EXPECT_EQ(mixed->pieces().size(), 3u);
}

// Evaluates `text` with no variables: the JSON of its value, or "error: MESSAGE".
std::string Eval(std::string_view text) {
  Vars none;
  auto e = Expression::Parse(text);
  if (!e) return "error: " + e.error().message;
  auto v = e->Evaluate(none);
  if (!v) return "error: " + v.error().message;
  return std::string(v->TypeName()) + " " + v->ToJson();
}

TEST(MathExtension, GreatestAndLeastTakeNumbersOrOneList) {
  EXPECT_EQ(Eval("math.greatest(1)"), "int 1");
  EXPECT_EQ(Eval("math.greatest(1u, 2u)"), "uint 2");
  EXPECT_EQ(Eval("math.greatest(-42.0, -21.5, -100.0)"), "double -21.5");
  EXPECT_EQ(Eval("math.greatest([-42.0, -21.5, -100.0])"), "double -21.5");
  EXPECT_EQ(Eval("math.least([-42.0, -21.5, -100.0])"), "double -100.0");
  EXPECT_EQ(Eval("math.least(3, 2u, 2.5)"), "uint 2");
  // Mixed kinds compare by value; the winner keeps its kind, and of equal values the first.
  EXPECT_EQ(Eval("math.greatest(1, 2.5, 2u)"), "double 2.5");
  EXPECT_EQ(Eval("math.greatest(2, 2.0)"), "int 2");
  EXPECT_EQ(Eval("math.greatest(-1, 18446744073709551615u)"), "uint 18446744073709551615");
}

TEST(MathExtension, EmptyOrNonNumericArgumentsAreErrors) {
  EXPECT_EQ(Eval("math.greatest([])"), "error: column 6: math.greatest() of an empty list");
  EXPECT_EQ(Eval("math.least()"), "error: column 6: math.least() needs at least one argument");
  EXPECT_EQ(Eval("math.greatest('a')"), "error: column 6: no such overload: math.greatest(string)");
  EXPECT_EQ(Eval("math.greatest([1, 'a'])"),
            "error: column 6: math.greatest(): the list holds a string, not only numbers");
  EXPECT_EQ(Eval("math.greatest(1, [2])"),
            "error: column 6: no such overload: math.greatest(list): a list must be the only argument");
}

TEST(MathExtension, ListMaxAndMinAreTheListForms) {
  EXPECT_EQ(Eval("[1, 2].max()"), "int 2");
  EXPECT_EQ(Eval("[0.91, 0.95, 0.93].max()"), "double 0.95");
  EXPECT_EQ(Eval("[3, 1u].min()"), "uint 1");
  EXPECT_EQ(Eval("[].max()"), "error: column 4: max() of an empty list");
  EXPECT_EQ(Eval("'ab'.max()"), "error: column 6: unknown function \"max\"");
}

TEST(MathExtension, MathIsANamespaceNotAReference) {
  EXPECT_EQ(Paths("math.greatest(params.a, tasks.t.outputs.params.acc)"),
            (std::vector<std::string>{"params.a@15", "tasks.t.outputs.params.acc@25"}));
}

// No variables are known: every path is dyn.
class NoTypes : public TypeEnv {
 public:
  std::optional<std::pair<StaticType, size_t>> Lookup(std::span<const std::string>) const override {
    return std::nullopt;
  }
};

std::string Check(std::string_view text) {
  auto e = Expression::Parse(text);
  if (!e) return "parse error: " + e.error().message;
  auto t = CheckedType(*e, NoTypes());
  if (!t) return "error: " + t.error().message;
  return std::string(StaticTypeName(*t));
}

TEST(ListsExtension, RangeCountsFromZero) {
  EXPECT_EQ(Eval("lists.range(4)"), "list [0,1,2,3]");
  EXPECT_EQ(Eval("lists.range(0)"), "list []");
  EXPECT_EQ(Eval("lists.range(-2)"), "list []");
  EXPECT_EQ(Eval("lists.range(3).map(i, i * 10)"), "list [0,10,20]");
  EXPECT_EQ(Eval("lists.range(2000000)"),
            "error: column 7: lists.range(2000000): more than 1000000 elements");
  EXPECT_EQ(Eval("lists.range('a')"), "error: column 7: no such overload: lists.range(string)");
  EXPECT_EQ(Check("lists.range(2)"), "list");
  EXPECT_EQ(Check("lists.range(x.y)"), "list");
  EXPECT_EQ(Check("lists.range('a')"), "error: column 13: no such overload: lists.range(string)");
  EXPECT_EQ(Check("lists.range()"), "error: column 7: lists.range() takes one argument");
}

TEST(JsonAndBase64, EncodeAndDecode) {
  EXPECT_EQ(Eval("json.decode('{\"a\": [1, 2.5, \"x\"]}').a"), "list [1,2.5,\"x\"]");
  EXPECT_EQ(Eval("json.encode({'a': [1, true, null]})"), "string \"{\\\"a\\\":[1,true,null]}\"");
  EXPECT_EQ(Eval("json.decode('{')").substr(0, 30), "error: column 6: json.decode: ");
  EXPECT_EQ(Eval("string(base64.decode('aGVsbG8='))"), "string \"hello\"");
  EXPECT_EQ(Eval("string(base64.decode('aGVsbG8'))"), "string \"hello\"");
  EXPECT_EQ(Eval("base64.encode(b'hello')"), "string \"aGVsbG8=\"");
  EXPECT_EQ(Eval("base64.decode('a$')"), "error: column 8: base64.decode: \"$\" is not base64");
  EXPECT_EQ(Check("json.decode('1')"), "dyn");
  EXPECT_EQ(Check("base64.decode(1)"), "error: column 15: no such overload: base64.decode(int)");
}

TEST(MathExtension, StaticCheckKnowsArgumentsAndResult) {
  EXPECT_EQ(Check("math.greatest(1, 2)"), "int");
  EXPECT_EQ(Check("math.greatest(1, 2.0)"), "dyn");
  EXPECT_EQ(Check("math.greatest([1, 2])"), "dyn");
  EXPECT_EQ(Check("math.greatest(x.y, 2)"), "dyn");
  EXPECT_EQ(Check("math.greatest(1, 'a')"), "error: column 18: no such overload: math.greatest(string)");
  EXPECT_EQ(Check("math.least()"), "error: column 6: math.least() needs at least one argument");
  EXPECT_EQ(Check("'a'.max()"), "error: column 5: no such overload: string.max()");
  EXPECT_EQ(Check("math.greatest(1, 2) > 'a'"), "error: column 21: no such overload: int > string");
}

}  // namespace expr_test
}  // namespace sluice
