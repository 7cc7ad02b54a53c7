// Attempts run by workers through the store's work queue (worker_queue_executor.h).
#include "exec/worker_queue_executor.h"

#include <signal.h>

#include "common/strings.h"
#include "exec/work_codec.h"

namespace sluice {

WorkerQueueExecutor::WorkerQueueExecutor(WorkQueue& queue, std::string artifact_root,
                                         std::string bundle_root)
    : queue_(queue), artifact_root_(std::move(artifact_root)), bundle_root_(std::move(bundle_root)) {}

std::vector<Result<AttemptHandle>> WorkerQueueExecutor::Submit(std::span<const AttemptRequest> batch) {
  std::vector<Result<AttemptHandle>> out(batch.size(), Fail(ErrorCode::kInternal, "not queued"));
  std::vector<AttemptRequest> queued;
  std::vector<size_t> where;
  std::vector<std::string> json;
  for (size_t k = 0; k < batch.size(); ++k) {
    const AttemptRequest& req = batch[k];
    if (!req.secret_env.empty() || !req.secret_files.empty()) {
      out[k] = Fail(ErrorCode::kInvalidInput, "task {} receives secrets, which a worker cannot "
                    "be given yet: run it with executor: local", Quote(req.task));
      continue;
    }
    Value v = RequestToValue(req);
    ValueMap m = v.as_map();
    m.emplace_back(Value("serverArtifacts"), Value(artifact_root_));
    m.emplace_back(Value("serverBundles"), Value(bundle_root_));
    json.push_back(Value(std::move(m)).ToJson());
    where.push_back(k);
  }
  if (where.empty()) return out;
  // Every request queued (the usual case): the batch as it is, not copies of it.
  std::span<const AttemptRequest> to_queue = batch;
  if (where.size() < batch.size()) {
    for (size_t k : where) queued.push_back(batch[k]);
    to_queue = queued;
  }
  auto ids = queue_.Enqueue(to_queue, json);
  for (size_t j = 0; j < where.size(); ++j) {
    if (!ids) {
      out[where[j]] = Fail(ErrorCode::kStore, "cannot queue it for a worker: {}", ids.error().message);
    } else {
      out[where[j]] = kQueueHandleBit | (*ids)[j];
    }
  }
  return out;
}

void WorkerQueueExecutor::Cancel(AttemptHandle handle, StopMode mode) {
  AttemptEnd end;
  end.how = AttemptEnd::How::kSignaled;
  end.signal = mode == StopMode::kKill ? SIGKILL : SIGTERM;
  end.message = "cancelled before a worker took it";
  // A failure leaves the row as it is: the loop asks again after its grace period (kKill).
  (void)queue_.Cancel(handle & ~kQueueHandleBit, EndToValue(end).ToJson());
}

PollResult WorkerQueueExecutor::Poll(int64_t) {
  PollResult out;
  auto rows = queue_.Ended();
  if (!rows) return out;
  for (const QueuedWork& w : *rows) {
    if (!returned_.insert(w.id).second) continue;
    const AttemptHandle h = kQueueHandleBit | w.id;
    auto parsed = ParseJson(w.end);
    auto end = parsed ? EndFromValue(*parsed, h) : Result<AttemptEnd>(std::unexpected(parsed.error()));
    if (!end) {
      AttemptEnd lost;
      lost.handle = h;
      lost.message = "its end could not be read: " + end.error().message;
      out.ends.push_back(std::move(lost));
      continue;
    }
    if (w.state == "lost") end->how = AttemptEnd::How::kLost;
    out.ends.push_back(std::move(*end));
  }
  return out;
}

void WorkerQueueExecutor::Recorded() {
  to_collect_.insert(to_collect_.end(), returned_.begin(), returned_.end());
  if (to_collect_.empty()) return;
  // Rows stay uncollected when this fails: a restarted engine reads their ends again, and its
  // loop drops those it already recorded (their attempts are no longer open).
  if (queue_.Collected(to_collect_)) to_collect_.clear();
  returned_.clear();
}

std::optional<Adoption> WorkerQueueExecutor::AdoptIfQueued(const OpenAttempt& a) {
  Adoption out;
  auto row = queue_.Find(a.task, a.attempt);
  if (!row) {
    out.verdict = Adoption::Verdict::kLost;
    out.end.message = "the work queue cannot be read: " + row.error().message;
    return out;
  }
  if (!*row) return std::nullopt;
  const QueuedWork& w = **row;
  const AttemptHandle h = kQueueHandleBit | w.id;
  if (w.state == "queued" || w.state == "leased") {
    out.verdict = Adoption::Verdict::kAdopted;
    out.handle = h;
    return out;
  }
  auto parsed = ParseJson(w.end);
  auto end = parsed ? EndFromValue(*parsed, h) : Result<AttemptEnd>(std::unexpected(parsed.error()));
  out.verdict = w.state == "lost" || !end ? Adoption::Verdict::kLost : Adoption::Verdict::kEnded;
  if (end) out.end = std::move(*end);
  out.end.handle = h;
  returned_.insert(w.id);  // collected once recorded
  return out;
}

std::vector<Adoption> WorkerQueueExecutor::Adopt(std::span<const OpenAttempt> open) {
  std::vector<Adoption> out;
  for (const OpenAttempt& a : open) {
    auto adopted = AdoptIfQueued(a);
    if (!adopted) {
      adopted.emplace();
      adopted->verdict = Adoption::Verdict::kLost;
      adopted->end.message = "it never reached the work queue";
    }
    out.push_back(std::move(*adopted));
  }
  return out;
}

}  // namespace sluice
