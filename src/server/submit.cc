// POST /api/v1/namespaces/{ns}/runs: a run submitted over the API (docs/api.md).
//
// The request carries the pipeline's files (the pipeline and what it imports, by relative path),
// its params and the path of the pipeline among the files. The server keeps the files as a
// bundle named by their digest (STATE/bundles/SHA256/, written whole or not at all, shared by
// every submission of the same files), loads and compiles the pipeline from there, judges it with
// the state folder's central policies, records the run with its run.submitted audit record by the
// token's user, and starts the run's engine as a process of its own (`sluice resume RUN`, as the
// CLI would), so that a restart of the server leaves it running.
#include <algorithm>
#include <set>

#include "cli/cli_support.h"
#include "cli/policy_cmds.h"
#include "cli/schedule_runs.h"
#include "cli/secrets.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "env/confined_fs.h"
#include "policy/policy.h"
#include "server/api.h"
#include "spec/plan.h"
#include "store/store.h"

namespace sluice {

namespace {

constexpr size_t kMaxFiles = 1000;

// Whether `path` may name a file of a bundle: relative, plain segments, no "." or "..".
bool BundlePath(const std::string& path) {
  if (path.empty() || path.size() > 512 || path.front() == '/' || path.back() == '/') return false;
  size_t at = 0;
  while (at <= path.size()) {
    size_t end = path.find('/', at);
    if (end == std::string::npos) end = path.size();
    const std::string_view seg(path.data() + at, end - at);
    if (seg.empty() || seg == "." || seg == ".." || seg.find('\0') != std::string_view::npos) {
      return false;
    }
    at = end + 1;
  }
  return true;
}

struct Request {
  std::string pipeline;
  std::map<std::string, std::string> files;
  std::map<std::string, std::string> params;  // as -p texts
};

// The request's body, checked. Errors name the field (all are 400s).
Result<Request> ParseRequest(const std::string& body) {
  auto v = ParseJson(body);
  if (!v) return Fail(ErrorCode::kInvalidInput, "the body is not JSON: {}", v.error().message);
  if (!v->is_map()) return Fail(ErrorCode::kInvalidInput, "the body must be a JSON object");
  Request r;
  for (const auto& [k, val] : v->as_map()) {
    const std::string key = k.as_string();
    if (key == "pipeline" && val.is_string()) {
      r.pipeline = val.as_string();
    } else if (key == "files" && val.is_map()) {
      for (const auto& [path, text] : val.as_map()) {
        if (!text.is_string() || !BundlePath(path.as_string())) {
          return Fail(ErrorCode::kInvalidInput, "files: {} must be a relative path (no . or .. "
                      "segments) mapped to the file's text", Quote(path.as_string()));
        }
        r.files[path.as_string()] = text.as_string();
      }
    } else if (key == "params" && val.is_map()) {
      for (const auto& [name, p] : val.as_map()) r.params[name.as_string()] = p.ToText();
    } else {
      return Fail(ErrorCode::kInvalidInput, "unknown or mistyped field {} (expected pipeline: "
                  "string, files: object, params: object)", Quote(key));
    }
  }
  if (r.files.empty() || r.files.size() > kMaxFiles) {
    return Fail(ErrorCode::kInvalidInput, "files: give 1 to {} files", kMaxFiles);
  }
  if (!r.files.count(r.pipeline)) {
    return Fail(ErrorCode::kInvalidInput, "pipeline: {} is not one of the files", Quote(r.pipeline));
  }
  return r;
}

// Whether a file of `files` sits where another needs a folder ("a" and "a/b").
std::optional<std::string> FileAsFolder(const std::map<std::string, std::string>& files) {
  for (const auto& [path, text] : files) {
    auto next = files.upper_bound(path);
    if (next != files.end() && next->first.starts_with(path + "/")) return path;
  }
  return std::nullopt;
}

}  // namespace

Status WithinBundle(const std::map<std::string, std::string>& sources, const std::string& bundle) {
  for (const auto& [path, text] : sources) {
    if (!path.starts_with(bundle + "/") || !BundlePath(path.substr(bundle.size() + 1))) {
      return Fail(ErrorCode::kInvalidInput, "the pipeline imports {}, outside the files it was "
                  "submitted with", Quote(path));
    }
  }
  return {};
}

// Writes the bundle of `files` unless it is there, and returns its folder. A bundle once in
// place is never removed here (another submission of the same files may use it), and one found
// in place must hold exactly `files`: a task may write into its pipeline's folder, and a later
// run must not start from what an earlier one changed (kConflict then).
Result<std::string> WriteBundle(Env& env, const std::string& state_dir,
                                const std::map<std::string, std::string>& files) {
  ValueMap m;
  for (const auto& [path, text] : files) m.emplace_back(Value(path), Value(text));
  const std::string digest = Sha256Hex(CanonicalJson(Value(std::move(m))));
  FileSystem& fs = env.files();
  // Absolute, as the loader names the files it reads: a relative state folder must not make
  // every import look outside the bundle.
  const std::string dir = PathJoin(PathJoin(fs.Absolute(state_dir), "bundles"), digest);
  if (!fs.Stat(dir).is_dir) {
    const std::string tmp = fmt::format("{}.tmp-{}-{:016x}", dir, env.Pid(), env.Random64());
    auto written = [&]() -> Status {
      for (const auto& [path, text] : files) {
        const std::string file = PathJoin(tmp, path);
        SLUICE_TRY_STATUS(fs.MakeDirs(Dirname(file)));
        SLUICE_TRY_STATUS(fs.WriteFile(file, text));
      }
      return fs.Rename(tmp, dir);
    }();
    if (written) return dir;
    (void)fs.RemoveAll(tmp);
    if (!fs.Stat(dir).is_dir) return std::unexpected(written.error());  // else another one won
  }
  for (const auto& [path, text] : files) {
    auto stored = fs.ReadFile(PathJoin(dir, path));
    if (!stored || *stored != text) {
      return Fail(ErrorCode::kConflict, "bundle {} was changed on disk since it was stored (its "
                  "file {}); an administrator must remove it", digest, Quote(path));
    }
  }
  return dir;
}

namespace {

// An error about a bundle's file, with the paths as the client sent them (the server's folders
// are its own business).
ApiResponse BundleError(int status, const Error& e, const std::string& bundle) {
  std::string message = e.message;
  const std::string prefix = bundle + "/";
  for (size_t at; (at = message.find(prefix)) != std::string::npos;) message.erase(at, prefix.size());
  return ErrorResponse(status, message);
}

}  // namespace

ApiResponse DeniedResponse(const std::vector<Decision>& decisions) {
  ValueList denied;
  std::vector<std::string> why;
  for (const auto& d : decisions) {
    if (d.result != "deny") continue;
    denied.push_back(DecisionToValue(d));
    why.push_back(fmt::format("{}: {}", d.policy, d.message));
  }
  ApiResponse r;
  r.status = 403;
  r.body = Value(ValueMap{{"error", Value(ValueMap{{"status", Value(403)},
                                                   {"message", Value("admission denied: the "
                                                                     "pipeline breaks a policy (" +
                                                                     Join(why, "; ") + ")")},
                                                   {"decisions", Value(std::move(denied))}})}})
               .ToJson();
  return r;
}

namespace {

ApiResponse Submit(const ApiContext& ctx, const ApiRequest& req) {
  auto parsed = ParseRequest(req.body);
  if (!parsed) return ErrorResponse(400, parsed.error().message);
  auto store = ctx.ThreadStore();
  if (!store) return ErrorResponse(500, store.error().message);
  if (auto both = FileAsFolder(parsed->files)) {
    return ErrorResponse(400, fmt::format("files: {} is a file and a folder of other files",
                                          Quote(*both)));
  }
  auto bundle = WriteBundle(ctx.env, ctx.g.state_dir, parsed->files);
  if (!bundle) {
    return ErrorResponse(bundle.error().code == ErrorCode::kConflict ? 409 : 500,
                         bundle.error().message);
  }
  // Loaded through a view of the bundle alone: an import outside it is refused before it is
  // read, so no error can quote a file of the server's.
  auto confined = NewConfinedReader(ctx.env.files(), *bundle);
  auto plan = LoadPlan(*confined, PathJoin(*bundle, parsed->pipeline));
  if (!plan) return BundleError(400, plan.error(), *bundle);
  if (auto in = WithinBundle((*plan)->sources, *bundle); !in) {
    return ErrorResponse(400, in.error().message);
  }
  for (const auto& p : (*plan)->pipeline->params) {
    // A secret param's value would travel in the request and BindRunParams would read the
    // server's own environment for it: refused until the API takes secrets.
    if (p.secret) {
      return ErrorResponse(400, fmt::format("param {} is secret: pipelines with secret params "
                                            "are run with the CLI for now", Quote(p.name)));
    }
  }
  auto bound = BindRunParams(ctx.env, **plan, parsed->params);
  if (!bound) return BundleError(400, bound.error(), *bundle);
  const std::string actor = req.who.user;
  RunOrigin origin;
  origin.ns = req.params.at("ns");  // a namespace name: the dispatch checked it
  auto made = AdmitAndCreateRun(ctx.env, ctx.g, **store, **plan, *bound, actor, "", &origin);
  if (!made) {
    return ErrorResponse(made.error().code == ErrorCode::kInvalidInput ? 400 : 500,
                         made.error().message);
  }
  if (made->denied) return DeniedResponse(made->decisions);
  const std::optional<RunRecord>& run = made->run;
  if (auto s = StartEngine(ctx, run->id); !s) return ErrorResponse(500, s.error().message);
  ApiResponse r;
  r.status = 201;
  r.headers.emplace_back("Location", "/api/v1/runs/" + run->id);
  r.body = Value(ValueMap{{"id", Value(run->id)}, {"pipeline", Value(run->pipeline)},
                          {"submittedBy", Value(actor)}})
               .ToJson();
  return r;
}

}  // namespace

Status StartEngine(const ApiContext& ctx, const std::string& run_id, const char* command) {
  const std::string dir = RunDir(ctx.env, ctx.g, run_id);
  SLUICE_TRY_STATUS(ctx.env.files().MakeDirs(dir));
  // Not the server's whole environment: its own credentials (SLUICE_TOKEN, a PGPASSWORD) would
  // reach every task, and a SLUICE_SERVER would send the engine to a server. A fixed list, the
  // PG* variables libpq reads (the engine keeps them from tasks), and the store's URL, which may
  // hold a password, by the environment rather than the command line every user's `ps` shows.
  std::vector<std::string> env{std::string(kServedEngineVar) + "=1"};
  for (const std::string& kv : ctx.env.Environment()) {
    const std::string name = kv.substr(0, kv.find('='));
    static const std::set<std::string> kKept{"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG",
                                             "LANGUAGE", "TZ", "TMPDIR"};
    if (kKept.contains(name) || name.starts_with("LC_") || name.starts_with("PG")) env.push_back(kv);
  }
  if (!ctx.g.store.empty()) env.push_back("SLUICE_STORE=" + ctx.g.store);
  return SpawnBesideDetached("sluice", {"--state-dir", ctx.env.files().Absolute(ctx.g.state_dir),
                                        command, run_id},
                             PathJoin(dir, kEngineLog), &env);
}

void AddSubmitRoutes(Router& router, const ApiContext& ctx) {
  const ApiContext* c = &ctx;
  router.Add({"POST", "/api/v1/namespaces/{ns}/runs", true, Action::kSubmit,
              [c](const ApiRequest& r) { return Submit(*c, r); }});
}

}  // namespace sluice
