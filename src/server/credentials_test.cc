// Choosing the server and token of the CLI against a server, on a FakeEnv (credentials.h), and
// what the API client makes of URLs and refusals (client.h).
#include "server/credentials.h"

#include <gtest/gtest.h>

#include "env/fake_env.h"
#include "server/client.h"

namespace sluice {
namespace credentials_test {

void WriteLoginFile(FakeEnv& env, const std::string& server, const std::string& token) {
  ASSERT_TRUE(env.files().MakeDirs("/cfg/sluice"));
  ASSERT_TRUE(env.files().WriteFile("/cfg/sluice/login.json",
                                    "{\"server\":\"" + server + "\",\"token\":\"" + token + "\"}"));
  env.mem_files.SetOwner("/cfg/sluice/login.json", 1000, 0600);
}

TEST(Credentials, TheLoginFileIsUnderXdgConfigHomeElseHome) {
  FakeEnv env;
  env.vars["HOME"] = "/home/a";
  EXPECT_EQ(LoginFilePath(env), "/home/a/.config/sluice/login.json");
  env.vars["XDG_CONFIG_HOME"] = "relative";  // not absolute: ignored, as the XDG rules say
  EXPECT_EQ(LoginFilePath(env), "/home/a/.config/sluice/login.json");
  env.vars["XDG_CONFIG_HOME"] = "/cfg";
  EXPECT_EQ(LoginFilePath(env), "/cfg/sluice/login.json");
}

TEST(Credentials, TheFlagWinsOverTheVariableAndAnEmptyVariableNamesNone) {
  FakeEnv env;
  EXPECT_EQ(NamedServer(env, ""), "");
  env.vars["SLUICE_SERVER"] = "http://a:1";
  EXPECT_EQ(NamedServer(env, ""), "http://a:1");
  EXPECT_EQ(NamedServer(env, "http://b:2"), "http://b:2");
  env.vars["SLUICE_SERVER"] = "";
  EXPECT_EQ(NamedServer(env, ""), "");
}

TEST(Credentials, TheTokenVariableWinsOverTheLoginFile) {
  FakeEnv env;
  env.vars["XDG_CONFIG_HOME"] = "/cfg";
  WriteLoginFile(env, "http://a:1", "from-file");
  auto l = ResolveCredentials(env, "http://a:1/");
  ASSERT_TRUE(l) << l.error().message;
  EXPECT_EQ(l->server, "http://a:1");
  EXPECT_EQ(l->token, "from-file");
  env.vars["SLUICE_TOKEN"] = "from-var";
  EXPECT_EQ(ResolveCredentials(env, "http://a:1")->token, "from-var");
}

TEST(Credentials, TheLoginFilesTokenIsNeverSentToAnotherServer) {
  FakeEnv env;
  env.vars["XDG_CONFIG_HOME"] = "/cfg";
  WriteLoginFile(env, "http://a:1", "secret");
  auto l = ResolveCredentials(env, "http://b:2");
  ASSERT_FALSE(l);
  EXPECT_EQ(l.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(l.error().message.find("no token for http://b:2"), std::string::npos);
}

TEST(Credentials, ALoginFileOthersMayReadIsRefused) {
  FakeEnv env;
  env.vars["XDG_CONFIG_HOME"] = "/cfg";
  WriteLoginFile(env, "http://a:1", "secret");
  env.mem_files.SetOwner("/cfg/sluice/login.json", 1000, 0640);
  auto l = ResolveCredentials(env, "http://a:1");
  ASSERT_FALSE(l);
  EXPECT_NE(l.error().message.find("may be read by others (mode 0640)"), std::string::npos)
      << l.error().message;
}

TEST(ApiClient, ServerUrlsAreHttpOrHttpsWithoutAPath) {
  EXPECT_EQ(*ServerUrl("https://x.example:8460/"), "https://x.example:8460");
  EXPECT_EQ(*ServerUrl("http://127.0.0.1:80"), "http://127.0.0.1:80");
  for (const char* bad : {"x.example:8460", "ftp://x", "http://", "http://a/api", "http://u@a"}) {
    auto u = ServerUrl(bad);
    ASSERT_FALSE(u) << bad;
    EXPECT_EQ(u.error().code, ErrorCode::kInvalidInput);
  }
}

TEST(ApiClient, RefusalsExitAsTheLocalCommandsWould) {
  auto code = [](int status) {
    ApiAnswer a;
    a.status = status;
    a.body = "{\"error\":{\"status\":" + std::to_string(status) + ",\"message\":\"why\"}}";
    return ErrorOfAnswer("http://a:1", a);
  };
  EXPECT_EQ(code(401).code, ErrorCode::kInvalidInput);
  EXPECT_NE(code(401).message.find("sluice login --server http://a:1"), std::string::npos);
  EXPECT_EQ(code(403).code, ErrorCode::kInvalidInput);
  EXPECT_EQ(code(404).code, ErrorCode::kNotFound);
  EXPECT_EQ(code(404).message, "why");
  EXPECT_EQ(code(409).code, ErrorCode::kConflict);
  EXPECT_EQ(code(500).code, ErrorCode::kIo);
}

TEST(ApiClient, PathSegmentsArePercentEncoded) {
  EXPECT_EQ(PathEscape("train[2]"), "train%5B2%5D");
  EXPECT_EQ(PathEscape("a b/c"), "a%20b%2Fc");
  EXPECT_EQ(PathEscape("20261129-010947-85eb3f9a"), "20261129-010947-85eb3f9a");
}

}  // namespace credentials_test
}  // namespace sluice
