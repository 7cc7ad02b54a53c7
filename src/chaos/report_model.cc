// Reading a chaos journal into the report's model (report_model.h). The figures are in
// report_figures.cc.
#include "chaos/report_model.h"

#include <fmt/format.h>

#include "common/strings.h"

namespace sluice::resilience {
namespace {

const ValueList kNoItems;

// Reads fields of the journal with a sticky first error (as leveldb's bg_error_): the readers
// return empty values once a field is wrong, and Take() reports only the first wrong field, so
// the reading code stays a flat list of fields instead of a ladder of early returns.
class Reader {
 public:
  explicit Reader(std::string_view source) : source_(EscapeControl(source)) {}

  // The map at `v`, or nullptr when v is absent or null. Wrong type: an error.
  const Value* Map(const Value* v, const std::string& path) {
    if (!v || v->is_null()) return nullptr;
    if (!v->is_map()) return Wrong(path, "an object", *v), nullptr;
    return v;
  }
  const ValueList& List(const Value* v, const std::string& path) {
    if (!v || v->is_null()) return kNoItems;
    if (!v->is_list()) return Wrong(path, "a list", *v), kNoItems;
    return v->as_list();
  }
  std::string Str(const Value* map, const char* key, const std::string& path) {
    const Value* v = Field(map, key);
    if (!v || v->is_null()) return "";
    if (!v->is_string()) return Wrong(Join(path, key), "a string", *v), "";
    return ReplaceNonText(v->as_string());
  }
  // Any scalar as text (ids may be numbers); lists and maps are wrong.
  std::string Text(const Value* map, const char* key, const std::string& path) {
    const Value* v = Field(map, key);
    if (!v || v->is_null()) return "";
    if (v->is_list() || v->is_map()) return Wrong(Join(path, key), "a string", *v), "";
    return ReplaceNonText(v->ToText());
  }
  std::optional<int64_t> Int(const Value* map, const char* key, const std::string& path) {
    const Value* v = Field(map, key);
    if (!v || v->is_null()) return std::nullopt;
    if (v->is_int()) return v->as_int();
    if (v->is_double() &&
        v->as_double() == static_cast<double>(static_cast<int64_t>(v->as_double())))
      return static_cast<int64_t>(v->as_double());
    return Wrong(Join(path, key), "an integer", *v), std::nullopt;
  }
  std::optional<double> Number(const Value* map, const char* key, const std::string& path) {
    const Value* v = Field(map, key);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_number()) return Wrong(Join(path, key), "a number", *v), std::nullopt;
    return v->to_double();
  }
  std::optional<bool> Bool(const Value* map, const char* key, const std::string& path) {
    const Value* v = Field(map, key);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_bool()) return Wrong(Join(path, key), "true or false", *v), std::nullopt;
    return v->as_bool();
  }
  std::optional<Micros> Time(const Value* map, const char* key, const std::string& path) {
    const Value* v = Field(map, key);
    if (!v || v->is_null()) return std::nullopt;
    std::optional<Micros> t = v->is_string() ? ParseTime(v->as_string()) : std::nullopt;
    if (!t) Wrong(Join(path, key), "a UTC time like \"2026-12-07T08:00:00.123456Z\"", *v);
    return t;
  }
  void Fail(const std::string& path, const std::string& what) {
    if (!error_)
      error_ = Error(ErrorCode::kInvalidInput, fmt::format("{}: {}: {}", source_, path, what));
  }
  bool failed() const { return error_.has_value(); }
  const Error& error() const { return *error_; }

  static const Value* Field(const Value* map, const char* key) {
    return map && map->is_map() ? map->Find(key) : nullptr;
  }
  static std::string Join(const std::string& path, const char* key) {
    return path.empty() ? key : path + "." + key;
  }
  static std::string At(const std::string& path, size_t i) {
    return fmt::format("{}[{}]", path, i);
  }

 private:
  void Wrong(const std::string& path, const char* expected, const Value& got) {
    std::string shown = got.is_string() ? Quote(got.as_string()) : got.TypeName();
    Fail(path, fmt::format("expected {}, got {}", expected, shown));
  }

  std::string source_;
  std::optional<Error> error_;
};

ProbeRun ReadProbeRun(Reader& r, const Value& v, const std::string& path, std::string phase,
                      bool hypothesis) {
  ProbeRun p;
  const Value* run = r.Map(&v, path);
  std::string apath = Reader::Join(path, "activity");
  const Value* activity = r.Map(Reader::Field(run, "activity"), apath);
  p.name = r.Str(activity, "name", apath);
  std::string ppath = Reader::Join(apath, "provider");
  if (const Value* provider = r.Map(Reader::Field(activity, "provider"), ppath);
      provider && !provider->as_map().empty()) {
    const auto& [kind, body] = provider->as_map().front();
    if (kind.is_string()) p.provider_kind = ReplaceNonText(kind.as_string());
    if (body.is_map())
      p.task_glob = r.Str(&body, "task", Reader::Join(ppath, p.provider_kind.c_str()));
  }
  if (const Value* tol = Reader::Field(activity, "tolerance"); tol && !tol->is_null())
    p.tolerance = ReplaceNonText(tol->is_string() ? tol->as_string() : tol->ToJson());
  p.status = r.Str(run, "status", path);
  p.tolerance_met = r.Bool(run, "tolerance_met", path);
  if (const Value* out = Reader::Field(run, "output"); out && !out->is_null())
    p.output_json = ReplaceNonText(out->ToJson());
  std::string epath = Reader::Join(path, "exception");
  if (const Value* ex = Reader::Field(run, "exception"); ex && ex->is_string()) {
    p.exceptions.push_back(ReplaceNonText(ex->as_string()));
  } else {
    const ValueList& lines = r.List(ex, epath);
    for (size_t i = 0; i < lines.size(); ++i)
      p.exceptions.push_back(ReplaceNonText(lines[i].ToText()));
  }
  p.phase = std::move(phase);
  p.hypothesis = hypothesis;
  return p;
}

// One hypothesis check: {"steady_state_met", "probes"} of a phase.
void ReadCheck(Reader& r, const Value* v, const std::string& path, const std::string& phase,
               Experiment* e) {
  const Value* check = r.Map(v, path);
  if (!check) return;
  std::optional<bool> met = r.Bool(check, "steady_state_met", path);
  e->checks.push_back(Check{phase, met.value_or(false)});
  std::string ppath = Reader::Join(path, "probes");
  const ValueList& probes = r.List(Reader::Field(check, "probes"), ppath);
  for (size_t i = 0; i < probes.size(); ++i)
    e->probes.push_back(ReadProbeRun(r, probes[i], Reader::At(ppath, i), phase, true));
}

void ReadSteadyStates(Reader& r, const Value* journal, Experiment* e) {
  const Value* ss = r.Map(Reader::Field(journal, "steady_states"), "steady_states");
  ReadCheck(r, Reader::Field(ss, "before"), "steady_states.before", "before", e);
  const ValueList& during = r.List(Reader::Field(ss, "during"), "steady_states.during");
  for (size_t i = 0; i < during.size(); ++i)
    ReadCheck(r, &during[i], Reader::At("steady_states.during", i), "during", e);
  ReadCheck(r, Reader::Field(ss, "after"), "steady_states.after", "after", e);
  const ValueList& method = r.List(Reader::Field(journal, "run"), "run");
  for (size_t i = 0; i < method.size(); ++i) {
    const Value* activity = Reader::Field(&method[i], "activity");
    if (Reader::Field(activity, "type") && *Reader::Field(activity, "type") == Value("probe"))
      e->probes.push_back(ReadProbeRun(r, method[i], Reader::At("run", i), "during", false));
  }
}

Attempt ReadAttempt(Reader& r, const Value& v, const std::string& path) {
  const Value* m = r.Map(&v, path);
  Attempt a;
  a.number = r.Int(m, "attempt", path).value_or(0);
  a.start = r.Time(m, "start", path);
  a.end = r.Time(m, "end", path);
  a.status = r.Str(m, "status", path);
  a.error_class = r.Str(m, "errorClass", path);
  a.exit_code = r.Int(m, "exitCode", path);
  return a;
}

RunRecord ReadRun(Reader& r, const Value& v, const std::string& path) {
  const Value* m = r.Map(&v, path);
  RunRecord run;
  run.id = r.Text(m, "run", path);
  run.phase = r.Str(m, "phase", path);
  run.status = r.Str(m, "status", path);
  run.start = r.Time(m, "start", path);
  run.end = r.Time(m, "end", path);
  run.retries = r.Int(m, "retries", path).value_or(0);
  run.compensations = r.Int(m, "compensations", path).value_or(0);
  run.resumed = r.Int(m, "resumed", path).value_or(0);
  std::string tpath = Reader::Join(path, "tasks");
  const ValueList& tasks = r.List(Reader::Field(m, "tasks"), tpath);
  for (size_t i = 0; i < tasks.size(); ++i) {
    std::string p = Reader::At(tpath, i);
    const Value* t = r.Map(&tasks[i], p);
    TaskRecord task{r.Str(t, "name", p), r.Str(t, "state", p), {}};
    std::string apath = Reader::Join(p, "attempts");
    const ValueList& attempts = r.List(Reader::Field(t, "attempts"), apath);
    for (size_t k = 0; k < attempts.size(); ++k)
      task.attempts.push_back(ReadAttempt(r, attempts[k], Reader::At(apath, k)));
    run.tasks.push_back(std::move(task));
  }
  std::string bpath = Reader::Join(path, "breakers");
  const ValueList& breakers = r.List(Reader::Field(m, "breakers"), bpath);
  for (size_t i = 0; i < breakers.size(); ++i) {
    std::string p = Reader::At(bpath, i);
    const Value* b = r.Map(&breakers[i], p);
    std::optional<Micros> time = r.Time(b, "time", p);
    if (!time && !r.failed()) r.Fail(Reader::Join(p, "time"), "missing");
    run.breakers.push_back(
        {r.Str(b, "breaker", p), r.Str(b, "from", p), r.Str(b, "to", p), time.value_or(0)});
  }
  return run;
}

void ReadGovernance(Reader& r, const Value* sluice, Experiment* e) {
  const std::string path = "sluice.governance";
  const Value* g = r.Map(Reader::Field(sluice, "governance"), path);
  const ValueList& decisions = r.List(Reader::Field(g, "decisions"), path + ".decisions");
  for (size_t i = 0; i < decisions.size(); ++i) {
    std::string p = Reader::At(path + ".decisions", i);
    const Value* d = r.Map(&decisions[i], p);
    e->decisions.push_back({r.Text(d, "run", p), r.Str(d, "stage", p), r.Str(d, "task", p),
                            r.Str(d, "policy", p), r.Str(d, "rule", p), r.Text(d, "result", p),
                            r.Str(d, "message", p), r.Str(d, "waiver", p)});
  }
  const ValueList& approvals = r.List(Reader::Field(g, "approvals"), path + ".approvals");
  for (size_t i = 0; i < approvals.size(); ++i) {
    std::string p = Reader::At(path + ".approvals", i);
    const Value* a = r.Map(&approvals[i], p);
    std::optional<Micros> time = r.Time(a, "time", p);
    e->approvals.push_back({r.Text(a, "run", p), r.Str(a, "task", p), r.Str(a, "user", p),
                            r.Str(a, "comment", p), time ? FormatTimestampMs(*time / 1000) : "",
                            r.Bool(a, "approve", p).value_or(false)});
  }
  const Value* audit = r.Map(Reader::Field(g, "audit"), path + ".audit");
  if (audit) {
    e->audit.present = true;
    e->audit.verified = r.Bool(audit, "verified", path + ".audit").value_or(false);
    e->audit.records = r.Int(audit, "records", path + ".audit").value_or(0);
    e->audit.head = r.Str(audit, "head", path + ".audit");
    e->audit.message = r.Str(audit, "message", path + ".audit");
  }
}

void ReadSluice(Reader& r, const Value* journal, Experiment* e) {
  const Value* s = r.Map(Reader::Field(journal, "sluice"), "sluice");
  e->id = r.Text(s, "id", "sluice");
  e->name = r.Str(s, "name", "sluice");
  if (std::optional<double> w = r.Number(s, "weight", "sluice")) {
    if (*w < 0 || *w > 10) r.Fail("sluice.weight", fmt::format("expected 0..10, got {}", *w));
    e->weight = *w;
  }
  const ValueList& phases = r.List(Reader::Field(s, "phases"), "sluice.phases");
  for (size_t i = 0; i < phases.size(); ++i) {
    std::string p = Reader::At("sluice.phases", i);
    const Value* m = r.Map(&phases[i], p);
    e->phases.push_back({r.Str(m, "name", p), r.Time(m, "start", p), r.Time(m, "end", p)});
  }
  const ValueList& faults = r.List(Reader::Field(s, "faults"), "sluice.faults");
  for (size_t i = 0; i < faults.size(); ++i) {
    std::string p = Reader::At("sluice.faults", i);
    const Value* m = r.Map(&faults[i], p);
    e->faults.push_back({r.Str(m, "name", p), r.Str(m, "kind", p), r.Str(m, "faults", p),
                         r.Time(m, "start", p), r.Time(m, "end", p),
                         r.Bool(m, "rolledBack", p).value_or(false)});
  }
  const ValueList& runs = r.List(Reader::Field(s, "runs"), "sluice.runs");
  for (size_t i = 0; i < runs.size(); ++i)
    e->runs.push_back(ReadRun(r, runs[i], Reader::At("sluice.runs", i)));
  ReadGovernance(r, s, e);
}

}  // namespace

Result<Experiment> ReadJournal(const Value& journal, std::string_view source) {
  Reader r(source);
  if (!journal.is_map()) {
    r.Fail("the journal", fmt::format("expected a JSON object, got {}", journal.TypeName()));
    return std::unexpected(r.error());
  }
  Experiment e;
  e.source = ReplaceNonText(source);
  const Value* x = r.Map(journal.Find("experiment"), "experiment");
  e.title = r.Str(x, "title", "experiment");
  e.description = r.Str(x, "description", "experiment");
  const Value* h =
      r.Map(Reader::Field(x, "steady-state-hypothesis"), "experiment.steady-state-hypothesis");
  e.hypothesis_title = r.Str(h, "title", "experiment.steady-state-hypothesis");
  e.status = r.Str(&journal, "status", "");
  e.deviated = r.Bool(&journal, "deviated", "").value_or(false);
  e.start = r.Time(&journal, "start", "");
  e.end = r.Time(&journal, "end", "");
  ReadSteadyStates(r, &journal, &e);
  ReadSluice(r, &journal, &e);
  if (r.failed()) return std::unexpected(r.error());
  if (e.name.empty()) e.name = !e.title.empty() ? e.title : e.source;
  return e;
}

}  // namespace sluice::resilience
