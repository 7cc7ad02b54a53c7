#include "expr/ext_functions.h"

#include <fmt/format.h>

#include <array>
#include <string_view>

#include "expr/ast.h"
#include "expr/math_functions.h"

namespace sluice {
namespace {

struct Function {
  std::string_view ns, name;
  StaticType arg, result;
};
constexpr std::array<Function, 5> kFunctions = {{
    {"lists", "range", StaticType::kInt, StaticType::kList},
    {"base64", "encode", StaticType::kBytes, StaticType::kString},
    {"base64", "decode", StaticType::kString, StaticType::kBytes},
    {"json", "encode", StaticType::kDyn, StaticType::kString},
    {"json", "decode", StaticType::kString, StaticType::kDyn},
}};

const Function* Find(const Node& n) {
  if (n.kind != Node::Kind::kCall || !n.has_receiver || n.args.empty() ||
      n.args[0]->kind != Node::Kind::kIdent) {
    return nullptr;
  }
  for (const Function& f : kFunctions) {
    if (f.ns == n.args[0]->name && f.name == n.name) return &f;
  }
  return nullptr;
}

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Base64Encode(const std::string& in) {
  std::string out;
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) v |= static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kAlphabet[v & 63] : '=';
  }
  return out;
}

// Standard base64, padded or not (as cel-go's base64.decode accepts both).
Result<std::string> Base64Decode(std::string_view in) {
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  std::string out;
  uint32_t v = 0;
  int bits = 0;
  for (char c : in) {
    size_t d = kAlphabet.find(c);
    if (d == std::string_view::npos) {
      return Fail(ErrorCode::kInvalidInput, "base64.decode: {:?} is not base64", std::string(1, c));
    }
    v = (v << 6) | static_cast<uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((v >> bits) & 0xFF);
    }
  }
  if (in.size() % 4 == 1) return Fail(ErrorCode::kInvalidInput, "base64.decode: the text is cut short");
  return out;
}

}  // namespace

bool IsExtensionCall(const Node& n) { return Find(n) != nullptr; }

bool IsNamespaced(const Node& n) { return IsExtensionCall(n) || IsMathExtremum(n); }

Result<Value> CallExtension(const Node& n, std::span<const Value> args) {
  const Function& f = *Find(n);
  const std::string name = fmt::format("{}.{}", f.ns, f.name);
  if (args.size() != 1) return Fail(ErrorCode::kInvalidInput, "{}() takes one argument", name);
  const Value& a = args[0];
  auto bad = [&] {
    return Fail(ErrorCode::kInvalidInput, "no such overload: {}({})", name, a.TypeName());
  };
  if (f.name == "range") {
    if (!a.is_int()) return bad();
    if (a.as_int() > 1'000'000) {
      return Fail(ErrorCode::kInvalidInput, "lists.range({}): more than 1000000 elements", a.as_int());
    }
    ValueList out;
    for (int64_t i = 0; i < a.as_int(); ++i) out.push_back(Value(i));
    return Value(std::move(out));
  }
  if (f.ns == "base64" && f.name == "encode") {
    if (!a.is_bytes()) return bad();
    return Value(Base64Encode(a.as_bytes().data));
  }
  if (f.ns == "base64") {
    if (!a.is_string()) return bad();
    SLUICE_TRY(data, Base64Decode(a.as_string()));
    return Value(Bytes{std::move(*data)});
  }
  if (f.name == "encode") return Value(a.ToJson());
  if (!a.is_string()) return bad();
  auto v = ParseJson(a.as_string());
  if (!v) return Fail(ErrorCode::kInvalidInput, "json.decode: {}", v.error().message);
  return *v;
}

Result<StaticType> ExtensionType(const Node& n, std::span<const StaticType> args) {
  const Function& f = *Find(n);
  if (args.size() != 1) {
    return Fail(ErrorCode::kInvalidInput, "{}.{}() takes one argument", f.ns, f.name);
  }
  if (f.arg != StaticType::kDyn && args[0] != StaticType::kDyn && args[0] != f.arg) {
    return Fail(ErrorCode::kInvalidInput, "no such overload: {}.{}({})", f.ns, f.name,
                StaticTypeName(args[0]));
  }
  return f.result;
}

}  // namespace sluice
