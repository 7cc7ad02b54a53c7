// One run's attempts on the local executor, on workers and on Slurm (routing_executor.h).
#include "exec/routing_executor.h"

#include <algorithm>

namespace sluice {

RoutingExecutor::RoutingExecutor(Executor& local, WorkerQueueExecutor& queue)
    : local_(local), queue_(&queue) {}

RoutingExecutor::RoutingExecutor(Executor& local) : local_(local) {}

Executor& RoutingExecutor::For(const AttemptRequest& req) {
  if (req.executor == "worker" && queue_) return *queue_;
  if (req.executor == "slurm" && slurm_) return *slurm_;
  return local_;
}

Executor& RoutingExecutor::For(AttemptHandle h) {
  if (IsQueueHandle(h) && queue_) return *queue_;
  if (IsSlurmHandle(h) && slurm_) return *slurm_;
  return local_;
}

std::set<AttemptHandle>& RoutingExecutor::Tracked(const Executor& e) {
  if (&e == queue_) return on_queue_;
  if (&e == slurm_) return on_slurm_;
  return on_local_;
}

std::vector<Result<AttemptHandle>> RoutingExecutor::Submit(std::span<const AttemptRequest> batch) {
  // A batch for one side only (the usual case: a run's tasks share an executor) goes there as
  // it is: copying every request showed in profiles of 10,000-task runs.
  Executor* only = batch.empty() ? &local_ : &For(batch[0]);
  for (const auto& r : batch) {
    if (&For(r) != only) only = nullptr;
    if (!only) break;
  }
  if (only) {
    auto got = only->Submit(batch);
    for (const auto& h : got) {
      if (h) Tracked(*only).insert(*h);
    }
    return got;
  }
  std::vector<Result<AttemptHandle>> out(batch.size(), AttemptHandle{0});
  for (Executor* side : {&local_, static_cast<Executor*>(queue_), static_cast<Executor*>(slurm_)}) {
    if (!side) continue;
    std::vector<AttemptRequest> part;
    std::vector<size_t> at;
    for (size_t k = 0; k < batch.size(); ++k) {
      if (&For(batch[k]) != side) continue;
      part.push_back(batch[k]);
      at.push_back(k);
    }
    if (part.empty()) continue;
    auto got = side->Submit(part);
    for (size_t j = 0; j < at.size(); ++j) {
      if (j < got.size() && got[j]) Tracked(*side).insert(*got[j]);
      out[at[j]] = j < got.size() ? std::move(got[j])
                                  : Result<AttemptHandle>(Fail(ErrorCode::kInternal, "not started"));
    }
  }
  return out;
}

void RoutingExecutor::Cancel(AttemptHandle handle, StopMode mode) { For(handle).Cancel(handle, mode); }

PollResult RoutingExecutor::Poll(int64_t timeout_us) {
  if (on_queue_.empty() && on_slurm_.empty()) {
    PollResult out = local_.Poll(timeout_us);
    for (const auto& e : out.ends) on_local_.erase(e.handle);
    return out;
  }
  // Attempts wait on workers or Slurm: look at the queue and (when its squeue is due) Slurm,
  // then wait for a slice (on the bell when only workers run something, else on the local
  // executor), until something ended, the time is up or a signal came. A ring that came
  // between the look and the wait ends the wait at once.
  int64_t left = timeout_us;
  while (true) {
    PollResult out;
    if (!on_queue_.empty()) out = queue_->Poll(0);
    if (!on_slurm_.empty()) {
      for (auto& e : slurm_->Poll(0).ends) out.ends.push_back(std::move(e));
    }
    const bool on_bell = bell_ && on_local_.empty() && on_slurm_.empty();
    int64_t step = on_queue_.empty() ? SlurmExecutor::kMaxIntervalUs
                   : on_bell         ? kBellFallbackUs
                                     : kQueuePollUs;
    if (!on_slurm_.empty()) step = std::clamp<int64_t>(slurm_->NextPollInUs(), 1'000, step);
    const int64_t slice = out.ends.empty() ? (left < 0 ? step : std::min(left, step)) : 0;
    if (on_bell && slice > 0) bell_->Wait(slice);
    PollResult local = local_.Poll(on_bell ? 0 : slice);
    out.interrupted = local.interrupted;
    for (auto& e : local.ends) out.ends.push_back(std::move(e));
    for (const auto& e : out.ends) {
      on_queue_.erase(e.handle);
      on_slurm_.erase(e.handle);
      on_local_.erase(e.handle);
    }
    if (!out.ends.empty() || out.interrupted || left == 0) return out;
    if (left > 0) left = std::max<int64_t>(0, left - slice);
  }
}

std::vector<Adoption> RoutingExecutor::Adopt(std::span<const OpenAttempt> open) {
  std::vector<Adoption> out(open.size());
  std::vector<OpenAttempt> to_local, to_slurm, unrecorded;
  std::vector<size_t> local_at, slurm_at, unrecorded_at;
  for (size_t k = 0; k < open.size(); ++k) {
    const OpenAttempt& a = open[k];
    if (IsSlurmHandle(a.handle)) {
      if (slurm_) {
        to_slurm.push_back(a);
        slurm_at.push_back(k);
      } else {
        out[k].verdict = Adoption::Verdict::kLost;
        out[k].end.message = "it ran on Slurm, and this run has no Slurm task any more";
      }
      continue;
    }
    if (queue_ && (IsQueueHandle(a.handle) || a.handle == 0)) {
      if (auto q = queue_->AdoptIfQueued(a)) {
        if (q->verdict == Adoption::Verdict::kAdopted) on_queue_.insert(q->handle);
        out[k] = std::move(*q);
        continue;
      }
    }
    if (IsQueueHandle(a.handle)) {
      out[k].verdict = Adoption::Verdict::kLost;
      out[k].end.message = "its work queue row is gone";
      continue;
    }
    if (slurm_ && a.handle == 0) {  // maybe a job whose id never reached the log
      unrecorded.push_back(a);
      unrecorded_at.push_back(k);
      continue;
    }
    to_local.push_back(a);
    local_at.push_back(k);
  }
  if (!unrecorded.empty()) {
    auto found = slurm_->AdoptUnrecorded(unrecorded);
    for (size_t j = 0; j < unrecorded.size(); ++j) {
      if (j < found.size() && found[j]) {
        if (found[j]->verdict == Adoption::Verdict::kAdopted) on_slurm_.insert(found[j]->handle);
        out[unrecorded_at[j]] = std::move(*found[j]);
      } else {
        to_local.push_back(unrecorded[j]);
        local_at.push_back(unrecorded_at[j]);
      }
    }
  }
  auto place = [&](Executor& side, const std::vector<OpenAttempt>& part,
                   const std::vector<size_t>& at) {
    if (part.empty()) return;
    std::vector<Adoption> got = side.Adopt(part);
    for (size_t j = 0; j < at.size() && j < got.size(); ++j) {
      if (got[j].verdict == Adoption::Verdict::kAdopted) Tracked(side).insert(got[j].handle);
      out[at[j]] = std::move(got[j]);
    }
  };
  place(local_, to_local, local_at);
  if (slurm_) place(*slurm_, to_slurm, slurm_at);
  return out;
}

void RoutingExecutor::Recorded() {
  local_.Recorded();
  if (queue_) queue_->Recorded();
}

}  // namespace sluice
