// Parsing cron expressions (cron.h). Every error names the field, the text and its column.
#include "schedule/cron.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "common/strings.h"

namespace sluice {

namespace {

struct FieldSpec {
  const char* name;
  int min, max;
  const char* const* names;  // 3-letter names of min..max (names[0] is min), or null
  int num_names;
};

constexpr const char* kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                       "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr const char* kDayNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
// Day-of-week takes 0-7 (7 is Sunday again), as crontab(5) does.
constexpr FieldSpec kFields[] = {{"minute", 0, 59, nullptr, 0},
                                 {"hour", 0, 23, nullptr, 0},
                                 {"day-of-month", 1, 31, nullptr, 0},
                                 {"month", 1, 12, kMonthNames, 12},
                                 {"day-of-week", 0, 7, kDayNames, 7}};

constexpr std::pair<std::string_view, std::string_view> kMacros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"}};

// An error at `col` (0-based offset in the expression).
std::unexpected<Error> At(size_t col, const FieldSpec& f, std::string_view what) {
  return Fail(ErrorCode::kInvalidInput, "column {}: {} field: {}", col + 1, f.name, what);
}

std::string RangeText(const FieldSpec& f) {
  std::string s = fmt::format("{}-{}", f.min, f.max);
  if (f.names) s += fmt::format(" or {}-{}", f.names[0], f.names[f.num_names - 1]);
  return s;
}

// One value: a number or a name. `col` is its offset in the expression.
Result<int> OneValue(std::string_view s, size_t col, const FieldSpec& f) {
  if (s.empty()) return At(col, f, "a value is missing");
  if (std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    int v = s.size() > 4 ? 100000 : std::stoi(std::string(s));
    if (v < f.min || v > f.max) {
      return At(col, f, fmt::format("{} is out of range {}", Quote(s), RangeText(f)));
    }
    return v;
  }
  for (int i = 0; f.names && i < f.num_names; ++i) {
    if (s.size() == 3 && std::equal(s.begin(), s.end(), f.names[i], [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == b;
        })) {
      return f.min + i;
    }
  }
  if (s == "?") return At(col, f, "\"?\" is not cron syntax here; write \"*\"");
  return At(col, f, fmt::format("{} is not {}", Quote(s),
                                f.names ? fmt::format("a number or a name ({})", RangeText(f))
                                        : fmt::format("a number from {}", RangeText(f))));
}

// One item of a field's list: `*`, `V`, `A-B`, each optionally `/STEP`. Sets its bits.
Status Item(std::string_view item, size_t col, const FieldSpec& f, std::bitset<64>* bits) {
  if (item.empty()) return At(col, f, "an empty item in a list (two commas, or a trailing one)");
  size_t slash = item.find('/');
  std::string_view range = item.substr(0, slash);
  int lo = f.min, hi = f.max, step = 1;
  if (range == "*") {
    if (f.max == 7) hi = 6;  // day-of-week: * is 0-6
  } else {
    size_t dash = range.find('-');
    SLUICE_TRY(a, OneValue(range.substr(0, dash), col, f));
    lo = *a;
    hi = slash == std::string_view::npos ? lo : f.max;  // "5/10" runs to the field's end
    if (dash != std::string_view::npos) {
      SLUICE_TRY(b, OneValue(range.substr(dash + 1), col + dash + 1, f));
      hi = *b;
      if (hi < lo) {
        return At(col, f, fmt::format("range {} goes backwards (write {}-{},{}-{})", Quote(range),
                                      lo, f.max, f.min, hi));
      }
    }
  }
  if (slash != std::string_view::npos) {
    std::string_view s = item.substr(slash + 1);
    int span = f.max - f.min + 1;
    bool digits = !s.empty() && s.size() <= 4 &&
                  std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    step = digits ? std::stoi(std::string(s)) : 0;
    if (step < 1 || step > span) {
      return At(col + slash + 1, f, fmt::format("step {} must be a number from 1 to {}", Quote(s), span));
    }
  }
  for (int v = lo; v <= hi; v += step) bits->set(static_cast<size_t>(v == 7 && f.max == 7 ? 0 : v));
  return {};
}

// One field: a comma-separated list of items. `col` is the field's offset in the expression.
Status Field(std::string_view text, size_t col, const FieldSpec& f, std::bitset<64>* bits) {
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    std::string_view item = text.substr(start, comma == std::string_view::npos ? comma : comma - start);
    SLUICE_TRY_STATUS(Item(item, col + start, f, bits));
    if (comma == std::string_view::npos) return {};
    start = comma + 1;
  }
}

template <size_t N>
std::bitset<N> Take(const std::bitset<64>& b) {
  std::bitset<N> out;
  for (size_t i = 0; i < N; ++i) out[i] = b[i];
  return out;
}

// Fails when the day fields restrict the date to days that never exist (Feb 30, Apr 31).
Status CheckDatesExist(const CronExpr& e, size_t dom_col) {
  if (!e.dom_star && !e.dow_star) return {};  // either day matches: every week has a match
  static constexpr unsigned kMaxDays[] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  for (unsigned m = 1; m <= 12; ++m) {
    for (unsigned d = 1; d <= kMaxDays[m]; ++d) {
      if (e.months[m] && e.days[d]) return {};
    }
  }
  return At(dom_col, kFields[2], "no day it names exists in the months the month field names "
            "(February has at most 29 days; April, June, September and November 30)");
}

}  // namespace

bool CronExpr::MatchesDay(unsigned month, unsigned day, int weekday) const {
  if (!months[month]) return false;
  bool dom = days[day], dow = weekdays[static_cast<size_t>(weekday)];
  if (dom_star || dow_star) return dom && dow;
  return dom || dow;
}

Result<CronExpr> ParseCron(std::string_view text) {
  std::string_view body = text;
  size_t lead = 0;
  while (lead < body.size() && (body[lead] == ' ' || body[lead] == '\t')) ++lead;
  if (lead < body.size() && body[lead] == '@') {
    std::string_view word = Trim(body.substr(lead));
    for (const auto& [name, expansion] : kMacros) {
      if (word == name) {
        SLUICE_TRY(e, ParseCron(expansion));
        e->text = std::string(text);
        return e;
      }
    }
    std::vector<std::string> names;
    for (const auto& m : kMacros) names.emplace_back(m.first);
    return Fail(ErrorCode::kInvalidInput, "column {}: unknown macro {}; known: {}{}", lead + 1,
                Quote(word), Join(names, ", "), DidYouMean(word, names));
  }
  std::vector<std::pair<std::string_view, size_t>> fields;  // text, offset
  size_t at = 0;
  while (at < body.size()) {
    while (at < body.size() && (body[at] == ' ' || body[at] == '\t')) ++at;
    if (at >= body.size()) break;
    size_t end = at;
    while (end < body.size() && body[end] != ' ' && body[end] != '\t') ++end;
    fields.emplace_back(body.substr(at, end - at), at);
    at = end;
  }
  if (fields.size() != 5) {
    size_t col = fields.size() > 5 ? fields[5].second : body.size();
    return Fail(ErrorCode::kInvalidInput, "column {}: expected 5 fields (minute hour "
                "day-of-month month day-of-week) or a macro such as @daily, found {}{}", col + 1,
                fields.size(), fields.size() == 6 ? " (there is no seconds field)" : "");
  }
  CronExpr e;
  e.text = std::string(text);
  std::bitset<64> bits[5];
  for (size_t i = 0; i < 5; ++i) {
    SLUICE_TRY_STATUS(Field(fields[i].first, fields[i].second, kFields[i], &bits[i]));
  }
  e.minutes = Take<60>(bits[0]);
  e.hours = Take<24>(bits[1]);
  e.days = Take<32>(bits[2]);
  e.months = Take<13>(bits[3]);
  e.weekdays = Take<7>(bits[4]);
  e.dom_star = fields[2].first.starts_with('*');
  e.dow_star = fields[4].first.starts_with('*');
  e.wildcard = fields[0].first.starts_with('*') || fields[1].first.starts_with('*');
  SLUICE_TRY_STATUS(CheckDatesExist(e, fields[2].second));
  return e;
}

}  // namespace sluice
