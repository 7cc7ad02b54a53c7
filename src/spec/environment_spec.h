// `kind: Environment` (docs/rollouts.md): where a deploy task puts a model. An environment has
// slots (model servers that Sluice starts and stops with the environment's commands), a traffic
// router that splits requests between them (nginx, or a command), promotion rules (the
// environment that must come first and how long the model soaks there, central promotion
// policies, an approval) and freeze windows.
//
// Environments and AnalysisTemplates are central configuration: the *.yaml files of
// STATE/environments/, trusted as STATE/policies/ is (owned by the state folder's owner and
// writable by no one else). They are never read from the pipeline being promoted: its author
// must not be able to drop prod's approval.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "spec/model.h"

namespace sluice {

class FileSystem;
struct AnalysisTemplate;
struct Plan;
struct PolicySet;

// One slot: a model server Sluice starts with a model, health-checks and stops. Its commands
// are argv lists whose arguments may hold placeholders: ${{ model.path }}, ${{ model.digest }},
// ${{ model.version }}, ${{ slot.name }}, ${{ slot.address }}, ${{ environment.name }}.
struct SlotSpec {
  std::string name;
  Location loc;
  std::string address;  // host:port the router sends its share of requests to
  std::vector<TemplateField> start, stop;
  std::string health_url;                 // answers 2xx when the slot serves; or:
  std::vector<TemplateField> health_command;  // exits 0 when it serves
  int64_t start_timeout_ms = 60'000;      // start to healthy
};

// How traffic is split between slots.
struct RouterSpec {
  enum class Kind { kNginx, kCommand };
  Kind kind = Kind::kNginx;
  Location loc;
  // nginx: Sluice writes `file` (an `upstream UPSTREAM {...}` block and the generation), checks
  // the configuration with `test`, renames it into place, sends SIGHUP to the pid in
  // `pid_file`, and polls `live_url` until it answers the new generation.
  std::string upstream = "models";
  std::string file;
  std::vector<std::string> test;
  std::string pid_file;
  std::string live_url;
  // command: `apply` gets the weights as JSON in its last argument; `live` (optional) with the
  // same argument exits 0 once they serve.
  std::vector<std::string> apply, live;
  int64_t live_timeout_ms = 5'000;
};

struct FreezeWindow {
  std::string cron;       // five fields: when a freeze starts
  std::string time_zone;  // "" = UTC
  int64_t duration_ms = 0;
  Location loc;
};

struct PromotionRules {
  std::string after;       // the environment a model must have been released to first
  Location after_loc;
  int64_t soak_ms = 0;     // how long it must have been there
  // Central policies of stage promotion that must allow it, whatever their `match` says.
  std::vector<std::pair<std::string, Location>> policies;
  std::unique_ptr<ApprovalSpec> approval;  // people who must sign it off
};

struct EnvironmentSpec {
  std::string name;
  std::string file;
  Location loc;
  std::vector<SlotSpec> slots;
  RouterSpec router;
  PromotionRules promotion;
  std::vector<FreezeWindow> freeze;
  const SlotSpec* FindSlot(std::string_view name) const;
};

struct EnvironmentsSpec {
  std::vector<std::shared_ptr<const EnvironmentSpec>> environments;
  std::vector<std::shared_ptr<const AnalysisTemplate>> templates;
  const EnvironmentSpec* Find(std::string_view name) const;
  const AnalysisTemplate* FindTemplate(std::string_view name) const;
};

// Parses one file of STATE/environments/ (Environment and AnalysisTemplate documents) into `out`.
// Unknown keys, wrong types, a slot or environment declared twice: FILE:LINE:COL.
Status ParseEnvironmentsFile(const std::string& path, std::string_view content,
                             EnvironmentsSpec* out);

// Admission's check of a plan's deploy tasks: each names a declared environment, and every
// AnalysisTemplate its strategy runs is declared. Fails at the task's location.
Status CheckDeploys(const Plan& plan, const EnvironmentsSpec& envs);
// And the promotion.policies of each environment it deploys to name central policies of stage
// promotion.
Status CheckPromotionPolicies(const Plan& plan, const EnvironmentsSpec& envs,
                              const PolicySet& central);

// STATE/environments/*.yaml, each file trusted as central policies are (CheckTrusted); an
// absent folder is no environments. `after` must name a declared environment.
Result<std::shared_ptr<const EnvironmentsSpec>> LoadEnvironments(FileSystem& fs,
                                                                 const std::string& state_dir);

}  // namespace sluice
