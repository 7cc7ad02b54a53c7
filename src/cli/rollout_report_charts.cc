// The rollout report's charts (rollout_report_charts.h): hand-written SVG, so the page needs no
// script or library. Every text from the document goes through HtmlEscape.
#include "cli/rollout_report_charts.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include <fmt/format.h>

namespace sluice {


namespace {

// A measured value's number: itself, or a list's first item (a Prometheus vector).
std::optional<double> FirstNumber(const Value& v) {
  const Value* x = &v;
  if (v.is_list() && !v.as_list().empty()) x = &v.as_list()[0];
  if (!x->is_number()) return std::nullopt;
  const double d = x->to_double();
  return std::isfinite(d) ? std::optional<double>(d) : std::nullopt;
}

double SecondsSince(int64_t us, int64_t start_us) {
  return us <= start_us ? 0.0 : static_cast<double>(us - start_us) / 1e6;
}

}  // namespace

ReportData ReadReportData(const Value& doc) {
  ReportData d;
  const int64_t start = DocInt(doc, "startedUs");
  double span = SecondsSince(DocInt(doc, "updatedUs"), start);
  std::map<std::string, size_t> series_of;
  const Value* ms = doc.Find("measurements");
  for (const Value& m : ms && ms->is_list() ? ms->as_list() : ValueList{}) {
    Point p;
    p.seq = DocInt(m, "seq");
    const int64_t at = DocInt(m, "finishedUs") ? DocInt(m, "finishedUs") : DocInt(m, "startedUs");
    p.t = SecondsSince(at, start);
    p.key = DocText(m, "template") + "/" + DocText(m, "metric");
    p.analysis = DocText(m, "analysis");
    p.phase = DocText(m, "phase");
    p.message = DocText(m, "message");
    p.when = DocText(m, "finished").empty() ? DocText(m, "started") : DocText(m, "finished");
    const Value* dry = m.Find("dryRun");
    p.dry_run = dry && dry->is_bool() && dry->as_bool();
    if (const Value* v = m.Find("value")) {
      p.value = v->ToJson();
      if (p.phase != "Error") p.y = FirstNumber(*v);
    }
    span = std::max(span, p.t);
    auto [it, added] = series_of.emplace(p.key, d.series.size());
    if (added) d.series.push_back(Series{p.key, {}});
    d.series[it->second].points.push_back(p);
    d.points.push_back(std::move(p));
  }
  const Value* st = doc.Find("state");
  const Value* tl = st && st->is_map() ? st->Find("timeline") : nullptr;
  for (const Value& e : tl && tl->is_list() ? tl->as_list() : ValueList{}) {
    Mark m{static_cast<int>(d.timeline.size()) + 1, SecondsSince(DocInt(e, "us"), start),
           DocInt(e, "weight"), DocText(e, "kind"), DocText(e, "message")};
    span = std::max(span, m.t);
    d.timeline.push_back(std::move(m));
  }
  d.span = std::max(span, 1.0);
  return d;
}

std::string TimeLabel(double s) {
  if (s < 60) return fmt::format("{:g}s", std::round(s * 10) / 10);
  const int64_t whole = std::llround(s);
  if (whole < 3600) return fmt::format("{}m{:02}s", whole / 60, whole % 60);
  return fmt::format("{}h{:02}m", whole / 3600, (whole / 60) % 60);
}

const char* PhaseColour(std::string_view phase) {
  if (phase == "Successful" || phase == "Healthy") return "#2e7d32";
  if (phase == "Failed" || phase == "Degraded") return "#c62828";
  if (phase == "Inconclusive" || phase == "Paused") return "#e08600";
  if (phase == "Error") return "#6a1b9a";
  if (phase == "Progressing") return "#1565c0";
  return "#607d8b";
}

const char* MarkColour(const Mark& m) {
  if (m.kind == "analysis") {
    // "step 2: Failed metric ...": the analysis's verdict is the word after the label.
    for (const char* phase : {"Failed", "Error", "Inconclusive", "Successful"}) {
      if (m.message.find(std::string(": ") + phase) != std::string::npos) return PhaseColour(phase);
    }
    return "#607d8b";
  }
  if (m.kind == "pause") return "#e08600";
  if (m.kind == "promote") return "#1565c0";
  if (m.kind == "abort") return "#c62828";
  if (m.kind == "release") return "#2e7d32";
  return "#607d8b";
}

namespace {

// The plot area inside each <svg>, in its user units.
constexpr double kWidth = 760, kHeight = 250;
constexpr double kLeft = 64, kRight = 700, kTop = 12, kBottom = 206;

std::string N(double v) { return fmt::format("{:.1f}", v); }

// 1, 2 or 5 times a power of ten, at least `raw`.
double NiceStep(double raw) {
  if (!(raw > 0) || !std::isfinite(raw)) return 1;
  const double mag = std::pow(10, std::floor(std::log10(raw)));
  const double f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

// One chart: a time axis over the report's span and a value axis over [lo, hi], with the
// weight's axis (0-100 %) on the right. Parts are appended in drawing order.
class Chart {
 public:
  Chart(const ReportData& d, double lo, double hi) : d_(d), lo_(lo), hi_(hi) {}

  double X(double t) const { return kLeft + t / d_.span * (kRight - kLeft); }
  double Y(double v) const { return kBottom - (v - lo_) / (hi_ - lo_) * (kBottom - kTop); }
  double W(double pct) const { return kBottom - pct / 100 * (kBottom - kTop); }

  void Axes(double y_step, const std::string& y_label) {
    for (double v = lo_; v <= hi_ + y_step / 2; v += y_step) {
      body_ += fmt::format("<line x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\" stroke=\"#eee\"/>"
                           "<text x=\"{3}\" y=\"{4}\" text-anchor=\"end\">{5}</text>\n",
                           N(kLeft), N(kRight), N(Y(v)), N(kLeft - 6), N(Y(v) + 4),
                           HtmlEscape(fmt::format("{:.6g}", std::abs(v) < y_step / 1e6 ? 0 : v)));
    }
    const double raw = d_.span / 7;
    const double t_step = raw >= 60 ? NiceStep(raw / 60) * 60 : NiceStep(raw);
    for (double t = 0; t <= d_.span + t_step / 1e6; t += t_step) {
      body_ += fmt::format("<line x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#999\"/>"
                           "<text x=\"{0}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
                           N(X(t)), N(kBottom), N(kBottom + 5), N(kBottom + 18),
                           HtmlEscape(TimeLabel(t)));
    }
    body_ += fmt::format(
        "<path d=\"M{0} {1}V{2}H{3}\" fill=\"none\" stroke=\"#555\"/>\n"
        "<text x=\"{4}\" y=\"{5}\" text-anchor=\"middle\" fill=\"#555\">time since the rollout "
        "started</text>\n<text x=\"14\" y=\"{6}\" text-anchor=\"middle\" fill=\"#555\" "
        "transform=\"rotate(-90 14 {6})\">{7}</text>\n",
        N(kLeft), N(kTop), N(kBottom), N(kRight), N((kLeft + kRight) / 2), N(kBottom + 34),
        N((kTop + kBottom) / 2), HtmlEscape(y_label));
  }

  void WeightAxis() {
    for (int pct : {0, 50, 100}) {
      body_ += fmt::format("<text x=\"{}\" y=\"{}\" fill=\"#90a4ae\">{} %</text>\n", N(kRight + 6),
                           N(W(pct) + 4), pct);
    }
  }

  // The canary's weight as a step line from 0 at the start through each timeline entry.
  void WeightLine(const char* colour, double width) {
    if (d_.timeline.empty()) return;
    std::string path = fmt::format("M{} {}", N(X(0)), N(W(0)));
    int64_t weight = 0;
    for (const Mark& m : d_.timeline) {
      if (m.weight == weight) continue;
      weight = m.weight;
      path += fmt::format("H{}V{}", N(X(m.t)), N(W(weight)));
    }
    path += fmt::format("H{}", N(X(d_.span)));
    body_ += fmt::format("<path class=\"weight\" d=\"{}\" fill=\"none\" stroke=\"{}\" "
                         "stroke-width=\"{}\"/>\n", path, colour, width);
  }

  // A dot on the weight line at each weight step, with its message as a tooltip.
  void WeightSteps() {
    for (const Mark& m : d_.timeline) {
      if (m.kind != "weight") continue;
      body_ += fmt::format("<g><title>#{} {}: {}</title><circle cx=\"{}\" cy=\"{}\" r=\"3.5\" "
                           "fill=\"#1565c0\"/></g>\n", m.index, HtmlEscape(TimeLabel(m.t)),
                           HtmlEscape(m.message), N(X(m.t)), N(W(m.weight)));
    }
  }

  // Every decision (everything but a weight step) as a labelled vertical line.
  void Decisions() {
    for (const Mark& m : d_.timeline) {
      if (m.kind == "weight") continue;
      const double x = X(m.t);
      body_ += fmt::format(
          "<g class=\"decision\"><title>#{0} {1} at {2}: {3}</title>"
          "<line x1=\"{4}\" x2=\"{4}\" y1=\"{5}\" y2=\"{6}\" stroke=\"{7}\" stroke-width=\"1.5\" "
          "stroke-dasharray=\"2 2\"/><text x=\"{8}\" y=\"{9}\" fill=\"{7}\" text-anchor=\"end\" "
          "transform=\"rotate(-90 {8} {9})\">#{0} {1}</text></g>\n",
          m.index, HtmlEscape(m.kind), HtmlEscape(TimeLabel(m.t)), HtmlEscape(m.message), N(x),
          N(kTop), N(kBottom), MarkColour(m), N(x - 3), N(kTop + 4));
    }
  }

  void Threshold(double v, const char* colour, const std::string& label) {
    // Above the line, or below it when it runs along the top of the plot.
    const double label_y = Y(v) - 4 < kTop + 10 ? Y(v) + 13 : Y(v) - 4;
    body_ += fmt::format(
        "<g class=\"threshold\"><line x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\" stroke=\"{3}\" "
        "stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/><text x=\"{4}\" y=\"{5}\" fill=\"{3}\" "
        "text-anchor=\"end\">{6}</text></g>\n",
        N(kLeft), N(kRight), N(Y(v)), colour, N(kRight - 4), N(label_y), HtmlEscape(label));
  }

  // The values joined in the order taken, then each measurement: a dot coloured by its phase
  // (hollow in a dry run), or a cross on the time axis when it has no number (an Error).
  void Points(const Series& s) {
    std::string line;
    for (const Point& p : s.points) {
      if (p.y) line += fmt::format("{}{} {}", line.empty() ? "M" : "L", N(X(p.t)), N(Y(*p.y)));
    }
    if (!line.empty()) {
      body_ += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"#bbb\"/>\n", line);
    }
    for (const Point& p : s.points) {
      const char* colour = PhaseColour(p.phase);
      std::string shape;
      if (p.y) {
        shape = fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"4.5\" fill=\"{}\" stroke=\"{}\" "
                            "stroke-width=\"1.5\"/>", N(X(p.t)), N(Y(*p.y)),
                            p.dry_run ? "#fff" : colour, colour);
      } else {
        const double x = X(p.t), y = kBottom;
        shape = fmt::format("<path class=\"novalue\" d=\"M{} {}l10 10m0 -10l-10 10\" stroke=\"{}\" "
                            "stroke-width=\"2.5\"/>", N(x - 5), N(y - 5), colour);
      }
      body_ += fmt::format("<g class=\"point\"><title>#{} {} at {}: {} {}{}{}</title>{}</g>\n",
                           p.seq, HtmlEscape(p.analysis), HtmlEscape(TimeLabel(p.t)),
                           HtmlEscape(p.phase), HtmlEscape(p.value),
                           p.message.empty() ? "" : " - ", HtmlEscape(p.message), shape);
    }
  }

  std::string Svg(const std::string& label) const {
    return fmt::format("<svg viewBox=\"0 0 {0} {1}\" width=\"{0}\" height=\"{1}\" role=\"img\" "
                       "aria-label=\"{2}\">\n{3}</svg>\n",
                       kWidth, kHeight, HtmlEscape(label), body_);
  }

 private:
  const ReportData& d_;
  double lo_, hi_;
  std::string body_;
};

const char* kDecisionsLegend =
    "<div class=\"muted\">Vertical lines: the timeline's decisions (analyses, pauses, promotes, "
    "aborts, the release), numbered as in the timeline below; hover for the message.</div>\n";

// Counts of a series' measurements by phase, each with its colour.
std::string PhaseLegend(const Series& s) {
  std::string out = "<div>";
  for (const char* phase : {"Successful", "Failed", "Inconclusive", "Error"}) {
    const auto n = std::count_if(s.points.begin(), s.points.end(),
                                 [&](const Point& p) { return p.phase == phase; });
    out += fmt::format("<span class=\"sw\" style=\"background:{}\"></span>{} {}",
                       PhaseColour(phase), phase, n);
  }
  return out + " <span class=\"muted\">(an Error has no value: a cross on the time axis)</span>"
               "</div>\n";
}

struct Line {
  double value;
  const char* colour;
  std::string label;
};

}  // namespace

std::string WeightChart(const ReportData& d) {
  Chart c(d, 0, 100);
  c.Axes(25, "canary weight (%)");
  c.WeightLine("#1565c0", 2.5);
  c.WeightSteps();
  c.Decisions();
  std::string out = c.Svg("the canary's weight over time");
  out += "<div class=\"legend\">";
  out += d.timeline.empty()
             ? "<div class=\"muted\">This rollout recorded no timeline.</div>\n"
             : "<div><span class=\"sw\" style=\"background:#1565c0\"></span>The candidate's "
               "share of requests, step by step (dots: each weight the router took).</div>\n";
  return out + kDecisionsLegend + "</div>\n";
}

std::string MetricChart(const ReportData& d, const Series& s, const MetricConditions* conditions) {
  std::vector<Line> lines;
  std::string legend;
  if (!conditions) {
    legend += "<div class=\"muted\">Its AnalysisTemplate is no longer in STATE/environments: "
              "the conditions are not shown.</div>\n";
  } else {
    for (auto [name, text, colour] :
         {std::tuple{"success", &conditions->success, "#2e7d32"},
          std::tuple{"failure", &conditions->failure, "#c62828"}}) {
      if (text->empty()) continue;
      auto t = ThresholdOf(*text);
      if (t) lines.push_back(Line{t->value, colour, fmt::format("{}: {}", name, *text)});
      legend += fmt::format("<div><span class=\"sw\" style=\"background:{}\"></span>{}Condition "
                            "<code>{}</code>{}</div>\n", colour, name, HtmlEscape(*text),
                            t ? fmt::format(": the dashed line at {:g}", t->value)
                              : std::string(" (not a comparison of the result with a number: "
                                            "no line)"));
    }
    if (conditions->success.empty() && conditions->failure.empty()) {
      legend += "<div class=\"muted\">No conditions: every result is Successful.</div>\n";
    }
  }
  // The value axis covers every value, every threshold and zero.
  double lo = 0, hi = 0;
  for (const Point& p : s.points) {
    if (p.y) lo = std::min(lo, *p.y), hi = std::max(hi, *p.y);
  }
  for (const Line& l : lines) lo = std::min(lo, l.value), hi = std::max(hi, l.value);
  if (hi - lo <= 0) hi = lo + 1;
  const double step = NiceStep((hi - lo) / 4);
  lo = std::floor(lo / step) * step;
  hi = std::ceil(hi / step) * step;
  if (hi - lo <= 0) hi = lo + step;

  Chart c(d, lo, hi);
  c.Axes(step, "value");
  c.WeightAxis();
  c.WeightLine("#cfd8dc", 2);
  c.Decisions();
  for (const Line& l : lines) c.Threshold(l.value, l.colour, l.label);
  c.Points(s);
  std::string out = fmt::format("<h3>{}</h3>\n", HtmlEscape(s.key));
  out += c.Svg(s.key + " over time");
  out += "<div class=\"legend\">" + PhaseLegend(s) + legend;
  out += "<div class=\"muted\">Grey step line: the canary's weight (right axis).</div>\n";
  return out + kDecisionsLegend + "</div>\n";
}

}  // namespace sluice
