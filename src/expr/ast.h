// The expression syntax tree. Internal to src/expr.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/value.h"

namespace sluice {

struct Node {
  enum class Kind {
    kLiteral,  // value
    kIdent,    // name
    kSelect,   // args[0].name
    kIndex,    // args[0][args[1]]
    kCall,     // name(args...), or receiver.name(args...) with has_receiver
    kUnary,    // op args[0]
    kBinary,   // args[0] op args[1]
    kAnd,
    kOr,
    kCond,     // args[0] ? args[1] : args[2]
    kList,     // [args...]
    kMap,      // {args[0]: args[1], ...}
  };
  Kind kind = Kind::kLiteral;
  Value value;
  std::string name;  // identifier, field, function or operator
  bool has_receiver = false;
  std::vector<std::shared_ptr<const Node>> args;
  int column = 0;  // 1-based
  int depth = 1;   // of the subtree; the parser keeps it under its limit
};

using NodePtr = std::shared_ptr<const Node>;

}  // namespace sluice
