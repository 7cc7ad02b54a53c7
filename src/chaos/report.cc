// The resilience report's two renderings (report.h): the HTML page and the Markdown summary,
// both from the model and figures of report_model.h.
#include "chaos/report.h"

#include <fmt/format.h>

#include "chaos/report_chart.h"
#include "chaos/report_model.h"
#include "common/strings.h"

namespace sluice {
namespace {

using resilience::Experiment;
using resilience::Finding;
using resilience::Rate;

constexpr const char* kPhases[] = {"before", "during", "after"};

Result<std::vector<Experiment>> ReadAll(const std::vector<Value>& journals,
                                        const ReportOptions& options) {
  std::vector<Experiment> out;
  for (size_t i = 0; i < journals.size(); ++i) {
    std::string source =
        i < options.sources.size() ? options.sources[i] : fmt::format("journal {}", i + 1);
    SLUICE_TRY(e, resilience::ReadJournal(journals[i], source));
    out.push_back(std::move(*e));
  }
  return out;
}

std::string Percent(std::optional<double> v) { return v ? fmt::format("{:.1f}", *v) : "no data"; }

std::string RateText(const Rate& r) {
  if (!r.HasData()) return "no data";
  return fmt::format("{:.1f} % ({} of {} runs)", 100 * r.Value(), r.succeeded, r.total);
}

// "met" / "deviated" per check of the phase, "not checked" when the journal has none.
std::string Verdicts(const Experiment& e, std::string_view phase) {
  std::vector<std::string> v;
  for (const resilience::Check& c : e.checks)
    if (c.phase == phase) v.push_back(c.met ? "met" : "deviated");
  return v.empty() ? "not checked" : Join(v, ", ");
}

std::string OverallVerdict(const Experiment& e) {
  if (e.checks.empty()) return "no hypothesis checked";
  return e.deviated ? "deviated" : "met";
}

// An experiment of weight 0 is shown but not counted in the score.
std::string WeightText(const Experiment& e) {
  return e.weight > 0 ? fmt::format("{}", e.weight) : "0 (not counted)";
}

std::string Window(const resilience::FaultRecord& f) {
  return fmt::format("{} to {}", f.start ? resilience::FormatClock(*f.start) : "?",
                     f.end ? resilience::FormatClock(*f.end) : "no end");
}

std::string MttrText(const resilience::Recovery& r) {
  if (!r.fault->end) return "no data (the fault has no end)";
  return r.mttr ? resilience::FormatSpan(*r.mttr) : "not recovered";
}

// --- HTML ---

constexpr const char* kCss = R"(
body{font-family:"DejaVu Sans","Liberation Sans",sans-serif;margin:24px auto;max-width:1000px;color:#1d2330;background:#fff}
h1{font-size:26px}
h2{font-size:21px;border-top:2px solid #d6dae3;padding-top:14px;margin-top:34px}
h3{font-size:16px;margin-bottom:6px}
table{border-collapse:collapse;margin:6px 0 12px}
td,th{border:1px solid #ccd2dd;padding:3px 8px;text-align:left;vertical-align:top;font-size:13px}
th{background:#eef1f6}
.score{font-size:20px}
.score strong{font-size:30px;color:#1f5fbf}
.met{color:#17803d;font-weight:bold}
.deviated{color:#b3261e;font-weight:bold}
.nodata{color:#6b7280;font-style:italic}
.finding{border-left:5px solid #17803d;padding:4px 10px;margin:8px 0;background:#f3faf5}
.finding.failed{border-color:#b3261e;background:#fdf3f2}
.finding ul{margin:4px 0;font-size:13px}
.mitigation{font-size:14px;margin:4px 0}
code{font-size:12px;word-break:break-all}
svg.timeline{max-width:100%;height:auto;border:1px solid #ccd2dd;background:#fff}
.lane0{fill:#f7f8fb}
.lane1{fill:#fff}
.label,.tick,.phase-name,.fault-name{font-size:11px;fill:#333}
.tick{text-anchor:middle}
.phase-name{text-anchor:middle;font-weight:bold}
.phase{stroke:#555;stroke-dasharray:4 3}
.axis{stroke:#555}
.fault{fill:#e4572e;fill-opacity:.16;stroke:#e4572e;stroke-opacity:.5}
.fault-name{fill:#a23a1c}
.run.ok{fill:#7cc48f}
.run.bad{fill:#e0766c}
.run.other{fill:#b8bec9}
circle.ok{fill:#17803d}
.bad-mark{stroke:#b3261e;stroke-width:2}
.retry{fill:#e69b00}
.breaker.open{fill:#b3261e}
.breaker.half{fill:#e69b00}
.breaker.closed{fill:#17803d}
.comp{fill:#7b3fb5}
)";

std::string H(std::string_view s) { return EscapeHtml(s); }

std::string Cell(std::string_view s) {
  return s.empty() ? R"(<td class="nodata">none</td>)" : "<td>" + H(s) + "</td>";
}

std::string VerdictSpan(std::string_view v) {
  const char* cls = v == "met"                                           ? "met"
                    : v == "not checked" || v == "no hypothesis checked" ? "nodata"
                                                                         : "deviated";
  return fmt::format(R"(<span class="{}">{}</span>)", cls, H(v));
}

std::string NoData(std::string_view what) {
  return fmt::format(R"(<p class="nodata">{}: no data</p>)", what);
}

void HtmlSummary(const std::vector<Experiment>& es, std::string* out) {
  *out += fmt::format(R"(<p class="score">Resilience score: <strong>{}</strong> / 100</p>)",
                      Percent(resilience::ResilienceScore(es)));
  *out +=
      "<table><tr><th>experiment</th><th>journal</th><th>status</th><th>hypothesis</th><th>weight</"
      "th>"
      "<th>probe success %</th><th>before</th><th>during</th><th>after</th></tr>";
  for (const Experiment& e : es) {
    *out += "<tr>" + Cell(e.name) + Cell(e.source) + Cell(e.status.empty() ? "unknown" : e.status) +
            "<td>" + VerdictSpan(OverallVerdict(e)) + "</td>" +
            fmt::format("<td>{}</td>", WeightText(e)) +
            Cell(Percent(resilience::ProbeSuccessPercent(e)));
    for (const char* p : kPhases) *out += Cell(RateText(resilience::PhaseSuccessRate(e, p)));
    *out += "</tr>";
  }
  *out += "</table>";
}

void HtmlHypothesis(const Experiment& e, std::string* out) {
  *out += "<h3>Hypothesis</h3>";
  *out += e.hypothesis_title.empty() ? NoData("title") : "<p>" + H(e.hypothesis_title) + "</p>";
  *out +=
      "<table><tr><th>phase</th><th>verdict</th><th>success rate of the target's runs</th></tr>";
  for (const char* p : kPhases) {
    *out += fmt::format("<tr><td>{}</td><td>{}</td>{}</tr>", p, VerdictSpan(Verdicts(e, p)),
                        Cell(RateText(resilience::PhaseSuccessRate(e, p))));
  }
  *out += "</table>";
}

void HtmlRecoveries(const Experiment& e, std::string* out) {
  *out += "<h3>Time to recover</h3>";
  if (e.faults.empty()) return void(*out += NoData("faults"));
  *out +=
      "<table><tr><th>fault</th><th>kind</th><th>window (UTC)</th><th>rolled back</th><th>MTTR</th>"
      "<th>recovered by run</th></tr>";
  for (const resilience::Recovery& r : resilience::Recoveries(e)) {
    *out += "<tr>" + Cell(r.fault->name) + Cell(r.fault->kind) + Cell(Window(*r.fault)) +
            Cell(r.fault->rolled_back ? "yes" : "no") + Cell(MttrText(r)) +
            Cell(r.run ? r.run->id : "") + "</tr>";
  }
  *out += "</table>";
}

void HtmlFindings(const Experiment& e, std::string* out) {
  *out += "<h3>What held and what did not</h3>";
  std::vector<Finding> findings = resilience::Findings(e);
  if (findings.empty()) return void(*out += NoData("findings"));
  for (const Finding& f : findings) {
    *out += fmt::format(
        R"(<div class="finding{}"><p><span class="{}">{}</span>: {}<br><small>{}</small></p>)",
        f.held ? "" : " failed", f.held ? "met" : "deviated", f.held ? "held" : "did not hold",
        H(f.title), H(f.detail));
    if (!f.evidence.empty()) {
      *out += "<ul>";
      for (const resilience::Evidence& ev : f.evidence)
        *out += ev.run.empty()
                    ? "<li>" + H(ev.text) + "</li>"
                    : fmt::format("<li>run <code>{}</code>: {}</li>", H(ev.run), H(ev.text));
      *out += "</ul>";
    }
    if (!f.mitigation.empty())
      *out += "<p class=\"mitigation\">Mitigation: " + H(f.mitigation) + "</p>";
    *out += "</div>";
  }
}

void HtmlGovernance(const Experiment& e, std::string* out) {
  *out += "<h3>Governance</h3><h4>Decisions (policies and gates)</h4>";
  if (e.decisions.empty()) {
    *out += NoData("decisions");
  } else {
    *out +=
        "<table><tr><th>run</th><th>stage</th><th>task</th><th>policy</th><th>rule</th><th>result</"
        "th>"
        "<th>message</th><th>waiver used</th></tr>";
    for (const resilience::Decision& d : e.decisions) {
      *out += "<tr>" + Cell(d.run) + Cell(d.stage) + Cell(d.task) + Cell(d.policy) + Cell(d.rule) +
              Cell(d.result) + Cell(d.message) + Cell(d.waiver) + "</tr>";
    }
    *out += "</table>";
  }
  *out += "<h4>Approvals</h4>";
  if (e.approvals.empty()) {
    *out += NoData("approvals");
  } else {
    *out +=
        "<table><tr><th>run</th><th>task</th><th>who</th><th>vote</th><th>when "
        "(UTC)</th><th>comment</th></tr>";
    for (const resilience::Approval& a : e.approvals) {
      *out += "<tr>" + Cell(a.run) + Cell(a.task) + Cell(a.user) +
              Cell(a.approve ? "approve" : "reject") + Cell(a.time) + Cell(a.comment) + "</tr>";
    }
    *out += "</table>";
  }
  *out += "<h4>Audit chain</h4>";
  if (!e.audit.present) return void(*out += NoData("audit chain"));
  *out += fmt::format("<p>{} over {} records; head <code>{}</code>{}</p>",
                      e.audit.verified ? R"(<span class="met">verified</span>)"
                                       : R"(<span class="deviated">NOT verified</span>)",
                      e.audit.records, e.audit.head.empty() ? "none" : H(e.audit.head),
                      e.audit.message.empty() ? "" : "<br>" + H(e.audit.message));
}

void HtmlExperiment(const Experiment& e, std::string* out) {
  *out += "<section><h2>" + H(e.name) + "</h2>";
  if (!e.title.empty()) *out += "<p><strong>" + H(e.title) + "</strong></p>";
  if (!e.description.empty()) *out += "<p>" + H(e.description) + "</p>";
  *out += fmt::format("<p>journal <code>{}</code>; status {}; weight {}; probe success {} %</p>",
                      H(e.source), e.status.empty() ? "unknown" : H(e.status), e.weight,
                      Percent(resilience::ProbeSuccessPercent(e)));
  HtmlHypothesis(e, out);
  *out += "<h3>Timeline</h3>";
  std::string svg = resilience::TimelineSvg(e);
  *out += svg.empty() ? NoData("timeline") : svg;
  HtmlRecoveries(e, out);
  HtmlFindings(e, out);
  HtmlGovernance(e, out);
  *out += "</section>";
}

// --- Markdown ---

// Journal text made inert in Markdown: HTML's specials as entities, the punctuation that can
// start emphasis, code, links or (leading) a heading backslash-escaped, line breaks and table pipes
// flattened so a value stays in its cell.
std::string Md(std::string_view raw) {
  std::string s = ReplaceNonText(raw), out;
  if (StartsWith(s, "#")) out += '\\';  // only a leading '#' could make a heading
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '\n':
      case '\r':
      case '\t':
        out += ' ';
        break;
      case '\\':
      case '`':
      case '*':
      case '_':
      case '[':
      case ']':
      case '|':
      case '!':
      case '~':
        out += '\\';
        out += c;
        break;
      default:
        out += c;
    }
  }
  return out;
}

void MdExperiment(const Experiment& e, std::string* out) {
  *out += fmt::format("\n## {}\n\n", Md(e.name));
  if (!e.title.empty()) *out += Md(e.title) + "\n\n";
  *out += fmt::format("Journal {}; status {}; weight {}; probe success {} %.\n\n", Md(e.source),
                      e.status.empty() ? "unknown" : Md(e.status), e.weight,
                      Percent(resilience::ProbeSuccessPercent(e)));
  *out += fmt::format("Hypothesis: {}\n\n| phase | verdict | success rate |\n| --- | --- | --- |\n",
                      e.hypothesis_title.empty() ? "no data" : Md(e.hypothesis_title));
  for (const char* p : kPhases)
    *out += fmt::format("| {} | {} | {} |\n", p, Verdicts(e, p),
                        RateText(resilience::PhaseSuccessRate(e, p)));
  *out += "\n### Time to recover\n\n";
  if (e.faults.empty()) *out += "Faults: no data\n";
  for (const resilience::Recovery& r : resilience::Recoveries(e)) {
    *out += fmt::format("- {} ({}, {}, {}): {}{}\n", Md(r.fault->name), Md(r.fault->kind),
                        Window(*r.fault), r.fault->rolled_back ? "rolled back" : "NOT rolled back",
                        MttrText(r), r.run ? " (run " + Md(r.run->id) + ")" : "");
  }
  *out += "\n### What held and what did not\n\n";
  std::vector<Finding> findings = resilience::Findings(e);
  if (findings.empty()) *out += "Findings: no data\n";
  for (const Finding& f : findings) {
    *out += fmt::format("- **{}**: {}; {}\n", f.held ? "held" : "did not hold", Md(f.title),
                        Md(f.detail));
    for (const resilience::Evidence& ev : f.evidence)
      *out += ev.run.empty() ? "  - " + Md(ev.text) + "\n"
                             : fmt::format("  - run {}: {}\n", Md(ev.run), Md(ev.text));
    if (!f.mitigation.empty()) *out += "  - Mitigation: " + Md(f.mitigation) + "\n";
  }
  *out += "\n### Governance\n\n";
  *out += fmt::format("- Decisions: {}\n",
                      e.decisions.empty() ? "no data" : std::to_string(e.decisions.size()));
  for (const resilience::Decision& d : e.decisions) {
    std::vector<std::string> where = {"run " + Md(d.run), Md(d.stage)};
    if (!d.task.empty()) where.push_back("task " + Md(d.task));
    *out += fmt::format("  - {}: policy {} rule {}: {}{}{}\n", Join(where, " "), Md(d.policy),
                        Md(d.rule), Md(d.result), d.message.empty() ? "" : ": " + Md(d.message),
                        d.waiver.empty() ? "" : " (waiver " + Md(d.waiver) + ")");
  }
  *out += fmt::format("- Approvals: {}\n",
                      e.approvals.empty() ? "no data" : std::to_string(e.approvals.size()));
  for (const resilience::Approval& a : e.approvals) {
    *out += fmt::format("  - {} {} run {} task {} at {}{}\n", Md(a.user),
                        a.approve ? "approved" : "rejected", Md(a.run), Md(a.task), Md(a.time),
                        a.comment.empty() ? "" : ": " + Md(a.comment));
  }
  if (!e.audit.present) {
    *out += "- Audit chain: no data\n";
  } else {
    *out += fmt::format("- Audit chain: {} over {} records, head {}{}\n",
                        e.audit.verified ? "verified" : "NOT verified", e.audit.records,
                        e.audit.head.empty() ? "none" : Md(e.audit.head),
                        e.audit.message.empty() ? "" : ": " + Md(e.audit.message));
  }
}

}  // namespace

std::string EscapeHtml(std::string_view raw) {
  std::string s = ReplaceNonText(raw), out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

Result<Value> ParseResilienceJournal(std::string_view text, std::string_view source) {
  Result<Value> v = ParseJson(text);
  if (!v) {
    return Fail(ErrorCode::kInvalidInput, "{}: not a JSON journal: {}", EscapeControl(source),
                EscapeControl(v.error().message));
  }
  SLUICE_TRY_STATUS(resilience::ReadJournal(*v, source));
  return v;
}

Result<std::string> ResilienceHtml(const std::vector<Value>& journals,
                                   const ReportOptions& options) {
  SLUICE_TRY(es, ReadAll(journals, options));
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  // Nothing may load or run, even from a string escaping missed.
  out +=
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src "
      "'unsafe-inline'\">";
  out += "<meta name=\"viewport\" content=\"width=device-width\"><title>" + H(options.title) +
         "</title>";
  out += std::string("<style>") + kCss + "</style></head><body>";
  out += "<h1>" + H(options.title) + "</h1>";
  if (es->empty()) {
    out += NoData("journals");
  } else {
    HtmlSummary(*es, &out);
  }
  for (const Experiment& e : *es) HtmlExperiment(e, &out);
  out +=
      "<p class=\"nodata\">Score: Litmus's weighted formula, Σ weight × probe success % / Σ weight "
      "over "
      "experiments of weight above 0 with probe runs (docs/chaos-report.md).</p></body></html>\n";
  return out;
}

Result<std::string> ResilienceMarkdown(const std::vector<Value>& journals,
                                       const ReportOptions& options) {
  SLUICE_TRY(es, ReadAll(journals, options));
  std::string out = fmt::format("# {}\n\n", Md(options.title));
  out += fmt::format("Resilience score: **{}** / 100 over {} experiments.\n\n",
                     Percent(resilience::ResilienceScore(*es)), es->size());
  if (!es->empty()) {
    out +=
        "| experiment | status | hypothesis | weight | probe success % | before | during | after "
        "|\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- |\n";
  }
  for (const Experiment& e : *es) {
    out += fmt::format("| {} | {} | {} | {} | {} |", Md(e.name),
                       e.status.empty() ? "unknown" : Md(e.status), OverallVerdict(e),
                       WeightText(e), Percent(resilience::ProbeSuccessPercent(e)));
    for (const char* p : kPhases) out += " " + RateText(resilience::PhaseSuccessRate(e, p)) + " |";
    out += "\n";
  }
  for (const Experiment& e : *es) MdExperiment(e, &out);
  return out;
}

}  // namespace sluice
