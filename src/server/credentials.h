// Which server the CLI talks to and with which token (docs/cli.md, "Against a server"), and the
// login file `sluice login` keeps them in.
//
// The login file, $XDG_CONFIG_HOME/sluice/login.json (~/.config/sluice/login.json when that
// variable is unset), holds one JSON object {"server": URL, "token": TOKEN}. It is created with
// mode 0600 under a unique temporary name and renamed over the old one, so that it is never
// readable by others and never half-written; a file others may read is refused, not used. It
// keeps one server (a login to another replaces it): one token for one server is all the CLI
// needs, and a list would add choosing between them.
//
// Precedence: the server is `--server`, else $SLUICE_SERVER; the login file never chooses one
// (a login does not turn local commands into remote ones, and a server's own engines, started
// as `sluice resume`, stay local). The token is $SLUICE_TOKEN, else the login file's when it was
// made for that same server: a token is never sent to a server it was not given for.
#pragma once

#include <optional>
#include <string>

#include "common/error.h"
#include "env/env.h"

namespace sluice {

struct Login {
  std::string server;  // as ServerUrl keeps it
  std::string token;
};

// The login file's path; "" when neither XDG_CONFIG_HOME nor HOME is set.
std::string LoginFilePath(Env& env);
// The server a command line names: `flag` (--server) when given, else $SLUICE_SERVER; "" when
// neither names one (an empty variable names none).
std::string NamedServer(Env& env, const std::string& flag);
// The server and token for `server` (NamedServer's, not ""). On failure returns kInvalidInput:
// a malformed URL, no token for it, or a login file others may read.
Result<Login> ResolveCredentials(Env& env, const std::string& server);

// `sluice login`: reads a token (all of stdin with `token_stdin` or when stdin is not a
// terminal, else a prompt that does not echo), checks it with GET /api/v1/whoami and keeps it.
// Returns the exit code: 0, 2 for a refused token or bad input (nothing is written), 3 when the
// server cannot be reached or the file cannot be written.
int CmdLogin(Env& env, const std::string& server, bool token_stdin);
// `sluice logout`: removes the login file. Returns 0 (also when there was none), 3 when it
// cannot be removed.
int CmdLogout(Env& env);

}  // namespace sluice
