// LocalExecutor with a fake process launcher and an in-memory file system: what it asks the
// launcher to run, and how it reads outputs and stores artifacts when an attempt ends.
#include "exec/local_executor.h"

#include <signal.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/sha256.h"
#include "env/fake_env.h"

#include <functional>

namespace sluice {
namespace local_executor_test {

AttemptRequest Request(std::string task = "train") {
  AttemptRequest r;
  r.run_id = "r1";
  r.task = task;
  r.attempt = 1;
  r.argv = {"python3", "train.py"};
  r.env = {{"MODE", "fast"}};
  return r;
}

WantedParam Param(std::string name, WantedParam::Source src, std::string path = "",
                  std::string json = "") {
  return WantedParam{std::move(name), src, std::move(path), std::move(json)};
}

struct Fixture {
  FakeEnv env;
  FakeProcessLauncher& launcher = env.fake_processes;
  MemFileSystem& fs = env.mem_files;
  LocalExecutor exec{env, launcher, "/state/runs/r1", "/state/artifacts",
                     {"PATH=/usr/bin", "MODE=slow"}};

  Result<AttemptHandle> Start(const AttemptRequest& r) {
    return std::move(exec.Submit(std::span<const AttemptRequest>(&r, 1))[0]);
  }
  // The attempt exits with `code`; its end as the executor reports it.
  AttemptEnd Exit(AttemptHandle h, int code) {
    launcher.Exit(static_cast<int>(h), code);
    PollResult r = exec.Poll(0);
    EXPECT_EQ(r.ends.size(), 1u);
    return r.ends.empty() ? AttemptEnd{} : r.ends[0];
  }
};

const std::string kWork = "/state/runs/r1/tasks/train@1";

TEST(LocalExecutor, StartsInTheAttemptFolderWithLogsDeclaredEnvWinningAndMarks) {
  Fixture f;
  auto pid = f.Start(Request());
  ASSERT_TRUE(pid) << pid.error().message;
  ASSERT_EQ(f.launcher.spawned.size(), 1u);
  const SpawnRequest& sp = f.launcher.spawned[0];
  EXPECT_EQ(sp.cwd, kWork);
  EXPECT_EQ(sp.stdout_path, kWork + ".stdout.log");
  EXPECT_EQ(sp.stderr_path, kWork + ".stderr.log");
  EXPECT_EQ(sp.argv, (std::vector<std::string>{"python3", "train.py"}));
  std::vector<std::string> want = {"PATH=/usr/bin", "MODE=fast", "SLUICE_RUN_ID=r1",
                                   "SLUICE_TASK=train", "SLUICE_ATTEMPT=1",
                                   "SLUICE_ATTEMPT_DIR=" + kWork};
  EXPECT_EQ(sp.env, want);
  // Kept by the run's keeper, which writes its exit beside its logs if sluice dies.
  EXPECT_EQ(sp.exit_file, kWork + ".exit");
  EXPECT_EQ(f.launcher.keeper_dir, "/state/runs/r1/keepers");
  f.exec.Recorded();
  EXPECT_EQ(f.launcher.exits_recorded, 1) << "the keeper is told what was recorded";
}

TEST(LocalExecutor, SpawnFailureIsAnErrorForThatRequestOnly) {
  Fixture f;
  f.launcher.fail_next_spawn = true;
  std::vector<AttemptRequest> batch = {Request("a"), Request("b")};
  auto handles = f.exec.Submit(batch);
  ASSERT_EQ(handles.size(), 2u);
  ASSERT_FALSE(handles[0]);
  EXPECT_NE(handles[0].error().message.find("cannot start python3"), std::string::npos);
  EXPECT_TRUE(handles[1]);
}

TEST(LocalExecutor, CollectsParamsFromFilesJsonPathsAndStdoutAtTheEnd) {
  Fixture f;
  AttemptRequest r = Request();
  r.params = {Param("n", WantedParam::Source::kFile, "n.txt"),
              Param("acc", WantedParam::Source::kFileJson, "m.json", "eval.acc"),
              Param("tag", WantedParam::Source::kFileJson, "m.json", "tags.1"),
              Param("out", WantedParam::Source::kStdoutJson)};
  auto pid = f.Start(r);
  ASSERT_TRUE(pid);
  ASSERT_TRUE(f.fs.WriteFile(kWork + "/n.txt", "42\n"));
  ASSERT_TRUE(f.fs.WriteFile(kWork + "/m.json", R"({"eval": {"acc": 0.93}, "tags": ["a", "b"]})"));
  ASSERT_TRUE(f.fs.WriteFile(kWork + ".stdout.log", "[1, 2]\n"));
  AttemptEnd end = f.Exit(*pid, 0);
  EXPECT_EQ(end.how, AttemptEnd::How::kExited);
  ASSERT_TRUE(end.outputs && *end.outputs) << end.outputs->error().message;
  EXPECT_EQ((*end.outputs)->params.ToJson(), R"({"n":"42","acc":0.93,"tag":"b","out":[1,2]})");
}

TEST(LocalExecutor, MissingOutputOrBadJsonFailsTheAttempt) {
  Fixture f;
  AttemptRequest r = Request();
  r.params = {Param("n", WantedParam::Source::kFile, "n.txt")};
  AttemptEnd end = f.Exit(*f.Start(r), 0);
  ASSERT_TRUE(end.outputs);
  ASSERT_FALSE(*end.outputs);
  EXPECT_NE(end.outputs->error().message.find("did not write \"n.txt\""), std::string::npos);
  r.attempt = 2;
  r.params = {Param("acc", WantedParam::Source::kFileJson, "m.json", "acc")};
  auto pid = f.Start(r);
  ASSERT_TRUE(f.fs.WriteFile("/state/runs/r1/tasks/train@2/m.json", "{not json"));
  end = f.Exit(*pid, 0);
  ASSERT_TRUE(end.outputs && !*end.outputs);
  EXPECT_NE(end.outputs->error().message.find("invalid JSON"), std::string::npos);
}

TEST(LocalExecutor, StoresArtifactsByContentWithDigestAndSizeAndDedupsEqualFiles) {
  Fixture f;
  AttemptRequest a = Request("a"), b = Request("b");
  a.artifacts = b.artifacts = {WantedArtifact{"model", "model.bin"}};
  auto pa = f.Start(a), pb = f.Start(b);
  ASSERT_TRUE(pa && pb);
  ASSERT_TRUE(f.fs.WriteFile("/state/runs/r1/tasks/a@1/model.bin", "weights"));
  ASSERT_TRUE(f.fs.WriteFile("/state/runs/r1/tasks/b@1/model.bin", "weights"));
  AttemptEnd ea = f.Exit(*pa, 0), eb = f.Exit(*pb, 0);
  ASSERT_TRUE(ea.outputs && *ea.outputs && eb.outputs && *eb.outputs);
  ASSERT_EQ((*ea.outputs)->artifacts.size(), 1u);
  const ArtifactRef& ref = (*ea.outputs)->artifacts[0];
  std::string digest = Sha256Hex("weights");
  EXPECT_EQ(ref.name, "model");
  EXPECT_EQ(ref.digest, digest);
  EXPECT_EQ(ref.size, 7);
  EXPECT_EQ(ref.path, "/state/artifacts/sha256/" + digest.substr(0, 2) + "/" + digest + "/model.bin");
  EXPECT_EQ((*eb.outputs)->artifacts[0].path, ref.path);
  EXPECT_EQ(*f.fs.ReadFile(ref.path), "weights");
}

TEST(LocalExecutor, MissingArtifactFailsTheAttempt) {
  Fixture f;
  AttemptRequest r = Request();
  r.artifacts = {WantedArtifact{"model", "model.bin"}};
  AttemptEnd end = f.Exit(*f.Start(r), 0);
  ASSERT_TRUE(end.outputs && !*end.outputs);
  EXPECT_NE(end.outputs->error().message.find("did not create \"model.bin\""), std::string::npos);
}

// A cancelled attempt hands back no outputs, whatever it exits with. (Whatever an ended attempt
// left in its process group was killed by the launcher before its end was reported, while the
// attempt's zombie still held the group's id: the executor signals it no more.)
TEST(LocalExecutor, CancelTerminatesOrKillsTheGroupAndCollectsNothing) {
  Fixture f;
  AttemptRequest r = Request();
  r.params = {Param("n", WantedParam::Source::kFile, "n.txt")};
  auto pid = f.Start(r);
  f.exec.Cancel(*pid, StopMode::kTerminate);
  f.exec.Cancel(*pid, StopMode::kKill);
  AttemptEnd end = f.Exit(*pid, 0);
  EXPECT_FALSE(end.outputs) << "cancelled: nothing collected";
  std::vector<std::pair<int, int>> want = {{static_cast<int>(*pid), SIGTERM},
                                           {static_cast<int>(*pid), SIGKILL}};
  EXPECT_EQ(f.launcher.signals, want) << "TERM, KILL; the launcher killed the leftovers";
  f.exec.Cancel(*pid, StopMode::kKill);
  EXPECT_EQ(f.launcher.signals.size(), 2u) << "an ended attempt is not signalled again";
  r.attempt = 2;
  r.masked = {"s3cret"};
  auto secret = f.Start(r);
  ASSERT_TRUE(secret);
  EXPECT_TRUE(f.launcher.spawned.back().exit_file.empty()) << "not kept: its output is masked here";
}

// --- After a restart -----------------------------------------------------------------------

const std::string kKeepers = "/state/runs/r1/keepers";

// The open attempt of a dead sluice, wanting the param `n` from n.txt.
OpenAttempt Open(int attempt = 1) {
  OpenAttempt a{"r1", "train", attempt, 4300, {}, {}};
  a.params = {Param("n", WantedParam::Source::kFile, "n.txt")};
  return a;
}

// A keeper of process 77 (pid 900) that is alive and owes `owed` ("PID EXIT_FILE" lines).
void LiveKeeper(Fixture& f, const std::string& owed) {
  ASSERT_TRUE(f.fs.WriteFile(kKeepers + "/900.lock", "77"));
  f.env.HoldLock(kKeepers + "/900.lock", "77");
  ASSERT_TRUE(f.fs.WriteFile(kKeepers + "/900.owed", owed));
}

// What a dead sluice left of an attempt that no keeper holds is found by the attempt's marks and
// killed, so a retry never overlaps it; the attempt itself is lost.
TEST(LocalExecutor, AnOpenAttemptNoKeeperHoldsIsKilledAndLost) {
  Fixture f;
  f.env.process_groups[4300] = {"SLUICE_RUN_ID=r1", "SLUICE_TASK=train", "SLUICE_ATTEMPT=2"};
  f.env.process_groups[4400] = {"SLUICE_RUN_ID=r1", "SLUICE_TASK=train", "SLUICE_ATTEMPT=1"};
  // A keeper that ended (its lock free) left its files: they go, and it owes nothing.
  ASSERT_TRUE(f.fs.WriteFile(kKeepers + "/800.lock", "77"));
  ASSERT_TRUE(f.fs.WriteFile(kKeepers + "/800.owed", "4300 /state/runs/r1/tasks/train@2.exit\n"));
  std::vector<OpenAttempt> open = {Open(2)};
  auto adopted = f.exec.Adopt(open);
  ASSERT_EQ(adopted.size(), 1u);
  EXPECT_EQ(adopted[0].verdict, Adoption::Verdict::kLost);
  EXPECT_NE(adopted[0].end.message.find("sluice stopped while it ran"), std::string::npos);
  std::vector<std::pair<int, int>> want = {{4300, SIGKILL}};
  EXPECT_EQ(f.launcher.signals, want);
  EXPECT_FALSE(f.fs.Stat(kKeepers + "/800.lock").exists);
  EXPECT_FALSE(f.fs.Stat(kKeepers + "/800.owed").exists);
}

// An attempt that ended while sluice was down: its keeper wrote its exit, and it is recorded
// with its real status and the outputs it left, as if this process had started it.
TEST(LocalExecutor, AnAttemptThatEndedWhileSluiceWasDownHasItsRealStatusAndOutputs) {
  Fixture f;
  ASSERT_TRUE(f.fs.WriteFile(kWork + ".exit", R"({"pid":4300,"exit_code":0,"signal":0})"));
  ASSERT_TRUE(f.fs.WriteFile(kWork + "/n.txt", "42\n"));
  ASSERT_TRUE(f.fs.WriteFile("/state/runs/r1/tasks/train@2.exit", R"({"pid":4301,"exit_code":3,"signal":0})"));
  ASSERT_TRUE(f.fs.WriteFile("/state/runs/r1/tasks/train@3.exit", R"({"pid":4302,"exit_code":-1,"signal":9})"));
  std::vector<OpenAttempt> open = {Open(1), Open(2), Open(3)};
  auto adopted = f.exec.Adopt(open);
  ASSERT_EQ(adopted.size(), 3u);
  EXPECT_EQ(adopted[0].verdict, Adoption::Verdict::kEnded);
  EXPECT_EQ(adopted[0].end.how, AttemptEnd::How::kExited);
  EXPECT_EQ(adopted[0].end.exit_code, 0);
  ASSERT_TRUE(adopted[0].end.outputs && *adopted[0].end.outputs);
  EXPECT_EQ((*adopted[0].end.outputs)->params.ToJson(), R"({"n":"42"})");
  EXPECT_EQ(adopted[1].verdict, Adoption::Verdict::kEnded);
  EXPECT_EQ(adopted[1].end.exit_code, 3);
  EXPECT_FALSE(adopted[1].end.outputs);
  EXPECT_EQ(adopted[2].end.how, AttemptEnd::How::kSignaled);
  EXPECT_EQ(adopted[2].end.signal, 9);
  EXPECT_TRUE(f.launcher.signals.empty()) << "nothing is killed";
}

// An attempt a live keeper still runs is adopted: it keeps running, and its end comes by Poll
// once its keeper writes it, with its outputs.
TEST(LocalExecutor, AnAttemptALiveKeeperStillRunsIsAdoptedAndEndsByPoll) {
  Fixture f;
  LiveKeeper(f, "4300 " + kWork + ".exit\n");
  std::vector<OpenAttempt> open = {Open()};
  auto adopted = f.exec.Adopt(open);
  ASSERT_EQ(adopted.size(), 1u);
  ASSERT_EQ(adopted[0].verdict, Adoption::Verdict::kAdopted);
  const AttemptHandle h = adopted[0].handle;
  EXPECT_NE(h, 4300) << "a handle of its own: its pid may be reused by an attempt started here";
  EXPECT_TRUE(f.exec.Poll(0).ends.empty()) << "still running";
  EXPECT_TRUE(f.launcher.signals.empty());
  ASSERT_TRUE(f.fs.WriteFile(kWork + "/n.txt", "7\n"));
  ASSERT_TRUE(f.fs.WriteFile(kWork + ".exit", R"({"pid":4300,"exit_code":0,"signal":0})"));
  PollResult r = f.exec.Poll(0);
  ASSERT_EQ(r.ends.size(), 1u);
  EXPECT_EQ(r.ends[0].handle, h);
  ASSERT_TRUE(r.ends[0].outputs && *r.ends[0].outputs);
  EXPECT_EQ((*r.ends[0].outputs)->params.ToJson(), R"({"n":"7"})");
  EXPECT_TRUE(f.exec.Poll(0).ends.empty()) << "reported once";
}

// Cancelling an adopted attempt signals its process group (its pid still names it: its keeper
// reaps it only after writing its exit); its end then carries no outputs.
TEST(LocalExecutor, AnAdoptedAttemptCanBeCancelled) {
  Fixture f;
  LiveKeeper(f, "4300 " + kWork + ".exit\n");
  std::vector<OpenAttempt> open = {Open()};
  const AttemptHandle h = f.exec.Adopt(open)[0].handle;
  f.exec.Cancel(h, StopMode::kTerminate);
  std::vector<std::pair<int, int>> want = {{4300, SIGTERM}};
  EXPECT_EQ(f.launcher.signals, want);
  ASSERT_TRUE(f.fs.WriteFile(kWork + "/n.txt", "7\n"));
  ASSERT_TRUE(f.fs.WriteFile(kWork + ".exit", R"({"pid":4300,"exit_code":0,"signal":0})"));
  PollResult r = f.exec.Poll(0);
  ASSERT_EQ(r.ends.size(), 1u);
  EXPECT_FALSE(r.ends[0].outputs);
}

// Only an attempt whose end truly cannot be known is lost: an adopted attempt whose keeper died
// without writing its exit (killed itself). (A keeper that dies while this process runs loses
// nothing: this process is its attempts' parent.)
TEST(LocalExecutor, AnAttemptWhoseKeeperDiedWithoutItsExitIsLost) {
  Fixture f;
  LiveKeeper(f, "4300 " + kWork + ".exit\n");
  std::vector<OpenAttempt> open = {Open()};
  const AttemptHandle h = f.exec.Adopt(open)[0].handle;
  f.env.ReleaseLock(kKeepers + "/900.lock");
  f.env.process_groups[4300] = {"SLUICE_RUN_ID=r1", "SLUICE_TASK=train", "SLUICE_ATTEMPT=1"};
  PollResult r = f.exec.Poll(0);
  ASSERT_EQ(r.ends.size(), 1u);
  EXPECT_EQ(r.ends[0].handle, h);
  EXPECT_EQ(r.ends[0].how, AttemptEnd::How::kLost);
  EXPECT_NE(r.ends[0].message.find("its keeper process died"), std::string::npos);
  std::vector<std::pair<int, int>> want = {{4300, SIGKILL}};
  EXPECT_EQ(f.launcher.signals, want) << "what is left of it is killed";
}

// A live keeper that has not listed what it owes yet (its sluice died a moment ago) is waited
// for, a while; this process's own keeper is not.
TEST(LocalExecutor, AdoptWaitsForALiveKeeperToListWhatItOwes) {
  Fixture f;
  ASSERT_TRUE(f.fs.WriteFile(kKeepers + "/900.lock", "77"));
  f.env.HoldLock(kKeepers + "/900.lock", "77");
  ASSERT_TRUE(f.fs.WriteFile(kKeepers + "/901.lock", "4242"));
  f.env.HoldLock(kKeepers + "/901.lock", std::to_string(f.env.pid));
  const int64_t t0 = f.env.fake_clock.NowUs();
  std::vector<OpenAttempt> open = {Open()};
  EXPECT_EQ(f.exec.Adopt(open)[0].verdict, Adoption::Verdict::kLost);
  const int64_t waited = f.env.fake_clock.NowUs() - t0;
  EXPECT_GE(waited, 5'000'000);
  EXPECT_LT(waited, 5'100'000) << "only the other process's keeper is waited for";
}

// With real processes, folders and logs: an attempt that left its folder or a log empty hands
// it to the next attempt (renamed); what holds something stays; empty logs left at the end are
// removed.
TEST(LocalExecutor, EmptyFoldersAndLogsAreRenamedForTheNextAttempt) {
  char tmpl[] = "/tmp/sluice-exec-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string root = tmpl;
  auto env = NewPosixEnv();
  FileSystem* fs = &env->files();
  AttemptPaths a, b, c, d;
  {
    LocalExecutor exec(*env, env->processes(), root + "/run", root + "/artifacts", {"PATH=/usr/bin:/bin"});
    auto run = [&](const std::string& task, std::vector<std::string> argv) {
      AttemptRequest r;
      r.run_id = "r1";
      r.task = task;
      r.attempt = 1;
      r.argv = std::move(argv);
      auto pid = std::move(exec.Submit(std::span<const AttemptRequest>(&r, 1))[0]);
      EXPECT_TRUE(pid) << (pid ? "" : pid.error().message);
      PollResult w;
      while (w.ends.empty()) w = exec.Poll(-1);
      EXPECT_EQ(w.ends[0].handle, *pid);
      EXPECT_EQ(w.ends[0].exit_code, 0);
      return AttemptPathsFor(root + "/run", task, 1);
    };
    a = run("a", {"true"});
    b = run("b", {"sh", "-c", "echo x > kept; echo to-stdout"});
    EXPECT_FALSE(fs->Stat(a.work).exists) << "a's empty folder became b's";
    EXPECT_FALSE(fs->Stat(a.stdout_log).exists) << "and its empty logs b's";
    c = run("c", {"sh", "-c", "echo to-stderr >&2"});
    d = run("d", {"true"});
    EXPECT_TRUE(fs->Stat(d.stdout_log).exists) << "running or just ended: not removed yet";
  }
  EXPECT_TRUE(fs->Stat(b.work + "/kept").exists) << "b wrote something: its folder stays";
  EXPECT_TRUE(fs->Stat(d.work).is_dir);
  EXPECT_EQ(*fs->ReadFile(b.stdout_log), "to-stdout\n");
  EXPECT_FALSE(fs->Stat(b.stderr_log).exists);
  EXPECT_EQ(*fs->ReadFile(c.stderr_log), "to-stderr\n");
  EXPECT_FALSE(fs->Stat(c.stdout_log).exists);
  EXPECT_FALSE(fs->Stat(d.stdout_log).exists) << "empty at the end: removed";
  EXPECT_FALSE(fs->Stat(d.stderr_log).exists);
  ASSERT_TRUE(fs->RemoveAll(root));
}

// A program that cannot start is an error naming why, as execvp would say it, and leaves no
// process and no log behind.
TEST(LocalExecutor, AProgramThatCannotStartSaysWhy) {
  char tmpl[] = "/tmp/sluice-exec-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string root = tmpl;
  auto env = NewPosixEnv();
  FileSystem* fs = &env->files();
  ASSERT_TRUE(fs->WriteFile(root + "/not-executable", "#!/bin/sh\n"));
  std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"sluice-no-such-program"}, "cannot start sluice-no-such-program: No such file or directory"},
      {{root + "/not-executable"}, "Permission denied"},
      {{root + "/missing"}, "No such file or directory"}};
  {
    LocalExecutor exec(*env, env->processes(), root + "/run", root + "/artifacts", {"PATH=/usr/bin:/bin"});
    int n = 0;
    for (const auto& [argv, want] : cases) {
      AttemptRequest r;
      r.task = "t" + std::to_string(++n);
      r.attempt = 1;
      r.argv = argv;
      auto pid = std::move(exec.Submit(std::span<const AttemptRequest>(&r, 1))[0]);
      ASSERT_FALSE(pid);
      EXPECT_NE(pid.error().message.find(want), std::string::npos) << pid.error().message;
    }
    EXPECT_TRUE(exec.Poll(0).ends.empty()) << "the failed children were reaped at once";
  }
  EXPECT_FALSE(fs->Stat(root + "/run/tasks/t1@1.stdout.log").exists);
  ASSERT_TRUE(fs->RemoveAll(root));
}

// Files a task controls, on a real file system: what it leaves in its folder decides nothing
// about what Sluice reads. Each case is one attempt whose outputs must fail with a message that
// says why (an outputs-error), never a read of what a link points to, a hang or a crash.
class LocalExecutorOnDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-exec-disk-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    exec_ = std::make_unique<LocalExecutor>(env_, env_.fake_processes, root_ + "/run",
                                            root_ + "/artifacts", std::vector<std::string>{});
  }
  void TearDown() override {
    exec_.reset();
    ASSERT_TRUE(files_->RemoveAll(root_));
  }

  // Runs one attempt of `task` that wants `params` and `artifacts`; `prepare` fills its folder
  // (it gets the folder's path) before it exits 0. Returns what was collected.
  Result<AttemptOutputs> Collect(const std::string& task, std::vector<WantedParam> params,
                                 std::vector<WantedArtifact> artifacts,
                                 const std::function<void(const std::string&)>& prepare) {
    AttemptRequest r = Request(task);
    r.params = std::move(params);
    r.artifacts = std::move(artifacts);
    auto pid = exec_->Submit(std::span<const AttemptRequest>(&r, 1))[0];
    EXPECT_TRUE(pid);
    prepare(root_ + "/run/tasks/" + task + "@1");
    env_.fake_processes.Exit(static_cast<int>(*pid), 0);
    PollResult p = exec_->Poll(0);
    EXPECT_EQ(p.ends.size(), 1u);
    if (p.ends.empty() || !p.ends[0].outputs) return Fail(ErrorCode::kInternal, "nothing collected");
    return std::move(*p.ends[0].outputs);
  }

  std::string root_;
  std::unique_ptr<FileSystem> files_ = NewPosixFileSystem();
  FakeEnv env_{*files_};
  std::unique_ptr<LocalExecutor> exec_;
};

void ExpectFails(const Result<AttemptOutputs>& got, const std::string& why) {
  ASSERT_FALSE(got) << "collected; wanted an error holding: " << why;
  EXPECT_EQ(got.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(got.error().message.find(why), std::string::npos) << got.error().message;
}

TEST_F(LocalExecutorOnDisk, OutputsFollowNoLinkOutOfTheAttemptFolderAndReadOnlyRegularFiles) {
  namespace fs = std::filesystem;
  const std::string secret = root_ + "/secret";
  ASSERT_TRUE(files_->WriteFile(secret, "the secret"));
  auto file = [](std::string name) { return Param("x", WantedParam::Source::kFile, std::move(name)); };
  ExpectFails(Collect("leak", {file("leak")}, {}, [&](const std::string& w) {
                fs::create_symlink(secret, w + "/leak");
              }),
              "\"leak\" leads out of the task's folder");
  ExpectFails(Collect("up", {file("up")}, {}, [&](const std::string& w) {
                fs::create_symlink("../../../secret", w + "/up");
              }),
              "leads out of the task's folder");
  ExpectFails(Collect("zero", {file("zero")}, {}, [&](const std::string& w) {
                fs::create_symlink("/dev/zero", w + "/zero");
              }),
              "leads out of the task's folder");
  ExpectFails(Collect("dir", {file("d")}, {}, [&](const std::string& w) { fs::create_directory(w + "/d"); }),
              "it is a directory, not a regular file");
  ExpectFails(Collect("fifo", {file("p")}, {}, [&](const std::string& w) {
                ASSERT_EQ(mkfifo((w + "/p").c_str(), 0600), 0);
              }),
              "it is a FIFO, not a regular file");
  ExpectFails(Collect("big", {file("big")}, {}, [&](const std::string& w) {
                std::ofstream(w + "/big").put('x').seekp((1 << 20) + 1) << 'y';
              }),
              "output params are limited to 1 MiB");
  // A link that stays in the folder is followed where openat2 resolves it beneath the folder.
  auto inside = Collect("inside", {file("link")}, {}, [&](const std::string& w) {
    std::ofstream(w + "/real") << "42\n";
    fs::create_symlink("real", w + "/link");
  });
  ASSERT_TRUE(inside || inside.error().message.find("symbolic link") != std::string::npos)
      << inside.error().message;
  if (inside) {
    EXPECT_EQ(inside->params.ToJson(), R"({"x":"42"})");
  }
}

TEST_F(LocalExecutorOnDisk, StdoutIsReadBoundedAndNeverThroughALink) {
  namespace fs = std::filesystem;
  auto out = Param("x", WantedParam::Source::kStdoutText);
  ExpectFails(Collect("huge", {out}, {}, [&](const std::string& w) {
                std::ofstream(w + ".stdout.log").seekp(int64_t{1} << 30) << 'y';  // 1 GiB, sparse
              }),
              "stdout: it is 1073741825 bytes, more than the 1048576 allowed");
  ExpectFails(Collect("swapped", {out}, {}, [&](const std::string& w) {
                fs::remove(w + ".stdout.log");
                fs::create_symlink("/dev/zero", w + ".stdout.log");
              }),
              "leads out of the task's folder");
}

TEST_F(LocalExecutorOnDisk, ArtifactsCopyNoLinkAndNeverWidenTheSourcesMode) {
  namespace fs = std::filesystem;
  ExpectFails(Collect("root", {}, {WantedArtifact{"r", "r"}}, [&](const std::string& w) {
                fs::create_symlink("/", w + "/r");
              }),
              "artifact \"r\": \"r\" leads out of the task's folder");
  ExpectFails(Collect("inner", {}, {WantedArtifact{"d", "d"}}, [&](const std::string& w) {
                fs::create_directory(w + "/d");
                std::ofstream(w + "/d/f") << "data";
                fs::create_symlink("/etc/passwd", w + "/d/s");
              }),
              "d/s is a symbolic link; artifacts hold regular files and folders only");
  ExpectFails(Collect("fifo", {}, {WantedArtifact{"d", "d"}}, [&](const std::string& w) {
                fs::create_directory(w + "/d");
                ASSERT_EQ(mkfifo((w + "/d/p").c_str(), 0600), 0);
              }),
              "d/p is a FIFO");
  auto key = Collect("key", {}, {WantedArtifact{"k", "keys"}}, [&](const std::string& w) {
    fs::create_directory(w + "/keys");
    std::ofstream(w + "/keys/id") << "private";
    fs::permissions(w + "/keys/id", fs::perms::owner_read | fs::perms::owner_write);
    std::ofstream(w + "/keys/pub") << "public";
    fs::permissions(w + "/keys/pub", fs::perms::owner_read | fs::perms::owner_write |
                                         fs::perms::group_read | fs::perms::others_read);
  });
  ASSERT_TRUE(key) << key.error().message;
  const std::string copy = key->artifacts[0].path;
  EXPECT_EQ(key->artifacts[0].size, 13);
  EXPECT_EQ(key->artifacts[0].digest,
            Sha256Hex("tree\nf " + Sha256Hex("private") + " id\nf " + Sha256Hex("public") + " pub\n"));
  struct stat st;
  ASSERT_EQ(stat((copy + "/id").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0400u) << "a 0600 key stays its owner's, read-only";
  ASSERT_EQ(stat((copy + "/pub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0222, 0u) << "read-only";
}

}  // namespace local_executor_test
}  // namespace sluice
