#include "common/masker.h"

#include <gtest/gtest.h>

#include <random>

namespace sluice {
namespace masker_test {

// Feeds `text` to a stream in pieces of `piece` bytes and returns what it wrote.
std::string Streamed(const std::vector<std::string>& values, std::string_view text, size_t piece) {
  MaskStream s(std::make_shared<Masker>(values));
  std::string out;
  for (size_t i = 0; i < text.size(); i += piece) s.Feed(text.substr(i, piece), &out);
  s.Finish(&out);
  return out;
}

TEST(Masker, MasksEveryOccurrence) {
  Masker m({"hunter2"});
  EXPECT_EQ(m.Mask("pw=hunter2 again hunter2"), "pw=*** again ***");
  EXPECT_EQ(m.Mask("nothing here"), "nothing here");
  EXPECT_EQ(m.Mask(""), "");
  EXPECT_TRUE(m.Contains("xhunter2x"));
  EXPECT_FALSE(m.Contains("hunter"));
}

TEST(Masker, MasksAValueSplitAcrossChunksOfEverySize) {
  const std::string text = "before s3cr3t-VALUE middle s3cr3t-VALUEs3cr3t-VALUE after";
  // Two occurrences side by side are one masked run.
  const std::string want = "before *** middle *** after";
  for (size_t piece = 1; piece <= text.size(); ++piece) {
    EXPECT_EQ(Streamed({"s3cr3t-VALUE"}, text, piece), want) << "piece " << piece;
  }
}

TEST(Masker, MasksTheUnionOfOverlappingValues) {
  // "abcd" and "cdef" overlap in "abcdef": no byte of either may stay.
  EXPECT_EQ(Masker({"abcd", "cdef"}).Mask("xabcdefx"), "x***x");
  for (size_t piece = 1; piece <= 8; ++piece) {
    EXPECT_EQ(Streamed({"abcd", "cdef"}, "xabcdefx", piece), "x***x") << "piece " << piece;
  }
}

TEST(Masker, AValueInsideAnotherMasksTheLongerWhole) {
  Masker m({"tok", "token-123"});
  EXPECT_EQ(m.Mask("a token-123 and a tok"), "a *** and a ***");
  EXPECT_EQ(Streamed({"tok", "token-123"}, "a token-123 and a tok", 1), "a *** and a ***");
}

TEST(Masker, MasksEachLineOfAMultiLineValue) {
  Masker m({"-----BEGIN KEY-----\nAAAABBBB\nCCCC\r\nxy\n-----END KEY-----"});
  EXPECT_EQ(m.Mask("line: AAAABBBB"), "line: ***");
  EXPECT_EQ(m.Mask("line: CCCC."), "line: ***.");
  EXPECT_EQ(m.Mask("xy stays"), "xy stays");  // lines under 4 bytes alone are not masked
}

TEST(Masker, KeepsTheNewlineAFileValueEndsWith) {
  EXPECT_EQ(Masker({"key-from-file\n"}).Mask("key-from-file\nnext line"), "***\nnext line");
}

TEST(Masker, EmptyValuesMaskNothing) {
  Masker m({"", ""});
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.Mask("abc"), "abc");
  EXPECT_EQ(Streamed({""}, "abc", 1), "abc");
}

// Random texts built from pieces of the values, streamed in random pieces, agree with the
// whole-text mask and never keep a value.
TEST(Masker, StreamedAndWholeAgreeOnRandomTexts) {
  const std::vector<std::string> values = {"aab", "abab", "ba", "bbbbbb"};
  Masker m(values);
  std::mt19937 rng(7);
  for (int round = 0; round < 500; ++round) {
    std::string text;
    int n = static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) text.push_back("abx"[rng() % 3]);
    std::string whole = m.Mask(text);
    MaskStream s(std::make_shared<Masker>(values));
    std::string out;
    for (size_t i = 0; i < text.size();) {
      size_t piece = 1 + rng() % 5;
      s.Feed(std::string_view(text).substr(i, piece), &out);
      i += piece;
    }
    s.Finish(&out);
    ASSERT_EQ(out, whole) << text;
    for (const auto& v : values) {
      // What is left outside the masks never holds a value.
      std::string plain = whole;
      for (size_t at; (at = plain.find("***")) != std::string::npos;) plain.replace(at, 3, "|");
      ASSERT_EQ(plain.find(v), std::string::npos) << text << " -> " << whole;
    }
  }
}

}  // namespace masker_test
}  // namespace sluice
