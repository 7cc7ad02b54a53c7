// YamlTree: a compact, read-only tree of YAML documents built from libyaml's event parser, with
// the source position of every node. Internal to src/spec (the loader reads it through Reader).
//
// Why not yaml-cpp: it took 1.35 s and ~490 MB to load a 100,000-task pipeline (7 MB) where
// libyaml's parser takes 0.14 s and this tree a small fraction of the memory; libyaml's parser
// is also a state machine, so hostile nesting cannot overflow the stack while parsing.
// Nodes live in one arena owned by the tree; YNode is a cheap handle valid while it lives.
// Aliases share the anchored node (no copy), so expansion is bounded by the reader's budget.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace sluice {

class YamlTree;

struct YMark {
  int line = -1;  // 0-based; -1 when the node does not exist
  int column = -1;
  bool is_null() const { return line < 0; }
};

class YNode {
 public:
  enum class Type { kUndefined, kNull, kScalar, kSequence, kMap };

  YNode() = default;
  YNode(const YamlTree* tree, uint32_t index) : tree_(tree), index_(index) {}

  Type type() const;
  bool IsDefined() const { return tree_ != nullptr; }
  explicit operator bool() const { return IsDefined(); }
  bool IsNull() const { return type() == Type::kNull; }
  bool IsScalar() const { return type() == Type::kScalar; }
  bool IsSequence() const { return type() == Type::kSequence; }
  bool IsMap() const { return type() == Type::kMap; }

  // The scalar's text ("" for other kinds), NUL-terminated in the tree's arena. A quoted
  // scalar or one tagged !!str is always a string; a plain one is read by the YAML 1.2 core
  // schema.
  std::string_view Scalar() const;
  bool IsQuotedOrString() const;
  YMark Mark() const;

  // Map lookup by key (the first match): an undefined node when absent or not a map.
  YNode operator[](std::string_view key) const;
  // The i-th item of a sequence; undefined when out of range or not a sequence.
  YNode Item(size_t i) const;
  // Number of items (sequence) or pairs (map).
  size_t size() const;

  // Iteration: a sequence yields its items; a map yields pairs with `first` (key) and `second`
  // (value), where the pair itself stands for the value.
  struct Entry;
  class Iterator;
  Iterator begin() const;
  Iterator end() const;

 private:
  friend class YamlTree;
  const YamlTree* tree_ = nullptr;
  uint32_t index_ = 0;
};

struct YNode::Entry : YNode {
  YNode first, second;
};

class YNode::Iterator {
 public:
  Iterator(const YNode& node, size_t pos) : node_(node), pos_(pos) {}
  Entry operator*() const;
  struct Arrow {
    Entry item;
    const Entry* operator->() const { return &item; }
  };
  Arrow operator->() const { return Arrow{**this}; }
  Iterator& operator++() {
    ++pos_;
    return *this;
  }
  bool operator!=(const Iterator& o) const { return pos_ != o.pos_; }
  bool operator==(const Iterator& o) const { return pos_ == o.pos_; }

 private:
  YNode node_;
  size_t pos_;
};

class YamlTree {
 public:
  // Parses every document of `text`. On a syntax error returns "LINE:COL: YAML syntax error:
  // ..." (1-based) without the file name; the caller adds it.
  // Reads the plain subset that large generated files use with a hand-written reader
  // (yaml_tree_fast.cc) and everything else, and every error, with libyaml.
  static Result<std::unique_ptr<YamlTree>> Parse(std::string_view text);
  // The two readers on their own, for tests. ParseFast returns null for text outside its subset
  // (never an error); where it returns a tree, the tree equals ParseLibyaml's. `nodes_hint` is
  // how many nodes to reserve room for.
  static std::unique_ptr<YamlTree> ParseFast(std::string_view text, size_t nodes_hint = 0);
  static Result<std::unique_ptr<YamlTree>> ParseLibyaml(std::string_view text, size_t nodes_hint = 0);

  const std::vector<YNode>& documents() const { return docs_; }

 private:
  friend class YNode;
  friend class FastYamlReader;
  friend class LibyamlReader;
  // 24 bytes a node: texts and child lists live in two arenas, not in per-node allocations.
  struct NodeData {
    YNode::Type type = YNode::Type::kNull;
    bool string_tagged = false;  // quoted or !!str
    int line = 0, column = 0;
    uint32_t text = 0;    // offset in texts_ (NUL-terminated)
    uint32_t first = 0;   // offset in children_: sequence items, or key, value, key, value...
    uint32_t count = 0;   // entries in children_; for a scalar, its length (it may hold NULs)
  };
  std::vector<NodeData> nodes_;
  std::string texts_;
  std::vector<uint32_t> children_;
  std::vector<YNode> docs_;
};

}  // namespace sluice
