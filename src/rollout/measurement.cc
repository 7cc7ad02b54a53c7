// Measurements to and from the map that JSON carries (analysis.h): the one place that spells
// their field names, so the store, the API and the report read them alike.
#include "common/strings.h"
#include "rollout/analysis.h"

namespace sluice {

Value MeasurementToValue(const Measurement& m) {
  return Value(ValueMap{
      {Value("template"), Value(m.template_name)},
      {Value("metric"), Value(m.metric)},
      {Value("phase"), Value(std::string(AnalysisPhaseName(m.phase)))},
      {Value("value"), Value(m.value)},
      {Value("message"), Value(m.message)},
      {Value("startedUs"), Value(m.started_us)},
      {Value("finishedUs"), Value(m.finished_us)},
      {Value("dryRun"), Value(m.dry_run)},
  });
}

Result<Measurement> MeasurementFromValue(const Value& v) {
  if (!v.is_map()) return Fail(ErrorCode::kInvalidInput, "a measurement is a map, not {}", v.TypeName());
  auto field = [&](const char* name, Value::Kind kind) -> Result<const Value*> {
    const Value* f = v.Find(name);
    if (!f || f->kind() != kind) {
      return Fail(ErrorCode::kInvalidInput, "a measurement's {} is missing or of the wrong type",
                  Quote(name));
    }
    return f;
  };
  Measurement m;
  SLUICE_TRY(tmpl, field("template", Value::Kind::kString));
  SLUICE_TRY(metric, field("metric", Value::Kind::kString));
  SLUICE_TRY(phase, field("phase", Value::Kind::kString));
  SLUICE_TRY(value, field("value", Value::Kind::kString));
  SLUICE_TRY(message, field("message", Value::Kind::kString));
  SLUICE_TRY(started, field("startedUs", Value::Kind::kInt));
  SLUICE_TRY(finished, field("finishedUs", Value::Kind::kInt));
  SLUICE_TRY(dry, field("dryRun", Value::Kind::kBool));
  auto p = AnalysisPhaseFromName((*phase)->as_string());
  if (!p || !IsCompleted(*p)) {
    return Fail(ErrorCode::kInvalidInput, "a measurement's phase {} is not Successful, Failed, "
                "Inconclusive or Error", Quote((*phase)->as_string()));
  }
  m.template_name = (*tmpl)->as_string();
  m.metric = (*metric)->as_string();
  m.phase = *p;
  m.value = (*value)->as_string();
  m.message = (*message)->as_string();
  m.started_us = (*started)->as_int();
  m.finished_us = (*finished)->as_int();
  m.dry_run = (*dry)->as_bool();
  return m;
}

}  // namespace sluice
