#include "expr/time_functions.h"

#include <cctype>
#include <limits>

#include "common/strings.h"

namespace sluice {
namespace {

using i128 = __int128;
constexpr int64_t kNanos = 1'000'000'000;
constexpr int64_t kMinTimestamp = -62135596800;  // 0001-01-01T00:00:00Z
constexpr int64_t kMaxTimestamp = 253402300799;  // 9999-12-31T23:59:59Z
constexpr int64_t kMaxDuration = 315576000000;   // parsing bound before the int64 check

std::unexpected<Error> Bad(std::string msg) {
  return std::unexpected(Error(ErrorCode::kInvalidInput, std::move(msg)));
}

i128 TotalNanos(const Timestamp& t) { return static_cast<i128>(t.seconds) * kNanos + t.nanos; }
i128 TotalNanos(const Duration& d) { return static_cast<i128>(d.seconds) * kNanos + d.nanos; }

Result<Value> MakeTimestamp(i128 ns) {
  i128 s = ns >= 0 ? ns / kNanos : -((-ns + kNanos - 1) / kNanos);
  i128 n = ns - s * kNanos;
  if (s < kMinTimestamp || s > kMaxTimestamp) return Bad("timestamp out of range");
  return Value(Timestamp{static_cast<int64_t>(s), static_cast<int32_t>(n)});
}

// Durations hold what 64-bit nanoseconds can (about +-292 years), as CEL's reference
// implementation does; a timestamp difference beyond that is an error.
Result<Value> MakeDuration(i128 ns) {
  if (ns < std::numeric_limits<int64_t>::min() || ns > std::numeric_limits<int64_t>::max()) {
    return Bad("duration out of range");
  }
  i128 s = ns / kNanos;  // truncates toward zero: seconds and nanos share the sign
  i128 n = ns % kNanos;
  return Value(Duration{static_cast<int64_t>(s), static_cast<int32_t>(n)});
}

bool Digits(std::string_view s, size_t at, size_t n, int* out) {
  if (at + n > s.size()) return false;
  int v = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// RFC 3339: YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM).
Result<Value> ParseTimestamp(std::string_view s) {
  int y, mo, d, h, mi, se;
  auto bad = [&] { return Bad(fmt::format("invalid timestamp {}", Quote(s))); };
  if (s.size() < 20 || !Digits(s, 0, 4, &y) || s[4] != '-' || !Digits(s, 5, 2, &mo) ||
      s[7] != '-' || !Digits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
      !Digits(s, 11, 2, &h) || s[13] != ':' || !Digits(s, 14, 2, &mi) || s[16] != ':' ||
      !Digits(s, 17, 2, &se)) {
    return bad();
  }
  size_t i = 19;
  int64_t nanos = 0;
  if (i < s.size() && s[i] == '.') {
    size_t start = ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    size_t n = i - start;
    if (n == 0 || n > 9) return bad();
    for (size_t k = 0; k < 9; ++k) nanos = nanos * 10 + (k < n ? s[start + k] - '0' : 0);
  }
  int offset = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z') && i + 1 == s.size()) {
    offset = 0;
  } else if (i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
    int oh, om;
    if (!Digits(s, i + 1, 2, &oh) || !Digits(s, i + 4, 2, &om)) return bad();
    offset = (s[i] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
  } else {
    return bad();
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return bad();
  int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - offset;
  return MakeTimestamp(static_cast<i128>(secs) * kNanos + nanos);
}

// Go-style durations: [-]N[.F]unit..., units h, m, s, ms, us (or µs), ns.
Result<Value> ParseDuration(std::string_view s) {
  auto bad = [&] { return Bad(fmt::format("invalid duration {}", Quote(s))); };
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
  if (s.substr(i) == "0") return Value(Duration{});
  if (i >= s.size()) return bad();
  i128 total = 0;
  while (i < s.size()) {
    size_t start = i;
    i128 whole = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      whole = whole * 10 + (s[i++] - '0');
      if (whole > static_cast<i128>(kMaxDuration) * kNanos) return Bad("duration out of range");
    }
    i128 frac = 0, scale = 1;
    if (i < s.size() && s[i] == '.') {
      ++i;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
        if (scale < static_cast<i128>(kNanos) * 1000) {
          frac = frac * 10 + (s[i] - '0');
          scale *= 10;
        }
        ++i;
      }
    }
    if (i == start) return bad();
    i128 unit;
    if (s.substr(i, 2) == "ns") unit = 1, i += 2;
    else if (s.substr(i, 2) == "us") unit = 1000, i += 2;
    else if (s.substr(i, 3) == "\xc2\xb5s") unit = 1000, i += 3;
    else if (s.substr(i, 2) == "ms") unit = 1'000'000, i += 2;
    else if (s.substr(i, 1) == "s") unit = kNanos, i += 1;
    else if (s.substr(i, 1) == "m") unit = 60 * static_cast<i128>(kNanos), i += 1;
    else if (s.substr(i, 1) == "h") unit = 3600 * static_cast<i128>(kNanos), i += 1;
    else return bad();
    total += whole * unit + frac * unit / scale;
    if (total > static_cast<i128>(kMaxDuration + 1) * kNanos) return Bad("duration out of range");
  }
  return MakeDuration(neg ? -total : total);
}

// "UTC", "+05:30", "-08:00", "02:00", or a zone of the tz database ("Europe/Paris") -> seconds
// east of UTC at `when`.
Result<int> ZoneOffset(std::string_view tz, int64_t when, const TimeZones* zones) {
  if (tz == "UTC" || tz == "Z") return 0;
  size_t i = 0;
  int sign = 1;
  if (!tz.empty() && (tz[0] == '+' || tz[0] == '-')) {
    sign = tz[0] == '-' ? -1 : 1;
    i = 1;
  }
  int h, m;
  if (tz.size() == i + 5 && Digits(tz, i, 2, &h) && tz[i + 2] == ':' && Digits(tz, i + 3, 2, &m)) {
    return sign * (h * 3600 + m * 60);
  }
  if (zones) {
    if (auto off = zones->OffsetAt(tz, when)) return *off;
    return Bad(fmt::format("unknown time zone {} (not in the tz database; e.g. "
                           "\"America/New_York\", \"UTC\" or \"+05:30\")", Quote(tz)));
  }
  return Bad(fmt::format("unknown time zone {} (Sluice understands UTC and offsets like "
                         "\"+05:30\"; named zones need the tz database)", Quote(tz)));
}

Result<Value> TimestampPart(std::string_view f, const Timestamp& t, int offset) {
  int64_t local = t.seconds + offset;
  int64_t days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
  int64_t secs = local - days * 86400;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  if (f == "getFullYear") return Value(y);
  if (f == "getMonth") return Value(static_cast<int64_t>(m) - 1);
  if (f == "getDate") return Value(static_cast<int64_t>(d));
  if (f == "getDayOfMonth") return Value(static_cast<int64_t>(d) - 1);
  if (f == "getDayOfYear") return Value(days - DaysFromCivil(y, 1, 1));
  if (f == "getDayOfWeek") return Value(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday
  if (f == "getHours") return Value(secs / 3600);
  if (f == "getMinutes") return Value((secs / 60) % 60);
  if (f == "getSeconds") return Value(secs % 60);
  if (f == "getMilliseconds") return Value(static_cast<int64_t>(t.nanos / 1'000'000));
  return Bad("no such accessor");
}

bool IsTimestampAccessor(std::string_view f) {
  return f == "getFullYear" || f == "getMonth" || f == "getDate" || f == "getDayOfMonth" ||
         f == "getDayOfYear" || f == "getDayOfWeek" || f == "getHours" || f == "getMinutes" ||
         f == "getSeconds" || f == "getMilliseconds";
}

}  // namespace

std::optional<Result<Value>> CallTimeFunction(std::string_view f, bool receiver,
                                              std::span<const Value> args, const TimeZones* zones) {
  if (!receiver && args.size() == 1) {
    const Value& v = args[0];
    if (f == "timestamp") {
      if (v.is_timestamp()) return v;
      if (v.is_string()) return ParseTimestamp(v.as_string());
      if (v.is_int()) return MakeTimestamp(static_cast<i128>(v.as_int()) * kNanos);
      return std::nullopt;
    }
    if (f == "duration") {
      if (v.is_duration()) return v;
      if (v.is_string()) return ParseDuration(v.as_string());
      return std::nullopt;
    }
    if (f == "int" && v.is_timestamp()) return Value(v.as_timestamp().seconds);
    return std::nullopt;
  }
  if (!receiver || args.empty() || args.size() > 2) return std::nullopt;
  const Value& r = args[0];
  if (r.is_timestamp() && IsTimestampAccessor(f)) {
    int offset = 0;
    if (args.size() == 2) {
      if (!args[1].is_string()) return std::nullopt;
      auto o = ZoneOffset(args[1].as_string(), r.as_timestamp().seconds, zones);
      if (!o) return std::unexpected(o.error());
      offset = *o;
    }
    return TimestampPart(f, r.as_timestamp(), offset);
  }
  if (r.is_duration() && args.size() == 1) {
    const Duration& d = r.as_duration();
    if (f == "getHours") return Value(d.seconds / 3600);
    if (f == "getMinutes") return Value(d.seconds / 60);
    if (f == "getSeconds") return Value(d.seconds);
    if (f == "getMilliseconds") return Value(static_cast<int64_t>(d.nanos / 1'000'000));
  }
  return std::nullopt;
}

std::optional<Result<Value>> TimeArithmetic(std::string_view op, const Value& l, const Value& r) {
  if (op == "+") {
    if (l.is_timestamp() && r.is_duration()) return MakeTimestamp(TotalNanos(l.as_timestamp()) + TotalNanos(r.as_duration()));
    if (l.is_duration() && r.is_timestamp()) return MakeTimestamp(TotalNanos(r.as_timestamp()) + TotalNanos(l.as_duration()));
    if (l.is_duration() && r.is_duration()) return MakeDuration(TotalNanos(l.as_duration()) + TotalNanos(r.as_duration()));
  }
  if (op == "-") {
    if (l.is_timestamp() && r.is_duration()) return MakeTimestamp(TotalNanos(l.as_timestamp()) - TotalNanos(r.as_duration()));
    if (l.is_timestamp() && r.is_timestamp()) return MakeDuration(TotalNanos(l.as_timestamp()) - TotalNanos(r.as_timestamp()));
    if (l.is_duration() && r.is_duration()) return MakeDuration(TotalNanos(l.as_duration()) - TotalNanos(r.as_duration()));
  }
  return std::nullopt;
}

int CompareTime(const Value& l, const Value& r) {
  i128 a = l.is_timestamp() ? TotalNanos(l.as_timestamp()) : TotalNanos(l.as_duration());
  i128 b = r.is_timestamp() ? TotalNanos(r.as_timestamp()) : TotalNanos(r.as_duration());
  return a < b ? -1 : a > b;
}

}  // namespace sluice
