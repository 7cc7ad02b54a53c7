// `sluice rollout report RUN TASK` (docs/rollouts.md, "The report"): one self-contained HTML page of a
// deploy task's rollout for people who were not watching it: the outcome, each metric's
// measurements over time against its thresholds, the canary's weight steps and every decision,
// and the tables behind the charts. The page loads nothing (inline CSS and SVG, no script), so
// it can be mailed, attached to an incident or opened offline.
//
// The renderer is a pure function of the document `sluice rollout status -o json` prints
// (RolloutJson) and the metrics' conditions, so it is tested without a store.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"
#include "common/error.h"
#include "common/value.h"
#include "store/rollout_rows.h"

namespace sluice {

class Store;
struct EnvironmentsSpec;

// A metric's conditions as its AnalysisTemplate writes them ("" = not given).
struct MetricConditions {
  std::string success, failure;
};
// Keyed by "TEMPLATE/METRIC".
using ConditionMap = std::map<std::string, MetricConditions>;

// The conditions of every metric measured in `doc` (a RolloutJson document) whose template
// `envs` still declares; a template since removed is left out (its chart says so).
ConditionMap ConditionsFor(const Value& doc, const EnvironmentsSpec& envs);

// A threshold read from a condition that compares the result with a number: `result[0] < 0.05`,
// `result >= 1`, `0.9 <= result[0]`. `op` is as seen from the result ("<" for `0.05 > result`).
struct Threshold {
  double value = 0;
  std::string op;
};
// The threshold of `condition`, or nullopt when it is anything else (args, functions, &&...).
std::optional<Threshold> ThresholdOf(std::string_view condition);

// `s` with &, <, >, " and ' as character references, invalid UTF-8 and control characters
// (other than tab and newline) as U+FFFD: safe as HTML or SVG text and in quoted attributes.
std::string HtmlEscape(std::string_view s);

// The report page of `doc`, a RolloutJson document, with the thresholds of `conditions`.
std::string RolloutReportHtml(const Value& doc, const ConditionMap& conditions);

// Writes the report of task `task` of run `run_ref` to `out` ("" = rollout-RUN-TASK.html in the
// current folder), atomically, and prints the path. On failure (no such run or rollout: exit
// 2; the file cannot be written: 3) prints one line and returns the exit code.
int CmdRolloutReport(Env& env, const GlobalOptions& g, const std::string& run_ref,
                     const std::string& task, const std::string& out);

}  // namespace sluice
