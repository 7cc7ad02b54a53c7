#include "cli/progress.h"

#include <fmt/format.h>

#include "common/strings.h"
#include "common/value.h"

namespace sluice {

ProgressPrinter::ProgressPrinter(FILE* out, bool tty, bool color, Clock& clock)
    : out_(out), tty_(tty), color_(color), clock_(clock), start_us_(clock.NowUs()) {}

ProgressPrinter::~ProgressPrinter() { Finish(); }

void ProgressPrinter::Flush() {
  if (committed_ == 0) return;
  std::fwrite(pending_.data(), 1, committed_, out_);  // one write on an unbuffered stream
  std::fflush(out_);
  pending_.erase(0, committed_);
  committed_ = 0;
}

void ProgressPrinter::Committed() {
  committed_ = pending_.size();
  // A turn can finish many tasks (builtin bodies run in the loop): bound the buffer.
  if (committed_ >= kFlushBytes) Flush();
}

void ProgressPrinter::Finish() {
  pending_.resize(committed_);
  if (tty_ && status_shown_) {
    pending_ += "\r\x1b[K";
    status_shown_ = false;
  }
  committed_ = pending_.size();
  Flush();
  std::fflush(out_);
}

void ProgressPrinter::Line(const std::string& text) {
  if (tty_ && status_shown_) pending_ += "\r\x1b[K";
  status_shown_ = false;
  pending_ += text;
  pending_ += '\n';
}

void ProgressPrinter::StatusLine(const Progress& p) {
  std::string running = p.running.empty() ? "" : "running: " + Join(p.running, ", ");
  if (running.size() > 100) running = running.substr(0, 97) + "...";
  const int64_t elapsed_s = (clock_.NowUs() - start_us_) / 1'000'000;
  pending_ += fmt::format("\r[{}/{} {}:{:02}] {}\x1b[K", p.finished, p.total, elapsed_s / 60,
                          elapsed_s % 60, running);
  status_shown_ = true;
}

namespace {

// A forEach task's items, or a round of a DAG template call's tasks.
std::string ExpandedLine(const Event& e) {
  auto items = ParseJson(e.data);
  if (items && items->is_map()) {
    return fmt::format("started   {} (template, round {})", e.task, e.attempt);
  }
  return fmt::format("expanded  {} over {} items", e.task,
                     items && items->is_list() ? items->as_list().size() : 0);
}

}  // namespace

void ProgressPrinter::OnEvent(const Event& e, const Progress& p) {
  auto paint = [&](const char* code, const std::string& s) {
    return color_ ? fmt::format("\x1b[{}m{}\x1b[0m", code, s) : s;
  };
  // A spawn is a fact rather than a decision, and its attempt.started was committed before the
  // process was started: shown at once (with the status line) when nothing uncommitted is
  // ahead of it, so that a long task's start is not shown only at its end.
  const bool caught_up = committed_ == pending_.size();
  std::string line;
  switch (e.kind) {
    case EventKind::kAttemptSpawned:
      if (!tty_) line = fmt::format("started   {} (attempt {})", e.task, e.attempt);
      break;
    case EventKind::kAttemptFinished:
      if (e.status == "failed" && e.error_class != "cancelled") {
        line = paint("33", fmt::format("attempt   {} #{} failed: {}", e.task, e.attempt, e.message));
      }
      break;
    case EventKind::kRetryScheduled:
      line = fmt::format("retry     {} as attempt {} in {}", e.task, e.attempt,
                         FormatDurationMs(std::max<int64_t>(0, (e.due_us - e.time_us) / 1000)));
      break;
    case EventKind::kTaskSkipped:
      line = paint("2", fmt::format("skipped   {}: {}", e.task, e.message));
      break;
    case EventKind::kTaskExpanded:
      line = ExpandedLine(e);
      break;
    case EventKind::kTaskFinished:
      if (e.status == "succeeded") {
        if (!tty_) line = paint("32", fmt::format("succeeded {}", e.task));
      } else if (e.status == "cached") {
        line = paint("36", fmt::format("cached    {}", e.task));
      } else if (e.status == "recovered") {
        line = paint("33", fmt::format("recovered {}: {}", e.task, e.message));
      } else if (e.status == "failed") {
        line = paint("31", fmt::format("failed    {}: {}", e.task, e.message));
      } else if (e.status == "upstream-failed") {
        line = paint("31", fmt::format("blocked   {}: {}", e.task, e.message));
      } else if (e.status == "cancelled" && !e.message.empty() &&
                 e.message != "the run was cancelled") {
        line = paint("33", fmt::format("cancelled {}: {}", e.task, e.message));
      } else if (!tty_) {
        line = fmt::format("{:<9} {}", e.status, e.task);
      }
      break;
    case EventKind::kHandlerStarted: {
      auto d = ParseJson(e.data);
      const Value* err = d && d->is_map() ? d->Find("error") : nullptr;
      const Value* msg = err && err->is_map() ? err->Find("message") : nullptr;
      std::string role = e.task.substr(e.task.rfind('.') + 1);
      if (role == "compensate") break;  // the phase line says it
      line = paint("33", fmt::format("{:<9} {} after: {}", role.starts_with("catch") ? "catch" : role,
                                     e.task.substr(0, e.task.rfind('.')),
                                     msg && msg->is_string() ? msg->as_string() : ""));
      break;
    }
    case EventKind::kApprovalRequested:
      line = paint("35", fmt::format("awaiting  {}: approval{}{} (sluice approve {} {})", e.task,
                                     e.message.empty() ? "" : ": ", e.message, e.run_id, e.task));
      break;
    case EventKind::kApprovalDecided:
      line = paint(e.status == "approved" ? "32" : "31", fmt::format("{:<9} {}: {}", e.status, e.task, e.message));
      break;
    case EventKind::kRunRetried:
      line = paint("35", e.message);
      break;
    case EventKind::kRunPhase:
      line = paint("35", e.status == "compensating"
                             ? "compensating: undoing completed tasks in reverse order"
                             : "finally: running exit handlers");
      break;
    default: break;
  }
  if (!line.empty()) Line(line);
  if (tty_) {
    int64_t now = clock_.NowUs();
    if (now - last_status_us_ > 50'000 || e.kind == EventKind::kAttemptSpawned) {
      last_status_us_ = now;
      StatusLine(p);
    }
  }
  if (caught_up && e.kind == EventKind::kAttemptSpawned) committed_ = pending_.size();
}

}  // namespace sluice
