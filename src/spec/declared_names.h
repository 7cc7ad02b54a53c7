// The names a Pipeline or Component document declares, as the expression parser asks for them
// to read `tasks.flip-coin` and `params.max-depth` without backticks. Internal to src/spec (the
// loader's Reader uses it while it reads one document).
//
// Read from the YAML tree lazily, on the first question: a pipeline whose placeholders never put
// a '-' right after `tasks.NAME` or `params.NAME` (most, and every generated one of a million
// tasks) pays nothing. Not thread-safe; lives no longer than the tree it reads.
#pragma once

#include <set>
#include <string>
#include <string_view>

#include "expr/expr.h"
#include "spec/yaml_tree.h"

namespace sluice {

class SpecNames : public DeclaredNames {
 public:
  // `spec`: the document's spec map (its tasks, finally and params lists).
  explicit SpecNames(YNode spec) : spec_(spec) {}

  bool Has(std::string_view root, std::string_view name) const override {
    if (!read_) Read();
    const auto& set = root == "tasks" ? tasks_ : params_;
    return set.find(name) != set.end();
  }

 private:
  void Read() const {
    read_ = true;
    if (!spec_.IsMap()) return;
    // Only hyphenated task names are ever asked for (tasks are never ambiguous): a
    // million-task pipeline keeps no copy of its plain names.
    for (const char* list : {"tasks", "finally"}) Collect(spec_[list], true, &tasks_);
    Collect(spec_["params"], false, &params_);
  }
  // The `name:` of every map in list `l` (what is not well formed is the loader's to report),
  // or only those holding a '-'.
  static void Collect(const YNode& l, bool hyphenated, std::set<std::string, std::less<>>* out) {
    if (!l.IsSequence()) return;
    for (const auto& item : l) {
      if (!item.IsMap()) continue;
      YNode name = item["name"];
      if (!name.IsScalar()) continue;
      if (!hyphenated || name.Scalar().find('-') != std::string_view::npos) out->emplace(name.Scalar());
    }
  }

  YNode spec_;
  mutable bool read_ = false;
  mutable std::set<std::string, std::less<>> tasks_, params_;
};

}  // namespace sluice
