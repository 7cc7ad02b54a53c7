// A directed acyclic graph of named nodes: construction, cycle detection, topological order
// and rendering. Pure; no I/O. Not thread-safe to build; immutable use is safe to share.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

class Graph {
 public:
  // Adds a node and returns its index. Names are for messages and rendering only.
  int AddNode(std::string name);
  // Adds the edge from -> to ("to depends on from"). Duplicate edges are ignored.
  void AddEdge(int from, int to);

  int size() const { return static_cast<int>(names_.size()); }
  const std::string& name(int n) const { return names_[n]; }
  const std::vector<int>& successors(int n) const { return succ_[n]; }
  const std::vector<int>& predecessors(int n) const { return pred_[n]; }

  // Returns one cycle as the node sequence a -> b -> ... -> a (first node repeated at the end),
  // or nullopt when the graph is acyclic. Iterative, so deep graphs cannot overflow the stack.
  std::optional<std::vector<int>> FindCycle() const;

  // Kahn's order, ties broken by node index (declaration order). REQUIRES: acyclic.
  std::vector<int> TopologicalOrder() const;

  std::string ToDot(const std::string& title) const;
  std::string ToMermaid() const;

 private:
  std::vector<std::string> names_;
  std::vector<std::vector<int>> succ_, pred_;
};

// `s` inside a Graphviz double-quoted string: quotes and backslashes escaped, a newline as \n.
std::string DotEscape(std::string_view s);

}  // namespace sluice
