// target.server (docs/chaos.md): the control plane an experiment starts on its own state folder
// (its servers on loopback ports, its workers under the experiment's folder), the process faults
// that kill its parts with SIGKILL and start them again, and stopping it all at the end.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/value.h"
#include "spec/experiment_spec.h"

namespace sluice {

class ControlPlane {
 public:
  struct Options {
    std::string sluice;     // the sluice program
    std::string state_dir;  // the experiment's --state-dir
    std::string store;      // --store, "" = the state folder's
    std::string dir;        // the experiment's folder: logs, workers' work folders
    ControlPlaneSpec spec;
  };
  // Makes an operator token and a worker token, starts the servers (each waited for until it
  // listens) and the workers (until each registered).
  static Result<std::unique_ptr<ControlPlane>> Start(Options o);
  ~ControlPlane() { Stop(); }

  // A server that is up (the runs are submitted to it), and the token that may submit.
  std::string url() const;
  const std::string& token() const { return operator_token_; }

  // The process fault: kill -9 of `what` (engine, worker, server, leader) of run `run_id`,
  // started again `restart_ms` later (worker, server, leader). A worker is one of `holders`
  // (the names of the workers that hold a lease of the run) when one is up. Returns what it did,
  // in a line.
  std::string Kill(const std::string& what, const std::string& run_id,
                   const std::vector<std::string>& holders, int64_t restart_ms);

  // Starts again what is due. `all`: also what is not due yet (before the next run starts).
  void Restart(bool all);
  // Stops the workers (they drain), then the servers; idempotent.
  void Stop();
  // Every kill and restart: {time, action, target, pid}.
  Value Events() const { return Value(events_); }

 private:
  struct Proc {
    std::string name, url, out, err;
    std::vector<std::string> argv, env;
    pid_t pid = 0;
    int64_t restart_at_us = 0;  // killed: when to start it again; 0 = up
  };
  explicit ControlPlane(Options o) : o_(std::move(o)) {}
  Status StartProc(Proc& p, const std::string& ready_text, int64_t timeout_ms);
  Proc* Victim(const std::string& what, const std::vector<std::string>& holders);
  void Note(const std::string& action, const Proc* p, pid_t pid, const std::string& target = "");

  Options o_;
  std::string operator_token_, worker_token_;
  std::vector<Proc> servers_, workers_;
  size_t next_worker_ = 0;
  ValueList events_;
};

}  // namespace sluice
