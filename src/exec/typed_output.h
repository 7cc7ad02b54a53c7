// Output params with a declared type: the value a task wrote, read as that type. Pure; used by
// the executors where outputs are collected (local_executor.cc), so a remote worker does the
// same.
#pragma once

#include <string_view>

#include "common/error.h"
#include "common/value.h"
#include "executor/executor.h"

namespace sluice {

// The name of a declared output type: "int", "list"...; "any" for none.
std::string_view OutputTypeName(WantedParam::Type t);

// `raw`, the value output `o` gave, as its declared type. Text (from a file or stdout: text) is
// read: int a decimal whole number, number an int or a decimal or exponent number, bool
// true/false, list and map JSON; a string stays as it is. A JSON value must already have the
// type (an int is a number). On failure: "output "acc" is declared int, but the task wrote
// "0.93"" (the value cut to 80 bytes).
Result<Value> TypedOutput(const WantedParam& o, Value raw);

}  // namespace sluice
