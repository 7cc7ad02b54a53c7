// The progress printer's batching: a loop turn's lines go out in one write when the engine
// waits, a turn that finishes many tasks does not hold them all, and nothing is shown before the
// commit that holds it succeeded.
#include "cli/progress.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>

#include "env/fake_env.h"

namespace sluice {
namespace progress_test {

std::string Written(FILE* f) {
  std::fflush(f);
  std::string out(static_cast<size_t>(std::ftell(f)), '\0');
  std::rewind(f);
  size_t n = std::fread(out.data(), 1, out.size(), f);
  out.resize(n);
  std::fseek(f, 0, SEEK_END);
  return out;
}

Event Finished(const std::string& task) {
  Event e;
  e.kind = EventKind::kTaskFinished;
  e.task = task;
  e.status = "succeeded";
  return e;
}

TEST(ProgressPrinter, ATurnsLinesGoOutTogetherWhenTheEngineWaits) {
  // Declared before the printer, so closed after it (its destructor writes what is left).
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::tmpfile(), &std::fclose);
  FILE* f = file.get();
  ASSERT_NE(f, nullptr);
  FakeClock clock;
  ProgressPrinter p(f, /*tty=*/false, /*color=*/false, clock);
  p.OnEvent(Finished("a"), {});
  p.OnEvent(Finished("b"), {});
  p.Committed();
  EXPECT_EQ(Written(f), "");
  p.Flush();
  EXPECT_EQ(Written(f), "succeeded a\nsucceeded b\n");
}

TEST(ProgressPrinter, ALongTurnIsWrittenAsItGoes) {
  // Declared before the printer, so closed after it (its destructor writes what is left).
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::tmpfile(), &std::fclose);
  FILE* f = file.get();
  ASSERT_NE(f, nullptr);
  FakeClock clock;
  ProgressPrinter p(f, /*tty=*/false, /*color=*/false, clock);
  const std::string line = "succeeded t000000\n";
  const int n = 20000;  // ~360 KB of lines in one turn
  for (int i = 0; i < n; ++i) {
    p.OnEvent(Finished("t000000"), {});
    p.Committed();
  }
  size_t written = Written(f).size();
  EXPECT_GT(written, 0u);
  EXPECT_LE(n * line.size() - written, 64u * 1024) << "more than 64 KB held back";
  p.Finish();
  EXPECT_EQ(Written(f).size(), n * line.size());
}

// A commit that fails (a full disk) stops the run: the lines of its events were never true and
// are never shown, at a flush or at the end.
TEST(ProgressPrinter, LinesOfEventsNeverCommittedAreNeverShown) {
  // Declared before the printer, so closed after it (its destructor writes what is left).
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::tmpfile(), &std::fclose);
  FILE* f = file.get();
  ASSERT_NE(f, nullptr);
  FakeClock clock;
  {
    ProgressPrinter p(f, /*tty=*/false, /*color=*/false, clock);
    p.OnEvent(Finished("a"), {});
    p.Committed();
    Event failed = Finished("t227");
    failed.status = "failed";
    failed.message = "exit 1";
    p.OnEvent(failed, {});
    p.Flush();
    EXPECT_EQ(Written(f), "succeeded a\n");
    p.Finish();
  }
  EXPECT_EQ(Written(f), "succeeded a\n");
}

TEST(ProgressPrinter, TheStatusLineOnATerminalShowsTheTimeSinceTheRunBegan) {
  // Declared before the printer, so closed after it (its destructor writes what is left).
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::tmpfile(), &std::fclose);
  FILE* f = file.get();
  ASSERT_NE(f, nullptr);
  FakeClock clock;
  ProgressPrinter p(f, /*tty=*/true, /*color=*/false, clock);
  clock.Advance(65'000'000);
  Event spawned;
  spawned.kind = EventKind::kAttemptSpawned;
  spawned.task = "train";
  spawned.attempt = 1;
  RunObserver::Progress progress;
  progress.total = 4;
  progress.finished = 1;
  progress.running = {"train"};
  p.OnEvent(spawned, progress);
  p.Flush();
  EXPECT_EQ(Written(f), "\r[1/4 1:05] running: train\x1b[K");
}

// Only a terminal's status line lists what runs: the recorder lists it (a walk of every open
// instance per event) only for an observer that shows it.
TEST(ProgressPrinter, AsksForTheRunningListOnlyWhenItDrawsAStatusLine) {
  FakeClock clock;
  EXPECT_TRUE(ProgressPrinter(stderr, /*tty=*/true, /*color=*/false, clock).ShowsRunning());
  EXPECT_FALSE(ProgressPrinter(stderr, /*tty=*/false, /*color=*/false, clock).ShowsRunning());
}

}  // namespace progress_test
}  // namespace sluice
