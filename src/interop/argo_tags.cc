// Argo's simple tags (https://argo-workflows.readthedocs.io/en/latest/variables/) become
// references Sluice checks at load time; a tag that names nothing here is an error, never text
// left for the task to see.
#include "interop/argo_tags.h"

#include <fmt/format.h>

#include <cctype>
#include <cstdlib>
#include <vector>

#include "common/strings.h"
#include "interop/argo_expr.h"

namespace sluice {
namespace {

bool IsIdent(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

std::unexpected<Error> NotImported(std::string_view tag, std::string_view why) {
  return std::unexpected(Error(ErrorCode::kInvalidInput,
                               fmt::format("{{{{{}}}}} is not imported: {}", tag, why)));
}

// A step's or task's outputs: steps.X.outputs.result|parameters.Y|artifacts.Y.
Result<std::string> CallOutput(std::string_view tag, const std::vector<std::string>& p,
                               ArgoScope& scope) {
  if (!scope.calls) {
    return NotImported(tag, fmt::format("{}.* is only known in a steps or dag template", p[0]));
  }
  auto it = scope.calls->find(std::string(p[1]));
  if (it == scope.calls->end()) {
    return NotImported(tag, fmt::format("this template has no step or task {}", Quote(p[1])));
  }
  const std::string task = fmt::format("tasks.{}", p[1]);
  if (p.size() == 4 && p[2] == "outputs" && p[3] == "result") {
    scope.results.insert(it->second);
    return task + ".outputs.params.result";
  }
  if (p.size() == 5 && p[2] == "outputs" && (p[3] == "parameters" || p[3] == "artifacts")) {
    return fmt::format("{}.outputs.{}{}", task, p[3] == "parameters" ? "params" : "artifacts",
                       ArgoCelMember(p[4]));
  }
  // A loop's outputs.parameters: the JSON list of each iteration's parameters, by name.
  if (p.size() == 4 && p[2] == "outputs" && p[3] == "parameters") {
    const std::vector<std::string>* names = nullptr;
    if (scope.outputs && scope.outputs->contains(it->second)) names = &scope.outputs->at(it->second);
    if (!names || names->empty()) {
      return NotImported(tag, fmt::format("the template {} calls declares no output parameters", p[1]));
    }
    std::vector<std::string> entries;
    for (const std::string& n : *names) {
      entries.push_back(fmt::format("{}: string({}.outputs.params{}[i])", ArgoCelString(n), task,
                                    ArgoCelMember(n)));
    }
    return fmt::format("lists.range(size({}.outputs.params{})).map(i, {{{}}})", task,
                       ArgoCelMember(names->front()), Join(entries, ", "));
  }
  return NotImported(tag, "only outputs.result, outputs.parameters[.NAME] and "
                          "outputs.artifacts.NAME of a step or task are");
}

}  // namespace

std::string ArgoCelMember(std::string_view name) {
  return IsIdent(name) ? fmt::format(".{}", name) : fmt::format(".`{}`", name);
}

std::string ArgoCelString(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

std::string ArgoGlobalParam(std::string_view tag) {
  constexpr std::string_view kParams = "workflow.parameters.";
  if (tag.starts_with(kParams)) return fmt::format("workflow-{}", tag.substr(kParams.size()));
  constexpr std::string_view kOutputs = "workflow.outputs.parameters.";
  if (tag.starts_with(kOutputs)) return fmt::format("argo-output-{}", tag.substr(kOutputs.size()));
  return fmt::format("argo-workflow-{}", tag.substr(tag.find('.') + 1));
}

std::string ArgoGlobalValue(std::string_view param, bool exit_handler) {
  if (param == "argo-workflow-status") {
    return exit_handler ? "size(run.failures) == 0 ? 'Succeeded' : 'Failed'" : "'Running'";
  }
  if (param == "argo-workflow-failures") return "run.failures";
  // A global output read before any step gave it: Argo leaves it unset. (The exit handler's
  // comes from the entrypoint's task: argo_emit.cc.)
  if (param.starts_with("argo-output-")) return "''";
  if (param == "argo-workflow-duration") {
    return "double(run.duration.getMilliseconds()) / 1000.0";
  }
  return fmt::format("params.{}", param.substr(std::string_view("workflow-").size()));
}

Result<std::string> ArgoTagExpr(std::string_view tag, ArgoScope& scope) {
  const std::vector<std::string> p = Split(tag, '.');
  const std::string_view root = p[0];
  if (root == "item") {
    if (!scope.item) return NotImported(tag, "item is only bound in a step or task with a loop");
    std::string out = "item";
    for (size_t i = 1; i < p.size(); ++i) out += ArgoCelMember(p[i]);
    return out;
  }
  if (root == "inputs" && p.size() == 3 && p[1] == "parameters") {
    if (!scope.inputs || !scope.inputs->contains(std::string(p[2]))) {
      return NotImported(tag, fmt::format("the template has no input parameter {}", Quote(p[2])));
    }
    return fmt::format("params.{}", p[2]);
  }
  if (root == "workflow" && p.size() >= 3 && p[1] == "parameters") {
    std::string param = ArgoGlobalParam(tag);
    scope.globals.insert(param);
    return fmt::format("params.{}", param);
  }
  // A global output (globalName): carried down like a parameter, from the call that gave it
  // (argo_import_globals.cc).
  if (root == "workflow" && p.size() == 4 && p[1] == "outputs" && p[2] == "parameters") {
    std::string param = ArgoGlobalParam(tag);
    scope.globals.insert(param);
    return fmt::format("params.{}", param);
  }
  if (root == "workflow" && p.size() == 2) {
    if (p[1] == "name" || p[1] == "uid") return std::string("run.id");
    if (p[1] == "namespace") return std::string("'default'");
    if (p[1] == "creationTimestamp") return std::string("string(run.started)");
    // When a schedule fired the run (a CronWorkflow's, docs/schedules.md); "" otherwise.
    if (p[1] == "scheduledTime") {
      return std::string("(schedule.time == null ? '' : string(schedule.time))");
    }
    if (p[1] == "status" || p[1] == "failures" || p[1] == "duration") {
      std::string param = ArgoGlobalParam(tag);
      scope.globals.insert(param);
      return fmt::format("params.{}", param);
    }
  }
  if ((root == "pod" || root == "node") && p.size() == 2 && p[1] == "name") {
    return std::string("task.name");
  }
  if (root == "retries" && p.size() == 1) return std::string("task.attempt - 1");
  if ((root == "steps" || root == "tasks") && p.size() >= 3) return CallOutput(tag, p, scope);
  return NotImported(tag, "Sluice has no value for it (docs/interop.md lists the variables "
                          "that are imported)");
}

Result<std::string> TranslateArgoText(std::string_view text, ArgoScope& scope) {
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) break;
    size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) break;
    std::string_view body = Trim(text.substr(open + 2, close - open - 2));
    // Argo substitutes tags whose names start with a letter; other braces (Go templates,
    // Jinja) stay text.
    if (body.empty() || !(std::isalpha(static_cast<unsigned char>(body[0])) || body[0] == '=')) {
      out += text.substr(pos, close + 2 - pos);
      pos = close + 2;
      continue;
    }
    auto fail = [&](const Error& e) {
      return std::unexpected(Error(e.code, fmt::format("{} (column {})", e.message, open + 1)));
    };
    if (body[0] == '=') {
      // The expression's own errors carry their column in `text`.
      const size_t at = static_cast<size_t>(body.data() + 1 - text.data());
      auto expr = TranslateArgoExpr(body.substr(1), scope, at);
      if (!expr) {
        return std::unexpected(Error(expr.error().code, fmt::format("{{{{{}}}}} is not imported: {}",
                                                                    body, expr.error().message)));
      }
      out += text.substr(pos, open - pos);
      out += fmt::format("${{{{ {} }}}}", *expr);
      pos = close + 2;
      continue;
    }
    auto expr = ArgoTagExpr(body, scope);
    if (!expr) return fail(expr.error());
    out += text.substr(pos, open - pos);
    out += fmt::format("${{{{ {} }}}}", *expr);
    pos = close + 2;
  }
  out += text.substr(pos);
  return out;
}

// --- when -------------------------------------------------------------------------------

namespace {

// An operand of a govaluate comparison, as CEL text and what kind of value it gives.
struct Operand {
  enum class Kind { kTag, kString, kNumber, kBool } kind = Kind::kString;
  std::string cel;
};

class WhenTranslator {
 public:
  WhenTranslator(std::string_view text, ArgoScope& scope) : s_(text), scope_(scope) {}

  Result<std::string> Run() {
    SLUICE_TRY(e, Or());
    Space();
    if (pos_ < s_.size()) return Fail(fmt::format("unexpected {}", Quote(s_.substr(pos_))));
    return *e;
  }

 private:
  std::unexpected<Error> Fail(const std::string& why) const {
    return std::unexpected(Error(ErrorCode::kInvalidInput,
                                 fmt::format("when: {} (column {})", why, pos_ + 1)));
  }
  void Space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool Eat(std::string_view op) {
    Space();
    if (s_.substr(pos_, op.size()) != op) return false;
    pos_ += op.size();
    return true;
  }
  Result<std::string> Or() {
    SLUICE_TRY(l, And());
    std::string out = *l;
    while (Eat("||")) {
      SLUICE_TRY(r, And());
      out = fmt::format("{} || {}", out, *r);
    }
    return out;
  }
  Result<std::string> And() {
    SLUICE_TRY(l, Not());
    std::string out = *l;
    while (Eat("&&")) {
      SLUICE_TRY(r, Not());
      out = fmt::format("{} && {}", out, *r);
    }
    return out;
  }
  Result<std::string> Not() {
    Space();
    if (s_.substr(pos_, 1) == "!" && s_.substr(pos_, 2) != "!=" && s_.substr(pos_, 2) != "!~") {
      ++pos_;
      SLUICE_TRY(inner, Not());
      return fmt::format("!({})", *inner);
    }
    return Comparison();
  }
  Result<std::string> Comparison() {
    Space();
    if (Eat("(")) {
      SLUICE_TRY(inner, Or());
      if (!Eat(")")) return Fail("missing )");
      return fmt::format("({})", *inner);
    }
    SLUICE_TRY(left, Primary());
    static constexpr std::string_view kOps[] = {"==", "!=", ">=", "<=", "=~", "!~", ">", "<"};
    Space();
    for (std::string_view op : kOps) {
      if (!Eat(op)) continue;
      SLUICE_TRY(right, Primary());
      return Compare(*left, op, *right);
    }
    // A value alone: true when it reads "true", as govaluate's bool.
    if (left->kind == Operand::Kind::kBool) return left->cel;
    return fmt::format("string({}) == 'true'", left->cel);
  }
  static std::string As(const Operand& o, Operand::Kind want) {
    if (o.kind == want || o.kind != Operand::Kind::kTag) return o.cel;
    return want == Operand::Kind::kNumber ? fmt::format("double({})", o.cel)
                                          : fmt::format("string({})", o.cel);
  }
  Result<std::string> Compare(const Operand& l, std::string_view op, const Operand& r) {
    if (op == "=~" || op == "!~") {
      std::string m = fmt::format("{}.matches({})", As(l, Operand::Kind::kString),
                                  As(r, Operand::Kind::kString));
      return op == "=~" ? m : fmt::format("!{}", m);
    }
    // Numbers compare as numbers, anything else as text.
    Operand::Kind want = (l.kind == Operand::Kind::kNumber || r.kind == Operand::Kind::kNumber)
                             ? Operand::Kind::kNumber
                             : Operand::Kind::kString;
    if (l.kind == Operand::Kind::kBool || r.kind == Operand::Kind::kBool) {
      want = Operand::Kind::kString;
      auto text = [](const Operand& o) {
        return o.kind == Operand::Kind::kBool ? fmt::format("'{}'", o.cel)
                                              : fmt::format("string({})", o.cel);
      };
      return fmt::format("{} {} {}", text(l), op, text(r));
    }
    return fmt::format("{} {} {}", As(l, want), op, As(r, want));
  }
  Result<Operand> Primary() {
    Space();
    if (pos_ >= s_.size()) return Fail("a value is missing at the end");
    const char c = s_[pos_];
    if (c == '\'' || c == '"') return Quoted(c);
    if (s_.substr(pos_, 2) == "{{") {
      SLUICE_TRY(cel, Tag());
      return Operand{Operand::Kind::kTag, *cel};
    }
    // A bare word: a number, true/false, or text (govaluate reads unknown words as strings
    // once tags are substituted).
    size_t start = pos_;
    while (pos_ < s_.size() && !std::isspace(static_cast<unsigned char>(s_[pos_])) &&
           std::string_view("()=!<>&|").find(s_[pos_]) == std::string_view::npos) {
      if (s_.substr(pos_, 2) == "{{") return Fail("a tag inside a word is not imported");
      ++pos_;
    }
    std::string_view word = s_.substr(start, pos_ - start);
    if (word.empty()) return Fail(fmt::format("unexpected {}", Quote(s_.substr(pos_, 1))));
    if (word == "true" || word == "false") return Operand{Operand::Kind::kBool, std::string(word)};
    char* end = nullptr;
    std::string w(word);
    std::strtod(w.c_str(), &end);
    if (end && *end == '\0' && (std::isdigit(static_cast<unsigned char>(w[0])) || w[0] == '-' ||
                                w[0] == '.')) {
      return Operand{Operand::Kind::kNumber, w.find_first_of(".eE") == std::string::npos
                                                 ? w + ".0"
                                                 : w};
    }
    return Operand{Operand::Kind::kString, ArgoCelString(word)};
  }
  Result<std::string> Tag() {
    size_t close = s_.find("}}", pos_ + 2);
    if (close == std::string_view::npos) return Fail("a tag is not closed with }}");
    std::string_view body = Trim(s_.substr(pos_ + 2, close - pos_ - 2));
    auto cel = ArgoTagExpr(body, scope_);
    if (!cel) return Fail(cel.error().message);
    pos_ = close + 2;
    return *cel;
  }
  // A quoted string, whose tags are substituted into it.
  Result<Operand> Quoted(char q) {
    size_t close = s_.find(q, pos_ + 1);
    if (close == std::string_view::npos) return Fail("a quoted string is not closed");
    std::string_view body = s_.substr(pos_ + 1, close - pos_ - 1);
    pos_ = close + 1;
    std::vector<std::string> parts;
    bool tag = false;
    size_t at = 0;
    while (at < body.size()) {
      size_t open = body.find("{{", at);
      size_t end = open == std::string_view::npos ? open : body.find("}}", open);
      if (end == std::string_view::npos) {
        parts.push_back(ArgoCelString(body.substr(at)));
        break;
      }
      if (open > at) parts.push_back(ArgoCelString(body.substr(at, open - at)));
      auto cel = ArgoTagExpr(Trim(body.substr(open + 2, end - open - 2)), scope_);
      if (!cel) return Fail(cel.error().message);
      parts.push_back(fmt::format("string({})", *cel));
      tag = true;
      at = end + 2;
    }
    if (parts.empty()) return Operand{Operand::Kind::kString, "''"};
    std::string cel = parts[0];
    for (size_t i = 1; i < parts.size(); ++i) cel += " + " + parts[i];
    // A string that is one tag is that tag's value, as govaluate sees it after substitution.
    return Operand{tag && parts.size() == 1 ? Operand::Kind::kTag : Operand::Kind::kString, cel};
  }
  std::string_view s_;
  size_t pos_ = 0;
  ArgoScope& scope_;
};

}  // namespace

Result<std::string> TranslateArgoWhen(std::string_view when, ArgoScope& scope) {
  SLUICE_TRY(cel, WhenTranslator(when, scope).Run());
  if (cel->find("}}") != std::string::npos) {
    return std::unexpected(Error(ErrorCode::kInvalidInput,
                                 "when: text holding }} is not imported (a placeholder ends "
                                 "there)"));
  }
  return fmt::format("${{{{ {} }}}}", *cel);
}

}  // namespace sluice
