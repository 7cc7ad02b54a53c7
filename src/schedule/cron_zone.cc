// The instants a cron expression fires at in a time zone (cron.h: CronSchedule), with the
// daylight-saving rules of cron.h.
//
// The search walks local days (wall-clock dates). A day whose offset is the same from a day
// before it to a day after it (nearly every day) maps wall time to UTC by one subtraction and
// stops at the first fire past the bound; a day with a transition lists every fire with the
// DST rules, sorted. The neighbouring day is also looked at, so that a transition at midnight
// cannot put a later day's fire before an earlier day's.
#include <algorithm>
#include <vector>

#include "common/strings.h"
#include "common/value.h"
#include "schedule/cron.h"

namespace sluice {

namespace {

constexpr int64_t kDay = 86400;
// Feb 29 alone recurs within 8 years (2096 -> 2104); a little more than that.
constexpr int kMaxDays = 366 * 9;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
int Weekday(int64_t day) { return static_cast<int>(((day + 4) % 7 + 7) % 7); }  // 1970-01-01: Thu

// The instants a wall time (local seconds since the epoch) happens at: once; twice at a fall
// back (first < second); or never (a spring-forward gap), when `first` is the instant the clock
// jumped over it.
struct Occurrences {
  int64_t first = 0;
  std::optional<int64_t> second;
  bool gap = false;
};

template <typename OffsetFn>
Occurrences Resolve(int64_t wall, const OffsetFn& offset_at) {
  const int a = offset_at(wall - kDay), b = offset_at(wall + kDay);  // before and after
  const bool a_holds = offset_at(wall - a) == a, b_holds = offset_at(wall - b) == b;
  if (a_holds && b_holds && a != b) {
    return Occurrences{std::min(wall - a, wall - b), std::max(wall - a, wall - b), false};
  }
  if (a_holds) return Occurrences{wall - a, std::nullopt, false};
  if (b_holds) return Occurrences{wall - b, std::nullopt, false};
  if (a >= b) return Occurrences{wall - a, std::nullopt, false};  // not a gap: offsets disagree
  // The clock jumped from offset a to b over `wall`: the jump is in (wall - b, wall - a].
  int64_t lo = wall - b, hi = wall - a;
  const int before = offset_at(lo);
  while (hi - lo > 1) {
    int64_t mid = lo + (hi - lo) / 2;
    (offset_at(mid) == before ? lo : hi) = mid;
  }
  return Occurrences{hi, std::nullopt, true};
}

bool ParseDigits(std::string_view s, size_t at, size_t len, int* out) {
  if (at + len > s.size()) return false;
  int v = 0;
  for (size_t i = at; i < at + len; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

Result<CronSchedule> CronSchedule::Make(CronExpr expr, std::string zone, const TimeZones* zones) {
  if (zone.empty()) zone = "UTC";
  if (zone != "UTC") {
    if (!zones || !zones->OffsetAt(zone, 0)) {
      return Fail(ErrorCode::kInvalidInput, "unknown time zone {}: expected a tz database name "
                  "such as Europe/Paris or America/New_York (Debian package tzdata)", Quote(zone));
    }
  }
  return CronSchedule(std::move(expr), std::move(zone), zones);
}

int CronSchedule::OffsetAt(int64_t t) const {
  if (zone_ == "UTC") return 0;
  return zones_->OffsetAt(zone_, t).value_or(0);
}

std::optional<int64_t> CronSchedule::OnDay(int64_t day, int64_t bound, bool forward) const {
  int64_t y = 0;
  unsigned month = 0, dom = 0;
  CivilFromDays(day, &y, &month, &dom);
  if (!expr_.MatchesDay(month, dom, Weekday(day))) return std::nullopt;
  const int64_t w0 = day * kDay;
  const int a = OffsetAt(w0 - kDay);
  if (a == OffsetAt(w0 + kDay / 2) && a == OffsetAt(w0 + 2 * kDay)) {  // no transition
    for (int k = 0; k < 24; ++k) {
      const int h = forward ? k : 23 - k;
      const int64_t hour = w0 + h * 3600 - a;
      if (!expr_.hours[h] || (forward ? hour + 3599 <= bound : hour >= bound)) continue;
      for (int j = 0; j < 60; ++j) {
        const int m = forward ? j : 59 - j;
        const int64_t u = hour + m * 60;
        if (expr_.minutes[m] && (forward ? u > bound : u < bound)) return u;
      }
    }
    return std::nullopt;
  }
  std::vector<int64_t> fires;
  auto offset_at = [this](int64_t t) { return OffsetAt(t); };
  for (int h = 0; h < 24; ++h) {
    for (int m = 0; m < 60; ++m) {
      if (!expr_.hours[h] || !expr_.minutes[m]) continue;
      Occurrences o = Resolve(w0 + h * 3600 + m * 60, offset_at);
      if (o.gap && expr_.wildcard) continue;  // not there: the cadence goes on in elapsed time
      fires.push_back(o.first);
      if (o.second && expr_.wildcard) fires.push_back(*o.second);
    }
  }
  std::sort(fires.begin(), fires.end());
  if (forward) {
    auto it = std::upper_bound(fires.begin(), fires.end(), bound);
    if (it != fires.end()) return *it;
  } else {
    auto it = std::lower_bound(fires.begin(), fires.end(), bound);
    if (it != fires.begin()) return *(it - 1);
  }
  return std::nullopt;
}

std::optional<int64_t> CronSchedule::Next(int64_t after) const {
  int64_t day = FloorDiv(after + OffsetAt(after), kDay) - 1;
  for (int i = 0; i < kMaxDays; ++i, ++day) {
    if (auto u = OnDay(day, after, true)) {
      auto v = OnDay(day + 1, after, true);
      return v ? std::min(*u, *v) : *u;
    }
  }
  return std::nullopt;
}

std::optional<int64_t> CronSchedule::Prev(int64_t before) const {
  int64_t day = FloorDiv(before + OffsetAt(before), kDay) + 1;
  for (int i = 0; i < kMaxDays; ++i, --day) {
    if (auto u = OnDay(day, before, false)) {
      auto v = OnDay(day - 1, before, false);
      return v ? std::max(*u, *v) : *u;
    }
  }
  return std::nullopt;
}

std::string FormatLocal(int64_t t, int offset_seconds) {
  const int64_t local = t + offset_seconds;
  const int64_t day = FloorDiv(local, kDay), secs = local - day * kDay;
  int64_t y = 0;
  unsigned m = 0, d = 0;
  CivilFromDays(day, &y, &m, &d);
  const int off = offset_seconds < 0 ? -offset_seconds : offset_seconds;
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}{:02}:{:02}", y, m, d, secs / 3600,
                     secs / 60 % 60, secs % 60, offset_seconds < 0 ? '-' : '+', off / 3600,
                     off / 60 % 60);
}

Result<int64_t> ParseInstant(std::string_view s, const CronSchedule& sched) {
  auto bad = [&] {
    return Fail(ErrorCode::kInvalidInput, "{} is not a time: expected 2026-03-29 (midnight), "
                "2026-03-29T02:30 (both in the schedule's zone {}), or 2026-03-29T00:30:00Z or "
                "...+01:00", Quote(s), sched.zone());
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  if (!ParseDigits(s, 0, 4, &y) || s.size() < 10 || s[4] != '-' || !ParseDigits(s, 5, 2, &mo) ||
      s[7] != '-' || !ParseDigits(s, 8, 2, &d) || mo < 1 || mo > 12 || d < 1 || d > 31) {
    return bad();
  }
  size_t at = 10;
  if (s.size() > 10) {
    if ((s[10] != 'T' && s[10] != ' ') || !ParseDigits(s, 11, 2, &h) || s.size() < 16 ||
        s[13] != ':' || !ParseDigits(s, 14, 2, &mi) || h > 23 || mi > 59) {
      return bad();
    }
    at = 16;
    if (at < s.size() && s[at] == ':') {
      if (!ParseDigits(s, 17, 2, &se) || se > 59) return bad();
      at = 19;
    }
  }
  const int64_t wall = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * kDay +
                       h * 3600 + mi * 60 + se;
  if (at == s.size()) {
    return Resolve(wall, [&](int64_t t) { return sched.OffsetAt(t); }).first;
  }
  if (s.substr(at) == "Z") return wall;
  int oh = 0, om = 0;
  if (s.size() != at + 6 || (s[at] != '+' && s[at] != '-') || !ParseDigits(s, at + 1, 2, &oh) ||
      s[at + 3] != ':' || !ParseDigits(s, at + 4, 2, &om) || oh > 23 || om > 59) {
    return bad();
  }
  const int off = (oh * 3600 + om * 60) * (s[at] == '-' ? -1 : 1);
  return wall - off;
}

}  // namespace sluice
