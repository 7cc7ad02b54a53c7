// A reader for protobuf text format, as much of it as the CEL conformance files use: nested
// messages (`name { ... }` / `name: { ... }` / `< >`), scalars (numbers, enums, quoted strings
// with C escapes, adjacent strings concatenated) and `[type.url]` extension names. No schema:
// the result is a generic tree the conformance runner interprets.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/error.h"

namespace sluice {

struct TextNode {
  bool is_message = false;
  std::string scalar;  // for scalars: the decoded string, or the token as written
  bool quoted = false;
  std::vector<std::pair<std::string, TextNode>> fields;  // for messages, in order

  // The first field named `name`, or nullptr.
  const TextNode* Find(std::string_view name) const;
  // Every field named `name`.
  std::vector<const TextNode*> All(std::string_view name) const;
};

// Parses a whole text-format file into a message node. On failure the error names the line.
Result<TextNode> ParseTextProto(std::string_view text);

}  // namespace sluice
