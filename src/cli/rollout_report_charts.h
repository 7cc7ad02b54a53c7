// The rollout report's data read from its document, and its SVG charts (rollout_report.h). Used
// only by rollout_report.cc; apart so that neither file does two jobs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/rollout_report.h"
#include "common/value.h"

namespace sluice {

// One measurement, placed in time.
struct Point {
  int64_t seq = 0;
  double t = 0;               // seconds since the rollout started, when it was taken
  std::optional<double> y;    // its number: the value, or a list's first; none for an Error
  std::string key;            // "TEMPLATE/METRIC"
  std::string analysis, phase, value, message, when;  // value as JSON, when as a timestamp
  bool dry_run = false;
};

// One timeline entry: a weight step or a decision.
struct Mark {
  int index = 0;  // 1-based, as the timeline table numbers it
  double t = 0;
  int64_t weight = 0;  // the canary's share after it, in percent
  std::string kind, message;
};

// The measurements of one metric, in the order taken.
struct Series {
  std::string key;
  std::vector<Point> points;
};

struct ReportData {
  double span = 1;              // the seconds the time axes cover
  std::vector<Point> points;    // every measurement, in the document's order
  std::vector<Series> series;   // by metric, in the order each was first measured
  std::vector<Mark> timeline;
};


ReportData ReadReportData(const Value& doc);

// "45s", "2m05s", "1h10m": a time since the start.
std::string TimeLabel(double seconds);
const char* PhaseColour(std::string_view phase);
const char* MarkColour(const Mark& m);

// The canary's weight over time with the decisions, as an <svg> and its legend.
std::string WeightChart(const ReportData& d);
// One metric's values over time, coloured by phase, with its thresholds (`conditions` null: its
// template is no longer declared), the weight and the decisions.
std::string MetricChart(const ReportData& d, const Series& s, const MetricConditions* conditions);

}  // namespace sluice
