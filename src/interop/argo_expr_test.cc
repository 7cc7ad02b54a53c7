// expr-lang → CEL (argo_expr.h): what each form becomes, and the errors for what is not
// imported.
#include "interop/argo_expr.h"

#include <gtest/gtest.h>

namespace sluice {
namespace argo_expr_test {

std::string Expr(std::string_view text, bool item = false) {
  static const std::set<std::string> inputs = {"foo", "week-temps"};
  static const std::map<std::string, std::string> calls = {
      {"flip-coin", "flip"}, {"heads", "heads"}, {"producer", "produce"}};
  ArgoScope s;
  s.inputs = &inputs;
  s.calls = &calls;
  s.item = item;
  auto e = TranslateArgoExpr(text, s);
  return e ? *e : "error: " + e.error().message;
}

TEST(ArgoExpr, VariablesAreReadAsText) {
  EXPECT_EQ(Expr("inputs.parameters.foo"), "string(params.foo)");
  EXPECT_EQ(Expr("inputs.parameters['week-temps']"), "string(params.week-temps)");
  EXPECT_EQ(Expr("steps['flip-coin'].outputs.result == 'heads'"),
            "(string(tasks.flip-coin.outputs.params.result) == 'heads')");
  EXPECT_EQ(Expr("workflow.creationTimestamp"), "string(run.started)");
  // item keeps its own type (a number of withItems stays a number).
  EXPECT_EQ(Expr("item", true), "item");
  EXPECT_EQ(Expr("item.a + 1", true), "(item.a + 1)");
}

TEST(ArgoExpr, OperatorsFollowExprLang) {
  EXPECT_EQ(Expr("asInt(inputs.parameters.foo) * 10"), "(int(string(params.foo)) * 10)");
  // expr-lang divides as floats; an int meets a float as a float.
  EXPECT_EQ(Expr("asInt(inputs.parameters.foo) / 5"),
            "(double(int(string(params.foo))) / double(5))");
  EXPECT_EQ(Expr("1 + 2.5"), "(double(1) + 2.5)");
  EXPECT_EQ(Expr("'a' + inputs.parameters.foo"), "('a' + string(params.foo))");
  EXPECT_EQ(Expr("1 < 2 and not false or 3 in [1, 2]"),
            "(((1 < 2) && !(false)) || (3 in [1, 2]))");
  EXPECT_EQ(Expr("inputs.parameters.foo matches '^a'"), "string(params.foo).matches('^a')");
  EXPECT_EQ(Expr("steps['flip-coin'].outputs.result == 'heads' ? steps.heads.outputs.result : "
                 "'none'"),
            "((string(tasks.flip-coin.outputs.params.result) == 'heads') ? "
            "string(tasks.heads.outputs.params.result) : 'none')");
  EXPECT_EQ(Expr("tasks.producer.outputs.parameters.msg ?? 'fallback'"),
            "(has(tasks.producer.outputs.params.msg) ? "
            "string(tasks.producer.outputs.params.msg) : 'fallback')");
  EXPECT_EQ(Expr("{a: 1, 'b-c': [nil]}"), "{'a': 1, 'b-c': [null]}");
}

TEST(ArgoExpr, PredicatesBecomeMacros) {
  EXPECT_EQ(Expr("toJson(filter([1, 3], {# > 1}))"),
            "json.encode([1, 3].filter(argo_it0, (argo_it0 > 1)))");
  EXPECT_EQ(Expr("map([[1], [2]], {len(filter(#, {# > 0}))})"),
            "[[1], [2]].map(argo_it0, size(argo_it0.filter(argo_it1, (argo_it1 > 0))))");
  EXPECT_EQ(Expr("all([1], {#[0] == 1}) && none([1], {# == 2})"),
            "([1].all(argo_it0, (argo_it0[0] == 1)) && ![1].exists(argo_it0, (argo_it0 == 2)))");
  EXPECT_EQ(Expr("count([1, 2], {# > 1})"), "size([1, 2].filter(argo_it0, (argo_it0 > 1)))");
}

TEST(ArgoExpr, JsonBase64AndSprigArithmetic) {
  EXPECT_EQ(Expr("jsonpath(inputs.parameters['week-temps'], '$.avg')"),
            "json.decode(string(params.week-temps)).avg");
  EXPECT_EQ(Expr("jsonpath(inputs.parameters.foo, '$.a[0][\\'b-c\\']')"),
            "json.decode(string(params.foo)).a[0]['b-c']");
  EXPECT_EQ(Expr("sprig.b64dec(inputs.parameters.foo)"),
            "string(base64.decode(string(params.foo)))");
  EXPECT_EQ(Expr("sprig.add(1, 2, 3) / 3"), "(double((int(1) + int(2) + int(3))) / double(3))");
  EXPECT_EQ(Expr("sprig.max(1, 2)"), "math.greatest(int(1), int(2))");
  EXPECT_EQ(Expr("map([[1, 2]], {toJson({avg: #[0]})})[0]"),
            "[[1, 2]].map(argo_it0, json.encode({'avg': argo_it0[0]}))[0]");
}

TEST(ArgoExpr, LastRetryIsRetryWhensError) {
  ArgoScope s;
  s.retry = true;
  auto e = TranslateArgoExpr("asInt(lastRetry.exitCode) == 3 && lastRetry.status != 'Error'", s);
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(*e, "((int((error.exitCode != null ? string(error.exitCode) : error.signal != null ? "
                "string(128 + error.signal) : '-1')) == 3) && ((error.class in ['exit', 'signal', "
                "'timeout'] ? 'Failed' : 'Error') != 'Error'))");
  auto d = TranslateArgoExpr("lastRetry.duration > 5", s);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().message, "expression: lastRetry.duration is not imported: exitCode, status "
                               "and message are (column 11)");
  // Outside retryStrategy.expression, lastRetry names nothing.
  EXPECT_EQ(Expr("lastRetry.exitCode"),
            "error: expression: \"lastRetry\" is not a variable Argo defines here (column 1)");
}

TEST(ArgoExpr, DatesFollowGosLayout) {
  EXPECT_EQ(Expr("sprig.date('2006', workflow.creationTimestamp)"),
            "string(timestamp(string(run.started)).getFullYear())");
  EXPECT_EQ(Expr("sprig.date('01/02', workflow.creationTimestamp)"),
            "((timestamp(string(run.started)).getMonth() + 1) < 10 ? '0' : '') + "
            "string(timestamp(string(run.started)).getMonth() + 1) + '/' + "
            "((timestamp(string(run.started)).getDate()) < 10 ? '0' : '') + "
            "string(timestamp(string(run.started)).getDate())");
}

TEST(ArgoExpr, WhatIsNotImportedIsNamed) {
  EXPECT_EQ(Expr("sprig.upper(inputs.parameters.foo)"),
            "error: expression: sprig.upper() is not imported (docs/interop.md lists the "
            "functions that are) (column 1)");
  EXPECT_EQ(Expr("jsonpath(inputs.parameters.foo, '$..a')"),
            "error: expression: the JSON path \"$..a\" is not imported: only .name, [N] and "
            "['name'] are (column 1)");
  EXPECT_EQ(Expr("2 ** 3"), "error: expression: ** is not imported (CEL has no power operator) "
                            "(column 3)");
  EXPECT_EQ(Expr("inputs.parameters.foo * 2"),
            "error: expression: * needs numbers: read a parameter with asInt(…) or asFloat(…) "
            "(column 23)");
  EXPECT_EQ(Expr("toJson(inputs.parameters.foo)"), "json.encode(string(params.foo))");
  EXPECT_EQ(Expr("1 ?? 2"), "error: expression: ?? is imported after a step's or task's output "
                            "only (column 3)");
  EXPECT_EQ(Expr("# > 1"), "error: expression: # is only bound inside a predicate { … } "
                           "(column 1)");
  EXPECT_EQ(Expr("(1 + 2"), "error: expression: expected ) but found the end (column 7)");
  EXPECT_EQ(Expr("'abc"), "error: expression: a string is not closed (column 1)");
  EXPECT_EQ(Expr("secrets.x"),
            "error: expression: \"secrets\" is not a variable Argo defines here (column 1)");
  EXPECT_EQ(Expr("sprig.date('Jan 2006', workflow.creationTimestamp)"),
            "error: expression: the date layout \"Jan 2006\" is not imported: only 2006, 01, 02, 15, "
            "04 and 05 are (column 1)");
}

}  // namespace argo_expr_test
}  // namespace sluice
