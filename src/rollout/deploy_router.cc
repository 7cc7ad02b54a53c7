// nginx and command routers (deploy_router.h).
//
// nginx: Sluice owns one file the main configuration includes in `http {}`: the environment's
// upstream block with each slot's weight (a slot with none is left out: nginx refuses weight=0)
// and the generation in a map, which the configuration answers at the live URL. A new split is
// written beside the file, moved into place, checked with the environment's `nginx -t`
// (restoring the old file when it fails, so that a broken split never reaches a reload), and
// signalled to the master with SIGHUP; a failed reload is silent in nginx, so the rollout waits
// until the live URL answers the new generation, and then until the master's workers of before
// the signal have exited: nginx starts new workers, sleeps 100 ms, then tells the old ones to
// finish, and until then they still send requests to the old split. Measured here: live
// ~120-150 ms after the signal (../shared/research/canary-stack.md, bench/RESULTS.md).
#include "rollout/deploy_router.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <chrono>
#include <thread>
#include <vector>

#include "common/strings.h"
#include "common/value.h"
#include "rollout/providers.h"

namespace sluice {

namespace {

constexpr int64_t kCommandTimeoutUs = 30'000'000;

std::string Tail(const std::string& text) {
  std::string t(Trim(text));
  return t.size() > 300 ? t.substr(t.size() - 300) : t;
}

// Runs a hook: fails with its output when it does not exit 0.
Status RunHook(const std::vector<std::string>& argv, std::string_view what) {
  auto r = RunCapturedCommand(argv, "/", kCommandTimeoutUs, 64 * 1024);
  if (!r) return std::unexpected(r.error());
  if (r->exit_code == 0) return {};
  return Fail(ErrorCode::kIo, "{} ({}) {}: {}", what, Join(argv, " "),
              r->timed_out ? "timed out" : r->exit_code >= 0
                                               ? fmt::format("exited with {}", r->exit_code)
                                               : fmt::format("was killed by signal {}", r->signal),
              Tail(r->out));
}

class NginxRouter : public Router {
 public:
  NginxRouter(const EnvironmentSpec& env) : env_(env), spec_(env.router) {}

  Status Apply(const std::vector<SlotWeight>& weights, int64_t generation) override {
    std::string text = fmt::format("# written by sluice: environment {}, generation {}\n"
                                   "upstream {} {{\n", env_.name, generation, spec_.upstream);
    for (const auto& w : weights) {
      if (w.weight > 0) text += fmt::format("    server {} weight={};\n", w.address, w.weight);
    }
    text += fmt::format("}}\nmap $host $sluice_generation {{ default \"{}\"; }}\n", generation);
    SLUICE_TRY_STATUS(Install(text));
    SLUICE_TRY_STATUS(Reload());
    return AwaitLive(generation);
  }

 private:
  Status Install(const std::string& text) {
    const std::string& file = spec_.file;
    const std::string next = file + ".next", previous = file + ".previous";
    SLUICE_TRY_STATUS(WriteWhole(next, text));
    const bool had = ::access(file.c_str(), F_OK) == 0;
    if (had && ::link(file.c_str(), previous.c_str()) != 0 && errno == EEXIST) {
      ::unlink(previous.c_str());
      (void)::link(file.c_str(), previous.c_str());
    }
    if (::rename(next.c_str(), file.c_str()) != 0) {
      return Fail(ErrorCode::kIo, "cannot move {} into place: {}", next, strerror(errno));
    }
    if (auto checked = RunHook(spec_.test, "the nginx configuration check"); !checked) {
      if (had) (void)::rename(previous.c_str(), file.c_str());
      return checked;
    }
    ::unlink(previous.c_str());
    return {};
  }

  static Status WriteWhole(const std::string& path, const std::string& text) {
    FILE* f = std::fopen(path.c_str(), "w");
    if (!f) return Fail(ErrorCode::kIo, "cannot write {}: {}", path, strerror(errno));
    const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size() &&
                    std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
    std::fclose(f);
    if (!ok) return Fail(ErrorCode::kIo, "cannot write {}: {}", path, strerror(errno));
    return {};
  }

  Status Reload() {
    FILE* f = std::fopen(spec_.pid_file.c_str(), "r");
    long pid = 0;
    if (f) {
      if (std::fscanf(f, "%ld", &pid) != 1) pid = 0;
      std::fclose(f);
    }
    if (pid <= 1) {
      return Fail(ErrorCode::kIo, "nginx is not running: no pid in {}", spec_.pid_file);
    }
    old_workers_ = Children(pid);
    master_ = pid;
    if (::kill(static_cast<pid_t>(pid), SIGHUP) != 0) {
      return Fail(ErrorCode::kIo, "cannot signal nginx (pid {} of {}): {}", pid,
                  spec_.pid_file, strerror(errno));
    }
    return {};
  }

  // The processes whose parent is `pid` (Linux's children file of its main thread).
  static std::vector<long> Children(long pid) {
    std::vector<long> out;
    FILE* f = std::fopen(fmt::format("/proc/{}/task/{}/children", pid, pid).c_str(), "r");
    if (!f) return out;
    long child;
    while (std::fscanf(f, "%ld", &child) == 1) out.push_back(child);
    std::fclose(f);
    return out;
  }

  bool OldWorkersGone() const {
    const std::vector<long> now = Children(master_);
    return std::none_of(old_workers_.begin(), old_workers_.end(), [&](long pid) {
      return std::find(now.begin(), now.end(), pid) != now.end();
    });
  }

  Status AwaitLive(int64_t generation) {
    const std::string want = std::to_string(generation);
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(spec_.live_timeout_ms);
    std::string last = "nothing";
    while (std::chrono::steady_clock::now() < deadline) {
      const auto answer = HttpRequest("GET", spec_.live_url, {}, "", 1'000'000);
      if (answer && answer->status == 200 && Trim(answer->body) == want) {
        // Served; the old workers still finish what they started. An old worker still busy at
        // the deadline holds only requests that began before the split: the split is live.
        while (!OldWorkersGone() && std::chrono::steady_clock::now() < deadline) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        return {};
      }
      last = answer ? Quote(Trim(answer->body)) : answer.error().message;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return Fail(ErrorCode::kIo, "nginx did not serve generation {} within {} ({} answered "
                "{}): see nginx's error log", want, FormatDurationMs(spec_.live_timeout_ms),
                spec_.live_url, last);
  }

  const EnvironmentSpec& env_;
  const RouterSpec& spec_;
  long master_ = 0;                // nginx's master at the last reload
  std::vector<long> old_workers_;  // its children then
};

class CommandRouter : public Router {
 public:
  CommandRouter(const EnvironmentSpec& env) : env_(env), spec_(env.router) {}

  Status Apply(const std::vector<SlotWeight>& weights, int64_t generation) override {
    const std::string json = WeightsJson(env_.name, generation, weights);
    std::vector<std::string> apply = spec_.apply;
    apply.push_back(json);
    SLUICE_TRY_STATUS(RunHook(apply, "the router's apply hook"));
    if (spec_.live.empty()) return {};
    std::vector<std::string> live = spec_.live;
    live.push_back(json);
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(spec_.live_timeout_ms);
    Status last;
    while (true) {
      last = RunHook(live, "the router's live hook");
      if (last || std::chrono::steady_clock::now() >= deadline) return last;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

 private:
  const EnvironmentSpec& env_;
  const RouterSpec& spec_;
};

}  // namespace

std::string WeightsJson(const std::string& environment, int64_t generation,
                        const std::vector<SlotWeight>& weights) {
  ValueList list;
  for (const auto& w : weights) {
    list.push_back(Value(ValueMap{{Value("slot"), Value(w.slot)},
                                  {Value("address"), Value(w.address)},
                                  {Value("weight"), Value(int64_t{w.weight})}}));
  }
  return Value(ValueMap{{Value("environment"), Value(environment)},
                        {Value("generation"), Value(generation)},
                        {Value("weights"), Value(std::move(list))}})
      .ToJson();
}

std::unique_ptr<Router> MakeRouter(const EnvironmentSpec& spec) {
  if (spec.router.kind == RouterSpec::Kind::kNginx) return std::make_unique<NginxRouter>(spec);
  return std::make_unique<CommandRouter>(spec);
}

}  // namespace sluice
