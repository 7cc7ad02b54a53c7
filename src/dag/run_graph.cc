#include "dag/run_graph.h"

#include <map>
#include <set>

#include "common/value.h"
#include "dag/graph.h"

namespace sluice {
namespace {

std::string NodeLine(int id, const RunGraphNode& n) {
  using K = RunGraphNode::Kind;
  std::string label = n.name;
  if (!n.note.empty()) label += "\n" + n.note;
  std::string shape = "box", style = "filled,rounded";
  switch (n.kind) {
    case K::kHandler: style = "filled,dashed"; shape = "box"; break;
    case K::kGate: shape = "hexagon"; style = "filled"; break;
    case K::kApproval: shape = "diamond"; style = "filled"; break;
    case K::kMore: shape = "plaintext"; style = ""; break;
    case K::kFinally: style = "filled,bold"; break;
    default: break;
  }
  std::string out = "  n" + std::to_string(id) + " [label=\"" + DotEscape(label) + "\", shape=" + shape;
  if (!style.empty()) {
    out += ", style=\"" + style + "\", fillcolor=\"" + std::string(StateColor(n.state)) + "\"";
  }
  return out + "];\n";
}

}  // namespace

std::string_view StateColor(std::string_view state) {
  static const std::map<std::string_view, std::string_view> kColors = {
      {"succeeded", "#8fd694"},       {"cached", "#9fd8e6"},    {"recovered", "#f5c26b"},
      {"failed", "#f08080"},          {"upstream-failed", "#f4b6b6"},
      {"cancelled", "#b0b0b0"},       {"skipped", "#e4e4e4"},   {"running", "#7fb2f0"},
      {"waiting", "#c9b6f2"},         {"awaiting-approval", "#d9a6e8"},
      {"ready", "#fff3a0"},           {"approved", "#8fd694"},  {"rejected", "#f08080"},
  };
  auto it = kColors.find(state);
  return it == kColors.end() ? "#ffffff" : it->second;
}

std::string RunGraphToDot(const std::string& title, const std::vector<RunGraphNode>& nodes,
                          const std::vector<RunGraphEdge>& edges) {
  std::string out = "digraph \"" + DotEscape(title) + "\" {\n  rankdir=LR;\n  compound=true;\n"
                    "  node [fontname=\"Helvetica\", fontsize=11];\n"
                    "  edge [fontname=\"Helvetica\", fontsize=9];\n";
  // forEach tasks and their items: a cluster each, the task first.
  std::map<int, std::vector<int>> items;
  std::set<int> parents;
  for (int i = 0; i < static_cast<int>(nodes.size()); ++i) {
    if (nodes[i].cluster >= 0) {
      items[nodes[i].cluster].push_back(i);
      parents.insert(nodes[i].cluster);
    }
  }
  for (int i = 0; i < static_cast<int>(nodes.size()); ++i) {
    if (nodes[i].cluster >= 0) continue;
    if (!parents.count(i)) {
      out += NodeLine(i, nodes[i]);
      continue;
    }
    const std::string label = nodes[i].cluster_label.empty() ? "forEach " + nodes[i].name
                                                             : nodes[i].cluster_label;
    out += "  subgraph cluster_" + std::to_string(i) + " {\n    label=\"" + DotEscape(label) +
           "\";\n    style=\"rounded,dashed\";\n  " + NodeLine(i, nodes[i]);
    for (int c : items[i]) out += "  " + NodeLine(c, nodes[c]);
    out += "  }\n";
  }
  for (const auto& e : edges) {
    out += "  n" + std::to_string(e.from) + " -> n" + std::to_string(e.to);
    std::vector<std::string> attrs;
    if (e.kind == RunGraphEdge::Kind::kHandler) attrs.push_back("style=dashed, color=\"#c07000\"");
    if (e.kind == RunGraphEdge::Kind::kFinally) attrs.push_back("style=dotted, color=\"#606060\"");
    if (!e.label.empty()) attrs.push_back("label=\"" + DotEscape(e.label) + "\"");
    if (!attrs.empty()) {
      out += " [";
      for (size_t k = 0; k < attrs.size(); ++k) out += (k ? ", " : "") + attrs[k];
      out += "]";
    }
    out += ";\n";
  }
  // A legend of the states shown.
  std::set<std::string> states;
  for (const auto& n : nodes) {
    if (n.kind != RunGraphNode::Kind::kMore) states.insert(n.state.empty() ? "pending" : n.state);
  }
  out += "  subgraph cluster_legend {\n    label=\"states\";\n    style=dashed;\n";
  int k = 0;
  for (const auto& s : states) {
    out += "    legend" + std::to_string(k++) + " [label=\"" + DotEscape(s) +
           "\", shape=box, style=\"filled,rounded\", fillcolor=\"" + std::string(StateColor(s)) +
           "\"];\n";
  }
  return out + "  }\n}\n";
}

std::string RunGraphToJson(const std::vector<RunGraphNode>& nodes,
                           const std::vector<RunGraphEdge>& edges) {
  static constexpr const char* kNodeKinds[] = {"task", "item", "handler", "finally",
                                               "gate", "approval", "more"};
  static constexpr const char* kEdgeKinds[] = {"needs", "handler", "finally"};
  ValueList ns, es;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const RunGraphNode& n = nodes[i];
    ns.push_back(Value(ValueMap{{"id", Value(static_cast<int64_t>(i))},
                                {"kind", Value(kNodeKinds[static_cast<int>(n.kind)])},
                                {"name", Value(n.name)}, {"state", Value(n.state)},
                                {"note", Value(n.note)}, {"group", Value(static_cast<int64_t>(n.cluster))},
                                {"groupLabel", Value(n.cluster_label)}}));
  }
  for (const RunGraphEdge& e : edges) {
    es.push_back(Value(ValueMap{{"from", Value(static_cast<int64_t>(e.from))},
                                {"to", Value(static_cast<int64_t>(e.to))},
                                {"kind", Value(kEdgeKinds[static_cast<int>(e.kind)])},
                                {"label", Value(e.label)}}));
  }
  return Value(ValueMap{{"nodes", Value(std::move(ns))}, {"edges", Value(std::move(es))}}).ToJson();
}

}  // namespace sluice
