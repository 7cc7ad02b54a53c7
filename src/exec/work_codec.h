// The JSON forms of what crosses between the engine, the store's work queue and a `sluice
// worker`: an AttemptRequest (what to run) and an AttemptEnd (how it ended, with its outputs).
// They are stored in the work table (docs/store.md) and sent over the API (docs/workers.md), so
// field names are a protocol: add fields, never rename them.
#pragma once

#include <string>

#include "common/error.h"
#include "common/value.h"
#include "executor/executor.h"

namespace sluice {

// `req` as a JSON object. REQUIRES: it carries no secrets (a queued request is stored).
Value RequestToValue(const AttemptRequest& req);
// The request a JSON object holds; kInvalidInput naming the bad field when it is not one.
Result<AttemptRequest> RequestFromValue(const Value& v);

// `end` as a JSON object (its handle is not part of it: each side names attempts its own way).
Value EndToValue(const AttemptEnd& end);
// The end a JSON object holds, under `handle`; kInvalidInput naming the bad field.
Result<AttemptEnd> EndFromValue(const Value& v, AttemptHandle handle);

}  // namespace sluice
