// The `sluice` commands. main.cc parses the command line (CLI11), builds the one real Env and
// calls these with it; each reaches the clock, files, processes, locks and variables only
// through that Env (tests pass a FakeEnv), and returns the process exit code: 0 success, 1 the
// run failed, 2 invalid input or usage, 3 internal.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "env/env.h"
#include "interop/argo_options.h"

namespace sluice {

struct GlobalOptions {
  std::string state_dir;  // resolved: --state-dir, $SLUICE_HOME, or ./.sluice
  bool json = false;      // -o json
  std::string as;         // --as USER ("" = $SLUICE_USER or the login name)
  // --store or $SLUICE_STORE: where runs are stored when not in the state folder's sluice.db,
  // postgresql://... (docs/store.md#postgresql) or sqlite:PATH; "" = the state folder's.
  std::string store;
};

// How a run executes in this process (run, resume, cancel).
struct ExecOptions {
  int jobs = 0;       // 0 = number of cores
  double gpus = 0;    // GPUs this machine offers to tasks
  bool stats = false;
  bool cancel_only = false;
  bool rollback = false;
  int64_t load_us = 0;    // measured by the caller, reported by --stats
  int64_t submit_us = 0;
  // resume, rollback: secret params given again (-p NAME=VALUE); their values are never stored.
  std::map<std::string, std::string> secret_params;
  // sluice retry (rerun.cc): the run's failed tasks named (empty: all) start over, by `actor`.
  bool retry = false;
  std::vector<std::string> retry_tasks;
  std::string actor;
};

struct RunOptions {
  std::string file;
  std::map<std::string, std::string> params;
  std::string params_file;  // --params-file: a YAML or JSON map of params; `params` override it
  std::string policies;  // --policies DIR: admission policies and waivers beside the pipeline's
  ExecOptions exec;
  ArgoImportOptions argo;  // when `file` is an Argo Workflows file (docs/interop.md)
};

// Called by main before any command: files and folders created from now on give other users no
// access (0600/0700), or give the group what the owner has (0660/0770) when `state_dir` has
// the set-group-id bit (a state folder shared through a Unix group). Tasks start with the
// caller's umask. docs/security.md, "Files and permissions".
void ProtectStateFiles(Env& env, const std::string& state_dir);

int CmdRun(Env& env, const GlobalOptions& g, const RunOptions& o);
// Continues a stopped run; with o.rollback, compensates a finished one (`sluice rollback`).
int CmdResume(Env& env, const GlobalOptions& g, const std::string& run, const ExecOptions& o);
// With `params` (-p) or a `params_file`, also binds them (as `run` would) and fails on a bad one.
// An Argo Workflows file is imported first (`argo`: its options).
int CmdValidate(Env& env, const GlobalOptions& g, const std::string& file,
                const std::string& policies, const std::map<std::string, std::string>& params = {},
                const std::string& params_file = "", const ArgoImportOptions& argo = {});
// `sluice import argo FILE [-o OUT]`: the Sluice pipeline an Argo file translates into, checked
// by loading it, on stdout or written to `out` (whole or not at all).
int CmdImportArgo(Env& env, const GlobalOptions& g, const std::string& file,
                  const std::string& out, const ArgoImportOptions& argo);
// `sluice policy eval [FILE] --input JSON`: every rule of every policy in FILE on the input;
// without FILE, of the state folder's central policies with their granted waivers.
int CmdPolicyEval(Env& env, const GlobalOptions& g, const std::string& file,
                  const std::string& input);
// `sluice policy test DIR`: the cases of every test file in DIR; exit 1 on a mismatch.
int CmdPolicyTest(Env& env, const GlobalOptions& g, const std::string& dir);
// `sluice graph FILE|RUN`: a pipeline file's DAG (dot, mermaid), or a stored run's colored by
// state (dot); with format svg or png, laid out by Graphviz's `dot` program. Written to
// `out_file`, or stdout when it is "".
int CmdGraph(Env& env, const GlobalOptions& g, const std::string& target, const std::string& format,
             const std::string& out_file = "");
// --- parity (issue 13; graph_cmd.cc): the parts of `graph` the CLI against a server shares.
class Store;
// The DOT of stored run `id` (a unique prefix too) in `store`, colored by state (with `json`:
// the same nodes and edges as JSON, RunGraphToJson, which the web UI lays out). On failure
// returns the store's error (kNotFound for no such run) or why its pipeline cannot be reloaded.
Result<std::string> RunGraphDot(Env& env, const GlobalOptions& g, Store& store,
                                const std::string& id, bool json = false);
// The DOT (or, with `format` mermaid, the Mermaid) of pipeline file `file`, or its load error.
Result<std::string> PipelineGraph(Env& env, const std::string& file, const std::string& format);
// Writes graph `text` (DOT or Mermaid) as `graph` does: laid out by Graphviz's dot for svg and
// png, to `out_file` (saying so on stderr) or stdout. Returns the exit code.
int WriteGraph(Env& env, std::string text, const std::string& format, const std::string& out_file);
// --- end of parity
int CmdRuns(Env& env, const GlobalOptions& g, int limit);
int CmdStatus(Env& env, const GlobalOptions& g, const std::string& run);
// The run's event log, in order: what happened, for debugging and tests.
int CmdEvents(Env& env, const GlobalOptions& g, const std::string& run);
int CmdLogs(Env& env, const GlobalOptions& g, const std::string& run, const std::string& task,
            int attempt, bool follow);
int CmdCancel(Env& env, const GlobalOptions& g, const std::string& run);
int CmdCacheList(Env& env, const GlobalOptions& g);
int CmdBreakers(Env& env, const GlobalOptions& g);
// The audit log: verify the hash chain (against an exported head hash, when given), export it
// as JSON Lines, or say who the commands run as.
int CmdAuditVerify(Env& env, const GlobalOptions& g, const std::string& head);
int CmdAuditExport(Env& env, const GlobalOptions& g);
int CmdWhoami(Env& env, const GlobalOptions& g);
// Approvals: list what waits (all: also decided ones); approve or reject one as the current user.
int CmdApprovals(Env& env, const GlobalOptions& g, bool all);
int CmdVote(Env& env, const GlobalOptions& g, const std::string& run, const std::string& task,
            bool approve, const std::string& comment);
// order: open, close, reset or disable.
int CmdBreakerOrder(Env& env, const GlobalOptions& g, const std::string& order,
                    const std::string& name);
int CmdCacheClear(Env& env, const GlobalOptions& g);

// Waivers of central policies (waivers.cc): `sluice waiver grant|list|revoke`. Granting and
// revoking need the grant-waivers right in users.yaml, and are audited.
struct WaiverGrant {
  std::string name, policy, rule, pipeline, task, justification, expires;
};
// API tokens of a `sluice server` on this state folder (tokens.cc).
struct TokenRequest {
  std::string user;
  std::vector<std::string> roles;  // ROLE or NAMESPACE=ROLE
  int64_t expires_in_s = 0;        // 0 = never
};
int CmdTokenCreate(Env& env, const GlobalOptions& g, const TokenRequest& req);
int CmdTokenList(Env& env, const GlobalOptions& g);
int CmdTokenRevoke(Env& env, const GlobalOptions& g, const std::string& id);

int CmdWaiverGrant(Env& env, const GlobalOptions& g, const WaiverGrant& w);
int CmdWaiverList(Env& env, const GlobalOptions& g);
int CmdWaiverRevoke(Env& env, const GlobalOptions& g, const std::string& name);
// Evaluates an expression with variables given as JSON (`name=JSON` and/or a JSON object file).
int CmdEval(Env& env, const std::string& expr, const std::vector<std::string>& vars,
            const std::string& vars_file);

}  // namespace sluice
