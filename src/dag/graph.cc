#include "dag/graph.h"

#include <algorithm>
#include <queue>

namespace sluice {

int Graph::AddNode(std::string name) {
  names_.push_back(std::move(name));
  succ_.emplace_back();
  pred_.emplace_back();
  return size() - 1;
}

void Graph::AddEdge(int from, int to) {
  auto& s = succ_[from];
  if (std::find(s.begin(), s.end(), to) != s.end()) return;
  s.push_back(to);
  pred_[to].push_back(from);
}

std::optional<std::vector<int>> Graph::FindCycle() const {
  enum : char { kWhite, kGrey, kBlack };
  std::vector<char> color(size(), kWhite);
  std::vector<int> parent(size(), -1);
  for (int root = 0; root < size(); ++root) {
    if (color[root] != kWhite) continue;
    // Explicit stack of (node, next successor position).
    std::vector<std::pair<int, size_t>> stack = {{root, 0}};
    color[root] = kGrey;
    while (!stack.empty()) {
      auto& [n, pos] = stack.back();
      if (pos < succ_[n].size()) {
        int m = succ_[n][pos++];
        if (color[m] == kGrey) {
          std::vector<int> cycle = {m};
          for (int k = n; k != m; k = parent[k]) cycle.push_back(k);
          cycle.push_back(m);
          std::reverse(cycle.begin(), cycle.end());
          return cycle;
        }
        if (color[m] == kWhite) {
          color[m] = kGrey;
          parent[m] = n;
          stack.emplace_back(m, 0);
        }
      } else {
        color[n] = kBlack;
        stack.pop_back();
      }
    }
  }
  return std::nullopt;
}

std::vector<int> Graph::TopologicalOrder() const {
  std::vector<int> indeg(size());
  for (int n = 0; n < size(); ++n) indeg[n] = static_cast<int>(pred_[n].size());
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (int n = 0; n < size(); ++n) {
    if (indeg[n] == 0) ready.push(n);
  }
  std::vector<int> order;
  order.reserve(size());
  while (!ready.empty()) {
    int n = ready.top();
    ready.pop();
    order.push_back(n);
    for (int m : succ_[n]) {
      if (--indeg[m] == 0) ready.push(m);
    }
  }
  return order;
}

std::string DotEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string Graph::ToDot(const std::string& title) const {
  std::string out = "digraph \"" + DotEscape(title) + "\" {\n  rankdir=LR;\n  node [shape=box];\n";
  for (int n = 0; n < size(); ++n) {
    out += "  n" + std::to_string(n) + " [label=\"" + DotEscape(names_[n]) + "\"];\n";
  }
  for (int n = 0; n < size(); ++n) {
    for (int m : succ_[n]) out += "  n" + std::to_string(n) + " -> n" + std::to_string(m) + ";\n";
  }
  return out + "}\n";
}

std::string Graph::ToMermaid() const {
  std::string out = "flowchart LR\n";
  for (int n = 0; n < size(); ++n) {
    std::string label;
    for (char c : names_[n]) label += c == '"' ? '\'' : c;
    out += "  n" + std::to_string(n) + "[\"" + label + "\"]\n";
  }
  for (int n = 0; n < size(); ++n) {
    for (int m : succ_[n]) out += "  n" + std::to_string(n) + " --> n" + std::to_string(m) + "\n";
  }
  return out;
}

}  // namespace sluice
