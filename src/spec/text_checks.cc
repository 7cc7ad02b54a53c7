#include "spec/text_checks.h"

#include "common/strings.h"

#include <algorithm>
#include <cctype>

namespace sluice {

bool IsIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

bool IsName(std::string_view s) {
  if (s.empty() || s.size() > 128 || !IsIdentStart(s[0])) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return IsIdentChar(c) || c == '-' || c == '.'; });
}

std::string SecretParamVar(std::string_view param) {
  std::string out = "SLUICE_PARAM_";
  for (char c : param) {
    if (c >= 'a' && c <= 'z') out.push_back(static_cast<char>(c - 'a' + 'A'));
    else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) out.push_back(c);
    else out.push_back('_');
  }
  return out;
}

bool IsEnvName(std::string_view s) {
  return !s.empty() && s.size() <= 256 && IsIdentStart(s[0]) &&
         std::all_of(s.begin(), s.end(), IsIdentChar);
}

// "1", "1.2", "1.2.3" with at most 9 digits a part; fills `parts`.
bool ParseVersionParts(std::string_view s, size_t max_parts, std::vector<int>* parts) {
  parts->clear();
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view part = s.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (!AllDigits(part) || part.size() > 9 || (part.size() > 1 && part[0] == '0')) return false;
    parts->push_back(std::stoi(std::string(part)));
    if (parts->size() > max_parts) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool IsUsesRef(std::string_view s) {
  size_t at = s.find('@');
  std::string_view name = s.substr(0, at);
  if (!IsName(name)) return false;
  if (at == std::string_view::npos) return true;
  std::vector<int> parts;
  return ParseVersionParts(s.substr(at + 1), 3, &parts);
}

bool IsIntText(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  return AllDigits(s);
}

bool IsFloatText(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  size_t i = 0, digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t e = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == e) return false;
  }
  return i == s.size();
}

// Rejects nesting deeper than kMaxNesting before libyaml and the recursive readers see it: no
// recursion can be driven by hostile input, and libyaml, whose time grows with the square of
// the depth (100,000 levels: 41 s), stays fast. Counts flow brackets and indentation levels.
Status CheckNesting(const std::string& path, std::string_view text) {
  int depth = 0, line = 1, col = 0;
  char quote = 0;
  bool comment = false;
  std::vector<int> indents;
  bool line_start = true;
  int indent = 0;
  char prev = ' ';
  for (char c : text) {
    char before = prev;
    prev = c;
    ++col;
    if (c == '\n') {
      ++line;
      col = 0;
      comment = false;
      line_start = true;
      indent = 0;
      continue;
    }
    if (line_start) {
      if (c == ' ' || c == '-') {
        ++indent;
        continue;
      }
      line_start = false;
      if (c != '#' && quote == 0) {
        while (!indents.empty() && indents.back() >= indent) indents.pop_back();
        indents.push_back(indent);
        if (static_cast<int>(indents.size()) > kMaxNesting) {
          return FailAt(Location{path, line, col}, "nested too deeply (more than {} levels)",
                        kMaxNesting);
        }
      }
    }
    if (comment) continue;
    if (quote) {
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '#') {
      comment = true;
    } else if (c == '"' || c == '\'') {
      // A quote opens a string only where a token starts ("it's" inside [...] is plain text).
      if (depth > 0 && (before == '[' || before == '{' || before == ',' || before == ':' || before == ' ')) {
        quote = c;
      }
    } else if (c == '[' || c == '{') {
      if (++depth + static_cast<int>(indents.size()) > kMaxNesting) {
        return FailAt(Location{path, line, col}, "nested too deeply (more than {} levels)",
                      kMaxNesting);
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return {};
}

std::optional<BareTemplate> FindBareTemplate(std::string_view text) {
  static constexpr std::string_view kRoots[] = {"params", "tasks",   "item",     "run",
                                                "task",   "error",   "component", "pipeline",
                                                "secrets", "inputs", "outputs",  "workflow",
                                                "steps", "schedule"};
  size_t at = 0;
  while ((at = text.find("{{", at)) != std::string_view::npos) {
    size_t close = text.find("}}", at + 2);
    if (close == std::string_view::npos) return std::nullopt;
    if (at > 0 && text[at - 1] == '$') {  // a placeholder: its content is an expression
      at = close + 2;
      continue;
    }
    std::string_view body = Trim(text.substr(at + 2, close - at - 2));
    size_t n = 0;
    while (n < body.size() && IsIdentChar(body[n])) ++n;
    std::string_view root = body.substr(0, n);
    bool ends_root = n == body.size() || body[n] == '.' || body[n] == '[' || body[n] == ' ';
    if (ends_root && std::find(std::begin(kRoots), std::end(kRoots), root) != std::end(kRoots)) {
      return BareTemplate{at, body};
    }
    at += 2;
  }
  return std::nullopt;
}

}  // namespace sluice
