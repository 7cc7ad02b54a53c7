// YAML -> model: a main task's failure handling and governance (catch, fallback, compensate,
// breaker, approval and gate).
#include "spec/yaml_reader.h"

namespace sluice {

// The keys are read in this order, so that the first error of a task is always the same.
Result<std::unique_ptr<TaskHandlers>> Reader::Handlers(const YNode& n, const std::string& owner) const {
  auto h = std::make_unique<TaskHandlers>();
  if (const auto& c = n["catch"]) SLUICE_TRY_STATUS(Catches(c, owner, &h->catches));
  if (const auto& f = n["fallback"]) {
    SLUICE_TRY(fb, Task(f, TaskKind::kFallback, owner));
    h->fallback = std::make_unique<TaskSpec>(std::move(*fb));
  }
  if (const auto& c = n["compensate"]) {
    SLUICE_TRY(comp, Task(c, TaskKind::kCompensate, owner));
    h->compensate = std::make_unique<TaskSpec>(std::move(*comp));
  }
  if (n["breaker"]) {
    SLUICE_TRY(b, Name(n["breaker"], "breaker"));
    h->breaker = *b;
    h->breaker_loc = Loc(n["breaker"]);
  }
  if (const auto& a = n["approval"]) {
    SLUICE_TRY(spec, Approval(a));
    if (n["forEach"]) return FailAt(Loc(a), "a forEach task cannot wait for an approval; put the "
                                    "approval on a task before it");
    h->approval = std::move(*spec);
  }
  if (const auto& g = n["gate"]) SLUICE_TRY_STATUS(Gate(g, &h->gate));
  return h;
}

Status Reader::Catches(const YNode& c, const std::string& owner, std::vector<CatchSpec>* out) const {
  SLUICE_TRY_STATUS(ExpectList(c, "catch"));
  if (c.size() == 0) return FailAt(Loc(c), "catch needs at least one entry");
  for (const auto& entry : c) {
    CatchSpec cs;
    cs.loc = Loc(entry);
    SLUICE_TRY(handler, Task(entry, TaskKind::kCatch, owner));
    handler->name += fmt::format("[{}]", out->size());
    cs.handler = std::make_unique<TaskSpec>(std::move(*handler));
    if (entry["on"]) {
      SLUICE_TRY(on, ErrorMatches(entry["on"], "catch.on"));
      cs.on = std::move(*on);
    }
    if (entry["recover"]) {
      SLUICE_TRY(b, Bool(entry["recover"], "recover"));
      cs.recover = *b;
    }
    out->push_back(std::move(cs));
  }
  return {};
}

Result<std::unique_ptr<ApprovalSpec>> Reader::Approval(const YNode& a) const {
  SLUICE_TRY_STATUS(ExpectMap(a, "approval"));
  SLUICE_TRY_STATUS(CheckKeys(a, {"approvers", "quorum", "forbidSelfApproval", "timeout",
                                  "instructions"}, "approval"));
  auto spec = std::make_unique<ApprovalSpec>();
  spec->loc = Loc(a);
  if (!a["approvers"]) return FailAt(Loc(a), "approval needs approvers: user names or group:NAME");
  SLUICE_TRY_STATUS(ExpectList(a["approvers"], "approvers"));
  for (const auto& who : a["approvers"]) {
    SLUICE_TRY(s, Str(who, "an approver"));
    std::string_view name = StartsWith(*s, "group:") ? std::string_view(*s).substr(6) : *s;
    if (!IsName(name)) return FailAt(Loc(who), "an approver is a user name or group:NAME, not {}", Quote(*s));
    spec->approvers.push_back(*s);
  }
  if (spec->approvers.empty()) return FailAt(Loc(a["approvers"]), "approval needs at least one approver");
  if (a["quorum"]) {
    SLUICE_TRY(q, Int(a["quorum"], "quorum", 1, 100));
    spec->quorum = static_cast<int>(*q);
  }
  if (a["forbidSelfApproval"]) {
    SLUICE_TRY(b, Bool(a["forbidSelfApproval"], "forbidSelfApproval"));
    spec->forbid_self = *b;
  }
  if (a["timeout"]) {
    SLUICE_TRY(ms, Duration(a["timeout"], "approval.timeout"));
    spec->timeout_ms = *ms;
  }
  if (a["instructions"]) {
    SLUICE_TRY(text, Str(a["instructions"], "instructions"));
    spec->instructions = *text;
  }
  return spec;
}

Status Reader::Gate(const YNode& g, std::vector<std::pair<std::string, Location>>* out) const {
  SLUICE_TRY_STATUS(ExpectMap(g, "gate"));
  SLUICE_TRY_STATUS(CheckKeys(g, {"policies"}, "gate"));
  if (!g["policies"]) return FailAt(Loc(g), "gate needs policies: the names of gate policies");
  SLUICE_TRY_STATUS(ExpectList(g["policies"], "gate.policies"));
  for (const auto& p : g["policies"]) {
    SLUICE_TRY(name, Name(p, "a gate policy"));
    out->emplace_back(*name, Loc(p));
  }
  return {};
}

}  // namespace sluice
