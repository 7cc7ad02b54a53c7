// Steps, dag tasks, their exit hooks and loops (withItems, withParam, withSequence): the calls
// of a steps or dag template, as tasks of its DAG template.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>

#include "common/strings.h"
#include "interop/argo_fields.h"
#include "interop/argo_importer.h"
#include "interop/yaml_text.h"

namespace sluice {

Status Importer::Steps(const YNode& steps, ImportedTemplate* out,
                       std::map<std::string, std::string>& calls) {
  for (const YNode& group : steps) {
    for (const YNode& step : group) {
      std::string name(step["name"].Scalar());
      if (!calls.emplace(name, CalledName(step)).second) {
        return At(step["name"], "step name {} is used twice in template {}", Quote(name),
                  Quote(out->name));
      }
    }
  }
  // A group starts when every step of the one before has ended: succeeded, skipped, or failed
  // under continueOn.
  std::string previous;
  for (const YNode& group : steps) {
    std::vector<std::string> names;
    for (const YNode& step : group) {
      SLUICE_TRY(call, Call(step, *out, calls));
      call->depends = previous;
      names.push_back(call->continue_on_failure
                          ? fmt::format("({} || {}.Failed)", call->name, call->name)
                          : call->name);
      out->calls.push_back(std::move(*call));
      SLUICE_TRY_STATUS(Hooks(step, out, calls));
    }
    previous = Join(names, " && ");
  }
  out->dag = true;
  return {};
}

Status Importer::Dag(const YNode& dag, ImportedTemplate* out, ArgoScope& scope,
                     std::map<std::string, std::string>& calls) {
  SLUICE_TRY_STATUS(Handled(dag, "DAGTemplate", {"tasks", "failFast", "target"}));
  for (const YNode& task : dag["tasks"]) {
    calls.emplace(std::string(task["name"].Scalar()), CalledName(task));
  }
  for (const YNode& task : dag["tasks"]) {
    SLUICE_TRY(call, Call(task, *out, calls));
    if (task["depends"]) {
      SLUICE_TRY(d, Scalar(task["depends"], "depends"));
      call->depends = *d;
    } else {
      std::vector<std::string> deps;
      for (const YNode& d : task["dependencies"]) deps.emplace_back(d.Scalar());
      call->depends = Join(deps, " && ");
    }
    out->calls.push_back(std::move(*call));
    SLUICE_TRY_STATUS(Hooks(task, out, calls));
  }
  if (dag["failFast"] && dag["failFast"].Scalar() == "false") {
    Warn(dag["failFast"], "failFast: false is not imported per template: the pipeline's "
                          "failFast (on) applies");
  }
  out->dag = true;
  if (dag["target"]) SLUICE_TRY_STATUS(Target(dag["target"], out, scope));
  return {};
}

// dag.target: only the named tasks and what they need run. Known when the file loads, the
// other tasks are left out; given by a tag (a workflow parameter), each task gets a when: that
// holds when a target is it or one of the tasks after it.
Status Importer::Target(const YNode& target, ImportedTemplate* out, ArgoScope& scope) {
  SLUICE_TRY(text, Text(target, scope));
  // What each task waits for, from its depends text.
  std::map<std::string, std::vector<std::string>> after;  // task -> tasks that wait for it
  for (const ImportedCall& c : out->calls) {
    if (c.depends.empty()) continue;
    auto d = DependsExpr::Parse(c.depends);
    if (!d) return At(target, "depends of {}: {}", Quote(c.name), d.error().message);
    for (const std::string& n : (*d)->names()) after[n].push_back(c.name);
  }
  auto closure = [&](const std::string& from, auto&& next_of) {
    std::set<std::string> seen = {from};
    std::vector<std::string> todo = {from};
    while (!todo.empty()) {
      std::string t = todo.back();
      todo.pop_back();
      for (const std::string& n : next_of(t)) {
        if (seen.insert(n).second) todo.push_back(n);
      }
    }
    return seen;
  };
  if (text->find("${{") == std::string::npos) {
    std::set<std::string> keep;
    for (const std::string& t : Split(std::string(Trim(*text)), ' ')) {
      if (t.empty()) continue;
      if (std::ranges::none_of(out->calls, [&](const ImportedCall& c) { return c.name == t; })) {
        return At(target, "target {} is not a task of this dag", Quote(t));
      }
      auto needs = closure(t, [&](const std::string& x) {
        std::vector<std::string> up;
        for (const ImportedCall& c : out->calls) {
          if (c.name != x || c.depends.empty()) continue;
          if (auto d = DependsExpr::Parse(c.depends)) up = (*d)->names();
        }
        return up;
      });
      keep.insert(needs.begin(), needs.end());
    }
    std::erase_if(out->calls, [&](const ImportedCall& c) { return !keep.contains(c.name); });
    out->comments.push_back(fmt::format("dag.target {}: the other tasks are left out", *text));
    return {};
  }
  if (!text->starts_with("${{ ") || !text->ends_with(" }}") || text->find("${{", 1) != std::string::npos) {
    return At(target, "dag.target mixing text and tags is not imported yet");
  }
  const std::string expr = text->substr(4, text->size() - 7);
  for (ImportedCall& c : out->calls) {
    std::vector<std::string> names;
    for (const std::string& n : closure(c.name, [&](const std::string& x) { return after[x]; })) {
      names.push_back(fmt::format("' {} '", n));
    }
    std::string cond = fmt::format("[{}].exists(n, (' ' + string({}) + ' ').contains(n))",
                                   Join(names, ", "), expr);
    c.when = c.when.empty() ? fmt::format("${{{{ {} }}}}", cond)
                            : fmt::format("${{{{ ({}) && ({}) }}}}", cond,
                                          c.when.substr(4, c.when.size() - 7));
  }
  out->comments.push_back("dag.target: each task runs when a target is it or a task after it");
  return {};
}

Result<ImportedCall> Importer::Call(const YNode& call, ImportedTemplate& caller,
                                    const std::map<std::string, std::string>& calls) {
  const std::string_view def = call["dependencies"] || call["depends"] ? "DAGTask" : "WorkflowStep";
  SLUICE_TRY_STATUS(Handled(call, def, {"name", "template", "arguments", "when", "withItems",
                                        "withParam", "withSequence", "continueOn", "depends",
                                        "dependencies", "templateRef", "inline", "hooks"}));
  ImportedCall out;
  out.at = r_->Loc(call);
  out.name = std::string(call["name"].Scalar());
  if (!IsName(out.name)) return At(call["name"], "{} is not a name Sluice can use", Quote(out.name));
  out.tmpl = prefix_ + std::string(call["template"].Scalar());
  if (call["templateRef"]) {
    SLUICE_TRY(tmpl, Referenced(call["templateRef"]));
    out.tmpl = *tmpl;
  } else if (const YNode in = call["inline"]) {
    // An inline template: a component of its own, named after its caller and step.
    ImportedTemplate t;
    t.name = fmt::format("{}.{}", caller.name, out.name);
    SLUICE_TRY_STATUS(Template(in, &t));
    out.tmpl = t.name;
    templates_.push_back(std::move(t));
  }
  ArgoScope scope;
  scope.inputs = &caller.inputs;
  scope.calls = &calls;
  scope.outputs = &output_params_;
  scope.item = call["withItems"] || call["withParam"] || call["withSequence"];
  if (const YNode args = call["arguments"]) {
    SLUICE_TRY_STATUS(Handled(args, "Arguments", {"parameters", "artifacts"}));
    for (const YNode& p : args["parameters"]) {
      SLUICE_TRY_STATUS(Handled(p, "Parameter", {"name", "value"}));
      SLUICE_TRY(name, Scalar(p["name"], "an argument's name"));
      // Argo passes a template only the inputs it declares.
      auto callee = input_params_.find(out.tmpl);
      if (callee != input_params_.end() && !callee->second.contains(*name)) {
        Warn(p["name"], fmt::format("argument {} is not an input of template {}: Argo ignores it, "
                                    "and so does the import", Quote(*name), Quote(out.tmpl)));
        continue;
      }
      SLUICE_TRY(value, p["value"] ? Text(p["value"], scope) : Result<std::string>(""));
      out.with.emplace_back(*name, *value);
    }
    // An artifact argument is the path of a stored artifact (or a file in it: subPath), which
    // the template copies to where it reads it (Template).
    for (const YNode& a : args["artifacts"]) {
      SLUICE_TRY_STATUS(Handled(a, "Artifact", {"name", "from", "subPath"}));
      SLUICE_TRY(name, Scalar(a["name"], "an artifact's name"));
      if (!a["from"]) return At(a, "artifact argument {} needs from", Quote(*name));
      SLUICE_TRY(from, Text(a["from"], scope));
      std::string path = *from;
      if (a["subPath"]) {
        SLUICE_TRY(sub, Scalar(a["subPath"], "subPath"));
        if (sub->starts_with('/') || sub->find("..") != std::string::npos) {
          return At(a["subPath"], "subPath {} must be a relative path without ..", Quote(*sub));
        }
        path += "/" + *sub;
      }
      out.with.emplace_back(ArgoArtifactParam(*name), path);
    }
  }
  if (const YNode when = call["when"]) {
    SLUICE_TRY(text, Scalar(when, "when"));
    auto cel = TranslateArgoWhen(*text, scope);
    if (!cel) return At(when, "{}", cel.error().message);
    for (const std::string& g : scope.globals) global_at_.emplace(g, r_->Loc(when));
    out.when = *cel;
  }
  SLUICE_TRY_STATUS(Loop(call, &out, scope));
  if (const YNode c = call["continueOn"]) {
    out.continue_on_failure = c["failed"].Scalar() == "true" || c["error"].Scalar() == "true";
    if (out.continue_on_failure) {
      out.comments.push_back("continueOn: a failure (or error) does not stop the workflow");
    }
  }
  caller.globals.insert(scope.globals.begin(), scope.globals.end());
  result_needed_.insert(scope.results.begin(), scope.results.end());
  return out;
}

namespace {

// A named hook's expression over its own step's final status (`steps["s"].status ==
// "Succeeded"`, `tasks.s.status != 'Failed'`, with &&, ||, ! and parentheses) as a depends
// text over that step: it holds once the step has ended, as the hook would then start.
Result<std::string> HookDepends(std::string_view e, const std::string& step) {
  auto fail = [&](size_t at, std::string_view why) -> Result<std::string> {
    return Fail(ErrorCode::kInvalidInput, "hook expression {} is not imported: {} (column {})",
                Quote(e), why, at + 1);
  };
  std::string out;
  size_t i = 0;
  auto skip = [&] {
    while (i < e.size() && std::isspace(static_cast<unsigned char>(e[i]))) ++i;
  };
  while (skip(), i < e.size()) {
    const std::string_view rest = e.substr(i);
    if (rest.starts_with("&&") || rest.starts_with("||")) {
      out += fmt::format(" {} ", rest.substr(0, 2));
      i += 2;
      continue;
    }
    if (rest[0] == '(' || rest[0] == ')' || (rest[0] == '!' && !rest.starts_with("!="))) {
      out += rest[0];
      ++i;
      continue;
    }
    const size_t at = i;
    if (!rest.starts_with("steps") && !rest.starts_with("tasks")) {
      return fail(at, "only comparisons of the step's status (steps.NAME.status == \"Succeeded\") are");
    }
    i += 5;
    std::string name;
    if (i + 1 < e.size() && e[i] == '[' && (e[i + 1] == '"' || e[i + 1] == '\'')) {
      const size_t end = e.find(e[i + 1], i + 2);
      if (end == std::string_view::npos || end + 1 >= e.size() || e[end + 1] != ']') return fail(i, "unclosed [");
      name = e.substr(i + 2, end - i - 2);
      i = end + 2;
    } else if (i < e.size() && e[i] == '.') {
      size_t j = ++i;
      while (j < e.size() && (std::isalnum(static_cast<unsigned char>(e[j])) || e[j] == '-' || e[j] == '_')) ++j;
      name = e.substr(i, j - i);
      i = j;
    }
    if (!e.substr(i).starts_with(".status")) return fail(at, "only a step's status is");
    i += 7;
    skip();
    const std::string_view op = e.substr(i, 2);
    if (op != "==" && op != "!=") return fail(i, "a status is compared with == or !=");
    i += 2;
    skip();
    if (i >= e.size() || (e[i] != '"' && e[i] != '\'')) return fail(i, "a status is compared with a quoted phase");
    const size_t end = e.find(e[i], i + 1);
    if (end == std::string_view::npos) return fail(i, "unclosed string");
    const std::string_view phase = e.substr(i + 1, end - i - 1);
    i = end + 1;
    if (name != step) return fail(at, fmt::format("it reads {}'s status: only its own step's is", Quote(name)));
    static const std::map<std::string_view, std::string_view> kPhases = {
        {"Succeeded", "Succeeded"}, {"Failed", "Failed"}, {"Error", "Errored"},
        {"Skipped", "Skipped"},     {"Omitted", "Omitted"}};
    auto p = kPhases.find(phase);
    if (p == kPhases.end()) {
      return fail(at, fmt::format("phase {} (a hook here starts once its step has ended: Succeeded, "
                                  "Failed, Error, Skipped or Omitted)", Quote(phase)));
    }
    out += fmt::format("{}{}.{}", op == "!=" ? "!" : "", step, p->second);
  }
  if (auto d = DependsExpr::Parse(out); !d) return fail(0, d.error().message);
  return out;
}

}  // namespace

Status Importer::Hooks(const YNode& call, ImportedTemplate* caller,
                       const std::map<std::string, std::string>& calls) {
  for (const auto& h : call["hooks"]) {
    const YNode hook = h.second;
    const std::string step(call["name"].Scalar());
    const bool exit_hook = h.first.Scalar() == "exit";
    SLUICE_TRY_STATUS(Handled(hook, "LifecycleHook", {"template", "templateRef", "arguments", "expression"}));
    if (hook["arguments"]) SLUICE_TRY_STATUS(Handled(hook["arguments"], "Arguments", {"parameters"}));
    ImportedCall exit;
    exit.at = r_->Loc(hook);
    exit.tmpl = CalledName(hook);
    if (hook["templateRef"]) SLUICE_TRY_ASSIGN(exit.tmpl, Referenced(hook["templateRef"]));
    if (exit_hook && !hook["expression"]) {
      exit.name = step + ".onExit";  // as Argo names its node
      exit.depends = fmt::format("{0}.Succeeded || {0}.Failed || {0}.Errored", step);
      exit.comments.push_back(fmt::format("the exit hook of {}", step));
    } else {
      // A named hook: a task that runs once its step has ended and its expression holds.
      if (!hook["expression"]) return At(hook, "hook {} needs an expression", Quote(h.first.Scalar()));
      if (call["withItems"] || call["withParam"] || call["withSequence"]) {
        return At(h.first, "hook {} of a step with a loop is not imported yet: Argo runs it for "
                  "each item", Quote(h.first.Scalar()));
      }
      SLUICE_TRY(text, Scalar(hook["expression"], "a hook's expression"));
      auto depends = HookDepends(*text, step);
      if (!depends) return At(hook["expression"], "{}", depends.error().message);
      exit.name = exit_hook ? step + ".onExit" : fmt::format("{}.hooks.{}", step, h.first.Scalar());
      if (!IsName(exit.name)) return At(h.first, "hook {} is not a name Sluice can use", Quote(exit.name));
      exit.depends = *depends;
      exit.comments.push_back(fmt::format("hook {} of {}: runs once {} has ended, when {}",
                                          h.first.Scalar(), step, step, *text));
    }
    ArgoScope scope;
    scope.inputs = &caller->inputs;
    scope.calls = &calls;
    scope.outputs = &output_params_;
    for (const YNode& p : hook["arguments"]["parameters"]) {
      SLUICE_TRY_STATUS(Handled(p, "Parameter", {"name", "value"}));
      SLUICE_TRY(name, Scalar(p["name"], "an argument's name"));
      SLUICE_TRY(value, p["value"] ? Text(p["value"], scope) : Result<std::string>(""));
      exit.with.emplace_back(*name, *value);
    }
    caller->globals.insert(scope.globals.begin(), scope.globals.end());
    result_needed_.insert(scope.results.begin(), scope.results.end());
    caller->calls.push_back(std::move(exit));
  }
  return {};
}

namespace {

// The expression of a text that is exactly one placeholder "${{ E }}", or nullopt.
std::optional<std::string> OnePlaceholder(const std::string& text) {
  if (!text.starts_with("${{ ") || !text.ends_with(" }}") || text.find("${{", 3) != std::string::npos) {
    return std::nullopt;
  }
  return text.substr(4, text.size() - 7);
}

}  // namespace

// A withSequence whose bounds come from tags: counted when the task starts, by CEL (Argo counts
// down when end < start).
Status Importer::TaggedSequence(const YNode& seq, ImportedCall* out, ArgoScope& scope) {
  if (seq["format"]) return At(seq["format"], "withSequence.format is not imported with a tag in its bounds");
  auto bound = [&](std::string_view key) -> Result<std::string> {
    if (!seq[key]) return std::string("0");
    SLUICE_TRY(text, Text(seq[key], scope));
    if (IsIntText(*text)) return *text;
    auto e = OnePlaceholder(*text);
    if (!e) return At(seq[key], "withSequence.{} must be a number or one tag", key);
    return fmt::format("int(string({}))", *e);
  };
  SLUICE_TRY(start, bound("start"));
  std::string cel;
  if (seq["count"]) {
    SLUICE_TRY(count, bound("count"));
    cel = fmt::format("lists.range({1}).map(i, string({0} + i))", *start, *count);
  } else {
    SLUICE_TRY(end, bound("end"));
    cel = fmt::format("{1} >= {0} ? lists.range({1} - {0} + 1).map(i, string({0} + i)) : "
                      "lists.range({0} - {1} + 1).map(i, string({0} - i))",
                      *start, *end);
  }
  out->for_each = YamlScalar(fmt::format("${{{{ {} }}}}", cel));
  return {};
}

// withItems (a literal list), withParam (a JSON list in text) and withSequence (numbers).
Status Importer::Loop(const YNode& call, ImportedCall* out, ArgoScope& scope) {
  if (const YNode items = call["withItems"]) {
    SLUICE_TRY(v, r_->ToValue(items));
    if (!v->is_list()) return At(items, "withItems must be a list");
    out->for_each = v->ToJson();
  } else if (const YNode param = call["withParam"]) {
    SLUICE_TRY(t, Text(param, scope));
    // A loop's gathered outputs hold null for an iteration that was skipped; Argo's list leaves
    // it out.
    if (auto e = OnePlaceholder(*t)) {
      *t = fmt::format("${{{{ type({0}) == list ? {0}.filter(argo_v, argo_v != null) : {0} }}}}", *e);
    } else if (t->find("${{") == std::string::npos) {
      // JSON written in the file: the list itself.
      auto v = ParseJson(*t);
      if (!v || !v->is_list()) return At(param, "withParam must be a JSON list or a tag that gives one");
      out->for_each = v->ToJson();
      return {};
    }
    out->for_each = YamlScalar(*t);
  } else if (const YNode seq = call["withSequence"]) {
    SLUICE_TRY_STATUS(Handled(seq, "Sequence", {"count", "start", "end", "format"}));
    bool tagged = false;
    for (std::string_view key : {"count", "start", "end"}) {
      tagged = tagged || (seq[key] && seq[key].Scalar().find("{{") != std::string_view::npos);
    }
    if (tagged) return TaggedSequence(seq, out, scope);
    auto number = [&](std::string_view key, int64_t dflt) -> Result<int64_t> {
      if (!seq[key]) return dflt;
      std::string text(seq[key].Scalar());
      if (!IsIntText(text)) return At(seq[key], "withSequence.{} must be a number or a tag", key);
      return std::stoll(text);
    };
    SLUICE_TRY(start, number("start", 0));
    int64_t end = 0;
    if (seq["count"]) {
      SLUICE_TRY(count, number("count", 0));
      end = *start + *count - 1;
    } else {
      SLUICE_TRY(e, number("end", 0));
      end = *e;
    }
    if (std::abs(end - *start) > 100000) return At(seq, "withSequence gives more than 100000 items");
    const std::string format = seq["format"] ? std::string(seq["format"].Scalar()) : "";
    ValueList items;
    for (int64_t i = *start;; i += end >= *start ? 1 : -1) {
      if (seq["count"] && std::stoll(std::string(seq["count"].Scalar())) == 0) break;
      std::string text = std::to_string(i);
      if (!format.empty()) {
        // Argo formats with Go's fmt.Sprintf; the %d and %0Nd forms are what examples use.
        if (format.find('%') == std::string::npos || format.find_first_of("sfxXeEgGvq") !=
                                                         std::string::npos) {
          return At(seq["format"], "withSequence.format {} is not imported: only %d forms are",
                    Quote(format));
        }
        char buf[128];
        std::snprintf(buf, sizeof buf, (format.substr(0, format.find('d')) + "lld" +
                                        format.substr(format.find('d') + 1)).c_str(),
                      static_cast<long long>(i));
        text = buf;
      }
      items.push_back(Value(text));
      if (i == end) break;
    }
    out->for_each = Value(std::move(items)).ToJson();
  }
  return {};
}

}  // namespace sluice
