#include "spec/yaml_tree_hints.h"

#include <fmt/format.h>

#include <algorithm>

namespace sluice {

namespace {

// Line `n` (0-based) of `text`, without its newline; "" past the end.
std::string_view Line(std::string_view text, size_t n) {
  size_t start = 0;
  for (size_t i = 0; i < n; ++i) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) return {};
    start = nl + 1;
  }
  std::string_view line = text.substr(start, text.find('\n', start) - start);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

size_t Indent(std::string_view line) {
  size_t n = 0;
  while (n < line.size() && line[n] == ' ') ++n;
  return n;
}

// The error is at the first ": " of line `n`, which is indented deeper than the line above:
// YAML read it as more of that line's plain value.
std::string ContinuedValueHint(std::string_view text, size_t n) {
  size_t ind = Indent(Line(text, n));
  for (size_t up = n; up-- > 0;) {
    std::string_view above = Line(text, up);
    if (above.find_first_not_of(' ') == std::string_view::npos || above[Indent(above)] == '#') continue;
    size_t a = Indent(above);
    if (above.substr(a).starts_with("- ")) a += 2;  // its key is after the '-'
    if (a >= ind) return "";
    return fmt::format("; hint: line {} is indented {} spaces, more than line {} above it ({}), "
                       "so it reads as the rest of that line's value: indent it by {} to make it "
                       "a key of the same map", n + 1, ind, up + 1, a, a);
  }
  return "";
}

// "KEY: VALUE" on `line`, with the error at `column` inside VALUE: the line with VALUE quoted.
std::string QuoteValueHint(std::string_view line, size_t column) {
  size_t lead = Indent(line);
  std::string_view body = line.substr(lead);
  if (body.starts_with("- ")) {
    lead += 2;
    body.remove_prefix(2);
  }
  size_t sep = body.find(": ");
  if (sep == std::string_view::npos || lead + sep + 2 > column) return "";
  std::string_view key = body.substr(0, sep);
  std::string_view value = body.substr(sep + 2);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  bool flow = key.find_first_of("[{") != std::string_view::npos ||
              (!value.empty() && (value.front() == '[' || value.front() == '{'));
  if (flow || value.empty() || value.size() > 200) {
    return "; hint: a value that holds \": \" must be quoted";
  }
  std::string quoted;
  for (char c : value) {
    if (c == '"' || c == '\\') quoted.push_back('\\');
    quoted.push_back(c);
  }
  return fmt::format("; hint: a value that holds \": \" must be quoted: {}: \"{}\"", key, quoted);
}

// The line at `p` is indented to match no block of the map or list that `p.context` started.
std::string IndentHint(std::string_view text, const YamlProblem& p) {
  std::string_view line = Line(text, p.line);
  size_t ind = Indent(line);
  std::string_view rest = line.substr(ind);
  size_t block = p.context_column;  // where the block's keys (or its '-') start
  size_t n = p.line + 1, from = p.context_line + 1;
  if (p.context.find("block collection") != std::string_view::npos) {
    return fmt::format("; hint: line {} is indented {} spaces, but the list that starts at line "
                       "{} has its '-' at {} and its items' keys at {}: indent it by {} to add a "
                       "key to the item above, or write \"- \" at {} to start a new item",
                       n, ind, from, block, block + 2, block + 2, block);
  }
  if (ind == block && rest.starts_with("- ")) {
    return fmt::format("; hint: line {} starts a list item at {} spaces, where the map that "
                       "starts at line {} has its keys: indent the '-' like the other items of "
                       "its list", n, ind, from);
  }
  if (ind > block) {
    return fmt::format("; hint: line {} is indented {} spaces, more than the keys of the map "
                       "that starts at line {} ({} spaces): indent it by {} to make it a key of "
                       "that map", n, ind, from, block, block);
  }
  return fmt::format("; hint: check the indentation of line {} ({} spaces): the keys of the map "
                     "that starts at line {} are at {}", n, ind, from, block);
}

}  // namespace

std::string YamlSyntaxHint(std::string_view text, const YamlProblem& p) {
  std::string_view line = Line(text, p.line);
  size_t lead = line.find_first_not_of(" \t");
  std::string_view leading = line.substr(0, lead == std::string_view::npos ? line.size() : lead);
  if (leading.find('\t') != std::string_view::npos) {
    return fmt::format("; hint: line {} is indented with a tab; YAML indents with spaces only",
                       p.line + 1);
  }
  if (p.problem.find("mapping values are not allowed") != std::string_view::npos) {
    size_t lead = Indent(line);
    if (line.substr(lead).starts_with("- ")) lead += 2;
    if (line.find(": ", lead) == p.column) return ContinuedValueHint(text, p.line);
    return QuoteValueHint(line, p.column);
  }
  bool block = p.context.find("while parsing a block") != std::string_view::npos;
  if (block && (p.problem.find("did not find expected key") != std::string_view::npos ||
                p.problem.find("did not find expected '-'") != std::string_view::npos)) {
    return IndentHint(text, p);
  }
  return "";
}

}  // namespace sluice
