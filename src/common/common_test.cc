#include <gtest/gtest.h>

#include <vector>

#include "common/sha256.h"
#include "common/strings.h"
#include "common/value.h"

namespace sluice {

TEST(Sha256, MatchesKnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::string million(1000000, 'a');
  EXPECT_EQ(Sha256Hex(million),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  Sha256 h;  // streaming in odd pieces gives the same digest
  for (size_t i = 0; i < million.size(); i += 777) h.Update(std::string_view(million).substr(i, 777));
  EXPECT_EQ(h.HexDigest(), Sha256Hex(million));
}

// The CPU's SHA instructions (where present) and the portable code agree on every length
// around the block and padding boundaries, on the known vectors above, and streamed.
// RFC 4231's test cases 1, 2 and 6 (a key longer than a block is hashed first).
TEST(Sha256, HmacMatchesRfc4231) {
  EXPECT_EQ(HmacSha256Hex(std::string(20, '\x0b'), "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(HmacSha256Hex(std::string(131, '\xaa'),
                          "Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(Sha256, AcceleratedAndPortableAgree) {
  std::string data;
  for (int i = 0; i < 4200; ++i) data.push_back(static_cast<char>((i * 131 + 7) & 0xff));
  std::vector<size_t> lengths = {0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 1000, 4200};
  for (size_t n : lengths) {
    std::string_view piece = std::string_view(data).substr(0, n);
    Sha256::UseAcceleration(false);
    std::string portable = Sha256Hex(piece);
    Sha256::UseAcceleration(true);
    EXPECT_EQ(Sha256Hex(piece), portable) << n;
  }
  Sha256::UseAcceleration(false);
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  Sha256::UseAcceleration(true);
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Strings, ParsesDurations) {
  EXPECT_EQ(ParseDurationMs("250ms"), 250);
  EXPECT_EQ(ParseDurationMs("1h30m"), 5400000);
  EXPECT_EQ(ParseDurationMs("2"), 2000);
  EXPECT_EQ(ParseDurationMs("1.5s"), 1500);
  EXPECT_FALSE(ParseDurationMs("5 parsecs"));
  EXPECT_FALSE(ParseDurationMs(""));
  EXPECT_FALSE(ParseDurationMs("1x"));
}

TEST(Strings, ParsesQuantities) {
  EXPECT_EQ(ParseQuantity("512Mi"), 512.0 * 1048576);
  EXPECT_EQ(ParseQuantity("500m"), 0.5);
  EXPECT_EQ(ParseQuantity("2"), 2.0);
  EXPECT_FALSE(ParseQuantity("lots"));
}

TEST(Strings, SuggestsCloseNames) {
  std::vector<std::string> keys = {"name", "needs", "retry", "timeout"};
  EXPECT_EQ(ClosestMatch("retires", keys), std::optional<std::string>("retry"));
  EXPECT_EQ(ClosestMatch("timout", keys), std::optional<std::string>("timeout"));
  EXPECT_FALSE(ClosestMatch("banana", keys));
}

TEST(Strings, DetectsBinaryAndBadUtf8) {
  EXPECT_TRUE(IsTextUtf8("héllo wörld ✓"));
  EXPECT_FALSE(IsTextUtf8(std::string("a\0b", 3)));
  EXPECT_FALSE(IsTextUtf8("\xff\xfe"));
  EXPECT_FALSE(IsTextUtf8("\xc3"));
  EXPECT_FALSE(IsTextUtf8("\xc0\xaf"));
  EXPECT_FALSE(IsTextUtf8("\xe0\x80\xaf"));      // overlong
  EXPECT_FALSE(IsTextUtf8("\xed\xa0\x80"));      // a surrogate
  EXPECT_FALSE(IsTextUtf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_TRUE(IsTextUtf8("\xf4\x8f\xbf\xbf"));   // U+10FFFF
}

TEST(Strings, ReplacesWhatIsNotTextWithTheReplacementCharacter) {
  EXPECT_EQ(ReplaceNonText(std::string("a\0b\xff\xc3é", 7)), "a\uFFFDb\uFFFD\uFFFDé");
  EXPECT_EQ(ReplaceNonText("plain ✓"), "plain ✓");
}

// JSON is UTF-8: what a task wrote that is not becomes U+FFFD, never invalid JSON.
TEST(Value, JsonOfBytesThatAreNotUtf8IsStillUtf8) {
  EXPECT_EQ(Value(std::string("x\xffy ✓")).ToJson(), "\"x\uFFFDy ✓\"");
}

}  // namespace sluice
