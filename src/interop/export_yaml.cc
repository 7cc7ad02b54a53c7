// The exporters' YAML writer (YamlNode and EmitYaml, declared in export_common.h): block style,
// strings plain only where YAML reads them back unchanged.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "common/strings.h"
#include "interop/export_common.h"

namespace sluice {

YamlNode::YamlNode(double d) : kind_(Kind::kPlain), scalar_(fmt::format("{}", d)) {
  if (scalar_.find_first_of(".en") == std::string::npos) scalar_ += ".0";
}

YamlNode YamlNode::FromValue(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNull: { YamlNode n("null"); n.kind_ = Kind::kPlain; return n; }
    case Value::Kind::kBool: return YamlNode(v.as_bool());
    case Value::Kind::kInt: return YamlNode(v.as_int());
    case Value::Kind::kDouble: return YamlNode(v.as_double());
    case Value::Kind::kString: return YamlNode(v.as_string());
    case Value::Kind::kList: {
      YamlNode n = List();
      for (const auto& e : v.as_list()) n.Add(FromValue(e));
      return n;
    }
    case Value::Kind::kMap: {
      YamlNode n;
      for (const auto& [k, e] : v.as_map()) n[k.ToText()] = FromValue(e);
      return n;
    }
    default: return YamlNode(v.ToText());
  }
}

YamlNode& YamlNode::operator[](std::string_view key) {
  for (auto& [k, v] : map_) {
    if (k == key) return v;
  }
  map_.emplace_back(std::string(key), YamlNode());
  return map_.back().second;
}

YamlNode& YamlNode::Add(YamlNode n) {
  list_.push_back(std::move(n));
  return list_.back();
}

YamlNode& ListAt(YamlNode& map, std::string_view key) {
  YamlNode& n = map[key];
  if (n.kind() != YamlNode::Kind::kList) n = YamlNode::List();
  return n;
}

namespace {

// Whether YAML reads `s` back, unquoted in block context, as this same string (and not a
// number, bool, null, comment, anchor or flow collection). Deliberately narrower than YAML.
bool ExportPlainSafe(std::string_view s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_' || s[0] == '/')) {
    return false;
  }
  if (s.back() == ' ' || s.back() == ':') return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && std::string_view("_./@+:=$()- ").find(c) ==
                                                            std::string_view::npos) {
      return false;
    }
  }
  if (s.find(": ") != std::string_view::npos) return false;
  std::string lower(s);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::set<std::string> kReserved = {"true", "false", "yes", "no", "on", "off",
                                                   "null", "y", "n"};
  return !kReserved.contains(lower);
}

// A literal block keeps the text exactly when it is printable, has more than one line and its
// first line does not start with a space (which would need an indentation indicator).
bool LiteralBlockFits(std::string_view s) {
  if (s.find('\n') == std::string_view::npos || s.front() == ' ' || s.front() == '\n') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return c == '\n' || c == '\t' || static_cast<unsigned char>(c) >= 0x20;
  }) && s.find('\r') == std::string_view::npos;
}

std::string Quoted(std::string_view s) { return Value(std::string(s)).ToJson(); }

void EmitScalar(const YamlNode& n, int indent, std::string& out) {
  const std::string& s = n.scalar();
  if (n.kind() == YamlNode::Kind::kPlain || ExportPlainSafe(s)) {
    out += s + "\n";
    return;
  }
  if (!LiteralBlockFits(s)) {
    out += Quoted(s) + "\n";
    return;
  }
  size_t trailing = s.size() - s.find_last_not_of('\n') - 1;
  out += trailing == 0 ? "|-\n" : trailing == 1 ? "|\n" : "|+\n";
  std::string_view body(s);
  body.remove_suffix(trailing);
  for (const auto& line : Split(body, '\n')) {
    out += line.empty() ? "\n" : std::string(indent, ' ') + line + "\n";
  }
  for (size_t i = 1; i < trailing; ++i) out += "\n";
}

void EmitList(const YamlNode& n, int indent, std::string& out);

void EmitMap(const YamlNode& n, int indent, std::string& out, bool first_inline) {
  bool first = true;
  for (const auto& [k, v] : n.map()) {
    if (!(first && first_inline)) out += std::string(indent, ' ');
    first = false;
    out += (ExportPlainSafe(k) ? k : Quoted(k)) + ":";
    if (v.kind() == YamlNode::Kind::kMap) {
      if (v.empty()) { out += " {}\n"; continue; }
      out += "\n";
      EmitMap(v, indent + 2, out, false);
    } else if (v.kind() == YamlNode::Kind::kList) {
      if (v.empty()) { out += " []\n"; continue; }
      out += "\n";
      EmitList(v, indent, out);  // indentless, as KFP's and kubectl's output
    } else {
      out += " ";
      EmitScalar(v, indent + 2, out);
    }
  }
}

void EmitList(const YamlNode& n, int indent, std::string& out) {
  for (const auto& item : n.list()) {
    out += std::string(indent, ' ') + "-";
    if (item.kind() == YamlNode::Kind::kMap) {
      if (item.empty()) { out += " {}\n"; continue; }
      out += " ";
      EmitMap(item, indent + 2, out, true);
    } else if (item.kind() == YamlNode::Kind::kList) {
      if (item.empty()) { out += " []\n"; continue; }
      out += "\n";
      EmitList(item, indent + 2, out);
    } else {
      out += " ";
      EmitScalar(item, indent + 2, out);
    }
  }
}

}  // namespace

std::string EmitYaml(const YamlNode& root) {
  std::string out;
  if (root.kind() == YamlNode::Kind::kMap) EmitMap(root, 0, out, false);
  else if (root.kind() == YamlNode::Kind::kList) EmitList(root, 0, out);
  else EmitScalar(root, 2, out);
  return out;
}

}  // namespace sluice
