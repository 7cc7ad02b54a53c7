#include "exec/typed_output.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>

#include "common/strings.h"

namespace sluice {

using Type = WantedParam::Type;

std::string_view OutputTypeName(Type t) {
  switch (t) {
    case Type::kAny: return "any";
    case Type::kString: return "string";
    case Type::kInt: return "int";
    case Type::kNumber: return "number";
    case Type::kBool: return "bool";
    case Type::kList: return "list";
    case Type::kMap: return "map";
  }
  return "any";
}

namespace {

bool Matches(const Value& v, Type t) {
  switch (t) {
    case Type::kAny: return true;
    case Type::kString: return v.is_string();
    case Type::kInt: return v.is_int();
    case Type::kNumber: return v.is_int() || v.is_double();
    case Type::kBool: return v.is_bool();
    case Type::kList: return v.is_list();
    case Type::kMap: return v.is_map();
  }
  return false;
}

// Text as a value of type `t`, or null when it does not read as one. Surrounding whitespace is
// ignored (a file ends with a newline, `echo` pads nothing, but people write " 3").
std::optional<Value> ReadText(std::string_view text, Type t) {
  std::string s(Trim(text));
  if (s.empty()) return std::nullopt;
  if (t == Type::kBool) {
    if (s == "true") return Value(true);
    if (s == "false") return Value(false);
    return std::nullopt;
  }
  if (t == Type::kInt || t == Type::kNumber) {
    char* end = nullptr;
    errno = 0;
    long long i = std::strtoll(s.c_str(), &end, 10);
    if (*end == '\0' && errno == 0) return Value(static_cast<int64_t>(i));
    if (t == Type::kInt) return std::nullopt;
    // strtod would also take "inf", "nan" and hexadecimal: a metric is a decimal number.
    if (s.find_first_not_of("0123456789+-.eE") != std::string::npos) return std::nullopt;
    errno = 0;
    double d = std::strtod(s.c_str(), &end);
    if (*end != '\0' || errno != 0 || !std::isfinite(d)) return std::nullopt;
    return Value(d);
  }
  auto doc = ParseJson(s);  // list, map
  if (!doc || !Matches(*doc, t)) return std::nullopt;
  return *doc;
}

// The offset of the first byte of `s` that is not part of valid UTF-8, if any.
std::optional<size_t> FirstNonUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8Length(s, i);
    if (n == 0) return i;
    i += n;
  }
  return std::nullopt;
}

}  // namespace

Result<Value> TypedOutput(const WantedParam& o, Value raw) {
  // An output is text (JSON, the store, expressions): bytes that are not UTF-8 would be
  // replaced downstream, so the task is told instead.
  if (raw.is_string()) {
    if (auto at = FirstNonUtf8(raw.as_string())) {
      return Fail(ErrorCode::kInvalidInput,
                  "output {} is not UTF-8 text (byte 0x{:02x} at offset {})", Quote(o.name),
                  static_cast<unsigned char>(raw.as_string()[*at]), *at);
    }
  }
  if (o.type == Type::kAny || Matches(raw, o.type)) return raw;
  bool text = o.source == WantedParam::Source::kFile ||
              o.source == WantedParam::Source::kStdoutText;
  if (text && raw.is_string()) {
    if (auto v = ReadText(raw.as_string(), o.type)) return *v;
  }
  std::string shown = raw.is_string() ? raw.as_string() : raw.ToJson();
  if (shown.size() > 80) shown = shown.substr(0, 77) + "...";
  return Fail(ErrorCode::kInvalidInput, "output {} is declared {}, but the task wrote {}{}",
              Quote(o.name), OutputTypeName(o.type), text ? std::string() : raw.TypeName() + " ",
              Quote(shown));
}

}  // namespace sluice
