// What the local trigger commands and `sluice server`'s trigger routes share (docs/triggers.md):
// reading a trigger file, the snapshot `sluice trigger apply` stores and loading it back, and
// what a webhook request makes of a trigger: whether its `when` holds, its params, its run id.
//
// A trigger's run is recorded by the path every new run takes (AdmitAndCreateRun,
// schedule_runs.h), by the actor "trigger:NAME", with the labels of the trigger and
// sluice.trigger=NAME. A request with an Idempotency-Key gets the run id
// trig-NAME-<16 hex digits of SHA-256(namespace/name/key)>, so that a webhook the sender
// delivers again finds the run its first delivery started (the store refuses the same id twice).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "access/access.h"
#include "common/value.h"
#include "env/env.h"
#include "spec/trigger_spec.h"
#include "store/store.h"

namespace sluice {

struct Plan;

// The triggers in trigger file `path` of `fs`. A trigger file holds only Trigger documents. On
// failure returns the error to report (kNotFound for a missing file, FILE:LINE:COL otherwise).
Result<std::vector<TriggerSpec>> ReadTriggerFile(FileSystem& fs, const std::string& path);

// The rows `sluice trigger apply` stores for the triggers of `path` in `fs` (an absolute path),
// by `actor` at `now_us`, without their tokens: each with its pipeline's files, its literal
// params checked against the pipeline's declarations and its params' names known to the
// pipeline. Fails at the first bad trigger, pipeline or param (FILE:LINE:COL), or a pipeline
// with secret params, which a webhook cannot give.
Result<std::vector<TriggerRow>> SnapshotTriggers(FileSystem& fs, const std::string& path,
                                                 const std::string& ns, const std::string& actor,
                                                 int64_t now_us);

// A stored trigger, loaded back from its snapshot.
struct LoadedTrigger {
  TriggerRow row;
  TriggerSpec spec;
  std::shared_ptr<const Plan> plan;
};
// Loads `row`'s trigger and pipeline from the files it was applied with. Fails (kConflict) when
// the snapshot no longer loads.
Result<LoadedTrigger> LoadStoredTrigger(const TriggerRow& row);

// A webhook request as a trigger's expressions read it: `body` (its JSON; null when empty) and
// `headers` (a map by lower-case name).
struct TriggerRequest {
  Value body;
  Value headers;
};
// Why the request starts no run (its `when` is false), or nullopt when it starts one. Fails
// (kInvalidInput) when the condition cannot be evaluated or is not a bool.
Result<std::optional<std::string>> TriggerSkipReason(const TriggerSpec& t, const TriggerRequest& req,
                                                     const TimeZones* zones);
// The trigger's params as -p texts for `plan` (BindParams reads them), its expressions evaluated
// on `req`; with `req` null (at apply) only its literals are checked and its expressions left
// out. Fails (kInvalidInput, naming the param) on a name the pipeline does not declare, an
// expression that fails, or a value of the wrong type.
Result<std::map<std::string, std::string>> TriggerParamTexts(const TriggerSpec& t, const Plan& plan,
                                                             const TriggerRequest* req,
                                                             const TimeZones* zones);
// The labels of a run trigger `t` starts: its metadata.labels and sluice.trigger=NAME.
Value TriggerRunLabels(const TriggerSpec& t);
// The audit actor of a trigger's runs: "trigger:NAME".
std::string TriggerActor(const std::string& name);
// The run id of a delivery with Idempotency-Key `key` (see above).
std::string TriggerRunId(const std::string& ns, const std::string& name, const std::string& key);

// How `trigger ls` and GET .../triggers show a stored trigger: namespace, name, pipeline,
// params (their names), when, tokenId, appliedBy, appliedAt, rotatedAt, labels.
Value TriggerJson(const LoadedTrigger& t);
// The text of `trigger ls`: a table of such items.
std::string TriggersText(const Value& items);
// Prints what apply or rotate answered, {"applied": [{"name", "created", "token"?}]} (as JSON
// with `json`): each new token once, on stdout, with a line on stderr saying to keep it.
void PrintTriggerTokens(const Value& answer, bool json);
// One entry of an apply or rotate answer (PrintTriggerTokens reads them): {name, created}, and
// the token's text and signing secret when `shown` (a new or rotated token: shown this once).
Value TriggerTokenItem(const std::string& name, bool created, const NewToken& token, bool shown);

}  // namespace sluice
