// Time zones: the TZif reader on a file built here, and the system's tz database.
#include "common/time_zone.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "env/env.h"

namespace sluice {
namespace time_zone_test {

void Put(std::string& s, int64_t v, int width) {
  for (int k = width - 1; k >= 0; --k) s += static_cast<char>((v >> (8 * k)) & 0xff);
}

// A version-2 TZif file: types {+1h std, +2h dst}; transitions at t=1000 (to dst) and t=2000
// (to std); footer `footer`. The 32-bit block holds no transitions, as `zic -b slim` writes.
std::string Tzif(const std::string& footer) {
  std::string v1 = "TZif2" + std::string(15, '\0');
  for (int64_t c : {0, 0, 0, 0, 1, 4}) Put(v1, c, 4);
  Put(v1, 3600, 4);
  v1 += std::string("\0\0", 2);
  v1 += std::string("CET\0", 4);
  std::string v2 = "TZif2" + std::string(15, '\0');
  for (int64_t c : {0, 0, 0, 2, 2, 9}) Put(v2, c, 4);
  Put(v2, 1000, 8);
  Put(v2, 2000, 8);
  v2 += std::string("\1\0", 2);
  Put(v2, 3600, 4);
  v2 += std::string("\0\0", 2);
  Put(v2, 7200, 4);
  v2 += std::string("\1\4", 2);
  v2 += std::string("CET\0CEST\0", 9);
  return v1 + v2 + "\n" + footer + "\n";
}

TEST(TimeZone, ReadsTransitionsAndTheFooterRule) {
  auto z = ZoneRules::Parse(Tzif("CET-1CEST,M3.5.0,M10.5.0/3"));
  ASSERT_TRUE(z) << z.error().message;
  EXPECT_EQ(z->OffsetAt(500), 3600);   // before the first transition: type 0
  EXPECT_EQ(z->OffsetAt(1500), 7200);  // between the transitions
  // After the last transition the POSIX rule decides: EU summer time, last Sunday of March
  // 01:00 UTC to last Sunday of October 01:00 UTC.
  const int64_t jan_2030 = 1893456000, jul_2030 = 1909094400;
  EXPECT_EQ(z->OffsetAt(jan_2030), 3600);
  EXPECT_EQ(z->OffsetAt(jul_2030), 7200);
  const int64_t change_2030 = 1901149200;  // 2030-03-31T01:00:00Z, the last Sunday of March
  EXPECT_EQ(z->OffsetAt(change_2030 - 1), 3600);
  EXPECT_EQ(z->OffsetAt(change_2030), 7200);
}

TEST(TimeZone, ASouthernRuleWrapsTheYear) {
  // Australia/Sydney: +10, +11 from the first Sunday of October to the first of April.
  auto z = ZoneRules::Parse(Tzif("AEST-10AEDT,M10.1.0,M4.1.0/3"));
  ASSERT_TRUE(z);
  EXPECT_EQ(z->OffsetAt(1893456000), 11 * 3600);  // January 2030: summer
  EXPECT_EQ(z->OffsetAt(1909224000), 10 * 3600);  // July 2030: winter
}

TEST(TimeZone, RejectsMalformedFiles) {
  std::string good = Tzif("CET-1CEST,M3.5.0,M10.5.0/3");
  EXPECT_FALSE(ZoneRules::Parse(""));
  EXPECT_FALSE(ZoneRules::Parse("TZif2"));
  EXPECT_FALSE(ZoneRules::Parse("XXXX" + good.substr(4)));
  for (size_t cut : {20u, 44u, 60u, 90u}) EXPECT_FALSE(ZoneRules::Parse(good.substr(0, cut))) << cut;
  // Every single-byte corruption is parsed or refused, never a crash (ASan checks the reads).
  for (size_t k = 0; k < good.size(); ++k) {
    std::string bad = good;
    bad[k] = static_cast<char>(bad[k] ^ 0x5a);
    (void)ZoneRules::Parse(bad);
  }
  auto no_footer = ZoneRules::Parse(Tzif("garbage,,"));
  ASSERT_TRUE(no_footer);  // an unreadable footer is ignored: the last transition stands
  EXPECT_EQ(no_footer->OffsetAt(1909224000), 3600);
}

TEST(TimeZone, TheSystemDatabaseKnowsNamedZones) {
  const char* root = "/usr/share/zoneinfo";
  if (!std::filesystem::exists(std::string(root) + "/America/Chicago")) {
    GTEST_SKIP() << "NO TZ DATABASE at " << root << " (Debian package tzdata): named zones untested";
  }
  auto zones = NewSystemTimeZones(root);
  EXPECT_EQ(zones->OffsetAt("America/Chicago", 1234567890), -6 * 3600);  // February 2009: CST
  EXPECT_EQ(zones->OffsetAt("US/Central", 1246406400), -5 * 3600);       // July 2009: CDT
  EXPECT_EQ(zones->OffsetAt("Asia/Kathmandu", 1234567890), 5 * 3600 + 45 * 60);
  EXPECT_EQ(zones->OffsetAt("America/New_York", 2224713600), -4 * 3600);  // July 2040: footer
  for (const char* bad : {"Mars/Olympus", "../zoneinfo/UTC", "/etc/passwd", "", "a b"}) {
    EXPECT_FALSE(zones->OffsetAt(bad, 0)) << bad;
  }
}

}  // namespace time_zone_test
}  // namespace sluice
