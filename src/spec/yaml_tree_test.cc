// The libyaml-backed tree: positions, scalar styles, nulls, aliases and located errors.
#include "spec/yaml_tree.h"

#include <gtest/gtest.h>

namespace sluice {
namespace yaml_tree_test {

std::unique_ptr<YamlTree> Parse(std::string_view text) {
  auto t = YamlTree::Parse(text);
  EXPECT_TRUE(t) << t.error().message;
  return t ? std::move(*t) : nullptr;
}

TEST(YamlTree, KeepsPositionsAndScalarStyles) {
  auto t = Parse("a: 1\nb:\n  - 'x'\n  - y\n");
  ASSERT_EQ(t->documents().size(), 1u);
  YNode root = t->documents()[0];
  ASSERT_TRUE(root.IsMap());
  EXPECT_EQ(root["a"].Scalar(), "1");
  EXPECT_FALSE(root["a"].IsQuotedOrString());
  YNode list = root["b"];
  ASSERT_TRUE(list.IsSequence());
  ASSERT_EQ(list.size(), 2u);
  EXPECT_TRUE(list.Item(0).IsQuotedOrString());
  EXPECT_EQ(list.Item(1).Scalar(), "y");
  EXPECT_EQ(list.Item(1).Mark().line, 3);  // 0-based
  EXPECT_EQ(list.Item(1).Mark().column, 4);
  EXPECT_FALSE(root["missing"]);
  EXPECT_TRUE(root["missing"].Mark().is_null());
}

TEST(YamlTree, PlainNullsAreNullNodesButQuotedOnesAreStrings) {
  auto t = Parse("a:\nb: ~\nc: null\nd: 'null'\ne: !!str 5\n");
  YNode r = t->documents()[0];
  EXPECT_TRUE(r["a"].IsNull());
  EXPECT_TRUE(r["b"].IsNull());
  EXPECT_TRUE(r["c"].IsNull());
  EXPECT_TRUE(r["d"].IsScalar());
  EXPECT_TRUE(r["e"].IsQuotedOrString());
}

TEST(YamlTree, IteratesMapsAsPairsInOrder) {
  auto t = Parse("{z: 1, a: 2, m: 3}");
  std::string keys;
  for (auto it = t->documents()[0].begin(); it != t->documents()[0].end(); ++it) {
    keys += std::string(it->first.Scalar()) + "=" + std::string(it->second.Scalar()) + ";";
  }
  EXPECT_EQ(keys, "z=1;a=2;m=3;");
}

TEST(YamlTree, AliasesShareTheAnchoredNode) {
  auto t = Parse("base: &b {x: 1}\nuse: *b\n");
  YNode r = t->documents()[0];
  EXPECT_EQ(r["use"]["x"].Scalar(), "1");
  EXPECT_EQ(r["use"].Mark().line, r["base"].Mark().line);  // the same node, not a copy
}

TEST(YamlTree, ReadsSeveralDocuments) {
  auto t = Parse("a: 1\n---\nb: 2\n---\n");
  ASSERT_EQ(t->documents().size(), 3u);
  EXPECT_TRUE(t->documents()[2].IsNull());
}

TEST(YamlTree, LocatesSyntaxErrorsAndControlCharacters) {
  auto bad = YamlTree::Parse("a: [1, 2\nb: 3\n");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("YAML syntax error"), std::string::npos);
  EXPECT_NE(bad.error().message.find("(started at 1:4)"), std::string::npos);
  auto ctrl = YamlTree::Parse("a: 1\nb: \"x\x1by\"\n");
  ASSERT_FALSE(ctrl);
  EXPECT_EQ(ctrl.error().message.substr(0, 4), "2:6:");
  auto alias = YamlTree::Parse("a: *nowhere\n");
  ASSERT_FALSE(alias);
}

TEST(YamlTree, DeepFlowNestingDoesNotOverflowTheStack) {
  // libyaml's parser keeps its own stacks, so depth cannot overflow ours; but its time grows
  // with the square of the depth (100,000 levels took 41 s), which is why ParseSpecFile runs
  // CheckNesting first and rejects anything past 64 levels.
  std::string deep(3000, '[');
  deep += std::string(3000, ']');
  EXPECT_TRUE(YamlTree::Parse(deep));
}

}  // namespace yaml_tree_test
}  // namespace sluice
