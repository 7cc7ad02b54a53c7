// The JSON documents of runs, events and a run's status: what `-o json` prints and what
// `sluice server` serves (docs/api.md), built in one place so that both always agree.
#pragma once

#include <string>
#include <vector>

#include "cli/components.h"
#include "common/event.h"
#include "common/value.h"
#include "store/store.h"

namespace sluice {

// A run in a list (`sluice runs -o json`), with the status to show (cli_support.h ShownStatus).
Value RunSummaryJson(const RunRecord& r, const std::string& status);
// An API token as `sluice token list -o json` and GET /api/v1/tokens show it, never its secret;
// `state` (active, expired, revoked) as of `now_us`.
Value TokenJson(const TokenRow& t, int64_t now_us);
// One event (`sluice events -o json`).
Value EventJson(const Event& e);
// `status -o json`: the run, its labels, tasks, attempts, policy decisions and the component
// versions.
Value StatusJson(const RunRecord& run, const std::string& status, const std::vector<TaskRecord>& tasks,
                 const std::vector<AttemptRecord>& attempts, const std::vector<DecisionRow>& decisions,
                 const std::vector<ComponentUse>& uses, const Value& labels = Value(ValueMap{}));
// The labels run `run_id` was submitted with ({KEY: VALUE}, from its run.submitted audit record:
// a webhook trigger's, with sluice.trigger), an empty map when it has none or cannot be read.
Value StoredLabels(Store& store, const std::string& run_id);

// One audit record, a line of `sluice audit export` (and of GET /api/v1/audit/export).
Value AuditRecordJson(const AuditRecord& r);
// What `sluice audit verify -o json` prints (and GET /api/v1/audit/verify answers).
Value AuditCheckJson(const AuditCheck& c);

}  // namespace sluice
