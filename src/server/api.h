// The handlers of the API under /api/v1 and of /healthz, /readyz and /metrics, registered on a
// Router. They take what they need from an ApiContext and return ApiResponses, so tests call
// them without a socket. docs/api.md and docs/openapi.yaml describe every route added here.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "env/env.h"
#include "server/metrics.h"
#include "server/router.h"

namespace sluice {

class Store;

// What every handler shares. Each server thread opens its own connection to the store (a Store
// is used by one thread), on its first request.
struct ApiContext {
  Env& env;
  GlobalOptions g;  // state_dir: the store's folder
  RequestMetrics& metrics;
  int64_t lease_us = 30'000'000;  // how long a worker's lease lasts unrenewed (--lease-time)
  // The calling thread's store; an error when it cannot be opened.
  Result<Store*> ThreadStore() const;
};

// Every route of the API, on `router`.
void AddApiRoutes(Router& router, const ApiContext& ctx);
// POST /api/v1/namespaces/{ns}/runs (submit.cc), added by AddApiRoutes.
void AddSubmitRoutes(Router& router, const ApiContext& ctx);
// A task's logs and run actions (actions.cc), added by AddApiRoutes.
void AddActionRoutes(Router& router, const ApiContext& ctx);

// For the handlers of api.cc, submit.cc and actions.cc: the answer to a failed store read or
// command (kNotFound 404, kInvalidInput 400, kConflict 409, else 500); the non-negative integer
// query parameter `name` (`fallback` when absent, at most `max`; nullopt when it is not one) and
// the 400 that says so.
ApiResponse FromError(const Error& e);
std::optional<int64_t> QueryInt(const ApiRequest& req, const std::string& name, int64_t fallback,
                                int64_t max);
ApiResponse BadQueryInt(const std::string& name);

// The namespace every run belongs to until submissions carry theirs (docs/api.md).
inline constexpr const char* kDefaultNamespace = "default";

}  // namespace sluice
