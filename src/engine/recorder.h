// Recorder: where the decisions of a run go. Each event is applied to the RunState first and,
// when it fits, appended to the run's log and shown to the observer. The first event that does
// not fit stops the recording (a sticky error, after leveldb's bg_error_): the run must stop
// with that error, never drop the event and go on.
//
// A turn that settles very many tasks without processes (builtins, skips) commits every
// kCommitChunk events, to bound what the sink holds; any prefix of the log is a valid state.
//
// Owned by the loop; the Decider records through it. Not thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/event.h"
#include "engine/interfaces.h"
#include "engine/run_state.h"

namespace sluice {

class Recorder {
 public:
  // `sink` null: the events are only applied and kept in `captured()` (tests of the Decider).
  Recorder(RunState& state, std::string run_id, EventSink* sink, RunObserver* observer);

  // Stamps `e` with the run and, when it has none, the time `now_us`; applies it, then appends
  // it. `instance` and `data` are as for RunState::Apply. After an error, does nothing.
  void Record(Event e, int64_t now_us, int instance = -1, const Value* data = nullptr);
  // Stops the recording with `err` (a service the Decider asked failed, e.g. the breakers'
  // store), unless an error stopped it already.
  void Fail(Error err) {
    if (!error_) error_ = std::move(err);
  }
  // Commits what was recorded since the last commit. The first failure is kept in error().
  Status Commit();
  // A sample of ready -> start for the sink (EventSink::ObserveReadyToStart).
  void ObserveReadyToStart(int64_t latency_us) {
    if (sink_) sink_->ObserveReadyToStart(latency_us);
  }
  // Publishes committed events when the sink is due to (see EventSink::PublishDueUs).
  Status PublishIfDue(int64_t now_us);
  int64_t PublishDueUs() const { return sink_ ? sink_->PublishDueUs() : -1; }
  // When what was recorded since the last commit must be committed (-1: nothing is waiting).
  // Records made after a turn's commit (an attempt's pid, once spawned) ride with the next
  // turn's; a turn that waits for long tasks must not keep them from readers (status, the
  // API's events) for longer than this.
  int64_t CommitDueUs() const { return uncommitted_ ? oldest_uncommitted_us_ + kCommitAfterUs : -1; }

  const std::string& run_id() const { return run_id_; }
  RunObserver* observer() const { return observer_; }
  const std::optional<Error>& error() const { return error_; }
  bool ok() const { return !error_; }
  std::vector<Event>& captured() { return captured_; }

  static constexpr int kCommitChunk = 10000;
  static constexpr int64_t kCommitAfterUs = 25'000;  // as the store publishes (docs/store.md)

 private:
  RunObserver::Progress MakeProgress() const;

  RunState& state_;
  std::string run_id_;
  EventSink* sink_;
  RunObserver* observer_;
  int uncommitted_ = 0;
  int64_t oldest_uncommitted_us_ = 0;
  std::optional<Error> error_;
  std::vector<Event> captured_;
};

}  // namespace sluice
