// `sluice run FILE --server URL` (remote_cli.h): the pipeline is loaded and its params read here,
// as a local run does (so that its errors read the same), its folder and the folders of what it
// imports are sent as the bundle POST /api/v1/namespaces/{ns}/runs expects (docs/api.md), and
// the run's events are followed and shown by the same ProgressPrinter as a local run's, until
// the run finishes; the command then exits as the local one would (0 succeeded, 1 otherwise).
// Following, and Ctrl-C detaching from it, are remote_follow.cc's.
#include <algorithm>
#include <cstdio>
#include <set>

#include "cli/cli_support.h"
#include "cli/policy_cmds.h"
#include "common/strings.h"
#include "common/value.h"
#include "interop/argo_document.h"
#include "interop/argo_import.h"
#include "policy/policy.h"
#include "server/remote_cli.h"
#include "spec/plan.h"

namespace sluice {

namespace {

constexpr size_t kMaxFiles = 1000;        // the API's limit (docs/api.md)
constexpr int64_t kMaxFileBytes = 16 << 20;  // the server's default --max-body

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
  const std::string root = CommonFolder(folders);
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

}  // namespace

int AdmissionRefused(const ApiAnswer& a, const std::string& server, const std::string& pipeline,
                     const std::string& what) {
  auto v = ParseJson(a.body);
  const Value* err = v && v->is_map() ? v->Find("error") : nullptr;
  const Value* denied = err && err->is_map() ? err->Find("decisions") : nullptr;
  if (a.status != 403 || !denied || !denied->is_list()) return Report(ErrorOfAnswer(server, a));
  PrintDecisionsOfJson(*denied);
  std::fprintf(stderr, "sluice: admission denied: pipeline %s breaks a policy (see above); %s\n",
               pipeline.c_str(), what.c_str());
  return 1;
}

void PrintDecisionsOfJson(const Value& decisions) {
  std::vector<Decision> out;
  for (const Value& d : decisions.is_list() ? decisions.as_list() : ValueList{}) {
    auto field = [&](const char* k) {
      const Value* f = d.is_map() ? d.Find(k) : nullptr;
      return f && f->is_string() ? f->as_string() : std::string();
    };
    Decision x;
    x.policy = field("policy"), x.rule = field("rule"), x.result = field("result");
    x.message = field("message"), x.task = field("task");
    out.push_back(std::move(x));
  }
  PrintDecisions(out, false);
}

int RemoteRun(Env& env, RemoteContext& c, const RemoteRunOptions& o) {
  // An Argo file is imported here: the bundle carries its translation (plan.sources), which the
  // server loads as any pipeline.
  ArgoImport imported;
  ArgoImportOptions argo = o.argo;
  if (auto text = env.files().ReadFile(o.file); text && LooksLikeArgo(*text)) {
    // Argo lets the submitter resume a suspend; here the submitter is the token's user.
    auto me = Expect2xx(c.api.Get("/api/v1/whoami"), c.api.server());
    if (!me) return Report(me.error());
    auto doc = ParseJson(me->body);
    const Value* user = doc && doc->is_map() ? doc->Find("user") : nullptr;
    if (user && user->is_string()) argo.default_approver = user->as_string();
  }
  auto plan = LoadPipelineFile(env.files(), o.file, argo, &imported);
  for (const std::string& w : imported.warnings) std::fprintf(stderr, "%s\n", w.c_str());
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
  auto a = c.api.Post("/api/v1/namespaces/" + PathEscape(c.Namespace()) + "/runs", body);
  if (!a) return Report(a.error());
  if (a->status != 201) {
    return AdmissionRefused(*a, c.api.server(), (*plan)->pipeline->name, "no run was created");
  }
  auto made = ParseJson(a->body);
  const Value* id = made && made->is_map() ? made->Find("id") : nullptr;
  if (!id || !id->is_string()) return Report(Error(ErrorCode::kIo, "the server's answer names no run"));
  std::printf("%s\n", id->as_string().c_str());  // the first line of output, as a local run's
  std::fflush(stdout);
  DetachOnInterrupt();  // from here Ctrl-C detaches instead of ending the command
  return FollowRemoteRun(env, c, id->as_string(), 0, "succeeded", false);
}

}  // namespace sluice
