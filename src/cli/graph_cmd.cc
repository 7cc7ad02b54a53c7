// `sluice graph`: a pipeline file's DAG as DOT or Mermaid, or a stored run's DAG colored by
// state; either as a picture (svg, png) that Graphviz's `dot` program lays out. `dot` is a
// separate program run only by this command, so nothing of Graphviz is loaded by `sluice run`.
#include <cstdio>
#include <map>

#include "cli/cli_support.h"
#include "cli/components.h"
#include "cli/identity.h"
#include "common/strings.h"
#include "dag/run_graph.h"
#include "interop/argo_import.h"
#include "spec/model.h"
#include "spec/plan.h"

namespace sluice {
namespace {

constexpr int kItemsShown = 24;  // a forEach of thousands would be a picture of nothing else

struct Builder {
  const Plan& plan;
  std::map<std::string, const TaskRecord*> rec;  // by name
  std::vector<RunGraphNode> nodes;
  std::vector<RunGraphEdge> edges;

  std::string StateOf(const std::string& name) const {
    auto it = rec.find(name);
    return it == rec.end() ? "" : it->second->state;
  }
  int Add(RunGraphNode::Kind kind, std::string name, std::string state, std::string note = "",
          int cluster = -1) {
    nodes.push_back({kind, std::move(name), std::move(state), std::move(note), cluster, {}});
    return static_cast<int>(nodes.size()) - 1;
  }
  // A gate or approval guarding plan task `t` (node `n`): its node and the edge into the task,
  // colored by what became of the task.
  void AddGuards(const PlanTask& t, int n) {
    auto it = rec.find(t.name);
    const std::string state = StateOf(t.name);
    const bool started = it != rec.end() && it->second->attempts > 0;
    const bool stopped = state == "failed" || state == "cancelled";
    if (!t.gate().empty()) {
      std::vector<std::string> names;
      for (const auto* p : t.gate()) names.push_back(p->name);
      int g = Add(RunGraphNode::Kind::kGate, "gate", started ? "approved" : stopped ? "rejected" : "",
                  Join(names, ", "));
      edges.push_back({g, n, RunGraphEdge::Kind::kNeeds, ""});
    }
    if (t.approval()) {
      std::string s = state == "awaiting-approval" ? state : started ? "approved"
                      : stopped                    ? "rejected" : "";
      int a = Add(RunGraphNode::Kind::kApproval, "approval", s, s.empty() ? "" : s);
      edges.push_back({a, n, RunGraphEdge::Kind::kNeeds, ""});
    }
  }
  // The items of forEach task `t` (node `n`) that the run has, up to kItemsShown.
  void AddItems(const PlanTask& t, int n) {
    const std::string prefix = t.name + "[";
    int shown = 0, more = 0;
    for (auto it = rec.lower_bound(prefix); it != rec.end() && it->first.starts_with(prefix); ++it) {
      if (it->first.find("].", prefix.size()) != std::string::npos) continue;  // handlers
      if (shown == kItemsShown) {
        ++more;
        continue;
      }
      ++shown;
      Add(RunGraphNode::Kind::kItem, it->first, it->second->state, it->second->state, n);
    }
    if (more) Add(RunGraphNode::Kind::kMore, fmt::format("and {} more", more), "", "", n);
  }

  // The tasks that ran inside call `t` (node `n`) of a DAG template, nested calls and items
  // included, as a cluster of the call's node; an edge wherever a template's task needs another
  // of the same call's instance. Up to kItemsShown * 4 of them.
  void AddCallTasks(const PlanTask& t, int n) {
    std::map<std::string, int> node_by_name;
    int shown = 0, more = 0;
    for (auto it = rec.lower_bound(t.name); it != rec.end() && it->first.starts_with(t.name); ++it) {
      const std::string& name = it->first;
      if (name.size() == t.name.size() || (name[t.name.size()] != '.' && name[t.name.size()] != '[')) continue;
      if (name.find('.', t.name.size()) == std::string::npos) continue;  // a forEach item alone
      if (shown == kItemsShown * 4) {
        ++more;
        continue;
      }
      ++shown;
      node_by_name[name] = Add(RunGraphNode::Kind::kItem, name, it->second->state, it->second->state, n);
    }
    if (more) Add(RunGraphNode::Kind::kMore, fmt::format("and {} more", more), "", "", n);
    const ComponentSpec& c = *plan.templates[t.tmpl()].component;
    nodes[n].cluster_label = fmt::format("template {}@{}", c.name, c.version);
    for (const auto& [name, node] : node_by_name) {
      const size_t dot = name.rfind('.');
      const PlanTask* inner = TemplateTask(name.substr(0, dot), name.substr(dot + 1));
      if (!inner) continue;
      for (int d : inner->deps) {
        auto from = node_by_name.find(name.substr(0, dot + 1) + plan.tasks[d].spec->name);
        if (from != node_by_name.end()) edges.push_back({from->second, node, RunGraphEdge::Kind::kNeeds, ""});
      }
    }
  }

  // Task `task` of the template that call instance `call` ("train", "train[2]", "a.b") runs,
  // or null.
  const PlanTask* TemplateTask(const std::string& call, const std::string& task) const {
    const PlanTask* c = CallTask(call);
    return c && c->tmpl() >= 0 ? plan.FindIn(c->tmpl(), task) : nullptr;
  }
  const PlanTask* CallTask(std::string call) const {
    while (!call.empty() && call.back() == ']') call.erase(call.rfind('['));  // an item: its task
    const size_t dot = call.rfind('.');
    if (dot == std::string::npos) return plan.FindIn(-1, call);
    return TemplateTask(call.substr(0, dot), call.substr(dot + 1));
  }

  void Build() {
    const int n_dag = plan.num_main + plan.num_finally;
    std::vector<int> node_of(plan.tasks.size(), -1);
    for (int i = 0; i < n_dag; ++i) {
      const PlanTask& t = plan.tasks[i];
      const std::string state = StateOf(t.name);
      node_of[i] = Add(t.role == TaskRole::kFinally ? RunGraphNode::Kind::kFinally
                                                    : RunGraphNode::Kind::kTask,
                       t.name, state, t.role == TaskRole::kFinally ? "finally " + state : state);
      if (t.tmpl() >= 0) AddCallTasks(t, node_of[i]);
      else if (t.spec && t.spec->for_each) AddItems(t, node_of[i]);
      AddGuards(t, node_of[i]);
    }
    for (int i = n_dag; i < static_cast<int>(plan.tasks.size()); ++i) {
      const PlanTask& h = plan.tasks[i];
      if (h.scope >= 0) continue;  // a DAG template's task or handler: inside its call's cluster
      const char* role = h.role == TaskRole::kCatch ? "catch"
                         : h.role == TaskRole::kFallback ? "fallback" : "compensate";
      std::string state = StateOf(h.name);
      node_of[i] = Add(RunGraphNode::Kind::kHandler, h.name, state, state.empty() ? "not run" : state);
      if (h.owner >= 0) edges.push_back({node_of[h.owner], node_of[i], RunGraphEdge::Kind::kHandler, role});
    }
    for (int i = 0; i < n_dag; ++i) {
      for (int d : plan.tasks[i].deps) edges.push_back({node_of[d], node_of[i], RunGraphEdge::Kind::kNeeds, ""});
    }
    // Finally tasks run once the main DAG is over: an edge from each of its last tasks.
    for (int f = plan.num_main; f < n_dag; ++f) {
      if (!plan.tasks[f].deps.empty()) continue;
      for (int m = 0; m < plan.num_main; ++m) {
        const auto& dependents = plan.tasks[m].dependents;
        bool last = std::none_of(dependents.begin(), dependents.end(),
                                 [&](int d) { return d < plan.num_main; });
        if (last) edges.push_back({node_of[m], node_of[f], RunGraphEdge::Kind::kFinally, "finally"});
      }
    }
  }
};

// Lays `dot_text` out with Graphviz's `dot` as `format` (svg or png). On failure (no `dot`
// program, or it failed) returns an error that says how to get it.
Result<std::string> Render(Env& env, const std::string& dot_text, const std::string& format) {
  FileSystem& fs = env.files();
  std::string dir = env.GetVar("TMPDIR").value_or("");
  if (dir.empty()) dir = "/tmp";
  std::string input = fmt::format("{}/sluice-graph-{:016x}.dot", dir, env.Random64());
  SLUICE_TRY_STATUS(fs.WritePrivateFile(input, dot_text));
  auto r = env.RunCommand({"dot", "-T" + format, input}, "", 120'000'000, 512u << 20);
  (void)fs.Remove(input);
  if (!r) {
    return Fail(ErrorCode::kInvalidInput, "--format {} needs Graphviz's dot program, which was not "
                "found ({}); install it (Debian: apt-get install graphviz), or use --format dot",
                format, r.error().message);
  }
  if (r->exit_code != 0 || r->too_long) {
    return Fail(ErrorCode::kIo, "dot -T{} failed ({})", format,
                r->too_long ? "its output passed 512 MB" : r->timed_out ? "it took over 2 minutes"
                                                                        : fmt::format("exit {}", r->exit_code));
  }
  return std::move(r->out);
}

}  // namespace

Result<std::string> RunGraphDot(Env& env, const GlobalOptions& g, Store& store,
                                const std::string& id, bool json) {
  SLUICE_TRY(run, store.GetRun(id));
  PublishLeftJournal(env, g, store, *run);
  SLUICE_TRY(plan, StoredPlan(store, *run));
  SLUICE_TRY(tasks, store.ListTasks(run->id));
  Builder b{**plan, {}, {}, {}};
  for (const auto& t : *tasks) b.rec[t.name] = &t;
  b.Build();
  if (json) return RunGraphToJson(b.nodes, b.edges);
  return RunGraphToDot(fmt::format("{} {} ({})", run->pipeline, run->id, ShownStatus(env, g, *run)),
                       b.nodes, b.edges);
}

int WriteGraph(Env& env, std::string text, const std::string& format, const std::string& out_file) {
  if (format == "svg" || format == "png") {
    if (format == "png" && out_file.empty() && env.IsTty(1)) {
      return Report(Error(ErrorCode::kInvalidInput, "a PNG is not for a terminal: give -o FILE"));
    }
    auto picture = Render(env, text, format);
    if (!picture) return Report(picture.error());
    text = std::move(*picture);
  }
  if (out_file.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }
  if (auto s = env.files().WriteFile(out_file, text); !s) return Report(s.error());
  std::fprintf(stderr, "wrote %s (%zu bytes)\n", out_file.c_str(), text.size());
  return 0;
}

Result<std::string> PipelineGraph(Env& env, const std::string& file, const std::string& format) {
  // Or an Argo file; a suspend without a duration is an approval by whoever draws it.
  SLUICE_TRY(plan, LoadPipelineFile(env.files(), file,
                                    WithActingApprover(env, DefaultStateDir(env), "", {})));
  const Plan& p = **plan;
  return format == "mermaid" ? p.graph().ToMermaid() : p.graph().ToDot(p.pipeline->name);
}

int CmdGraph(Env& env, const GlobalOptions& g, const std::string& target, const std::string& format,
             const std::string& out_file) {
  std::string text;
  if (env.files().Stat(target).exists) {  // a pipeline file
    auto drawn = PipelineGraph(env, target, format);
    if (!drawn) return Report(drawn.error());
    text = std::move(*drawn);
  } else {  // a run
    if (format == "mermaid") {
      return Report(Error(ErrorCode::kInvalidInput, "a run's graph is drawn as dot, svg or png"));
    }
    auto store = OpenStore(env, g, false);
    auto dot = store ? RunGraphDot(env, g, **store, target) : Result<std::string>(std::unexpected(store.error()));
    if (!dot) {
      if (dot.error().code == ErrorCode::kNotFound) {
        return Report(Error(ErrorCode::kNotFound, fmt::format("{} is neither a pipeline file nor "
                            "a run ({})", Quote(target), dot.error().message)));
      }
      return Report(dot.error());
    }
    text = std::move(*dot);
  }
  return WriteGraph(env, std::move(text), format, out_file);
}

}  // namespace sluice
