// The text that `sluice runs`, `status`, `events`, `approvals`, `approve|reject`, `breakers` (and
// its orders), `policy eval` and `audit verify` print without -o json, drawn from the JSON
// documents that -o json prints and `sluice server` serves (views.h, approval_rules.h,
// breakers.h, policy.h). A command renders
// the same text whether it read the local store or asked a server (`--server`, remote_cli.cc),
// because both paths hand these functions the same document.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/value.h"

namespace sluice {

// A list of runs (RunSummaryJson items, newest first): a header and one line a run.
std::string RunsText(const Value& runs);
// A list of events (EventJson items): one line an event.
std::string EventsText(const Value& events);
// A run's status (StatusJson): the run, its tasks, components, decisions other than allow, and
// the hint to resume an interrupted run.
std::string StatusText(const Value& status);
// Approval requests (ApprovalJson items): a header and a line each (its votes counted by
// distinct account against its quorum), with its instructions below.
std::string ApprovalsText(const Value& approvals);
// A vote as the API answers it ({"run", "task", "approve", "approvals", "quorum"}):
// "approved TASK of run RUN (N of Q approvals)".
std::string VoteText(const Value& vote);
// Breakers (BreakerJson items): a header, a line each and its last transitions.
std::string BreakersText(const Value& breakers);
// An order's transitions ({"name", "transitions": [{"from", "to"}]}): "NAME: FROM -> TO" each.
std::string BreakerOrderText(const Value& order);
// Policy decisions (DecisionToValue items): "RESULT  POLICY/RULE: MESSAGE" each.
std::string DecisionsText(const Value& decisions);
// An audit check (AuditCheckJson): "audit log ok: N records, head H" (and its note), or
// "audit log BROKEN at record N: WHY".
std::string AuditCheckText(const Value& check);

// Epoch milliseconds of a time as the views write it ("2026-11-29T00:55:00.123Z",
// FormatTimestampMs), or nullopt when it is "" or not in that form.
std::optional<int64_t> ViewTimeMs(const std::string& ts);
// "1.5s" between two timestamps as the views write them (FormatTimestampMs); "" when either
// is empty or unreadable.
std::string DurationBetween(const std::string& from, const std::string& to);

}  // namespace sluice
