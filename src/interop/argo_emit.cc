// Writing the Sluice file of an imported workflow: readable YAML, one Component per template,
// with comments where the mapping is approximate.
#include <fmt/format.h>

#include <algorithm>

#include "common/strings.h"
#include "interop/argo_import.h"
#include "interop/argo_model.h"
#include "interop/argo_tags.h"
#include "interop/yaml_text.h"

namespace sluice {
namespace {

constexpr std::string_view kVersion = "1.0.0";

const ImportedTemplate* Find(const ImportedWorkflow& w, std::string_view name) {
  for (const ImportedTemplate& t : w.templates) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::string ReplaceAll(std::string s, std::string_view from, std::string_view to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

void Comments(std::string& out, const std::vector<std::string>& comments, int indent) {
  for (const std::string& c : comments) out += fmt::format("{:{}}# {}\n", "", indent, c);
}

void Params(std::string& out, const std::vector<ImportedParam>& params,
            const std::set<std::string>& globals, int indent) {
  if (params.empty() && globals.empty()) return;
  out += fmt::format("{:{}}params:\n", "", indent);
  for (const ImportedParam& p : params) {
    out += fmt::format("{:{}}- {{name: {}, type: string, {}}}{}\n", "", indent + 2,
                       YamlScalar(p.name),
                       p.value ? "default: " + YamlScalar(*p.value) : "required: true",
                       p.comment.empty() ? "" : "  # " + p.comment);
  }
  for (const std::string& g : globals) {
    out += fmt::format("{:{}}- {{name: {}, type: string, default: \"\"}}  # Argo's "
                       "workflow-wide value, passed down by its callers\n",
                       "", indent + 2, YamlScalar(g));
  }
}

// A call's `with:`: its arguments, then the workflow values its template needs, from the
// caller's params (`pipeline`: from the pipeline's values).
void With(std::string& out, const std::vector<std::pair<std::string, std::string>>& args,
          const ImportedTemplate* callee, bool pipeline, bool exit_handler, int indent) {
  std::vector<std::pair<std::string, std::string>> all = args;
  if (callee) {
    for (const ImportedParam& p : callee->params) {
      if (p.computed.empty() || std::ranges::any_of(args, [&](const auto& a) { return a.first == p.name; })) {
        continue;
      }
      // The workflow values it reads, as the caller has them (the pipeline: its own values).
      std::string value = p.computed;
      std::vector<std::string> globals(callee->globals.begin(), callee->globals.end());
      std::ranges::sort(globals, [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
      for (const std::string& g : globals) {
        if (!pipeline) break;
        value = ReplaceAll(value, "params." + g, "(" + ArgoGlobalValue(g, exit_handler) + ")");
      }
      all.emplace_back(p.name, value);
    }
    for (const std::string& g : callee->globals) {
      if (std::ranges::any_of(args, [&](const auto& a) { return a.first == g; })) continue;
      all.emplace_back(g, fmt::format("${{{{ {} }}}}", pipeline ? ArgoGlobalValue(g, exit_handler)
                                                              : "params." + g));
    }
  }
  if (all.empty()) return;
  out += fmt::format("{:{}}with:\n", "", indent);
  for (const auto& [name, value] : all) {
    out += fmt::format("{:{}}{}: {}\n", "", indent + 2, YamlScalar(name),
                       YamlText(value, indent + 2));
  }
}

// A call of a suspend without a duration waits for an approval (argo_import_resolve.cc).
void Approval(std::string& out, const ImportedWorkflow& w, const ImportedTemplate* callee,
              int indent) {
  if (!callee || !callee->approval) return;
  std::vector<std::string> who;
  for (const std::string& a : w.approvers) who.push_back(YamlScalar(a));
  out += fmt::format("{:{}}approval: {{approvers: [{}], forbidSelfApproval: false}}  # Argo's "
                     "suspend: sluice approve resumes it\n", "", indent, Join(who, ", "));
}

void Call(std::string& out, const ImportedWorkflow& w, const ImportedCall& c, int indent) {
  out += fmt::format("{:{}}- name: {}\n", "", indent, YamlScalar(c.name));
  const int in = indent + 2;
  Comments(out, c.comments, in);
  out += fmt::format("{:{}}uses: {}@{}\n", "", in, c.tmpl, kVersion);
  if (!c.depends.empty()) out += fmt::format("{:{}}depends: {}\n", "", in, YamlScalar(c.depends));
  if (!c.when.empty()) out += fmt::format("{:{}}when: {}\n", "", in, YamlScalar(c.when));
  if (!c.for_each.empty()) out += fmt::format("{:{}}forEach: {}\n", "", in, c.for_each);
  if (c.parallelism > 0) out += fmt::format("{:{}}parallelism: {}\n", "", in, c.parallelism);
  if (c.continue_on_failure) out += fmt::format("{:{}}continueOnFailure: true\n", "", in);
  const ImportedTemplate* callee = Find(w, c.tmpl);
  Approval(out, w, callee, in);
  if (!c.pools.empty()) {
    // A task's resources replace its component's: the component's pools, then the call's.
    std::vector<std::string> units;
    for (const std::string& p : callee ? callee->pools : std::vector<std::string>{}) {
      units.push_back(YamlScalar(p) + ": 1");
    }
    for (const std::string& p : c.pools) units.push_back(YamlScalar(p) + ": 1");
    out += fmt::format("{:{}}resources: {{{}}}  # Argo's parallelism of this template: a pool "
                       "of the run\n", "", in, Join(units, ", "));
  }
  With(out, c.with, callee, false, false, in);
}

void Outputs(std::string& out, const ImportedTemplate& t) {
  std::vector<const ImportedOutput*> params, artifacts;
  for (const ImportedOutput& o : t.outputs) (o.artifact ? artifacts : params).push_back(&o);
  if (params.empty() && artifacts.empty() && !t.result) return;
  out += "  outputs:\n";
  if (!params.empty() || t.result) {
    out += "    params:\n";
    if (t.result) {
      out += "      - {name: result, from: {stdout: text}}  # Argo's outputs.result\n";
    }
    for (const ImportedOutput* o : params) {
      if (t.dag) {
        out += fmt::format("      - {{name: {}, value: {}}}\n", YamlScalar(o->name),
                           YamlScalar(o->value));
      } else {
        out += fmt::format("      - {{name: {}, from: {{file: {}}}{}}}\n", YamlScalar(o->name),
                           YamlScalar(o->file),
                           o->default_value ? ", default: " + YamlScalar(*o->default_value) : "");
      }
    }
  }
  if (!artifacts.empty()) {
    out += "    artifacts:\n";
    for (const ImportedOutput* o : artifacts) {
      out += t.dag ? fmt::format("      - {{name: {}, value: {}}}\n", YamlScalar(o->name),
                                 YamlScalar(o->value))
                   : fmt::format("      - {{name: {}, path: {}}}\n", YamlScalar(o->name),
                                 YamlScalar(o->file));
    }
  }
}

void Component(std::string& out, const ImportedWorkflow& w, const ImportedTemplate& t) {
  out += "---\n";
  Comments(out, t.comments, 0);
  out += fmt::format("apiVersion: sluice/v1\nkind: Component\nmetadata: {{name: {}, version: "
                     "{}}}\nspec:\n",
                     YamlScalar(t.name), kVersion);
  Params(out, t.params, t.globals, 2);
  if (t.dag) {
    out += "  tasks:\n";
    for (const ImportedCall& c : t.calls) Call(out, w, c, 4);
  } else {
    if (!t.image.empty()) out += fmt::format("  image: {}\n", YamlScalar(t.image));
    if (t.substitutes_code) {
      out += "  argoSubstitution: true  # values are substituted into code, as Argo does\n";
    }
    if (!t.private_paths.empty()) {
      std::vector<std::string> paths;
      for (const std::string& p : t.private_paths) paths.push_back(YamlScalar(p));
      out += fmt::format("  privatePaths: [{}]  # the step's own, in its sandbox (ATTEMPT/root/...)\n",
                         Join(paths, ", "));
    }
    out += "  run:\n";
    for (const std::string& a : t.run) out += fmt::format("    - {}\n", YamlText(a, 4));
    if (!t.env.empty()) {
      out += "  env:\n";
      for (const auto& [k, v] : t.env) {
        out += fmt::format("    {}: {}\n", YamlScalar(k), YamlText(v, 4));
      }
    }
    if (!t.retry.empty()) out += fmt::format("  retry: {}\n", t.retry);
    if (!t.timeout.empty()) out += fmt::format("  timeout: {}\n", t.timeout);
    if (!t.cache.empty()) out += fmt::format("  cache: {}\n", t.cache);
    if (!t.pools.empty()) {
      std::vector<std::string> units;
      for (const std::string& p : t.pools) units.push_back(YamlScalar(p) + ": 1");
      out += fmt::format("  resources: {{{}}}  # pools: synchronization's central ones "
                         "(STATE/pools.yaml), parallelism's of the run\n",
                         Join(units, ", "));
    }
  }
  Outputs(out, t);
}

}  // namespace

std::string EmitSluice(const ImportedWorkflow& w) {
  std::string out = fmt::format(
      "# Imported from Argo Workflows by sluice import argo (docs/interop.md): {}, {} {}.\n"
      "# Each container step runs its command on this host, in its own attempt folder; its\n"
      "# image is recorded. Comments mark what is approximate.\n",
      w.file, w.kind, w.name);
  Comments(out, w.comments, 0);
  out += fmt::format("apiVersion: sluice/v1\nkind: Pipeline\nmetadata:\n  name: {}\nspec:\n",
                     YamlScalar(w.name));
  Params(out, w.params, {}, 2);
  if (!w.deadline.empty()) out += fmt::format("  deadline: {}\n", w.deadline);
  if (!w.pools.empty()) {
    std::vector<std::string> pools;
    for (const auto& [name, n] : w.pools) pools.push_back(fmt::format("{}: {}", YamlScalar(name), n));
    out += fmt::format("  pools: {{{}}}  # Argo's parallelism: pools of this run\n", Join(pools, ", "));
  }
  if (!w.run_pools.empty()) {
    std::vector<std::string> units;
    for (const std::string& p : w.run_pools) units.push_back(YamlScalar(p) + ": 1");
    out += fmt::format("  resources: {{{}}}  # Argo's workflow-level synchronization: central "
                       "pools (STATE/pools.yaml) the run holds from its start to its end\n",
                       Join(units, ", "));
  }
  // The entrypoint is the pipeline's one task; Argo binds the workflow's arguments to its
  // inputs by name.
  auto root = [&](std::string_view task, std::string_view name, bool exit_handler,
                  const std::string& when, const std::string& comment) {
    const ImportedTemplate* t = Find(w, name);
    std::vector<std::pair<std::string, std::string>> args;
    for (const ImportedParam& p : t ? t->params : std::vector<ImportedParam>{}) {
      for (const ImportedParam& wp : w.params) {
        if (wp.name == p.name) args.emplace_back(p.name, fmt::format("${{{{ params.{} }}}}", p.name));
      }
    }
    // The exit handler reads the global outputs the entrypoint's task gave.
    const ImportedTemplate* entry = Find(w, w.entrypoint);
    for (const std::string& g : t ? t->globals : std::set<std::string>{}) {
      if (!entry || !exit_handler || !g.starts_with("argo-output-")) continue;
      auto x = entry->exports.find(g.substr(12));
      if (x == entry->exports.end()) continue;
      const std::string v = fmt::format("tasks.{}.outputs.params{}", w.entrypoint, ArgoCelMember(x->second));
      args.emplace_back(g, fmt::format("${{{{ has({0}) ? {0} : '' }}}}", v));
    }
    out += fmt::format("    - name: {}\n", YamlScalar(task));
    if (!comment.empty()) out += fmt::format("      # {}\n", comment);
    out += fmt::format("      uses: {}@{}\n", name, kVersion);
    if (!when.empty()) out += fmt::format("      when: {}\n", YamlScalar(when));
    Approval(out, w, t, 6);
    With(out, args, t, true, exit_handler, 6);
  };
  out += "  tasks:\n";
  root(w.entrypoint, w.entrypoint, false, "", "");
  for (const ImportedHook& h : w.hooks) {
    if (h.when.empty()) root(h.name, h.tmpl, false, "", h.comment);
  }
  const bool at_end = std::ranges::any_of(w.hooks, [](const ImportedHook& h) { return !h.when.empty(); });
  if (!w.on_exit.empty() || at_end) out += "  finally:  # Argo's onExit and exit-time hooks\n";
  if (!w.on_exit.empty()) root(w.on_exit, w.on_exit, true, "", "");
  for (const ImportedHook& h : w.hooks) {
    if (!h.when.empty()) root(h.name, h.tmpl, true, h.when, h.comment);
  }
  for (const ImportedTemplate& t : w.templates) Component(out, w, t);
  return out;
}

std::string EmitArgoSchedules(const ArgoImport& imported, std::string_view pipeline) {
  std::string out;
  const ArgoCron& c = *imported.cron;
  for (size_t i = 0; i < c.crons.size(); ++i) {
    out += fmt::format("{}# Imported from Argo Workflows: CronWorkflow {} (sluice import argo)\n",
                       i ? "---\n" : "", imported.name);
    Comments(out, c.comments, 0);
    out += fmt::format("apiVersion: sluice/v1\nkind: Schedule\nmetadata:\n  name: {}\nspec:\n"
                       "  pipeline: {}\n  cron: {}\n",
                       i ? fmt::format("{}-{}", imported.name, i + 1) : imported.name,
                       YamlScalar(pipeline), YamlScalar(c.crons[i]));
    if (!c.time_zone.empty()) out += fmt::format("  timeZone: {}\n", YamlScalar(c.time_zone));
    if (!c.concurrency.empty()) out += fmt::format("  concurrencyPolicy: {}\n", YamlScalar(c.concurrency));
    if (!c.starting_deadline.empty()) out += fmt::format("  startingDeadline: {}\n", c.starting_deadline);
    if (c.suspend) out += "  suspend: true\n";
  }
  return out;
}

}  // namespace sluice
