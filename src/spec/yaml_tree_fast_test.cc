// The fast reader against libyaml: wherever ParseFast accepts a text, its tree must equal
// libyaml's (types, texts, styles, positions, order); outside its subset it must give up.
#include "spec/yaml_tree.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace sluice {
namespace yaml_tree_fast_test {

// "" when equal, otherwise where they first differ.
std::string Diff(const YNode& a, const YNode& b, const std::string& path) {
  if (a.type() != b.type()) return path + ": type";
  if (a.Mark().line != b.Mark().line || a.Mark().column != b.Mark().column) {
    return fmt::format("{}: mark {}:{} vs {}:{}", path, a.Mark().line, a.Mark().column,
                       b.Mark().line, b.Mark().column);
  }
  if (a.IsQuotedOrString() != b.IsQuotedOrString()) return path + ": style";
  if (a.Scalar() != b.Scalar()) return path + ": text";
  if (a.size() != b.size()) return path + ": size";
  for (size_t i = 0; i < a.size(); ++i) {
    auto ea = *YNode::Iterator(a, i), eb = *YNode::Iterator(b, i);
    if (a.IsMap()) {
      if (auto d = Diff(ea.first, eb.first, fmt::format("{}/key{}", path, i)); !d.empty()) return d;
    }
    if (auto d = Diff(ea, eb, fmt::format("{}/{}", path, i)); !d.empty()) return d;
  }
  return "";
}

// Checks one text; returns whether the fast reader accepted it.
bool Check(std::string_view text) {
  auto fast = YamlTree::ParseFast(text);
  auto slow = YamlTree::ParseLibyaml(text);
  if (!fast) return false;
  EXPECT_TRUE(slow) << "fast accepted what libyaml rejects (" << slow.error().message << "):\n"
                    << text;
  if (!slow) return true;
  const auto& fd = fast->documents();
  const auto& sd = (*slow)->documents();
  EXPECT_EQ(fd.size(), sd.size()) << text;
  for (size_t i = 0; i < std::min(fd.size(), sd.size()); ++i) {
    EXPECT_EQ(Diff(fd[i], sd[i], ""), "") << text;
  }
  return true;
}

const char* const kAccepted[] = {
    "a: 1\n",
    "a: 1",
    "a: 1\nb: two\n",
    "apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n  tasks:\n"
    "    - {name: t00000, run: [\"builtin:noop\"]}\n"
    "    - {name: t00001, needs: [t00000], run: [\"builtin:noop\"]}\n",
    "spec:\n  tasks:\n  - name: a\n    run: [echo, hi]\n  - name: b\n    needs: [a]\n"
    "    run:\n      - echo\n      - \"x y\"\nother: 1\n",
    "a:\n- x\n- y\nb: 2\n",
    "- a: 1\n  b:\n  - x\n  c: 3\n- 5\n",
    "- a:\n    b: c\n- {x: [1, 2, {y: z}]}\n",
    "# comment\na: 1  # trailing\n\n   # indented comment\nb:   [ x ,y ]   \n",
    "a: {}\nb: []\nc: [[], {}]\n",
    "a: null\nb: Null\nc: NULL\nd: \"null\"\ne: true\nf: 1.5\ng: 0x1F\n",
    "   a: 1\n   b: 2\n",
    "a: {k:  v,  l: w}\n",
    "x: ./path/to@1.2+3\n",
};

const char* const kRejected[] = {
    "a: 'x'\n", "a: &x 1\nb: *x\n", "a: !!str 1\n", "a: |\n  text\n", "a:\n", "a: b c\n",
    "a: \"x\\ty\"\n", "---\na: 1\n", "a: 1\n---\nb: 2\n", "a:\tb\n", "a: 1\r\n", "? a\n: b\n",
    "a: [x,\n  y]\n", "a: x\n  y\n", "a: [x, ]\n", "a: {b}\n", "a:b\n", "a: b:\n", "\"a\": 1\n",
    "a: 1\n b: 2\n", "a:\n  b: 1\n c: 2\n", "- a\nb: 1\n", "a: # c\n  b: 1\n", "a: é\n",
    "%YAML 1.2\n---\na: 1\n", "a: -x\n", "a: [a]b\n", "...: 1\n", "a: {b: 1}}\n",
    "- - x\n", "k:\n  - - x\n", "-\n  a: 1\n", "a:\n  - x\n  b: 1\n", "a: \"x\ny\"\n",
};

TEST(YamlTreeFast, MatchesLibyamlOnItsSubset) {
  for (const char* text : kAccepted) EXPECT_TRUE(Check(text)) << "not read by the fast path:\n" << text;
}

TEST(YamlTreeFast, GivesUpOutsideItsSubset) {
  for (const char* text : kRejected) {
    EXPECT_FALSE(YamlTree::ParseFast(text)) << "read by the fast path:\n" << text;
  }
}

TEST(YamlTreeFast, LongKeysGoToLibyaml) {
  // libyaml refuses a simple key longer than 1024 characters.
  std::string key(1100, 'k');
  EXPECT_FALSE(Check(key + ": 1\n"));
  EXPECT_FALSE(Check("a: {" + key + ": 1}\n"));
}

// Mutations of accepted texts (a character replaced, inserted or removed, lines swapped): the
// fast reader must either give up or agree with libyaml.
TEST(YamlTreeFast, MutationsEitherMatchOrGiveUp) {
  const std::string alphabet = " \n:-,[]{}\"#ab1.\t'&*!|>?%@~\\";
  uint64_t seed = 42;
  auto next = [&] {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<size_t>(seed >> 33);
  };
  int accepted = 0, total = 0;
  for (const char* base : kAccepted) {
    std::string b(base);
    for (int round = 0; round < 2000; ++round) {
      std::string t = b;
      int edits = 1 + static_cast<int>(next() % 3);
      for (int e = 0; e < edits && !t.empty(); ++e) {
        size_t at = next() % t.size();
        char c = alphabet[next() % alphabet.size()];
        switch (next() % 3) {
          case 0: t[at] = c; break;
          case 1: t.insert(t.begin() + static_cast<long>(at), c); break;
          default: t.erase(at, 1); break;
        }
      }
      ++total;
      accepted += Check(t);
    }
  }
  // Most mutations stay readable by one reader or the other; keep the test meaningful.
  EXPECT_GT(accepted, total / 20);
}

TEST(YamlTreeFast, ParseUsesTheFastPathAndKeepsErrors) {
  auto t = YamlTree::Parse("a: [x, {b: \"c\"}]\n");
  ASSERT_TRUE(t);
  EXPECT_EQ((*t)->documents()[0]["a"].Item(1)["b"].Scalar(), "c");
  auto bad = YamlTree::Parse("a: [x,\n  y\nb: 1\n");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("YAML syntax error"), std::string::npos);
}

}  // namespace yaml_tree_fast_test
}  // namespace sluice
