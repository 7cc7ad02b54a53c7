// LocalExecutor with a fake process launcher and an in-memory file system: what it asks the
// launcher to run, and how it reads outputs and stores artifacts afterwards.
#include "exec/local_executor.h"

#include <gtest/gtest.h>

#include "common/sha256.h"
#include "env/fake_env.h"

namespace sluice {
namespace {

AttemptRequest Request(std::string task = "train") {
  AttemptRequest r;
  r.task = task;
  r.attempt = 1;
  r.argv = {"python3", "train.py"};
  r.env = {{"MODE", "fast"}, {"SLUICE_TASK", task}};
  r.paths = AttemptPathsFor("/state/runs/r1", task, 1);
  return r;
}

OutputParamDecl Param(std::string name, OutputSource src, std::string path = "",
                      std::string json = "") {
  OutputParamDecl d;
  d.name = std::move(name);
  d.source = src;
  d.path = std::move(path);
  d.json_path = std::move(json);
  return d;
}

struct Fixture {
  FakeProcessLauncher launcher;
  MemFileSystem fs;
  LocalExecutor exec{launcher, fs, "/state/artifacts", {"PATH=/usr/bin", "MODE=slow"}};
};

TEST(LocalExecutor, StartsInTheAttemptFolderWithLogsAndDeclaredEnvWinning) {
  Fixture f;
  auto pid = f.exec.Start(Request());
  ASSERT_TRUE(pid) << pid.error().message;
  ASSERT_EQ(f.launcher.spawned.size(), 1u);
  const SpawnRequest& sp = f.launcher.spawned[0];
  EXPECT_EQ(sp.cwd, "/state/runs/r1/tasks/train@1");
  EXPECT_EQ(sp.stdout_path, "/state/runs/r1/tasks/train@1.stdout.log");
  EXPECT_EQ(sp.stderr_path, "/state/runs/r1/tasks/train@1.stderr.log");
  EXPECT_EQ(sp.argv, (std::vector<std::string>{"python3", "train.py"}));
  std::vector<std::string> want = {"PATH=/usr/bin", "MODE=fast", "SLUICE_TASK=train"};
  EXPECT_EQ(sp.env, want);
}

TEST(LocalExecutor, SpawnFailureIsAnError) {
  Fixture f;
  f.launcher.fail_next_spawn = true;
  auto pid = f.exec.Start(Request());
  ASSERT_FALSE(pid);
  EXPECT_NE(pid.error().message.find("cannot start python3"), std::string::npos);
}

TEST(LocalExecutor, CollectsParamsFromFilesJsonPathsAndStdout) {
  Fixture f;
  AttemptRequest r = Request();
  ASSERT_TRUE(f.exec.Start(r));
  ASSERT_TRUE(f.fs.WriteFile(r.paths.work + "/n.txt", "42\n"));
  ASSERT_TRUE(f.fs.WriteFile(r.paths.work + "/m.json", R"({"eval": {"acc": 0.93}, "tags": ["a", "b"]})"));
  ASSERT_TRUE(f.fs.WriteFile(r.paths.stdout_log, "[1, 2]\n"));
  OutputsDecl o;
  o.params = {Param("n", OutputSource::kFile, "n.txt"),
              Param("acc", OutputSource::kFileJson, "m.json", "eval.acc"),
              Param("tag", OutputSource::kFileJson, "m.json", "tags.1"),
              Param("out", OutputSource::kStdoutJson)};
  auto v = f.exec.Collect(r, o);
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->Find("params")->ToJson(), R"({"n":"42","acc":0.93,"tag":"b","out":[1,2]})");
}

TEST(LocalExecutor, MissingOutputOrBadJsonFailsTheAttempt) {
  Fixture f;
  AttemptRequest r = Request();
  ASSERT_TRUE(f.exec.Start(r));
  OutputsDecl o;
  o.params = {Param("n", OutputSource::kFile, "n.txt")};
  auto v = f.exec.Collect(r, o);
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("did not write \"n.txt\""), std::string::npos);
  ASSERT_TRUE(f.fs.WriteFile(r.paths.work + "/m.json", "{not json"));
  o.params = {Param("acc", OutputSource::kFileJson, "m.json", "acc")};
  v = f.exec.Collect(r, o);
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("invalid JSON"), std::string::npos);
}

TEST(LocalExecutor, StoresArtifactsByContentAndDedupsEqualFiles) {
  Fixture f;
  AttemptRequest a = Request("a");
  AttemptRequest b = Request("b");
  ASSERT_TRUE(f.exec.Start(a));
  ASSERT_TRUE(f.exec.Start(b));
  ASSERT_TRUE(f.fs.WriteFile(a.paths.work + "/model.bin", "weights"));
  ASSERT_TRUE(f.fs.WriteFile(b.paths.work + "/model.bin", "weights"));
  OutputsDecl o;
  o.artifacts = {ArtifactDecl{"model", "model.bin", {}}};
  auto va = f.exec.Collect(a, o);
  auto vb = f.exec.Collect(b, o);
  ASSERT_TRUE(va && vb);
  std::string path = va->Find("artifacts")->Find("model")->as_string();
  std::string digest = Sha256Hex("weights");
  EXPECT_EQ(path, "/state/artifacts/sha256/" + digest.substr(0, 2) + "/" + digest + "/model.bin");
  EXPECT_EQ(vb->Find("artifacts")->Find("model")->as_string(), path);
  EXPECT_EQ(*f.fs.ReadFile(path), "weights");
}

TEST(LocalExecutor, MissingArtifactFailsTheAttempt) {
  Fixture f;
  AttemptRequest r = Request();
  ASSERT_TRUE(f.exec.Start(r));
  OutputsDecl o;
  o.artifacts = {ArtifactDecl{"model", "model.bin", {}}};
  auto v = f.exec.Collect(r, o);
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("did not create \"model.bin\""), std::string::npos);
}

// With real processes, folders and logs: an attempt that left its folder or a log empty hands
// it to the next attempt (renamed); what holds something stays; empty logs left at the end are
// removed.
TEST(LocalExecutor, EmptyFoldersAndLogsAreRenamedForTheNextAttempt) {
  char tmpl[] = "/tmp/sluice-exec-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string root = tmpl;
  auto fs = NewPosixFileSystem();
  AttemptPaths a, b, c, d;
  {
    auto launcher = NewPosixProcessLauncher();
    LocalExecutor exec(*launcher, *fs, root + "/artifacts", {"PATH=/usr/bin:/bin"});
    auto run = [&](const std::string& task, std::vector<std::string> argv) {
      AttemptRequest r;
      r.task = task;
      r.attempt = 1;
      r.argv = std::move(argv);
      r.paths = AttemptPathsFor(root + "/run", task, 1);
      auto pid = exec.Start(r);
      EXPECT_TRUE(pid) << (pid ? "" : pid.error().message);
      WaitResult w;
      while (w.exits.empty()) w = exec.Wait(-1);
      EXPECT_EQ(w.exits[0].pid, *pid);
      EXPECT_EQ(w.exits[0].exit_code, 0);
      return r.paths;
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
  auto fs = NewPosixFileSystem();
  ASSERT_TRUE(fs->WriteFile(root + "/not-executable", "#!/bin/sh\n"));
  std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"sluice-no-such-program"}, "cannot start sluice-no-such-program: No such file or directory"},
      {{root + "/not-executable"}, "Permission denied"},
      {{root + "/missing"}, "No such file or directory"}};
  {
    auto launcher = NewPosixProcessLauncher();
    LocalExecutor exec(*launcher, *fs, root + "/artifacts", {"PATH=/usr/bin:/bin"});
    int n = 0;
    for (const auto& [argv, want] : cases) {
      AttemptRequest r;
      r.task = "t" + std::to_string(++n);
      r.attempt = 1;
      r.argv = argv;
      r.paths = AttemptPathsFor(root + "/run", r.task, 1);
      auto pid = exec.Start(r);
      ASSERT_FALSE(pid);
      EXPECT_NE(pid.error().message.find(want), std::string::npos) << pid.error().message;
    }
    EXPECT_TRUE(exec.Wait(0).exits.empty()) << "the failed children were reaped at once";
  }
  EXPECT_FALSE(fs->Stat(root + "/run/tasks/t1@1.stdout.log").exists);
  ASSERT_TRUE(fs->RemoveAll(root));
}

}  // namespace
}  // namespace sluice
