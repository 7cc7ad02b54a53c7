// `sluice retry` in the engine: which instances a retry starts over (RetryEvent), what the
// run.retried event does to a RunState, that a retried run's log replays to the state the live
// run had (so a crash during a retried run resumes correctly), and the refusals.
#include "engine/run_state_retry.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/strings.h"
#include "engine/decider.h"
#include "engine/engine_fakes.h"
#include "engine/recorder.h"

namespace sluice {
namespace run_state_retry_test {

using Names = std::vector<std::string>;

// Every instance that has a name, with what decisions read of it, and the run's own fields.
std::string Snapshot(const RunState& s) {
  std::string out = fmt::format("phase={} finished={}/{} done={} first={} finally={}\n",
                                static_cast<int>(s.phase()), s.run_finished(), s.finished_count(),
                                s.AllSettled(), s.first_failure(), s.finally_instances().size());
  for (int i = 0; i < s.size(); ++i) {
    const Instance& in = s.at(i);
    out +=
        fmt::format("{}{} {} #{}/{} deps={} done={}/{} out={}\n", s.retired(i) ? "retired " : "",
                    in.name, TaskStateName(in.state), in.attempt, in.attempt_base,
                    in.remaining_deps, in.children_done, in.children.size(), in.outputs.ToJson());
  }
  return out;
}

// A run driven by a live Decider, as the loop drives it, with scripted exit codes by task
// (BaseName: "f[1]" is "f"); attempts exit 0 once their task's codes run out.
class LiveRun {
 public:
  explicit LiveRun(std::shared_ptr<const Plan> plan)
      : plan_(plan), state_(plan), rec_(state_, "r1", nullptr, nullptr) {
    ctx_.run_id = "r1";
    NewDecider();
  }
  // A Decider built afresh, as a new process builds it after replaying the log.
  void NewDecider() {
    decider_ =
        std::make_unique<Decider>(state_, rec_, ctx_, Capacity{.jobs = 2, .cpu = 4}, nullptr);
  }
  // Turns until the run is over; records its verdict as the loop does. After every turn the
  // log so far must replay to the live state.
  void RunToEnd(std::map<std::string, std::deque<int>> exits) {
    for (int turn = 0; turn < 40 && rec_.ok(); ++turn) {
      Orders orders;
      decider_->Advance(now_, orders);
      ExpectReplayMatches();
      if (state_.AllSettled()) {
        if (!decider_->AdvancePhase(now_)) break;
        continue;
      }
      now_ += 1'000'000;
      std::vector<int> open(state_.open().begin(), state_.open().end());
      for (int i : open) {
        AttemptEnd end;
        end.how = AttemptEnd::How::kExited;
        auto& codes = exits[BaseName(state_.at(i).name)];
        end.exit_code = codes.empty() ? 0 : codes.front();
        if (!codes.empty()) codes.pop_front();
        if (end.exit_code == 0)
          end.outputs = AttemptOutputs{Value(ValueMap{{"o", Value("v")}}), {}};
        decider_->AttemptEnded(i, end, now_);
      }
      decider_->Tick(now_, orders);
    }
    ASSERT_TRUE(rec_.ok()) << rec_.error()->message;
    Event fin;
    fin.kind = EventKind::kRunFinished;
    fin.status = std::string(RunStatusName(decider_->FinalStatus()));
    rec_.Record(fin, now_);
    ExpectReplayMatches();
  }
  Status Retry(const Names& tasks) {
    auto e = RetryEvent(state_, tasks, "alice");
    if (!e) return std::unexpected(e.error());
    rec_.Record(*e, now_);
    ExpectReplayMatches();
    NewDecider();
    return {};
  }
  void ExpectReplayMatches() {
    RunState replayed(plan_);
    auto st = replayed.Replay(rec_.captured());
    ASSERT_TRUE(st) << st.error().message;
    EXPECT_EQ(Snapshot(replayed), Snapshot(state_));
  }
  const Instance& At(const std::string& name) const {
    int i = state_.Find(name);
    EXPECT_GE(i, 0) << name;
    return state_.at(std::max(i, 0));
  }
  // How many attempts of `name` started, over every round of the run.
  int Started(const std::string& name) {
    int n = 0;
    for (const auto& e : rec_.captured())
      n += e.kind == EventKind::kAttemptStarted && e.task == name;
    return n;
  }
  const std::vector<Event>& log() { return rec_.captured(); }
  RunState& state() { return state_; }
  RunStatus status() const { return state_.final_status(); }

 private:
  std::shared_ptr<const Plan> plan_;
  RunState state_;
  Recorder rec_;
  RunContext ctx_;
  std::unique_ptr<Decider> decider_;
  int64_t now_ = 1'000'000;
};

// a -> b -> d, a -> c -> d; z is a finally task.
const char* kDiamond =
    "    - {name: a, run: [x]}\n"
    "    - {name: b, needs: [a], run: [x]}\n"
    "    - {name: c, needs: [a], run: [x]}\n"
    "    - {name: d, needs: [b, c], run: [x]}\n"
    "    - {name: e, run: [x]}\n";
const char* kFinally = "  failFast: false\n  finally:\n    - {name: z, run: [x]}\n";

TEST(RunStateRetry, RetryStartsFailedTasksAndDependentsOverAndKeepsWhatSucceeded) {
  LiveRun run(Compile(kDiamond, kFinally));
  run.RunToEnd({{"b", {1}}});
  ASSERT_EQ(run.status(), RunStatus::kFailed);
  EXPECT_EQ(run.At("d").state, TaskState::kUpstreamFailed);
  auto e = RetryEvent(run.state(), {}, "alice");
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->kind, EventKind::kRunRetried);
  EXPECT_EQ(e->data, R"({"tasks":["b","d"],"retired":["z"],"requested":[],"by":"alice"})");
  ASSERT_TRUE(run.Retry({}));
  EXPECT_FALSE(run.state().run_finished());
  EXPECT_EQ(run.state().phase(), Phase::kMain);
  EXPECT_EQ(run.At("b").state, TaskState::kReady);
  EXPECT_EQ(run.At("b").attempt_base, 1);  // its retries count from here
  EXPECT_EQ(run.At("d").state, TaskState::kPending);
  EXPECT_EQ(run.At("d").remaining_deps, 1);
  EXPECT_EQ(run.At("c").state, TaskState::kSucceeded);
  EXPECT_EQ(run.state().Find("z"), -1);  // retired: it runs again at the end
  run.RunToEnd({});
  EXPECT_EQ(run.status(), RunStatus::kSucceeded);
  EXPECT_EQ(run.At("b").attempt, 2);  // attempt numbers go on
  EXPECT_EQ(run.At("z").attempt, 2);
  EXPECT_EQ(run.Started("a"), 1);
  EXPECT_EQ(run.Started("c"), 1);
  EXPECT_EQ(run.Started("e"), 1);
  EXPECT_EQ(run.Started("d"), 1);
  EXPECT_EQ(run.Started("z"), 2);  // finally ran again when the retried run ended
}

TEST(RunStateRetry, ReplayOfARetriedRunRebuildsItsStateAndACrashedOneGoesOn) {
  LiveRun run(Compile(kDiamond, kFinally));
  run.RunToEnd({{"b", {1}}, {"c", {1}}});
  ASSERT_TRUE(run.Retry({"b"}));  // c stays failed: only b and d start over
  EXPECT_EQ(run.At("c").state, TaskState::kFailed);
  EXPECT_EQ(run.At("d").state, TaskState::kPending);
  // A process that died now: a new one replays the log up to here and continues.
  RunState resumed(run.state().plan_ptr());
  ASSERT_TRUE(resumed.Replay(run.log()));
  EXPECT_EQ(Snapshot(resumed), Snapshot(run.state()));
  run.RunToEnd({});
  EXPECT_EQ(run.status(), RunStatus::kFailed);  // c still failed, so d is upstream-failed again
  EXPECT_EQ(run.At("b").state, TaskState::kSucceeded);
  EXPECT_EQ(run.At("d").state, TaskState::kUpstreamFailed);
  ASSERT_TRUE(run.Retry({}));
  run.RunToEnd({});
  EXPECT_EQ(run.status(), RunStatus::kSucceeded);
  EXPECT_EQ(run.At("z").attempt, 3);
  EXPECT_EQ(run.Started("b"), 2);
}

TEST(RunStateRetry, RetryOfAForEachStartsOnlyItsFailedItemsAndExpandsWhatIsDownstreamAgain) {
  LiveRun run(
      Compile("    - {name: f, forEach: [1, 2, 3], run: [x, '${{ item }}']}\n"
              "    - {name: g, needs: [f], forEach: [1, 2], run: [x, '${{ item }}']}\n",
              "  failFast: false\n"));
  run.RunToEnd({{"f", {0, 1}}});  // f[1] fails (items start in order)
  ASSERT_EQ(run.status(), RunStatus::kFailed);
  auto e = RetryEvent(run.state(), {}, "alice");
  ASSERT_TRUE(e);
  EXPECT_NE(e->data.find(R"("tasks":["g","f[1]"])"), std::string::npos) << e->data;
  // As `sluice retry` does it: a new process replays the finished run, then retries. What the
  // replay queued belongs to the round that ended: before the fix, f was still listed as done
  // and finished again at once, with an item not run.
  RunState replayed(run.state().plan_ptr());
  ASSERT_TRUE(replayed.Replay(run.log()));
  ASSERT_TRUE(replayed.Apply(*e));
  EXPECT_TRUE(replayed.TakeFinalize().empty());
  EXPECT_TRUE(replayed.TakeHandlersDone().empty());
  Names ready;
  for (int i : replayed.TakeReady()) ready.push_back(replayed.at(i).name);
  EXPECT_EQ(ready, (Names{"f[1]"}));
  ASSERT_TRUE(run.Retry({}));
  EXPECT_EQ(run.At("f").state, TaskState::kRunning);
  EXPECT_EQ(run.At("f").children_done, 2);
  EXPECT_EQ(run.At("f[1]").state, TaskState::kReady);
  EXPECT_EQ(run.At("f[0]").state, TaskState::kSucceeded);
  run.RunToEnd({});
  EXPECT_EQ(run.status(), RunStatus::kSucceeded);
  EXPECT_EQ(run.Started("f[0]"), 1);
  EXPECT_EQ(run.Started("f[1]"), 2);
  EXPECT_EQ(run.At("f[1]").attempt, 2);
  EXPECT_EQ(run.At("g[0]").state, TaskState::kSucceeded);
}

// Random DAGs (forEach tasks, fallbacks, failFast on or off, a finally task) whose first
// attempts fail at random, retried once with every attempt succeeding: the retried run
// succeeds, nothing that had succeeded starts again, and every turn's log replays to the live
// state (LiveRun checks it).
TEST(RunStateRetry, RandomFailedRunsRetriedSucceedWithoutRunningWhatSucceededAgain) {
  int retried = 0;
  for (uint64_t seed = 1; seed <= 500; ++seed) {
    std::mt19937_64 rng(seed);
    const int n = 2 + static_cast<int>(rng() % 6);
    std::string tasks;
    std::map<std::string, std::deque<int>> exits;
    for (int i = 0; i < n; ++i) {
      std::vector<std::string> needs;
      for (int j = 0; j < i; ++j) {
        if (rng() % 3 == 0) needs.push_back(fmt::format("t{}", j));
      }
      tasks += fmt::format("    - {{name: t{}, run: [x]{}{}{}}}\n", i,
                           needs.empty() ? "" : ", needs: [" + Join(needs, ", ") + "]",
                           rng() % 4 == 0 ? ", forEach: [1, 2, 3]" : "",
                           rng() % 6 == 0 ? ", fallback: {run: [y]}" : "");
      if (rng() % 3 == 0)
        exits[fmt::format("t{}", i)] = rng() % 2 ? std::deque<int>{1} : std::deque<int>{0, 1};
      if (rng() % 8 == 0) exits[fmt::format("t{}.fallback", i)] = {1};
    }
    const std::string extra =
        fmt::format("  failFast: {}\n  finally:\n    - {{name: z, run: [x]}}\n",
                    rng() % 2 == 0 ? "true" : "false");
    SCOPED_TRACE(fmt::format("seed {}:\n{}{}", seed, extra, tasks));
    LiveRun run(Compile(tasks, extra));
    run.RunToEnd(exits);
    if (run.status() != RunStatus::kFailed) continue;
    std::map<std::string, int> kept;  // instances that succeeded, and how often they started
    for (int i = 0; i < run.state().size(); ++i) {
      const Instance& in = run.state().at(i);
      if (in.state == TaskState::kSucceeded && in.owner < 0 && in.name != "z") {
        kept[in.name] = run.Started(in.name);
      }
    }
    ASSERT_TRUE(run.Retry({}));
    run.RunToEnd({});
    ++retried;
    EXPECT_EQ(run.status(), RunStatus::kSucceeded);
    for (const auto& [name, starts] : kept) EXPECT_EQ(run.Started(name), starts) << name;
    EXPECT_EQ(run.Started("z"), 2);
    if (HasFailure()) return;
  }
  EXPECT_GT(retried, 150);  // so that the retry is what is tested
}

TEST(RunStateRetry, RefusesACompensatedRunAnUnfinishedOneAndTasksThatCannotBeRetried) {
  LiveRun saga(Compile(kSaga));
  saga.RunToEnd({{"e", {1}}});
  ASSERT_EQ(saga.status(), RunStatus::kCompensated);
  auto e = RetryEvent(saga.state(), {}, "alice");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, ErrorCode::kConflict);
  EXPECT_NE(e.error().message.find("sluice rerun"), std::string::npos) << e.error().message;

  LiveRun run(Compile(kDiamond, kFinally));
  EXPECT_FALSE(RetryEvent(run.state(), {}, "alice"));  // not finished
  run.RunToEnd({{"b", {1}}});
  auto unknown = RetryEvent(run.state(), {"bb"}, "alice");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message, "the run has no task \"bb\" (did you mean \"b\"?)");
  auto ok = RetryEvent(run.state(), {"c"}, "alice");
  ASSERT_FALSE(ok);
  EXPECT_NE(ok.error().message.find("task \"c\" succeeded"), std::string::npos);
  auto fin = RetryEvent(run.state(), {"z"}, "alice");
  ASSERT_FALSE(fin);
  EXPECT_NE(fin.error().message.find("finally task"), std::string::npos);
  ASSERT_TRUE(run.Retry({}));
  run.RunToEnd({});
  auto nothing = RetryEvent(run.state(), {}, "alice");
  ASSERT_FALSE(nothing);
  EXPECT_NE(nothing.error().message.find("nothing to retry"), std::string::npos);
}

TEST(RunStateRetry, ApplyRefusesARetryThatDoesNotFitAndChangesNothing) {
  LiveRun run(Compile(kDiamond, kFinally));
  Event e;
  e.kind = EventKind::kRunRetried;
  e.data = R"({"tasks":["b"]})";
  const std::string before = Snapshot(run.state());
  EXPECT_FALSE(run.state().Apply(e));  // the run is not finished
  EXPECT_EQ(Snapshot(run.state()), before);
  run.RunToEnd({{"b", {1}}});
  e.data = R"({"tasks":["nosuch"]})";
  EXPECT_FALSE(run.state().Apply(e));
  e.data = R"({"tasks":["z"]})";  // a finally task is not retried by name
  EXPECT_FALSE(run.state().Apply(e));
  EXPECT_TRUE(run.state().run_finished());
}

}  // namespace run_state_retry_test
}  // namespace sluice
