// A deploy task's attempt (docs/rollouts.md): the rollout process, `sluice-net rollout-exec
// SPEC`, where SPEC is the deploy resolved for this attempt as JSON. The process finds its run,
// task and attempt in SLUICE_RUN_ID, SLUICE_TASK and SLUICE_ATTEMPT as any attempt does, and
// reads the environment's configuration itself from the state folder: nothing here can change
// an environment's rules.
#include <fmt/format.h>

#include <algorithm>

#include "common/strings.h"
#include "engine/attempt.h"
#include "env/env.h"

namespace sluice {

std::vector<int> UpstreamInstances(const RunState& state, int i) {
  const PlanTask& t = state.task_of(i);
  std::vector<int> ups(t.deps.begin(), t.deps.end());
  ups.insert(ups.end(), t.data_deps.begin(), t.data_deps.end());
  std::sort(ups.begin(), ups.end());
  ups.erase(std::unique(ups.begin(), ups.end()), ups.end());
  for (int& d : ups) d = state.InScope(state.at(i).scope, d);
  return ups;
}

Result<DeployModel> ResolveDeployModel(const DeploySpec& d, const RunState& state,
                                       const RunContext& ctx, int i, const InstanceScope& scope) {
  DeployModel m;
  auto model = d.model.Evaluate(scope);
  if (!model) return Fail(ErrorCode::kInvalidInput, "deploy.model: {}", model.error().message);
  if (d.version) {
    auto v = d.version->Evaluate(scope);
    if (!v) return Fail(ErrorCode::kInvalidInput, "deploy.version: {}", v.error().message);
    m.version = v->ToText();
  }
  // A relative path is the pipeline file's folder's, as a reader of the pipeline expects (the
  // rollout process runs in its attempt's folder).
  m.path = model->ToText();
  if (!m.path.empty() && m.path[0] != '/' && d.loc.file) {
    const std::string& file = *d.loc.file;
    const size_t slash = file.rfind('/');
    m.path = (slash == std::string::npos ? std::string(".") : file.substr(0, slash)) + "/" + m.path;
    if (ctx.files) m.path = ctx.files->Absolute(m.path);
  }
  // An upstream task's artifact: the digest the executor stored it with. A file inside an
  // artifact folder is hashed here: the store never changes what it holds.
  for (int up : UpstreamInstances(state, i)) {
    const Value& out = state.at(up).outputs;
    const Value* paths = out.is_map() ? out.Find("artifacts") : nullptr;
    const Value* info = out.is_map() ? out.Find("artifact_info") : nullptr;
    if (!paths || !paths->is_map() || !info || !info->is_map()) continue;
    for (const auto& [name, path] : paths->as_map()) {
      if (!path.is_string()) continue;
      if (path.as_string() == m.path) {
        const Value* meta = info->Find(name);
        const Value* digest = meta && meta->is_map() ? meta->Find("digest") : nullptr;
        const Value* size = meta && meta->is_map() ? meta->Find("size") : nullptr;
        if (digest && digest->is_string()) m.digest = digest->as_string();
        if (size && size->is_int()) m.size = size->as_int();
        return m;
      }
      if (ctx.files && m.path.starts_with(path.as_string() + "/")) {
        if (auto digest = ctx.files->HashFile(m.path)) {
          m.digest = std::move(*digest);
          m.size = ctx.files->Stat(m.path).size;
        }
        return m;
      }
    }
  }
  return m;
}

std::optional<std::string> ResolveDeploy(const DeploySpec& d, const RunState& state,
                                         const RunContext& ctx, int i,
                                         const InstanceScope& scope, AttemptRequest& req) {
  auto program = ProgramBeside("sluice-net");
  if (!program) return program.error().message;
  auto model = ResolveDeployModel(d, state, ctx, i, scope);
  if (!model) return model.error().message;
  ValueMap args;
  for (const auto& [name, field] : d.args) {
    auto v = field.Evaluate(scope);
    if (!v) return fmt::format("deploy.args.{}: {}", name, v.error().message);
    args.emplace_back(name, Value(v->ToText()));
  }
  // `digest`: what the gate's and promotion's policies judged; the rollout process refuses a
  // file that no longer has it.
  ValueMap spec{{"environment", Value(d.environment)},
                {"model", Value(model->path)},
                {"digest", Value(model->digest)},
                {"version", Value(model->version)},
                {"args", Value(std::move(args))},
                {"strategy", d.strategy},
                {"supersede", Value(d.supersede)}};
  if (ctx.rollout_context.is_map()) {
    for (const auto& [k, v] : ctx.rollout_context.as_map()) spec.emplace_back(k, v);
  }
  req.argv = {*program, "rollout-exec", Value(std::move(spec)).ToJson()};
  return std::nullopt;
}

}  // namespace sluice
