// A rollout's request, stored state, slots, analysis args and promotion rules (deploy_state.h).
#include "rollout/deploy_state.h"

#include <algorithm>
#include <cstdlib>

#include "common/strings.h"
#include "rollout/deploy_router.h"
#include "rollout/providers.h"
#include "schedule/cron.h"

namespace sluice {

namespace {

constexpr int64_t kSlotCommandTimeoutUs = 60'000'000;

// The placeholders of an environment's slot commands: model.*, slot.*, environment.*.
class MapScope : public Activation {
 public:
  explicit MapScope(Value root) : root_(std::move(root)) {}
  Result<Resolved> Resolve(std::span<const std::string> path) const override {
    const Value* v = root_.Find(path[0]);
    if (!v) return Fail(ErrorCode::kInvalidInput, "unknown name {} (known: model, slot, environment)",
                        Quote(path[0]));
    return Resolved{*v, 1};
  }

 private:
  Value root_;
};

}  // namespace

Result<DeployRequest> ParseDeployRequest(Env& env, const std::string& json) {
  auto doc = ParseJson(json);
  if (!doc || !doc->is_map()) {
    return Fail(ErrorCode::kInvalidInput, "rollout-exec: the spec is not a JSON object: {}",
                doc ? "not an object" : doc.error().message);
  }
  auto text = [&](const char* key) {
    const Value* v = doc->Find(key);
    return v && v->is_string() ? v->as_string() : std::string();
  };
  DeployRequest r;
  r.run_id = env.GetVar("SLUICE_RUN_ID").value_or("");
  r.task = env.GetVar("SLUICE_TASK").value_or("");
  r.attempt = std::atoi(env.GetVar("SLUICE_ATTEMPT").value_or("0").c_str());
  if (r.run_id.empty() || r.task.empty()) {
    return Fail(ErrorCode::kInvalidInput, "rollout-exec runs as a deploy task's attempt "
                "(SLUICE_RUN_ID and SLUICE_TASK are not set)");
  }
  r.environment = text("environment");
  r.model = text("model");
  r.version = text("version");
  r.digest = text("digest");
  r.state_dir = text("stateDir");
  r.store = text("store");
  const Value* args = doc->Find("args");
  r.args = args && args->is_map() ? *args : Value(ValueMap{});
  const Value* strategy = doc->Find("strategy");
  if (!strategy || !strategy->is_map()) {
    return Fail(ErrorCode::kInvalidInput, "rollout-exec: the spec has no strategy");
  }
  r.strategy = *strategy;
  const Value* supersede = doc->Find("supersede");
  r.supersede = supersede && supersede->is_bool() && supersede->as_bool();
  return r;
}

std::string ShortDigest(const std::string& digest) {
  return "sha256:" + digest.substr(0, std::min<size_t>(12, digest.size()));
}

std::string WeightText(const std::vector<SlotWeight>& split) {
  std::vector<std::string> parts;
  for (const auto& w : split) parts.push_back(fmt::format("{}={}", w.slot, w.weight));
  return Join(parts, " ");
}

int64_t IntOf(const Value& v, const char* key, int64_t fallback) {
  const Value* x = v.is_map() ? v.Find(key) : nullptr;
  return x && x->is_int() ? x->as_int() : fallback;
}
std::string TextOf(const Value& v, const char* key) {
  const Value* x = v.is_map() ? v.Find(key) : nullptr;
  return x && x->is_string() ? x->as_string() : std::string();
}
bool BoolOf(const Value& v, const char* key, bool fallback) {
  const Value* x = v.is_map() ? v.Find(key) : nullptr;
  return x && x->is_bool() ? x->as_bool() : fallback;
}

Status RunSlot(const EnvironmentSpec& env, const SlotSpec& slot,
             const std::vector<TemplateField>& argv_t, const char* what, const SlotModel& model) {
  MapScope scope(Value(ValueMap{
      {Value("model"), Value(ValueMap{{Value("path"), Value(model.path)},
                                      {Value("digest"), Value(model.digest)},
                                      {Value("version"), Value(model.version)}})},
      {Value("slot"), Value(ValueMap{{Value("name"), Value(slot.name)},
                                     {Value("address"), Value(slot.address)}})},
      {Value("environment"), Value(ValueMap{{Value("name"), Value(env.name)}})}}));
  std::vector<std::string> argv;
  for (const auto& a : argv_t) {
    auto v = a.Evaluate(scope);
    if (!v) return std::unexpected(v.error());
    argv.push_back(v->ToText());
  }
  auto r = RunCapturedCommand(argv, "/", kSlotCommandTimeoutUs, 64 * 1024);
  if (!r) return std::unexpected(r.error());
  if (r->exit_code != 0) {
    return Fail(ErrorCode::kIo, "{} {} exited with {}: {}", what, Join(argv, " "),
                r->exit_code, std::string(Trim(r->out)));
  }
  return {};
}

Status SlotHealthy(const EnvironmentSpec& env, const SlotSpec& slot, const SlotModel& model) {
  if (!slot.health_url.empty()) {
    const auto a = HttpRequest("GET", slot.health_url, {}, "", 1'000'000);
    if (!a) return std::unexpected(a.error());
    if (a->status >= 200 && a->status < 300) return {};
    return Fail(ErrorCode::kIo, "{} answered {}", slot.health_url, a->status);
  }
  return RunSlot(env, slot, slot.health_command, "health", model);
}

Value AnalysisArgs(const Value& deploy_args, const Value& analysis, const EnvironmentSpec& env,
                   const DeployState& st) {
  ValueMap args;
  for (const auto& [k, v] : deploy_args.as_map()) args.emplace_back(k, v);
  const Value* own = analysis.Find("args");
  if (own && own->is_map()) {
    for (const auto& [k, v] : own->as_map()) args.emplace_back(k, v);
  }
  const SlotSpec* canary = env.FindSlot(st.canary_slot);
  const SlotSpec* stable = env.FindSlot(st.stable_slot);
  ValueMap builtin{{Value("version"), Value(st.version)},
                   {Value("stableVersion"), Value(st.stable_version)},
                   {Value("environment"), Value(env.name)},
                   {Value("canarySlot"), Value(st.canary_slot)},
                   {Value("stableSlot"), Value(st.stable_slot)},
                   {Value("previewAddress"), Value(canary ? canary->address : "")},
                   {Value("stableAddress"), Value(stable ? stable->address : "")}};
  for (auto& b : builtin) {
    const bool given = std::any_of(args.begin(), args.end(),
                                   [&](const auto& a) { return a.first == b.first; });
    if (!given) args.push_back(std::move(b));
  }
  return Value(std::move(args));
}

std::string PromotionRefusal(const EnvironmentSpec& env, const std::vector<ReleaseRow>& after,
                             const std::string& digest, const std::string& version, int64_t now_us) {
  const PromotionRules& p = env.promotion;
  if (p.after.empty()) return "";
  int64_t longest = -1;  // the longest time the model spent there, in microseconds
  for (const auto& r : after) {
    if (r.digest != digest) continue;
    longest = std::max(longest, (r.until_us ? r.until_us : now_us) - r.since_us);
  }
  const std::string model = fmt::format("{} ({})", version, ShortDigest(digest));
  if (longest < 0) {
    return fmt::format("promotion to {} refused: model {} was never released to {}, which must "
                       "come first", env.name, model, p.after);
  }
  if (longest / 1000 < p.soak_ms) {
    return fmt::format("promotion to {} refused: model {} has soaked in {} for {}, and {} needs {}",
                       env.name, model, p.after, FormatDurationMs(longest / 1000), env.name,
                       FormatDurationMs(p.soak_ms));
  }
  return "";
}

int64_t FrozenUntil(const EnvironmentSpec& env, const TimeZones* zones, int64_t now_us) {
  int64_t until_s = 0;
  const int64_t now_s = now_us / 1'000'000;
  for (const auto& f : env.freeze) {
    auto expr = ParseCron(f.cron);  // checked when the file was read
    if (!expr) continue;
    auto sched = CronSchedule::Make(*expr, f.time_zone, zones);
    if (!sched) continue;
    auto began = sched->Prev(now_s + 1);
    if (began && now_s < *began + f.duration_ms / 1000) {
      until_s = std::max(until_s, *began + f.duration_ms / 1000);
    }
  }
  return until_s * 1'000'000;
}

}  // namespace sluice
