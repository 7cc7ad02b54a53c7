#include "expr/hyphen_names.h"

#include <cctype>
#include <vector>

#include "common/strings.h"

namespace sluice {

namespace {

bool IdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Whether the text at `at` starts an operand of subtraction: a number or a variable.
bool StartsOperand(std::string_view text, size_t at) {
  if (at >= text.size()) return false;
  if (std::isdigit(static_cast<unsigned char>(text[at]))) return true;
  size_t n = at;
  while (n < text.size() && IdentChar(text[n])) ++n;
  std::string_view word = text.substr(at, n - at);
  static constexpr std::string_view kRoots[] = {"params", "tasks",     "item",    "run", "task",
                                                "error",  "component", "pipeline", "schedule"};
  for (std::string_view r : kRoots) {
    if (word == r) return true;
  }
  return false;
}

}  // namespace

Result<size_t> HyphenatedNameEnd(std::string_view text, size_t start, size_t end,
                                 std::string_view root, const DeclaredNames& names) {
  // The ends of `a`, `a-b`, `a-b-c`...: each '-' directly followed by an identifier.
  std::vector<size_t> ends = {end};
  size_t at = end;
  while (at + 1 < text.size() && text[at] == '-' && IdentChar(text[at + 1])) {
    at += 1;
    while (at < text.size() && IdentChar(text[at])) ++at;
    ends.push_back(at);
  }
  if (ends.size() == 1) return end;
  size_t best = 0;  // index into ends; 0 = no hyphenated name
  for (size_t k = ends.size() - 1; k > 0 && best == 0; --k) {
    if (names.Has(root, text.substr(start, ends[k] - start))) best = k;
  }
  if (best == 0) return end;
  std::string_view name = text.substr(start, ends[best] - start);
  if (root == "params") {
    for (size_t k = 0; k < best; ++k) {
      std::string_view shorter = text.substr(start, ends[k] - start);
      if (!names.Has(root, shorter) || !StartsOperand(text, ends[k] + 1)) continue;
      return Fail(ErrorCode::kInvalidInput,
                  "params.{} is ambiguous: params {} and {} are both declared, so it could also "
                  "be params.{} - {}; write params.`{}` for the name, or put spaces around the "
                  "'-' for a subtraction", name, Quote(name), Quote(shorter), shorter,
                  text.substr(ends[k] + 1, ends[best] - ends[k] - 1), name);
    }
  }
  return ends[best];
}

}  // namespace sluice
