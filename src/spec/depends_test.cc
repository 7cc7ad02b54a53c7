// The depends language (spec/depends.h): Argo's operands and operators, table-driven.
#include "spec/depends.h"

#include <gtest/gtest.h>

#include <map>

namespace sluice {
namespace depends_test {

// `text` evaluated with the named tasks' outcomes given by one letter each: s(ucceeded),
// f(ailed), e(rrored), k (skipped), o(mitted).
bool Eval(std::string_view text, const std::map<std::string, char>& ended) {
  auto e = DependsExpr::Parse(text);
  EXPECT_TRUE(e.has_value()) << text << ": " << (e ? "" : e.error().message);
  if (!e) return false;
  return (*e)->Evaluate([&](int i) {
    DependsOutcome o;
    char c = ended.at((*e)->names()[i]);
    o.succeeded = c == 's';
    o.failed = c == 'f';
    o.errored = c == 'e';
    o.skipped = c == 'k';
    o.omitted = c == 'o';
    return o;
  });
}

TEST(Depends, BareNameIsSucceededOrSkipped) {
  EXPECT_TRUE(Eval("A", {{"A", 's'}}));
  EXPECT_TRUE(Eval("A", {{"A", 'k'}}));
  EXPECT_FALSE(Eval("A", {{"A", 'f'}}));
  EXPECT_FALSE(Eval("A", {{"A", 'o'}}));  // an omitted task does not let its dependents run
  EXPECT_FALSE(Eval("A", {{"A", 'e'}}));
}

TEST(Depends, ResultsAndOperators) {
  EXPECT_TRUE(Eval("B.Failed && C", {{"B", 'f'}, {"C", 's'}}));
  EXPECT_FALSE(Eval("B.Failed && C", {{"B", 's'}, {"C", 's'}}));
  EXPECT_TRUE(Eval("producer.Succeeded || producer.Skipped", {{"producer", 'k'}}));
  EXPECT_TRUE(Eval("!(A.Failed || A.Errored)", {{"A", 's'}}));
  EXPECT_FALSE(Eval("!A.Errored", {{"A", 'e'}}));
  EXPECT_TRUE(Eval("A.Omitted", {{"A", 'o'}}));
  EXPECT_TRUE(Eval("(A || B.Failed) && C", {{"A", 'f'}, {"B", 'f'}, {"C", 'k'}}));
  EXPECT_FALSE(Eval("A.Daemoned", {{"A", 's'}}));
}

TEST(Depends, NamesWithHyphensAndDots) {
  auto e = DependsExpr::Parse("flip-coin.Succeeded && inner.a-b && x.y");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ((*e)->names(), (std::vector<std::string>{"flip-coin", "inner.a-b", "x.y"}));
  // Each name once, in order of first appearance.
  e = DependsExpr::Parse("A.Failed || A.Succeeded");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ((*e)->names(), (std::vector<std::string>{"A"}));
}

TEST(Depends, ErrorsSayWhereAndWhat) {
  auto msg = [](std::string_view t) {
    auto e = DependsExpr::Parse(t);
    return e ? std::string("ok") : e.error().message;
  };
  EXPECT_EQ(msg("A.Succeded"), "unknown result \"Succeded\"; known: Succeeded, Failed, Errored, "
                               "Skipped, Omitted, Daemoned, AnySucceeded, AllFailed (column 11)");
  EXPECT_EQ(msg("A &&"), "expected a task name at the end (column 5)");
  EXPECT_EQ(msg("(A || B"), "missing ) (column 8)");
  EXPECT_EQ(msg("A B"), "unexpected \"B\" (column 3)");
  EXPECT_EQ(msg(""), "expected a task name at the end (column 1)");
  EXPECT_EQ(msg(std::string(100, '(') + "A" + std::string(100, ')')),
            "nested deeper than 64 (column 66)");
}

}  // namespace depends_test
}  // namespace sluice
