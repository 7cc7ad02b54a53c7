// A deploy task's attempt (docs/rollouts.md): the rollout process, `sluice-net rollout-exec
// SPEC`, where SPEC is the deploy resolved for this attempt as JSON. The process finds its run,
// task and attempt in SLUICE_RUN_ID, SLUICE_TASK and SLUICE_ATTEMPT as any attempt does, and
// reads the environment's configuration itself from the state folder: nothing here can change
// an environment's rules.
#include <fmt/format.h>

#include "common/strings.h"
#include "engine/attempt.h"
#include "env/env.h"

namespace sluice {

std::optional<std::string> ResolveDeploy(const DeploySpec& d, const InstanceScope& scope,
                                         const RunContext& ctx, AttemptRequest& req) {
  auto program = ProgramBeside("sluice-net");
  if (!program) return program.error().message;
  auto model = d.model.Evaluate(scope);
  if (!model) return fmt::format("deploy.model: {}", model.error().message);
  std::string version;
  if (d.version) {
    auto v = d.version->Evaluate(scope);
    if (!v) return fmt::format("deploy.version: {}", v.error().message);
    version = v->ToText();
  }
  ValueMap args;
  for (const auto& [name, field] : d.args) {
    auto v = field.Evaluate(scope);
    if (!v) return fmt::format("deploy.args.{}: {}", name, v.error().message);
    args.emplace_back(name, Value(v->ToText()));
  }
  // A relative path is the pipeline file's folder's, as a reader of the pipeline expects (the
  // rollout process runs in its attempt's folder).
  std::string path = model->ToText();
  if (!path.empty() && path[0] != '/' && d.loc.file) {
    const std::string& file = *d.loc.file;
    const size_t slash = file.rfind('/');
    path = (slash == std::string::npos ? std::string(".") : file.substr(0, slash)) + "/" + path;
    if (ctx.files) path = ctx.files->Absolute(path);
  }
  ValueMap spec{{"environment", Value(d.environment)},
                {"model", Value(path)},
                {"version", Value(version)},
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
