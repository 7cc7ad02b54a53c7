// Expressions and templates: the language of conditions (`when`), placeholders (`${{ }}`) and,
// as it grows towards CEL, retry conditions and policies.
//
// An Expression is parsed once (and checked by the pipeline compiler through its references())
// and evaluated many times against an Activation. Expressions are immutable after parsing and
// may be shared between threads; evaluation allocates only for the values it builds.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/time_zone.h"
#include "common/value.h"

namespace sluice {

struct Node;

// A dotted path that an expression reads: {"tasks", "train", "outputs", "params", "acc"}.
struct Reference {
  std::vector<std::string> path;
  int column = 0;  // 1-based column of the path's first character within the expression
};

// Resolves variables. Resolve() receives the longest dotted path the expression spells at that
// point and returns the value of some prefix of it plus how many segments it consumed; the
// evaluator applies the remaining segments as field selections. A path it does not know is an
// error whose message names it.
class Activation {
 public:
  virtual ~Activation() = default;
  struct Resolved {
    Value value;
    size_t consumed = 0;
  };
  virtual Result<Resolved> Resolve(std::span<const std::string> path) const = 0;
  // Named time zones for timestamp accessors; null: only UTC and fixed offsets.
  virtual const TimeZones* time_zones() const { return nullptr; }
};

// The names a pipeline (or component) declares, so that names with hyphens read without
// backticks: `tasks.flip-coin.outputs.params.x`, `params.max-depth` (docs/expressions.md §13.2).
class DeclaredNames {
 public:
  virtual ~DeclaredNames() = default;
  // Whether `root` ("tasks" or "params") has a member called `name`.
  virtual bool Has(std::string_view root, std::string_view name) const = 0;
};

class Expression {
 public:
  // Parses `text`. On failure the error message reads "column N: what is wrong". With `names`,
  // `tasks.a-b` and `params.a-b` name a declared `a-b` (HyphenatedNameEnd); without, `-` is
  // always subtraction.
  static Result<Expression> Parse(std::string_view text, const DeclaredNames* names = nullptr);

  const std::string& text() const { return text_; }
  const std::vector<Reference>& references() const { return refs_; }
  const Node& root() const { return *root_; }

  // Evaluates against `act`. On failure (unknown variable, wrong operand types, division by
  // zero, integer overflow, too much work) returns an error; never throws or crashes.
  Result<Value> Evaluate(const Activation& act) const;

 private:
  std::string text_;
  std::shared_ptr<const Node> root_;
  std::vector<Reference> refs_;
};

// A string with `${{ expr }}` placeholders. A template that is exactly one placeholder
// evaluates to the expression's value with its type (a list stays a list); otherwise the
// pieces are joined as text (Value::ToText).
class Template {
 public:
  struct Piece {
    std::string literal;     // used when !expr
    std::shared_ptr<const Expression> expr;
    int offset = 0;          // byte offset of the placeholder's expression in the source text
  };

  // Parses `text`; fails on an unterminated or empty placeholder or a bad expression, with the
  // message prefixed by "column N".
  static Result<Template> Parse(std::string_view text, const DeclaredNames* names = nullptr);

  bool has_placeholders() const { return has_expr_; }
  // The literal texts and placeholders in order; empty for plain text (text() is all of it).
  const std::vector<Piece>& pieces() const { return pieces_; }
  const std::string& text() const { return text_; }
  Result<Value> Evaluate(const Activation& act) const;
  // Evaluates and renders as text.
  Result<std::string> Render(const Activation& act) const;

 private:
  std::string text_;
  std::vector<Piece> pieces_;
  bool has_expr_ = false;
};

// Whether a value counts as true for a condition: only the boolean true does; anything else
// that is not a bool is an error the caller reports.
Result<bool> AsCondition(const Value& v);

}  // namespace sluice
