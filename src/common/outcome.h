// Outcomes as types: why an attempt or a task failed (ErrorClass), and how a run or an attempt
// ended (RunStatus, AttemptStatus). Inside Sluice they are enums; their names are the form
// written into events and the store and printed by the CLI, and they are turned into names and
// back only through the functions here. Each rule about classes ("never retried") is one
// function here too, so no caller compares names.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice {

enum class ErrorClass : uint8_t {
  kNone,             // no failure
  kExit,             // the program exited non-zero (code: the exit status)
  kSignal,           // a signal ended it (code: the signal number)
  kTimeout,          // its timeout, its task's deadline or the run's deadline passed
  kSpawnError,       // it could not be started
  kOutputsError,     // it exited 0 without the outputs it declares
  kLost,             // its outcome is unknown: sluice (or its worker) stopped while it ran
  kCancelled,        // stopped on purpose: a cancel, failFast, a group that starts over
  kCircuitOpen,      // its circuit breaker was open
  kExpressionError,  // a placeholder, when or forEach could not be evaluated
  kUnschedulable,    // it asks for more than the machine offers
  kPolicyDenied,     // a gate policy denied it
  kApprovalRejected, // its approval was rejected or timed out
  kDepthLimit,       // a call of a DAG template would nest deeper than spec.maxDepth
  kAnalysisFailed,   // a deploy's analysis failed or errored: the rollout was aborted
  kOom,              // its cluster killed it for using more memory than it asked (Slurm's
                     // OUT_OF_MEMORY)
  kInternal,         // a bug in Sluice
  kAny,              // only in `on:`/`except:`/`catch.on` lists: every class
};

// How a deploy task's rollout process (src/rollout, docs/rollouts.md) ends when it does not
// succeed: the engine gives these their classes. Any other code is an exit(N) of the process.
inline constexpr int kDeployExitAnalysisFailed = 3;  // aborted by its analysis: analysis-failed
inline constexpr int kDeployExitRefused = 4;  // its promotion rules refused it: policy-denied
inline constexpr int kDeployExitAborted = 5;  // a person aborted it: cancelled

// "exit", "spawn-error", ...; kNone is "".
std::string_view ErrorClassName(ErrorClass c);
std::optional<ErrorClass> ParseErrorClass(std::string_view name);
// "exit(3)", "signal(9)", "timeout": how a class with its code reads in messages and status.
std::string ErrorLabel(ErrorClass c, int code);
// A failure no retry repeats: someone or something said no (a cancel, a policy, a person).
bool NeverRetried(ErrorClass c);

// How a run stands, as its run.finished and run.phase events and the runs table say.
enum class RunStatus : uint8_t {
  kPending,
  kRunning,
  kSucceeded,
  kFailed,
  kCancelled,
  kCompensating,
  kCompensated,
  kCompensationFailed,
};
std::string_view RunStatusName(RunStatus s);
std::optional<RunStatus> ParseRunStatus(std::string_view name);
// succeeded, failed, cancelled, compensated, compensation-failed.
bool IsFinished(RunStatus s);

// How an attempt ended, as its attempt.finished event says.
enum class AttemptStatus : uint8_t { kSucceeded, kFailed };
std::string_view AttemptStatusName(AttemptStatus s);
std::optional<AttemptStatus> ParseAttemptStatus(std::string_view name);

}  // namespace sluice
