// What an Argo workflow says across its templates (argo_importer.h): `parallelism` (of the
// workflow: a pool of the run every pod holds; of a steps or dag template: forEach parallelism,
// or a pool of the run for the steps that run at once), a suspend without a duration (an
// approval), and globalName (an output later steps and the exit handler read, carried up from
// the call that gives it and down to the templates that read it).
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <functional>

#include "common/strings.h"
#include "interop/argo_importer.h"
#include "interop/argo_tags.h"

namespace sluice {
namespace {

constexpr std::string_view kOutputParam = "argo-output-";

const ImportedTemplate* FindTemplate(const ImportedWorkflow& w, std::string_view name) {
  for (const ImportedTemplate& t : w.templates) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

// The calls of `t` that `call` runs after (through depends, transitively).
std::set<std::string> Upstream(const ImportedTemplate& t, const ImportedCall& call) {
  std::set<std::string> seen;
  std::vector<std::string> todo = {call.name};
  while (!todo.empty()) {
    const std::string at = todo.back();
    todo.pop_back();
    for (const ImportedCall& c : t.calls) {
      if (c.name != at || c.depends.empty()) continue;
      auto d = DependsExpr::Parse(c.depends);
      if (!d) continue;
      for (const std::string& n : (*d)->names()) {
        if (seen.insert(n).second) todo.push_back(n);
      }
    }
  }
  return seen;
}

// Global output `x` as the calls of `t` that `from` admits give it: the last one that has it,
// else `otherwise` (a skipped call has none).
std::string Given(const ImportedWorkflow& w, const ImportedTemplate& t, const std::string& x,
                  const std::function<bool(const ImportedCall&)>& from, std::string otherwise) {
  for (const ImportedCall& c : t.calls) {
    const ImportedTemplate* callee = FindTemplate(w, c.tmpl);
    if (!callee || !callee->exports.contains(x) || !c.for_each.empty() || !from(c)) continue;
    const std::string v = fmt::format("tasks.{}.outputs.params{}", c.name,
                                      ArgoCelMember(callee->exports.at(x)));
    otherwise = fmt::format("has({0}) ? {0} : ({1})", v, otherwise);
  }
  return otherwise;
}

}  // namespace

Result<int> Importer::Limit(const YNode& n, std::string_view what) const {
  SLUICE_TRY(text, Scalar(n, what));
  if (text->find("{{") != std::string::npos) {
    return At(n, "{} from a tag ({}) is not imported yet: a limit is fixed when the file loads",
              what, *text);
  }
  if (!IsIntText(*text) || text->size() > 7 || std::stoll(*text) < 1 || std::stoll(*text) > 100000) {
    return At(n, "{} must be a whole number from 1 to 100000, not {}", what, Quote(*text));
  }
  return static_cast<int>(std::stoll(*text));
}

// Argo counts, within one call of the template, its children that run (pods, and calls of
// steps or dag templates). A loop's items alone: forEach parallelism, which counts per call
// too. Calls that run beside each other (a steps group of several, the tasks of a dag, exit
// hooks, which run beside the next group): Sluice has no limit over a set of tasks of one
// call, so they hold a pool of the run, shared by every call of the template (Resolve).
Status Importer::Parallelism(const YNode& t, ImportedTemplate* out) {
  const YNode n = t["parallelism"];
  SLUICE_TRY(limit, Limit(n, "parallelism"));
  if (!t["steps"] && !t["dag"]) {
    Warn(n, "parallelism limits the children of a steps or dag template; this template has "
            "none, so it limits nothing (as in Argo)");
    return {};
  }
  out->parallelism = *limit;
  out->parallelism_at = r_->Loc(n);
  std::vector<std::vector<std::string>> groups;
  bool hooks = false;
  if (t["steps"]) {
    for (const YNode& group : t["steps"]) {
      groups.emplace_back();
      for (const YNode& step : group) {
        groups.back().emplace_back(step["name"].Scalar());
        hooks = hooks || bool(step["hooks"]);
      }
    }
  } else {
    groups.emplace_back();
    for (const ImportedCall& c : out->calls) groups.back().push_back(c.name);
  }
  for (ImportedCall& c : out->calls) {
    if (!c.for_each.empty()) c.parallelism = *limit;
    if (hooks) out->grouped.insert(c.name);
  }
  for (const auto& g : groups) {
    if (g.size() > 1) out->grouped.insert(g.begin(), g.end());
  }
  if (out->grouped.empty()) {
    out->comments.push_back(fmt::format("Argo's parallelism {}: its loop's forEach parallelism", *limit));
  } else {
    out->comments.push_back(fmt::format(
        "Argo's parallelism {}: the steps that run at once hold the run pool "
        "argo-parallelism-{}, which every call of this template shares (Argo limits each call "
        "on its own: stricter when several calls run at once)", *limit, out->name));
  }
  return {};
}

// Argo's suspend without a duration waits until someone allowed to resume the workflow does
// (`argo resume`): here an approval, by --approvers, else by whoever submits the run (Argo lets
// the submitter resume), with forbidSelfApproval off for that reason.
Status Importer::Approval(const YNode& s, ImportedTemplate* out) {
  std::vector<std::string> who = o_.approvers;
  if (who.empty() && !o_.default_approver.empty()) who.push_back(o_.default_approver);
  if (who.empty()) {
    return At(s, "suspend without a duration waits until someone resumes the workflow, an "
              "approval here: give --approvers NAME,... (users, group:NAME)");
  }
  for (const std::string& a : who) {
    std::string_view name = a.starts_with("group:") ? std::string_view(a).substr(6) : a;
    if (!IsName(name)) return At(s, "--approvers: {} is not a user name or group:NAME", Quote(a));
  }
  approvers_ = who;
  out->run = {"builtin:noop"};
  out->approval = true;
  out->comments.push_back(fmt::format("Argo's suspend without a duration: a task that calls it "
                                      "waits for an approval by {} (sluice approve RUN TASK "
                                      "resumes it, as argo resume does)", Join(who, ", ")));
  return {};
}

// A workflow-level hook runs once its expression holds. `workflow.status == "Running"` holds
// at once: a task beside the entrypoint's. Comparisons with "Succeeded" and "Failed" (with &&,
// ||, !, parentheses) hold, if at all, once the workflow has ended: an exit handler whose
// `when` reads the run's outcome (Succeeded: no task failed).
Status Importer::WorkflowHook(const YNode& name, const YNode& hook, ImportedWorkflow* w) {
  SLUICE_TRY_STATUS(Handled(hook, "LifecycleHook", {"template", "expression"}));
  SLUICE_TRY(tmpl, Scalar(hook["template"], "a hook's template"));
  if (!hook["expression"]) return At(hook, "hook {} needs an expression", Quote(name.Scalar()));
  SLUICE_TRY(text, Scalar(hook["expression"], "a hook's expression"));
  ImportedHook out;
  out.name = fmt::format("hooks.{}", name.Scalar());
  if (!IsName(out.name)) return At(name, "hook {} is not a name Sluice can use", Quote(out.name));
  out.tmpl = prefix_ + *tmpl;
  auto fail = [&](size_t at, std::string_view why) -> Status {
    return At(hook["expression"], "hook expression {} is not imported: {} (column {})", Quote(*text),
              why, at + 1);
  };
  const std::string_view e = *text;
  std::string cel;
  bool running = false;
  size_t i = 0, operands = 0;
  auto skip = [&] {
    while (i < e.size() && std::isspace(static_cast<unsigned char>(e[i]))) ++i;
  };
  while (skip(), i < e.size()) {
    const std::string_view rest = e.substr(i);
    if (rest.starts_with("&&") || rest.starts_with("||")) {
      cel += fmt::format(" {} ", rest.substr(0, 2));
      i += 2;
      continue;
    }
    if (rest[0] == '(' || rest[0] == ')' || (rest[0] == '!' && !rest.starts_with("!="))) {
      cel += rest[0];
      ++i;
      continue;
    }
    const size_t at = i;
    if (!rest.starts_with("workflow.status")) return fail(at, "only comparisons of workflow.status are");
    i += 15;
    skip();
    const std::string_view op = e.substr(i, 2);
    if (op != "==" && op != "!=") return fail(i, "workflow.status is compared with == or !=");
    i += 2;
    skip();
    if (i >= e.size() || (e[i] != '"' && e[i] != '\'')) return fail(i, "workflow.status is compared with a quoted phase");
    const size_t end = e.find(e[i], i + 1);
    if (end == std::string_view::npos) return fail(i, "unclosed string");
    const std::string_view phase = e.substr(i + 1, end - i - 1);
    i = end + 1;
    ++operands;
    if (phase == "Running" && op == "==") {
      running = true;
      continue;
    }
    if (phase != "Succeeded" && phase != "Failed") {
      return fail(at, fmt::format("phase {} (imported: == \"Running\" alone, which holds at the "
                                  "start, and Succeeded or Failed, which hold at the end)", Quote(phase)));
    }
    cel += fmt::format("(size(run.failures) {} 0)", (phase == "Succeeded") == (op == "==") ? "==" : ">");
  }
  if (running && operands != 1) return fail(0, "Running mixed with other phases");
  if (operands == 0) return fail(0, "it compares nothing");
  out.when = running ? "" : fmt::format("${{{{ {} }}}}", cel);
  out.comment = fmt::format("Argo's workflow hook {} ({}): {}", name.Scalar(), *text,
                            running ? "it holds at the start, so it runs beside the entrypoint"
                                    : "it holds, if at all, once the workflow has ended");
  w->hooks.push_back(std::move(out));
  return {};
}

Status Importer::GlobalName(const YNode& g, const std::string& output, ImportedTemplate* out) {
  SLUICE_TRY(name, Scalar(g, "globalName"));
  if (!IsName(std::string(kOutputParam) + *name)) {
    return At(g, "globalName {} is not a name Sluice can use", Quote(*name));
  }
  out->exports[*name] = output;
  out->comments.push_back(fmt::format("output {} is Argo's global output {} "
                                      "(workflow.outputs.parameters.{}): later steps and the "
                                      "exit handler read it", output, *name, *name));
  return {};
}

Status Importer::Resolve(ImportedWorkflow& w) {
  if (w.pools.contains("argo-parallelism")) {
    for (ImportedTemplate& t : w.templates) {
      if (t.pod) t.pools.push_back("argo-parallelism");
    }
  }
  for (ImportedTemplate& t : w.templates) {
    for (ImportedCall& c : t.calls) {
      const ImportedTemplate* callee = FindTemplate(w, c.tmpl);
      if (!callee) continue;
      if (callee->approval && !c.for_each.empty()) {
        return FailAt(c.at, "a suspend without a duration under a loop is not imported yet: "
                      "Sluice asks for one approval per task, not per item");
      }
      if (!t.grouped.contains(c.name)) continue;
      if (callee->dag) {
        return FailAt(c.at, "parallelism of template {} is not imported yet here: {} calls "
                      "the steps or dag template {} beside other steps, and Sluice limits "
                      "tasks that run at once through a pool, which such a call cannot hold",
                      Quote(t.name), Quote(c.name), Quote(c.tmpl));
      }
      if (!callee->pod) continue;  // a suspend is no pod: Argo does not count it
      const std::string pool = "argo-parallelism-" + t.name;
      w.pools[pool] = t.parallelism;
      c.pools.push_back(pool);
    }
  }
  // Global outputs: a steps or dag template gives what its calls give, as argo-output-X.
  for (bool changed = true; changed;) {
    changed = false;
    for (ImportedTemplate& t : w.templates) {
      for (const ImportedCall& c : t.calls) {
        const ImportedTemplate* callee = FindTemplate(w, c.tmpl);
        if (!callee) continue;
        for (const auto& e : callee->exports) {
          if (!c.for_each.empty()) {
            return FailAt(c.at, "globalName {} under a loop (withItems, withParam, withSequence) "
                          "is not imported yet: every item would set it", Quote(e.first));
          }
          changed |= t.exports.emplace(e.first, std::string(kOutputParam) + e.first).second;
        }
      }
    }
  }
  for (ImportedTemplate& t : w.templates) {
    for (const auto& [x, name] : t.exports) {
      if (name != std::string(kOutputParam) + x) continue;  // its own output gives it
      ImportedOutput o;
      o.name = name;
      o.value = fmt::format("${{{{ {} }}}}", Given(w, t, x, [](const ImportedCall&) { return true; }, "''"));
      t.outputs.push_back(std::move(o));
    }
    // A call reads a global output from the calls it runs after that give it, else from its
    // caller (which had it from before).
    for (ImportedCall& c : t.calls) {
      const ImportedTemplate* callee = FindTemplate(w, c.tmpl);
      if (!callee) continue;
      const std::set<std::string> before = Upstream(t, c);
      for (const std::string& g : callee->globals) {
        if (!g.starts_with(kOutputParam)) continue;
        const std::string own = "params." + g;
        std::string v = Given(w, t, g.substr(kOutputParam.size()),
                              [&](const ImportedCall& up) { return before.contains(up.name); }, own);
        if (v != own) c.with.emplace_back(g, fmt::format("${{{{ {} }}}}", v));
      }
    }
  }
  for (const ImportedTemplate& t : w.templates) {
    for (const std::string& g : t.globals) {
      if (!g.starts_with(kOutputParam)) continue;
      const std::string x = g.substr(kOutputParam.size());
      if (t.name == w.on_exit) {
        // The exit handler reads it from the entrypoint's task, which has no outputs once it
        // has failed: Sluice then skips a task that reads them.
        out_->warnings.push_back(fmt::format(
            "{}: warning: the exit handler reads global output {} from the entrypoint's "
            "outputs: when the workflow fails, it is skipped (Argo runs it, with the value)",
            w.on_exit_at.ToString(), x));
      }
      if (std::ranges::any_of(w.templates, [&](const ImportedTemplate& u) { return u.exports.contains(x); })) {
        continue;
      }
      auto at = global_at_.find(g);
      return FailAt(at == global_at_.end() ? Location{} : at->second,
                    "{{{{workflow.outputs.parameters.{}}}}} names no output parameter with "
                    "globalName {}", x, x);
    }
  }
  return {};
}

}  // namespace sluice
