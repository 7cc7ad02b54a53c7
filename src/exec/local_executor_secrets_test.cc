// LocalExecutor with attempts that hold secrets: how they are handed over and taken back, with
// the fakes; and, with the real POSIX seams, that nothing an attempt prints or leaves keeps a
// value.
#include <gtest/gtest.h>

#include <cstdlib>

#include "env/fake_env.h"
#include "exec/local_executor.h"

namespace sluice {
namespace local_executor_secrets_test {

const std::string kWork = "/state/runs/r1/tasks/deploy@1";

AttemptRequest SecretRequest() {
  AttemptRequest r;
  r.run_id = "r1";
  r.task = "deploy";
  r.attempt = 1;
  r.argv = {"deploy"};
  r.secret_env = {{"TOKEN", "tok-VALUE-1"}};
  r.secret_files = {{"key.pem", "key-VALUE-2\n"}};
  r.masked = {"tok-VALUE-1", "key-VALUE-2\n"};
  r.params = {WantedParam{"copied", WantedParam::Source::kFile, "copy.txt", ""}};
  return r;
}

TEST(LocalExecutorSecrets, HandsOverVariablesAndPrivateFilesAndMasksTheOutput) {
  FakeEnv env;
  LocalExecutor exec(env, env.fake_processes, "/state/runs/r1", "/state/artifacts",
                     {"PATH=/usr/bin", "TOKEN=inherited"});
  AttemptRequest req = SecretRequest();
  auto h = exec.Submit(std::span<const AttemptRequest>(&req, 1))[0];
  ASSERT_TRUE(h) << h.error().message;
  const SpawnRequest& sp = env.fake_processes.spawned.at(0);
  EXPECT_NE(sp.mask, nullptr);
  EXPECT_EQ(std::count(sp.env.begin(), sp.env.end(), "TOKEN=tok-VALUE-1"), 1);
  EXPECT_EQ(std::count(sp.env.begin(), sp.env.end(), "TOKEN=inherited"), 0);
  EXPECT_EQ(*env.mem_files.ReadFile(kWork + ".secrets/key.pem"), "key-VALUE-2\n");
  EXPECT_EQ(*env.mem_files.ReadFile(kWork + "/key.pem"), "key-VALUE-2\n");  // the link
  // The task copies both into a file it declares as an output.
  ASSERT_TRUE(env.mem_files.WriteFile(kWork + "/copy.txt", "t=tok-VALUE-1 k=key-VALUE-2\n"));
  env.fake_processes.Exit(static_cast<int>(*h), 0);
  PollResult r = exec.Poll(0);
  ASSERT_EQ(r.ends.size(), 1u);
  ASSERT_TRUE(r.ends[0].outputs && *r.ends[0].outputs) << r.ends[0].outputs->error().message;
  EXPECT_EQ((*r.ends[0].outputs)->params.Find("copied")->as_string(), "t=*** k=***");
  EXPECT_EQ(*env.mem_files.ReadFile(kWork + "/copy.txt"), "t=*** k=***\n");
  EXPECT_FALSE(env.mem_files.Stat(kWork + ".secrets/key.pem").exists);
  EXPECT_FALSE(env.mem_files.Stat(kWork + "/key.pem").exists);
}

TEST(LocalExecutorSecrets, AttemptsWithoutSecretsKeepTheDirectLogs) {
  FakeEnv env;
  LocalExecutor exec(env, env.fake_processes, "/state/runs/r1", "/state/artifacts", {});
  AttemptRequest req;
  req.run_id = "r1";
  req.task = "plain";
  req.attempt = 1;
  req.argv = {"true"};
  ASSERT_TRUE(exec.Submit(std::span<const AttemptRequest>(&req, 1))[0]);
  EXPECT_EQ(env.fake_processes.spawned.at(0).mask, nullptr);
}

TEST(LocalExecutorSecrets, LeavesNoSecretFileOfAnAttemptLostWithItsSluice) {
  FakeEnv env;
  ASSERT_TRUE(env.mem_files.WritePrivateFile(kWork + ".secrets/key.pem", "key-VALUE-2"));
  LocalExecutor exec(env, env.fake_processes, "/state/runs/r1", "/state/artifacts", {});
  OpenAttempt open{"r1", "deploy", 1, 0, {}, {}};
  exec.Adopt(std::span<const OpenAttempt>(&open, 1));
  EXPECT_FALSE(env.mem_files.Stat(kWork + ".secrets/key.pem").exists);
}

// With the real process launcher and file system: output written in pieces that split a value,
// a symlink out of the folder that must not be followed, and the logs and files left after.
TEST(LocalExecutorSecrets, RealProcessOutputSplitAcrossWritesIsMaskedOnTheWayToDisk) {
  char tmpl[] = "/tmp/sluice-secrets-test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string root = tmpl;
  std::unique_ptr<Env> env = NewPosixEnv();
  ASSERT_TRUE(env->files().WriteFile(root + "/outside.txt", "outside tok-VALUE-1\n"));
  LocalExecutor exec(*env, env->processes(), root + "/run", root + "/artifacts",
                     {"PATH=/usr/bin:/bin"});
  AttemptRequest req = SecretRequest();
  req.argv = {"sh", "-c",
              "printf 'a tok-VA'; printf 'LUE-1 b\\n'; printf '%s' \"$TOKEN\" >&2; "
              "cat key.pem; cat key.pem > copy.txt; ln -s " + root + "/outside.txt link.txt"};
  auto h = exec.Submit(std::span<const AttemptRequest>(&req, 1))[0];
  ASSERT_TRUE(h) << h.error().message;
  PollResult r;
  while (r.ends.empty()) r = exec.Poll(-1);
  ASSERT_EQ(r.ends[0].exit_code, 0);
  ASSERT_TRUE(r.ends[0].outputs && *r.ends[0].outputs) << r.ends[0].outputs->error().message;
  const std::string work = root + "/run/tasks/deploy@1";
  EXPECT_EQ(*env->files().ReadFile(work + ".stdout.log"), "a *** b\n***\n");
  EXPECT_EQ(*env->files().ReadFile(work + ".stderr.log"), "***");
  EXPECT_EQ(*env->files().ReadFile(work + "/copy.txt"), "***\n");
  EXPECT_EQ(*env->files().ReadFile(root + "/outside.txt"), "outside tok-VALUE-1\n");  // not followed
  EXPECT_FALSE(env->files().Stat(work + ".secrets").exists);
  EXPECT_FALSE(env->files().Stat(work + "/key.pem").exists);
  (void)env->files().RemoveAll(root);
}

}  // namespace local_executor_secrets_test
}  // namespace sluice
