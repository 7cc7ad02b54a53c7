// Templates: text with `${{ expr }}` placeholders, split into literal pieces and parsed
// expressions.
#include <cstdio>

#include "common/strings.h"
#include "expr/expr.h"

namespace sluice {

Result<Template> Template::Parse(std::string_view text, const DeclaredNames* names) {
  Template t;
  t.text_ = std::string(text);
  // Plain text is its own rendering and has no pieces: a million `run: [builtin:noop]`
  // arguments keep one copy of their text and no piece list.
  if (text.find("${{") == std::string_view::npos) return t;
  size_t i = 0;
  while (i < text.size()) {
    size_t open = text.find("${{", i);
    if (open == std::string_view::npos) {
      t.pieces_.push_back({std::string(text.substr(i)), nullptr, 0});
      break;
    }
    if (open > i) t.pieces_.push_back({std::string(text.substr(i, open - i)), nullptr, 0});
    size_t close = text.find("}}", open + 3);
    if (close == std::string_view::npos) {
      return Fail(ErrorCode::kInvalidInput, "column {}: unterminated placeholder, expected '}}}}'",
                  open + 1);
    }
    std::string_view body = text.substr(open + 3, close - open - 3);
    if (Trim(body).empty()) {
      return Fail(ErrorCode::kInvalidInput, "column {}: empty placeholder", open + 1);
    }
    auto e = Expression::Parse(body, names);
    if (!e) {
      // Report the column within the whole string, not just the placeholder.
      std::string msg = e.error().message;
      int col = 0;
      if (std::sscanf(msg.c_str(), "column %d:", &col) == 1) {
        msg = fmt::format("column {}:{}", col + static_cast<int>(open) + 3,
                          msg.substr(msg.find(':') + 1));
      }
      return Fail(ErrorCode::kInvalidInput, "{}", msg);
    }
    t.pieces_.push_back({"", std::make_shared<const Expression>(std::move(*e)),
                         static_cast<int>(open) + 3});
    t.has_expr_ = true;
    i = close + 2;
  }
  return t;
}

}  // namespace sluice
