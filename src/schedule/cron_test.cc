#include "schedule/cron.h"

#include <filesystem>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "env/env.h"

namespace sluice {
namespace cron_test {

// The system's tz database (Debian's tzdata, which scripts/deps.sh installs): the DST tests
// need real zone rules, so a missing database fails them rather than skipping them.
const TimeZones* Zones() {
  static std::unique_ptr<TimeZones> zones = NewSystemTimeZones();
  return zones.get();
}

CronSchedule In(std::string_view expr, const std::string& zone = "UTC") {
  auto e = ParseCron(expr);
  EXPECT_TRUE(e) << expr << ": " << e.error().message;
  auto s = CronSchedule::Make(*e, zone, Zones());
  EXPECT_TRUE(s) << zone << ": " << (s ? "" : s.error().message);
  return *s;
}

int64_t At(std::string_view rfc3339) {
  auto t = ParseInstant(rfc3339, In("* * * * *"));
  EXPECT_TRUE(t) << rfc3339;
  return *t;
}

std::string Utc(std::optional<int64_t> t) { return t ? FormatLocal(*t, 0) : "none"; }

// The next `n` fire times after `from`, as UTC text.
std::vector<std::string> NextN(const CronSchedule& s, std::string_view from, int n) {
  std::vector<std::string> out;
  std::optional<int64_t> t = At(from);
  for (int i = 0; i < n && t; ++i) {
    t = s.Next(*t);
    out.push_back(Utc(t));
  }
  return out;
}

std::string ErrorOf(std::string_view expr) {
  auto e = ParseCron(expr);
  return e ? "parsed" : e.error().message;
}

TEST(Cron, TheZoneDatabaseIsInstalled) {
  ASSERT_TRUE(std::filesystem::exists("/usr/share/zoneinfo/Europe/Paris"))
      << "install Debian's tzdata (scripts/deps.sh does)";
}

TEST(Cron, ReadsListsRangesStepsAndNames) {
  auto e = ParseCron("0,30 */6 1-10/3 jan,JUL mon-fri");
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->minutes.count(), 2u);
  EXPECT_TRUE(e->hours[0] && e->hours[6] && e->hours[12] && e->hours[18] && !e->hours[3]);
  EXPECT_TRUE(e->days[1] && e->days[4] && e->days[7] && e->days[10] && !e->days[2]);
  EXPECT_TRUE(e->months[1] && e->months[7] && !e->months[2]);
  EXPECT_EQ(e->weekdays.to_string(), "0111110");
  EXPECT_TRUE(e->wildcard);  // the hour field "*/6" starts with *
  auto w = ParseCron("5/20 * * * 7");
  ASSERT_TRUE(w);
  EXPECT_TRUE(w->minutes[5] && w->minutes[25] && w->minutes[45] && !w->minutes[0]);
  EXPECT_TRUE(w->weekdays[0]);  // 7 is Sunday
  EXPECT_TRUE(w->wildcard);
  auto sat_sun = ParseCron("0 0 * * 6-7");
  ASSERT_TRUE(sat_sun);
  EXPECT_EQ(sat_sun->weekdays.to_string(), "1000001");
}

TEST(Cron, MacrosAreTheirFiveFieldForms) {
  const std::pair<const char*, const char*> kPairs[] = {
      {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
      {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
      {"@hourly", "0 * * * *"}};
  for (const auto& [macro, form] : kPairs) {
    EXPECT_EQ(NextN(In(macro), "2026-05-17T10:20:00Z", 3), NextN(In(form), "2026-05-17T10:20:00Z", 3))
        << macro;
  }
  EXPECT_EQ(NextN(In("@weekly"), "2026-05-17T10:20:00Z", 1)[0], "2026-05-24T00:00:00+00:00");
}

TEST(Cron, ErrorsNameTheFieldTheTextAndTheColumn) {
  EXPECT_EQ(ErrorOf("61 * * * *"), "column 1: minute field: \"61\" is out of range 0-59");
  EXPECT_EQ(ErrorOf("0 25 * * *"), "column 3: hour field: \"25\" is out of range 0-23");
  EXPECT_EQ(ErrorOf("0 0 * * 1-fri,8"), "column 15: day-of-week field: \"8\" is out of range "
                                          "0-7 or sun-sat");
  EXPECT_EQ(ErrorOf("0 0 1 jan-foo *"), "column 11: month field: \"foo\" is not a number or a "
                                          "name (1-12 or jan-dec)");
  EXPECT_EQ(ErrorOf("*/0 * * * *"), "column 3: minute field: step \"0\" must be a number from 1 to 60");
  EXPECT_EQ(ErrorOf("0 20-4 * * *"), "column 3: hour field: range \"20-4\" goes backwards (write "
                                       "20-23,0-4)");
  EXPECT_EQ(ErrorOf("0 1,,2 * * *"), "column 5: hour field: an empty item in a list (two commas, "
                                       "or a trailing one)");
  EXPECT_EQ(ErrorOf("0 0 * *"), "column 8: expected 5 fields (minute hour day-of-month month "
                                  "day-of-week) or a macro such as @daily, found 4");
  EXPECT_EQ(ErrorOf("0 0 0 * * *"), "column 11: expected 5 fields (minute hour day-of-month month "
                                      "day-of-week) or a macro such as @daily, found 6 (there is "
                                      "no seconds field)");
  EXPECT_EQ(ErrorOf("0 0 ? * mon"), "column 5: day-of-month field: \"?\" is not cron syntax here; "
                                      "write \"*\"");
  EXPECT_NE(ErrorOf("@dayly").find("unknown macro \"@dayly\""), std::string::npos);
  EXPECT_NE(ErrorOf("@dayly").find("did you mean \"@daily\""), std::string::npos);
  EXPECT_NE(ErrorOf("0 0 30 2 *").find("column 5: day-of-month field: no day it names exists"),
            std::string::npos);
  EXPECT_EQ(ErrorOf("0 0 30 2 mon"), "parsed");  // either day field: every Monday of February
  EXPECT_EQ(ErrorOf(""), "column 1: expected 5 fields (minute hour day-of-month month "
                         "day-of-week) or a macro such as @daily, found 0");
  EXPECT_EQ(ErrorOf("0 0 99999999999 * *"), "column 5: day-of-month field: \"99999999999\" is "
                                             "out of range 1-31");
}

TEST(Cron, BothDayFieldsRestrictedMatchEitherDay) {
  // The 13th of each month, and every Friday (Vixie cron's rule).
  EXPECT_EQ(NextN(In("0 0 13 * 5"), "2026-02-01T00:00:00Z", 4),
            (std::vector<std::string>{"2026-02-06T00:00:00+00:00", "2026-02-13T00:00:00+00:00",
                                      "2026-02-20T00:00:00+00:00", "2026-02-27T00:00:00+00:00"}));
  EXPECT_EQ(NextN(In("0 0 13 * 5"), "2026-03-07T00:00:00Z", 2),
            (std::vector<std::string>{"2026-03-13T00:00:00+00:00", "2026-03-20T00:00:00+00:00"}));
  // A day field that starts with * does not count as restricted: both must match.
  EXPECT_EQ(NextN(In("0 0 */10 * 5"), "2026-01-01T00:00:00Z", 2),
            (std::vector<std::string>{"2026-05-01T00:00:00+00:00", "2026-07-31T00:00:00+00:00"}));
}

TEST(Cron, NextAndPrevInUtc) {
  EXPECT_EQ(NextN(In("*/15 * * * *"), "2026-05-17T10:07:30Z", 3),
            (std::vector<std::string>{"2026-05-17T10:15:00+00:00", "2026-05-17T10:30:00+00:00",
                                      "2026-05-17T10:45:00+00:00"}));
  EXPECT_EQ(NextN(In("0 0 29 2 *"), "2026-01-01T00:00:00Z", 2),
            (std::vector<std::string>{"2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00"}));
  EXPECT_EQ(Utc(In("0 0 29 2 *").Next(At("2096-03-01T00:00:00Z"))), "2104-02-29T00:00:00+00:00");
  EXPECT_EQ(Utc(In("*/15 * * * *").Prev(At("2026-05-17T10:15:00Z"))), "2026-05-17T10:00:00+00:00");
  EXPECT_EQ(Utc(In("0 9 * * mon").Prev(At("2026-05-17T10:15:00Z"))), "2026-05-11T09:00:00+00:00");
}

// Europe/Paris, 2026: 02:00 CET becomes 03:00 CEST on March 29 (01:00 UTC); 03:00 CEST
// becomes 02:00 CET on October 25 (01:00 UTC), so 02:00-03:00 happens twice.
TEST(Cron, ADailyJobInTheSpringGapRunsWhenTheClockJumps) {
  EXPECT_EQ(NextN(In("30 2 * * *", "Europe/Paris"), "2026-03-27T12:00:00Z", 4),
            (std::vector<std::string>{"2026-03-28T01:30:00+00:00",   // 02:30 CET
                                      "2026-03-29T01:00:00+00:00",   // 03:00 CEST: the jump
                                      "2026-03-30T00:30:00+00:00",   // 02:30 CEST
                                      "2026-03-31T00:30:00+00:00"}));
  EXPECT_EQ(Utc(In("30 2 * * *", "Europe/Paris").Prev(At("2026-03-30T00:30:00Z"))),
            "2026-03-29T01:00:00+00:00");
}

TEST(Cron, ADailyJobInTheRepeatedHourRunsOnce) {
  EXPECT_EQ(NextN(In("30 2 * * *", "Europe/Paris"), "2026-10-24T12:00:00Z", 2),
            (std::vector<std::string>{"2026-10-25T00:30:00+00:00",   // 02:30 CEST, the first
                                      "2026-10-26T01:30:00+00:00"}));
  EXPECT_EQ(Utc(In("30 2 * * *", "Europe/Paris").Prev(At("2026-10-26T01:30:00Z"))),
            "2026-10-25T00:30:00+00:00");
}

TEST(Cron, HourlyJobsKeepTheirCadenceInElapsedTime) {
  // Spring: 02:00 and 02:30 do not exist; every fire is an hour after the last.
  EXPECT_EQ(NextN(In("0 * * * *", "Europe/Paris"), "2026-03-28T23:30:00Z", 3),
            (std::vector<std::string>{"2026-03-29T00:00:00+00:00", "2026-03-29T01:00:00+00:00",
                                      "2026-03-29T02:00:00+00:00"}));
  EXPECT_EQ(NextN(In("30 * * * *", "Europe/Paris"), "2026-03-29T00:00:00Z", 2),
            (std::vector<std::string>{"2026-03-29T00:30:00+00:00", "2026-03-29T01:30:00+00:00"}));
  // Fall: 02:00 happens twice and fires twice.
  EXPECT_EQ(NextN(In("0 * * * *", "Europe/Paris"), "2026-10-24T22:30:00Z", 4),
            (std::vector<std::string>{"2026-10-24T23:00:00+00:00", "2026-10-25T00:00:00+00:00",
                                      "2026-10-25T01:00:00+00:00", "2026-10-25T02:00:00+00:00"}));
  EXPECT_EQ(Utc(In("0 * * * *", "Europe/Paris").Prev(At("2026-10-25T01:00:00Z"))),
            "2026-10-25T00:00:00+00:00");
}

// America/New_York, 2026: 02:00 EST becomes 03:00 EDT on March 8 (07:00 UTC); 02:00 EDT
// becomes 01:00 EST on November 1 (06:00 UTC), so 01:00-02:00 happens twice.
TEST(Cron, NewYorkTransitionsInBothDirections) {
  auto daily = In("30 2 * * *", "America/New_York");
  EXPECT_EQ(NextN(daily, "2026-03-07T12:00:00Z", 3),
            (std::vector<std::string>{"2026-03-08T07:00:00+00:00",   // 03:00 EDT: the jump
                                      "2026-03-09T06:30:00+00:00",   // 02:30 EDT
                                      "2026-03-10T06:30:00+00:00"}));
  EXPECT_EQ(NextN(In("30 1 * * *", "America/New_York"), "2026-10-31T12:00:00Z", 2),
            (std::vector<std::string>{"2026-11-01T05:30:00+00:00",   // 01:30 EDT, the first
                                      "2026-11-02T06:30:00+00:00"}));
  EXPECT_EQ(NextN(In("30 * * * *", "America/New_York"), "2026-11-01T05:00:00Z", 3),
            (std::vector<std::string>{"2026-11-01T05:30:00+00:00",   // 01:30 EDT
                                      "2026-11-01T06:30:00+00:00",   // 01:30 EST
                                      "2026-11-01T07:30:00+00:00"}));
  EXPECT_EQ(NextN(In("0 * * * *", "America/New_York"), "2026-03-08T06:00:00Z", 2),
            (std::vector<std::string>{"2026-03-08T07:00:00+00:00", "2026-03-08T08:00:00+00:00"}));
}

TEST(Cron, PrevUndoesNextAcrossAYearOfTransitions) {
  for (const char* zone : {"Europe/Paris", "America/New_York", "Australia/Lord_Howe", "UTC"}) {
    for (const char* expr : {"30 2 * * *", "0 * * * *", "*/20 1-3 * * *", "0 0 * * sun", "15 1 1 * *"}) {
      auto s = In(expr, zone);
      std::vector<int64_t> fwd;
      for (auto t = s.Next(At("2026-01-01T00:00:00Z")); t && fwd.size() < 1200 && *t < At("2027-01-01T00:00:00Z");
           t = s.Next(*t)) {
        ASSERT_TRUE(fwd.empty() || *t > fwd.back());
        fwd.push_back(*t);
      }
      ASSERT_FALSE(fwd.empty());
      for (size_t i = fwd.size() - 1; i > 0; --i) {
        ASSERT_EQ(Utc(s.Prev(fwd[i])), Utc(fwd[i - 1])) << zone << " " << expr;
      }
    }
  }
}

TEST(Cron, UnknownZonesAreRefused) {
  auto e = ParseCron("@daily");
  ASSERT_TRUE(e);
  auto s = CronSchedule::Make(*e, "Europe/Pariss", Zones());
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("unknown time zone \"Europe/Pariss\""), std::string::npos);
  EXPECT_TRUE(CronSchedule::Make(*e, "UTC", nullptr));  // UTC needs no database
}

TEST(Cron, ParsesInstantsInTheSchedulesZone) {
  auto paris = In("@daily", "Europe/Paris");
  EXPECT_EQ(Utc(ParseInstant("2026-03-29", paris).value()), "2026-03-28T23:00:00+00:00");
  EXPECT_EQ(Utc(ParseInstant("2026-07-01T12:30", paris).value()), "2026-07-01T10:30:00+00:00");
  EXPECT_EQ(Utc(ParseInstant("2026-07-01 12:30:15", paris).value()), "2026-07-01T10:30:15+00:00");
  EXPECT_EQ(Utc(ParseInstant("2026-03-29T02:30", paris).value()), "2026-03-29T01:00:00+00:00");
  EXPECT_EQ(Utc(ParseInstant("2026-07-01T12:30:00Z", paris).value()), "2026-07-01T12:30:00+00:00");
  EXPECT_EQ(Utc(ParseInstant("2026-07-01T12:30:00-04:00", paris).value()), "2026-07-01T16:30:00+00:00");
  for (const char* bad : {"", "yesterday", "2026-13-01", "2026-07-01T25:00", "2026-07-01T12:30:00+1",
                          "2026-07-01T12:30:00ZZ", "2026-07-01X"}) {
    EXPECT_FALSE(ParseInstant(bad, paris)) << bad;
  }
  EXPECT_EQ(FormatLocal(At("2026-03-29T01:00:00Z"), 7200), "2026-03-29T03:00:00+02:00");
  EXPECT_EQ(FormatLocal(At("2026-03-29T01:00:00Z"), -16200), "2026-03-28T20:30:00-04:30");
}

}  // namespace cron_test
}  // namespace sluice
