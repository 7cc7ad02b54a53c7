// What the loader and the compiler make of spec.secrets, a task's secrets: and secret params.
#include <gtest/gtest.h>

#include "env/fake_env.h"
#include "spec/loader.h"
#include "spec/plan.h"
#include "spec/text_checks.h"

namespace sluice {
namespace secrets_test {

constexpr std::string_view kHeader =
    "apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n";

Result<std::shared_ptr<const Plan>> Load(std::string_view spec) {
  MemFileSystem fs(std::map<std::string, std::string>{
      {"/p/pipeline.yaml", std::string(kHeader) + std::string(spec)}});
  return LoadPlan(fs, "/p/pipeline.yaml");
}

// The message of a failed load ("" when it loaded).
std::string ErrorOf(std::string_view spec) {
  auto plan = Load(spec);
  return plan ? "" : plan.error().message;
}

TEST(Secrets, DeclaredSourcesAndTaskUsesAreRead) {
  auto plan = Load(
      "  params:\n    - {name: token, secret: true}\n"
      "  secrets:\n"
      "    - {name: api, env: API_TOKEN, version: '3'}\n"
      "    - {name: key, file: keys/deploy.pem}\n"
      "    - {name: vault, command: [vault, kv, get, -field=x, ci], timeout: 5s}\n"
      "  tasks:\n"
      "    - name: a\n"
      "      run: [deploy]\n"
      "      env: {T: '${{ params.token }}'}\n"
      "      secrets: [{name: api, env: API}, {name: key, file: key.pem}]\n");
  ASSERT_TRUE(plan) << plan.error().message;
  const PipelineSpec& p = *(*plan)->pipeline;
  ASSERT_EQ(p.secrets.size(), 3u);
  EXPECT_EQ(p.secrets[0].source, SecretDecl::Source::kEnv);
  EXPECT_EQ(p.secrets[0].env, "API_TOKEN");
  EXPECT_EQ(p.secrets[0].version, "3");
  EXPECT_EQ(p.secrets[1].file, "/p/keys/deploy.pem");  // beside the pipeline file
  EXPECT_EQ(p.secrets[2].command.size(), 5u);
  EXPECT_EQ(p.secrets[2].timeout_ms, 5000);
  EXPECT_TRUE(p.params[0].secret);
  const auto& uses = p.tasks[0].secrets();
  ASSERT_EQ(uses.size(), 2u);
  EXPECT_EQ(uses[0].env, "API");
  EXPECT_EQ(uses[1].file, "key.pem");
}

TEST(Secrets, UnknownSecretNameIsALocatedError) {
  EXPECT_EQ(ErrorOf("  secrets: [{name: api, env: X}]\n  tasks:\n"
                    "    - {name: a, run: [x], secrets: [{name: apj, env: A}]}\n"),
            "/p/pipeline.yaml:7:44: task \"a\" names secret \"apj\", which spec.secrets does not "
            "declare (did you mean \"api\"?)");
}

TEST(Secrets, PlaceholdersCannotReadSecrets) {
  std::string e = ErrorOf("  secrets: [{name: api, env: X}]\n  tasks:\n"
                          "    - {name: a, run: [curl, '${{ secrets.api }}']}\n");
  EXPECT_NE(e.find("/p/pipeline.yaml:7:29: secrets cannot be read by placeholders"), std::string::npos) << e;
  EXPECT_NE(e.find("secrets: [{name: api, env: VAR}]"), std::string::npos) << e;
}

TEST(Secrets, SecretParamReachesOnlyEnv) {
  const std::string params = "  params: [{name: token, secret: true}]\n  tasks:\n";
  EXPECT_EQ(ErrorOf(params + "    - {name: a, run: [x], env: {T: 'Bearer ${{ params.token }}'}}\n"), "");
  for (const char* task : {"    - {name: a, run: [curl, '${{ params.token }}']}\n",
                           "    - {name: a, run: [x], when: '${{ params.token == \"x\" }}'}\n",
                           "    - {name: a, run: [x], forEach: '${{ [params.token] }}'}\n"}) {
    std::string e = ErrorOf(params + task);
    EXPECT_NE(e.find("param \"token\" is secret: it may reach a task only through env:"),
              std::string::npos) << task << " -> " << e;
  }
}

TEST(Secrets, BadDeclarationsAreRefused) {
  struct Case {
    const char* spec;
    const char* error;
  } cases[] = {
      {"  secrets: [{name: a}]\n", "secret \"a\" needs exactly one source"},
      {"  secrets: [{name: a, env: X, file: f}]\n", "secret \"a\" needs exactly one source"},
      {"  secrets: [{name: a, env: X}, {name: a, env: Y}]\n", "duplicate secret \"a\""},
      {"  secrets: [{name: a, env: 'X-Y'}]\n", "secret env \"X-Y\" is not a valid variable name"},
      {"  secrets: [{name: a, command: 'vault read x'}]\n", "secret command must be a list"},
      {"  secrets: [{name: a, env: X, timeout: 5s}]\n", "timeout is only used with command"},
      {"  params: [{name: t, secret: true, default: x}]\n", "secret param \"t\" cannot have a default"},
      {"  params: [{name: t, type: int, secret: true}]\n", "secret param \"t\" must be a string"},
  };
  for (const auto& c : cases) {
    std::string e = ErrorOf(std::string(c.spec) + "  tasks: [{name: a, run: [x]}]\n");
    EXPECT_NE(e.find(c.error), std::string::npos) << c.spec << " -> " << e;
  }
}

TEST(Secrets, BadTaskUsesAreRefused) {
  struct Case {
    const char* uses;
    const char* error;
  } cases[] = {
      {"[api]", "a task's secrets entry says how the task receives it"},
      {"[{name: api}]", "needs exactly one of env (a variable) and file"},
      {"[{name: api, file: ../x}]", "must be a plain file name"},
      {"[{name: api, env: SLUICE_X}]", "env names starting with SLUICE_ are reserved"},
      {"[{name: api, env: A}, {name: api, env: A}]", "two secrets are given as env \"A\""},
  };
  for (const auto& c : cases) {
    std::string e = ErrorOf(std::string("  secrets: [{name: api, env: X}]\n  tasks:\n"
                                        "    - {name: a, run: [x], secrets: ") + c.uses + "}\n");
    EXPECT_NE(e.find(c.error), std::string::npos) << c.uses << " -> " << e;
  }
  EXPECT_NE(ErrorOf("  secrets: [{name: api, env: X}]\n  tasks:\n"
                    "    - {name: a, run: [x], env: {A: v}, secrets: [{name: api, env: A}]}\n")
                .find("sets env \"A\" both from secret \"api\" and in env:"),
            std::string::npos);
}

TEST(Secrets, SecretParamVariableNames) {
  EXPECT_EQ(SecretParamVar("api-token"), "SLUICE_PARAM_API_TOKEN");
  EXPECT_EQ(SecretParamVar("db.pass2"), "SLUICE_PARAM_DB_PASS2");
}

}  // namespace secrets_test
}  // namespace sluice
