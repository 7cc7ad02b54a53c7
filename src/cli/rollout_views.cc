// Rollouts' and environments' documents, their texts, and rollout commands (rollout_views.h).
#include "cli/rollout_views.h"

#include <fmt/format.h>

#include "cli/approval_rules.h"
#include "cli/cli_support.h"
#include "common/strings.h"

namespace sluice {

namespace {

// Field `k` of map `v` as text ("" when absent).
std::string TextOf(const Value& v, const char* k) {
  const Value* f = v.is_map() ? v.Find(k) : nullptr;
  return f ? f->ToText() : std::string();
}

}  // namespace

Value RolloutJson(const RolloutRow& r, const std::vector<MeasurementRow>& ms) {
  auto data = ParseJson(r.data);
  ValueList list;
  for (const auto& m : ms) {
    auto value = ParseJson(m.value);
    list.push_back(Value(ValueMap{{"seq", Value(m.seq)},
                                  {"epoch", Value(int64_t{m.epoch})},
                                  {"analysis", Value(m.analysis)},
                                  {"template", Value(m.template_name)},
                                  {"metric", Value(m.metric)},
                                  {"phase", Value(m.phase)},
                                  {"value", value ? *value : Value(m.value)},
                                  {"message", Value(m.message)},
                                  {"dryRun", Value(m.dry_run)},
                                  {"started", Value(Ts(m.started_us))},
                                  {"finished", Value(Ts(m.finished_us))},
                                  {"startedUs", Value(m.started_us)},
                                  {"finishedUs", Value(m.finished_us)}}));
  }
  return Value(ValueMap{{"run", Value(r.run_id)},
                        {"task", Value(r.task)},
                        {"environment", Value(r.environment)},
                        {"phase", Value(r.phase)},
                        {"message", Value(r.message)},
                        {"step", Value(int64_t{r.step})},
                        {"started", Value(Ts(r.started_us))},
                        {"startedUs", Value(r.started_us)},
                        {"updated", Value(Ts(r.updated_us))},
                        {"updatedUs", Value(r.updated_us)},
                        {"state", data ? *data : Value()},
                        {"lastCommand", Value(r.command)},
                        {"lastCommandBy", Value(r.command_by)},
                        {"measurements", Value(std::move(list))}});
}

Result<Value> RolloutDocument(Store& store, const std::string& run_id, const std::string& task) {
  SLUICE_TRY(row, store.GetRollout(run_id, task));
  if (!*row) {
    return Fail(ErrorCode::kNotFound, "task {} of run {} has no rollout (it is not a deploy "
                "task, or it has not started)", Quote(task), run_id);
  }
  SLUICE_TRY(ms, store.Measurements(run_id, task));
  return RolloutJson(**row, *ms);
}

std::string RolloutText(const Value& doc) {
  const Value* st = doc.is_map() ? doc.Find("state") : nullptr;
  const Value none;
  const Value& state = st ? *st : none;
  std::string out =
      fmt::format("{} {} -> {}: {}\n  {}\n", TextOf(doc, "run"), TextOf(doc, "task"),
                  TextOf(doc, "environment"), TextOf(doc, "phase"), TextOf(doc, "message"));
  const std::string stable = TextOf(state, "stableVersion"),
                    stable_slot = TextOf(state, "stableSlot");
  out += fmt::format("  candidate {} in slot {} ({} %), stable {} in slot {}\n",
                     TextOf(state, "version"), TextOf(state, "canarySlot"), TextOf(state, "weight"),
                     stable.empty() ? "none" : stable, stable_slot.empty() ? "-" : stable_slot);
  const Value* ms = doc.is_map() ? doc.Find("measurements") : nullptr;
  if (!ms || !ms->is_list()) return out;
  if (!ms->as_list().empty()) out += "  measurements:\n";
  for (const Value& m : ms->as_list()) {
    const Value* value = m.is_map() ? m.Find("value") : nullptr;
    const std::string message = TextOf(m, "message");
    out += fmt::format("    {:<13} {:<14} {}/{} = {}{}{}\n", TextOf(m, "analysis"),
                       TextOf(m, "phase"), TextOf(m, "template"), TextOf(m, "metric"),
                       value ? value->ToJson() : "", message.empty() ? "" : "  ", message);
  }
  return out;
}

Result<Value> EnvironmentsJson(const EnvironmentsSpec& envs, Store& store) {
  ValueList items;
  for (const auto& e : envs.environments) {
    SLUICE_TRY(current, store.Releases(e->name, 1));
    const ReleaseRow* r =
        !current->empty() && (*current)[0].until_us == 0 ? &(*current)[0] : nullptr;
    SLUICE_TRY(active, store.ListRollouts(e->name));
    std::string rolling;
    for (const auto& a : *active) {  // newest first: the one acting wins over those waiting
      if (a.active() && (rolling.empty() || a.phase != "Waiting")) {
        rolling = a.run_id + " " + a.task + " (" + a.phase + ")";
      }
    }
    items.push_back(Value(ValueMap{{"environment", Value(e->name)},
                                   {"version", Value(r ? r->version : "")},
                                   {"digest", Value(r ? r->digest : "")},
                                   {"slot", Value(r ? r->slot : "")},
                                   {"since", Value(r ? Ts(r->since_us) : "")},
                                   {"by", Value(r ? r->actor : "")},
                                   {"rollout", Value(rolling)}}));
  }
  return Value(std::move(items));
}

std::string EnvironmentsText(const Value& items) {
  std::string out = fmt::format("{:<12} {:<14} {:<8} {:<26} {:<12} {}\n", "ENVIRONMENT", "VERSION",
                                "SLOT", "SINCE", "BY", "ROLLOUT");
  if (!items.is_list()) return out;
  for (const auto& i : items.as_list()) {
    const std::string version = TextOf(i, "version");
    out += fmt::format("{:<12} {:<14} {:<8} {:<26} {:<12} {}\n", TextOf(i, "environment"),
                       version.empty() ? "-" : version, TextOf(i, "slot"), TextOf(i, "since"),
                       TextOf(i, "by"), TextOf(i, "rollout"));
  }
  return out;
}

Value ReleasesJson(const std::vector<ReleaseRow>& rows) {
  ValueList items;
  for (const auto& r : rows) {
    items.push_back(Value(ValueMap{{"environment", Value(r.environment)},
                                   {"version", Value(r.version)},
                                   {"digest", Value(r.digest)},
                                   {"slot", Value(r.slot)},
                                   {"run", Value(r.run_id)},
                                   {"task", Value(r.task)},
                                   {"by", Value(r.actor)},
                                   {"since", Value(Ts(r.since_us))},
                                   {"until", Value(r.until_us ? Ts(r.until_us) : "")},
                                   {"current", Value(r.until_us == 0)}}));
  }
  return Value(std::move(items));
}

std::string ReleasesText(const std::string& environment, const Value& items) {
  if (!items.is_list() || items.as_list().empty()) {
    return fmt::format("{} has had no release\n", environment);
  }
  std::string out;
  for (const auto& i : items.as_list()) {
    const Value* current = i.is_map() ? i.Find("current") : nullptr;
    out += fmt::format("{}  {:<14} sha256:{:.12}  slot {:<8} by {:<12} run {}{}\n",
                       TextOf(i, "since"), TextOf(i, "version"), TextOf(i, "digest"),
                       TextOf(i, "slot"), TextOf(i, "by"), TextOf(i, "run"),
                       current && current->is_bool() && current->as_bool() ? "  (current)" : "");
  }
  return out;
}

Result<RolloutCommanded> GiveRolloutCommand(Env& env, const std::string& state_dir, Store& store,
                                            const RunRecord& run, const std::string& task,
                                            const Principal& who, const std::string& command,
                                            bool* refused) {
  *refused = false;
  SLUICE_TRY(row, store.GetRollout(run.id, task));
  if (*row && (command == "promote" || command == "resume")) {
    SLUICE_TRY(envs, LoadEnvironments(env.files(), state_dir));
    const EnvironmentSpec* spec = (*envs)->Find((*row)->environment);
    const ApprovalSpec* approval = spec ? spec->promotion.approval.get() : nullptr;
    if (auto s = MayPromote(store, run, who, approval, command.c_str()); !s) {
      *refused = s.error().code == ErrorCode::kInvalidInput;
      return std::unexpected(s.error());
    }
  }
  const std::string environment = *row ? (*row)->environment : "";
  auto audit = AuditOf(env, who.Actor(), "rollout." + command, run.id, task,
                       Value(ValueMap{{"environment", Value(environment)}}));
  SLUICE_TRY(done, store.CommandRollout(run.id, task, command, std::move(audit)));
  return RolloutCommanded{environment, std::move(*done)};
}

std::string RolloutCommandText(const std::string& command, const std::string& task,
                               const std::string& run, const std::string& environment) {
  return fmt::format("{} the rollout of {} in run {} ({})\n", command, task, run, environment);
}

}  // namespace sluice
