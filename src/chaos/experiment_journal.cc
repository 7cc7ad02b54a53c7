// The journal (experiment.h, docs/chaos.md "The journal"): Chaos Toolkit's shape with Sluice's
// runs, faults and governance; and the experiment's secrets, fetched once and masked in it.
#include <sys/utsname.h>

#include "chaos/experiment.h"
#include "cli/secrets.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "dev"
#endif

namespace sluice::chaos {

namespace {

std::string Uname(bool node) {
  struct utsname u {};
  if (uname(&u) != 0) return "";
  return node ? u.nodename : std::string(u.sysname) + " " + u.release + " " + u.machine;
}

}  // namespace

Status Experiment::FetchSecrets() {
  for (const auto& d : spec_.secrets) {
    SLUICE_TRY(v, FetchSecret(env_, d));
    args_.emplace_back(d.name, Value(*v));
    secret_values_.push_back(*v);
  }
  return {};
}

std::string Experiment::MaskSecrets(std::string text) const {
  for (const auto& v : secret_values_) {
    const std::string quoted = Value(v).ToJson();
    for (const std::string& form : {v, quoted.substr(1, quoted.size() - 2)}) {
      if (form.empty()) continue;
      for (size_t at = 0; (at = text.find(form, at)) != std::string::npos; at += 3) {
        text.replace(at, form.size(), "***");
      }
    }
  }
  return text;
}

Value Experiment::Journal() const {
  ValueList runs;
  for (const auto& r : runs_) runs.push_back(TargetRunToValue(r));
  ValueList decisions, approvals;
  for (const auto& r : runs_) {
    if (auto ds = store_.ListDecisions(r.run_id)) {
      for (const auto& d : *ds) {
        decisions.push_back(Value(ValueMap{{"run", Value(d.run_id)},
                                           {"stage", Value(d.stage)},
                                           {"task", Value(d.task)},
                                           {"policy", Value(d.policy)},
                                           {"rule", Value(d.rule)},
                                           {"result", Value(d.result)},
                                           {"message", Value(d.message)},
                                           {"waiver", Value(d.waiver)}}));
      }
    }
    for (const auto& t : r.tasks) {
      auto votes = store_.ListVotes(r.run_id, t.name);
      for (const auto& v : votes ? *votes : std::vector<VoteRow>{}) {
        approvals.push_back(Value(ValueMap{{"run", Value(r.run_id)},
                                           {"task", Value(t.name)},
                                           {"user", Value(v.user)},
                                           {"approve", Value(v.approve)},
                                           {"comment", Value(v.comment)},
                                           {"time", Value(JournalTime(v.time_us))}}));
      }
    }
  }
  Value audit(ValueMap{});
  if (auto check = store_.VerifyAudit()) {
    audit = Value(ValueMap{{"verified", Value(check->broken_at == 0)},
                           {"records", Value(check->records)},
                           {"head", Value(check->head)},
                           {"message", Value(check->why)}});
  }
  ValueList tags;
  for (const auto& t : spec_.tags) tags.push_back(Value(t));
  const Value* written_hyp = spec_.written.Find("steadyStateHypothesis");
  const Value* written_rb = spec_.written.Find("rollbacks");
  const Value* written_rt = spec_.written.Find("runtime");
  Value experiment(ValueMap{
      {"title", Value(spec_.title)},
      {"description", Value(spec_.description)},
      {"tags", Value(std::move(tags))},
      {"configuration", spec_.written.Find("configuration") ? *spec_.written.Find("configuration")
                                                            : Value(ValueMap{})},
      {"secrets",
       spec_.written.Find("secrets") ? *spec_.written.Find("secrets") : Value(ValueList{})},
      {"steady-state-hypothesis", written_hyp ? *written_hyp : Value()},
      {"method", *spec_.written.Find("method")},
      {"rollbacks", written_rb ? *written_rb : Value(ValueList{})},
      {"runtime", written_rt ? *written_rt : Value(ValueMap{})}});
  return Value(ValueMap{
      {"sluice-version", Value(SLUICE_VERSION)},
      {"platform", Value(Uname(false))},
      {"node", Value(Uname(true))},
      {"experiment", std::move(experiment)},
      {"start", Value(JournalTime(start_us_))},
      {"end", Value(JournalTime(end_us_))},
      {"duration", Value((end_us_ - start_us_) / 1e6)},
      {"status", Value(status_)},
      {"deviated", Value(deviated_)},
      {"steady_states",
       Value(ValueMap{{"before", before_}, {"during", Value(during_)}, {"after", after_}})},
      {"run", Value(method_runs_)},
      {"rollbacks", Value(rollback_runs_)},
      {"sluice",
       Value(ValueMap{{"id", Value(dir_.substr(dir_.rfind('/') + 1))},
                      {"name", Value(spec_.name)},
                      {"file", Value(spec_.file)},
                      {"weight", Value(int64_t{spec_.weight})},
                      {"phases", Value(phases_)},
                      {"faults", Value(fault_runs_)},
                      {"runs", Value(std::move(runs))},
                      {"governance", Value(ValueMap{{"decisions", Value(std::move(decisions))},
                                                    {"approvals", Value(std::move(approvals))},
                                                    {"audit", std::move(audit)}})}})}});
}

}  // namespace sluice::chaos
