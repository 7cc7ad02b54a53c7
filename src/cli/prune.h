// Retention: `sluice prune --older-than 30d` on a state folder, and the same pass a server makes
// for its --retention (docs/store.md, "Retention"). A finished run older than the cutoff loses
// its records (events, projections, sources, cache entries, decisions, approvals), its folder
// (logs, work folders, journal) and, once no kept run or cache entry refers to them, its
// artifacts; it keeps its audit records and a tombstone event (`run.pruned`).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "env/env.h"
#include "store/store.h"

namespace sluice {

// The right users.yaml grants an account to prune runs of a state folder it does not own.
inline constexpr std::string_view kRightPrune = "prune";

struct PruneOptions {
  int64_t older_than_us = 0;  // runs that finished longer ago than this are pruned
  bool dry_run = false;       // list what would go; change nothing
  std::string actor;          // who the audit records and tombstones name
  std::string reason;         // why, for the audit: "sluice prune --older-than 30d", "retention"
};

struct PruneReport {
  std::vector<RunRecord> pruned;      // (dry run: would be)
  std::vector<std::string> busy;      // finished runs some process holds (a retry): kept
  int artifacts_removed = 0;          // digest folders (dry run: would be)
  std::vector<std::string> warnings;  // what could not be removed, one line each
};

// An artifact no kept run refers to is collected only when its folder is older than this: a
// run that is storing one, or reusing an equal one, records it when its task ends.
inline constexpr int64_t kArtifactGraceUs = 3600LL * 1'000'000;

// Prunes the finished runs of `store` older than o.older_than_us and collects the artifacts
// under `state_dir` none of the rest refers to. Fails only on a store error (what was pruned
// before it stays pruned, each run in its own transaction).
Result<PruneReport> PruneRuns(Env& env, const GlobalOptions& g, Store& store,
                              const PruneOptions& o);

// `sluice prune --older-than DURATION [--dry-run]`: exit 0, 2 on a bad duration or a user who
// may not prune, 3 on a store error.
int CmdPrune(Env& env, const GlobalOptions& g, const std::string& older_than, bool dry_run);

}  // namespace sluice
