// `sluice run FILE --server URL` (remote_cli.h): the pipeline is loaded and its params read here,
// as a local run does (so that its errors read the same), its folder and the folders of what it
// imports are sent as the bundle POST /api/v1/namespaces/default/runs expects (docs/api.md), and
// the run's events are followed and shown by the same ProgressPrinter as a local run's, until
// the run finishes; the command then exits as the local one would (0 succeeded, 1 otherwise).
//
// Following polls GET /api/v1/runs/{id}/events?after=SEQ. (An SSE stream,
// /api/v1/runs/{id}/events/stream, is being added to the server; once it is there, follow it
// instead and keep polling as the fallback for servers without it.)
//
// Ctrl-C detaches: the run goes on on the server, and the command says how to follow or cancel
// it and exits 130.
#include <signal.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <set>

#include "cli/cli_support.h"
#include "cli/policy_cmds.h"
#include "cli/progress.h"
#include "cli/render.h"
#include "cli/run_report.h"
#include "common/strings.h"
#include "common/value.h"
#include "policy/policy.h"
#include "server/remote_cli.h"
#include "spec/plan.h"

namespace sluice {

namespace {

constexpr size_t kMaxFiles = 1000;        // the API's limit (docs/api.md)
constexpr int64_t kMaxFileBytes = 16 << 20;  // the server's default --max-body
constexpr int64_t kPollUs = 200'000;
constexpr int kPollsPerStatus = 25;  // an idle follow checks the run is still executed every 5 s

// Set by SIGINT while a run is followed. This is the client's edge, like the server's signal
// handling in server.cc: a flag, read by the follow loop between requests.
volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void OnInterrupt(int) { g_interrupted = 1; }

// Whether `name` is left out of a bundle: hidden entries (.git, a .sluice state folder) and
// Python's caches. (AddFolder also leaves out every state folder: one that holds a sluice.db.)
bool LeftOut(const std::string& name) { return name.starts_with(".") || name == "__pycache__"; }

// Adds the files under folder `dir` to `files`, by their path below `root`. Fails on a file that
// is not UTF-8 text (the API carries text), on too many files, or on one that cannot be read.
Status AddFolder(FileSystem& fs, const std::string& root, const std::string& dir, int depth,
                 std::map<std::string, std::string>& files) {
  if (depth > 16) return Fail(ErrorCode::kInvalidInput, "{}: folders nest too deep to send", dir);
  SLUICE_TRY(names, fs.ListDir(dir));
  for (const auto& name : *names) {
    if (LeftOut(name)) continue;
    const std::string path = PathJoin(dir, name);
    const FileInfo info = fs.Stat(path);
    if (info.is_dir) {
      if (fs.Stat(PathJoin(path, "sluice.db")).exists) continue;  // a state folder (--state-dir)
      SLUICE_TRY_STATUS(AddFolder(fs, root, path, depth + 1, files));
      continue;
    }
    SLUICE_TRY(text, fs.ReadFileAtMost(path, kMaxFileBytes));
    if (!IsTextUtf8(*text)) {
      return Fail(ErrorCode::kInvalidInput, "{}: not UTF-8 text, which is all a run submitted to "
                  "a server can carry yet; move it out of the pipeline's folder", path);
    }
    files[path.substr(root.size() + 1)] = std::move(*text);
    if (files.size() > kMaxFiles) {
      return Fail(ErrorCode::kInvalidInput, "{}: more than {} files to send with the pipeline; "
                  "give the pipeline a folder of its own", root, kMaxFiles);
    }
  }
  return {};
}

// The folder that holds every one of `paths` (absolute, normalized).
std::string CommonFolder(const std::vector<std::string>& paths) {
  std::string common = paths.front();
  for (const auto& p : paths) {
    while (!(p == common || p.starts_with(common + "/") || common == "/")) common = Dirname(common);
  }
  return common;
}

struct Bundle {
  std::string pipeline;  // its path among the files
  std::map<std::string, std::string> files;
};

// The pipeline's folder and the folder of every file it imports, with what they hold, by path
// below the folder that holds them all (so that `${{ pipeline.dir }}`, `${{ component.dir }}` and
// an import like ../components resolve on the server as they do here).
Result<Bundle> CollectBundle(FileSystem& fs, const Plan& plan) {
  const std::string pipeline = fs.Absolute(plan.pipeline->file);
  std::set<std::string> folders{Dirname(pipeline)};
  for (const auto& [path, text] : plan.sources) folders.insert(Dirname(fs.Absolute(path)));
  const std::string root = CommonFolder(std::vector<std::string>(folders.begin(), folders.end()));
  const size_t cut = root == "/" ? 0 : root.size();
  Bundle b;
  b.pipeline = pipeline.substr(cut + 1);
  for (const auto& folder : folders) {
    const bool inside_another = std::any_of(folders.begin(), folders.end(), [&](const auto& f) {
      return f != folder && folder.starts_with(f + "/");
    });
    if (!inside_another) SLUICE_TRY_STATUS(AddFolder(fs, root == "/" ? "" : root, folder, 0, b.files));
  }
  for (const auto& [path, text] : plan.sources) b.files[fs.Absolute(path).substr(cut + 1)] = text;
  return b;
}

// An event as the API serves it (EventJson), back into an Event for the progress printer.
Event EventOfJson(const std::string& run_id, const Value& v) {
  auto str = [&](const char* k) {
    const Value* f = v.Find(k);
    return f && f->is_string() ? f->as_string() : std::string();
  };
  auto num = [&](const char* k) -> int64_t {
    const Value* f = v.Find(k);
    return f && f->is_int() ? f->as_int() : 0;
  };
  Event e;
  e.run_id = run_id;
  e.seq = num("seq");
  e.time_us = ViewTimeMs(str("time")).value_or(0) * 1000;
  (void)ParseEventKind(str("kind"), &e.kind);
  e.task = str("task");
  e.attempt = static_cast<int>(num("attempt"));
  e.status = str("status");
  e.error_class = str("errorClass");
  e.message = str("message");
  e.pid = num("pid");
  e.due_us = ViewTimeMs(str("due")).value_or(0) * 1000;
  if (const Value* d = v.Find("data")) e.data = d->ToJson();
  return e;
}

// Whether the task instance `name` is a handler (its owner's catch, fallback or compensate:
// "deploy.catch", "register[2].fallback"), and whether it is no forEach item ("train[2]",
// "sweep[0].train"): a local run's report counts the tasks that are no items (template members
// included), and every handler apart.
bool IsHandler(const std::string& name) {
  const size_t dot = name.rfind('.');
  if (dot == std::string::npos) return false;
  const std::string role = name.substr(dot + 1);
  return role.starts_with("catch") || role == "fallback" || role == "compensate";
}
bool IsTopLevel(const std::string& name) {
  return name.find('[') == std::string::npos;
}

// What the status line of a terminal shows, from the events seen so far.
struct Tracker {
  std::set<std::string> tasks, running;
  RunObserver::Progress Update(const Event& e) {
    if (!e.task.empty() && !IsHandler(e.task)) tasks.insert(e.task);
    if (e.kind == EventKind::kAttemptSpawned) running.insert(e.task);
    if (e.kind == EventKind::kAttemptFinished) running.erase(e.task);
    if (e.kind == EventKind::kTaskFinished || e.kind == EventKind::kTaskSkipped) ++finished;
    return {static_cast<int>(tasks.size()), finished, {running.begin(), running.end()}};
  }
  int finished = 0;
};

}  // namespace

namespace {

// A refused submission: an admission denial prints its decisions and exits 1 as a local run's
// does; anything else is the answer's error.
int SubmissionRefused(const ApiAnswer& a, const std::string& server, const std::string& pipeline) {
  auto v = ParseJson(a.body);
  const Value* err = v && v->is_map() ? v->Find("error") : nullptr;
  const Value* denied = err && err->is_map() ? err->Find("decisions") : nullptr;
  if (a.status != 403 || !denied || !denied->is_list()) return Report(ErrorOfAnswer(server, a));
  std::vector<Decision> decisions;
  for (const Value& d : denied->as_list()) {
    auto field = [&](const char* k) {
      const Value* f = d.is_map() ? d.Find(k) : nullptr;
      return f && f->is_string() ? f->as_string() : std::string();
    };
    Decision x;
    x.policy = field("policy"), x.rule = field("rule"), x.result = field("result");
    x.message = field("message"), x.task = field("task");
    decisions.push_back(std::move(x));
  }
  PrintDecisions(decisions, false);
  std::fprintf(stderr, "sluice: admission denied: pipeline %s breaks a policy (see above); no "
               "run was created\n", pipeline.c_str());
  return 1;
}

// Ctrl-C while following: the run goes on.
int Detach(const std::string& id, const std::string& server) {
  std::fprintf(stderr, "\nsluice: detached from run %s; it goes on on %s\n"
               "  follow it: sluice status %s --server %s\n"
               "  cancel it: sluice cancel %s --server %s\n",
               id.c_str(), server.c_str(), id.c_str(), server.c_str(), id.c_str(), server.c_str());
  return 130;
}

// The report a local run prints at its end (run_report.h), from the run's status document:
// failed tasks with the last lines of their stderr, then the counts of tasks by state.
void ReportRemoteRun(RemoteContext& c, const Value& status) {
  const std::string id = status.Find("id") ? status.Find("id")->ToText() : "";
  std::map<std::string, int> tasks, handlers;
  const Value* list = status.Find("tasks");
  int shown = 0;
  for (const Value& t : list && list->is_list() ? list->as_list() : ValueList{}) {
    const std::string name = t.Find("name") ? t.Find("name")->ToText() : "";
    const std::string state = t.Find("state") ? t.Find("state")->ToText() : "";
    const bool handler = IsHandler(name);
    const Value* attempts = t.Find("attempts");
    if (state == "failed" && !handler && attempts && attempts->is_int() && attempts->as_int() > 0 &&
        shown++ < 20) {
      const Value* message = t.Find("message");
      std::string line = fmt::format("  {} failed: {}", name, message ? message->ToText() : "");
      auto err = c.api.Get(fmt::format("/api/v1/runs/{}/tasks/{}/logs?stream=stderr&limit={}",
                                       PathEscape(id), PathEscape(name), 4 << 20));
      if (err && err->status == 200) {
        for (const auto& l : LastLines(err->body, 3, nullptr)) line += "\n    | " + l;
      }
      std::fprintf(stderr, "%s\n    logs: sluice logs %s %s\n", line.c_str(), id.c_str(),
                   ShellWord(name).c_str());
    }
    if (handler || IsTopLevel(name)) ++(handler ? handlers : tasks)[state];
  }
  auto text = [](const std::map<std::string, int>& m) {
    std::vector<std::string> parts;
    for (const auto& [s, n] : m) parts.push_back(fmt::format("{} {}", n, s));
    return Join(parts, ", ");
  };
  std::string counts = text(tasks);
  if (!handlers.empty()) counts += "; handlers: " + text(handlers);
  std::fprintf(stderr, "run %s %s (%s)\n  on the server %s\n", id.c_str(),
               status.Find("status")->ToText().c_str(), counts.c_str(), c.api.server().c_str());
}

// The run's status document; an error when it cannot be had.
Result<Value> RunStatus(RemoteContext& c, const std::string& id) {
  SLUICE_TRY(a, Expect2xx(c.api.Get("/api/v1/runs/" + PathEscape(id)), c.api.server()));
  SLUICE_TRY(v, ParseJson(a->body));
  if (!v->is_map() || !v->Find("status") || !v->Find("id")) {
    return Fail(ErrorCode::kIo, "the server's answer is not a run");
  }
  return std::move(*v);
}

// Follows run `id`'s events until it finishes. Returns the exit code.
int Follow(Env& env, RemoteContext& c, const std::string& id) {
  const bool tty = env.IsTty(2);
  auto no_color = env.GetVar("NO_COLOR");
  ProgressPrinter progress(stderr, tty, tty && !(no_color && !no_color->empty()), env.clock());
  Tracker tracker;
  int64_t after = 0;
  bool finished = false;
  for (int idle = 0; !finished;) {
    if (g_interrupted) return Detach(id, c.api.server());
    auto a = Expect2xx(c.api.Get(fmt::format("/api/v1/runs/{}/events?after={}&limit=1000",
                                             PathEscape(id), after)), c.api.server());
    if (g_interrupted) return Detach(id, c.api.server());
    auto v = a ? ParseJson(a->body) : Result<Value>(std::unexpected(a.error()));
    const Value* items = v && v->is_map() ? v->Find("items") : nullptr;
    if (!items || !items->is_list()) {
      progress.Finish();
      Report(v ? Error(ErrorCode::kIo, "the server's answer lacks its items") : v.error());
      std::fprintf(stderr, "the run goes on; follow it with: sluice status %s --server %s\n",
                   id.c_str(), c.api.server().c_str());
      return 3;
    }
    for (const Value& item : items->as_list()) {
      Event e = EventOfJson(id, item);
      progress.OnEvent(e, tracker.Update(e));
      after = std::max(after, e.seq);
      finished = finished || e.kind == EventKind::kRunFinished;
    }
    progress.Committed();
    progress.Flush();
    if (!items->as_list().empty() || finished) {
      idle = 0;
      continue;
    }
    if (++idle % kPollsPerStatus == 0) {  // a run no process executes any more never finishes
      auto st = RunStatus(c, id);
      if (st && st->Find("status")->ToText() == "interrupted") {
        progress.Finish();
        std::fprintf(stderr, "sluice: the server's process running %s stopped; the run is "
                     "interrupted\n", id.c_str());
        return 3;
      }
    }
    env.SleepUs(kPollUs);
  }
  progress.Finish();
  auto st = RunStatus(c, id);
  if (!st) return Report(st.error());
  ReportRemoteRun(c, *st);
  return st->Find("status")->ToText() == "succeeded" ? 0 : 1;
}

}  // namespace

int RemoteRun(Env& env, RemoteContext& c, const RemoteRunOptions& o) {
  auto plan = LoadPlan(env.files(), o.file);
  if (!plan) return Report(plan.error());
  auto given = ParamsWithFile(env, **plan, o.params_file, o.params);
  if (!given) return Report(given.error());
  auto bundle = CollectBundle(env.files(), **plan);
  if (!bundle) return Report(bundle.error());
  ValueMap files, params;
  for (auto& [path, text] : bundle->files) files.emplace_back(Value(path), Value(std::move(text)));
  for (const auto& [name, text] : *given) params.emplace_back(Value(name), Value(text));
  const std::string body = Value(ValueMap{{"pipeline", Value(bundle->pipeline)},
                                          {"files", Value(std::move(files))},
                                          {"params", Value(std::move(params))}})
                               .ToJson();
  auto a = c.api.Post("/api/v1/namespaces/default/runs", body);
  if (!a) return Report(a.error());
  if (a->status != 201) return SubmissionRefused(*a, c.api.server(), (*plan)->pipeline->name);
  auto made = ParseJson(a->body);
  const Value* id = made && made->is_map() ? made->Find("id") : nullptr;
  if (!id || !id->is_string()) return Report(Error(ErrorCode::kIo, "the server's answer names no run"));
  std::printf("%s\n", id->as_string().c_str());  // the first line of output, as a local run's
  std::fflush(stdout);
  // From here Ctrl-C detaches instead of ending the command: no SA_RESTART, so that a request
  // under way returns at once.
  struct sigaction sa {};
  sa.sa_handler = OnInterrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  return Follow(env, c, id->as_string());
}

}  // namespace sluice
