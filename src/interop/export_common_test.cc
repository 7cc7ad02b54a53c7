// The exporters' YAML writer and names: what EmitYaml writes reads back (with libyaml) as the
// same strings, numbers and structure.
#include "interop/export_common.h"

#include <gtest/gtest.h>

#include "spec/yaml_tree.h"

namespace sluice {
namespace export_common_test {

TEST(ExportYaml, StringsReadBackAsTheSameStrings) {
  const std::vector<std::string> texts = {
      "true", "No", "1.0", "-e", "a: b", "#x", "", "multi\nline\n", "two\n\n", "end\nno newline",
      " lead\nx", "{{inputs.parameters.x}}", "python:3.12-slim", "null", "~", "x #y", "tab\there",
      "quote\"s", "[1]", "@at", "plain words", "trailing: ", ".5", "0x1F", "/usr/bin/python3"};
  YamlNode root;
  YamlNode& list = ListAt(root, "list");
  for (const auto& t : texts) list.Add(t);
  for (size_t i = 0; i < texts.size(); ++i) root[fmt::format("k{}", i)] = texts[i];
  std::string yaml = EmitYaml(root);
  auto tree = YamlTree::Parse(yaml);
  ASSERT_TRUE(tree) << tree.error().message << "\n" << yaml;
  YNode doc = (*tree)->documents()[0];
  ASSERT_EQ(doc["list"].size(), texts.size()) << yaml;
  for (size_t i = 0; i < texts.size(); ++i) {
    YNode item = doc["list"].Item(i);
    EXPECT_EQ(item.Scalar(), texts[i]) << yaml;
    EXPECT_TRUE(item.IsQuotedOrString() || item.IsScalar()) << texts[i];
    EXPECT_EQ(doc[fmt::format("k{}", i)].Scalar(), texts[i]) << yaml;
  }
}

TEST(ExportYaml, NumbersBoolsAndNestedCollectionsKeepTheirShape) {
  YamlNode root;
  root["n"] = 3;
  root["d"] = 0.5;
  root["b"] = false;
  root["empty_map"] = YamlNode();
  root["empty_list"] = YamlNode::List();
  YamlNode& steps = ListAt(root, "steps");
  YamlNode group = YamlNode::List();
  YamlNode step;
  step["name"] = "a";
  step["args"] = YamlNode::List();
  step["args"].Add("x");
  group.Add(step);
  steps.Add(group);
  root["value"] = YamlNode::FromValue(Value(ValueMap{{Value("k"), Value(ValueList{Value(1), Value("s")})}}));
  std::string yaml = EmitYaml(root);
  auto tree = YamlTree::Parse(yaml);
  ASSERT_TRUE(tree) << tree.error().message << "\n" << yaml;
  YNode doc = (*tree)->documents()[0];
  EXPECT_EQ(doc["n"].Scalar(), "3");
  EXPECT_FALSE(doc["n"].IsQuotedOrString());
  EXPECT_EQ(doc["d"].Scalar(), "0.5");
  EXPECT_EQ(doc["b"].Scalar(), "false");
  EXPECT_TRUE(doc["empty_map"].IsMap());
  EXPECT_EQ(doc["empty_list"].size(), 0u);
  EXPECT_EQ(doc["steps"].Item(0).Item(0)["name"].Scalar(), "a") << yaml;
  EXPECT_EQ(doc["steps"].Item(0).Item(0)["args"].Item(0).Scalar(), "x") << yaml;
  EXPECT_EQ(doc["value"]["k"].Item(1).Scalar(), "s") << yaml;
}

TEST(ExportNames, TargetNamesAreLowerCaseWordsAndUnique) {
  EXPECT_EQ(TargetName("Train_Model"), "train-model");
  EXPECT_EQ(TargetName("1st"), "t-1st");
  EXPECT_EQ(TargetName("a..b--c_"), "a-b-c");
  NameTable names;
  EXPECT_EQ(names.Unique("a"), "a");
  EXPECT_EQ(names.Unique("A"), "a-2");
  EXPECT_EQ(names.Unique("a"), "a-3");
}

}  // namespace export_common_test
}  // namespace sluice
