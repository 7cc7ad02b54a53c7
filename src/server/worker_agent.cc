// `sluice worker` (worker_agent.h).
#include "server/worker_agent.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include "common/strings.h"
#include "common/value.h"
#include "exec/local_executor.h"
#include "exec/work_codec.h"
#include "server/worker_cache.h"
#include "server/worker_client.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "dev"
#endif

namespace sluice {

Result<std::vector<std::pair<std::string, std::string>>> ParseLabels(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  if (text.empty()) return out;
  for (const std::string& entry : Split(text, ',')) {
    const size_t eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Fail(ErrorCode::kInvalidInput, "--labels: {} is not KEY=VALUE", Quote(entry));
    }
    out.emplace_back(entry.substr(0, eq), entry.substr(eq + 1));
  }
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

constexpr int64_t kSliceUs = 50'000;        // the wait for attempts to end, between chores
constexpr int64_t kLogEveryUs = 250'000;    // logs are shipped this often while attempts run
constexpr int64_t kRetryUs = 1'000'000;     // after the server could not be reached
constexpr int64_t kLogChunk = 1 << 20;
constexpr size_t kMaxEndsPerReport = 512;   // ends sent in one request

// An attempt the worker holds a lease for: running, or ended with its end not yet reported.
struct Held {
  int64_t id = 0;
  AttemptRequest req;
  AttemptHandle handle = 0;
  std::string logs[2];
  int64_t offsets[2] = {0, 0};
  bool ended = false;
  bool killed = false;  // its lease expired: its end is not reported (it would be refused)
  bool kept = false;    // its end is also in WORK/ends/LEASE.json (the server was unreachable)
  std::string worker;   // the worker id that holds its lease; "" = this process's
  AttemptEnd end;
};

class Agent {
 public:
  Agent(Env& env, const WorkerOptions& o, WorkerClient& client, LocalExecutor& local,
        WorkerCache& cache)
      : env_(env), o_(o), client_(client), local_(local), cache_(cache) {}

  int Run() {
    if (int rc = Register(); rc >= 0) return rc;
    LoadKept();
    while (true) {
      const int64_t now = env_.clock().NowUs();
      if (!draining_ && now >= next_lease_us_) LeaseMore();
      PollResult p = local_.Poll(Running() > 0 ? kSliceUs : 0);
      if (p.interrupted && !draining_) {
        draining_ = true;
        std::fprintf(stderr, "sluice worker: draining: finishing %d attempts, taking no new ones\n",
                     Running());
      }
      for (AttemptEnd& e : p.ends) Ended(e);
      if (!p.ends.empty()) local_.Recorded();
      if (env_.clock().NowUs() >= next_logs_us_) ShipAllLogs();
      if (env_.clock().NowUs() >= next_heartbeat_us_) Heartbeat();
      ReportEnds();
      // Drained: nothing runs, and every end is reported or kept on disk for the next start.
      if (draining_ && std::all_of(held_.begin(), held_.end(),
                                   [](const auto& kv) { return kv.second.ended && kv.second.kept; })) {
        return 0;
      }
      // Nothing runs and the server does not answer: wait rather than spin (signals still end
      // the wait).
      if (Running() == 0 && env_.clock().NowUs() < next_lease_us_) {
        PollResult idle = local_.Poll(std::min(kSliceUs * 4, next_lease_us_ - env_.clock().NowUs()));
        if (idle.interrupted) draining_ = true;
      }
    }
  }

 private:
  int Running() const {
    int n = 0;
    for (const auto& [lease, h] : held_) n += h.ended ? 0 : 1;
    return n;
  }

  // The handshake; -1 to go on, else the exit code. An unreachable server is asked again.
  int Register() {
    ValueMap labels;
    for (const auto& [k, v] : o_.labels) labels.emplace_back(Value(k), Value(v));
    const std::string body =
        Value(ValueMap{{"version", Value(SLUICE_VERSION)}, {"name", Value(o_.name)},
                       {"labels", Value(std::move(labels))}, {"slots", Value(o_.slots)},
                       {"cpu", Value(o_.cpu)}, {"memory", Value(o_.memory)}, {"gpu", Value(o_.gpu)}})
            .ToJson();
    while (true) {
      auto r = client_.Send("POST", "/api/v1/workers", body);
      if (r.status == 200) {
        auto v = ParseJson(r.body);
        const Value* id = v && v->is_map() ? v->Find("worker") : nullptr;
        const Value* hb = v && v->is_map() ? v->Find("heartbeatSeconds") : nullptr;
        if (!id || !id->is_string()) break;
        worker_ = id->as_string();
        if (hb && hb->is_number()) heartbeat_us_ = std::max<int64_t>(100'000, hb->to_double() * 1e6);
        std::printf("sluice worker %s registered with %s\n", worker_.c_str(), o_.server.c_str());
        std::fflush(stdout);
        return -1;
      }
      if (r.reached()) {
        std::fprintf(stderr, "sluice worker: the server refused it: %s\n", r.Message().c_str());
        return 2;
      }
      PollResult p = local_.Poll(kRetryUs);  // unreachable: ask again, unless told to stop
      if (p.interrupted) return 0;
    }
    std::fprintf(stderr, "sluice worker: the server's answer to the handshake is malformed\n");
    return 2;
  }

  // Asks for as many attempts as slots are free, waiting a little when none runs.
  void LeaseMore() {
    const int free_slots = o_.slots - Running();
    if (free_slots <= 0) return;
    double cpu = o_.cpu, memory = o_.memory, gpu = o_.gpu;
    for (const auto& [lease, h] : held_) {
      if (h.ended) continue;
      cpu -= h.req.cpu;
      memory -= h.req.memory;
      gpu -= h.req.gpu;
    }
    ValueMap labels;
    for (const auto& [k, v] : o_.labels) labels.emplace_back(Value(k), Value(v));
    const double wait = Running() == 0 && held_.empty() ? 1.0 : 0.0;
    const std::string body =
        Value(ValueMap{{"slots", Value(free_slots)}, {"labels", Value(std::move(labels))},
                       {"cpu", Value(std::max(0.0, cpu))}, {"memory", Value(std::max(0.0, memory))},
                       {"gpu", Value(std::max(0.0, gpu))}, {"waitSeconds", Value(wait)}})
            .ToJson();
    auto r = client_.Send("POST", "/api/v1/workers/" + worker_ + "/lease", body, "application/json", 40);
    if (r.status != 200) {
      if (r.reached()) std::fprintf(stderr, "sluice worker: lease: %s\n", r.Message().c_str());
      next_lease_us_ = env_.clock().NowUs() + kRetryUs;
      return;
    }
    auto v = ParseJson(r.body);
    const Value* items = v && v->is_map() ? v->Find("items") : nullptr;
    if (!items || !items->is_list()) return;
    for (const Value& item : items->as_list()) Start(item);
  }

  // Starts one leased attempt: its inputs fetched, its paths made this worker's.
  void Start(const Value& item) {
    const Value* lease = item.is_map() ? item.Find("lease") : nullptr;
    const Value* request = item.is_map() ? item.Find("request") : nullptr;
    if (!lease || !lease->is_string() || !request) return;
    Held& h = held_[lease->as_string()];
    auto req = RequestFromValue(*request);
    auto text = [&](const char* key) {
      const Value* f = request->is_map() ? request->Find(key) : nullptr;
      return f && f->is_string() ? f->as_string() : std::string();
    };
    if (req && req->argv.size() == 1 && req->argv[0] == "builtin:noop") {
      // builtin:noop: an attempt that ends at once, with no process and nothing to fetch.
      h.req = std::move(*req);
      h.ended = true;
      h.end.how = AttemptEnd::How::kExited;
      h.end.exit_code = 0;
      h.end.outputs = Result<AttemptOutputs>(AttemptOutputs{Value(ValueMap{}), {}});
      return;
    }
    Status ok = req ? cache_.Localize(*req, text("serverArtifacts"), text("serverBundles"))
                    : Status(std::unexpected(req.error()));
    if (ok) {
      h.req = *req;
      const AttemptPaths paths = AttemptPathsFor(o_.work_dir + "/runs/" + req->run_id, req->task,
                                                 req->attempt);
      h.logs[0] = paths.stdout_log;
      h.logs[1] = paths.stderr_log;
      auto handles = local_.Submit(std::span<const AttemptRequest>(&h.req, 1));
      if (!handles.empty() && handles[0]) {
        h.handle = *handles[0];
        by_handle_[h.handle] = lease->as_string();
        return;
      }
      ok = handles.empty() ? Fail(ErrorCode::kIo, "not started") : Status(std::unexpected(handles[0].error()));
    }
    // It cannot run here: lost, so that its retry policy may run it elsewhere.
    h.ended = true;
    h.end.how = AttemptEnd::How::kLost;
    h.end.message = "the worker could not start it: " + ok.error().message;
  }

  void Ended(AttemptEnd& e) {
    auto it = by_handle_.find(e.handle);
    if (it == by_handle_.end()) return;
    const std::string lease = it->second;
    by_handle_.erase(it);
    Held& h = held_[lease];
    ShipLogs(lease, h);
    h.ended = true;
    h.end = std::move(e);
  }

  void ShipAllLogs() {
    for (auto& [lease, h] : held_) {
      if (!h.ended && !h.killed) ShipLogs(lease, h);
    }
    next_logs_us_ = env_.clock().NowUs() + kLogEveryUs;
  }

  // Sends what the attempt's logs gained since the last chunk the server took.
  void ShipLogs(const std::string& lease, Held& h) {
    for (int s = 0; s < 2; ++s) {
      while (true) {
        auto chunk = env_.files().ReadFileRange(h.logs[s], h.offsets[s], kLogChunk);
        if (!chunk || chunk->empty()) break;
        auto r = client_.Send("POST", fmt::format("/api/v1/workers/{}/leases/{}/logs?stream={}&"
                                                  "offset={}", worker_, lease,
                                                  s == 0 ? "stdout" : "stderr", h.offsets[s]),
                              *chunk, "application/octet-stream");
        if (r.status != 200) break;  // sent again next time (the server skips what it holds)
        h.offsets[s] += static_cast<int64_t>(chunk->size());
        if (static_cast<int64_t>(chunk->size()) < kLogChunk) break;
      }
    }
  }

  void Heartbeat() {
    next_heartbeat_us_ = env_.clock().NowUs() + heartbeat_us_;
    if (held_.empty()) return;
    ValueList leases;
    for (const auto& [lease, h] : held_) {
      if (h.worker.empty()) leases.push_back(Value(lease));  // kept ends of a former process: not ours
    }
    auto r = client_.Send("POST", "/api/v1/workers/" + worker_ + "/heartbeat",
                          Value(ValueMap{{"leases", Value(std::move(leases))}}).ToJson());
    if (r.status != 200) return;  // kept; the ends wait for the server
    auto v = ParseJson(r.body);
    const Value* kill = v && v->is_map() ? v->Find("kill") : nullptr;
    const Value* extended = v && v->is_map() ? v->Find("extended") : nullptr;
    if (!kill || !kill->is_list()) return;
    std::set<std::string> held;
    if (extended && extended->is_list()) {
      for (const Value& e : extended->as_list()) {
        if (e.is_string()) held.insert(e.as_string());
      }
    }
    for (const Value& k : kill->as_list()) {
      if (k.is_string()) Kill(k.as_string(), held.count(k.as_string()) > 0);
    }
  }

  // Kills a held attempt: cancelled by its run (`still_held`: its end is reported, as a signal),
  // or whose lease this worker no longer holds (its end would be refused: dropped).
  void Kill(const std::string& lease, bool still_held) {
    auto it = held_.find(lease);
    if (it == held_.end()) return;
    Held& h = it->second;
    std::fprintf(stderr, "sluice worker: killing %s attempt %d of run %s: %s\n", h.req.task.c_str(),
                 h.req.attempt, h.req.run_id.c_str(),
                 still_held ? "its run cancelled it" : "its lease expired (recorded lost)");
    if (h.ended) {
      if (!still_held) held_.erase(it);
      return;
    }
    h.killed = !still_held;
    local_.Cancel(h.handle, StopMode::kKill);
  }

  // Reports the ends not yet reported, in one request (one store commit for the batch):
  // each one's artifacts first, then the ends.
  void ReportEnds() {
    if (env_.clock().NowUs() < next_report_us_) return;
    ValueList items;
    std::vector<std::string> leases;
    std::optional<std::string> as;  // the worker id this request speaks for
    for (auto it = held_.begin(); it != held_.end() && items.size() < kMaxEndsPerReport;) {
      Held& h = it->second;
      if (!h.ended || (as && *as != h.worker)) {
        ++it;
        continue;
      }
      if (h.killed) {
        it = held_.erase(it);
        continue;
      }
      if (h.end.outputs && *h.end.outputs) {
        if (auto up = cache_.Upload(**h.end.outputs); !up) {
          if (up.error().code == ErrorCode::kIo) return Unreachable();
          h.end.outputs = Result<AttemptOutputs>(std::unexpected(up.error()));
        }
      }
      items.push_back(Value(ValueMap{{"lease", Value(it->first)}, {"end", EndToValue(h.end)}}));
      leases.push_back(it->first);
      as = h.worker;
      ++it;
    }
    if (items.empty()) return;
    auto r = client_.Send("POST", fmt::format("/api/v1/workers/{}/ends", as->empty() ? worker_ : *as),
                          Value(ValueMap{{"ends", Value(std::move(items))}}).ToJson());
    // Unreachable, or a server that cannot answer now (not leading, its store busy, a proxy's
    // 502): the ends are kept and sent again; only a refusal of an end itself drops it.
    if (!r.reached() || r.status >= 500) return Unreachable();
    auto v = r.status == 200 ? ParseJson(r.body) : Result<Value>(Fail(ErrorCode::kIo, "refused"));
    const Value* results = v && v->is_map() ? v->Find("results") : nullptr;
    for (size_t k = 0; k < leases.size(); ++k) {
      const Value* res = results && results->is_list() && k < results->as_list().size()
                             ? &results->as_list()[k] : nullptr;
      const Value* ok = res && res->is_map() ? res->Find("recorded") : nullptr;
      if (!ok || !ok->is_bool() || !ok->as_bool()) {
        const Value* why = res && res->is_map() ? res->Find("error") : nullptr;
        const Held& h = held_[leases[k]];
        std::fprintf(stderr, "sluice worker: the end of %s attempt %d was refused: %s\n",
                     h.req.task.c_str(), h.req.attempt,
                     why && why->is_string() ? why->as_string().c_str() : r.Message().c_str());
      }
      if (held_[leases[k]].kept) (void)env_.files().Remove(KeptPath(leases[k]));
      held_.erase(leases[k]);
    }
  }

  std::string KeptPath(const std::string& lease) const { return o_.work_dir + "/ends/" + lease + ".json"; }

  // The server cannot be told: each end not yet on disk is written to WORK/ends/LEASE.json
  // (atomically), so that a worker restarted meanwhile still reports it. A failed write keeps
  // it in memory only, as before.
  void KeepEnds() {
    for (auto& [lease, h] : held_) {
      if (!h.ended || h.killed || h.kept) continue;
      if (!env_.files().MakeDirs(o_.work_dir + "/ends")) return;
      const Value v(ValueMap{{"worker", Value(h.worker.empty() ? worker_ : h.worker)},
                             {"task", Value(h.req.task)}, {"attempt", Value(h.req.attempt)},
                             {"runId", Value(h.req.run_id)}, {"end", EndToValue(h.end)}});
      h.kept = static_cast<bool>(env_.files().WriteFile(KeptPath(lease), v.ToJson()));
    }
  }

  // The ends a former process of this worker kept (KeepEnds), to report under the worker id
  // that holds their leases. A file that cannot be read is left where it is, and said so.
  void LoadKept() {
    auto names = env_.files().ListDir(o_.work_dir + "/ends");
    if (!names) return;
    for (const std::string& name : *names) {
      if (!name.ends_with(".json")) continue;
      const std::string lease = name.substr(0, name.size() - 5);
      auto text = env_.files().ReadFile(KeptPath(lease));
      auto v = text ? ParseJson(*text) : Result<Value>(std::unexpected(text.error()));
      const Value* worker = v && v->is_map() ? v->Find("worker") : nullptr;
      const Value* end = v && v->is_map() ? v->Find("end") : nullptr;
      auto parsed = end ? EndFromValue(*end, 0) : Result<AttemptEnd>(Fail(ErrorCode::kInvalidInput, "no end"));
      if (!worker || !worker->is_string() || !parsed) {
        std::fprintf(stderr, "sluice worker: %s: not a kept end; left as it is\n", KeptPath(lease).c_str());
        continue;
      }
      Held& h = held_[lease];
      h.ended = h.kept = true;
      h.worker = worker->as_string() == worker_ ? "" : worker->as_string();
      h.end = std::move(*parsed);
      auto text_of = [&](const char* key) {
        const Value* f = v->Find(key);
        return f && f->is_string() ? f->as_string() : std::string();
      };
      h.req.task = text_of("task");
      h.req.run_id = text_of("runId");
      const Value* attempt = v->Find("attempt");
      h.req.attempt = attempt && attempt->is_number() ? static_cast<int>(attempt->to_double()) : 0;
    }
  }

  void Unreachable() {
    next_report_us_ = env_.clock().NowUs() + kRetryUs;
    KeepEnds();
  }

  Env& env_;
  const WorkerOptions& o_;
  WorkerClient& client_;
  LocalExecutor& local_;
  WorkerCache& cache_;
  std::string worker_;
  std::map<std::string, Held> held_;  // by lease
  std::unordered_map<AttemptHandle, std::string> by_handle_;
  bool draining_ = false;
  int64_t heartbeat_us_ = 10'000'000;
  int64_t next_lease_us_ = 0, next_logs_us_ = 0, next_heartbeat_us_ = 0, next_report_us_ = 0;
};

}  // namespace

int RunWorker(Env& env, WorkerOptions o) {
  FileSystem& fs = env.files();
  if (o.work_dir.empty()) {
    std::fprintf(stderr, "sluice worker: --work-dir is required\n");
    return 2;
  }
  if (o.token.empty()) {
    std::fprintf(stderr, "sluice worker: set SLUICE_TOKEN to a token with the worker role "
                 "(sluice token create --user NAME --role worker)\n");
    return 2;
  }
  o.work_dir = fs.Absolute(o.work_dir);
  if (auto s = fs.MakeDirs(o.work_dir); !s) {
    std::fprintf(stderr, "sluice worker: %s\n", s.error().message.c_str());
    return 2;
  }
  // Its attempts die with it, even by kill -9: a worker that is gone has lost its leases, and
  // their retries may run elsewhere, so what it ran must not go on beside them.
  if (auto s = env.processes().DieWithThisProcess(); !s) {
    std::fprintf(stderr, "sluice worker: %s\n", s.error().message.c_str());
    return 2;
  }
  if (o.cpu < 0) o.cpu = env.CpuCount();
  if (o.memory < 0) o.memory = env.MemoryBytes();
  auto client = WorkerClient::Connect(o.server, o.token);
  if (!client) {
    std::fprintf(stderr, "sluice worker: %s\n", client.error().message.c_str());
    return 2;
  }
  std::vector<std::string> base_env;
  for (const std::string& kv : env.Environment()) {
    if (!kv.starts_with("SLUICE_TOKEN=")) base_env.push_back(kv);  // never handed to tasks
  }
  WorkerCache cache(env, **client, o.work_dir);
  LocalExecutor local(env, env.processes(), o.work_dir + "/runs", cache.artifact_root(),
                      std::move(base_env));
  local.SetFolderPerRun(true);
  Agent agent(env, o, **client, local, cache);
  return agent.Run();
}

}  // namespace sluice
