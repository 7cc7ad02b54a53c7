// The login file and the choice of server and token (credentials.h).
#include "server/credentials.h"

#include <termios.h>
#include <unistd.h>

#include <cstdio>

#include "cli/cli_support.h"
#include "common/strings.h"
#include "common/value.h"
#include "server/client.h"
#include "server/remote_cli.h"

namespace sluice {

namespace {

constexpr int64_t kMaxLoginBytes = 64 << 10;

// A token read from the terminal without echoing it (the terminal is put back as it was, also
// when reading fails), or all of stdin when it is not a terminal or `token_stdin`. Trimmed.
// This is the CLI's edge: the terminal settings are read and written here and nowhere else.
std::string ReadToken(Env& env, const std::string& server, bool token_stdin) {
  std::string text;
  if (token_stdin || !env.IsTty(0)) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0 && text.size() < kMaxLoginBytes) {
      text.append(buf, n);
    }
    return std::string(Trim(text));
  }
  std::fprintf(stderr, "token for %s: ", server.c_str());
  std::fflush(stderr);
  termios before{};
  const bool quiet = tcgetattr(0, &before) == 0;
  if (quiet) {
    termios silent = before;
    silent.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(0, TCSAFLUSH, &silent);
  }
  char line[4096];
  if (std::fgets(line, sizeof line, stdin)) text = line;
  if (quiet) tcsetattr(0, TCSAFLUSH, &before);
  std::fprintf(stderr, "\n");
  return std::string(Trim(text));
}

// The login file's content, or nullopt when there is none. Refuses (kInvalidInput) a file that
// others may read or that does not hold {"server", "token"}.
Result<std::optional<Login>> ReadLogin(Env& env) {
  const std::string path = LoginFilePath(env);
  if (path.empty()) return std::optional<Login>();
  FileSystem& fs = env.files();
  const FileInfo info = fs.Stat(path);
  if (!info.exists) return std::optional<Login>();
  if ((info.mode & 077) != 0) {
    return Fail(ErrorCode::kInvalidInput, "sluice: the login file {} may be read by others (mode "
                "{:04o}): its token is not used; remove it and log in again", path, info.mode & 07777);
  }
  SLUICE_TRY(text, fs.ReadFileAtMost(path, kMaxLoginBytes));
  auto v = ParseJson(*text);
  const Value* server = v && v->is_map() ? v->Find("server") : nullptr;
  const Value* token = v && v->is_map() ? v->Find("token") : nullptr;
  if (!server || !token || !server->is_string() || !token->is_string()) {
    return Fail(ErrorCode::kInvalidInput, "sluice: the login file {} is not one sluice login "
                "wrote; remove it and log in again", path);
  }
  return std::optional<Login>(Login{server->as_string(), token->as_string()});
}

// Writes the login file: created 0600 under a unique name (never following or reusing what is
// there), then renamed over the old one.
Status WriteLogin(Env& env, const Login& l) {
  const std::string path = LoginFilePath(env);
  if (path.empty()) {
    return Fail(ErrorCode::kInvalidInput, "sluice: neither XDG_CONFIG_HOME nor HOME is set: "
                "nowhere to keep the token (use SLUICE_TOKEN)");
  }
  FileSystem& fs = env.files();
  env.RestrictNewFiles(false);  // the folders made here are the user's alone (0700)
  SLUICE_TRY_STATUS(fs.MakeDirs(Dirname(path)));
  const std::string tmp = fmt::format("{}.tmp-{}-{:016x}", path, env.Pid(), env.Random64());
  const std::string text =
      Value(ValueMap{{"server", Value(l.server)}, {"token", Value(l.token)}}).ToJson() + "\n";
  SLUICE_TRY_STATUS(fs.WritePrivateFile(tmp, text));
  if (auto s = fs.Rename(tmp, path); !s) {
    (void)fs.Remove(tmp);
    return s;
  }
  return {};
}

}  // namespace

std::string LoginFilePath(Env& env) {
  auto xdg = env.GetVar("XDG_CONFIG_HOME");
  if (xdg && xdg->starts_with("/")) return PathJoin(PathJoin(*xdg, "sluice"), "login.json");
  auto home = env.GetVar("HOME");
  if (home && !home->empty()) return PathJoin(*home, ".config/sluice/login.json");
  return "";
}

std::string NamedServer(Env& env, const std::string& flag) {
  if (!flag.empty()) return flag;
  return env.GetVar("SLUICE_SERVER").value_or("");
}

Result<Login> ResolveCredentials(Env& env, const std::string& named) {
  SLUICE_TRY(server, ServerUrl(named));
  if (auto token = env.GetVar("SLUICE_TOKEN"); token && !token->empty()) {
    return Login{*server, *token};
  }
  SLUICE_TRY(login, ReadLogin(env));
  if (*login && (*login)->server == *server) return Login{*server, (*login)->token};
  return Fail(ErrorCode::kInvalidInput, "sluice: no token for {}: log in with `sluice login "
              "--server {}`, or set SLUICE_TOKEN", *server, *server);
}

int CmdLogin(Env& env, const std::string& named, bool token_stdin) {
  if (named.empty()) {
    return Report(Error(ErrorCode::kInvalidInput, "sluice: login: name the server with --server "
                        "URL (or SLUICE_SERVER)"));
  }
  auto server = ServerUrl(named);
  if (!server) return Report(server.error());
  const std::string token = ReadToken(env, *server, token_stdin);
  if (token.empty()) return Report(Error(ErrorCode::kInvalidInput, "sluice: login: no token given"));
  ApiClient api(*server, token);
  auto me = Expect2xx(api.Get("/api/v1/whoami"), *server);
  if (!me) return Report(me.error());
  if (auto s = WriteLogin(env, Login{*server, token}); !s) return Report(s.error());
  auto v = ParseJson(me->body);
  const Value* user = v && v->is_map() ? v->Find("user") : nullptr;
  std::printf("logged in to %s as %s (token kept in %s)\n", server->c_str(),
              user && user->is_string() ? user->as_string().c_str() : "?",
              LoginFilePath(env).c_str());
  return 0;
}

int CmdLogout(Env& env) {
  const std::string path = LoginFilePath(env);
  if (path.empty() || !env.files().Stat(path).exists) {
    std::printf("not logged in\n");
    return 0;
  }
  if (auto s = env.files().Remove(path); !s) return Report(s.error());
  std::printf("logged out (removed %s)\n", path.c_str());
  return 0;
}

}  // namespace sluice
