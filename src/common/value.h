// Value: the dynamic value of the expression language (a subset of CEL's value model), also
// used for task parameters and outputs. Lists and maps are immutable and shared, so copying a
// Value is cheap. Not thread-safe to mutate; immutable values may be shared between threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "common/error.h"

namespace sluice {

class Value;
using ValueList = std::vector<Value>;
// Keys are unique (by CEL equality) and keep insertion order. CEL allows string, int, uint and
// bool keys; JSON and the spec only produce strings.
using ValueMap = std::vector<std::pair<Value, Value>>;

struct Bytes {
  std::string data;
  bool operator==(const Bytes&) const = default;
};

// A point in time: seconds since the Unix epoch (UTC) and nanoseconds 0..999,999,999.
// CEL's range: years 0001 to 9999.
struct Timestamp {
  int64_t seconds = 0;
  int32_t nanos = 0;
  auto operator<=>(const Timestamp&) const = default;
};

// A span of time: seconds and nanoseconds with the same sign; at most what int64 nanoseconds
// hold (about +-292 years), as in CEL's reference implementation.
struct Duration {
  int64_t seconds = 0;
  int32_t nanos = 0;
  auto operator<=>(const Duration&) const = default;
};

// A CEL type as a value: what type(x) returns and what `int`, `string`... denote.
struct TypeValue {
  std::string name;
  bool operator==(const TypeValue&) const = default;
};

class Value {
 public:
  enum class Kind {
    kNull, kBool, kInt, kUint, kDouble, kString, kBytes, kList, kMap, kType, kTimestamp, kDuration
  };

  Value() = default;
  Value(std::nullptr_t) {}
  Value(bool b) : v_(b) {}
  Value(int i) : v_(int64_t{i}) {}
  Value(int64_t i) : v_(i) {}
  Value(uint64_t u) : v_(u) {}
  Value(double d) : v_(d) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(Bytes b) : v_(std::move(b)) {}
  Value(TypeValue t) : v_(std::move(t)) {}
  Value(Timestamp t) : v_(t) {}
  Value(Duration d) : v_(d) {}
  Value(ValueList l) : v_(std::make_shared<const ValueList>(std::move(l))) {}
  Value(ValueMap m) : v_(std::make_shared<const ValueMap>(std::move(m))) {}

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is_null() const { return kind() == Kind::kNull; }
  bool is_bool() const { return kind() == Kind::kBool; }
  bool is_int() const { return kind() == Kind::kInt; }
  bool is_uint() const { return kind() == Kind::kUint; }
  bool is_double() const { return kind() == Kind::kDouble; }
  bool is_number() const { return is_int() || is_uint() || is_double(); }
  bool is_string() const { return kind() == Kind::kString; }
  bool is_bytes() const { return kind() == Kind::kBytes; }
  bool is_list() const { return kind() == Kind::kList; }
  bool is_map() const { return kind() == Kind::kMap; }
  bool is_type() const { return kind() == Kind::kType; }
  bool is_timestamp() const { return kind() == Kind::kTimestamp; }
  bool is_duration() const { return kind() == Kind::kDuration; }

  // REQUIRES: the matching kind.
  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  uint64_t as_uint() const { return std::get<uint64_t>(v_); }
  double as_double() const { return std::get<double>(v_); }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const Bytes& as_bytes() const { return std::get<Bytes>(v_); }
  const TypeValue& as_type() const { return std::get<TypeValue>(v_); }
  const Timestamp& as_timestamp() const { return std::get<Timestamp>(v_); }
  const Duration& as_duration() const { return std::get<Duration>(v_); }
  const ValueList& as_list() const { return *std::get<std::shared_ptr<const ValueList>>(v_); }
  const ValueMap& as_map() const { return *std::get<std::shared_ptr<const ValueMap>>(v_); }
  // Any number as a double. REQUIRES: is_number().
  double to_double() const;

  // The value of `key` in a map, or nullptr. REQUIRES: is_map().
  const Value* Find(std::string_view key) const;
  const Value* Find(const std::string& key) const { return Find(std::string_view(key)); }
  const Value* Find(const char* key) const { return Find(std::string_view(key)); }
  const Value* Find(const Value& key) const;

  // Compact JSON. Bytes become base64-free escaped strings; non-finite doubles become strings.
  std::string ToJson() const;  // compact; map keys in insertion order
  // How the value reads when pasted into text (an argv element, an env var, a message):
  // strings as they are, numbers in decimal, null as "", lists and maps as JSON.
  std::string ToText() const;
  // The CEL type name: "int", "string", "list", "map", "null_type"...
  std::string TypeName() const;

  // Deep equality with CEL's numeric rule (1 == 1.0 == 1u).
  bool operator==(const Value& o) const;

 private:
  std::variant<std::monostate, bool, int64_t, uint64_t, double, std::string, Bytes,
               std::shared_ptr<const ValueList>, std::shared_ptr<const ValueMap>, TypeValue,
               Timestamp, Duration>
      v_;
};

// RFC 3339 in UTC with the fraction trimmed ("2009-02-13T23:31:30Z", "...30.5Z").
std::string FormatTimestamp(const Timestamp& t);
// Seconds with a trimmed fraction ("1000000s", "1.5s", "-0.000000001s").
std::string FormatDuration(const Duration& d);
// Days since 1970-01-01 <-> civil date (proleptic Gregorian).
// Compact JSON with every map's keys in bytewise order: the same value always gives the same
// text (what the audit log hashes).
std::string CanonicalJson(const Value& v);
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);
void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d);

// Parses JSON text. Integers that fit become int, others double. Nesting is limited to 128.
// On failure returns an error naming the offset.
Result<Value> ParseJson(std::string_view text);

// A text, or an integer, member of a map ("" or 0 when `v` is not a map, or the member is
// missing or of another type): for reading documents such as the API's answers.
std::string DocText(const Value& v, const char* key);
int64_t DocInt(const Value& v, const char* key);

// Compares two numbers: <0, 0, >0. REQUIRES: both is_number(). NaN compares unequal (returns 2).
int CompareNumbers(const Value& a, const Value& b);

}  // namespace sluice
