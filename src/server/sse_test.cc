#include "server/sse.h"

#include <gtest/gtest.h>

namespace sluice {
namespace sse_test {

TEST(SseParser, ReadsMessagesCutAnywhereAndSkipsKeepAlives) {
  const std::string stream =
      ": keep-alive\n\nid: 7\nevent: attempt.finished\ndata: {\"seq\":7}\n\n"
      "id: 8\r\nevent: run.finished\r\ndata: a\r\ndata: b\r\n\r\n";
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    SseParser p;
    auto got = p.Feed(std::string_view(stream).substr(0, cut));
    auto rest = p.Feed(std::string_view(stream).substr(cut));
    got.insert(got.end(), rest.begin(), rest.end());
    ASSERT_EQ(got.size(), 2u) << "cut at " << cut;
    EXPECT_EQ(got[0].id, "7");
    EXPECT_EQ(got[0].event, "attempt.finished");
    EXPECT_EQ(got[0].data, "{\"seq\":7}");
    EXPECT_EQ(got[1].id, "8");
    EXPECT_EQ(got[1].event, "run.finished");
    EXPECT_EQ(got[1].data, "a\nb");
  }
}

TEST(SseParser, HoldsAnUnfinishedMessageUntilItsBlankLine) {
  SseParser p;
  EXPECT_TRUE(p.Feed("id: 1\ndata: x\n").empty());
  auto got = p.Feed("\n");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].event, "message");
}

TEST(SseParser, DispatchesNoMessageWithoutData) {
  SseParser p;
  EXPECT_TRUE(p.Feed("id: 3\nevent: x\n\n: c\n\n").empty());
  auto got = p.Feed("data:no space\n\n");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].data, "no space");
  EXPECT_EQ(got[0].id, "");  // each message its own id: the follower keeps its position
}

}  // namespace sse_test
}  // namespace sluice
