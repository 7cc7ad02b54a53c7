// The figures of the resilience report (docs/chaos-report.md gives each formula): pure
// functions of the model read by report_model.cc.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <tuple>

#include "chaos/report_model.h"
#include "common/outcome.h"
#include "common/strings.h"

namespace sluice::resilience {
namespace {

// The tasks of a run whose last attempt did not succeed.
std::vector<const TaskRecord*> FailingTasks(const RunRecord& run) {
  std::vector<const TaskRecord*> out;
  for (const TaskRecord& t : run.tasks)
    if (!t.attempts.empty() && !t.attempts.back().Succeeded()) out.push_back(&t);
  return out;
}

std::string AttemptText(const Attempt& a) {
  std::string s = fmt::format("#{} {}", a.number, a.status.empty() ? "never ended" : a.status);
  if (std::string label = FailureLabel(a); !label.empty()) s += " " + label;
  return s;
}

// One run as evidence: its status, and the attempts of the tasks that matter (the ones matching
// `glob`, or else those with an attempt that did not succeed).
Evidence RunEvidence(const RunRecord& run, std::string_view glob) {
  std::vector<std::string> parts;
  for (const TaskRecord& t : run.tasks) {
    bool any_failed = std::any_of(t.attempts.begin(), t.attempts.end(),
                                  [](const Attempt& a) { return !a.Succeeded(); });
    if (glob.empty() ? !any_failed : !GlobMatch(glob, t.name)) continue;
    std::vector<std::string> attempts;
    for (const Attempt& a : t.attempts) attempts.push_back(AttemptText(a));
    parts.push_back(
        fmt::format("{}: {}", t.name, attempts.empty() ? "no attempt" : Join(attempts, ", ")));
  }
  std::string text = run.status.empty() ? "no status" : run.status;
  if (run.retries)
    text += fmt::format(", {} {}", run.retries, run.retries == 1 ? "retry" : "retries");
  if (run.compensations)
    text +=
        fmt::format(", {} compensation{}", run.compensations, run.compensations == 1 ? "" : "s");
  if (run.resumed)
    text += fmt::format(", resumed {} time{}", run.resumed, run.resumed == 1 ? "" : "s");
  if (!parts.empty())
    text += "; " + Join(parts, "; ");
  else if (!run.tasks.empty())
    text += fmt::format("; all {} tasks succeeded", run.tasks.size());
  return {run.id, text};
}

// At most this many runs are named under a finding; the rest are counted.
constexpr size_t kMaxEvidence = 8;

std::vector<Evidence> EvidenceOf(const std::vector<const RunRecord*>& runs, std::string_view glob) {
  std::vector<const RunRecord*> sorted = runs;
  std::stable_partition(sorted.begin(), sorted.end(),
                        [](const RunRecord* r) { return !r->Succeeded(); });
  std::vector<Evidence> out;
  for (size_t i = 0; i < sorted.size() && i < kMaxEvidence; ++i)
    out.push_back(RunEvidence(*sorted[i], glob));
  if (sorted.size() > kMaxEvidence)
    out.push_back({"", fmt::format("and {} more runs", sorted.size() - kMaxEvidence)});
  return out;
}

std::vector<const RunRecord*> RunsOfPhase(const Experiment& e, std::string_view phase) {
  std::vector<const RunRecord*> out;
  for (const RunRecord& r : e.runs)
    if (r.phase == phase) out.push_back(&r);
  return out;
}

Finding ProbeFinding(const Experiment& e, const ProbeRun& p) {
  Finding f;
  f.title = fmt::format("{} \"{}\" ({})", p.hypothesis ? "hypothesis probe" : "method probe",
                        p.name, p.phase);
  f.held = p.Succeeded();
  std::vector<std::string> detail;
  detail.push_back(p.output_json.empty() ? "no value" : "value " + p.output_json);
  if (!p.tolerance.empty()) detail.push_back("tolerance " + p.tolerance);
  if (p.tolerance_met)
    detail.push_back(*p.tolerance_met ? "within tolerance" : "outside tolerance");
  if (!p.exceptions.empty()) detail.push_back("error: " + Join(p.exceptions, " "));
  f.detail = Join(detail, "; ");
  std::vector<const RunRecord*> runs = RunsOfPhase(e, p.phase);
  f.evidence = EvidenceOf(runs, p.task_glob);
  if (!f.held) {
    f.mitigation = MitigationNote(runs);
    if (f.mitigation.empty())
      f.mitigation =
          runs.empty()
              ? "no run in this phase to learn from: the probe had no data"
              : "no run of this phase failed: the cause is in the probe's value, not in failures";
  }
  return f;
}

Finding RecoveryFinding(const Experiment& e, const Recovery& rec) {
  Finding f;
  f.title = fmt::format("recovery after fault \"{}\"", rec.fault->name);
  f.held = rec.mttr.has_value();
  std::vector<const RunRecord*> after;
  if (rec.fault->end) {
    for (const RunRecord& r : e.runs)
      if (r.start && *r.start >= *rec.fault->end) after.push_back(&r);
  }
  if (!rec.fault->end) {
    f.detail = "the fault has no end in the journal";
  } else if (rec.mttr) {
    f.detail = fmt::format("recovered {} after the fault ended, by run {}", FormatSpan(*rec.mttr),
                           rec.run->id);
  } else {
    f.detail = fmt::format(
        "not recovered: none of the {} runs started after the fault ended succeeded", after.size());
  }
  f.evidence = EvidenceOf(after, "");
  if (!f.held) {
    f.mitigation = MitigationNote(after);
    if (f.mitigation.empty())
      f.mitigation = "no run started after the fault ended: run the target again after the fault";
  }
  return f;
}

}  // namespace

std::string FailureLabel(const Attempt& a) {
  if (a.Succeeded()) return "";
  std::optional<ErrorClass> c = ParseErrorClass(a.error_class);
  if (c && *c != ErrorClass::kNone)
    return ErrorLabel(*c, static_cast<int>(a.exit_code.value_or(0)));
  if (a.exit_code && *a.exit_code != 0) return fmt::format("exit({})", *a.exit_code);
  return a.error_class;  // a class this version does not know, shown as the journal has it
}

Rate PhaseSuccessRate(const Experiment& e, std::string_view phase) {
  Rate rate;
  for (const RunRecord& r : e.runs) {
    if (r.phase != phase) continue;
    ++rate.total;
    if (r.Succeeded()) ++rate.succeeded;
  }
  return rate;
}

std::vector<Recovery> Recoveries(const Experiment& e) {
  std::vector<Recovery> out;
  for (const FaultRecord& f : e.faults) {
    Recovery rec{&f, nullptr, std::nullopt};
    for (const RunRecord& r : e.runs) {
      if (!f.end || !r.start || !r.end || *r.start < *f.end || !r.Succeeded()) continue;
      if (!rec.run || *r.start < *rec.run->start) rec.run = &r;
    }
    if (rec.run) rec.mttr = *rec.run->end - *f.end;
    out.push_back(rec);
  }
  return out;
}

std::optional<double> ProbeSuccessPercent(const Experiment& e) {
  if (e.probes.empty()) return std::nullopt;
  size_t ok = std::count_if(e.probes.begin(), e.probes.end(),
                            [](const ProbeRun& p) { return p.Succeeded(); });
  return 100.0 * static_cast<double>(ok) / static_cast<double>(e.probes.size());
}

std::optional<double> ResilienceScore(const std::vector<Experiment>& es) {
  double weighted = 0, weights = 0;
  for (const Experiment& e : es) {
    std::optional<double> p = ProbeSuccessPercent(e);
    if (!p || e.weight <= 0) continue;
    weighted += e.weight * *p;
    weights += e.weight;
  }
  if (weights <= 0) return std::nullopt;
  return weighted / weights;
}

std::vector<Finding> Findings(const Experiment& e) {
  std::vector<Finding> out;
  for (const ProbeRun& p : e.probes) out.push_back(ProbeFinding(e, p));
  for (const Recovery& rec : Recoveries(e)) out.push_back(RecoveryFinding(e, rec));
  for (const FaultRecord& f : e.faults) {
    Finding rb{fmt::format("rollback of fault \"{}\"", f.name),
               f.rolled_back,
               f.rolled_back ? "rolled back" : "the journal says the fault was not rolled back",
               {},
               ""};
    if (!f.rolled_back)
      rb.mitigation =
          "the fault may still be in place: undo it by hand and check the experiment's rollbacks";
    out.push_back(std::move(rb));
  }
  return out;
}

std::string MitigationNote(const std::vector<const RunRecord*>& runs) {
  // Failed runs with a single cause: one failing task whose every attempt failed with one
  // label, keyed by (task, label, how many attempts it made).
  using Key = std::tuple<std::string, std::string, bool>;
  std::map<Key, int> groups;
  std::vector<Key> order;
  int failed = 0;
  for (const RunRecord* r : runs) {
    if (r->Succeeded()) continue;
    ++failed;
    std::vector<const TaskRecord*> failing = FailingTasks(*r);
    if (failing.size() != 1) continue;
    const TaskRecord& t = *failing.front();
    std::string label = FailureLabel(t.attempts.front());
    bool same =
        !label.empty() && std::all_of(t.attempts.begin(), t.attempts.end(),
                                      [&](const Attempt& a) { return FailureLabel(a) == label; });
    if (!same) continue;
    Key key{t.name, label, t.attempts.size() > 1};
    if (groups[key]++ == 0) order.push_back(key);
  }
  if (failed == 0) return "";
  if (order.empty()) {
    return fmt::format(
        "no single cause: none of the {} failed runs failed in one task with one "
        "exit code or error class",
        failed);
  }
  // The cause that explains the most failed runs; ties go to the one seen first.
  Key best = order.front();
  for (const Key& k : order)
    if (groups[k] > groups[best]) best = k;
  const auto& [task, label, retried] = best;
  std::string note;
  std::optional<ErrorClass> c = ParseErrorClass(label.substr(0, label.find('(')));
  if (c && *c == ErrorClass::kCancelled) {
    // Still running when its run was cancelled (by the experiment's time limit, or a person):
    // a hang that only a timeout of its own would have cut short and retried.
    note = fmt::format(
        "{} was still running when its run was cancelled in {} of {} failed runs: a timeout "
        "on {} with retry: {{on: [timeout]}} would end a hang and try again",
        task, groups[best], failed, task);
  } else if (c && NeverRetried(*c)) {
    note = fmt::format(
        "{} failed with {}, which is never retried, in {} of {} failed runs: a retry "
        "cannot save them, only removing the cause can",
        task, label, groups[best], failed);
  } else if (retried) {
    note = fmt::format(
        "{} failed with {} on every attempt in {} of {} failed runs: more attempts "
        "or a longer backoff on {} may save them",
        task, label, groups[best], failed, label);
  } else {
    note = fmt::format(
        "a retry on {} of {} (retry: {{on: [{}]}}) would have saved {} of {} failed "
        "runs",
        label, task, label, groups[best], failed);
  }
  // How often the same task's attempts succeeded in these runs: a retry helps a transient fault.
  int ok = 0, all = 0;
  for (const RunRecord* r : runs) {
    for (const TaskRecord& t : r->tasks) {
      if (t.name != task) continue;
      for (const Attempt& a : t.attempts) ++all, ok += a.Succeeded();
    }
  }
  if (ok == 0 && !(c && NeverRetried(*c))) {
    note += fmt::format(
        " (but {} succeeded on none of its {} attempts in these runs: the failure "
        "may not be transient)",
        task, all);
  } else {
    note += fmt::format(" ({} succeeded on {} of its {} attempts in these runs)", task, ok, all);
  }
  if (order.size() > 1) {
    note += fmt::format("; {} other single cause{}", order.size() - 1, order.size() > 2 ? "s" : "");
  }
  return note;
}

std::optional<Micros> ParseTime(std::string_view s) {
  auto num = [&](size_t at, size_t n) -> std::optional<int> {
    if (at + n > s.size()) return std::nullopt;
    int v = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  auto y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2),
       se = num(17, 2);
  if (!y || !mo || !d || !h || !mi || !se || s[4] != '-' || s[7] != '-' ||
      (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':' || *mo < 1 || *mo > 12 ||
      *d < 1 || *d > 31 || *h > 23 || *mi > 59 || *se > 60) {
    return std::nullopt;
  }
  size_t i = 19;
  int64_t micros = 0;
  if (i < s.size() && s[i] == '.') {
    size_t start = ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start || i - start > 9) return std::nullopt;
    for (size_t k = 0; k < 6; ++k) micros = micros * 10 + (start + k < i ? s[start + k] - '0' : 0);
  }
  int64_t offset = 0;
  if (i + 1 == s.size() && (s[i] == 'Z' || s[i] == 'z')) {
  } else if (i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':' &&
             num(i + 1, 2) && num(i + 4, 2)) {
    offset = (s[i] == '-' ? -1 : 1) * (*num(i + 1, 2) * 3600 + *num(i + 4, 2) * 60);
  } else {
    return std::nullopt;
  }
  int64_t days = DaysFromCivil(*y, static_cast<unsigned>(*mo), static_cast<unsigned>(*d));
  int64_t secs = days * 86400 + *h * 3600 + *mi * 60 + *se - offset;
  return secs * 1'000'000 + micros;
}

std::string FormatClock(Micros t) {
  int64_t day = ((t % 86'400'000'000) + 86'400'000'000) % 86'400'000'000;
  int64_t ms = day / 1000;
  return fmt::format("{:02}:{:02}:{:02}.{:03}", ms / 3'600'000, ms / 60'000 % 60, ms / 1000 % 60,
                     ms % 1000);
}

std::string FormatSpan(Micros d) {
  double s = static_cast<double>(d) / 1e6;
  if (s < 0) return "-" + FormatSpan(-d);
  if (s < 60) return fmt::format("{:.2f} s", s);
  auto total = static_cast<int64_t>(s + 0.5);
  if (total < 3600) return fmt::format("{} min {} s", total / 60, total % 60);
  return fmt::format("{} h {} min", total / 3600, total / 60 % 60);
}

}  // namespace sluice::resilience
