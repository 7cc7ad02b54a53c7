// Output params with a declared type, and attempts that start outside their own folder
// (workingDir: pipeline) but still hand back what they wrote in it.
#include "exec/typed_output.h"

#include <gtest/gtest.h>

#include "env/fake_env.h"
#include "exec/local_executor.h"

namespace sluice {
namespace typed_output_test {

using Source = WantedParam::Source;
using Type = WantedParam::Type;

// TypedOutput of `raw` for an output named "o": the value's JSON, or "error: MESSAGE".
std::string Typed(Source src, Type t, Value raw) {
  WantedParam o{"o", src, "o.txt", "", t};
  auto v = TypedOutput(o, std::move(raw));
  return v ? v->ToJson() : "error: " + v.error().message;
}

TEST(TypedOutput, BytesThatAreNotUtf8AreAnErrorNamingTheFirst) {
  EXPECT_EQ(Typed(Source::kStdoutText, Type::kAny, Value("x\xffy")),
            "error: output \"o\" is not UTF-8 text (byte 0xff at offset 1)");
  EXPECT_EQ(Typed(Source::kFile, Type::kString, Value("é")), "\"é\"");
}

TEST(TypedOutput, TextIsReadAsItsDeclaredType) {
  EXPECT_EQ(Typed(Source::kFile, Type::kInt, Value("42")), "42");
  EXPECT_EQ(Typed(Source::kFile, Type::kNumber, Value(" 0.93 ")), "0.93");
  EXPECT_EQ(Typed(Source::kStdoutText, Type::kNumber, Value("7")), "7");
  EXPECT_EQ(Typed(Source::kFile, Type::kBool, Value("true")), "true");
  EXPECT_EQ(Typed(Source::kFile, Type::kList, Value("[1, \"a\"]")), "[1,\"a\"]");
  EXPECT_EQ(Typed(Source::kFile, Type::kMap, Value("{\"a\": 1}")), "{\"a\":1}");
  EXPECT_EQ(Typed(Source::kFile, Type::kString, Value("42")), "\"42\"");
  EXPECT_EQ(Typed(Source::kFile, Type::kAny, Value("42")), "\"42\"");
}

TEST(TypedOutput, WhatDoesNotReadAsItsTypeFailsWithTheValue) {
  EXPECT_EQ(Typed(Source::kFile, Type::kInt, Value("0.93")),
            "error: output \"o\" is declared int, but the task wrote \"0.93\"");
  EXPECT_EQ(Typed(Source::kFile, Type::kNumber, Value("nan")),
            "error: output \"o\" is declared number, but the task wrote \"nan\"");
  EXPECT_EQ(Typed(Source::kFile, Type::kBool, Value("yes")),
            "error: output \"o\" is declared bool, but the task wrote \"yes\"");
  EXPECT_EQ(Typed(Source::kFile, Type::kList, Value("{\"a\": 1}")),
            "error: output \"o\" is declared list, but the task wrote \"{\\\"a\\\": 1}\"");
  // A JSON value must already be of the type: it is not read again.
  EXPECT_EQ(Typed(Source::kFileJson, Type::kNumber, Value("0.9")),
            "error: output \"o\" is declared number, but the task wrote string \"0.9\"");
  EXPECT_EQ(Typed(Source::kStdoutJson, Type::kNumber, Value(int64_t{3})), "3");
  EXPECT_EQ(Typed(Source::kStdoutJson, Type::kInt, Value(1.5)),
            "error: output \"o\" is declared int, but the task wrote double \"1.5\"");
}

TEST(TypedOutput, AnAttemptGivenAWorkingDirStartsThereAndHandsBackItsOwnFolder) {
  FakeEnv env;
  LocalExecutor exec{env, env.fake_processes, "/state/runs/r1", "/state/artifacts", {}};
  AttemptRequest r;
  r.run_id = "r1";
  r.task = "t";
  r.attempt = 1;
  r.argv = {"python3", "train.py"};
  r.working_dir = "/home/me/project";
  r.params = {WantedParam{"acc", Source::kFile, "acc.txt", "", Type::kNumber, {}}};
  auto pid = std::move(exec.Submit(std::span<const AttemptRequest>(&r, 1))[0]);
  ASSERT_TRUE(pid) << pid.error().message;
  const SpawnRequest& sp = env.fake_processes.spawned[0];
  EXPECT_EQ(sp.cwd, "/home/me/project");
  EXPECT_EQ(sp.env.back(), "SLUICE_ATTEMPT_DIR=/state/runs/r1/tasks/t@1");
  ASSERT_TRUE(env.mem_files.WriteFile("/state/runs/r1/tasks/t@1/acc.txt", "0.93\n"));
  env.fake_processes.Exit(static_cast<int>(*pid), 0);
  PollResult end = exec.Poll(0);
  ASSERT_EQ(end.ends.size(), 1u);
  ASSERT_TRUE(end.ends[0].outputs && *end.ends[0].outputs) << end.ends[0].outputs->error().message;
  EXPECT_EQ((*end.ends[0].outputs)->params.ToJson(), R"({"acc":0.93})");
}

}  // namespace typed_output_test
}  // namespace sluice
