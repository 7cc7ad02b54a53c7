// RunState on hand-written event sequences: what each event does to the projection (work lists,
// slots, instances added by forEach, handlers and phases, groups that start over), that an
// event which does not fit is refused and changes nothing, and that replaying a live run's log
// rebuilds the state the live run had.
#include "engine/run_state.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "engine/decider.h"
#include "engine/engine_fakes.h"
#include "engine/recorder.h"

namespace sluice {
namespace run_state_test {

using Names = std::vector<std::string>;

Event Ev(EventKind kind, std::string task, int64_t t = 1000) {
  Event e;
  e.run_id = "r1";
  e.kind = kind;
  e.task = std::move(task);
  e.time_us = t;
  return e;
}

Event Started(const std::string& task, int attempt = 1, int64_t t = 1000) {
  Event e = Ev(EventKind::kAttemptStarted, task, t);
  e.attempt = attempt;
  return e;
}

Event AttemptDone(const std::string& task, int attempt, int exit_code, int64_t t = 2000) {
  Event e = Ev(EventKind::kAttemptFinished, task, t);
  e.attempt = attempt;
  e.status = exit_code == 0 ? "succeeded" : "failed";
  e.error_class = exit_code == 0 ? "" : "exit";
  e.exit_code = exit_code;
  return e;
}

Event TaskDone(const std::string& task, const std::string& status, int64_t t = 2000,
               std::string data = "") {
  Event e = Ev(EventKind::kTaskFinished, task, t);
  e.status = status;
  e.data = std::move(data);
  if (status == "failed") {
    e.error_class = "exit";
    e.exit_code = 1;
  }
  return e;
}

Event WithData(Event e, std::string data) {
  e.data = std::move(data);
  return e;
}

Event PhaseEv(const std::string& phase, std::string data, int64_t t = 5000) {
  Event e = WithData(Ev(EventKind::kRunPhase, "", t), std::move(data));
  e.status = phase;
  return e;
}

// Everything a decision may read, one instance a line; the work lists are left out (a live
// state has drained them, a replayed one has not).
std::string Snapshot(const RunState& s) {
  std::string out = fmt::format(
      "phase={} status={} finished={} first={} slots={} cpu={} open={} waiting={} awaiting={} "
      "compensations={} finally={}\n",
      static_cast<int>(s.phase()), RunStatusName(s.phase_status()), s.finished_count(),
      s.first_failure(), s.usage().slots, s.usage().cpu, s.open().size(), s.waiting().size(),
      s.awaiting().size(), s.compensations().size(), s.finally_instances().size());
  for (int i = 0; i < s.size(); ++i) {
    const Instance& in = s.at(i);
    out += fmt::format(
        "{} {} #{}/{} deps={} slot={} open={} pid={} due={} done={}/{} out={} "
        "fail={}:{}\n",
        in.name, TaskStateName(in.state), in.attempt, in.attempt_base, in.remaining_deps,
        in.holds_slot, in.attempt_open, in.handle, in.due_us, in.children_done, in.children.size(),
        in.outputs.ToJson(), ErrorClassName(in.last_failure().cls), in.last_failure().message);
  }
  for (int g = 0; g < s.num_groups(); ++g) {
    const GroupState& gs = s.group(g);
    out += fmt::format("group {} rounds={} failing={} waiting={} due={}\n", g, gs.rounds,
                       gs.failing, gs.waiting, gs.due_us);
  }
  return out;
}

class RunStateTest : public ::testing::Test {
 protected:
  void Load(const std::string& tasks, const std::string& extra = "") {
    state_ = std::make_unique<RunState>(Compile(tasks, extra));
  }
  void Apply(const Event& e) {
    auto st = state_->Apply(e);
    ASSERT_TRUE(st) << st.error().message;
  }
  // One successful attempt of `task`, from its start to its verdict.
  void Succeed(const std::string& task, int64_t t = 1000, std::string data = "") {
    Apply(Started(task, 1, t));
    Apply(AttemptDone(task, 1, 0, t + 1));
    Apply(TaskDone(task, "succeeded", t + 1, std::move(data)));
  }
  void Failed(const std::string& task) {
    Apply(Started(task));
    Apply(AttemptDone(task, 1, 1));
    Apply(TaskDone(task, "failed"));
  }
  // Applies `e`, expecting a refusal that names `words` and leaves the state as it was.
  void ExpectRefused(const Event& e, const std::string& words) {
    const std::string before = Snapshot(*state_);
    const int size = state_->size();
    auto st = state_->Apply(e);
    ASSERT_FALSE(st) << "applied: " << EventKindName(e.kind) << " " << e.task;
    EXPECT_NE(st.error().message.find(words), std::string::npos) << st.error().message;
    EXPECT_EQ(state_->size(), size);
    EXPECT_EQ(Snapshot(*state_), before);
  }
  Names TakeReady() {
    Names out;
    for (int i : state_->TakeReady()) out.push_back(state_->at(i).name);
    return out;
  }
  const Instance& At(const std::string& name) {
    int i = state_->Find(name);
    EXPECT_GE(i, 0) << name;
    return state_->at(std::max(i, 0));
  }

  std::unique_ptr<RunState> state_;
};

const char* kDiamond =
    "    - {name: a, run: [x]}\n"
    "    - {name: b, needs: [a], run: [x]}\n"
    "    - {name: c, needs: [a], run: [x]}\n"
    "    - {name: d, needs: [b, c], run: [x]}\n";

TEST_F(RunStateTest, OnlyTasksWithoutDependenciesAreReadyAtFirst) {
  Load(kDiamond);
  EXPECT_EQ(TakeReady(), (Names{"a"}));
  EXPECT_EQ(At("d").state, TaskState::kPending);
  EXPECT_EQ(At("d").remaining_deps, 2);
  EXPECT_FALSE(state_->HasWork());
}

TEST_F(RunStateTest, TasksReadyBeforeAnEngineStartedAreReadyFromItsStart) {
  Load(kDiamond);
  EXPECT_EQ(At("a").ready_us, 0) << "made ready with no clock";
  ASSERT_TRUE(state_->Apply(Ev(EventKind::kRunStarted, "", 5'000'000)));
  EXPECT_EQ(At("a").ready_us, 5'000'000) << "its latency counts from the engine's start";
  ASSERT_TRUE(state_->Apply(Ev(EventKind::kRunStarted, "", 4'000'000)));
  EXPECT_EQ(At("a").ready_us, 5'000'000) << "never moved back";
}

TEST_F(RunStateTest, ADependentIsReadyWhenItsLastDependencyFinishes) {
  Load(kDiamond);
  TakeReady();
  Succeed("a");
  EXPECT_EQ(TakeReady(), (Names{"b", "c"}));
  Succeed("b");
  EXPECT_TRUE(TakeReady().empty());
  EXPECT_EQ(At("d").remaining_deps, 1);
  Failed("c");  // a failure counts as done too: the Decider vets what follows
  EXPECT_EQ(TakeReady(), (Names{"d"}));
  EXPECT_EQ(state_->finished_count(), 3);
  EXPECT_EQ(state_->first_failure(), "c");
}

TEST_F(RunStateTest, OpenAttemptsHoldSlotsAndResourcesUntilTheyFinish) {
  Load(
      "    - {name: a, run: [x], resources: {cpu: 1.5, memory: 1Gi}}\n"
      "    - {name: b, run: [x], resources: {cpu: 0.5}}\n");
  Apply(Started("a"));
  Apply(Started("b"));
  EXPECT_EQ(state_->usage().slots, 2);
  EXPECT_DOUBLE_EQ(state_->usage().cpu, 2.0);
  EXPECT_DOUBLE_EQ(state_->usage().memory, 1024.0 * 1024 * 1024);
  EXPECT_EQ(state_->open().size(), 2u);
  Apply(AttemptDone("a", 1, 1));
  EXPECT_EQ(state_->usage().slots, 1);
  EXPECT_DOUBLE_EQ(state_->usage().cpu, 0.5);
  EXPECT_FALSE(At("a").holds_slot);
  EXPECT_EQ(At("a").last_failure().cls, ErrorClass::kExit);
  // A retry waits without a slot.
  Event retry = Ev(EventKind::kRetryScheduled, "a");
  retry.attempt = 2;
  retry.due_us = 9000;
  Apply(retry);
  EXPECT_EQ(At("a").state, TaskState::kWaiting);
  EXPECT_EQ(state_->waiting().size(), 1u);
  EXPECT_EQ(state_->usage().slots, 1);
}

TEST_F(RunStateTest, ForEachExpansionAddsOneReadyInstancePerItem) {
  Load("    - {name: f, forEach: [x, y], run: [x]}\n");
  TakeReady();
  Apply(WithData(Ev(EventKind::kTaskExpanded, "f"), R"(["x",{"k":2}])"));
  EXPECT_EQ(TakeReady(), (Names{"f[0]", "f[1]"}));
  const Instance& parent = At("f");
  EXPECT_TRUE(parent.expanded);
  EXPECT_EQ(parent.state, TaskState::kRunning);
  EXPECT_EQ(parent.children.size(), 2u);
  EXPECT_EQ(At("f[1]").parent, state_->Find("f"));
  EXPECT_EQ(At("f[1]").item->ToJson(), R"({"k":2})");
  Apply(Started("f[0]"));
  EXPECT_EQ(At("f").children_running, 1);
  Apply(AttemptDone("f[0]", 1, 0));
  Apply(TaskDone("f[0]", "succeeded"));
  EXPECT_TRUE(state_->TakeFinalize().empty());
  Apply(TaskDone("f[1]", "skipped"));
  EXPECT_EQ(state_->TakeFinalize(), (std::vector<int>{state_->Find("f")}));
}

TEST_F(RunStateTest, TaskFinishedKeepsTheFirstVerdict) {
  Load("    - {name: a, run: [x]}\n");
  Succeed("a", 1000, R"({"params":{"o":"v"}})");
  Apply(TaskDone("a", "failed"));
  EXPECT_EQ(At("a").state, TaskState::kSucceeded);
  EXPECT_EQ(At("a").outputs.ToJson(), R"({"params":{"o":"v"}})");
  EXPECT_EQ(state_->finished_count(), 1);
  EXPECT_TRUE(state_->first_failure().empty());
}

const char* kHandled =
    "    - name: a\n      run: [x]\n      fallback: {run: [y]}\n"
    "      catch: [{on: [exit], run: [z]}]\n";

TEST_F(RunStateTest, HandlerStartedCreatesAReadyInstanceNamedAfterItsOwner) {
  Load(kHandled);
  TakeReady();
  Apply(Started("a"));
  Apply(AttemptDone("a", 1, 3));
  Apply(WithData(Ev(EventKind::kHandlerStarted, "a.fallback"),
                 R"({"owner":"a","plan":"a.fallback",)"
                 R"("error":{"class":"exit","code":3,"message":"exited with 3"}})"));
  const int h = state_->Find("a.fallback");
  ASSERT_GE(h, 0);
  EXPECT_EQ(state_->at(h).owner, state_->Find("a"));
  EXPECT_EQ(TakeReady(), (Names{"a.fallback"}));
  const Instance& owner = At("a");
  EXPECT_EQ(owner.state, TaskState::kRunning);  // waits for its handler, holding no slot
  EXPECT_FALSE(owner.holds_slot);
  EXPECT_EQ(owner.last_failure().handler, h);
  EXPECT_TRUE(owner.last_failure().fallback_tried);
  EXPECT_FALSE(owner.last_failure().catch_tried);
  EXPECT_EQ(owner.last_failure().code, 3);
  EXPECT_EQ(owner.last_failure().message, "exited with 3");
  Succeed("a.fallback");
  EXPECT_EQ(state_->TakeHandlersDone(), (std::vector<int>{h}));
}

TEST_F(RunStateTest, AHandlerOfAForEachItemServesThatItem) {
  Load("    - name: t\n      forEach: [p, q]\n      run: [x]\n      catch: [{run: [z]}]\n");
  Apply(WithData(Ev(EventKind::kTaskExpanded, "t"), R"(["p","q"])"));
  Apply(Started("t[1]"));
  Apply(AttemptDone("t[1]", 1, 1));
  Apply(WithData(Ev(EventKind::kHandlerStarted, "t[1].catch[0]"),
                 R"({"owner":"t[1]","plan":"t.catch[0]"})"));
  EXPECT_EQ(At("t[1].catch[0]").item->ToJson(), R"("q")");
  EXPECT_EQ(At("t[1].catch[0]").parent, -1);
  EXPECT_TRUE(At("t[1]").last_failure().catch_tried);
}

TEST_F(RunStateTest, CompensatingAddsCompensationsThatWaitForThoseDownstream) {
  Load(
      "    - {name: a, run: [x], compensate: {run: [undo]}}\n"
      "    - {name: b, needs: [a], run: [x], compensate: {run: [undo]}}\n"
      "    - {name: c, run: [x], compensate: {run: [undo]}}\n"
      "    - {name: e, needs: [b], run: [x]}\n");
  TakeReady();
  Succeed("a");
  Succeed("c");
  Succeed("b");
  Failed("e");
  TakeReady();
  Apply(
      PhaseEv("compensating", R"({"status":"failed","rollback":false,"instances":["b","c","a"]})"));
  EXPECT_EQ(state_->phase(), Phase::kCompensating);
  EXPECT_EQ(state_->phase_status(), RunStatus::kFailed);
  EXPECT_FALSE(state_->rollback());
  EXPECT_EQ(state_->compensations().size(), 3u);
  EXPECT_EQ(TakeReady(), (Names{"b.compensate", "c.compensate"}));
  EXPECT_EQ(At("a.compensate").remaining_deps, 1);  // after b's
  EXPECT_EQ(At("a.compensate").owner, state_->Find("a"));
  Succeed("b.compensate");
  EXPECT_EQ(TakeReady(), (Names{"a.compensate"}));
}

TEST_F(RunStateTest, FinalizingAddsTheFinallyTasksWithTheirNeeds) {
  Load("    - {name: a, run: [x]}\n",
       "  finally:\n    - {name: notify, run: [x]}\n    - {name: after, needs: [notify], run: "
       "[x]}\n");
  TakeReady();
  Succeed("a");
  EXPECT_EQ(state_->Find("notify"), -1);
  Apply(PhaseEv("finalizing", R"({"status":"succeeded"})"));
  EXPECT_EQ(state_->phase(), Phase::kFinally);
  EXPECT_EQ(state_->phase_status(), RunStatus::kSucceeded);
  EXPECT_EQ(state_->finally_instances().size(), 2u);
  EXPECT_EQ(TakeReady(), (Names{"notify"}));
  EXPECT_EQ(At("after").remaining_deps, 1);
  Succeed("notify");
  EXPECT_EQ(TakeReady(), (Names{"after"}));
}

// prep -> train -> eval (the group fit) -> report; side needs train from outside the group, so
// it waits for the whole group.
const char* kGroup =
    "    - {name: prep, run: [x]}\n"
    "    - {name: train, needs: [prep], run: [x]}\n"
    "    - {name: eval, needs: [train], run: [x]}\n"
    "    - {name: side, needs: [train], run: [x]}\n"
    "    - {name: report, needs: [eval], run: [x]}\n";
const char* kGroupSpec =
    "  groups:\n    - {name: fit, tasks: [train, eval], retry: {limit: 2, backoff: {initial: "
    "10s}}}\n";

TEST_F(RunStateTest, AMemberFailureThatTheGroupRetriesIsNotTheRunsFailure) {
  Load(kGroup, kGroupSpec);
  Succeed("prep");
  Succeed("train");
  Failed("eval");
  EXPECT_TRUE(state_->group(0).failing);
  EXPECT_EQ(state_->group(0).failed, "eval");
  EXPECT_TRUE(state_->first_failure().empty());
}

TEST_F(RunStateTest, GroupRetryResetsItsMembersAndWhatWaitsForThem) {
  Load(kGroup, kGroupSpec);
  Succeed("prep");
  Succeed("train");
  TakeReady();
  Failed("eval");
  // side needs train, so it waits for the whole group: eval's failure made it ready.
  EXPECT_EQ(TakeReady(), (Names{"side", "report"}));
  Event retry = WithData(Ev(EventKind::kGroupRetry, "", 3000), R"({"group":"fit","round":1})");
  retry.due_us = 13000;
  Apply(retry);
  const GroupState& g = state_->group(0);
  EXPECT_EQ(g.rounds, 1);
  EXPECT_FALSE(g.failing);
  EXPECT_TRUE(g.waiting);
  EXPECT_EQ(g.due_us, 13000);
  EXPECT_EQ(At("train").state, TaskState::kPending);
  EXPECT_EQ(At("train").attempt, 1);  // attempt numbers go on
  EXPECT_EQ(At("train").attempt_base, 1);
  EXPECT_EQ(At("eval").remaining_deps, 1);
  EXPECT_EQ(At("side").state, TaskState::kPending);  // vetted again after the next round
  EXPECT_EQ(At("side").remaining_deps, 2);
  EXPECT_EQ(At("report").remaining_deps, 2);
  EXPECT_EQ(state_->finished_count(), 1);  // prep
  state_->EndGroupWait(0, 13000);
  EXPECT_FALSE(state_->group(0).waiting);
  EXPECT_EQ(TakeReady(), (Names{"train"}));
}

TEST_F(RunStateTest, RefusesAnEventForATaskItDoesNotHave) {
  Load(kDiamond);
  ExpectRefused(Started("nope"), "\"nope\", which this run does not have");
}

TEST_F(RunStateTest, RefusesToStartAnAttemptOfAFinishedTask) {
  Load(kDiamond);
  Succeed("a");
  ExpectRefused(Started("a", 2), "already succeeded");
  ExpectRefused(WithData(Ev(EventKind::kTaskExpanded, "a"), "[1]"), "already succeeded");
}

TEST_F(RunStateTest, RefusesATaskVerdictThatIsNotFinal) {
  Load(kDiamond);
  Apply(Started("a"));
  ExpectRefused(TaskDone("a", "running"), "bad task status \"running\"");
  ExpectRefused(TaskDone("a", "splendid"), "bad task status");
}

TEST_F(RunStateTest, RefusesForEachItemsThatAreNotAList) {
  Load("    - {name: f, forEach: [x], run: [x]}\n");
  ExpectRefused(WithData(Ev(EventKind::kTaskExpanded, "f"), R"({"a":1})"), "bad forEach items");
  ExpectRefused(WithData(Ev(EventKind::kTaskExpanded, "f"), "[1, "), "bad forEach items");
}

TEST_F(RunStateTest, RefusesAGroupRetryOfAnUnknownGroupOrWithoutARound) {
  Load(kGroup, kGroupSpec);
  Succeed("prep");
  ExpectRefused(WithData(Ev(EventKind::kGroupRetry, ""), R"({"group":"nope","round":1})"),
                "bad group retry");
  ExpectRefused(WithData(Ev(EventKind::kGroupRetry, ""), R"({"group":"fit"})"), "bad group retry");
}

TEST_F(RunStateTest, RefusesToResetAGroupWhileAMemberRuns) {
  Load(kGroup, kGroupSpec);
  Succeed("prep");
  Apply(Started("train"));
  ExpectRefused(WithData(Ev(EventKind::kGroupRetry, ""), R"({"group":"fit","round":1})"),
                "group \"fit\" reset while \"train\" runs");
}

TEST_F(RunStateTest, RefusesHandlersPhasesAndRunVerdictsThatDoNotFit) {
  Load(kHandled + std::string("    - {name: b, run: [x]}\n"));
  ExpectRefused(WithData(Ev(EventKind::kHandlerStarted, "x.fallback"),
                         R"({"owner":"x","plan":"a.fallback"})"),
                "bad handler");
  ExpectRefused(WithData(Ev(EventKind::kHandlerStarted, "b.fallback"),
                         R"({"owner":"b","plan":"a.fallback"})"),
                "bad handler");
  ExpectRefused(PhaseEv("pausing", R"({"instances":["a"]})"), "unknown phase");
  ExpectRefused(PhaseEv("compensating", R"({"instances":["b"]})"), "cannot compensate");
  Event fin = Ev(EventKind::kRunFinished, "");
  fin.status = "running";
  ExpectRefused(fin, "bad run status");
}

// A live run's log, captured by a Recorder as a Decider decides it, replayed into a new state:
// after every turn of the live run the two agree.
TEST_F(RunStateTest, ReplayOfALiveRunsLogRebuildsTheSameState) {
  auto plan = Compile(
      "    - {name: a, run: [x], outputs: {params: [{name: o, from: {stdout: text}}]}}\n"
      "    - {name: f, needs: [a], forEach: [1, 2], run: [x, '${{ item }}']}\n"
      "    - name: b\n      needs: [a]\n      run: [x]\n      fallback: {run: [y]}\n",
      "  failFast: false\n"
      "  finally:\n    - {name: z, run: [x]}\n");
  RunState live(plan);
  Recorder rec(live, "r1", nullptr, nullptr);
  RunContext ctx;
  ctx.run_id = "r1";
  Decider decider(live, rec, ctx, Capacity{.jobs = 2, .cpu = 4}, nullptr);
  auto expect_replay_matches = [&](const char* when) {
    RunState replayed(plan);
    auto st = replayed.Replay(rec.captured());
    ASSERT_TRUE(st) << st.error().message;
    EXPECT_EQ(Snapshot(replayed), Snapshot(live)) << when;
  };
  int64_t now = 1'000'000;
  int pid = 100;
  // Turns until nothing is left: every attempt started ends, exiting with the next code of its
  // task (0 once they run out).
  std::map<std::string, std::deque<int>> exits{{"b", {2}}, {"f", {0, 3}}};
  for (int turn = 0; turn < 20 && rec.ok(); ++turn) {
    Orders orders;
    decider.Advance(now, orders);
    for (auto& [i, req] : orders.start) {
      Event spawned = Ev(EventKind::kAttemptSpawned, req.task);
      spawned.attempt = req.attempt;
      spawned.pid = pid++;
      rec.Record(spawned, now, i);
    }
    expect_replay_matches("after a turn");
    if (live.AllSettled()) {
      if (!decider.AdvancePhase(now)) break;
      continue;
    }
    now += 1'000'000;
    std::vector<int> open(live.open().begin(), live.open().end());
    for (int i : open) {
      AttemptEnd end;
      end.how = AttemptEnd::How::kExited;
      auto& codes = exits[BaseName(live.at(i).name)];
      end.exit_code = codes.empty() ? 0 : codes.front();
      if (!codes.empty()) codes.pop_front();
      if (end.exit_code == 0) end.outputs = AttemptOutputs{Value(ValueMap{{"o", Value("v")}}), {}};
      decider.AttemptEnded(i, end, now);
    }
    expect_replay_matches("after the ends");
    decider.Tick(now, orders);
  }
  ASSERT_TRUE(rec.ok()) << rec.error()->message;
  EXPECT_EQ(decider.FinalStatus(), RunStatus::kFailed);
  EXPECT_EQ(live.at(live.Find("f")).state, TaskState::kFailed);
  EXPECT_EQ(live.at(live.Find("b")).state, TaskState::kRecovered);
  EXPECT_EQ(live.at(live.Find("z")).state, TaskState::kSucceeded);
  expect_replay_matches("at the end");
}

// attempt.started takes the instance off waiting(). Live, the Decider takes a retry off that list
// when it falls due (MarkDue), but a replay has no MarkDue: before the fix a replayed retry that
// had started stayed listed as waiting, and a Decider built on it marked the running instance
// due again (DeciderTest.AnAdoptedRetryIsNotStartedAgainAfterAReplay).
TEST_F(RunStateTest, ReplayOfARetryThatStartedLeavesNothingWaiting) {
  Load("    - {name: a, run: [x], retry: 2}\n");
  Event retry = Ev(EventKind::kRetryScheduled, "a", 2000);
  retry.attempt = 2;
  retry.due_us = 3000;
  const std::vector<Event> log = {Started("a"), AttemptDone("a", 1, 1), retry,
                                  Started("a", 2, 3000)};
  ASSERT_TRUE(state_->Replay(log));
  EXPECT_EQ(At("a").state, TaskState::kRunning);
  EXPECT_TRUE(state_->waiting().empty());
}

}  // namespace run_state_test
}  // namespace sluice
