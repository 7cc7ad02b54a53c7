// The Decider stepped by hand, with no executor: a turn (Advance) gives the attempts to start
// and the decisions recorded; the test reports how attempts ended (AttemptEnded, SubmitFailed)
// and lets time pass (Tick) with plain integer times. The scenarios of engine_test.cc and
// failure_test.cc, checked at the level of decisions. Also ResolveAttempt and BackoffUs alone.
#include "engine/decider.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/attempt.h"
#include "engine/breaker.h"
#include "engine/engine_fakes.h"  // Compile() only
#include "engine/recorder.h"
#include "engine/run_state.h"

namespace sluice {
namespace {

using Names = std::vector<std::string>;

constexpr int64_t kS = 1'000'000;  // one second, in the engine's microseconds

// Votes as cast so far, by task.
class FakeApprovals : public Approvals {
 public:
  Result<std::vector<ApprovalVote>> Votes(const std::string&, const std::string& task) override {
    return votes[task];
  }
  std::map<std::string, std::vector<ApprovalVote>> votes;
};

// Answers every lookup with `hit` (nullopt: a miss) and keeps the keys asked for.
class FakeCache : public CacheLookup {
 public:
  std::optional<Value> Find(const std::string& key, int64_t, int64_t) override {
    keys.push_back(key);
    return hit;
  }
  std::optional<Value> hit;
  Names keys;
};

AttemptOutputs Params(ValueMap params) { return AttemptOutputs{Value(std::move(params)), {}}; }

class DeciderTest : public ::testing::Test {
 protected:
  // Compiles the pipeline and builds a run of it that started at 1 s.
  void Build(const std::string& tasks, const std::string& extra = "",
             std::map<std::string, std::string> files = {}) {
    plan_ = Compile(tasks, extra, std::move(files));
    state_ = std::make_unique<RunState>(plan_);
    rec_ = std::make_unique<Recorder>(*state_, "r1", nullptr, nullptr);
    ctx_.run_id = "r1";
    ctx_.breakers = &breakers_;
    ctx_.cache = &cache_;
    decider_ = std::make_unique<Decider>(*state_, *rec_, ctx_, capacity_, &approvals_);
    Event started;
    started.kind = EventKind::kRunStarted;
    rec_->Record(started, kS);
  }

  // One turn, as the loop takes it but without submitting anything.
  Orders Turn(int64_t now) {
    Orders orders;
    decider_->Advance(now, orders);
    stops_ = Names();
    for (int i : orders.stop) stops_.push_back(state_->at(i).name);
    return orders;
  }
  // One turn whose attempts are all submitted (recorded spawned, as the loop does): their names.
  Names Advance(int64_t now) {
    Orders orders = Turn(now);
    Names started;
    for (auto& [i, req] : orders.start) {
      Event e;
      e.kind = EventKind::kAttemptSpawned;
      e.task = req.task;
      e.attempt = req.attempt;
      e.pid = next_pid_++;
      rec_->Record(e, now, i);
      started.push_back(req.task);
      requests_[req.task] = std::move(req);
    }
    return started;
  }
  // Time passes to `now`: the attempts the Decider asks to stop.
  Names Tick(int64_t now) {
    Orders orders;
    decider_->Tick(now, orders);
    Names out;
    for (int i : orders.stop) out.push_back(state_->at(i).name);
    return out;
  }
  // Tick, then a turn: what became due starts.
  Names Due(int64_t now) {
    EXPECT_TRUE(Tick(now).empty());
    return Advance(now);
  }
  void End(const std::string& task, AttemptEnd end, int64_t now) {
    ASSERT_GE(I(task), 0) << task;
    decider_->AttemptEnded(I(task), end, now);
  }
  void Exit(const std::string& task, int code, int64_t now, AttemptOutputs out = Params({})) {
    AttemptEnd end;
    end.how = AttemptEnd::How::kExited;
    end.exit_code = code;
    if (code == 0) end.outputs = std::move(out);
    End(task, std::move(end), now);
  }
  void Killed(const std::string& task, int sig, int64_t now) {
    AttemptEnd end;
    end.how = AttemptEnd::How::kSignaled;
    end.signal = sig;
    End(task, std::move(end), now);
  }

  int I(const std::string& name) const { return state_->Find(name); }
  TaskState StateOf(const std::string& name) const {
    return I(name) < 0 ? TaskState::kPending : state_->at(I(name)).state;
  }
  // Task names of the recorded events of `kind` (with `status`, when given), in order.
  Names Tasks(EventKind kind, const std::string& status = "") const {
    Names out;
    for (const auto& e : rec_->captured()) {
      if (e.kind == kind && (status.empty() || e.status == status)) out.push_back(e.task);
    }
    return out;
  }
  // The last recorded event of `kind` about `task`.
  const Event& Last(EventKind kind, const std::string& task = "") const {
    static const Event kNone;
    const auto& events = rec_->captured();
    for (auto it = events.rbegin(); it != events.rend(); ++it) {
      if (it->kind == kind && it->task == task) return *it;
    }
    ADD_FAILURE() << "no " << EventKindName(kind) << " event for " << task;
    return kNone;
  }
  std::string Log() const {
    std::string out;
    for (const auto& e : rec_->captured()) {
      out += fmt::format("{} {} #{} {} {} {}\n", EventKindName(e.kind), e.task, e.attempt, e.status,
                         e.error_class, e.message);
    }
    return out;
  }

  Capacity capacity_{.jobs = 2, .cpu = 4};
  MemoryBreakers breakers_;
  FakeCache cache_;
  FakeApprovals approvals_;
  std::shared_ptr<const Plan> plan_;
  std::unique_ptr<RunState> state_;
  std::unique_ptr<Recorder> rec_;
  RunContext ctx_;
  std::unique_ptr<Decider> decider_;
  std::map<std::string, AttemptRequest> requests_;  // the last request of each instance
  Names stops_;                                     // the stops of the last turn
  int next_pid_ = 100;
};

// --- Order, slots and retries ------------------------------------------------------------------

TEST_F(DeciderTest, StartsTasksInDependencyOrder) {
  Build(
      "    - {name: c, needs: [b], run: [x, c]}\n"
      "    - {name: a, run: [x, a]}\n"
      "    - {name: b, needs: [a], run: [x, b]}\n");
  EXPECT_EQ(Advance(kS), (Names{"a"}));
  EXPECT_EQ(requests_["a"].argv, (Names{"x", "a"}));
  EXPECT_EQ(requests_["a"].attempt, 1);
  EXPECT_EQ(requests_["a"].run_id, "r1");
  EXPECT_TRUE(Advance(kS).empty());  // nothing new until a ends
  Exit("a", 0, 2 * kS);
  EXPECT_EQ(Advance(2 * kS), (Names{"b"}));
  Exit("b", 0, 3 * kS);
  EXPECT_EQ(Advance(3 * kS), (Names{"c"}));
  EXPECT_EQ(Tasks(EventKind::kAttemptStarted), (Names{"a", "b", "c"}));
}

TEST_F(DeciderTest, StartsNoMoreAttemptsThanTheJobLimit) {
  Build("    - {name: a, run: [x]}\n    - {name: b, run: [x]}\n    - {name: c, run: [x]}\n");
  EXPECT_EQ(Advance(kS), (Names{"a", "b"}));
  EXPECT_EQ(state_->usage().slots, 2);
  EXPECT_TRUE(decider_->HasRunnable());
  Exit("b", 0, 2 * kS);
  EXPECT_EQ(Advance(2 * kS), (Names{"c"}));
  EXPECT_EQ(state_->usage().slots, 2);
}

TEST_F(DeciderTest, RetryIsScheduledAtBackoffAndReadyWhenDue) {
  Build("    - {name: a, run: [x], retry: {limit: 2, backoff: {initial: 10s, factor: 3}}}\n");
  Advance(kS);
  Exit("a", 1, 2 * kS);
  const Event& retry = Last(EventKind::kRetryScheduled, "a");
  EXPECT_EQ(retry.attempt, 2);
  EXPECT_EQ(retry.due_us, 12 * kS);
  EXPECT_EQ(retry.message, "exited with 1");
  EXPECT_EQ(StateOf("a"), TaskState::kWaiting);
  EXPECT_EQ(state_->usage().slots, 0);  // waiting holds no slot
  EXPECT_EQ(decider_->NextDueUs(), 12 * kS);
  EXPECT_TRUE(Due(12 * kS - 1).empty());
  EXPECT_EQ(Due(12 * kS), (Names{"a"}));
  EXPECT_EQ(requests_["a"].attempt, 2);
  Exit("a", 1, 13 * kS);
  EXPECT_EQ(Last(EventKind::kRetryScheduled, "a").due_us, 43 * kS);  // 10 s, then 30 s
}

TEST_F(DeciderTest, ATaskOutOfRetriesFailsNamingItsAttempts) {
  Build("    - {name: a, run: [x], retry: {limit: 1, backoff: {initial: 1s}}}\n");
  Advance(kS);
  Exit("a", 1, 2 * kS);
  Due(3 * kS);
  Exit("a", 4, 4 * kS);
  EXPECT_EQ(StateOf("a"), TaskState::kFailed);
  const Event& fin = Last(EventKind::kTaskFinished, "a");
  EXPECT_EQ(fin.error_class, "exit");
  EXPECT_EQ(fin.exit_code, 4);
  EXPECT_EQ(fin.message, "exited with 4 (attempt 2 of 2)");
  EXPECT_EQ(Tasks(EventKind::kRetryScheduled).size(), 1u);
}

TEST_F(DeciderTest, ExceptListedExitCodeIsNeverRetried) {
  Build("    - {name: a, run: [x], retry: {limit: 5, except: [2]}}\n");
  Advance(kS);
  Exit("a", 2, 2 * kS);
  EXPECT_EQ(StateOf("a"), TaskState::kFailed);
  EXPECT_TRUE(Tasks(EventKind::kRetryScheduled).empty());
}

TEST_F(DeciderTest, RetryOnMatchesClassesWithCodes) {
  Build("    - {name: a, run: [x], retry: {limit: 5, backoff: {initial: 1s}, on: [exit(4), 3]}}\n");
  Advance(kS);
  Exit("a", 4, 2 * kS);
  EXPECT_EQ(StateOf("a"), TaskState::kWaiting);
  EXPECT_EQ(Due(3 * kS), (Names{"a"}));
  Exit("a", 3, 4 * kS);
  EXPECT_EQ(StateOf("a"), TaskState::kWaiting);
  EXPECT_EQ(Due(6 * kS), (Names{"a"}));  // after 2 s this time
  Exit("a", 5, 7 * kS);
  EXPECT_EQ(StateOf("a"), TaskState::kFailed);
}

TEST_F(DeciderTest, RetryWhenSeesTheErrorAndTheAttempt) {
  Build(
      "    - name: a\n      run: [x]\n"
      "      retry: {limit: 5, backoff: {initial: 1s}, when: \"${{ error.exitCode == 3 && "
      "error.class == 'exit' && task.attempt < 2 }}\"}\n");
  Advance(kS);
  Exit("a", 3, 2 * kS);
  EXPECT_EQ(StateOf("a"), TaskState::kWaiting);
  Due(3 * kS);
  Exit("a", 3, 4 * kS);  // attempt 2: the condition no longer holds
  EXPECT_EQ(StateOf("a"), TaskState::kFailed);
}

// --- Verdicts that need no attempt -------------------------------------------------------------

TEST_F(DeciderTest, AFailureMakesDependentsUpstreamFailedButNotSiblings) {
  Build(
      "    - {name: a, run: [x]}\n    - {name: b, needs: [a], run: [x]}\n"
      "    - {name: c, run: [x]}\n",
      "  failFast: false\n");
  EXPECT_EQ(Advance(kS), (Names{"a", "c"}));
  Exit("a", 1, 2 * kS);
  Advance(2 * kS);
  EXPECT_EQ(StateOf("b"), TaskState::kUpstreamFailed);
  EXPECT_EQ(Last(EventKind::kTaskFinished, "b").message, "upstream task \"a\" failed");
  EXPECT_EQ(StateOf("c"), TaskState::kRunning);
}

TEST_F(DeciderTest, ContinueOnFailureLetsDependentsRun) {
  Build(
      "    - {name: a, run: [x], continueOnFailure: true}\n"
      "    - {name: b, needs: [a], run: [x]}\n");
  Advance(kS);
  Exit("a", 1, 2 * kS);
  EXPECT_EQ(Advance(2 * kS), (Names{"b"}));
  Exit("b", 0, 3 * kS);
  EXPECT_EQ(decider_->FinalStatus(), RunStatus::kSucceeded);
}

TEST_F(DeciderTest, WhenFalseSkipsTheTaskAndItsReaders) {
  Build(
      "    - {name: a, when: '${{ 1 > 2 }}', run: [x], "
      "outputs: {params: [{name: o, from: {stdout: text}}]}}\n"
      "    - {name: b, run: [x, '${{ tasks.a.outputs.params.o }}']}\n"
      "    - {name: c, run: [x]}\n");
  EXPECT_EQ(Advance(kS), (Names{"c"}));
  EXPECT_EQ(Tasks(EventKind::kTaskSkipped), (Names{"a", "b"}));
  EXPECT_EQ(Last(EventKind::kTaskSkipped, "b").message,
            "it reads outputs of \"a\", which was skipped");
}

TEST_F(DeciderTest, AnUnschedulableTaskFailsWithoutAnAttempt) {
  Build("    - {name: a, run: [x], resources: {gpu: 1}}\n");
  EXPECT_TRUE(Advance(kS).empty());
  EXPECT_EQ(Last(EventKind::kTaskFinished, "a").error_class, "unschedulable");
  EXPECT_TRUE(Tasks(EventKind::kAttemptStarted).empty());
}

TEST_F(DeciderTest, ForEachStartsItemsWithinParallelismAndGathersOutputsInOrder) {
  capacity_.jobs = 4;
  Build(
      "    - {name: f, forEach: [a, b, c], parallelism: 1, run: [x, '${{ item }}'], "
      "outputs: {params: [{name: o, from: {stdout: text}}]}}\n");
  EXPECT_EQ(Advance(kS), (Names{"f[0]"}));
  EXPECT_EQ(Last(EventKind::kTaskExpanded, "f").data, R"(["a","b","c"])");
  EXPECT_EQ(requests_["f[0]"].argv, (Names{"x", "a"}));
  EXPECT_EQ(requests_["f[0]"].array_key, "f");
  int64_t now = kS;
  for (const char* out : {"A", "B", "C"}) {
    const std::string item = fmt::format("f[{}]", out[0] - 'A');
    now += kS;
    Exit(item, 0, now, Params({{"o", Value(out)}}));
    Advance(now);
  }
  EXPECT_EQ(StateOf("f"), TaskState::kSucceeded);
  EXPECT_EQ(state_->at(I("f")).outputs.Find("params")->ToJson(), R"({"o":["A","B","C"]})");
}

// --- How attempts end --------------------------------------------------------------------------

TEST_F(DeciderTest, TimeoutBecomesAStopOrderThenAnEndClassifiedTimeout) {
  Build("    - {name: a, run: [x], timeout: 2s}\n");
  Advance(kS);
  EXPECT_EQ(decider_->NextDueUs(), 3 * kS);
  EXPECT_TRUE(Tick(3 * kS - 1).empty());
  EXPECT_EQ(Tick(3 * kS), (Names{"a"}));
  EXPECT_TRUE(Tick(4 * kS).empty());  // asked once; killing it is the loop's
  Killed("a", SIGTERM, 4 * kS);
  const Event& end = Last(EventKind::kAttemptFinished, "a");
  EXPECT_EQ(end.error_class, "timeout");
  EXPECT_EQ(end.message, "timed out after 2.0s");
  EXPECT_EQ(StateOf("a"), TaskState::kFailed);
}

TEST_F(DeciderTest, ADeadlinePassingWhileWaitingToRetryFailsTheTaskAtTheDeadline) {
  Build("    - {name: a, run: [x], deadline: 5s, retry: {limit: 3, backoff: {initial: 60s}}}\n");
  Advance(kS);
  Exit("a", 1, 2 * kS);
  EXPECT_EQ(decider_->NextDueUs(), 6 * kS);  // not the retry at 62 s
  Tick(6 * kS);
  const Event& fin = Last(EventKind::kTaskFinished, "a");
  EXPECT_EQ(fin.error_class, "timeout");
  EXPECT_EQ(fin.message, "deadline passed while waiting to retry");
}

TEST_F(DeciderTest, AttemptEndsAreClassifiedByHowTheyEnded) {
  capacity_.jobs = 4;
  Build(
      "    - {name: s, run: [x]}\n    - {name: l, run: [x]}\n"
      "    - {name: m, run: [x]}\n    - {name: o, run: [x]}\n",
      "  failFast: false\n");
  Advance(kS);
  Killed("s", SIGKILL, 2 * kS);
  AttemptEnd lost;
  lost.message = "its worker is gone";
  End("l", lost, 2 * kS);
  AttemptEnd no_outputs;
  no_outputs.how = AttemptEnd::How::kExited;
  no_outputs.exit_code = 0;
  End("m", no_outputs, 2 * kS);
  AttemptEnd bad_outputs = no_outputs;
  bad_outputs.outputs = Result<AttemptOutputs>(std::unexpected(Error(ErrorCode::kIo, "no file m")));
  End("o", bad_outputs, 2 * kS);
  auto cls = [&](const std::string& t) { return Last(EventKind::kAttemptFinished, t).error_class; };
  EXPECT_EQ(cls("s"), "signal");
  EXPECT_EQ(Last(EventKind::kAttemptFinished, "s").exit_code, SIGKILL);
  EXPECT_EQ(cls("l"), "lost");
  EXPECT_EQ(Last(EventKind::kAttemptFinished, "l").message, "its worker is gone");
  EXPECT_EQ(cls("m"), "outputs-error");
  EXPECT_EQ(cls("o"), "outputs-error");
  EXPECT_EQ(Last(EventKind::kAttemptFinished, "o").message, "no file m");
}

TEST_F(DeciderTest, ASubmitFailureIsASpawnErrorAndRetriesLikeOne) {
  Build(
      "    - {name: a, run: [x], retry: {limit: 1, on: [spawn-error], backoff: {initial: 1s}}}\n");
  Orders orders = Turn(kS);
  ASSERT_EQ(orders.start.size(), 1u);
  decider_->SubmitFailed(orders.start[0].first, "cannot start", kS);
  const Event& end = Last(EventKind::kAttemptFinished, "a");
  EXPECT_EQ(end.error_class, "spawn-error");
  EXPECT_EQ(end.message, "cannot start");
  EXPECT_EQ(Last(EventKind::kRetryScheduled, "a").due_us, 2 * kS);
  EXPECT_EQ(state_->usage().slots, 0);
}

TEST_F(DeciderTest, ASucceededAttemptRecordsParamsArtifactPathsDigestsAndSizes) {
  Build(
      "    - {name: a, run: [x], outputs: {params: [{name: n, from: {stdout: json}}], "
      "artifacts: [{name: model, path: m}]}}\n");
  Advance(kS);
  AttemptOutputs out = Params({{"n", Value(3)}});
  out.artifacts.push_back({"model", "d1", 42, "/store/d1"});
  Exit("a", 0, 2 * kS, out);
  EXPECT_EQ(Last(EventKind::kTaskFinished, "a").data,
            R"({"params":{"n":3},"artifacts":{"model":"/store/d1"},)"
            R"("artifact_info":{"model":{"digest":"d1","size":42}}})");
  EXPECT_EQ(StateOf("a"), TaskState::kSucceeded);
}

// --- failFast, onFailure and the run's deadline ------------------------------------------------

TEST_F(DeciderTest, FailFastCancelsTasksNotStartedAndLetsRunningOnesFinish) {
  Build(
      "    - {name: a, run: [x]}\n    - {name: long, run: [x]}\n"
      "    - {name: later, needs: [long], run: [x]}\n    - {name: other, run: [x]}\n");
  EXPECT_EQ(Advance(kS), (Names{"a", "long"}));
  Exit("a", 1, 2 * kS);
  EXPECT_TRUE(Advance(2 * kS).empty());
  EXPECT_TRUE(Tick(2 * kS).empty());  // onFailure: wait
  EXPECT_EQ(StateOf("other"), TaskState::kCancelled);
  EXPECT_EQ(Last(EventKind::kTaskFinished, "other").message,
            "not started: task \"a\" failed and failFast is on");
  Exit("long", 0, 3 * kS);
  EXPECT_TRUE(Advance(3 * kS).empty());
  EXPECT_EQ(StateOf("long"), TaskState::kSucceeded);
  EXPECT_EQ(StateOf("later"), TaskState::kCancelled);
}

TEST_F(DeciderTest, OnFailureCancelStopsRunningAttemptsWithoutRetrying) {
  Build("    - {name: a, run: [x]}\n    - {name: long, run: [x], retry: 3}\n",
        "  onFailure: cancel\n");
  Advance(kS);
  Exit("a", 1, 2 * kS);
  Advance(2 * kS);
  EXPECT_EQ(Tick(2 * kS), (Names{"long"}));
  Killed("long", SIGTERM, 3 * kS);
  EXPECT_EQ(Last(EventKind::kAttemptFinished, "long").error_class, "cancelled");
  EXPECT_EQ(StateOf("long"), TaskState::kCancelled);
  EXPECT_TRUE(Tasks(EventKind::kRetryScheduled).empty());
}

TEST_F(DeciderTest, TheRunDeadlineStopsMainTasksAndCancelsThoseNotStarted) {
  capacity_.jobs = 1;
  Build("    - {name: long, run: [x], retry: 3}\n    - {name: other, run: [x]}\n",
        "  deadline: 1500ms\n");
  EXPECT_EQ(Advance(kS), (Names{"long"}));
  EXPECT_EQ(decider_->NextDueUs(), kS + 1'500'000);
  EXPECT_EQ(Tick(kS + 1'500'000), (Names{"long"}));
  Killed("long", SIGTERM, 3 * kS);
  const Event& end = Last(EventKind::kAttemptFinished, "long");
  EXPECT_EQ(end.error_class, "timeout");
  EXPECT_EQ(end.message, "the run's deadline of 1.5s passed");
  EXPECT_TRUE(Tasks(EventKind::kRetryScheduled).empty());
  EXPECT_TRUE(Advance(3 * kS).empty());
  EXPECT_EQ(StateOf("other"), TaskState::kCancelled);
  EXPECT_EQ(decider_->FinalStatus(), RunStatus::kFailed);
}

// --- Handlers, compensation, finally -----------------------------------------------------------

TEST_F(DeciderTest, ACatchHandlerSeesTheErrorAndRecoversTheTask) {
  Build(
      "    - name: a\n      run: [x]\n      catch:\n"
      "        - {on: [timeout], run: [wrong]}\n"
      "        - {on: [exit(7)], run: [notify, \"${{ error.class }}:${{ error.exitCode }}\"]}\n"
      "    - {name: b, needs: [a], run: [x]}\n");
  Advance(kS);
  Exit("a", 7, 2 * kS);
  EXPECT_EQ(Last(EventKind::kHandlerStarted, "a.catch[1]").data,
            R"({"owner":"a","plan":"a.catch[1]",)"
            R"("error":{"class":"exit","code":7,"message":"exited with 7"}})");
  EXPECT_EQ(Advance(2 * kS), (Names{"a.catch[1]"}));
  EXPECT_EQ(requests_["a.catch[1]"].argv, (Names{"notify", "exit:7"}));
  Exit("a.catch[1]", 0, 3 * kS);
  EXPECT_EQ(Advance(3 * kS), (Names{"b"}));
  EXPECT_EQ(StateOf("a"), TaskState::kRecovered);
  EXPECT_EQ(Last(EventKind::kTaskFinished, "a").message,
            "recovered by its catch handler after exit(7): exited with 7");
}

TEST_F(DeciderTest, ACatchWithoutRecoverLeavesTheTaskFailed) {
  Build(
      "    - name: a\n      run: [x]\n      catch: [{recover: false, run: [x]}]\n"
      "    - {name: b, needs: [a], run: [x]}\n");
  Advance(kS);
  Exit("a", 1, 2 * kS);
  Advance(2 * kS);
  Exit("a.catch[0]", 0, 3 * kS);
  EXPECT_TRUE(Advance(3 * kS).empty());
  EXPECT_EQ(StateOf("a"), TaskState::kFailed);
  EXPECT_EQ(Last(EventKind::kTaskFinished, "a").message, "exited with 1 (its catch handler ran)");
  EXPECT_EQ(StateOf("b"), TaskState::kUpstreamFailed);
}

TEST_F(DeciderTest, FallbackOutputsStandInForTheTask) {
  Build(
      "    - name: fetch\n      run: [x]\n      retry: {limit: 1, backoff: {initial: 1s}}\n"
      "      outputs: {params: [{name: m, from: {file: m}}]}\n"
      "      fallback:\n        run: [y]\n        outputs: {params: [{name: m, from: {file: m}}]}\n"
      "    - {name: use, run: [\"${{ tasks.fetch.outputs.params.m }}\"]}\n");
  Advance(kS);
  Exit("fetch", 1, 2 * kS);
  Due(3 * kS);
  Exit("fetch", 1, 4 * kS);
  EXPECT_EQ(Advance(4 * kS), (Names{"fetch.fallback"}));
  Exit("fetch.fallback", 0, 5 * kS, Params({{"m", Value("alt")}}));
  EXPECT_EQ(Advance(5 * kS), (Names{"use"}));
  EXPECT_EQ(StateOf("fetch"), TaskState::kRecovered);
  EXPECT_EQ(requests_["use"].argv, (Names{"alt"}));
}

TEST_F(DeciderTest, AFailedFallbackStillGoesToCatchWithTheTasksError) {
  Build(
      "    - name: a\n      run: [x]\n      fallback: {run: [y]}\n"
      "      catch: [{on: [exit(5)], run: [\"${{ error.exitCode }}\"]}]\n");
  Advance(kS);
  Exit("a", 5, 2 * kS);
  EXPECT_EQ(Advance(2 * kS), (Names{"a.fallback"}));
  Exit("a.fallback", 1, 3 * kS);
  EXPECT_EQ(Advance(3 * kS), (Names{"a.catch[0]"}));
  EXPECT_EQ(requests_["a.catch[0]"].argv, (Names{"5"}));
  Exit("a.catch[0]", 0, 4 * kS);
  Advance(4 * kS);
  EXPECT_EQ(StateOf("a"), TaskState::kRecovered);
}

// a -> b -> c and a -> d, all compensable; e needs c and d and fails last.
const char* kSaga =
    "    - {name: a, run: [x], compensate: {run: [undo]}}\n"
    "    - {name: b, needs: [a], run: [x], compensate: {run: [undo]}}\n"
    "    - {name: c, needs: [b], run: [x], compensate: {run: [undo]}}\n"
    "    - {name: d, needs: [a], run: [x], compensate: {run: [undo]}}\n"
    "    - {name: e, needs: [c, d], run: [x]}\n";

TEST_F(DeciderTest, AFailedRunCompensatesCompletedTasksInReverseOrder) {
  Build(kSaga);
  int64_t now = kS;
  Advance(now);
  // Each ends in turn: completions a, b, d, c; then e fails.
  for (const char* t : {"a", "b", "d", "c"}) {
    now += kS;
    Exit(t, 0, now);
    Advance(now);
  }
  Exit("e", 1, now += kS);
  EXPECT_TRUE(Advance(now).empty());
  ASSERT_TRUE(state_->AllSettled());
  ASSERT_TRUE(decider_->AdvancePhase(now));
  const Event& phase = Last(EventKind::kRunPhase);
  EXPECT_EQ(phase.status, "compensating");
  EXPECT_EQ(phase.data, R"({"status":"failed","rollback":false,"instances":["c","d","b","a"]})");
  // c and d have nothing downstream to wait for; b waits for c; a for b, c and d.
  EXPECT_EQ(Advance(now), (Names{"c.compensate", "d.compensate"}));
  Exit("c.compensate", 0, now += kS);
  EXPECT_EQ(Advance(now), (Names{"b.compensate"}));
  Exit("b.compensate", 0, now += kS);
  EXPECT_TRUE(Advance(now).empty());
  Exit("d.compensate", 0, now += kS);
  EXPECT_EQ(Advance(now), (Names{"a.compensate"}));
  Exit("a.compensate", 0, now += kS);
  Advance(now);
  EXPECT_FALSE(decider_->AdvancePhase(now));
  EXPECT_EQ(decider_->FinalStatus(), RunStatus::kCompensated);
}

TEST_F(DeciderTest, FinallyTasksRunWithTheRunStatusAndTheFailedTasks) {
  Build("    - {name: a, run: [x]}\n",
        "  finally:\n"
        "    - {name: notify, run: [\"${{ run.status }}\", \"${{ run.failedTasks }}\"]}\n"
        "    - {name: after, needs: [notify], run: [x]}\n");
  Advance(kS);
  Exit("a", 1, 2 * kS);
  Advance(2 * kS);
  ASSERT_TRUE(decider_->AdvancePhase(2 * kS));
  EXPECT_EQ(Last(EventKind::kRunPhase).data, R"({"status":"failed"})");
  EXPECT_EQ(Advance(2 * kS), (Names{"notify"}));
  EXPECT_EQ(requests_["notify"].argv, (Names{"failed", "[\"a\"]"}));
  Exit("notify", 0, 3 * kS);
  EXPECT_EQ(Advance(3 * kS), (Names{"after"}));
  Exit("after", 0, 4 * kS);
  Advance(4 * kS);
  EXPECT_FALSE(decider_->AdvancePhase(4 * kS));
  EXPECT_EQ(decider_->FinalStatus(), RunStatus::kFailed);
}

TEST_F(DeciderTest, AFailingFinallyTaskFailsASucceededRun) {
  Build("    - {name: a, run: [x]}\n", "  finally:\n    - {name: f, run: [x]}\n");
  Advance(kS);
  Exit("a", 0, 2 * kS);
  Advance(2 * kS);
  ASSERT_TRUE(decider_->AdvancePhase(2 * kS));
  EXPECT_EQ(Last(EventKind::kRunPhase).data, R"({"status":"succeeded"})");
  EXPECT_EQ(Advance(2 * kS), (Names{"f"}));
  Exit("f", 1, 3 * kS);
  Advance(3 * kS);
  EXPECT_EQ(decider_->FinalStatus(), RunStatus::kFailed);
}

// --- Gates and approvals -----------------------------------------------------------------------

class DeciderGateTest : public DeciderTest {
 protected:
  void SetUp() override {
    Build(
        "    - {name: train, run: [x], outputs: {artifacts: [{name: model, path: m}]}}\n"
        "    - {name: publish, needs: [train], gate: {policies: [model-ok]}, run: [x]}\n",
        "  policies: [gate.yaml]\n",
        {{"/gate.yaml",
          "apiVersion: sluice/v1\nkind: Policy\nmetadata: {name: model-ok}\nspec:\n"
          "  stage: gate\n  rules:\n"
          "    - name: stored\n"
          "      expression: \"object.tasks.train.outputs.artifacts.model.digest == 'abc' && "
          "object.tasks.train.outputs.artifacts.model.size == 42\"\n"
          "      message: the model is not the one stored\n"}});
  }
  // train ends with its model of `size` bytes; then a turn.
  Names TrainEnds(int64_t size) {
    Advance(kS);
    AttemptOutputs out;
    out.params = Value(ValueMap{});
    out.artifacts.push_back({"model", "abc", size, "/store/abc"});
    Exit("train", 0, 2 * kS, out);
    return Advance(2 * kS);
  }
};

TEST_F(DeciderGateTest, TheGateInputCarriesTheUpstreamArtifactsDigestAndSize) {
  EXPECT_EQ(TrainEnds(42), (Names{"publish"})) << Log();
  const Event& d = Last(EventKind::kPolicyDecision, "publish");
  EXPECT_EQ(d.status, "allow");
  EXPECT_NE(d.data.find(R"("stage":"gate")"), std::string::npos) << d.data;
}

TEST_F(DeciderGateTest, AGateThatDeniesFailsTheTaskWithPolicyDenied) {
  EXPECT_TRUE(TrainEnds(7).empty());
  EXPECT_EQ(Last(EventKind::kPolicyDecision, "publish").status, "deny");
  const Event& fin = Last(EventKind::kTaskFinished, "publish");
  EXPECT_EQ(fin.error_class, "policy-denied");
  EXPECT_EQ(fin.message, "gate: policy model-ok rule stored: the model is not the one stored");
  EXPECT_EQ(Tasks(EventKind::kAttemptStarted), (Names{"train"}));
}

TEST_F(DeciderTest, AnApprovalIsGrantedByAQuorumOfDistinctApproversAndHoldsNoSlot) {
  capacity_.jobs = 1;
  Build(
      "    - name: ship\n      approval: {approvers: [bob, carol], quorum: 2}\n"
      "    - {name: after, needs: [ship], run: [x]}\n    - {name: busy, run: [x]}\n");
  EXPECT_EQ(Advance(kS), (Names{"busy"}));
  EXPECT_EQ(StateOf("ship"), TaskState::kAwaitingApproval);
  EXPECT_EQ(Last(EventKind::kApprovalRequested, "ship").due_us, 0);  // no timeout
  EXPECT_TRUE(decider_->AwaitingVotes());
  approvals_.votes["ship"] = {{"bob", true, "", 0}, {"bob", true, "again", 0}};
  Tick(2 * kS);
  EXPECT_EQ(StateOf("ship"), TaskState::kAwaitingApproval);  // one approver, twice
  approvals_.votes["ship"].push_back({"carol", true, "", 0});
  Tick(3 * kS);
  const Event& decided = Last(EventKind::kApprovalDecided, "ship");
  EXPECT_EQ(decided.status, "approved");
  EXPECT_EQ(decided.message, "approved by bob, carol");
  Exit("busy", 0, 3 * kS);
  EXPECT_EQ(Advance(3 * kS), (Names{"after"}));
  EXPECT_EQ(StateOf("ship"), TaskState::kSucceeded);
}

TEST_F(DeciderTest, AnApprovalIsRejectedByOneNo) {
  Build("    - name: a\n      approval: {approvers: [bob, carol], quorum: 2}\n");
  Advance(kS);
  approvals_.votes["a"] = {{"carol", true, "", 0}, {"bob", false, "not today", 0}};
  Tick(2 * kS);
  EXPECT_EQ(Last(EventKind::kApprovalDecided, "a").status, "rejected");
  const Event& fin = Last(EventKind::kTaskFinished, "a");
  EXPECT_EQ(fin.error_class, "approval-rejected");
  EXPECT_EQ(fin.message, "approval rejected by bob: not today");
}

TEST_F(DeciderTest, AnApprovalIsRejectedAtItsDeadlineAndNeverRetried) {
  Build("    - name: a\n      approval: {approvers: [bob], timeout: 5s}\n      retry: 3\n");
  Advance(kS);
  EXPECT_EQ(Last(EventKind::kApprovalRequested, "a").due_us, 6 * kS);
  EXPECT_EQ(decider_->NextDueUs(), 6 * kS);
  Tick(6 * kS - 1);
  EXPECT_EQ(StateOf("a"), TaskState::kAwaitingApproval);
  Tick(6 * kS);
  EXPECT_EQ(Last(EventKind::kApprovalDecided, "a").message,
            "not approved within 5.0s (0 of 1 approvals): rejected");
  EXPECT_EQ(StateOf("a"), TaskState::kFailed);
  EXPECT_TRUE(Tasks(EventKind::kRetryScheduled).empty());
}

// --- Groups ------------------------------------------------------------------------------------

// prep -> train -> eval, train and eval a group retried twice; report needs eval.
const char* kGroup =
    "    - {name: prep, run: [x]}\n"
    "    - {name: train, needs: [prep], run: [x], retry: 1}\n"
    "    - {name: eval, needs: [train], run: [x]}\n"
    "    - {name: report, needs: [eval], run: [x]}\n";
const char* kGroupSpec =
    "  groups:\n    - {name: fit, tasks: [train, eval], retry: {limit: 2, backoff: {initial: "
    "10s}}}\n";

TEST_F(DeciderTest, AFailedGroupMemberStartsTheGroupOverAfterItsBackoff) {
  capacity_.jobs = 1;
  Build(kGroup, kGroupSpec);
  Advance(kS);
  Exit("prep", 0, 2 * kS);
  Advance(2 * kS);
  Exit("train", 0, 3 * kS);
  EXPECT_EQ(Advance(3 * kS), (Names{"eval"}));
  Exit("eval", 1, 4 * kS);
  EXPECT_TRUE(Advance(4 * kS).empty());
  const Event& retry = Last(EventKind::kGroupRetry);
  EXPECT_EQ(retry.due_us, 14 * kS);
  EXPECT_EQ(retry.message, "group fit runs again (retry 1 of 2) after eval failed");
  EXPECT_EQ(StateOf("train"), TaskState::kPending);
  EXPECT_EQ(StateOf("eval"), TaskState::kPending);
  EXPECT_EQ(StateOf("report"), TaskState::kPending);
  EXPECT_TRUE(Due(14 * kS - 1).empty());
  EXPECT_EQ(Due(14 * kS), (Names{"train"}));
  EXPECT_EQ(requests_["train"].attempt, 2);  // attempt numbers go on
  EXPECT_EQ(Tasks(EventKind::kAttemptStarted, ""), (Names{"prep", "train", "eval", "train"}));
}

TEST_F(DeciderTest, AFailedGroupMemberStopsTheRunningOnesBeforeTheGroupIsReset) {
  Build(
      "    - {name: train, run: [x]}\n    - {name: long, run: [x]}\n"
      "    - {name: after, needs: [train, long], run: [x]}\n",
      "  groups:\n    - {name: g, tasks: [train, long], retry: {limit: 1, on: [exit(3)]}}\n");
  EXPECT_EQ(Advance(kS), (Names{"train", "long"}));
  Exit("train", 3, 2 * kS);
  Advance(2 * kS);
  EXPECT_EQ(stops_, (Names{"long"}));
  EXPECT_TRUE(Tasks(EventKind::kGroupRetry).empty());  // long still runs
  EXPECT_TRUE(state_->first_failure().empty());
  Killed("long", SIGTERM, 3 * kS);
  EXPECT_EQ(Last(EventKind::kAttemptFinished, "long").message,
            "cancelled: group \"g\" is retried after \"train\" failed");
  Advance(3 * kS);
  EXPECT_EQ(Tasks(EventKind::kGroupRetry).size(), 1u);
  EXPECT_EQ(StateOf("long"), TaskState::kPending);
}

// --- Cache and breakers ------------------------------------------------------------------------

TEST_F(DeciderTest, ACachedResultSettlesTheTaskWithoutAnAttempt) {
  cache_.hit = ParseJson(R"({"params":{"o":"old"},"artifacts":{}})").value();
  Build(
      "    - {name: a, run: [x], cache: true, outputs: {params: [{name: o, from: {stdout: "
      "text}}]}}\n"
      "    - {name: b, run: [x, '${{ tasks.a.outputs.params.o }}']}\n");
  EXPECT_EQ(Advance(kS), (Names{"b"}));
  EXPECT_EQ(StateOf("a"), TaskState::kCached);
  EXPECT_EQ(Tasks(EventKind::kAttemptStarted), (Names{"b"}));
  EXPECT_EQ(requests_["b"].argv, (Names{"x", "old"}));
  EXPECT_EQ(cache_.keys.size(), 1u);
}

TEST_F(DeciderTest, ACacheMissRecordsItsKeyWithTheAttemptAndTheOutputs) {
  Build("    - {name: a, run: [x], cache: true}\n");
  Advance(kS);
  ASSERT_EQ(cache_.keys.size(), 1u);
  const std::string& key = cache_.keys[0];
  EXPECT_EQ(Last(EventKind::kAttemptStarted, "a").data,
            fmt::format(R"({{"cache_key":"{}"}})", key));
  EXPECT_EQ(state_->cache_key(I("a")), key);
  Exit("a", 0, 2 * kS);
  const Value* stored = state_->at(I("a")).outputs.Find("cache_key");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->as_string(), key);
}

TEST_F(DeciderTest, AnOpenBreakerFailsTheAttemptWithCircuitOpen) {
  Build("    - {name: call, run: [x], breaker: registry}\n",
        "  breakers:\n    - {name: registry, slidingWindowSize: 4, minimumNumberOfCalls: 2}\n");
  ASSERT_TRUE(BreakerOperate(breakers_.data["registry"], "open", 0, nullptr));
  EXPECT_TRUE(Advance(kS).empty());
  EXPECT_EQ(Tasks(EventKind::kAttemptStarted), (Names{"call"}));
  const Event& end = Last(EventKind::kAttemptFinished, "call");
  EXPECT_EQ(end.error_class, "circuit-open");
  EXPECT_EQ(end.message, "circuit breaker \"registry\" is open");
  EXPECT_EQ(StateOf("call"), TaskState::kFailed);
  EXPECT_EQ(state_->usage().slots, 0);
}

// --- The Recorder's sticky error ---------------------------------------------------------------

TEST_F(DeciderTest, TheRecorderKeepsTheFirstRefusalAndRecordsNothingMore) {
  Build("    - {name: a, run: [x]}\n");
  const size_t recorded = rec_->captured().size();
  Event ghost;
  ghost.kind = EventKind::kAttemptStarted;
  ghost.task = "ghost";
  ghost.attempt = 1;
  rec_->Record(ghost, kS);
  ASSERT_FALSE(rec_->ok());
  EXPECT_NE(rec_->error()->message.find("\"ghost\""), std::string::npos);
  rec_->Fail(Error(ErrorCode::kStore, "later"));
  EXPECT_NE(rec_->error()->message.find("\"ghost\""), std::string::npos);  // the first one
  EXPECT_TRUE(Advance(kS).empty());
  EXPECT_EQ(rec_->captured().size(), recorded);
  EXPECT_EQ(StateOf("a"), TaskState::kReady);
  EXPECT_FALSE(rec_->Commit());
}

// After a replay, a retry whose attempt started and that the executor adopts (it still runs) is
// not started again: before RunState::ApplyAttemptStarted took it off waiting(), the next Tick
// marked the running instance due and the next turn started another attempt beside it. Latent
// while executors never adopted (they report such attempts lost); found by this test.
TEST_F(DeciderTest, AnAdoptedRetryIsNotStartedAgainAfterAReplay) {
  Build("    - {name: a, run: [x], retry: {limit: 3, backoff: {initial: 1s}}}\n");
  Advance(kS);
  Exit("a", 1, 2 * kS);
  EXPECT_EQ(Due(3 * kS), (Names{"a"}));  // attempt 2 runs; the control process dies
  RunState resumed(plan_);
  ASSERT_TRUE(resumed.Replay(rec_->captured()));
  Recorder rec(resumed, "r1", nullptr, nullptr);
  Decider decider(resumed, rec, ctx_, capacity_, nullptr);
  Orders orders;
  decider.Tick(4 * kS, orders);  // attempt 2 was adopted: no end to report
  decider.Advance(4 * kS, orders);
  EXPECT_TRUE(orders.start.empty());
  EXPECT_TRUE(rec.captured().empty());
}

// --- ResolveAttempt and BackoffUs alone --------------------------------------------------------

const char* kToolSpec =
    "  imports: [lib.yaml]\n"
    "  params:\n    - {name: count, type: string, default: '1'}\n"
    "    - {name: seed, type: int, default: 7}\n";
const std::map<std::string, std::string> kToolFiles = {
    {"/lib.yaml",
     "apiVersion: sluice/v1\nkind: Component\nmetadata: {name: tool, version: 1.0.0}\n"
     "spec:\n  params:\n    - {name: n, type: int, default: 1}\n"
     "    - {name: label, type: string, default: none}\n"
     "  run: [x, '${{ params.n }}', '${{ params.label }}']\n"
     "  env: {MODE: component, OTHER: o}\n"}};

TEST_F(DeciderTest, ResolveConvertsWithValuesToTheComponentsParamTypes) {
  Build(
      "    - {name: a, uses: tool@1, with: {n: '${{ params.count }}', label: '${{ params.seed "
      "}}'}}\n",
      kToolSpec, kToolFiles);
  ctx_.params = Value(ValueMap{{"count", Value("42")}, {"seed", Value(7)}});
  Resolution r = ResolveAttempt(*state_, ctx_, I("a"), kS);
  ASSERT_EQ(r.kind, Resolution::Kind::kStart) << r.message;
  EXPECT_EQ(r.request.argv, (Names{"x", "42", "7"}));
  EXPECT_EQ(r.request.task, "a");
  EXPECT_EQ(r.request.attempt, 1);
}

TEST_F(DeciderTest, ResolveRefusesAWithValueOfTheWrongTypeAndTheTaskFails) {
  Build("    - {name: a, uses: tool@1, with: {n: '${{ params.count }}'}}\n", kToolSpec, kToolFiles);
  ctx_.params = Value(ValueMap{{"count", Value("many")}, {"seed", Value(7)}});
  Resolution r = ResolveAttempt(*state_, ctx_, I("a"), kS);
  ASSERT_EQ(r.kind, Resolution::Kind::kInvalid);
  EXPECT_EQ(r.message, "with.n: component tool declares it int, got string \"many\"");
  EXPECT_TRUE(Advance(kS).empty());
  EXPECT_EQ(Last(EventKind::kTaskFinished, "a").error_class, "expression-error");
}

TEST_F(DeciderTest, ResolveLetsTheTasksEnvOverrideItsComponentsInPlace) {
  Build("    - {name: a, uses: tool@1, env: {MODE: task, EXTRA: e}}\n", kToolSpec, kToolFiles);
  Resolution r = ResolveAttempt(*state_, ctx_, I("a"), kS);
  ASSERT_EQ(r.kind, Resolution::Kind::kStart) << r.message;
  using Env = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(r.request.env, (Env{{"MODE", "task"}, {"OTHER", "o"}, {"EXTRA", "e"}}));
}

TEST_F(DeciderTest, CacheKeysDifferWhenArgvEnvOrItemDiffer) {
  Build(
      "    - {name: a, run: [x, '1'], cache: true}\n"
      "    - {name: same, run: [x, '1'], cache: true}\n"
      "    - {name: argv, run: [x, '2'], cache: true}\n"
      "    - {name: env, run: [x, '1'], env: {E: '1'}, cache: true}\n"
      "    - {name: f, forEach: [1, 2], run: [x, '1'], cache: true}\n");
  Event expanded;
  expanded.kind = EventKind::kTaskExpanded;
  expanded.task = "f";
  expanded.data = "[1,2]";
  rec_->Record(expanded, kS);
  auto key = [&](const std::string& t) {
    return ResolveAttempt(*state_, ctx_, I(t), kS).cache_key;
  };
  EXPECT_FALSE(key("a").empty());
  EXPECT_EQ(key("a"), key("same"));  // the task's name is not part of what it does
  EXPECT_NE(key("a"), key("argv"));
  EXPECT_NE(key("a"), key("env"));
  EXPECT_NE(key("f[0]"), key("f[1]"));
  EXPECT_NE(key("a"), key("f[0]"));
}

TEST_F(DeciderTest, BackoffGrowsByItsFactorUpToItsMaxWithSeededJitter) {
  RetryPolicy r;
  r.initial_ms = 1000;
  r.factor = 2;
  r.max_ms = 5000;
  EXPECT_EQ(BackoffUs(r, 2, "s"), 1 * kS);
  EXPECT_EQ(BackoffUs(r, 3, "s"), 2 * kS);
  EXPECT_EQ(BackoffUs(r, 4, "s"), 4 * kS);
  EXPECT_EQ(BackoffUs(r, 5, "s"), 5 * kS);
  r.jitter = Jitter::kEqual;
  const int64_t d = BackoffUs(r, 3, "r1/a/3");
  EXPECT_EQ(BackoffUs(r, 3, "r1/a/3"), d);  // the same seed, the same delay
  EXPECT_GE(d, 1 * kS);
  EXPECT_LE(d, 2 * kS);
  EXPECT_NE(BackoffUs(r, 3, "r1/b/3"), d);
}

}  // namespace
}  // namespace sluice
