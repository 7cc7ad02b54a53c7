// The rollout report page (rollout_report.h): the document, the header and tables, and the
// command. The charts are drawn in rollout_report_charts.cc.
#include "cli/rollout_report.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "cli/cli_support.h"
#include "cli/rollout_report_charts.h"
#include "cli/rollout_views.h"
#include "common/strings.h"
#include "spec/analysis_spec.h"
#include "spec/environment_spec.h"
#include "store/store.h"

namespace sluice {


ConditionMap ConditionsFor(const Value& doc, const EnvironmentsSpec& envs) {
  ConditionMap out;
  const Value* ms = doc.Find("measurements");
  if (!ms || !ms->is_list()) return out;
  for (const auto& m : ms->as_list()) {
    const AnalysisTemplate* t = envs.FindTemplate(DocText(m, "template"));
    if (!t) continue;
    for (const auto& metric : t->metrics) {
      if (metric.name != DocText(m, "metric")) continue;
      out[t->name + "/" + metric.name] = MetricConditions{
          metric.success_condition ? metric.success_condition->text() : "",
          metric.failure_condition ? metric.failure_condition->text() : ""};
    }
  }
  return out;
}

namespace {

// `s` without spaces, and without one pair of parentheses around the whole.
std::string Compact(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') out += c;
  }
  if (out.size() > 2 && out.front() == '(' && out.back() == ')' &&
      out.find_first_of("()", 1) == out.size() - 1) {
    out = out.substr(1, out.size() - 2);
  }
  return out;
}

std::optional<double> NumberLiteral(std::string_view s) {
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::string Flipped(std::string_view op) {
  if (op == "<") return ">";
  if (op == ">") return "<";
  if (op == "<=") return ">=";
  if (op == ">=") return "<=";
  return std::string(op);
}

}  // namespace

std::optional<Threshold> ThresholdOf(std::string_view condition) {
  const std::string c = Compact(condition);
  // The first comparison operator; a condition with two is not a simple comparison.
  static constexpr std::string_view kOps[] = {"<=", ">=", "==", "<", ">"};
  size_t at = std::string::npos;
  std::string_view op;
  for (auto o : kOps) {
    size_t i = c.find(o);
    if (i != std::string::npos && (i < at || (i == at && o.size() > op.size()))) {
      at = i;
      op = o;
    }
  }
  if (at == std::string::npos) return std::nullopt;
  const std::string left = c.substr(0, at), right = c.substr(at + op.size());
  auto is_result = [](const std::string& s) { return s == "result" || s == "result[0]"; };
  if (is_result(left)) {
    if (auto v = NumberLiteral(right)) return Threshold{*v, std::string(op)};
  } else if (is_result(right)) {
    if (auto v = NumberLiteral(left)) return Threshold{*v, Flipped(op)};
  }
  return std::nullopt;
}

std::string HtmlEscape(std::string_view s) {
  const std::string text = ReplaceNonText(s);
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        // XML has no place for C0 controls other than tab, newline and carriage return.
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
          out += "\xEF\xBF\xBD";
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

namespace {

constexpr const char* kStyle = R"(
body{font:14px/1.45 system-ui,sans-serif;color:#222;margin:24px auto;max-width:1040px;
padding:0 16px}
h1{font-size:21px;margin-bottom:4px}h2{font-size:17px;margin-top:32px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin:20px 0 4px}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 18px}dt{color:#666}dd{margin:0}
.badge{display:inline-block;padding:0 7px;border-radius:3px;color:#fff;font-weight:600}
.outcome{padding:8px 12px;border-left:5px solid;margin:12px 0;background:#fafafa}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #eee;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f6f6f6}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.msg{word-break:break-word}code{background:#f3f3f3;padding:0 3px;border-radius:2px}
svg{display:block;max-width:100%;height:auto;font:11px system-ui,sans-serif;background:#fff}
.legend{font-size:12px;color:#444;margin:2px 0 8px}.legend div{margin:1px 0}
.sw{display:inline-block;width:10px;height:10px;border-radius:5px;margin:0 4px 0 12px}
.sw:first-child{margin-left:0}.muted{color:#777}
)";

std::string Dd(const char* term, const std::string& html) {
  return fmt::format("<dt>{}</dt><dd>{}</dd>\n", term, html);
}

std::string Badge(const std::string& phase) {
  return fmt::format("<span class=\"badge\" style=\"background:{}\">{}</span>", PhaseColour(phase),
                     HtmlEscape(phase));
}

// The last timeline entry of `kind`'s message, "" when there is none.
std::string LastMessage(const ReportData& d, std::string_view kind) {
  for (auto it = d.timeline.rbegin(); it != d.timeline.rend(); ++it) {
    if (it->kind == kind) return it->message;
  }
  return "";
}

// Promoted, aborted (and why), paused or still going: the line people open the report for.
std::string Outcome(const Value& doc, const ReportData& d) {
  const std::string phase = DocText(doc, "phase"), message = DocText(doc, "message");
  std::string what;
  if (phase == "Healthy") {
    const std::string release = LastMessage(d, "release");
    what = "<b>Promoted.</b> " + HtmlEscape(release.empty() ? message : release + "; " + message);
  } else if (phase == "Degraded") {
    const std::string why = LastMessage(d, "abort");
    what = "<b>Aborted:</b> " + HtmlEscape(why.empty() ? message : why);
  } else if (phase == "Paused") {
    what = "<b>Paused:</b> " + HtmlEscape(message);
  } else {
    what = "<b>In progress</b> (" + HtmlEscape(phase) + "): " + HtmlEscape(message);
  }
  return fmt::format("<div class=\"outcome\" style=\"border-color:{}\">{}</div>\n",
                     PhaseColour(phase), what);
}

std::string Header(const Value& doc, const ReportData& d) {
  const Value* st = doc.Find("state");
  const Value state = st ? *st : Value();
  auto s = [&](const char* k) { return HtmlEscape(DocText(state, k)); };
  auto model = [&](const char* version, const char* slot, const char* digest) {
    if (DocText(state, version).empty() && DocText(state, slot).empty()) return std::string("none");
    std::string out = fmt::format("<b>{}</b> in slot <code>{}</code>", s(version), s(slot));
    const std::string dg = DocText(state, digest);
    if (!dg.empty()) out += fmt::format(" <span class=\"muted\">sha256:{}</span>",
                                        HtmlEscape(dg.substr(0, 12)));
    return out;
  };
  std::string out = fmt::format("<h1>Rollout of {} in run {}</h1>\n",
                                HtmlEscape(DocText(doc, "task")), HtmlEscape(DocText(doc, "run")));
  out += Outcome(doc, d);
  out += "<dl class=\"meta\">\n";
  out += Dd("Environment", HtmlEscape(DocText(doc, "environment")));
  out += Dd("Phase", Badge(DocText(doc, "phase")) + " " + HtmlEscape(DocText(doc, "message")));
  out += Dd("Candidate", model("version", "canarySlot", "digest") +
                             fmt::format(", {} % of requests", DocInt(state, "weight")));
  out += Dd("Stable", model("stableVersion", "stableSlot", "stableDigest"));
  out += Dd("Started", HtmlEscape(DocText(doc, "started")));
  out += Dd("Updated", HtmlEscape(DocText(doc, "updated")) +
                           fmt::format(" <span class=\"muted\">({} after the start)</span>",
                                       HtmlEscape(TimeLabel(d.span))));
  if (!DocText(doc, "lastCommand").empty()) {
    out += Dd("Last command", HtmlEscape(DocText(doc, "lastCommand")) + " by " +
                                  HtmlEscape(DocText(doc, "lastCommandBy")));
  }
  out += Dd("Measurements", fmt::format("{} of {} metric(s); {} timeline entries",
                                        d.points.size(), d.series.size(), d.timeline.size()));
  return out + "</dl>\n";
}

std::string MeasurementTable(const ReportData& d) {
  std::string out = "<table>\n<tr><th>#</th><th>time</th><th>analysis</th><th>metric</th>"
                    "<th>phase</th><th>value</th><th>message</th></tr>\n";
  for (const Point& p : d.points) {
    out += fmt::format(
        "<tr><td class=\"num\">{}</td><td class=\"num\" title=\"{}\">{}</td><td>{}</td>"
        "<td>{}</td><td>{}{}</td><td><code>{}</code></td><td class=\"msg\">{}</td></tr>\n",
        p.seq, HtmlEscape(p.when), HtmlEscape(TimeLabel(p.t)), HtmlEscape(p.analysis),
        HtmlEscape(p.key), Badge(p.phase), p.dry_run ? " <span class=\"muted\">dry run</span>" : "",
        HtmlEscape(p.value), HtmlEscape(p.message));
  }
  if (d.points.empty()) out += "<tr><td colspan=\"7\" class=\"muted\">no measurements</td></tr>\n";
  return out + "</table>\n";
}

std::string TimelineTable(const ReportData& d) {
  std::string out = "<table>\n<tr><th>#</th><th>time</th><th>kind</th><th>weight</th>"
                    "<th>message</th></tr>\n";
  for (const auto& m : d.timeline) {
    out += fmt::format(
        "<tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td><span class=\"badge\" "
        "style=\"background:{}\">{}</span></td><td class=\"num\">{} %</td><td class=\"msg\">{}"
        "</td></tr>\n",
        m.index, HtmlEscape(TimeLabel(m.t)), MarkColour(m), HtmlEscape(m.kind), m.weight,
        HtmlEscape(m.message));
  }
  if (d.timeline.empty()) out += "<tr><td colspan=\"5\" class=\"muted\">no timeline</td></tr>\n";
  return out + "</table>\n";
}

}  // namespace

std::string RolloutReportHtml(const Value& doc, const ConditionMap& conditions) {
  const ReportData d = ReadReportData(doc);
  const std::string title = fmt::format("Rollout {} {}", DocText(doc, "run"), DocText(doc, "task"));
  std::string out = fmt::format("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>"
                                "<title>{}</title>\n<style>{}</style></head>\n<body>\n",
                                HtmlEscape(title), kStyle);
  out += Header(doc, d);
  out += "<h2>Traffic</h2>\n" + WeightChart(d);
  out += "<h2>Metrics</h2>\n";
  if (d.series.empty()) out += "<p class=\"muted\">No analysis measured anything.</p>\n";
  for (const auto& s : d.series) {
    auto c = conditions.find(s.key);
    out += MetricChart(d, s, c == conditions.end() ? nullptr : &c->second);
  }
  out += "<h2>Measurements</h2>\n" + MeasurementTable(d);
  out += "<h2>Timeline</h2>\n" + TimelineTable(d);
  return out + "</body></html>\n";
}

namespace {

// A task name as part of a file name: `/` and the like become `_`.
std::string FileWord(const std::string& s) {
  std::string out;
  for (char c : s) {
    const bool plain = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    out += plain || c == '.' ? c : '_';
  }
  return out;
}

}  // namespace

int CmdRolloutReport(Env& env, const GlobalOptions& g, const std::string& run_ref,
                     const std::string& task, const std::string& out) {
  auto store = OpenStore(env, g, false);
  if (!store) return Report(store.error());
  auto run = (*store)->GetRun(run_ref);
  if (!run) return Report(run.error());
  auto found = RolloutDocument(**store, run->id, task);
  if (!found) return Report(found.error());
  const Value& doc = *found;
  // The thresholds come from the templates as STATE/environments holds them now; without them
  // the page is still worth having.
  ConditionMap conditions;
  if (auto envs = LoadEnvironments(env.files(), g.state_dir)) {
    conditions = ConditionsFor(doc, **envs);
  } else {
    std::fprintf(stderr, "sluice: the report shows no thresholds: %s\n",
                 envs.error().message.c_str());
  }
  const std::string path =
      out.empty() ? fmt::format("rollout-{}-{}.html", FileWord(run->id), FileWord(task)) : out;
  if (auto s = env.files().WriteFile(path, RolloutReportHtml(doc, conditions)); !s) {
    return Report(s.error());
  }
  std::printf("%s\n", path.c_str());
  return 0;
}

}  // namespace sluice
