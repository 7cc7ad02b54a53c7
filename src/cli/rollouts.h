// `sluice rollout status|promote|pause|resume|abort|retry|report RUN TASK` and `sluice env
// ls|history ENV` (docs/rollouts.md): what people see of and do to deploy tasks' rollouts, from
// the store's rollouts, measurements and releases. Commands that move a rollout on (promote,
// resume) follow the environment's approval as a vote would (its approvers,
// forbidSelfApproval); every command is audited as its principal.
#pragma once

#include <optional>
#include <string>

#include "cli/commands.h"

namespace CLI {
class App;
}

namespace sluice {

class RolloutCli {
 public:
  // Adds `rollout` and `env` to `app`.
  void Add(CLI::App& app);
  // The exit code of the command given, when it was one of these.
  std::optional<int> Dispatch(Env& env, const GlobalOptions& g) const;
  // Whether the command given starts attempts (rollout retry): it runs under a keeper.
  bool StartsAttempts() const;

 private:
  CLI::App *status_ = nullptr, *promote_ = nullptr, *pause_ = nullptr, *resume_ = nullptr,
           *abort_ = nullptr, *retry_ = nullptr, *report_ = nullptr,
           *env_ls_ = nullptr, *env_history_ = nullptr;
  std::string run_, task_, env_, out_;
  int limit_ = 20;
};

}  // namespace sluice
