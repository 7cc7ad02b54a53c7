#include "common/time_zone.h"

#include <algorithm>

#include "common/strings.h"
#include "common/value.h"

namespace sluice {

namespace {

class TzifReader {
 public:
  explicit TzifReader(std::string_view s) : s_(s) {}
  bool Has(size_t n) const { return pos_ <= s_.size() && s_.size() - pos_ >= n; }
  int64_t Int(int width) {  // big-endian, signed
    uint64_t v = 0;
    for (int k = 0; k < width; ++k) v = (v << 8) | static_cast<uint8_t>(s_[pos_ + k]);
    pos_ += width;
    if (width == 4) return static_cast<int32_t>(static_cast<uint32_t>(v));
    return static_cast<int64_t>(v);
  }
  uint8_t Byte() { return static_cast<uint8_t>(s_[pos_++]); }
  void Skip(size_t n) { pos_ += n; }
  size_t pos() const { return pos_; }
  std::string_view rest() const { return s_.substr(std::min(pos_, s_.size())); }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

struct Counts {
  int64_t isut, isstd, leap, time, type, chars;
};

std::unexpected<Error> Bad(std::string_view why) {
  return Fail(ErrorCode::kInvalidInput, "not a valid TZif file: {}", why);
}

// "[+-]hh[:mm[:ss]]" at s[*i]; POSIX offsets are west of UTC, so the sign flips.
std::optional<int> PosixTime(std::string_view s, size_t* i, bool offset) {
  int sign = 1;
  if (*i < s.size() && (s[*i] == '+' || s[*i] == '-')) sign = s[(*i)++] == '-' ? -1 : 1;
  int parts[3] = {0, 0, 0};
  for (int k = 0; k < 3; ++k) {
    size_t start = *i;
    while (*i < s.size() && s[*i] >= '0' && s[*i] <= '9' && *i - start < 3) ++*i;
    if (*i == start) return std::nullopt;
    parts[k] = std::stoi(std::string(s.substr(start, *i - start)));
    if (*i >= s.size() || s[*i] != ':' || k == 2) break;
    ++*i;
  }
  int secs = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
  return offset ? -secs : secs;
}

// A zone abbreviation: letters, or <...> quoted.
bool PosixName(std::string_view s, size_t* i) {
  if (*i < s.size() && s[*i] == '<') {
    size_t close = s.find('>', *i);
    if (close == std::string_view::npos) return false;
    *i = close + 1;
    return true;
  }
  size_t start = *i;
  while (*i < s.size() && ((s[*i] >= 'A' && s[*i] <= 'Z') || (s[*i] >= 'a' && s[*i] <= 'z'))) ++*i;
  return *i - start >= 3;
}

}  // namespace

Result<ZoneRules> ZoneRules::Parse(std::string_view bytes) {
  TzifReader b(bytes);
  auto header = [&](Counts* c) -> Status {
    if (!b.Has(44) || b.rest().substr(0, 4) != "TZif") return Bad("no TZif header");
    b.Skip(20);
    c->isut = b.Int(4), c->isstd = b.Int(4), c->leap = b.Int(4);
    c->time = b.Int(4), c->type = b.Int(4), c->chars = b.Int(4);
    if (c->isut < 0 || c->isstd < 0 || c->leap < 0 || c->time < 0 || c->time > 100000 ||
        c->type < 1 || c->type > 256 || c->chars < 0 || c->chars > 100000 || c->leap > 100000) {
      return Bad("impossible counts");
    }
    return {};
  };
  auto block_size = [](const Counts& c, int time_width) {
    return static_cast<size_t>(c.time * time_width + c.time + c.type * 6 + c.chars +
                               c.leap * (time_width + 4) + c.isstd + c.isut);
  };
  Counts c;
  SLUICE_TRY_STATUS(header(&c));
  const char version = bytes[4];
  int width = 4;
  if (version >= '2') {  // skip the 32-bit block: the 64-bit one follows
    if (!b.Has(block_size(c, 4))) return Bad("truncated");
    b.Skip(block_size(c, 4));
    SLUICE_TRY_STATUS(header(&c));
    width = 8;
  }
  if (!b.Has(block_size(c, width))) return Bad("truncated");
  ZoneRules z;
  for (int64_t k = 0; k < c.time; ++k) z.times_.push_back(b.Int(width));
  for (int64_t k = 0; k < c.time; ++k) {
    uint8_t t = b.Byte();
    if (t >= c.type) return Bad("a transition names a missing type");
    z.types_.push_back(t);
  }
  for (int64_t k = 0; k < c.type; ++k) {
    int64_t off = b.Int(4);
    b.Skip(2);  // isdst, abbreviation index
    if (off < -25 * 3600 || off > 26 * 3600) return Bad("offset out of range");
    z.offsets_.push_back(static_cast<int32_t>(off));
  }
  if (!std::is_sorted(z.times_.begin(), z.times_.end())) return Bad("transitions out of order");
  z.first_offset_ = z.offsets_[0];
  b.Skip(static_cast<size_t>(c.chars + c.leap * (width + 4) + c.isstd + c.isut));
  if (width == 8) {
    std::string_view rest = b.rest();
    if (rest.size() >= 2 && rest[0] == '\n') {
      size_t end = rest.find('\n', 1);
      if (end != std::string_view::npos && end > 1) z.footer_ = ParsePosix(rest.substr(1, end - 1));
    }
  }
  return z;
}

std::optional<ZoneRules::Posix> ZoneRules::ParsePosix(std::string_view s) {
  Posix p;
  size_t i = 0;
  if (!PosixName(s, &i)) return std::nullopt;
  auto std_off = PosixTime(s, &i, true);
  if (!std_off) return std::nullopt;
  p.std_offset = p.dst_offset = *std_off;
  if (i == s.size()) return p;
  if (!PosixName(s, &i)) return std::nullopt;
  p.has_dst = true;
  p.dst_offset = p.std_offset + 3600;
  if (i < s.size() && s[i] != ',') {
    auto dst = PosixTime(s, &i, true);
    if (!dst) return std::nullopt;
    p.dst_offset = *dst;
  }
  for (Posix::Rule* r : {&p.start, &p.end}) {
    if (i >= s.size() || s[i] != ',' || i + 1 >= s.size() || s[i + 1] != 'M') return std::nullopt;
    i += 2;
    int* fields[3] = {&r->month, &r->week, &r->weekday};
    for (int k = 0; k < 3; ++k) {
      size_t start = i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - start < 2) ++i;
      if (i == start) return std::nullopt;
      *fields[k] = std::stoi(std::string(s.substr(start, i - start)));
      if (k < 2 && (i >= s.size() || s[i++] != '.')) return std::nullopt;
    }
    if (r->month < 1 || r->month > 12 || r->week < 1 || r->week > 5 || r->weekday > 6) {
      return std::nullopt;
    }
    if (i < s.size() && s[i] == '/') {
      ++i;
      auto t = PosixTime(s, &i, false);
      if (!t) return std::nullopt;
      r->seconds = *t;
    }
  }
  return i == s.size() ? std::optional<Posix>(p) : std::nullopt;
}

int ZoneRules::PosixOffset(const Posix& p, int64_t t) {
  if (!p.has_dst) return p.std_offset;
  int64_t local = t + p.std_offset;
  int64_t days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
  int64_t year;
  unsigned m, d;
  CivilFromDays(days, &year, &m, &d);
  // The day of an Mm.w.d rule in `year`: the w-th weekday d of month m (5 = the last).
  auto day_of = [&](const Posix::Rule& r) {
    int64_t first = DaysFromCivil(year, static_cast<unsigned>(r.month), 1);
    int64_t wday = ((first % 7) + 11) % 7;  // 1970-01-01 was a Thursday (4)
    int64_t day = first + (r.weekday - wday + 7) % 7 + (r.week - 1) * 7;
    int64_t next_month = r.month == 12 ? DaysFromCivil(year + 1, 1, 1)
                                       : DaysFromCivil(year, static_cast<unsigned>(r.month) + 1, 1);
    while (day >= next_month) day -= 7;
    return day;
  };
  int64_t start = day_of(p.start) * 86400 + p.start.seconds - p.std_offset;  // in standard time
  int64_t end = day_of(p.end) * 86400 + p.end.seconds - p.dst_offset;        // in daylight time
  bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
  return dst ? p.dst_offset : p.std_offset;
}

int ZoneRules::OffsetAt(int64_t t) const {
  if (times_.empty() || t < times_.front()) {
    return times_.empty() && footer_ ? PosixOffset(*footer_, t) : first_offset_;
  }
  if (t >= times_.back() && footer_) return PosixOffset(*footer_, t);
  size_t k = static_cast<size_t>(std::upper_bound(times_.begin(), times_.end(), t) - times_.begin()) - 1;
  return offsets_[types_[k]];
}

}  // namespace sluice
