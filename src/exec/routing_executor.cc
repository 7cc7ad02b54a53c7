// One run's attempts on the local executor and on workers (routing_executor.h).
#include "exec/routing_executor.h"

#include <algorithm>

namespace sluice {

RoutingExecutor::RoutingExecutor(Executor& local, WorkerQueueExecutor& queue)
    : local_(local), queue_(queue) {}

std::vector<Result<AttemptHandle>> RoutingExecutor::Submit(std::span<const AttemptRequest> batch) {
  // A batch for one side only (the usual case: a run's tasks share an executor) goes there as
  // it is: copying every request showed in profiles of 10,000-task runs.
  auto remote = [](const AttemptRequest& r) { return r.executor == "worker"; };
  const size_t remotes = static_cast<size_t>(std::count_if(batch.begin(), batch.end(), remote));
  if (remotes == 0 || remotes == batch.size()) {
    const bool to_queue = remotes > 0;
    auto got = to_queue ? queue_.Submit(batch) : local_.Submit(batch);
    for (const auto& h : got) {
      if (h) (to_queue ? on_queue_ : on_local_).insert(*h);
    }
    return got;
  }
  std::vector<AttemptRequest> to_local, to_queue;
  std::vector<size_t> local_at, queue_at;
  for (size_t k = 0; k < batch.size(); ++k) {
    const bool remote = batch[k].executor == "worker";
    (remote ? to_queue : to_local).push_back(batch[k]);
    (remote ? queue_at : local_at).push_back(k);
  }
  std::vector<Result<AttemptHandle>> out(batch.size(), AttemptHandle{0});
  auto place = [&](std::vector<Result<AttemptHandle>> got, const std::vector<size_t>& at) {
    for (size_t j = 0; j < at.size(); ++j) {
      out[at[j]] = j < got.size() ? std::move(got[j])
                                  : Result<AttemptHandle>(Fail(ErrorCode::kInternal, "not started"));
    }
  };
  if (!to_local.empty()) {
    auto got = local_.Submit(to_local);
    for (const auto& h : got) {
      if (h) on_local_.insert(*h);
    }
    place(std::move(got), local_at);
  }
  if (!to_queue.empty()) {
    auto got = queue_.Submit(to_queue);
    for (const auto& h : got) {
      if (h) on_queue_.insert(*h);
    }
    place(std::move(got), queue_at);
  }
  return out;
}

void RoutingExecutor::Cancel(AttemptHandle handle, StopMode mode) {
  if (IsQueueHandle(handle)) {
    queue_.Cancel(handle, mode);
  } else {
    local_.Cancel(handle, mode);
  }
}

PollResult RoutingExecutor::Poll(int64_t timeout_us) {
  if (on_queue_.empty()) {
    PollResult out = local_.Poll(timeout_us);
    for (const auto& e : out.ends) on_local_.erase(e.handle);
    return out;
  }
  // Attempts wait on workers: look at the queue, then wait for a slice (on the bell when only
  // workers run something, else on the local executor), until something ended, the time is up
  // or a signal came. A ring that came between the look and the wait ends the wait at once.
  int64_t left = timeout_us;
  while (true) {
    PollResult out = queue_.Poll(0);
    const bool on_bell = bell_ && on_local_.empty();
    const int64_t step = on_bell ? kBellFallbackUs : kQueuePollUs;
    const int64_t slice = out.ends.empty() ? (left < 0 ? step : std::min(left, step)) : 0;
    if (on_bell && slice > 0) bell_->Wait(slice);
    PollResult local = local_.Poll(on_bell ? 0 : slice);
    out.interrupted = local.interrupted;
    for (auto& e : local.ends) out.ends.push_back(std::move(e));
    for (const auto& e : out.ends) {
      on_queue_.erase(e.handle);
      on_local_.erase(e.handle);
    }
    if (!out.ends.empty() || out.interrupted || left == 0) return out;
    if (left > 0) left = std::max<int64_t>(0, left - slice);
  }
}

std::vector<Adoption> RoutingExecutor::Adopt(std::span<const OpenAttempt> open) {
  std::vector<Adoption> out(open.size());
  std::vector<OpenAttempt> to_local;
  std::vector<size_t> local_at;
  for (size_t k = 0; k < open.size(); ++k) {
    const OpenAttempt& a = open[k];
    if (IsQueueHandle(a.handle) || a.handle == 0) {
      if (auto q = queue_.AdoptIfQueued(a)) {
        if (q->verdict == Adoption::Verdict::kAdopted) on_queue_.insert(q->handle);
        out[k] = std::move(*q);
        continue;
      }
      if (IsQueueHandle(a.handle)) {
        out[k].verdict = Adoption::Verdict::kLost;
        out[k].end.message = "its work queue row is gone";
        continue;
      }
    }
    to_local.push_back(a);
    local_at.push_back(k);
  }
  if (!to_local.empty()) {
    std::vector<Adoption> got = local_.Adopt(to_local);
    for (size_t j = 0; j < local_at.size() && j < got.size(); ++j) {
      if (got[j].verdict == Adoption::Verdict::kAdopted) on_local_.insert(got[j].handle);
      out[local_at[j]] = std::move(got[j]);
    }
  }
  return out;
}

void RoutingExecutor::Recorded() {
  local_.Recorded();
  queue_.Recorded();
}

}  // namespace sluice
