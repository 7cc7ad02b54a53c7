#include "common/value.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "common/strings.h"

namespace sluice {

double Value::to_double() const {
  if (is_int()) return static_cast<double>(as_int());
  if (is_uint()) return static_cast<double>(as_uint());
  return as_double();
}

const Value* Value::Find(std::string_view key) const {
  for (const auto& [k, v] : as_map()) {
    if (k.is_string() && k.as_string() == key) return &v;
  }
  return nullptr;
}

const Value* Value::Find(const Value& key) const {
  for (const auto& [k, v] : as_map()) {
    if (k == key) return &v;
  }
  return nullptr;
}

namespace {

// JSON text is UTF-8 (RFC 8259): a byte that does not begin a valid sequence is written as
// U+FFFD, so what a task printed never makes a document (or a PostgreSQL row) unreadable.
void JsonString(std::string_view s, std::string* out) {
  out->push_back('"');
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = s[i];
    if (c >= 0x80) {
      const size_t n = Utf8Length(s, i);
      if (n == 0) {
        *out += "\uFFFD";
      } else {
        out->append(s.substr(i, n));
        i += n - 1;
      }
      continue;
    }
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      case '\b': *out += "\\b"; break;
      case '\f': *out += "\\f"; break;
      default:
        if (c < 0x20) {
          *out += fmt::format("\\u{:04x}", c);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

std::string FormatDouble(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  if (d == std::floor(d) && std::fabs(d) < 1e15) return fmt::format("{:.1f}", d);
  return fmt::format("{}", d);
}

void ToJsonImpl(const Value& v, std::string* out, bool sorted = false) {
  switch (v.kind()) {
    case Value::Kind::kNull: *out += "null"; break;
    case Value::Kind::kBool: *out += v.as_bool() ? "true" : "false"; break;
    case Value::Kind::kInt: *out += std::to_string(v.as_int()); break;
    case Value::Kind::kUint: *out += std::to_string(v.as_uint()); break;
    case Value::Kind::kDouble: {
      double d = v.as_double();
      if (std::isfinite(d)) {
        *out += FormatDouble(d);
      } else {
        JsonString(FormatDouble(d), out);
      }
      break;
    }
    case Value::Kind::kString: JsonString(v.as_string(), out); break;
    case Value::Kind::kBytes: JsonString(v.as_bytes().data, out); break;
    case Value::Kind::kType: JsonString(v.as_type().name, out); break;
    case Value::Kind::kTimestamp: JsonString(FormatTimestamp(v.as_timestamp()), out); break;
    case Value::Kind::kDuration: JsonString(FormatDuration(v.as_duration()), out); break;
    case Value::Kind::kList: {
      out->push_back('[');
      bool first = true;
      for (const auto& e : v.as_list()) {
        if (!first) out->push_back(',');
        first = false;
        ToJsonImpl(e, out, sorted);
      }
      out->push_back(']');
      break;
    }
    case Value::Kind::kMap: {
      out->push_back('{');
      // JSON keys are strings; canonical JSON orders them bytewise.
      auto key = [](const Value& k) { return k.is_string() ? k.as_string() : k.ToJson(); };
      auto entry = [&](bool first, const std::string& k, const Value& e) {
        if (!first) out->push_back(',');
        JsonString(k, out);
        out->push_back(':');
        ToJsonImpl(e, out, sorted);
      };
      if (!sorted) {
        bool first = true;
        for (const auto& [k, e] : v.as_map()) {
          entry(first, key(k), e);
          first = false;
        }
      } else {
        std::vector<std::pair<std::string, const Value*>> entries;
        for (const auto& [k, e] : v.as_map()) entries.emplace_back(key(k), &e);
        std::sort(entries.begin(), entries.end(),
                  [](const auto& x, const auto& y) { return x.first < y.first; });
        for (size_t i = 0; i < entries.size(); ++i) entry(i == 0, entries[i].first, *entries[i].second);
      }
      out->push_back('}');
      break;
    }
  }
}

// A recursive-descent JSON reader with a depth bound.
class JsonReader {
 public:
  explicit JsonReader(std::string_view s) : s_(s) {}

  Result<Value> Document() {
    auto v = Parse(0);
    if (!v) return v;
    SkipWs();
    if (i_ != s_.size()) return Err("unexpected text after the value");
    return v;
  }

 private:
  std::unexpected<Error> Err(std::string_view what) {
    return Fail(ErrorCode::kInvalidInput, "invalid JSON at offset {}: {}", i_, what);
  }
  void SkipWs() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r'))
      ++i_;
  }
  bool Lit(std::string_view w) {
    if (s_.substr(i_, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }

  Result<Value> Parse(int depth) {
    if (depth > 128) return Err("nested too deeply");
    SkipWs();
    if (i_ >= s_.size()) return Err("unexpected end");
    char c = s_[i_];
    if (c == '{') {
      ++i_;
      ValueMap m;
      SkipWs();
      if (i_ < s_.size() && s_[i_] == '}') {
        ++i_;
        return Value(std::move(m));
      }
      while (true) {
        SkipWs();
        if (i_ >= s_.size() || s_[i_] != '"') return Err("expected a string key");
        auto k = String();
        if (!k) return std::unexpected(k.error());
        SkipWs();
        if (i_ >= s_.size() || s_[i_] != ':') return Err("expected ':'");
        ++i_;
        auto v = Parse(depth + 1);
        if (!v) return v;
        bool replaced = false;
        for (auto& [ek, ev] : m) {
          if (ek.as_string() == *k) {
            ev = *v;
            replaced = true;
          }
        }
        if (!replaced) m.emplace_back(std::move(*k), std::move(*v));
        SkipWs();
        if (i_ < s_.size() && s_[i_] == ',') {
          ++i_;
          continue;
        }
        if (i_ < s_.size() && s_[i_] == '}') {
          ++i_;
          return Value(std::move(m));
        }
        return Err("expected ',' or '}'");
      }
    }
    if (c == '[') {
      ++i_;
      ValueList l;
      SkipWs();
      if (i_ < s_.size() && s_[i_] == ']') {
        ++i_;
        return Value(std::move(l));
      }
      while (true) {
        auto v = Parse(depth + 1);
        if (!v) return v;
        l.push_back(std::move(*v));
        SkipWs();
        if (i_ < s_.size() && s_[i_] == ',') {
          ++i_;
          continue;
        }
        if (i_ < s_.size() && s_[i_] == ']') {
          ++i_;
          return Value(std::move(l));
        }
        return Err("expected ',' or ']'");
      }
    }
    if (c == '"') {
      auto s = String();
      if (!s) return std::unexpected(s.error());
      return Value(std::move(*s));
    }
    if (Lit("true")) return Value(true);
    if (Lit("false")) return Value(false);
    if (Lit("null")) return Value();
    return Number();
  }

  Result<Value> Number() {
    size_t start = i_;
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    bool is_float = false;
    size_t digits = i_;
    while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
    if (i_ == digits) return Err("expected a value");
    if (i_ < s_.size() && s_[i_] == '.') {
      is_float = true;
      ++i_;
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      is_float = true;
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
    }
    std::string text(s_.substr(start, i_ - start));
    if (!is_float) {
      errno = 0;
      char* end = nullptr;
      long long v = std::strtoll(text.c_str(), &end, 10);
      if (errno == 0) return Value(static_cast<int64_t>(v));
    }
    return Value(std::strtod(text.c_str(), nullptr));
  }


  Result<uint32_t> Hex4() {
    if (i_ + 4 > s_.size()) return Err("bad \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = s_[i_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= c - '0';
      else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
      else return Err("bad \\u escape");
    }
    return v;
  }

  Result<std::string> String() {
    ++i_;  // opening quote
    std::string out;
    while (i_ < s_.size()) {
      char c = s_[i_++];
      if (c == '"') return out;
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (i_ >= s_.size()) break;
      char e = s_[i_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          auto cp = Hex4();
          if (!cp) return std::unexpected(cp.error());
          uint32_t code = *cp;
          if (code >= 0xD800 && code < 0xDC00 && s_.substr(i_, 2) == "\\u") {
            i_ += 2;
            auto lo = Hex4();
            if (!lo) return std::unexpected(lo.error());
            code = 0x10000 + ((code - 0xD800) << 10) + (*lo - 0xDC00);
          }
          AppendUtf8(code, &out);
          break;
        }
        default: return Err("bad escape");
      }
    }
    return Err("unterminated string");
  }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

std::string Value::ToJson() const {
  std::string out;
  ToJsonImpl(*this, &out);
  return out;
}

std::string CanonicalJson(const Value& v) {
  std::string out;
  ToJsonImpl(v, &out, true);
  return out;
}

std::string Value::ToText() const {
  switch (kind()) {
    case Kind::kNull: return "";
    case Kind::kString: return as_string();
    case Kind::kBytes: return as_bytes().data;
    case Kind::kType: return as_type().name;
    case Kind::kTimestamp: return FormatTimestamp(as_timestamp());
    case Kind::kDuration: return FormatDuration(as_duration());
    case Kind::kDouble: return FormatDouble(as_double());
    default: return ToJson();
  }
}

std::string Value::TypeName() const {
  static const char* kNames[] = {"null_type", "bool",  "int",  "uint", "double",
                                 "string",    "bytes", "list", "map",  "type",
                                 "google.protobuf.Timestamp", "google.protobuf.Duration"};
  return kNames[static_cast<int>(kind())];
}

int CompareNumbers(const Value& a, const Value& b) {
  if (a.is_int() && b.is_int()) return a.as_int() < b.as_int() ? -1 : a.as_int() > b.as_int();
  if (a.is_uint() && b.is_uint()) {
    return a.as_uint() < b.as_uint() ? -1 : a.as_uint() > b.as_uint();
  }
  if (a.is_int() && b.is_uint()) {
    if (a.as_int() < 0) return -1;
    uint64_t x = static_cast<uint64_t>(a.as_int());
    return x < b.as_uint() ? -1 : x > b.as_uint();
  }
  if (a.is_uint() && b.is_int()) return -CompareNumbers(b, a);
  double x = a.to_double(), y = b.to_double();
  if (std::isnan(x) || std::isnan(y)) return 2;
  return x < y ? -1 : x > y;
}

bool Value::operator==(const Value& o) const {
  if (is_number() && o.is_number()) return CompareNumbers(*this, o) == 0;
  if (kind() != o.kind()) return false;
  switch (kind()) {
    case Kind::kNull: return true;
    case Kind::kBool: return as_bool() == o.as_bool();
    case Kind::kString: return as_string() == o.as_string();
    case Kind::kBytes: return as_bytes() == o.as_bytes();
    case Kind::kType: return as_type() == o.as_type();
    case Kind::kTimestamp: return as_timestamp() == o.as_timestamp();
    case Kind::kDuration: return as_duration() == o.as_duration();
    case Kind::kList: return as_list() == o.as_list();
    case Kind::kMap: {
      if (as_map().size() != o.as_map().size()) return false;
      for (const auto& [k, v] : as_map()) {
        const Value* w = o.Find(k);
        if (!w || !(*w == v)) return false;
      }
      return true;
    }
    default: return false;
  }
}

Result<Value> ParseJson(std::string_view text) { return JsonReader(text).Document(); }

// Howard Hinnant's civil-date algorithms (public domain descriptions), re-derived here.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

namespace {
std::string Fraction(int32_t nanos) {
  if (nanos == 0) return "";
  std::string f = fmt::format("{:09}", nanos);
  while (!f.empty() && f.back() == '0') f.pop_back();
  return "." + f;
}
}  // namespace

std::string FormatTimestamp(const Timestamp& t) {
  int64_t days = t.seconds >= 0 ? t.seconds / 86400 : -((-t.seconds + 86399) / 86400);
  int64_t secs = t.seconds - days * 86400;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}Z", y, m, d, secs / 3600,
                     (secs / 60) % 60, secs % 60, Fraction(t.nanos));
}

std::string FormatDuration(const Duration& d) {
  bool neg = d.seconds < 0 || d.nanos < 0;
  uint64_t s = static_cast<uint64_t>(d.seconds < 0 ? -d.seconds : d.seconds);
  int32_t n = d.nanos < 0 ? -d.nanos : d.nanos;
  return fmt::format("{}{}{}s", neg ? "-" : "", s, Fraction(n));
}

std::string DocText(const Value& v, const char* key) {
  const Value* x = v.is_map() ? v.Find(key) : nullptr;
  return x && x->is_string() ? x->as_string() : std::string();
}

int64_t DocInt(const Value& v, const char* key) {
  const Value* x = v.is_map() ? v.Find(key) : nullptr;
  return x && x->is_int() ? x->as_int() : 0;
}

}  // namespace sluice
