// `sluice worker`: the data plane's agent (docs/workers.md). It registers with a `sluice server`
// (the versions must match), leases attempts that fit its labels, slots and capacity, runs them
// with a LocalExecutor under --work-dir, streams their logs, uploads their artifacts and reports
// their ends; heartbeats keep its leases, and kill what the server says to kill.
//
// One thread, in ninja's loop: lease while slots are free, wait a slice for attempts to end,
// ship logs, heartbeat when due, report ends. Ends the server could not be told about (it was
// unreachable) are kept and sent again until it answers: they count as ended, not lost, while
// their leases hold (a server that starts gives every lease a full lease time). On SIGTERM or
// SIGINT it drains: takes nothing new, finishes what it holds, reports it, exits 0.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "env/env.h"

namespace sluice {

struct WorkerOptions {
  std::string server;  // http://HOST:PORT
  std::string token;   // SLUICE_TOKEN: a token with the worker (or admin) role
  std::vector<std::pair<std::string, std::string>> labels;
  int slots = 1;
  std::string work_dir;
  std::string name;        // shown by the server; default: the host's name
  double cpu = -1;         // capacity; < 0: the machine's cores (cpu), memory
  double memory = -1;
  double gpu = 0;
};

// Parses --labels "k=v,k2=v2" into sorted pairs; kInvalidInput naming the bad entry.
Result<std::vector<std::pair<std::string, std::string>>> ParseLabels(const std::string& text);

// Runs until drained (exit 0) or refused: 2 for a refusal by the server (another version, a
// bad token) or bad options.
int RunWorker(Env& env, WorkerOptions o);

}  // namespace sluice
