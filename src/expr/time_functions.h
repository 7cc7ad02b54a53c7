// Timestamps and durations in expressions: parsing, formatting, accessors, arithmetic.
// Timestamps span years 0001-9999; durations what int64 nanoseconds hold (about +-292 years).
// Internal to src/expr (eval.cc calls it). Pure: named time zones would need the tz database
// (I/O), so only UTC and fixed offsets ("+05:30", "-08:00") are understood.
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "common/error.h"
#include "common/time_zone.h"
#include "common/value.h"

namespace sluice {

// The time functions: timestamp(x), duration(x), and the accessors (receiver-style: the
// receiver is args[0]). Returns nullopt when `f` with these arguments is not one of them; an
// error's message has no location (the caller adds it).
// `zones` resolves named time zones; null: only UTC and fixed offsets.
std::optional<Result<Value>> CallTimeFunction(std::string_view f, bool receiver,
                                              std::span<const Value> args, const TimeZones* zones);

// + and - between timestamps and durations; nullopt when the operands are not time values.
std::optional<Result<Value>> TimeArithmetic(std::string_view op, const Value& l, const Value& r);

// <0, 0, >0 for two timestamps or two durations. REQUIRES: the same time kind.
int CompareTime(const Value& l, const Value& r);

}  // namespace sluice
