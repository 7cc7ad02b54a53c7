#include "interop/yaml_text.h"

#include <cctype>

#include "common/value.h"

namespace sluice {
namespace {

// Words the core schema reads as null, bools or numbers, compared case-insensitively where
// YAML does.
bool LooksTyped(std::string_view s) {
  static constexpr std::string_view kWords[] = {"null", "Null", "NULL", "~",     "true",
                                                "True", "TRUE", "false", "False", "FALSE",
                                                ".inf", ".Inf", ".INF",  ".nan", ".NaN",
                                                ".NAN", "-.inf", "+.inf", "-.Inf", "+.Inf"};
  for (std::string_view w : kWords) {
    if (s == w) return true;
  }
  // Anything that starts like a number is quoted: cheaper than the exact grammar, and safe.
  size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  return i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.');
}

bool PlainSafe(std::string_view s) {
  if (s.empty() || LooksTyped(s)) return false;
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '_' || c == '-' || c == '.' || c == '/' || c == '@' ||
        c == '+' || c == '=' || c == '%' || c == '(' || c == ')' || c == '$' || c == '^') {
      continue;
    }
    if (c == ' ' && s.front() != ' ' && s.back() != ' ') continue;
    return false;
  }
  // Indicators that may not start a plain scalar.
  return s[0] != '-' && s[0] != '@' && s[0] != '%';
}

}  // namespace

std::string YamlScalar(std::string_view s) {
  if (PlainSafe(s)) return std::string(s);
  return Value(std::string(s)).ToJson();  // JSON strings are YAML double-quoted scalars
}

std::string YamlText(std::string_view s, int indent) {
  bool block = s.find('\n') != std::string_view::npos;
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n') || u == 0x7f) block = false;  // tabs and controls: quoted
  }
  // Trailing spaces on a line are kept by a block but easily lost by editors: quoted instead.
  if (s.find(" \n") != std::string_view::npos || s.ends_with(' ')) block = false;
  if (!block || s.starts_with(' ') || s.starts_with('\n')) return YamlScalar(s);
  size_t trailing = 0;
  while (trailing < s.size() && s[s.size() - 1 - trailing] == '\n') ++trailing;
  std::string out = trailing == 0 ? "|-" : trailing == 1 ? "|" : "|+";
  const std::string pad(indent + 2, ' ');
  std::string_view body = s.substr(0, s.size() - trailing);
  size_t pos = 0;
  while (pos <= body.size()) {
    size_t end = body.find('\n', pos);
    std::string_view line = body.substr(pos, end == std::string_view::npos ? end : end - pos);
    out += '\n';
    if (!line.empty()) out += pad;
    out += line;
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  for (size_t i = 1; i < trailing; ++i) out += '\n';
  return out;
}

}  // namespace sluice
