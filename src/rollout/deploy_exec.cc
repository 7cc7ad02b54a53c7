// The rollout process (deploy_exec.h; docs/rollouts.md).
//
// Design: one process per deploy attempt, a loop that sleeps in 100 ms ticks. Its whole state
// (DeployState) is one JSON document in the store's rollouts row, rewritten at every
// transition, so that a resumed rollout continues from its stored step; people's commands
// (sluice rollout promote|pause|resume|abort) arrive in the same row, numbered, and are read at
// every tick. Traffic moves only through the environment's router, which confirms that a split
// serves before the rollout goes on. Rejected: the engine's own loop driving rollouts (a
// rollout waits minutes on pauses and analyses, and its HTTP clients must stay out of the
// `sluice` binary); a rollout state kept only in the run's events (people's commands come from
// other processes, and the events of a run have one writer).
#include "rollout/deploy_exec.h"

#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <thread>

#include "cli/cli_support.h"
#include "common/outcome.h"
#include "common/strings.h"
#include "common/value.h"
#include "rollout/deploy_analysis.h"
#include "rollout/deploy_router.h"
#include "rollout/deploy_state.h"
#include "spec/environment_spec.h"
#include "store/store.h"

namespace sluice {

namespace {

constexpr int64_t kTickMs = 100;
constexpr size_t kTimelineMax = 1000;

// SIGTERM or SIGINT, once one came: the engine stops the attempt (a cancel, a timeout).
volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void OnStopSignal(int sig) { g_stop_signal = sig; }

// How a part of a rollout ended: go on, or stop the process with `code` (0: done).
struct Stop {
  int code = 0;
  std::string why;
};
using Step = std::optional<Stop>;  // nullopt: go on

class Rollout {
 public:
  Rollout(Env& env, Store& store, std::shared_ptr<const EnvironmentsSpec> envs,
          const EnvironmentSpec& spec, DeployRequest req)
      : env_(env), store_(store), envs_(std::move(envs)), spec_(spec), req_(std::move(req)),
        router_(MakeRouter(spec)) {
    const Value* c = req_.strategy.Find("canary");
    canary_ = c != nullptr;
    strategy_ = c ? *c : *req_.strategy.Find("blueGreen");
  }

  int Run() {
    auto row = store_.GetRollout(req_.run_id, req_.task);
    if (!row) return Report(row.error());
    if (*row && (*row)->active()) {  // a resumed rollout: where it was
      auto data = ParseJson((*row)->data);
      st_ = DeployState::From(data ? *data : Value());
      started_us_ = (*row)->started_us;
      Log("resumed at stage {} step {} (generation {})", st_.stage, st_.step, st_.generation);
    } else {
      // A new run of the rollout (the first, or a retry of one that ended): what the last one
      // was told and measured is not this one's.
      started_us_ = Now();
      st_.epoch = req_.attempt;
      if (*row) st_.seen_command = (*row)->command_seq;
    }
    Step s = Drive();
    const Stop stop = s ? *s : Stop{};
    Log("{}", stop.why.empty() ? std::string("done") : stop.why);
    return stop.code;
  }

 private:
  Step Drive() {
    if (st_.stage == "new") {
      if (Step s = Begin()) return s;
    } else if (st_.generation > 0) {
      // The split of the last transition, in force again: nginx may have restarted since.
      if (Step s = ApplyWeight(st_.weight)) return s;
    }
    if (st_.stage == "new" || st_.stage == "claimed") {
      if (Step s = StartCandidate()) return s;
    }
    if (st_.stable_slot.empty()) return FirstRelease();
    return canary_ ? Canary() : BlueGreen();
  }

  // --- The start: one rollout per environment, the promotion rules, the slots.
  Step Begin() {
    auto digest = env_.files().HashFile(req_.model);  // streamed: models may be large
    if (!digest) return Stop{1, fmt::format("deploy.model {}: {}", req_.model, digest.error().message)};
    st_.digest = std::move(*digest);
    st_.version = req_.version.empty() ? st_.digest.substr(0, 12) : req_.version;
    if (Step s = Claim()) return s;
    // Each split's generation is new in the environment: the router confirms a split live by
    // its generation, and the previous rollout's last one is live already.
    auto earlier = store_.ListRollouts(spec_.name);
    if (!earlier) return Stop{1, earlier.error().message};
    for (const auto& r : *earlier) {
      auto data = ParseJson(r.data);
      if (data) st_.generation = std::max(st_.generation, DeployState::From(*data).generation);
    }
    if (Step s = CheckPromotion()) return s;
    if (Step s = WaitOutOfFreeze()) return s;
    auto current = store_.Releases(spec_.name, 1);
    if (!current) return Stop{1, current.error().message};
    if (!current->empty() && (*current)[0].until_us == 0 && spec_.FindSlot((*current)[0].slot)) {
      const ReleaseRow& r = (*current)[0];
      st_.stable_slot = r.slot;
      st_.stable_digest = r.digest;
      st_.stable_version = r.version;
    }
    for (const auto& slot : spec_.slots) {
      if (slot.name != st_.stable_slot) {
        st_.canary_slot = slot.name;
        break;
      }
    }
    if (st_.stable_digest == st_.digest) {
      Save("Healthy", fmt::format("{} already serves {} ({})", spec_.name, st_.version,
                                      ShortDigest(st_.digest)));
      return Stop{0, fmt::format("{} already serves this model", spec_.name)};
    }
    st_.stage = "claimed";
    Save("Progressing", fmt::format("starting {} in slot {}", st_.version, st_.canary_slot));
    return std::nullopt;
  }

  // One rollout acts on an environment at a time. One that waits has a row of phase Waiting
  // (which claims nothing), so that status shows it and abort stops it.
  Step Claim() {
    std::string waiting_for;
    while (true) {
      auto other = store_.PutRollout(Row("Progressing", "claimed the environment"), true);
      if (!other) return Stop{1, other.error().message};
      if (!*other) return std::nullopt;
      const RolloutRow& o = **other;
      const std::string active = o.run_id + " " + o.task;
      if (active != waiting_for) {
        Log("rollout {} is active in {}; {}", active, spec_.name,
            req_.supersede ? "superseding it" : "waiting for it to end");
        if (req_.supersede) {
          AuditRecord a = Audit("rollout.abort", o.run_id, o.task,
                                fmt::format("superseded by {} {}", req_.run_id, req_.task));
          (void)store_.CommandRollout(o.run_id, o.task, "abort", std::move(a));
        }
        Save("Waiting", fmt::format("waiting for rollout {} to end in {}", active, spec_.name));
        waiting_for = active;
      }
      for (int i = 0; i < 5; ++i) {
        if (Step s = Idle()) return s;
      }
    }
  }

  // The model its task stored and its policies judged, the environment that must come first,
  // and the time the model spent there.
  Step CheckPromotion() {
    auto releases = store_.Releases(spec_.promotion.after, 1000);
    if (!releases) return Stop{1, releases.error().message};
    const std::string why =
        !req_.digest.empty() && req_.digest != st_.digest
            ? fmt::format("deploy.model {} changed after its task stored it: its digest is {}, "
                          "not {}", req_.model, ShortDigest(st_.digest), ShortDigest(req_.digest))
            : PromotionRefusal(spec_, *releases, st_.digest, st_.version, Now());
    if (why.empty()) return std::nullopt;
    Save("Degraded", why);
    return Stop{kDeployExitRefused, why};
  }

  Step WaitOutOfFreeze() {
    while (const int64_t until = FrozenUntil(spec_, env_.time_zones(), Now())) {
      Save("Paused", fmt::format("{} is frozen until {} (freeze window)", spec_.name,
                                 FormatTimestampMs(until / 1000)));
      if (Step s = Idle(1000)) return s;
    }
    return std::nullopt;
  }

  Step StartCandidate() {
    const SlotSpec* slot = spec_.FindSlot(st_.canary_slot);
    if (!slot) return Stop{1, fmt::format("slot {} is no longer declared", st_.canary_slot)};
    (void)RunSlotCommand(*slot, slot->stop, "stop");  // whatever an earlier attempt left there
    if (auto s = RunSlotCommand(*slot, slot->start, "start"); !s) {
      return Broken(fmt::format("slot {} did not start: {}", slot->name, s.error().message));
    }
    const auto deadline = Now() + slot->start_timeout_ms * 1000;
    std::string last;
    while (true) {
      auto healthy = Healthy(*slot);
      if (healthy) break;
      last = healthy.error().message;
      if (Now() >= deadline) {
        return Broken(fmt::format("slot {} was not healthy within {}: {}", slot->name,
                                FormatDurationMs(slot->start_timeout_ms), last));
      }
      if (Step s = Idle()) return s;
    }
    st_.stage = "started";
    Save("Progressing", fmt::format("{} serves in slot {}", st_.version, slot->name));
    return std::nullopt;
  }

  // --- The first model an environment gets: no stable version to compare with (Argo too goes
  // straight to 100 %).
  Step FirstRelease() {
    if (st_.stage != "scaledown") {
      if (Step s = ApplyWeight(100)) return s;
      if (Step s = Release()) return s;
    }
    return ScaleDownStable();
  }

  // --- Canary: the steps, a background analysis alongside, then all traffic and the release.
  Step Canary() {
    const Value& steps = *strategy_.Find("steps");
    const Value* background = strategy_.Find("analysis");
    if (st_.stage == "started") {
      st_.stage = "steps";
      st_.step = 0;
      st_.step_started_us = Now();
      Save("Progressing", "step 1");
    }
    while (st_.stage == "steps" && st_.step < static_cast<int>(steps.as_list().size())) {
      if (background && !background_ && st_.step >= IntOf(*background, "startingStep")) {
        auto started = StartAnalysis(*background, "background");
        if (!started) return Broken(started.error().message);
        background_ = std::move(*started);
      }
      if (Step s = Checkpoint()) return s;
      const Value& step = steps.as_list()[st_.step];
      if (Step s = CanaryStep(step)) return s;
      ++st_.step;
      st_.step_started_us = Now();
      st_.pause.clear();
      Save("Progressing", fmt::format("step {}", st_.step + 1));
    }
    if (background_) background_->Terminate();
    if (st_.stage == "steps") {
      if (Step s = ApplyWeight(100)) return s;
      if (Step s = Release()) return s;
    }
    return ScaleDownStable();
  }

  Step CanaryStep(const Value& step) {
    if (const Value* w = step.Find("setWeight")) {
      return ApplyWeight(static_cast<int>(w->as_int()));
    }
    if (const Value* p = step.Find("pause")) {
      const int64_t ms = IntOf(*p, "durationMs", -1);
      if (ms >= 0) return WaitUntil(st_.step_started_us + ms * 1000, "paused for {}",
                                    FormatDurationMs(ms));
      return PauseForPromote("step", fmt::format("paused at step {} until promoted",
                                                  st_.step + 1));
    }
    return Analyse(*step.Find("analysis"), fmt::format("step {}", st_.step + 1));
  }

  // --- Blue/green: the candidate serves as the preview, then takes all traffic at once; the
  // old version stays up for scaleDownDelay, so an abort in that time is instant.
  Step BlueGreen() {
    if (st_.stage == "started") {
      if (const Value* pre = strategy_.Find("prePromotionAnalysis")) {
        if (Step s = Analyse(*pre, "prePromotion")) return s;
      }
      if (!BoolOf(strategy_, "autoPromotionEnabled", true)) {
        if (Step s = PauseForPromote("promotion", fmt::format(
                "{} is ready in slot {}; promote to switch", st_.version, st_.canary_slot))) {
          return s;
        }
      }
      if (Step s = Checkpoint()) return s;
      if (Step s = ApplyWeight(100)) return s;
      st_.stage = "switched";
      Save("Progressing", fmt::format("switched to {}", st_.canary_slot));
    }
    if (st_.stage == "switched") {
      if (const Value* post = strategy_.Find("postPromotionAnalysis")) {
        if (Step s = Analyse(*post, "postPromotion")) return s;
      }
      if (Step s = Release()) return s;
    }
    return ScaleDownStable();
  }

  // --- Analyses: measured until they decide, every measurement stored.
  Result<std::unique_ptr<DeployAnalysis>> StartAnalysis(const Value& spec, const std::string& label) {
    std::vector<std::string> names;
    for (const auto& t : spec.Find("templates")->as_list()) names.push_back(t.as_string());
    MeasurementRow base;
    base.run_id = req_.run_id;
    base.task = req_.task;
    base.analysis = label;
    base.epoch = st_.epoch;
    auto stored = store_.Measurements(req_.run_id, req_.task);
    if (!stored) return std::unexpected(stored.error());
    std::vector<MeasurementRow> earlier;
    for (auto& m : *stored) {
      if (m.analysis == label && m.epoch == st_.epoch) earlier.push_back(std::move(m));
    }
    return DeployAnalysis::Start(env_, *envs_, names, AnalysisArgs(req_.args, spec, spec_, st_),
                                 earlier,
                                 [this, base](const MeasurementRow& m) {
                                   MeasurementRow row = m;
                                   row.run_id = base.run_id;
                                   row.task = base.task;
                                   row.analysis = base.analysis;
                                   row.epoch = base.epoch;
                                   if (auto s = store_.AddMeasurement(row); !s) {
                                     Log("cannot store a measurement: {}", s.error().message);
                                   }
                                   Log("{} {}/{}: {} {}{}", base.analysis, row.template_name,
                                       row.metric, row.phase, row.value,
                                       row.message.empty() ? "" : " (" + row.message + ")");
                                 });
  }

  Step Analyse(const Value& spec, const std::string& label) {
    auto run = StartAnalysis(spec, label);
    if (!run) return Broken(run.error().message);
    Save("Progressing", fmt::format("analysis {} running", label));
    while (true) {
      (*run)->Tick(Now());
      const AnalysisVerdict v = (*run)->verdict();
      if (v.phase != "Running") Mark("analysis", fmt::format("{}: {} {}", label, v.phase, v.reason));
      if (v.phase == "Successful") return std::nullopt;
      if (v.phase == "Failed" || v.phase == "Error") {
        return Abort(kDeployExitAnalysisFailed, fmt::format("analysis {} {}: {}", label,
                                                            v.phase == "Error" ? "errored" : "failed",
                                                            v.reason));
      }
      if (v.phase == "Inconclusive") {
        return PauseForPromote("inconclusive", fmt::format(
            "analysis {} was inconclusive: {}; promote to go on, or abort", label, v.reason));
      }
      if (Step s = Idle()) return s;
    }
  }

  // --- Waiting: pauses, people's commands, the background analysis.
  template <typename... Args>
  Step WaitUntil(int64_t until_us, fmt::format_string<Args...> f, Args&&... args) {
    const std::string message = fmt::format(f, std::forward<Args>(args)...);
    Mark("pause", message);
    Save("Paused", message);
    while (Now() < until_us || st_.manual_pause) {
      if (Step s = Idle()) return s;
    }
    return std::nullopt;
  }

  Step PauseForPromote(const std::string& what, const std::string& message) {
    st_.pause = what;
    promoted_ = false;
    Mark("pause", message);
    Save("Paused", message);
    while (!promoted_ || st_.manual_pause) {
      if (Step s = Idle()) return s;
    }
    st_.pause.clear();
    Mark("promote", fmt::format("promoted by {}", promoted_by_));
    Save("Progressing", fmt::format("promoted by {}", promoted_by_));
    return std::nullopt;
  }

  // Between steps: people's commands, and a `rollout pause` holds here until resumed.
  Step Checkpoint() {
    if (Step s = Tick()) return s;
    if (aborted_) return Abort(kDeployExitAborted, abort_why_);
    while (st_.manual_pause) {
      if (Step s = Idle()) return s;
    }
    return std::nullopt;
  }

  // One wait of a loop: people's commands (an abort ends it), then `ms` of sleep.
  Step Idle(int64_t ms = kTickMs) {
    if (Step s = Tick()) return s;
    if (aborted_) return Abort(kDeployExitAborted, abort_why_);
    Sleep(ms);
    return std::nullopt;
  }

  // Reads people's commands and measures the background analysis; a failure aborts. A stop
  // signal (the run cancelled, the task's time out) aborts like `sluice rollout abort`.
  Step Tick() {
    if (const int sig = g_stop_signal; sig && !aborted_) {
      aborted_ = true;
      abort_why_ = fmt::format("the rollout's attempt was stopped ({}): the run was cancelled or "
                               "its time ran out", sig == SIGINT ? "SIGINT" : "SIGTERM");
    }
    auto row = store_.GetRollout(req_.run_id, req_.task);
    if (row && *row && (*row)->command_seq > st_.seen_command) {
      const RolloutRow& r = **row;
      st_.seen_command = r.command_seq;
      Log("{} by {}", r.command, r.command_by);
      if (r.command == "abort") {
        aborted_ = true;
        abort_why_ = fmt::format("aborted by {}", r.command_by);
      } else if (r.command == "promote") {  // as in Argo, a promote also ends a `rollout pause`
        promoted_ = true;
        promoted_by_ = r.command_by;
        st_.manual_pause = false;
      } else if (r.command == "pause") {
        st_.manual_pause = true;
        Save("Paused", fmt::format("paused by {}", r.command_by));
      } else if (r.command == "resume") {
        st_.manual_pause = false;
        Save("Progressing", fmt::format("resumed by {}", r.command_by));
      }
    }
    if (background_) {
      background_->Tick(Now());
      const AnalysisVerdict v = background_->verdict();
      if (v.phase == "Failed" || v.phase == "Error" || v.phase == "Inconclusive") {
        return Abort(kDeployExitAnalysisFailed, fmt::format("background analysis {}: {}",
                                                            v.phase == "Error" ? "errored" : v.phase == "Failed" ? "failed" : "was inconclusive",
                                                            v.reason));
      }
    }
    return std::nullopt;
  }

  // --- Traffic, the release, and the ends.
  Step ApplyWeight(int weight) {
    std::vector<SlotWeight> split;
    const SlotSpec* canary = spec_.FindSlot(st_.canary_slot);
    const SlotSpec* stable = spec_.FindSlot(st_.stable_slot);
    if (stable && weight < 100) split.push_back({stable->name, stable->address, 100 - weight});
    if (canary && (weight > 0 || !stable)) split.push_back({canary->name, canary->address, stable ? weight : 100});
    const int64_t generation = st_.generation + 1;
    const int64_t t0 = Now();
    if (auto s = router_->Apply(split, generation); !s) {
      return Broken(fmt::format("the router did not take weight {}: {}", weight, s.error().message));
    }
    st_.generation = generation;
    st_.weight = weight;
    Mark("weight", fmt::format("{} takes {} % (generation {})", st_.canary_slot, weight, generation));
    Log("weights {} (generation {}) live after {} ms", WeightText(split), generation,
        (Now() - t0) / 1000);
    Save("Progressing", fmt::format("{} takes {} %", st_.canary_slot, weight));
    return std::nullopt;
  }

  Step Release() {
    ReleaseRow r;
    r.environment = spec_.name;
    r.slot = st_.canary_slot;
    r.digest = st_.digest;
    r.version = st_.version;
    r.run_id = req_.run_id;
    r.task = req_.task;
    r.actor = PromotedBy();
    r.since_us = Now();
    AuditRecord a = Audit("release", req_.run_id, req_.task,
                          fmt::format("{} ({}) into {} slot {}", r.version, ShortDigest(r.digest),
                                      spec_.name, r.slot));
    if (auto s = store_.RecordRelease(r, std::move(a)); !s) return Stop{1, s.error().message};
    st_.released_us = r.since_us;
    st_.stage = "scaledown";
    Mark("release", fmt::format("{} released by {}", st_.version, r.actor));
    Save("Progressing", fmt::format("{} is released in {}", st_.version, spec_.name));
    return std::nullopt;
  }

  Step ScaleDownStable() {
    const int64_t delay = IntOf(strategy_, "scaleDownDelayMs");
    if (!st_.stable_slot.empty()) {
      const int64_t until = st_.released_us + delay * 1000;
      Save("Progressing", fmt::format("{} stays up for {} (scaleDownDelay)", st_.stable_slot,
                                      FormatDurationMs(delay)));
      while (Now() < until) Sleep(kTickMs);
      const SlotSpec* old = spec_.FindSlot(st_.stable_slot);
      if (old) {
        if (auto s = RunSlotCommand(*old, old->stop, "stop"); !s) {
          Log("slot {} did not stop: {}", old->name, s.error().message);
        }
      }
    }
    Save("Healthy", fmt::format("{} ({}) serves {} from slot {}", st_.version,
                                    ShortDigest(st_.digest), spec_.name, st_.canary_slot));
    return Stop{0, ""};
  }

  // All traffic back to the stable version, then the candidate stopped (its compensation).
  Step Abort(int code, const std::string& why) {
    if (!st_.stable_slot.empty() && st_.weight > 0) {
      const int64_t t0 = Now();
      if (Step s = ApplyWeight(0)) {
        Save("Degraded", why + "; and traffic could not be moved back: " + s->why);
        return Stop{code, why};
      }
      Log("all traffic back on {} {} ms after the decision", st_.stable_slot, (Now() - t0) / 1000);
    }
    Mark("abort", why);
    Save("Degraded", why);
    const int64_t delay = IntOf(strategy_, "abortScaleDownDelayMs");
    Sleep(delay);
    if (const SlotSpec* slot = spec_.FindSlot(st_.canary_slot)) {
      (void)RunSlotCommand(*slot, slot->stop, "stop");
    }
    return Stop{code, why};
  }

  // A failure of the rollout's own machinery (a slot, the router): like an abort, exit 1.
  Step Broken(const std::string& why) { return Abort(1, why); }

  // --- Slots (deploy_state.cc).
  Status RunSlotCommand(const SlotSpec& slot, const std::vector<TemplateField>& argv,
                        const char* what) {
    return RunSlot(spec_, slot, argv, what, SlotModel{env_.files().Absolute(req_.model),
                                                      st_.digest, st_.version});
  }
  Status Healthy(const SlotSpec& slot) {
    return SlotHealthy(spec_, slot, SlotModel{env_.files().Absolute(req_.model), st_.digest,
                                              st_.version});
  }

  // --- The row, the log and small helpers.
  RolloutRow Row(const std::string& phase, const std::string& message) const {
    RolloutRow r;
    r.run_id = req_.run_id;
    r.task = req_.task;
    r.environment = spec_.name;
    r.phase = phase;
    r.message = message;
    r.step = st_.step;
    r.data = st_.ToValue().ToJson();
    r.started_us = started_us_;
    r.updated_us = env_.clock().NowUs();
    return r;
  }

  // A point of the report's timeline, stored with the next Save.
  void Mark(const char* kind, const std::string& message) {
    if (st_.timeline.size() >= kTimelineMax) return;
    st_.timeline.push_back(Value(ValueMap{{Value("us"), Value(Now())}, {Value("kind"), Value(kind)},
                                          {Value("weight"), Value(int64_t{st_.weight})},
                                          {Value("message"), Value(message)}}));
  }

  void Save(const std::string& phase, const std::string& message) {
    if (auto s = store_.PutRollout(Row(phase, message), false); !s) {
      Log("cannot store the rollout's state: {}", s.error().message);
    }
  }

  AuditRecord Audit(const std::string& action, const std::string& run, const std::string& task,
                    const std::string& what) const {
    AuditRecord a;
    a.time_us = env_.clock().NowUs();
    a.actor = "sluice";
    a.action = action;
    a.run_id = run;
    a.subject = task;
    a.details = Value(ValueMap{{Value("environment"), Value(spec_.name)},
                               {Value("what"), Value(what)}}).ToJson();
    return a;
  }

  // Who put the model in: whoever gave the promote, else the environment's approvers, else
  // the run's submitter.
  std::string PromotedBy() {
    if (!promoted_by_.empty()) return promoted_by_;
    std::vector<std::string> approvers;
    if (auto votes = store_.ListVotes(req_.run_id, req_.task)) {
      for (const auto& v : *votes) {
        if (v.approve) approvers.push_back(v.user);
      }
    }
    if (!approvers.empty()) return Join(approvers, ", ");
    auto who = store_.RunSubmitter(req_.run_id);
    return who && !who->empty() ? *who : std::string("sluice");
  }


  template <typename... Args>
  void Log(fmt::format_string<Args...> f, Args&&... args) {
    std::printf("%s rollout %s: %s\n", FormatTimestampMs(env_.clock().NowUs() / 1000).c_str(),
                spec_.name.c_str(), fmt::format(f, std::forward<Args>(args)...).c_str());
    std::fflush(stdout);
  }

  int64_t Now() { return env_.clock().NowUs(); }
  static void Sleep(int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

  Env& env_;
  Store& store_;
  std::shared_ptr<const EnvironmentsSpec> envs_;
  const EnvironmentSpec& spec_;
  DeployRequest req_;
  std::unique_ptr<Router> router_;
  bool canary_ = true;
  Value strategy_;
  DeployState st_;
  int64_t started_us_ = 0;
  bool aborted_ = false, promoted_ = false;
  std::string abort_why_, promoted_by_;
  std::unique_ptr<DeployAnalysis> background_;
};

}  // namespace

int RolloutExecMain(Env& env, const std::string& spec_json) {
  auto req = ParseDeployRequest(env, spec_json);
  if (!req) return Report(req.error());
  struct sigaction stop {};
  stop.sa_handler = OnStopSignal;
  sigemptyset(&stop.sa_mask);
  for (int sig : {SIGTERM, SIGINT}) sigaction(sig, &stop, nullptr);
  // The model servers the slots' commands start outlive this attempt by design: they must not
  // carry its marks, or the engine that adopts a lost attempt would stop them as its leftovers
  // (local_executor_adopt.cc).
  for (const char* mark : {"SLUICE_RUN_ID", "SLUICE_TASK", "SLUICE_ATTEMPT", "SLUICE_ATTEMPT_DIR"}) {
    ::unsetenv(mark);
  }
  auto envs = LoadEnvironments(env.files(), req->state_dir);
  if (!envs) return Report(envs.error());
  const EnvironmentSpec* spec = (*envs)->Find(req->environment);
  if (!spec) {
    return Report(Error(ErrorCode::kInvalidInput, fmt::format(
        "environment {} is no longer declared in {}/environments", Quote(req->environment),
        req->state_dir)));
  }
  GlobalOptions g;
  g.state_dir = req->state_dir;
  g.store = req->store;
  auto store = OpenStore(env, g, false);
  if (!store) return Report(store.error());
  Rollout rollout(env, **store, *envs, *spec, std::move(*req));
  return rollout.Run();
}

}  // namespace sluice
