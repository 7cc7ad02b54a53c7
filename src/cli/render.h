// The text that `sluice runs`, `status` and `events` print without -o json, drawn from the JSON
// documents of views.h: those that -o json prints and `sluice server` serves. A command renders
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
// Epoch milliseconds of a time as the views write it ("2026-11-29T00:55:00.123Z",
// FormatTimestampMs), or nullopt when it is "" or not in that form.
std::optional<int64_t> ViewTimeMs(const std::string& ts);
// "1.5s" between two timestamps as the views write them (FormatTimestampMs); "" when either
// is empty or unreadable.
std::string DurationBetween(const std::string& from, const std::string& to);

}  // namespace sluice
