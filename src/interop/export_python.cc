// The Python-writing half of the Airflow and Prefect exports (export_python.h).
#include "interop/export_python.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "common/strings.h"
#include "expr/ast.h"

namespace sluice {
namespace {

// Decodes one UTF-8 code point at s[i]; returns its length, 0 for an invalid sequence.
int DecodeUtf8(std::string_view s, size_t i, uint32_t* cp) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (len == 0 || i + len > s.size()) return 0;
  uint32_t v = len == 1 ? c : len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
  for (int k = 1; k < len; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    v = (v << 6) | (b(i + k) & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are invalid UTF-8.
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (v < kMin[len] || (v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF) return 0;
  *cp = v;
  return len;
}

// Code points shown as escapes even though Python would take them: controls, and the
// invisible or direction-changing ones that make source read differently from what it does.
bool EscapeCodePoint(uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0xAD || (cp >= 0x200B && cp <= 0x200F) ||
         (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x2069) || cp == 0xFEFF;
}

// The body of a Python string literal (without quotes), escaping `quote` too when set.
std::string EscapeBody(std::string_view s, char quote) {
  std::string out;
  out.reserve(s.size() + 2);
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    const int len = DecodeUtf8(s, i, &cp);
    if (len == 0) {  // an invalid byte: Python's surrogateescape code point for it
      out += fmt::format("\\udc{:02x}", static_cast<unsigned char>(s[i]));
      ++i;
      continue;
    }
    if (cp == '\\') out += "\\\\";
    else if (quote && cp == static_cast<uint32_t>(quote)) out += fmt::format("\\{}", quote);
    else if (cp == '\n') out += "\\n";
    else if (cp == '\t') out += "\\t";
    else if (cp == '\r') out += "\\r";
    else if (EscapeCodePoint(cp)) out += cp <= 0xFF ? fmt::format("\\x{:02x}", cp) : fmt::format("\\u{:04x}", cp);
    else out.append(s.substr(i, len));
    i += len;
  }
  return out;
}

const char* const kPyKeywords[] = {
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
    "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
    "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return",
    "try", "while", "with", "yield", "match", "case", "type"};

// Translates one expression tree; `ok` turns false on anything outside the subset.
class ExprWriter {
 public:
  explicit ExprWriter(const PyScope& s) : s_(s) {}
  bool ok = true;

  std::string Write(const Node& n) {
    using K = Node::Kind;
    std::vector<std::string> path;
    switch (n.kind) {
      case K::kLiteral: return PyLiteral(n.value);
      case K::kIdent:
      case K::kSelect:
        if (PathOf(n, &path)) return Reference(path);
        return fmt::format("{}[{}]", Write(*n.args[0]), PyStr(n.name));
      case K::kIndex: return fmt::format("{}[{}]", Write(*n.args[0]), Write(*n.args[1]));
      case K::kUnary:
        if (n.name == "!") return fmt::format("(not {})", Write(*n.args[0]));
        if (n.name == "-") return fmt::format("(-{})", Write(*n.args[0]));
        return Bad();
      case K::kBinary: return Binary(n);
      case K::kAnd: return fmt::format("({} and {})", Write(*n.args[0]), Write(*n.args[1]));
      case K::kOr: return fmt::format("({} or {})", Write(*n.args[0]), Write(*n.args[1]));
      case K::kCond:
        return fmt::format("({} if {} else {})", Write(*n.args[1]), Write(*n.args[0]),
                           Write(*n.args[2]));
      case K::kList: {
        std::vector<std::string> items;
        for (const auto& a : n.args) items.push_back(Write(*a));
        return "[" + Join(items, ", ") + "]";
      }
      case K::kMap: {
        std::vector<std::string> items;
        for (size_t i = 0; i + 1 < n.args.size(); i += 2) {
          items.push_back(Write(*n.args[i]) + ": " + Write(*n.args[i + 1]));
        }
        return "{" + Join(items, ", ") + "}";
      }
      case K::kCall: return Call(n);
    }
    return Bad();
  }

 private:
  std::string Bad() {
    ok = false;
    return "None";
  }

  // A dotted name (a.b.c), outermost first.
  static bool PathOf(const Node& n, std::vector<std::string>* path) {
    if (n.kind == Node::Kind::kIdent) {
      path->insert(path->begin(), n.name);
      return true;
    }
    if (n.kind != Node::Kind::kSelect) return false;
    path->insert(path->begin(), n.name);
    return PathOf(*n.args[0], path);
  }

  static std::string Rest(const std::vector<std::string>& path, size_t from) {
    std::string out;
    for (size_t i = from; i < path.size(); ++i) out += "[" + PyStr(path[i]) + "]";
    return out;
  }

  // What a dotted name reads in the generated function (export_python.h, PyScope).
  std::string Reference(const std::vector<std::string>& path) {
    const std::string& root = path[0];
    if (root == "params" && path.size() >= 2) {
      if (s_.component && s_.args) {  // a component's param: the task's binding of it
        for (const auto& a : *s_.args) {
          if (a.name != path[1]) continue;
          std::string v = a.field ? PyField(*a.field, *s_.outer) : PyLiteral(a.value);
          return path.size() > 2 ? "(" + v + ")" + Rest(path, 2) : v;
        }
        return Bad();
      }
      return "P" + Rest(path, 1);
    }
    if (root == "item" && !s_.component) return "item" + Rest(path, 1);
    if (root == "tasks" && !s_.component && path.size() >= 5 && path[2] == "outputs" &&
        (path[3] == "params" || path[3] == "artifacts") && s_.plan->FindIn(s_.scope, path[1])) {
      return fmt::format("_out(up[{}], {}, {}){}", PyStr(path[1]), PyStr(path[3]), PyStr(path[4]),
                         Rest(path, 5));
    }
    if (root == "pipeline" && path.size() == 2 && path[1] == "dir") {
      return PyStr(Dirname(s_.plan->pipeline->file));
    }
    if (root == "component" && s_.component && path.size() == 2 && path[1] == "dir") {
      return PyStr(s_.component->dir);
    }
    if (root == "run" && path.size() == 2 && path[1] == "id") return "run_id";
    if (root == "run" && path.size() == 2 && path[1] == "status" && s_.has_run_status) {
      return "run_status";
    }
    if (root == "run" && path.size() == 2 && path[1] == "failedTasks" && s_.has_run_status) {
      return "run_failed";
    }
    return Bad();
  }

  std::string Binary(const Node& n) {
    static constexpr std::string_view kSame[] = {"==", "!=", "<", "<=", ">", ">=", "+", "-", "*",
                                                 "in"};
    // CEL's / and % truncate integers towards zero, Python's floor: not translated.
    if (std::ranges::find(kSame, n.name) == std::end(kSame)) return Bad();
    return fmt::format("({} {} {})", Write(*n.args[0]), n.name, Write(*n.args[1]));
  }

  std::string Call(const Node& n) {
    std::vector<std::string> args;
    const bool math = n.has_receiver && n.args[0]->kind == Node::Kind::kIdent &&
                      n.args[0]->name == "math";
    for (size_t i = math ? 1 : 0; i < n.args.size(); ++i) args.push_back(Write(*n.args[i]));
    const std::string& f = n.name;
    if (math && (f == "greatest" || f == "least") && !args.empty()) {
      return fmt::format("{}({})", f == "greatest" ? "max" : "min", Join(args, ", "));
    }
    if (f == "size" && args.size() == 1) return "len(" + args[0] + ")";
    if (f == "string" && args.size() == 1 && !n.has_receiver) return "_text(" + args[0] + ")";
    if (f == "int" && args.size() == 1 && !n.has_receiver) return "int(" + args[0] + ")";
    if (f == "double" && args.size() == 1 && !n.has_receiver) return "float(" + args[0] + ")";
    if (n.has_receiver && args.size() == 2) {
      if (f == "contains") return fmt::format("({} in {})", args[1], args[0]);
      if (f == "startsWith") return fmt::format("{}.startswith({})", args[0], args[1]);
      if (f == "endsWith") return fmt::format("{}.endswith({})", args[0], args[1]);
    }
    return Bad();
  }

  const PyScope& s_;
};

std::string Unsupported(std::string_view text, const PyScope& s) {
  text = Trim(text);  // the placeholder's text keeps the spaces inside ${{ }}
  if (s.unsupported) s.unsupported->push_back(std::string(text));
  return "_unsupported(" + PyStr(text) + ")";
}

const char* OutputSourceName(OutputSource s) {
  switch (s) {
    case OutputSource::kFile: return "file";
    case OutputSource::kFileJson: return "file-json";
    case OutputSource::kStdoutText: return "stdout";
    case OutputSource::kStdoutJson: return "stdout-json";
  }
  return "file";
}

std::string Ms(int64_t ms) { return PySeconds(ms) + "s"; }

}  // namespace

std::string PyStr(std::string_view s) { return "\"" + EscapeBody(s, '"') + "\""; }

std::string PyText(const std::string& expr) {
  // A string literal, or a "".join([...]), is text already.
  return expr.starts_with('"') ? expr : "_text(" + expr + ")";
}

std::string PyCommentText(std::string_view s) { return EscapeBody(s, 0); }

std::string PyLiteral(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNull: return "None";
    case Value::Kind::kBool: return v.as_bool() ? "True" : "False";
    case Value::Kind::kInt: return std::to_string(v.as_int());
    case Value::Kind::kUint: return std::to_string(v.as_uint());
    case Value::Kind::kDouble: {
      const double d = v.as_double();
      if (std::isnan(d)) return "float(\"nan\")";
      if (std::isinf(d)) return d > 0 ? "float(\"inf\")" : "float(\"-inf\")";
      std::string t = fmt::format("{}", d);  // shortest round trip
      if (t.find_first_of(".eE") == std::string::npos) t += ".0";
      return t;
    }
    case Value::Kind::kList: {
      std::vector<std::string> items;
      for (const auto& e : v.as_list()) items.push_back(PyLiteral(e));
      return "[" + Join(items, ", ") + "]";
    }
    case Value::Kind::kMap: {
      std::vector<std::string> items;
      for (const auto& [k, e] : v.as_map()) items.push_back(PyLiteral(k) + ": " + PyLiteral(e));
      return "{" + Join(items, ", ") + "}";
    }
    default: return PyStr(v.ToText());  // strings, bytes, timestamps, durations: their text
  }
}

std::string PyNames::Make(std::string_view prefix, std::string_view name) {
  std::string base(prefix);
  for (char c : name) {
    const bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    base += word ? c : '_';
  }
  if (base.empty() || (base[0] >= '0' && base[0] <= '9')) base.insert(0, "n_");
  if (std::ranges::find(kPyKeywords, base) != std::end(kPyKeywords)) base += "_";
  std::string id = base;
  for (int i = 2; used_.contains(id); ++i) id = fmt::format("{}_{}", base, i);
  used_.insert(id);
  return id;
}

std::string PyExpression(const Expression& e, const PyScope& scope) {
  ExprWriter w(scope);
  std::string out = w.Write(e.root());
  return w.ok ? out : Unsupported(e.text(), scope);
}

std::string PyField(const TemplateField& f, const PyScope& scope) {
  if (f.literal) return PyLiteral(*f.literal);
  const auto& pieces = f.tmpl.pieces();
  if (!f.tmpl.has_placeholders() || pieces.empty()) return PyStr(f.tmpl.text());
  if (pieces.size() == 1 && pieces[0].expr) return PyExpression(*pieces[0].expr, scope);
  std::vector<std::string> parts;
  for (const auto& p : pieces) {
    parts.push_back(p.expr ? PyText(PyExpression(*p.expr, scope)) : PyStr(p.literal));
  }
  return "\"\".join([" + Join(parts, ", ") + "])";
}

PyTaskScopes PyScopesOf(const Plan& plan, const PlanTask& t, std::vector<std::string>* unsupported,
                        bool run_status) {
  PyTaskScopes s;
  s.task.plan = &plan;
  s.task.scope = t.scope;
  s.task.has_run_status = run_status;
  s.task.unsupported = unsupported;
  s.body = s.task;
  if (const ComponentSpec* c = t.component(); c && t.tmpl() < 0) {
    s.body.component = c;
    s.body.args = &t.component_args();
  }
  return s;
}

PyCommand PyCommandOf(const Plan& plan, const PlanTask& t, std::vector<std::string>* unsupported,
                      bool run_status) {
  PyCommand cmd;
  PyTaskScopes s = PyScopesOf(plan, t, unsupported, run_status);
  s.body.outer = &s.task;
  auto text = [&](const TemplateField& f, const PyScope& scope) {
    if (!f.literal && !f.tmpl.has_placeholders()) return PyStr(f.tmpl.text());
    return PyText(PyField(f, scope));
  };
  std::vector<std::string> argv;
  switch (t.kind) {
    case Body::Kind::kRun:
      for (const auto& f : t.body->run) argv.push_back(text(f, s.body));
      break;
    case Body::Kind::kScript:
      for (const auto& part : Split(t.body->shell(), ' ')) {
        if (!part.empty()) argv.push_back(PyStr(part));
      }
      argv.push_back(PyStr("-c"));
      argv.push_back(PyStr(t.body->text));
      break;
    case Body::Kind::kBuiltin: cmd.builtin = t.body->text; break;
    default: cmd.builtin = "noop"; break;  // an approval-only task has no body
  }
  if (!argv.empty()) cmd.argv = "[" + Join(argv, ", ") + "]";
  auto add_env = [&](const std::vector<std::pair<std::string, TemplateField>>& list,
                     const PyScope& scope) {
    for (const auto& [name, field] : list) {
      std::erase_if(cmd.env, [&](const auto& kv) { return kv.first == name; });
      cmd.env.emplace_back(name, text(field, scope));
    }
  };
  if (const ComponentSpec* c = t.component(); c && t.tmpl() < 0) add_env(c->env, s.body);
  add_env(t.spec->env(), s.task);
  std::optional<WorkingDir> wd = t.spec->opts().working_dir;
  if (!wd && t.component()) wd = t.component()->working_dir;
  if (!wd) wd = plan.pipeline->defaults.working_dir;
  cmd.pipeline_dir = wd == WorkingDir::kPipeline;
  return cmd;
}

std::string PyOutputDecls(const PlanTask& t) {
  std::vector<std::string> params, artifacts;
  if (t.outputs) {
    for (const auto& o : t.outputs->params) {
      params.push_back(fmt::format("[{}, {}, {}, {}, {}]", PyStr(o.name),
                                   PyStr(OutputSourceName(o.source)), PyStr(o.path),
                                   PyStr(o.json_path),
                                   o.type ? PyStr(ParamTypeName(*o.type)) : "None"));
    }
    for (const auto& a : t.outputs->artifacts) {
      artifacts.push_back(fmt::format("[{}, {}]", PyStr(a.name), PyStr(a.path)));
    }
  }
  return fmt::format("{{\"params\": [{}], \"artifacts\": [{}]}}", Join(params, ", "),
                     Join(artifacts, ", "));
}

std::vector<const PlanTask*> TasksOf(const Plan& plan, int scope, TaskRole role) {
  std::vector<const PlanTask*> out;
  for (const auto& t : plan.tasks) {
    if (t.scope == scope && t.role == role) out.push_back(&t);
  }
  return out;
}

std::string PySeconds(int64_t ms) {
  return ms % 1000 == 0 ? std::to_string(ms / 1000) : fmt::format("{}", ms / 1000.0);
}

std::vector<std::string> PyNotExpressed(const Plan& plan, std::string_view target) {
  std::vector<std::string> out;
  const PipelineSpec& p = *plan.pipeline;
  auto add = [&](std::string line) { out.push_back(std::move(line)); };
  for (const auto& t : plan.tasks) {
    if (t.role != TaskRole::kMain && t.role != TaskRole::kFinally) continue;
    const std::string n = Quote(t.name);
    if (t.breaker()) {
      add(fmt::format("task {}: circuit breaker {} (state shared across runs): not expressed", n,
                      Quote(t.breaker()->name)));
    }
    if (t.compensate >= 0) add(fmt::format("task {}: compensate handler (saga undo): not expressed", n));
    if (!t.catches().empty()) add(fmt::format("task {}: catch handlers: not expressed", n));
    if (t.fallback >= 0) add(fmt::format("task {}: fallback: not expressed", n));
    if (t.cache.enabled) add(fmt::format("task {}: cache by content hash: not expressed", n));
    if (t.deadline_ms > 0) {
      add(fmt::format("task {}: deadline {} over all attempts: not expressed (the timeout per "
                      "attempt is)", n, Ms(t.deadline_ms)));
    }
    if (t.resources && t.resources->set) {
      std::vector<std::string> parts;
      if (t.resources->cpu > 0) parts.push_back(fmt::format("cpu {}", t.resources->cpu));
      if (t.resources->memory > 0) parts.push_back(fmt::format("memory {}", t.resources->memory));
      if (t.resources->gpu > 0) parts.push_back(fmt::format("gpu {}", t.resources->gpu));
      for (const auto& [pool, units] : t.resources->pools) {
        parts.push_back(fmt::format("pool {} x{}", pool, units));
      }
      if (!parts.empty()) {
        add(fmt::format("task {}: resources ({}): not expressed", n, Join(parts, ", ")));
      }
    }
    if (const RetryPolicy* r = t.retry; r && r->limit > 0) {
      if (!r->on.empty() || !r->except.empty() || r->when) {
        add(fmt::format("task {}: retry on/except/when (which failures retry): not expressed, "
                        "{} retries every failure", n, target));
      }
      if (r->jitter != Jitter::kNone) add(fmt::format("task {}: retry jitter: not expressed", n));
    }
    for (const auto& u : t.spec->secrets()) {
      add(fmt::format("task {}: secret {} (as {}): not expressed; give it to the task's "
                      "environment through {}'s own secrets", n, Quote(u.name),
                      u.env.empty() ? "file " + u.file : "env " + u.env, target));
    }
    if (t.remote()) {
      add(fmt::format("task {}: executor: {}: not expressed", n,
                      t.on_worker() ? "worker (placement labels)" : "slurm"));
    }
    if (t.spec->continue_on_failure) {
      add(fmt::format("task {}: continueOnFailure: not expressed (its failure fails the run)", n));
    }
    if (t.kind == Body::Kind::kBuiltin && t.body->text != "noop") {
      add(fmt::format("task {}: builtin {} (a Sluice rollout): not expressed, the task fails", n,
                      Quote(t.body->text)));
    }
    if (const ApprovalSpec* a = t.approval()) {
      add(fmt::format("task {}: approval by {} (quorum {}{}): {} has no approvers, roles or "
                      "quorum; anyone who can answer the wait approves", n,
                      Join(a->approvers, ", "), a->quorum,
                      a->forbid_self ? ", not the submitter" : "", target));
    }
    if (t.tmpl() >= 0 && !t.gate().empty()) {
      add(fmt::format("task {}: gate on a DAG template call: not expressed", n));
    }
    if (t.tmpl() >= 0 && t.retry && t.retry->limit > 0) {
      add(fmt::format("task {}: retry of the whole DAG template call: not expressed", n));
    }
  }
  for (const auto& g : plan.groups) {
    add(fmt::format("group {}: retry of its tasks together: not expressed", Quote(g.name)));
  }
  for (const auto& [pool, size] : p.pools) {
    add(fmt::format("pool {} (size {}): not expressed", Quote(pool), size));
  }
  for (const auto& [pool, units] : p.run_pools) {
    add(fmt::format("spec.resources: the run holds {} of central pool {} while it runs: not "
                    "expressed", units, Quote(pool)));
  }
  for (const auto& pol : plan.policies) {
    if (pol->stage == "admission") {
      add(fmt::format("policy {} (admission): not evaluated by {}; run `sluice validate` on "
                      "the pipeline before deploying the export", Quote(pol->name), target));
    }
  }
  for (const auto& w : plan.waivers) {
    add(fmt::format("waiver {}: not expressed (gate steps run `sluice policy eval`, which "
                    "reads the waivers of the policy's file)", Quote(w->name)));
  }
  for (const auto& s : p.secrets) {
    add(fmt::format("secret {} (its source): not expressed", Quote(s.name)));
  }
  for (const auto& d : p.params) {
    if (d.secret) {
      add(fmt::format("param {}: secret (stored hashed, masked in logs): not expressed, it is an "
                      "ordinary {} parameter", Quote(d.name), target));
    }
  }
  if (p.fail_fast) {
    add(fmt::format("failFast: approximated; {} starts no task downstream of a failure but "
                    "lets independent branches run", target));
  }
  return out;
}

void PyFinish(const Plan& plan, std::string_view target, std::string_view versions,
              const std::vector<std::string>& needs, const std::string& body,
              ExportResult* result) {
  std::vector<std::string> lines = PyNotExpressed(plan, target);
  for (auto& line : result->not_expressed) {  // once each, in the order met
    if (std::ranges::find(lines, line) == lines.end()) lines.push_back(std::move(line));
  }
  result->not_expressed = std::move(lines);
  const std::string header = PyHeader(plan, target, versions, needs, result->not_expressed);
  result->files.push_back({plan.pipeline->name + ".py", header + body});
}

std::string PyHeader(const Plan& plan, std::string_view target, std::string_view versions,
                     const std::vector<std::string>& needs,
                     const std::vector<std::string>& not_expressed) {
  std::string to(target);
  for (char& c : to) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string out;
  out += fmt::format("# {} export of the Sluice pipeline {} (sluice export --to {}).\n", target,
                     PyCommentText(Quote(plan.pipeline->name)), to);
  out += fmt::format("# Source: {}\n", PyCommentText(plan.pipeline->file));
  out += fmt::format("# Targets: {}.\n", versions);
  out += "#\n# What it needs where it runs:\n";
  for (const auto& n : needs) out += "#   - " + PyCommentText(n) + "\n";
  out += "#\n# Not expressed";
  if (not_expressed.empty()) {
    out += ": nothing; every feature of the pipeline maps.\n";
  } else {
    out += fmt::format(" ({} lines; docs/interop.md):\n", not_expressed.size());
    for (const auto& n : not_expressed) out += "#   - " + PyCommentText(n) + "\n";
  }
  return out;
}

}  // namespace sluice
