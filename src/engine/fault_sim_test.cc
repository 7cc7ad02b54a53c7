// Randomized fault tests: random DAGs with random handlers, random injected faults (exit codes,
// spawn failures, hangs past a timeout), a simulated crash (a failed commit) at a random point,
// then resume, and sometimes a rollback, also crashed and resumed. Every case checks the
// invariants of failure handling against the committed event log.
//
// SLUICE_FAULT_CASES sets how many seeds run (default 600); SLUICE_FAULT_SEED runs one seed,
// printing its pipeline and its log. A failure names its seed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <random>
#include <set>

#include "common/strings.h"
#include "engine/engine_fakes.h"

namespace sluice {
namespace fault_sim_test {

struct TaskPlan {
  std::string name;
  std::vector<int> deps;
  bool compensate = false;
  bool fallback = false;
  bool catch_any = false;
  bool recover = true;
  bool tolerated = false;
  bool for_each = false;
  bool in_group = false;
};

// How one Run() ended: its status, by name, as the checks compare it with the log's.
struct Ended {
  std::string status;
};

struct Case {
  uint64_t seed = 0;
  std::vector<TaskPlan> tasks;
  std::string tasks_yaml, spec_yaml;
  bool fail_fast = true;
  bool has_deadline = false;
  int finally_count = 0;
  int crashes = 0;        // failed commits injected, each followed by a resume
  bool rollback = false;  // `sluice rollback` once the run is over
  int jobs = 2;
};

// The case's seeded random draws. The order of the draws is the case: draw in another order and
// every seed names another pipeline, so the generator below draws in one fixed order.
class Dice {
 public:
  explicit Dice(uint64_t seed) : rng_(seed) {}
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  int Pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

 private:
  std::mt19937_64 rng_;
};

// A group of consecutive tasks (so no task outside lies between two members); first -1: none.
struct GroupPlan {
  int first = -1, size = 0;
  bool Has(int i) const { return first >= 0 && i >= first && i < first + size; }
};

// Scripts `task`'s exit codes: 0 to 3 attempts, each failing with probability fail_p.
void ScriptExits(const std::string& task, double fail_p, Dice& dice, FakeExecutor& exec) {
  std::vector<int> codes;
  for (int k = dice.Pick(0, 3); k > 0; --k) codes.push_back(dice.Chance(fail_p) ? dice.Pick(1, 3) : 0);
  exec.exits[task] = codes;
}

// Task i's name, upstreams and handlers.
TaskPlan DrawTask(int i, const GroupPlan& group, Dice& dice) {
  TaskPlan t;
  t.name = fmt::format("t{}", i);
  for (int j = 0; j < i; ++j) {
    if (dice.Chance(0.3)) t.deps.push_back(j);
  }
  t.compensate = dice.Chance(0.45);
  t.fallback = dice.Chance(0.15);
  t.catch_any = dice.Chance(0.2);
  t.recover = dice.Chance(0.6);
  t.tolerated = dice.Chance(0.1);
  t.for_each = dice.Chance(0.15);
  t.in_group = group.Has(i);
  if (t.in_group) t.for_each = t.fallback = t.catch_any = false;
  return t;
}

// The YAML of task t (with its own random retry, timeout and breaker), scripting its handlers.
std::string TaskYaml(const TaskPlan& t, Dice& dice, FakeExecutor& exec) {
  std::string y = fmt::format("    - name: {}\n      run: [x]\n", t.name);
  if (t.for_each) y += fmt::format("      forEach: [a, b, c]\n      parallelism: {}\n", dice.Pick(1, 3));
  if (!t.deps.empty()) {
    std::vector<std::string> names;
    for (int d : t.deps) names.push_back(fmt::format("t{}", d));
    y += fmt::format("      needs: [{}]\n", Join(names, ", "));
  }
  bool retry = dice.Chance(0.4);
  if (retry) y += fmt::format("      retry: {{limit: {}, backoff: {{initial: 1s}}}}\n", dice.Pick(1, 2));
  if (dice.Chance(0.15)) y += "      timeout: 5s\n";
  if (t.tolerated) y += "      continueOnFailure: true\n";
  if (dice.Chance(0.3)) {
    y += "      breaker: registry\n";
    if (!retry && dice.Chance(0.5)) y += "      retry: {limit: 2, on: [circuit-open], backoff: {initial: 2s}}\n";
  }
  if (t.compensate) {
    y += "      compensate: {run: [undo], retry: 1}\n";
    ScriptExits(t.name + ".compensate", 0.2, dice, exec);
  }
  if (t.fallback) {
    y += "      fallback: {run: [alt]}\n";
    ScriptExits(t.name + ".fallback", 0.4, dice, exec);
  }
  if (t.catch_any) {
    y += fmt::format("      catch: [{{on: [{}], recover: {}, run: [notify]}}]\n",
                     dice.Chance(0.5) ? "any" : "exit", t.recover ? "true" : "false");
    ScriptExits(t.name + ".catch", 0.3, dice, exec);
  }
  return y;
}

// Scripts task t itself: its exits, how long it runs, whether it can be spawned.
void ScriptTask(const TaskPlan& t, Dice& dice, FakeExecutor& exec) {
  ScriptExits(t.name, 0.35, dice, exec);
  if (dice.Chance(0.1)) exec.durations[t.name] = 100'000'000;  // hangs: a timeout or the deadline ends it
  else exec.durations[t.name] = dice.Pick(1, 3) * 1'000'000;
  if (dice.Chance(0.05)) exec.spawn_fails.insert(t.name);
}

// The spec-level options: failFast, the breaker, onFailure, a deadline, the group, finally tasks.
void GenerateSpec(const GroupPlan& group, Dice& dice, FakeExecutor& exec, Case& c) {
  c.fail_fast = dice.Chance(0.6);
  c.spec_yaml += fmt::format("  failFast: {}\n", c.fail_fast ? "true" : "false");
  c.spec_yaml += fmt::format(
      "  breakers:\n    - {{name: registry, slidingWindowSize: {}, minimumNumberOfCalls: {}, "
      "waitDurationInOpenState: {}s, permittedNumberOfCallsInHalfOpenState: {}}}\n",
      dice.Pick(2, 5), dice.Pick(1, 3), dice.Pick(1, 4), dice.Pick(1, 2));
  if (dice.Chance(0.3)) c.spec_yaml += "  onFailure: cancel\n";
  if (dice.Chance(0.15)) {
    c.has_deadline = true;
    c.spec_yaml += fmt::format("  deadline: {}s\n", dice.Pick(2, 12));
  }
  if (group.first >= 0) {
    std::vector<std::string> names;
    for (int i = group.first; i < group.first + group.size; ++i) names.push_back(fmt::format("t{}", i));
    c.spec_yaml += fmt::format("  groups:\n    - {{name: g, tasks: [{}], retry: {{limit: {}, "
                               "backoff: {{initial: 3s}}}}}}\n", Join(names, ", "), dice.Pick(1, 2));
  }
  c.finally_count = dice.Pick(0, 2);
  if (c.finally_count > 0) {
    c.spec_yaml += "  finally:\n";
    for (int f = 0; f < c.finally_count; ++f) {
      c.spec_yaml += fmt::format("    - {{name: f{}, run: [x]{}}}\n", f, f > 0 ? ", needs: [f0]" : "");
      ScriptExits(fmt::format("f{}", f), 0.2, dice, exec);
    }
  }
}

// Builds the pipeline and scripts the fake executor.
Case Generate(uint64_t seed, FakeExecutor& exec) {
  Dice dice(seed);
  Case c;
  c.seed = seed;
  c.jobs = dice.Pick(1, 3);
  const int n = dice.Pick(2, 9);
  GroupPlan group;
  if (n >= 3 && dice.Chance(0.35)) {
    group.size = dice.Pick(2, 3);
    group.first = dice.Pick(0, n - group.size);
  }
  for (int i = 0; i < n; ++i) {
    TaskPlan t = DrawTask(i, group, dice);
    c.tasks_yaml += TaskYaml(t, dice, exec);
    ScriptTask(t, dice, exec);
    c.tasks.push_back(std::move(t));
  }
  GenerateSpec(group, dice, exec, c);
  c.crashes = dice.Chance(0.7) ? dice.Pick(1, 2) : 0;
  c.rollback = dice.Chance(0.25);
  return c;
}

// Runs the case: the run, crashed `crashes` times and resumed, then maybe a rollback, crashed
// once and resumed. Returns the summaries of the runs that completed.
std::vector<Ended> Execute(const Case& c, Harness& h, std::shared_ptr<const Plan> plan,
                                std::mt19937_64& rng) {
  std::vector<Ended> done;
  auto crash_point = [&] { return h.sink.commits() + std::uniform_int_distribution<int>(1, 12)(rng); };
  for (bool rollback : {false, true}) {
    if (rollback && (!c.rollback || done.empty() ||
                     (done.back().status != "succeeded" && done.back().status != "failed"))) {
      break;
    }
    int crashes = rollback ? 1 : c.crashes;
    bool first = true;
    for (int attempt = 0; attempt <= crashes + 1; ++attempt) {
      h.sink.fail_at_commit = attempt < crashes ? crash_point() : -1;
      auto e = first && !rollback ? h.Make(plan, c.jobs) : h.Resume(plan, c.jobs, rollback);
      first = false;
      auto s = e->Run();
      if (s) {
        done.push_back({std::string(RunStatusName(s->status))});
        break;
      }
      h.exec.Crash();  // the process died with the store; its attempts are gone
    }
  }
  return done;
}

// The invariants of one case, checked against its committed event log, the runs that completed
// and the breakers' transitions. Each check returns the violation it finds, or "". Built per
// case on the stack; holds references to its inputs, which must outlive it.
class LogCheck {
 public:
  LogCheck(const Case& c, const Plan& plan, const std::vector<Event>& ev,
           const std::vector<Ended>& done, const MemoryBreakers& breakers);

  // The checks, in order. Returns the first violation, or "".
  std::string FirstViolation() const;

 private:
  std::string BreakerTransitions() const;
  std::string SequenceNumbers() const;
  std::string RunCompleted() const;
  std::string AttemptsOnce() const;
  std::string OneVerdictPerRound() const;
  std::string Dependencies() const;
  std::string HandlersBeforeOwners() const;
  std::string FailFast() const;
  std::string Compensations() const;
  std::string CompensationOrder() const;
  std::string FinalStatus() const;

  // "t1[2].catch[0]" -> the plan task "t1.catch[0]".
  const PlanTask* TaskOf(const std::string& instance) const;
  TaskRole RoleOf(const std::string& instance) const;
  // The instance's last verdict: a task status, "skipped", or "" when it has none.
  std::string State(const std::string& name) const;
  // The status of the main tasks taken together: "succeeded" or "failed".
  std::string MainStatus() const;
  // The completed compensable instances (forEach items, not their parents).
  std::vector<std::string> CompletedCompensable() const;
  // Whether task `to` lies downstream of task `from`.
  bool Downstream(int from, int to) const;
  size_t FirstStart(const std::string& name) const;

  const Case& c_;
  const Plan& plan_;
  const std::vector<Event>& ev_;
  const std::vector<Ended>& done_;
  const MemoryBreakers& breakers_;
  // Indexed from the log by the constructor.
  std::set<std::string> instances_;
  std::map<std::string, std::vector<size_t>> verdicts_;  // event indices of finished or skipped
  std::vector<size_t> retry_at_;                         // event indices of group.retry
  int phases_ = 0;                                       // run.phase "compensating" events
  std::vector<std::string> compensated_;                 // the first such phase's instances
};

LogCheck::LogCheck(const Case& c, const Plan& plan, const std::vector<Event>& ev,
                   const std::vector<Ended>& done, const MemoryBreakers& breakers)
    : c_(c), plan_(plan), ev_(ev), done_(done), breakers_(breakers) {
  for (size_t k = 0; k < ev.size(); ++k) {
    const Event& e = ev[k];
    if (!e.task.empty()) instances_.insert(e.task);
    if (e.kind == EventKind::kTaskFinished || e.kind == EventKind::kTaskSkipped) verdicts_[e.task].push_back(k);
    if (e.kind == EventKind::kGroupRetry) retry_at_.push_back(k);
    if (e.kind == EventKind::kRunPhase && e.status == "compensating" && ++phases_ == 1) {
      auto d = ParseJson(e.data);
      for (const auto& v : d->Find("instances")->as_list()) compensated_.push_back(v.as_string());
    }
  }
}

std::string LogCheck::FirstViolation() const {
  for (auto check : {&LogCheck::BreakerTransitions, &LogCheck::SequenceNumbers,
                     &LogCheck::RunCompleted, &LogCheck::AttemptsOnce,
                     &LogCheck::OneVerdictPerRound, &LogCheck::Dependencies,
                     &LogCheck::HandlersBeforeOwners, &LogCheck::FailFast,
                     &LogCheck::Compensations, &LogCheck::CompensationOrder,
                     &LogCheck::FinalStatus}) {
    if (std::string v = (this->*check)(); !v.empty()) return v;
  }
  return "";
}

// Breaker transitions are legal and continuous.
std::string LogCheck::BreakerTransitions() const {
  BreakerState at = BreakerState::kClosed;
  for (const auto& l : breakers_.transitions) {
    const BreakerTransition& t = l.t;
    bool legal = (t.from == BreakerState::kClosed && t.to == BreakerState::kOpen) ||
                 (t.from == BreakerState::kOpen && t.to == BreakerState::kHalfOpen) ||
                 (t.from == BreakerState::kHalfOpen &&
                  (t.to == BreakerState::kClosed || t.to == BreakerState::kOpen));
    if (!legal || t.from != at) {
      return fmt::format("breaker went {} -> {} while {}", BreakerStateName(t.from),
                         BreakerStateName(t.to), BreakerStateName(at));
    }
    at = t.to;
  }
  return "";
}

// No event lost or duplicated: sequence numbers are 1..N.
std::string LogCheck::SequenceNumbers() const {
  for (size_t k = 0; k < ev_.size(); ++k) {
    if (ev_[k].seq != static_cast<int64_t>(k) + 1) return fmt::format("event {} has seq {}", k + 1, ev_[k].seq);
  }
  return "";
}

std::string LogCheck::RunCompleted() const {
  if (done_.empty()) return "the run never completed";
  if (ev_.empty() || ev_.back().kind != EventKind::kRunFinished) return "the log does not end with run.finished";
  return "";
}

// Attempts: numbered 1, 2, ... per instance; each started once and finished once.
std::string LogCheck::AttemptsOnce() const {
  std::map<std::string, int> last_attempt;
  std::map<std::pair<std::string, int>, int> started, finished;
  for (const Event& e : ev_) {
    if (e.kind == EventKind::kAttemptStarted) {
      if (++started[{e.task, e.attempt}] > 1) return fmt::format("{} attempt {} started twice", e.task, e.attempt);
      if (e.attempt != last_attempt[e.task] + 1) {
        return fmt::format("{} attempt {} follows attempt {}", e.task, e.attempt, last_attempt[e.task]);
      }
      last_attempt[e.task] = e.attempt;
    }
    if (e.kind == EventKind::kAttemptFinished) {
      if (!started.count({e.task, e.attempt})) return fmt::format("{} attempt {} finished unstarted", e.task, e.attempt);
      if (++finished[{e.task, e.attempt}] > 1) return fmt::format("{} attempt {} finished twice", e.task, e.attempt);
    }
  }
  for (const auto& [key, n] : started) {
    if (!finished.count(key)) return fmt::format("{} attempt {} never finished", key.first, key.second);
  }
  return "";
}

// Every instance ends in exactly one terminal state; a group member has one per round.
std::string LogCheck::OneVerdictPerRound() const {
  for (const auto& name : instances_) {
    const PlanTask* t = TaskOf(name);
    size_t allowed = t && t->group >= 0 ? retry_at_.size() + 1 : 1;
    auto it = verdicts_.find(name);
    size_t n = it == verdicts_.end() ? 0 : it->second.size();
    if (n < 1 || n > allowed) return fmt::format("{} has {} verdicts", name, n);
    if (t && t->group >= 0 && !retry_at_.empty() && it->second.back() < retry_at_.back()) {
      return fmt::format("{} has no verdict after its group's last reset", name);
    }
  }
  for (const auto& t : c_.tasks) {
    if (!verdicts_.count(t.name)) return fmt::format("{} has no verdict", t.name);
  }
  return "";
}

// Dependencies: a task that ran to success had no blocking upstream.
std::string LogCheck::Dependencies() const {
  for (const auto& t : c_.tasks) {
    std::string s = State(t.name);
    if (s == "succeeded" || s == "recovered") {
      for (int d : t.deps) {
        std::string u = State(c_.tasks[d].name);
        bool ok = u == "succeeded" || u == "recovered" || u == "skipped" ||
                  (u == "failed" && c_.tasks[d].tolerated);
        if (!ok) return fmt::format("{} {} although its upstream {} {}", t.name, s, c_.tasks[d].name, u);
      }
    }
    if (s == "recovered" && !t.fallback && !(t.catch_any && t.recover)) {
      return fmt::format("{} recovered without a fallback or a recovering catch", t.name);
    }
  }
  return "";
}

// Handlers settle before their owners.
std::string LogCheck::HandlersBeforeOwners() const {
  for (const auto& name : instances_) {
    TaskRole r = RoleOf(name);
    if (r != TaskRole::kCatch && r != TaskRole::kFallback) continue;
    std::string owner = name.substr(0, name.rfind('.'));
    if (verdicts_.at(owner)[0] < verdicts_.at(name)[0]) {
      return fmt::format("{} settled before its handler {}", owner, name);
    }
  }
  return "";
}

// failFast: after the first failure, no main task starts its first attempt.
std::string LogCheck::FailFast() const {
  size_t first_failure = ev_.size();
  for (size_t k = 0; k < ev_.size(); ++k) {
    const Event& e = ev_[k];
    if (e.kind != EventKind::kTaskFinished || e.status != "failed" || RoleOf(e.task) != TaskRole::kMain) continue;
    if (TaskOf(e.task)->spec->continue_on_failure) continue;
    // A member's failure that its group answered with a reset is not the run's.
    if (TaskOf(e.task)->group >= 0 &&
        std::any_of(retry_at_.begin(), retry_at_.end(), [&](size_t r) { return r > k; })) {
      continue;
    }
    first_failure = k;
    break;
  }
  if (!c_.fail_fast) return "";
  for (size_t k = first_failure; k < ev_.size(); ++k) {
    const Event& e = ev_[k];
    if (e.kind == EventKind::kAttemptStarted && e.attempt == 1 && RoleOf(e.task) == TaskRole::kMain) {
      return fmt::format("{} started after the failure of {} (failFast)", e.task, ev_[first_failure].task);
    }
  }
  return "";
}

// Compensations: exactly the completed compensable tasks, in one phase.
std::string LogCheck::Compensations() const {
  if (phases_ > 1) return "two compensation phases";
  bool phase = phases_ == 1;
  std::vector<std::string> completed = CompletedCompensable();
  std::vector<std::string> sorted = compensated_;
  std::sort(sorted.begin(), sorted.end());
  std::string main_status = MainStatus();
  bool expect_phase = !completed.empty() && (main_status == "failed" || done_.size() == 2);
  if (phase != expect_phase) {
    return fmt::format("compensation phase {} but main status {} with {} compensable", phase,
                       main_status, completed.size());
  }
  if (phase && sorted != completed) {
    return fmt::format("compensated [{}] but completed compensable [{}]", Join(sorted, " "),
                       Join(completed, " "));
  }
  return "";
}

// Each compensation runs after those of everything downstream of its task.
std::string LogCheck::CompensationOrder() const {
  auto index_of = [&](const std::string& name) { return std::stoi(name.substr(1)); };
  for (const auto& x : compensated_) {
    for (const auto& y : compensated_) {
      if (x == y || !Downstream(index_of(x), index_of(y))) continue;
      // y is downstream of x: y's compensation is over before x's begins.
      if (verdicts_.at(y + ".compensate")[0] > FirstStart(x + ".compensate")) {
        return fmt::format("{} compensated before its downstream {}", x, y);
      }
    }
  }
  return "";
}

// The final status is the one the verdicts imply.
std::string LogCheck::FinalStatus() const {
  std::string expect = MainStatus();
  if (phases_ == 1) {
    expect = "compensated";
    for (const auto& x : compensated_) {
      if (State(x + ".compensate") != "succeeded") expect = "compensation-failed";
    }
  }
  for (int f = 0; f < c_.finally_count && done_.size() == 1; ++f) {
    std::string s = State(fmt::format("f{}", f));
    if (s.empty()) return fmt::format("finally task f{} never ran", f);
    if (expect == "succeeded" && (s == "failed" || s == "upstream-failed")) expect = "failed";
  }
  if (done_.back().status != expect) {
    return fmt::format("the run ended {}, the verdicts imply {}", done_.back().status, expect);
  }
  if (done_.size() == 2 && done_.back().status.find("compensat") != 0) return "a rollback ended " + done_.back().status;
  return "";
}

const PlanTask* LogCheck::TaskOf(const std::string& instance) const {
  size_t dot = instance.find('.');
  std::string head = BaseName(instance.substr(0, dot));
  const PlanTask* t = plan_.Find(dot == std::string::npos ? head : head + instance.substr(dot));
  if (!t) ADD_FAILURE() << "no plan task for " << instance;
  return t;
}

TaskRole LogCheck::RoleOf(const std::string& instance) const {
  const PlanTask* t = TaskOf(instance);
  return t ? t->role : TaskRole::kMain;
}

std::string LogCheck::State(const std::string& name) const {
  auto it = verdicts_.find(name);
  if (it == verdicts_.end()) return "";
  const Event& e = ev_[it->second.back()];
  return e.kind == EventKind::kTaskSkipped ? "skipped" : e.status;
}

std::string LogCheck::MainStatus() const {
  std::string main_status = "succeeded";
  for (const auto& t : c_.tasks) {
    std::string s = State(t.name);
    if ((s == "failed" && !t.tolerated) || s == "upstream-failed" || s == "cancelled") main_status = "failed";
  }
  return main_status;
}

std::vector<std::string> LogCheck::CompletedCompensable() const {
  std::vector<std::string> completed;
  for (const auto& name : instances_) {
    const PlanTask* t = TaskOf(name);
    bool parent = t->spec->for_each && t->spec->for_each->literal && name == t->name;
    if (t->role == TaskRole::kMain && t->compensate >= 0 && !parent && State(name) == "succeeded") {
      completed.push_back(name);
    }
  }
  return completed;
}

bool LogCheck::Downstream(int from, int to) const {
  std::vector<int> stack{to};
  std::set<int> seen;
  while (!stack.empty()) {  // walk up from `to`
    int x = stack.back();
    stack.pop_back();
    for (int d : c_.tasks[x].deps) {
      if (d == from) return true;
      if (seen.insert(d).second) stack.push_back(d);
    }
  }
  return false;
}

size_t LogCheck::FirstStart(const std::string& name) const {
  for (size_t k = 0; k < ev_.size(); ++k) {
    if (ev_[k].kind == EventKind::kAttemptStarted && ev_[k].task == name) return k;
  }
  return ev_.size();
}

// The invariants. Returns the first violation, or "".
std::string Check(const Case& c, const Plan& plan, const std::vector<Event>& ev,
                  const std::vector<Ended>& done, const MemoryBreakers& breakers) {
  return LogCheck(c, plan, ev, done, breakers).FirstViolation();
}

struct Tally {
  std::map<std::string, int> statuses;
  int crashed = 0, rolled_back = 0, breaker_opened = 0, group_retried = 0;
};

std::string RunCase(uint64_t seed, bool verbose, Tally* tally = nullptr) {
  Harness h;
  Case c = Generate(seed, h.exec);
  auto plan = Compile(c.tasks_yaml, c.spec_yaml);
  if (!plan) return "the generated pipeline does not compile";
  std::mt19937_64 rng(seed ^ 0x5eed);
  auto done = Execute(c, h, plan, rng);
  std::string v = Check(c, *plan, h.sink.events, done, h.breakers);
  if (tally && !done.empty()) {
    ++tally->statuses[done[0].status];
    tally->crashed += c.crashes > 0;
    tally->rolled_back += done.size() == 2;
    tally->breaker_opened += !h.breakers.transitions.empty();
    tally->group_retried += !h.Tasks(EventKind::kGroupRetry).empty();
  }
  if (verbose || !v.empty()) {
    std::fprintf(stderr, "seed %llu: %s\n--- spec\n%s  tasks:\n%s--- log\n%s",
                 static_cast<unsigned long long>(seed), v.empty() ? "ok" : v.c_str(),
                 c.spec_yaml.c_str(), c.tasks_yaml.c_str(), h.Log().c_str());
  }
  return v;
}

TEST(FaultSim, RandomDagsWithInjectedFaultsCrashesAndResumesKeepTheInvariants) {
  if (const char* one = std::getenv("SLUICE_FAULT_SEED")) {
    EXPECT_EQ(RunCase(std::strtoull(one, nullptr, 10), true), "");
    return;
  }
  const char* n_env = std::getenv("SLUICE_FAULT_CASES");
  const int n = n_env ? std::atoi(n_env) : 600;
  int failures = 0;
  Tally tally;
  for (int seed = 1; seed <= n && failures < 3; ++seed) {
    std::string v = RunCase(static_cast<uint64_t>(seed), false, &tally);
    if (!v.empty()) {
      ++failures;
      ADD_FAILURE() << "seed " << seed << ": " << v << " (reproduce: SLUICE_FAULT_SEED=" << seed
                    << " build/sluice_unit_tests --gtest_filter='FaultSim.*')";
    }
  }
  std::vector<std::string> parts;
  for (const auto& [status, k] : tally.statuses) parts.push_back(fmt::format("{} {}", k, status));
  std::fprintf(stderr, "fault-sim: %d seeded cases (%s; %d crashed and resumed, %d rolled back, "
               "%d opened a breaker, %d retried a group)\n", n, Join(parts, ", ").c_str(),
               tally.crashed, tally.rolled_back, tally.breaker_opened, tally.group_retried);
}

}  // namespace fault_sim_test
}  // namespace sluice
