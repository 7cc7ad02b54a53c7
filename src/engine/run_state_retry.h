// Retrying a finished run in place (`sluice retry`, like `argo retry` or Airflow's clear): which
// task instances start over, and the run.retried event that says so. RunState::Apply replays
// that event (run_state_retry.cc), so a crash during a retried run resumes like any other.
//
// Design: the event lists the instances that start over, decided once from the state the run
// ended in; applying it changes nothing else that the state could not derive again. Rejected:
// recording the reset as one task event per instance (a million-task run retried would write a
// million events before anything ran) and deriving the set at replay from the requested names
// alone (the rule could change between versions; the list cannot).
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "common/event.h"
#include "engine/run_state.h"

namespace sluice {

// Whether a task in state `s` is retried: it failed, was upstream-failed, or was cancelled.
bool RetriedState(TaskState s);

// The run.retried event that retries `state`'s run, recorded as done by `by`. `requested` names
// the instances to retry (tasks or forEach items; empty: every one that failed, was
// upstream-failed or cancelled). What starts over: those instances (a forEach task's failed
// items only, the items that succeeded are kept), every task downstream of them, and the whole
// group (spec.groups) of any of them. Tasks that succeeded elsewhere keep their outputs.
// On success returns the event (kind, message, data; the caller records it). On failure:
// kConflict when the run is not finished, ended compensated (its completed work was undone:
// `sluice rerun` starts anew), or has nothing to retry; kInvalidInput when a requested name is
// not a task of the run, names a handler or a finally task, or did not fail.
Result<Event> RetryEvent(const RunState& state, const std::vector<std::string>& requested,
                         const std::string& by);

// The instances a retry that starts `reset` over retires, in index order: the items of forEach
// tasks that expand again, every finally task (they run again when the retried run ends), and
// the handlers of all these and of the reset instances.
std::vector<int> RetiredByRetry(const RunState& state, const std::vector<int>& reset);

}  // namespace sluice
