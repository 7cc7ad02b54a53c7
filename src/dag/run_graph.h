// The picture of a run (`sluice graph RUN`): its tasks as nodes colored by state, forEach items
// grouped in a cluster under their task, handlers (catch, fallback, compensate), gates and
// approvals as nodes of their own, and the finally tasks after the main DAG, written as DOT for
// Graphviz's `dot` to lay out. Pure; no I/O.
#pragma once

#include <string>
#include <vector>

namespace sluice {

struct RunGraphNode {
  enum class Kind { kTask, kItem, kHandler, kFinally, kGate, kApproval, kMore };
  Kind kind = Kind::kTask;
  std::string name;   // the label's first line
  std::string state;  // succeeded, failed, ... ("" or "pending": not run)
  std::string note;   // the label's second line ("" for none)
  int cluster = -1;   // kItem, kMore: the forEach task (or template call) node they belong to
  std::string cluster_label;  // of the cluster it heads; "" = "forEach NAME"
};

struct RunGraphEdge {
  enum class Kind { kNeeds, kHandler, kFinally };
  int from = 0, to = 0;
  Kind kind = Kind::kNeeds;
  std::string label;
};

// The fill color of a state (white for one not run yet).
std::string_view StateColor(std::string_view state);

// The nodes and edges as JSON: {"nodes": [{"id", "kind" (task, item, handler, finally, gate,
// approval, more), "name", "state", "note", "group" (the node heading its cluster, or -1),
// "groupLabel"}], "edges": [{"from", "to", "kind" (needs, handler, finally), "label"}]}.
std::string RunGraphToJson(const std::vector<RunGraphNode>& nodes,
                           const std::vector<RunGraphEdge>& edges);

// DOT for the nodes and edges, titled `title`, with a legend of the states that occur.
std::string RunGraphToDot(const std::string& title, const std::vector<RunGraphNode>& nodes,
                          const std::vector<RunGraphEdge>& edges);

}  // namespace sluice
