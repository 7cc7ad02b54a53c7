// What /metrics serves in Prometheus' text format (version 0.0.4): the API's request counts and
// durations by route and code and the event streams open, kept here as requests end, and gauges read from the store when
// scraped (runs by status, tasks by state, breakers by state). Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "store/ready_to_start.h"

namespace sluice {

class RequestMetrics {
 public:
  // One request to `route` (its pattern, or "unmatched") answered with `code` after `seconds`.
  void Observe(const std::string& route, const std::string& method, int code, double seconds);
  // A streamed answer began or ended (server.cc): the gauge sluice_api_open_streams.
  void StreamOpened();
  void StreamClosed();
  // The request series, in Prometheus text format.
  std::string Render() const;

  // The histogram's upper bounds, in seconds.
  static const std::vector<double>& Buckets();

 private:
  struct Series {
    std::vector<uint64_t> buckets;  // cumulative counts are made when rendering
    uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, uint64_t> requests_;  // route, method, code
  std::map<std::pair<std::string, int>, Series> durations_;                 // route, code
  int64_t open_streams_ = 0;
};

// A gauge family's lines: "# HELP", "# TYPE" and one sample per label value.
std::string GaugeFamily(const std::string& name, const std::string& help, const std::string& label,
                        const std::vector<std::pair<std::string, int64_t>>& samples);
// sluice_task_ready_to_start_seconds: the histogram of ready -> start the store holds
// (store/ready_to_start.h), in the text format (cumulative buckets, sum, count).
std::string ReadyToStartFamily(const ReadyToStartHistogram& h);
// A label value escaped as the text format asks (backslash, quote, newline).
std::string EscapeLabel(const std::string& v);

}  // namespace sluice
