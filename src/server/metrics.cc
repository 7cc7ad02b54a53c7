// Prometheus text format (metrics.h).
#include "server/metrics.h"

#include <fmt/format.h>

namespace sluice {

const std::vector<double>& RequestMetrics::Buckets() {
  static const std::vector<double> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                               0.1,   0.25,   0.5,   1,    2.5,   5,   10};
  return kBuckets;
}

void RequestMetrics::Observe(const std::string& route, const std::string& method, int code,
                             double seconds) {
  std::lock_guard lock(mu_);
  ++requests_[{route, method, code}];
  Series& s = durations_[{route, code}];
  if (s.buckets.empty()) s.buckets.assign(Buckets().size(), 0);
  for (size_t i = 0; i < Buckets().size(); ++i) {
    if (seconds <= Buckets()[i]) {
      ++s.buckets[i];
      break;
    }
  }
  ++s.count;
  s.sum += seconds;
}

void RequestMetrics::StreamOpened() {
  std::lock_guard lock(mu_);
  ++open_streams_;
}

void RequestMetrics::StreamClosed() {
  std::lock_guard lock(mu_);
  --open_streams_;
}

std::string EscapeLabel(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string RequestMetrics::Render() const {
  std::lock_guard lock(mu_);
  std::string out =
      "# HELP sluice_api_requests_total API requests answered, by route pattern, method and "
      "status code.\n# TYPE sluice_api_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    const auto& [route, method, code] = key;
    out += fmt::format("sluice_api_requests_total{{route=\"{}\",method=\"{}\",code=\"{}\"}} {}\n",
                       EscapeLabel(route), method, code, n);
  }
  out +=
      "# HELP sluice_api_request_duration_seconds Time to answer an API request (to its first "
      "byte, for a stream), by route pattern and status code.\n"
      "# TYPE sluice_api_request_duration_seconds histogram\n";
  for (const auto& [key, s] : durations_) {
    const std::string r = fmt::format("{}\",code=\"{}", EscapeLabel(key.first), key.second);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < Buckets().size(); ++i) {
      cumulative += s.buckets[i];
      out += fmt::format("sluice_api_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n",
                         r, Buckets()[i], cumulative);
    }
    out += fmt::format("sluice_api_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n",
                       r, s.count);
    out += fmt::format("sluice_api_request_duration_seconds_sum{{route=\"{}\"}} {}\n", r, s.sum);
    out += fmt::format("sluice_api_request_duration_seconds_count{{route=\"{}\"}} {}\n", r, s.count);
  }
  out += fmt::format("# HELP sluice_api_open_streams Event streams and log follows open now.\n"
                     "# TYPE sluice_api_open_streams gauge\nsluice_api_open_streams {}\n",
                     open_streams_);
  return out;
}

std::string GaugeFamily(const std::string& name, const std::string& help, const std::string& label,
                        const std::vector<std::pair<std::string, int64_t>>& samples) {
  std::string out = fmt::format("# HELP {} {}\n# TYPE {} gauge\n", name, help, name);
  for (const auto& [value, n] : samples) {
    out += fmt::format("{}{{{}=\"{}\"}} {}\n", name, label, EscapeLabel(value), n);
  }
  return out;
}

std::string ReadyToStartFamily(const ReadyToStartHistogram& h) {
  std::string out =
      "# HELP sluice_task_ready_to_start_seconds Time from a task becoming ready to its attempt "
      "starting: spawned by its engine (executor: local), or taken by a worker.\n"
      "# TYPE sluice_task_ready_to_start_seconds histogram\n";
  int64_t cumulative = 0, sum_us = 0;
  for (size_t b = 0; b < ReadyToStartHistogram::kBoundsUs.size(); ++b) {
    cumulative += h.samples[b];
    out += fmt::format("sluice_task_ready_to_start_seconds_bucket{{le=\"{}\"}} {}\n",
                       static_cast<double>(ReadyToStartHistogram::kBoundsUs[b]) / 1e6, cumulative);
  }
  for (size_t b = 0; b < h.samples.size(); ++b) sum_us += h.sum_us[b];
  cumulative += h.samples.back();
  out += fmt::format("sluice_task_ready_to_start_seconds_bucket{{le=\"+Inf\"}} {}\n", cumulative);
  out += fmt::format("sluice_task_ready_to_start_seconds_sum {}\n", static_cast<double>(sum_us) / 1e6);
  out += fmt::format("sluice_task_ready_to_start_seconds_count {}\n", cumulative);
  return out;
}

}  // namespace sluice
