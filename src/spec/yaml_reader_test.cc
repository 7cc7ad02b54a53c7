// MapKeys answers as YNode's operator[] does: the first scalar key that matches.
#include "spec/yaml_reader.h"

#include <gtest/gtest.h>

namespace sluice {
namespace yaml_reader_test {

TEST(MapKeys, FindsTheFirstMatchLikeTheNode) {
  auto t = YamlTree::Parse("{a: 1, [x]: 2, b: 3, a: 4}\n");
  ASSERT_TRUE(t);
  YNode m = (*t)->documents()[0];
  MapKeys k(m);
  EXPECT_EQ(k["a"].Scalar(), "1");
  EXPECT_EQ(k["b"].Scalar(), "3");
  EXPECT_FALSE(k["c"]);
  EXPECT_FALSE(k[""]);  // a non-scalar key matches nothing
  EXPECT_EQ(k["a"].Mark().column, m["a"].Mark().column);
}

TEST(MapKeys, LargeMapsAndNonMapsFallBackToTheNode) {
  std::string text = "{";
  for (int i = 0; i < 40; ++i) text += fmt::format("{}k{}: {}", i ? ", " : "", i, i);
  text += "}\n";
  auto t = YamlTree::Parse(text);
  ASSERT_TRUE(t);
  MapKeys k((*t)->documents()[0]);
  EXPECT_EQ(k["k39"].Scalar(), "39");
  EXPECT_FALSE(k["k40"]);
  auto s = YamlTree::Parse("[a, b]\n");
  ASSERT_TRUE(s);
  EXPECT_FALSE(MapKeys((*s)->documents()[0])["a"]);
}

}  // namespace yaml_reader_test
}  // namespace sluice
