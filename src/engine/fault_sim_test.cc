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
namespace {

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

// Builds the pipeline and scripts the fake executor.
Case Generate(uint64_t seed, FakeExecutor& exec) {
  std::mt19937_64 rng(seed);
  auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  auto exits = [&](const std::string& task, double fail_p) {
    std::vector<int> codes;
    for (int k = pick(0, 3); k > 0; --k) codes.push_back(chance(fail_p) ? pick(1, 3) : 0);
    exec.exits[task] = codes;
  };
  Case c;
  c.seed = seed;
  c.jobs = pick(1, 3);
  const int n = pick(2, 9);
  // A group of consecutive tasks (so no task outside lies between two members).
  int group_first = -1, group_size = 0;
  if (n >= 3 && chance(0.35)) {
    group_size = pick(2, 3);
    group_first = pick(0, n - group_size);
  }
  for (int i = 0; i < n; ++i) {
    TaskPlan t;
    t.name = fmt::format("t{}", i);
    for (int j = 0; j < i; ++j) {
      if (chance(0.3)) t.deps.push_back(j);
    }
    t.compensate = chance(0.45);
    t.fallback = chance(0.15);
    t.catch_any = chance(0.2);
    t.recover = chance(0.6);
    t.tolerated = chance(0.1);
    t.for_each = chance(0.15);
    t.in_group = group_first >= 0 && i >= group_first && i < group_first + group_size;
    if (t.in_group) t.for_each = t.fallback = t.catch_any = false;
    std::string y = fmt::format("    - name: {}\n      run: [x]\n", t.name);
    if (t.for_each) y += fmt::format("      forEach: [a, b, c]\n      parallelism: {}\n", pick(1, 3));
    if (!t.deps.empty()) {
      std::vector<std::string> names;
      for (int d : t.deps) names.push_back(fmt::format("t{}", d));
      y += fmt::format("      needs: [{}]\n", Join(names, ", "));
    }
    bool retry = chance(0.4);
    if (retry) y += fmt::format("      retry: {{limit: {}, backoff: {{initial: 1s}}}}\n", pick(1, 2));
    if (chance(0.15)) y += "      timeout: 5s\n";
    if (t.tolerated) y += "      continueOnFailure: true\n";
    if (chance(0.3)) {
      y += "      breaker: registry\n";
      if (!retry && chance(0.5)) y += "      retry: {limit: 2, on: [circuit-open], backoff: {initial: 2s}}\n";
    }
    if (t.compensate) {
      y += "      compensate: {run: [undo], retry: 1}\n";
      exits(t.name + ".compensate", 0.2);
    }
    if (t.fallback) {
      y += "      fallback: {run: [alt]}\n";
      exits(t.name + ".fallback", 0.4);
    }
    if (t.catch_any) {
      y += fmt::format("      catch: [{{on: [{}], recover: {}, run: [notify]}}]\n",
                       chance(0.5) ? "any" : "exit", t.recover ? "true" : "false");
      exits(t.name + ".catch", 0.3);
    }
    c.tasks_yaml += y;
    exits(t.name, 0.35);
    if (chance(0.1)) exec.durations[t.name] = 100'000'000;  // hangs: a timeout or the deadline ends it
    else exec.durations[t.name] = pick(1, 3) * 1'000'000;
    if (chance(0.05)) exec.spawn_fails.insert(t.name);
    c.tasks.push_back(std::move(t));
  }
  c.fail_fast = chance(0.6);
  c.spec_yaml += fmt::format("  failFast: {}\n", c.fail_fast ? "true" : "false");
  c.spec_yaml += fmt::format(
      "  breakers:\n    - {{name: registry, slidingWindowSize: {}, minimumNumberOfCalls: {}, "
      "waitDurationInOpenState: {}s, permittedNumberOfCallsInHalfOpenState: {}}}\n",
      pick(2, 5), pick(1, 3), pick(1, 4), pick(1, 2));
  if (chance(0.3)) c.spec_yaml += "  onFailure: cancel\n";
  if (chance(0.15)) {
    c.has_deadline = true;
    c.spec_yaml += fmt::format("  deadline: {}s\n", pick(2, 12));
  }
  if (group_first >= 0) {
    std::vector<std::string> names;
    for (int i = group_first; i < group_first + group_size; ++i) names.push_back(fmt::format("t{}", i));
    c.spec_yaml += fmt::format("  groups:\n    - {{name: g, tasks: [{}], retry: {{limit: {}, "
                               "backoff: {{initial: 3s}}}}}}\n", Join(names, ", "), pick(1, 2));
  }
  c.finally_count = pick(0, 2);
  if (c.finally_count > 0) {
    c.spec_yaml += "  finally:\n";
    for (int f = 0; f < c.finally_count; ++f) {
      c.spec_yaml += fmt::format("    - {{name: f{}, run: [x]{}}}\n", f, f > 0 ? ", needs: [f0]" : "");
      exits(fmt::format("f{}", f), 0.2);
    }
  }
  c.crashes = chance(0.7) ? pick(1, 2) : 0;
  c.rollback = chance(0.25);
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

// The invariants. Returns the first violation, or "".
std::string Check(const Case& c, const Plan& plan, const std::vector<Event>& ev,
                  const std::vector<Ended>& done, const MemoryBreakers& breakers) {
  // Breaker transitions are legal and continuous.
  BreakerState at = BreakerState::kClosed;
  for (const auto& l : breakers.transitions) {
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
  // "t1[2].catch[0]" -> the plan task "t1.catch[0]".
  auto task_of = [&](const std::string& instance) {
    size_t dot = instance.find('.');
    std::string head = BaseName(instance.substr(0, dot));
    const PlanTask* t = plan.Find(dot == std::string::npos ? head : head + instance.substr(dot));
    if (!t) ADD_FAILURE() << "no plan task for " << instance;
    return t;
  };
  auto role_of = [&](const std::string& instance) {
    const PlanTask* t = task_of(instance);
    return t ? t->role : TaskRole::kMain;
  };
  // No event lost or duplicated: sequence numbers are 1..N.
  for (size_t k = 0; k < ev.size(); ++k) {
    if (ev[k].seq != static_cast<int64_t>(k) + 1) return fmt::format("event {} has seq {}", k + 1, ev[k].seq);
  }
  if (done.empty()) return "the run never completed";
  if (ev.empty() || ev.back().kind != EventKind::kRunFinished) return "the log does not end with run.finished";
  // Attempts: numbered 1, 2, ... per instance; each started once and finished once.
  std::map<std::string, int> last_attempt;
  std::map<std::pair<std::string, int>, int> started, finished;
  std::map<std::string, std::vector<size_t>> verdicts;
  std::set<std::string> instances;
  for (size_t k = 0; k < ev.size(); ++k) {
    const Event& e = ev[k];
    if (!e.task.empty()) instances.insert(e.task);
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
    if (e.kind == EventKind::kTaskFinished || e.kind == EventKind::kTaskSkipped) verdicts[e.task].push_back(k);
  }
  for (const auto& [key, n] : started) {
    if (!finished.count(key)) return fmt::format("{} attempt {} never finished", key.first, key.second);
  }
  // Every instance ends in exactly one terminal state; a group member has one per round.
  size_t group_retries = 0;
  std::vector<size_t> retry_at;  // event indices of group.retry
  for (size_t k = 0; k < ev.size(); ++k) {
    if (ev[k].kind == EventKind::kGroupRetry) retry_at.push_back(k);
  }
  group_retries = retry_at.size();
  for (const auto& name : instances) {
    const PlanTask* t = task_of(name);
    size_t allowed = t && t->group >= 0 ? group_retries + 1 : 1;
    size_t n = verdicts[name].size();
    if (n < 1 || n > allowed) return fmt::format("{} has {} verdicts", name, n);
    if (t && t->group >= 0 && !retry_at.empty() && verdicts[name].back() < retry_at.back()) {
      return fmt::format("{} has no verdict after its group's last reset", name);
    }
  }
  for (const auto& t : c.tasks) {
    if (!verdicts.count(t.name)) return fmt::format("{} has no verdict", t.name);
  }
  auto state = [&](const std::string& name) -> std::string {
    auto it = verdicts.find(name);
    if (it == verdicts.end()) return "";
    const Event& e = ev[it->second.back()];
    return e.kind == EventKind::kTaskSkipped ? "skipped" : e.status;
  };
  // Dependencies: a task that ran to success had no blocking upstream.
  for (const auto& t : c.tasks) {
    std::string s = state(t.name);
    if (s == "succeeded" || s == "recovered") {
      for (int d : t.deps) {
        std::string u = state(c.tasks[d].name);
        bool ok = u == "succeeded" || u == "recovered" || u == "skipped" ||
                  (u == "failed" && c.tasks[d].tolerated);
        if (!ok) return fmt::format("{} {} although its upstream {} {}", t.name, s, c.tasks[d].name, u);
      }
    }
    if (s == "recovered" && !t.fallback && !(t.catch_any && t.recover)) {
      return fmt::format("{} recovered without a fallback or a recovering catch", t.name);
    }
  }
  // Handlers settle before their owners.
  for (const auto& name : instances) {
    TaskRole r = role_of(name);
    if (r != TaskRole::kCatch && r != TaskRole::kFallback) continue;
    std::string owner = name.substr(0, name.rfind('.'));
    if (verdicts[owner][0] < verdicts[name][0]) return fmt::format("{} settled before its handler {}", owner, name);
  }
  // failFast: after the first failure, no main task starts its first attempt.
  size_t first_failure = ev.size();
  for (size_t k = 0; k < ev.size(); ++k) {
    const Event& e = ev[k];
    if (e.kind != EventKind::kTaskFinished || e.status != "failed" || role_of(e.task) != TaskRole::kMain) continue;
    if (task_of(e.task)->spec->continue_on_failure) continue;
    // A member's failure that its group answered with a reset is not the run's.
    if (task_of(e.task)->group >= 0 &&
        std::any_of(retry_at.begin(), retry_at.end(), [&](size_t r) { return r > k; })) {
      continue;
    }
    first_failure = k;
    break;
  }
  if (c.fail_fast) {
    for (size_t k = first_failure; k < ev.size(); ++k) {
      const Event& e = ev[k];
      if (e.kind == EventKind::kAttemptStarted && e.attempt == 1 && role_of(e.task) == TaskRole::kMain) {
        return fmt::format("{} started after the failure of {} (failFast)", e.task, ev[first_failure].task);
      }
    }
  }
  // Compensations: exactly the completed compensable tasks, each after everything downstream.
  std::vector<std::string> compensated;
  bool phase = false;
  for (const auto& e : ev) {
    if (e.kind != EventKind::kRunPhase || e.status != "compensating") continue;
    if (phase) return "two compensation phases";
    phase = true;
    auto d = ParseJson(e.data);
    for (const auto& v : d->Find("instances")->as_list()) compensated.push_back(v.as_string());
  }
  std::vector<std::string> completed;  // instances (forEach items, not their parents)
  for (const auto& name : instances) {
    const PlanTask* t = task_of(name);
    bool parent = t->spec->for_each && t->spec->for_each->literal && name == t->name;
    if (t->role == TaskRole::kMain && t->compensate >= 0 && !parent && state(name) == "succeeded") {
      completed.push_back(name);
    }
  }
  std::vector<std::string> sorted = compensated;
  std::sort(sorted.begin(), sorted.end());
  std::string main_status = "succeeded";
  for (const auto& t : c.tasks) {
    std::string s = state(t.name);
    if ((s == "failed" && !t.tolerated) || s == "upstream-failed" || s == "cancelled") main_status = "failed";
  }
  bool expect_phase = !completed.empty() && (main_status == "failed" || done.size() == 2);
  if (phase != expect_phase) {
    return fmt::format("compensation phase {} but main status {} with {} compensable", phase,
                       main_status, completed.size());
  }
  if (phase && sorted != completed) {
    return fmt::format("compensated [{}] but completed compensable [{}]", Join(sorted, " "),
                       Join(completed, " "));
  }
  auto downstream = [&](int from, int to) {
    std::vector<int> stack{to};
    std::set<int> seen;
    while (!stack.empty()) {  // walk up from `to`
      int x = stack.back();
      stack.pop_back();
      for (int d : c.tasks[x].deps) {
        if (d == from) return true;
        if (seen.insert(d).second) stack.push_back(d);
      }
    }
    return false;
  };
  auto index_of = [&](const std::string& name) { return std::stoi(name.substr(1)); };
  auto first_start = [&](const std::string& name) {
    for (size_t k = 0; k < ev.size(); ++k) {
      if (ev[k].kind == EventKind::kAttemptStarted && ev[k].task == name) return k;
    }
    return ev.size();
  };
  for (const auto& x : compensated) {
    for (const auto& y : compensated) {
      if (x == y || !downstream(index_of(x), index_of(y))) continue;
      // y is downstream of x: y's compensation is over before x's begins.
      if (verdicts[y + ".compensate"][0] > first_start(x + ".compensate")) {
        return fmt::format("{} compensated before its downstream {}", x, y);
      }
    }
  }
  // The final status is the one the verdicts imply.
  std::string expect = main_status;
  if (phase) {
    expect = "compensated";
    for (const auto& x : compensated) {
      if (state(x + ".compensate") != "succeeded") expect = "compensation-failed";
    }
  }
  for (int f = 0; f < c.finally_count && done.size() == 1; ++f) {
    std::string s = state(fmt::format("f{}", f));
    if (s.empty()) return fmt::format("finally task f{} never ran", f);
    if (expect == "succeeded" && (s == "failed" || s == "upstream-failed")) expect = "failed";
  }
  if (done.back().status != expect) {
    return fmt::format("the run ended {}, the verdicts imply {}", done.back().status, expect);
  }
  if (done.size() == 2 && done.back().status.find("compensat") != 0) return "a rollback ended " + done.back().status;
  return "";
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

}  // namespace
}  // namespace sluice
