// The experiment's control plane (control_plane.h). Its servers share the experiment's state
// folder (with SQLite, one leads by STATE/leader.lock; docs/server.md), listen on loopback ports
// chosen at their first start and kept across restarts, so that workers and clients find a
// restarted server where it was.
#include "chaos/control_plane.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "chaos/run_records.h"
#include "chaos/spawn.h"
#include "common/strings.h"
#include "env/env.h"
#include "rollout/providers.h"

namespace sluice {

namespace {

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string Slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace

Result<std::unique_ptr<ControlPlane>> ControlPlane::Start(Options o) {
  std::unique_ptr<ControlPlane> cp(new ControlPlane(std::move(o)));
  const Options& op = cp->o_;
  std::vector<std::string> global = {op.sluice, "--state-dir", op.state_dir};
  if (!op.store.empty()) global.insert(global.end(), {"--store", op.store});
  for (auto [user, role, out] : {std::tuple{"chaos", "operator", &cp->operator_token_},
                                 std::tuple{"chaos-worker", "worker", &cp->worker_token_}}) {
    auto argv = global;
    argv.insert(argv.end(), {"token", "create", "--user", user, "--role", role});
    auto r = RunCapturedCommand(argv, op.dir, 30'000'000, 4096);
    if (!r || r->exit_code != 0) {
      return Fail(ErrorCode::kIo, "target.server: `sluice token create` failed{}",
                  r ? fmt::format(" (exit {})", r->exit_code) : ": " + r.error().message);
    }
    *out = std::string(Trim(r->out));
  }
  for (int i = 0; i < op.spec.servers; ++i) {
    Proc p;
    p.name = fmt::format("server-{}", i + 1);
    p.argv = global;
    p.argv.insert(p.argv.end(), {"server", "--listen", "127.0.0.1:0"});
    if (op.spec.lease_ms) {
      p.argv.insert(p.argv.end(), {"--lease-time", std::to_string(op.spec.lease_ms / 1000)});
    }
    cp->servers_.push_back(std::move(p));
    SLUICE_TRY_STATUS(cp->StartProc(cp->servers_.back(), "listening on http://", 20'000));
  }
  for (int i = 0; i < op.spec.workers; ++i) {
    Proc p;
    p.name = fmt::format("worker-{}", i + 1);
    const std::string work = op.dir + "/" + p.name;
    // Every server, its own first: a worker fails over to the next when one is down.
    std::vector<std::string> urls;
    for (size_t k = 0; k < cp->servers_.size(); ++k) {
      urls.push_back(cp->servers_[(i + k) % cp->servers_.size()].url);
    }
    p.argv = {op.sluice, "worker", "--server", Join(urls, ","), "--work-dir", work, "--name",
              "chaos-" + p.name, "--slots", std::to_string(op.spec.slots)};
    p.env = {"SLUICE_TOKEN=" + cp->worker_token_};
    cp->workers_.push_back(std::move(p));
    SLUICE_TRY_STATUS(cp->StartProc(cp->workers_.back(), "registered with", 20'000));
  }
  return cp;
}

// Starts `p` and waits until its stdout says `ready_text`; a server's first start fixes its port.
Status ControlPlane::StartProc(Proc& p, const std::string& ready_text, int64_t timeout_ms) {
  p.out = o_.dir + "/" + p.name + ".out";
  p.err = o_.dir + "/" + p.name + ".log";
  SLUICE_TRY(pid, Spawn({p.argv, p.env, p.out, p.err}));
  p.pid = *pid;
  p.restart_at_us = 0;
  for (int64_t t = 0; t < timeout_ms; t += 20) {
    const std::string out = Slurp(p.out);
    if (const size_t at = out.find(ready_text); at != std::string::npos) {
      if (p.url.empty() && ready_text.starts_with("listening")) {
        const size_t from = at + ready_text.size() - 7;  // "http://"
        p.url = std::string(Trim(out.substr(from, out.find('\n', from) - from)));
        for (auto& a : p.argv) {
          if (a == "127.0.0.1:0") a = p.url.substr(7);  // restarts listen where it was
        }
      }
      return {};
    }
    int status = 0;
    if (waitpid(p.pid, &status, WNOHANG) == p.pid) {
      p.pid = 0;
      return Fail(ErrorCode::kIo, "target.server: {} exited with {} before it was up (see {})",
                  p.name, ExitCodeOf(status), p.err);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Fail(ErrorCode::kIo, "target.server: {} was not up within {} s (see {})", p.name,
              timeout_ms / 1000, p.err);
}

std::string ControlPlane::url() const {
  for (const auto& s : servers_) {
    if (s.pid > 0) return s.url;
  }
  return servers_.empty() ? "" : servers_[0].url;
}

ControlPlane::Proc* ControlPlane::Victim(const std::string& what,
                                         const std::vector<std::string>& holders) {
  if (what == "server") {
    for (auto& s : servers_) {
      if (s.pid > 0 && s.url == url()) return &s;  // the one the runs are submitted to
    }
  } else if (what == "leader") {
    for (auto& s : servers_) {
      if (s.pid <= 0) continue;
      const auto a = HttpRequest("GET", s.url + "/readyz", {}, "", 2'000'000);
      auto doc = a ? ParseJson(a->body) : Result<Value>(std::unexpected(a.error()));
      const Value* leader = doc && doc->is_map() ? doc->Find("leader") : nullptr;
      if (leader && leader->is_bool() && leader->as_bool()) return &s;
    }
  } else if (what == "worker") {
    // A worker that holds a lease of the run; else the next one in turn.
    for (auto& w : workers_) {
      if (w.pid > 0 && std::find(holders.begin(), holders.end(), "chaos-" + w.name) != holders.end()) return &w;
    }
    for (size_t i = 0; i < workers_.size(); ++i) {
      Proc& w = workers_[next_worker_++ % workers_.size()];
      if (w.pid > 0) return &w;
    }
  }
  return nullptr;
}

std::string ControlPlane::Kill(const std::string& what, const std::string& run_id,
                               const std::vector<std::string>& holders, int64_t restart_ms) {
  if (what == "engine") {
    const std::string lock = o_.state_dir + "/runs/" + run_id + "/lock";
    const long pid = std::atol(Slurp(lock).c_str());
    if (run_id.empty() || pid <= 0 || ::kill(static_cast<pid_t>(pid), SIGKILL) != 0) {
      Note("nothing to kill", nullptr, 0, "the engine of run " + run_id);
      return "kill -9 of the engine of run " + run_id + ": no engine was running";
    }
    Note("kill -9", nullptr, static_cast<pid_t>(pid), "the engine of run " + run_id);
    return fmt::format("kill -9 of the engine of run {} (pid {})", run_id, pid);
  }
  Proc* p = Victim(what, holders);
  if (!p) {
    Note("nothing to kill", nullptr, 0, what);
    return "kill -9 of the " + what + ": none was up";
  }
  const pid_t pid = p->pid;
  ::kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  p->pid = 0;
  p->restart_at_us = NowUs() + restart_ms * 1000;
  Note("kill -9", p, pid);
  return fmt::format("kill -9 of {} (pid {}), started again {} later", p->name, pid,
                     FormatDurationMs(restart_ms));
}

void ControlPlane::Restart(bool all) {
  for (auto* group : {&servers_, &workers_}) {
    for (auto& p : *group) {
      if (p.pid > 0 || p.restart_at_us == 0) continue;
      const int64_t wait_us = p.restart_at_us - NowUs();
      if (wait_us > 0 && !all) continue;
      if (wait_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(wait_us));
      const bool server = group == &servers_;
      if (auto s = StartProc(p, server ? "listening on http://" : "registered with", 20'000); !s) {
        Note("restart failed: " + s.error().message, &p, 0);
        p.restart_at_us = 0;  // not again: the journal says so
      } else {
        Note("restarted", &p, p.pid);
      }
    }
  }
}

void ControlPlane::Stop() {
  for (auto* group : {&workers_, &servers_}) {  // workers drain first, while servers answer
    for (auto& p : *group) {
      if (p.pid > 0) StopProcess(p.pid, false, 15'000);
      p.pid = 0;
      p.restart_at_us = 0;
    }
  }
}

void ControlPlane::Note(const std::string& action, const Proc* p, pid_t pid,
                        const std::string& target) {
  events_.push_back(Value(ValueMap{{"time", Value(JournalTime(NowUs()))},
                                   {"action", Value(action)},
                                   {"target", Value(p ? p->name : target)},
                                   {"pid", Value(int64_t{pid})}}));
}

}  // namespace sluice
