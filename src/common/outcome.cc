#include "common/outcome.h"

#include <fmt/format.h>

#include <iterator>

namespace sluice {

namespace {

constexpr std::string_view kErrorClassNames[] = {
    "",          "exit",          "signal",        "timeout",          "spawn-error",
    "outputs-error", "lost",      "cancelled",     "circuit-open",     "expression-error",
    "unschedulable", "policy-denied", "approval-rejected", "depth-limit", "analysis-failed",
    "oom", "internal", "any"};
static_assert(std::size(kErrorClassNames) == static_cast<size_t>(ErrorClass::kAny) + 1);

constexpr std::string_view kRunStatusNames[] = {
    "pending",   "running",      "succeeded",   "failed",
    "cancelled", "compensating", "compensated", "compensation-failed"};
static_assert(std::size(kRunStatusNames) == static_cast<size_t>(RunStatus::kCompensationFailed) + 1);

constexpr std::string_view kAttemptStatusNames[] = {"succeeded", "failed"};

template <typename E, size_t N>
std::optional<E> ParseName(const std::string_view (&names)[N], std::string_view name) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == name) return static_cast<E>(i);
  }
  return std::nullopt;
}

}  // namespace

std::string_view ErrorClassName(ErrorClass c) { return kErrorClassNames[static_cast<int>(c)]; }

std::optional<ErrorClass> ParseErrorClass(std::string_view name) {
  return ParseName<ErrorClass>(kErrorClassNames, name);
}

std::string ErrorLabel(ErrorClass c, int code) {
  if ((c == ErrorClass::kExit || c == ErrorClass::kSignal) && code > 0) {
    return fmt::format("{}({})", ErrorClassName(c), code);
  }
  return std::string(ErrorClassName(c));
}

bool NeverRetried(ErrorClass c) {
  return c == ErrorClass::kCancelled || c == ErrorClass::kPolicyDenied ||
         c == ErrorClass::kApprovalRejected || c == ErrorClass::kDepthLimit ||
         c == ErrorClass::kAnalysisFailed;
}

std::string_view RunStatusName(RunStatus s) { return kRunStatusNames[static_cast<int>(s)]; }

std::optional<RunStatus> ParseRunStatus(std::string_view name) {
  return ParseName<RunStatus>(kRunStatusNames, name);
}

bool IsFinished(RunStatus s) {
  return s == RunStatus::kSucceeded || s == RunStatus::kFailed || s == RunStatus::kCancelled ||
         s == RunStatus::kCompensated || s == RunStatus::kCompensationFailed;
}

std::string_view AttemptStatusName(AttemptStatus s) {
  return kAttemptStatusNames[static_cast<int>(s)];
}

std::optional<AttemptStatus> ParseAttemptStatus(std::string_view name) {
  return ParseName<AttemptStatus>(kAttemptStatusNames, name);
}

}  // namespace sluice
