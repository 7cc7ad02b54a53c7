#include "engine/loop.h"

#include <algorithm>

#include "common/strings.h"
#include "engine/attempt.h"

namespace sluice {

RunLoop::RunLoop(RunState& state, Recorder& rec, Decider& decider, Executor& executor,
                 Clock& clock, LoopOptions opts)
    : state_(state), rec_(rec), decider_(decider), executor_(executor), clock_(clock),
      opts_(opts) {}

Result<RunSummary> RunLoop::Run() {
  if (auto st = decider_.CheckStart(opts_.rollback); !st) return std::unexpected(st.error());
  // An interrupted rollback is continued like any interrupted run.
  const bool start_rollback = opts_.rollback && !(state_.rollback() && !state_.run_finished());
  now_ = clock_.NowUs();
  Event started;
  started.kind = EventKind::kRunStarted;
  started.pid = opts_.pid;
  rec_.Record(std::move(started), now_);
  if (start_rollback) decider_.BeginRollback(now_);
  if (opts_.cancel_only) CancelAll();
  if (!opts_.cancel_only) Recover();
  // The store's holds of central pools become what the open attempts hold.
  if (auto st = decider_.AdoptCentralPools(now_); !st) return Abandon(st.error());
  while (!decider_.cancelled()) {
    Orders orders;
    decider_.Advance(now_, orders);
    // One commit a turn. It must precede the submits (write-ahead); the submits' own records
    // (handles) ride with the next turn's commit. What the sink publishes later is published
    // after the submits, off the path from one task's end to the next one's start; so is
    // telling the executor that the ends it returned are committed, which costs a store
    // transaction when attempts run on workers (their rows marked collected): a crash between
    // the two only makes the next engine read those ends again and drop them.
    if (auto st = rec_.Commit(); !st) return Abandon(st.error());
    Submit(orders.start);
    executor_.Recorded();
    Stop(orders.stop);
    if (auto st = rec_.PublishIfDue(clock_.NowUs()); !st) return Abandon(st.error());
    now_ = clock_.NowUs();
    if (state_.AllSettled()) {
      decider_.Regroup(now_, orders);  // a group whose last member just failed starts over first
      if (!state_.AllSettled() || decider_.AdvancePhase(now_)) continue;
      break;
    }
    if (running_.empty() && !state_.HasWork() && decider_.Stuck()) {
      decider_.FailStuck(now_);
      continue;
    }
    int64_t timeout = WaitTimeoutUs();
    if (auto* observer = rec_.observer()) observer->Flush();
    PollResult polled = executor_.Poll(timeout);
    now_ = clock_.NowUs();
    HandleEnds(polled.ends);
    if (polled.interrupted) {
      CancelAll();
      break;
    }
    Orders stops;
    decider_.Tick(now_, stops);
    Stop(stops.stop);
    EscalateKills();
  }
  if (!rec_.ok()) return Abandon(*rec_.error());
  RunSummary summary = Summarize();
  Event fin;
  fin.kind = EventKind::kRunFinished;
  fin.status = std::string(RunStatusName(summary.status));
  fin.data = fmt::format("{{\"latency_p50_us\":{},\"latency_p99_us\":{},\"attempts\":{}}}",
                         summary.latency_p50_us, summary.latency_p99_us, latencies_us_.size());
  rec_.Record(std::move(fin), clock_.NowUs());
  if (auto st = rec_.Commit(); !st) return std::unexpected(st.error());
  executor_.Recorded();
  decider_.ReleaseAllCentralPools(clock_.NowUs());
  return summary;
}

// How long to wait: until the next timer (the Decider's, a kill, the commit of what was recorded
// after the turn's commit, or the sink's publishing), polling while votes may arrive, and not
// at all when there is work but nothing runs.
int64_t RunLoop::WaitTimeoutUs() const {
  int64_t next = decider_.NextDueUs();
  auto consider = [&](int64_t t) {
    if (t >= 0 && (next < 0 || t < next)) next = t;
  };
  for (const auto& [handle, at] : kill_at_) consider(at);
  consider(rec_.CommitDueUs());
  consider(rec_.PublishDueUs());
  int64_t timeout = next < 0 ? -1 : std::max<int64_t>(0, next - now_);
  // Votes arrive in the store from other processes: poll while approvals are pending.
  if (decider_.AwaitingVotes()) timeout = timeout < 0 ? kApprovalPollUs : std::min(timeout, kApprovalPollUs);
  // With nothing running, waiting could only end at a timer: never block forever.
  // Work that waits for the run's own central pools (spec.resources) waits for NextDueUs.
  const bool work = state_.HasWork() && !decider_.WaitsForRunPools();
  if (running_.empty() && (timeout < 0 || work || decider_.HasRunnable())) timeout = 0;
  return timeout;
}

// Submits the attempts recorded started in the last commit.
void RunLoop::Submit(std::vector<std::pair<int, AttemptRequest>>& starts) {
  std::erase_if(starts, [&](const auto& s) { return !state_.at(s.first).attempt_open; });
  if (starts.empty()) return;
  std::vector<AttemptRequest> batch;
  batch.reserve(starts.size());
  for (auto& [i, req] : starts) {
    req.ready_us = state_.at(i).ready_us;
    batch.push_back(std::move(req));
  }
  std::vector<Result<AttemptHandle>> handles = executor_.Submit(batch);
  for (size_t k = 0; k < starts.size(); ++k) {
    const int i = starts[k].first;
    now_ = clock_.NowUs();
    if (k >= handles.size() || !handles[k]) {
      decider_.SubmitFailed(i, k < handles.size() ? handles[k].error().message
                                                  : "the executor did not start it", now_);
      continue;
    }
    latencies_us_.push_back(now_ - state_.at(i).ready_us);
    // A local attempt starts now; a queued one when a worker takes it (the store counts that),
    // a Slurm job when the cluster schedules it (not counted).
    if (batch[k].executor == "local") rec_.ObserveReadyToStart(latencies_us_.back());
    running_[*handles[k]] = i;
    Event e;
    e.kind = EventKind::kAttemptSpawned;
    e.task = state_.at(i).name;
    e.attempt = state_.at(i).attempt;
    e.pid = *handles[k];
    rec_.Record(std::move(e), now_, i);
  }
}

void RunLoop::Stop(const std::vector<int>& instances) {
  for (int i : instances) {
    AttemptHandle h = state_.at(i).handle;
    if (!running_.count(h)) continue;
    executor_.Cancel(h, StopMode::kTerminate);
    kill_at_[h] = now_ + opts_.kill_grace_us;
  }
}

// Attempts asked to stop that are still there after the grace period are killed, again every
// grace period while they linger.
void RunLoop::EscalateKills() {
  for (auto& [handle, at] : kill_at_) {
    if (now_ < at) continue;
    executor_.Cancel(handle, StopMode::kKill);
    at = now_ + opts_.kill_grace_us;
  }
}

void RunLoop::HandleEnds(std::vector<AttemptEnd>& ends) {
  for (auto& end : ends) {
    auto it = running_.find(end.handle);
    if (it == running_.end()) continue;  // a late result: its attempt was settled without it
    const int i = it->second;
    running_.erase(it);
    kill_at_.erase(end.handle);
    decider_.AttemptEnded(i, end, now_);
  }
}

// Asks the executor about attempts left open by a process that died (instances `open`).
std::vector<Adoption> RunLoop::AdoptOpen(const std::vector<int>& open) {
  std::vector<OpenAttempt> attempts;
  attempts.reserve(open.size());
  for (int i : open) {
    const Instance& in = state_.at(i);
    attempts.push_back({rec_.run_id(), in.name, in.attempt, in.handle, {}, {}});
    AddWantedOutputs(state_.plan().tasks[in.plan], attempts.back().params,
                     attempts.back().artifacts);
  }
  return executor_.Adopt(attempts);
}

// Attempts a process that died left open: adopted when they still run, settled by how they
// ended, or recorded lost (and handled by their retry policy).
void RunLoop::Recover() {
  std::vector<int> open(state_.open().begin(), state_.open().end());
  if (!open.empty()) {
    std::vector<Adoption> adopted = AdoptOpen(open);
    for (size_t k = 0; k < open.size(); ++k) {
      const int i = open[k];
      Adoption a = k < adopted.size() ? std::move(adopted[k]) : Adoption{};
      if (a.verdict == Adoption::Verdict::kAdopted) {
        running_[a.handle] = i;
        continue;
      }
      if (a.verdict == Adoption::Verdict::kLost) a.end.how = AttemptEnd::How::kLost;
      if (a.end.message.empty()) a.end.message = "the attempt's outcome is unknown";
      decider_.AttemptEnded(i, a.end, now_);
    }
  }
  state_.QueueDoneParents();
}

// Ctrl-C or `sluice cancel`: every running attempt is stopped and recorded cancelled, those a
// dead process left are made sure of and recorded cancelled too, then everything not settled.
void RunLoop::CancelAll() {
  decider_.BeginCancel();
  TerminateRunning(true);
  std::vector<int> open(state_.open().begin(), state_.open().end());
  if (!open.empty()) {
    for (const Adoption& a : AdoptOpen(open)) {
      if (a.verdict == Adoption::Verdict::kAdopted) executor_.Cancel(a.handle, StopMode::kKill);
    }
    now_ = clock_.NowUs();
    for (int i : open) decider_.AttemptCancelled(i, now_);
  }
  decider_.CancelRest(clock_.NowUs());
}

// Terminates every running attempt, kills those still there after the grace period, and
// returns when all have ended, recording each cancelled when `record` is set.
void RunLoop::TerminateRunning(bool record) {
  for (const auto& [handle, i] : running_) executor_.Cancel(handle, StopMode::kTerminate);
  int64_t kill_at = clock_.NowUs() + opts_.kill_grace_us;
  while (!running_.empty()) {
    int64_t left = kill_at - clock_.NowUs();
    if (left <= 0) {
      for (const auto& [handle, i] : running_) executor_.Cancel(handle, StopMode::kKill);
      left = opts_.kill_grace_us;
      kill_at = clock_.NowUs() + left;
    }
    for (const auto& end : executor_.Poll(left).ends) {
      auto it = running_.find(end.handle);
      if (it == running_.end()) continue;
      int i = it->second;
      running_.erase(it);
      if (record) decider_.AttemptCancelled(i, clock_.NowUs());
    }
  }
  kill_at_.clear();
}

// The store failed, or an event did not fit: nothing more can be recorded, so the run stops as
// after a crash. Running attempts are left running: the run's keeper collects their ends and
// `resume` adopts them or records how they ended (stopping them here would record a task killed
// by Sluice's own SIGTERM as the task's failure). One that nothing keeps (an attempt with
// secrets) is found lost by `resume`, which kills what is left of it first.
std::unexpected<Error> RunLoop::Abandon(const Error& err) { return std::unexpected(err); }

RunSummary RunLoop::Summarize() {
  RunSummary summary;
  summary.status = decider_.FinalStatus();
  summary.attempts_spawned = static_cast<int>(latencies_us_.size());
  if (!latencies_us_.empty()) {
    std::sort(latencies_us_.begin(), latencies_us_.end());
    summary.latency_p50_us = latencies_us_[latencies_us_.size() / 2];
    summary.latency_p99_us =
        latencies_us_[std::min(latencies_us_.size() - 1, latencies_us_.size() * 99 / 100)];
  }
  return summary;
}

}  // namespace sluice
