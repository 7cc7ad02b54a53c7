// Reading `sluice/v1` files: YAML documents into the model of model.h, with every error
// located at FILE:LINE:COL. Parses with libyaml (yaml_tree.cc), which no other module sees.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "env/env.h"
#include "spec/model.h"
#include "spec/schedule_spec.h"
#include "spec/trigger_spec.h"

namespace sluice {

struct SpecFile {
  std::string path;  // absolute
  std::vector<PipelineSpec> pipelines;
  std::vector<ComponentSpec> components;
  std::vector<BreakerSpec> breakers;  // kind: Breaker documents
  std::vector<PolicySpec> policies;   // kind: Policy documents
  std::vector<WaiverSpec> waivers;    // kind: Waiver documents
  std::vector<ScheduleSpec> schedules;  // kind: Schedule documents (docs/schedules.md)
  std::vector<TriggerSpec> triggers;    // kind: Trigger documents (docs/triggers.md)
};

// What one load (a pipeline with its imports, components and policies; a --policies folder)
// may read in all, so that many files cannot add up to what one file may not hold: bytes of its
// files, and YAML values they expand into (each file alone holds at most 100,000). Shared by
// the files of one load; not thread-safe.
class LoadBudget {
 public:
  static constexpr int64_t kMaxBytes = int64_t{256} << 20;
  static constexpr int64_t kMaxValues = 1'000'000;

  // Reads `path` and counts its bytes. On failure returns the error: kNotFound when it is
  // missing; kInvalidInput when it is not a regular file (a folder, /dev/zero, a FIFO) or
  // would bring the load past kMaxBytes, said before it is read.
  Result<std::string> Read(FileSystem& fs, const std::string& path);
  // Counts one more value; false once the load holds more than kMaxValues.
  bool TakeValue() { return ++values_ <= kMaxValues; }

 private:
  int64_t bytes_ = 0;
  int64_t values_ = 0;
};

// Parses `content` (the text of `path`) into pipelines and components. Rejects binary or
// non-UTF-8 text, YAML syntax errors, absurd nesting, unknown keys (with a "did you mean"),
// missing required fields, wrong types and duplicate keys. A file whose first document is not
// meant as a sluice document (a map with no apiVersion and no kind: /etc/shadow, say) is
// refused without quoting any of its text. Values count against `budget` when given. On
// failure returns the first error.
Result<SpecFile> ParseSpecFile(const std::string& path, std::string_view content,
                               LoadBudget* budget = nullptr);

}  // namespace sluice
