// The report printed when `sluice run`, `resume` or `rollback` ends: failed tasks with why (the
// message and the last lines of their stderr) and where to look, counts of the user's tasks by
// state, handlers apart, artifacts, the run folder, and with --stats the scheduling figures.
#pragma once

#include <string>
#include <vector>

#include "cli/commands.h"
#include "engine/engine.h"
#include "env/env.h"
#include "store/store.h"

namespace sluice {

// The last `n` non-empty lines of a task's stderr `text`, each trimmed, control characters
// escaped, cut at 200 bytes, and masked with `masker` (null: no secrets).
std::vector<std::string> LastLines(std::string_view text, int n, const Masker* masker);

// `name` as a shell word: itself when it needs no quoting, else in single quotes ('train[2]').
std::string ShellWord(const std::string& name);

// Writes the report to stderr. `fs` reads the failed attempts' stderr logs in `run_dir`;
// `masker` (null: none) masks the run's secret values in what is shown of them.
void ReportRun(FileSystem& fs, const Engine& engine, Store& store, const std::string& run_id,
               const std::string& run_dir, const RunSummary& summary, int64_t run_us,
               const ExecOptions& x, const Masker* masker);

}  // namespace sluice
