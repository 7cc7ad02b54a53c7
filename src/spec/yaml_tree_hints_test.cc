// Hints at the fix for the common YAML syntax errors, at the line that holds the mistake.
#include "spec/yaml_tree_hints.h"

#include <gtest/gtest.h>

#include "spec/yaml_tree.h"

namespace sluice {
namespace yaml_tree_hints_test {

// The error message of parsing `text`, or "parsed".
std::string ErrorOf(std::string_view text) {
  auto t = YamlTree::Parse(text);
  return t ? "parsed" : t.error().message;
}

TEST(YamlHints, AColonInAnUnquotedValueShowsTheValueQuoted) {
  EXPECT_EQ(ErrorOf("env:\n  MSG: note: ready\n"),
            "2:12: YAML syntax error: mapping values are not allowed in this context; hint: a "
            "value that holds \": \" must be quoted: MSG: \"note: ready\"");
  EXPECT_EQ(ErrorOf("- a: say \"hi\": now\n"),
            "1:14: YAML syntax error: mapping values are not allowed in this context; hint: a "
            "value that holds \": \" must be quoted: a: \"say \\\"hi\\\": now\"");
}

TEST(YamlHints, ATabInTheIndentationIsNamed) {
  std::string msg = ErrorOf("a:\n  b: 1\n\tc: 2\n");
  EXPECT_NE(msg.find("hint: line 3 is indented with a tab; YAML indents with spaces only"),
            std::string::npos) << msg;
}

TEST(YamlHints, ALineIndentedTooFarIsToldWhereItsBlockIs) {
  EXPECT_EQ(ErrorOf("a:\n  b: {x: 1}\n   c: 2\n"),
            "3:4: YAML syntax error: while parsing a block mapping did not find expected key "
            "(started at 2:3); hint: line 3 is indented 3 spaces, more than the keys of the map "
            "that starts at line 2 (2 spaces): indent it by 2 to make it a key of that map");
  // After a plain value, the deeper line reads as more of that value, up to its ": ".
  EXPECT_EQ(ErrorOf("a:\n  b: 1\n   c: 2\n"),
            "3:5: YAML syntax error: mapping values are not allowed in this context; hint: line 3 "
            "is indented 3 spaces, more than line 2 above it (2), so it reads as the rest of that "
            "line's value: indent it by 2 to make it a key of the same map");
}

TEST(YamlHints, OtherErrorsGetNoHint) {
  YamlProblem p{"found unexpected end of stream", "while scanning a quoted scalar", 0, 5, 0, 3};
  EXPECT_EQ(YamlSyntaxHint("a: \"b\n", p), "");
}

}  // namespace yaml_tree_hints_test
}  // namespace sluice
