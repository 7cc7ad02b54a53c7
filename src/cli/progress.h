// Progress display for a run: on a terminal a status line like ninja's
// ("[12/40 1:05] running: train, eval", with the minutes and seconds since it began) plus a line per notable event; on a pipe one plain line per
// event. Colors only on a terminal and only when NO_COLOR is unset.
#pragma once

#include <cstdio>
#include <string>

#include "engine/interfaces.h"

namespace sluice {

class ProgressPrinter : public RunObserver {
 public:
  ProgressPrinter(FILE* out, bool tty, bool color, Clock& clock);
  ~ProgressPrinter() override;
  // Buffers the event's line; it is shown once its commit succeeded (Committed), never when
  // the run stops before that (a full disk): the output shows only what the store holds.
  void OnEvent(const Event& e, const Progress& p) override;
  bool ShowsRunning() const override { return tty_; }  // only the status line shows it
  void Committed() override;
  // Writes the committed lines of this loop turn in one write (the engine calls it before it
  // waits).
  void Flush() override;
  // Drops what was never committed and clears the status line (before the final summary).
  void Finish();

 private:
  void Line(const std::string& text);
  void StatusLine(const Progress& p);

  FILE* out_;
  bool tty_;
  bool color_;
  Clock& clock_;
  bool status_shown_ = false;
  // Lines of the current loop turn: a task's end and the next one's start cost one write, made
  // after the spawn rather than between the two.
  std::string pending_;
  size_t committed_ = 0;  // pending_[0, committed_) is committed and may be written
  static constexpr size_t kFlushBytes = 64 * 1024;
  int64_t last_status_us_ = 0;
  int64_t start_us_;  // when the command began: the status line shows the time since
};

}  // namespace sluice
