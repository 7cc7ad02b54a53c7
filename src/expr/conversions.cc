// CEL's one-argument type conversions (conversions.h).
#include "expr/conversions.h"

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>

#include "common/strings.h"

namespace sluice {
namespace {

// UTF-8 validity allowing NUL (strings may hold it; IsTextUtf8 is for files and rejects it).
bool IsValidUtf8(std::string_view s) {
  std::string copy(s);
  for (auto& c : copy) {
    if (c == '\0') c = ' ';
  }
  return IsTextUtf8(copy);
}

}  // namespace

namespace {

Result<Value> NoOverload(std::string_view f, const Value& v) {
  return Fail(ErrorCode::kInvalidInput, "no such overload: {}({})", f, v.TypeName());
}

Result<Value> OutOfRange(std::string_view f) {
  return Fail(ErrorCode::kInvalidInput, "{}() out of range", f);
}

Result<Value> ToInt(const Value& v) {
  if (v.is_int()) return v;
  if (v.is_uint()) {
    if (v.as_uint() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return OutOfRange("int");
    return Value(static_cast<int64_t>(v.as_uint()));
  }
  if (v.is_double()) {
    double d = v.as_double();
    if (!(d > -9.2233720368547758e18 && d < 9.2233720368547758e18)) return OutOfRange("int");
    return Value(static_cast<int64_t>(d));
  }
  if (v.is_string()) {
    errno = 0;
    char* end = nullptr;
    long long x = std::strtoll(v.as_string().c_str(), &end, 10);
    if (v.as_string().empty() || *end || errno) {
      return Fail(ErrorCode::kInvalidInput, "cannot convert {} to int", Quote(v.as_string()));
    }
    return Value(static_cast<int64_t>(x));
  }
  return NoOverload("int", v);
}

Result<Value> ToUint(const Value& v) {
  if (v.is_uint()) return v;
  if (v.is_int()) {
    if (v.as_int() < 0) return OutOfRange("uint");
    return Value(static_cast<uint64_t>(v.as_int()));
  }
  if (v.is_double()) {
    double d = v.as_double();
    if (!(d > -1.0 && d < 1.8446744073709552e19)) return OutOfRange("uint");
    return Value(static_cast<uint64_t>(d));
  }
  if (v.is_string()) {
    const std::string& s = v.as_string();
    errno = 0;
    char* end = nullptr;
    unsigned long long x = std::strtoull(s.c_str(), &end, 10);
    if (s.empty() || s[0] == '-' || *end || errno) {
      return Fail(ErrorCode::kInvalidInput, "cannot convert {} to uint", Quote(s));
    }
    return Value(static_cast<uint64_t>(x));
  }
  return NoOverload("uint", v);
}

Result<Value> ToDouble(const Value& v) {
  if (v.is_number()) return Value(v.to_double());
  if (v.is_string()) {
    const std::string& s = v.as_string();
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (s.empty() || *end) return Fail(ErrorCode::kInvalidInput, "cannot convert {} to double", Quote(s));
    return Value(d);
  }
  return NoOverload("double", v);
}

Result<Value> ToString(const Value& v) {
  if (v.is_string()) return v;
  if (v.is_bytes()) {
    if (!IsValidUtf8(v.as_bytes().data)) return Fail(ErrorCode::kInvalidInput, "bytes are not valid UTF-8");
    return Value(v.as_bytes().data);
  }
  if (v.is_double()) return Value(fmt::format("{}", v.as_double()));
  if (v.is_int() || v.is_uint() || v.is_bool()) return Value(v.ToText());
  if (v.is_type() || v.is_timestamp() || v.is_duration()) return Value(v.ToText());
  return NoOverload("string", v);
}

Result<Value> ToBool(const Value& v) {
  if (v.is_bool()) return v;
  if (v.is_string()) {
    const std::string& s = v.as_string();
    if (s == "true" || s == "True" || s == "TRUE" || s == "t" || s == "1") return Value(true);
    if (s == "false" || s == "False" || s == "FALSE" || s == "f" || s == "0") return Value(false);
    return Fail(ErrorCode::kInvalidInput, "cannot convert {} to bool", Quote(s));
  }
  return NoOverload("bool", v);
}

}  // namespace

std::optional<Result<Value>> Convert(std::string_view f, const Value& v) {
  if (f == "dyn") return v;
  if (f == "type") return Value(TypeValue{v.TypeName()});
  if (f == "int") return ToInt(v);
  if (f == "uint") return ToUint(v);
  if (f == "double") return ToDouble(v);
  if (f == "string") return ToString(v);
  if (f == "bool") return ToBool(v);
  if (f == "bytes") {
    if (v.is_bytes()) return v;
    if (v.is_string()) return Value(Bytes{v.as_string()});
    return NoOverload(f, v);
  }
  return std::nullopt;
}

}  // namespace sluice
