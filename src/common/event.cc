#include "common/event.h"

namespace sluice {

namespace {
constexpr std::string_view kNames[] = {
    "run.created",       "run.started",    "task.skipped",     "task.expanded",
    "attempt.started",   "attempt.spawned", "attempt.finished", "retry.scheduled",
    "task.finished",     "run.finished",    "handler.started",  "run.phase",
    "group.retry",       "policy.decision", "approval.requested", "approval.decided",
    "run.retried",       "run.pruned"};
}  // namespace

std::string_view EventKindName(EventKind k) { return kNames[static_cast<int>(k)]; }

bool ParseEventKind(std::string_view name, EventKind* out) {
  for (size_t i = 0; i < std::size(kNames); ++i) {
    if (kNames[i] == name) {
      *out = static_cast<EventKind>(i);
      return true;
    }
  }
  return false;
}

}  // namespace sluice
