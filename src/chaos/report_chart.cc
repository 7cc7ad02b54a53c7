// The resilience report's timeline (inline SVG): fault windows shaded against what the target
// did over time: runs, attempt successes and failures, retries, breaker transitions,
// compensations, and the phase boundaries. Every label from the journal goes through EscapeHtml
// (the SVG sits inside the HTML page, where the same escaping holds).
#include "chaos/report_chart.h"

#include <fmt/format.h>

#include <algorithm>

#include "chaos/report.h"

namespace sluice::resilience {
namespace {

constexpr double kWidth = 960, kLeft = 130, kRight = 20, kTop = 44, kLane = 26;
const char* const kLanes[] = {"runs",    "attempt ok", "attempt failed",
                              "retries", "breakers",   "compensations"};
constexpr int kLaneCount = 6;

// Maps journal times to x; the span is never zero.
class Scale {
 public:
  Scale(Micros t0, Micros t1) : t0_(t0), span_(std::max<Micros>(t1 - t0, 1)) {}
  double X(Micros t) const {
    return kLeft +
           (kWidth - kLeft - kRight) * static_cast<double>(t - t0_) / static_cast<double>(span_);
  }
  Micros t0() const { return t0_; }
  Micros span() const { return span_; }

 private:
  Micros t0_, span_;
};

double LaneY(int lane) { return kTop + kLane * lane + kLane / 2; }

// The earliest and latest time the journal names, or nullopt when it names none.
std::optional<std::pair<Micros, Micros>> TimeRange(const Experiment& e) {
  std::optional<std::pair<Micros, Micros>> range;
  auto see = [&](const std::optional<Micros>& t) {
    if (!t) return;
    if (!range) range.emplace(*t, *t);
    range->first = std::min(range->first, *t);
    range->second = std::max(range->second, *t);
  };
  for (const PhaseSpan& p : e.phases) see(p.start), see(p.end);
  for (const FaultRecord& f : e.faults) see(f.start), see(f.end);
  for (const RunRecord& r : e.runs) {
    see(r.start), see(r.end);
    for (const TaskRecord& t : r.tasks)
      for (const Attempt& a : t.attempts) see(a.start), see(a.end);
    for (const BreakerChange& b : r.breakers) see(b.time);
  }
  return range;
}

void Phases(const Experiment& e, const Scale& s, double bottom, std::string* out) {
  for (const PhaseSpan& p : e.phases) {
    if (!p.start) continue;
    double x0 = s.X(*p.start), x1 = s.X(p.end.value_or(s.t0() + s.span()));
    *out += fmt::format(R"(<line class="phase" x1="{0:.1f}" y1="14" x2="{0:.1f}" y2="{1:.1f}"/>)",
                        x0, bottom);
    if (p.end)
      *out += fmt::format(R"(<line class="phase" x1="{0:.1f}" y1="14" x2="{0:.1f}" y2="{1:.1f}"/>)",
                          x1, bottom);
    *out += fmt::format(R"(<text class="phase-name" x="{:.1f}" y="12">{}</text>)", (x0 + x1) / 2,
                        EscapeHtml(p.name));
  }
}

void Faults(const Experiment& e, const Scale& s, double bottom, std::string* out) {
  for (const FaultRecord& f : e.faults) {
    if (!f.start) continue;
    double x0 = s.X(*f.start), x1 = s.X(f.end.value_or(s.t0() + s.span()));
    *out +=
        fmt::format(R"(<rect class="fault" x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}">)"
                    R"(<title>fault {} ({}){}</title></rect>)",
                    x0, kTop - 20, std::max(x1 - x0, 1.0), bottom - kTop + 20, EscapeHtml(f.name),
                    EscapeHtml(f.kind), f.end ? "" : ", no end recorded");
    *out += fmt::format(R"(<text class="fault-name" x="{:.1f}" y="{:.1f}">{}</text>)", x0 + 2,
                        kTop - 8, EscapeHtml(f.name));
  }
}

std::string AttemptTitle(const RunRecord& r, const TaskRecord& t, const Attempt& a) {
  std::string s = fmt::format("run {} task {} attempt {} {} {}", r.id, t.name, a.number,
                              a.status.empty() ? "never ended" : a.status, FailureLabel(a));
  return EscapeHtml(s);
}

void Runs(const Experiment& e, const Scale& s, std::string* out) {
  for (const RunRecord& r : e.runs) {
    if (r.start) {
      double x0 = s.X(*r.start), x1 = s.X(r.end.value_or(*r.start));
      // Any end but success (failed, compensated, cancelled) is a failure of the target.
      const char* cls = r.Succeeded() ? "ok" : r.status.empty() ? "other" : "bad";
      *out +=
          fmt::format(R"(<rect class="run {}" x="{:.1f}" y="{:.1f}" width="{:.1f}" height="12">)"
                      R"(<title>run {} ({}) {}{}</title></rect>)",
                      cls, x0, LaneY(0) - 6, std::max(x1 - x0, 1.5), EscapeHtml(r.id),
                      EscapeHtml(r.phase), r.status.empty() ? "never ended" : EscapeHtml(r.status),
                      r.resumed ? fmt::format(", resumed {} times", r.resumed) : "");
    }
    for (const TaskRecord& t : r.tasks) {
      for (const Attempt& a : t.attempts) {
        std::optional<Micros> at = a.end ? a.end : a.start;
        if (!at) continue;
        double x = s.X(*at);
        if (a.Succeeded()) {
          *out += fmt::format(
              R"(<circle class="ok" cx="{:.1f}" cy="{:.1f}" r="3"><title>{}</title></circle>)", x,
              LaneY(1), AttemptTitle(r, t, a));
        } else {
          double y = LaneY(2);
          *out += fmt::format(
              R"(<path class="bad-mark" d="M{0:.1f} {1:.1f}l6 6m0 -6l-6 6"><title>{2}</title></path>)",
              x - 3, y - 3, AttemptTitle(r, t, a));
        }
        if (a.number > 1 && a.start) {
          double xr = s.X(*a.start), y = LaneY(3);
          *out += fmt::format(
              R"(<polygon class="retry" points="{:.1f},{:.1f} {:.1f},{:.1f} {:.1f},{:.1f}">)"
              R"(<title>retry: {}</title></polygon>)",
              xr, y - 4, xr + 4, y + 4, xr - 4, y + 4, AttemptTitle(r, t, a));
        }
      }
    }
    for (const BreakerChange& b : r.breakers) {
      double x = s.X(b.time), y = LaneY(4);
      *out += fmt::format(
          R"(<polygon class="breaker {}" points="{:.1f},{:.1f} {:.1f},{:.1f} {:.1f},{:.1f} {:.1f},{:.1f}">)"
          R"(<title>{}</title></polygon>)",
          b.to == "open"     ? "open"
          : b.to == "closed" ? "closed"
                             : "half",
          x, y - 5, x + 5, y, x, y + 5, x - 5, y,
          EscapeHtml(fmt::format("breaker {}: {} to {} (run {})", b.breaker, b.from, b.to, r.id)));
    }
    if (r.compensations > 0 && (r.end || r.start)) {
      double x = s.X(r.end ? *r.end : *r.start), y = LaneY(5);
      *out += fmt::format(
          R"(<rect class="comp" x="{:.1f}" y="{:.1f}" width="7" height="7"><title>{}</title></rect>)",
          x - 3.5, y - 3.5,
          EscapeHtml(fmt::format("run {}: {} compensations", r.id, r.compensations)));
    }
  }
}

void Axis(const Scale& s, double bottom, std::string* out) {
  *out += fmt::format(R"(<line class="axis" x1="{0:.1f}" y1="{1:.1f}" x2="{2:.1f}" y2="{1:.1f}"/>)",
                      kLeft, bottom, kWidth - kRight);
  for (int i = 0; i <= 5; ++i) {
    Micros t = s.t0() + s.span() * i / 5;
    double x = s.X(t);
    *out +=
        fmt::format(R"(<line class="axis" x1="{0:.1f}" y1="{1:.1f}" x2="{0:.1f}" y2="{2:.1f}"/>)",
                    x, bottom, bottom + 4);
    *out += fmt::format(R"(<text class="tick" x="{:.1f}" y="{:.1f}">+{}</text>)", x, bottom + 16,
                        EscapeHtml(FormatSpan(t - s.t0())));
  }
  *out += fmt::format(
      R"(<text class="label" x="{:.1f}" y="{:.1f}">time from the first event, {} UTC</text>)",
      kLeft, bottom + 32, FormatClock(s.t0()));
}

}  // namespace

std::string TimelineSvg(const Experiment& e) {
  std::optional<std::pair<Micros, Micros>> range = TimeRange(e);
  if (!range) return "";
  Scale s(range->first, range->second);
  double bottom = kTop + kLane * kLaneCount;
  std::string out = fmt::format(
      R"(<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {0:.0f} {1:.0f}" width="{0:.0f}" height="{1:.0f}" role="img">)",
      kWidth, bottom + 40);
  out += fmt::format("<title>{}</title>", EscapeHtml("timeline of " + e.name));
  for (int i = 0; i < kLaneCount; ++i) {
    out += fmt::format(
        R"(<rect class="lane{}" x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}"/>)", i % 2,
        kLeft, kTop + kLane * i, kWidth - kLeft - kRight, kLane);
    out +=
        fmt::format(R"(<text class="label" x="4" y="{:.1f}">{}</text>)", LaneY(i) + 4, kLanes[i]);
  }
  Faults(e, s, bottom, &out);
  Phases(e, s, bottom, &out);
  Runs(e, s, &out);
  Axis(s, bottom, &out);
  out += "</svg>";
  return out;
}

}  // namespace sluice::resilience
