#include "engine/recorder.h"

#include <algorithm>

namespace sluice {

Recorder::Recorder(RunState& state, std::string run_id, EventSink* sink, RunObserver* observer)
    : state_(state), run_id_(std::move(run_id)), sink_(sink), observer_(observer) {}

void Recorder::Record(Event e, int64_t now_us, int instance, const Value* data) {
  if (error_) return;
  e.run_id = run_id_;
  if (e.time_us == 0) e.time_us = now_us;
  if (auto st = state_.Apply(e, instance, data); !st) {
    error_ = st.error();
    return;
  }
  if (observer_) observer_->OnEvent(e, MakeProgress());
  if (!sink_) {
    captured_.push_back(std::move(e));
    return;
  }
  if (uncommitted_ == 0) oldest_uncommitted_us_ = e.time_us;
  sink_->Append(e);
  if (++uncommitted_ >= kCommitChunk) (void)Commit();
}

Status Recorder::Commit() {
  if (error_) return std::unexpected(*error_);
  uncommitted_ = 0;
  if (sink_) {
    if (auto st = sink_->Commit(); !st) {
      error_ = st.error();
      return st;
    }
  }
  if (observer_) observer_->Committed();  // only now may the observer show them
  return {};
}

Status Recorder::PublishIfDue(int64_t now_us) {
  if (error_) return std::unexpected(*error_);
  if (int64_t due = PublishDueUs(); due < 0 || now_us < due) return {};
  if (auto st = sink_->Publish(); !st) {
    error_ = st.error();
    return st;
  }
  return {};
}

// What the observer shows: instances known, settled, and those whose process runs.
RunObserver::Progress Recorder::MakeProgress() const {
  RunObserver::Progress p;
  p.total = state_.size();
  p.finished = state_.finished_count();
  if (!observer_->ShowsRunning()) return p;
  for (int i : state_.open()) {
    if (state_.at(i).handle) p.running.push_back(state_.at(i).name);
  }
  std::sort(p.running.begin(), p.running.end());
  return p;
}

}  // namespace sluice
