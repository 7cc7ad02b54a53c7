// Retention: `sluice prune --older-than 30d` on a state folder, and the same pass a server makes
// for its --retention (docs/store.md, "Retention"). A finished run older than the cutoff loses
// its records (events, projections, sources, cache entries, decisions, approvals), its folder
// (logs, work folders, journal) and, once no kept run or cache entry refers to them, its
// artifacts; it keeps its audit records and a tombstone event (`run.pruned`).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/value.h"
#include "env/env.h"
#include "store/store.h"

namespace sluice {

struct PruneOptions {
  int64_t older_than_us = 0;  // runs that finished longer ago than this are pruned
  // Namespaces' own ages (a server's --retention NS=D; 0: never). When any is given, each
  // namespace is pruned by its own age, else by older_than_us, where 0 then keeps its runs.
  std::map<std::string, int64_t> namespace_older_than_us;
  bool dry_run = false;       // list what would go; change nothing
  // At most this many runs a call (0: all): a server prunes a large backlog a batch per tick
  // of its leader's loop, which also starts engines and fires schedules.
  int max_runs = 0;
  std::string actor;          // who the audit records and tombstones name
  std::string reason;         // why, for the audit: "sluice prune --older-than 30d", "retention"
};

struct PruneReport {
  std::vector<RunRecord> pruned;      // (dry run: would be)
  std::vector<std::string> busy;      // finished runs some process holds (a retry): kept
  int artifacts_removed = 0;          // digest folders (dry run: would be)
  std::vector<std::string> warnings;  // what could not be removed, one line each
  // max_runs were pruned and more may be due: call again (artifacts are collected by the call
  // that finds none left).
  bool more = false;
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

// --- parity (issue 13): what `prune` shares with POST /api/v1/prune and `prune --server`.
// The answer of a prune: `prune -o json`'s {"dry_run", "runs", "busy", "artifacts"}, with
// "pruned" ({"id", "pipeline", "status", "finished"} of each run) and "warnings" for the text.
Value PruneAnswer(const PruneReport& report, bool dry_run);
// Prints answer `answer` of a prune of runs older than `older_than` as `prune` does: its
// warnings on stderr, then -o json's document or the lines of text. Returns 0.
int PrintPruned(bool json, const Value& answer, const std::string& older_than);
// --- end of parity

}  // namespace sluice
