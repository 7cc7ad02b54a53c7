// The CLI against a server (docs/cli.md, "Against a server"). With `--server URL` or
// $SLUICE_SERVER, `sluice` runs sluice-net with its command line (so that a local command never
// loads the HTTP library), and sluice-net runs the command here, over the API of docs/api.md:
// run (the pipeline's files sent as a bundle, its events followed), runs, status, events, logs,
// cancel and whoami, with the output and exit codes of the local commands (the text is rendered
// from the same documents, cli/render.h). `login` and `logout` keep a server's token in a file
// of the user's (credentials.h). Any other command fails with one line saying it is not
// available against a server (exit 2): nothing ever runs locally instead.
#pragma once

#include <map>
#include <string>

#include "common/error.h"
#include "env/env.h"
#include "server/client.h"

namespace sluice {

// Whether sluice-net's command line is one for the CLI against a server: its first command is
// not one of sluice-net's own (`server`, `worker`).
bool IsClientCommandLine(int argc, char** argv);
// Runs the command line against its server. Returns the process exit code.
int RunClient(Env& env, int argc, char** argv);

// --- What the commands share (remote_cli.cc, remote_run.cc, credentials.cc).

// What a command prints with: -o json, and the server and its client.
struct RemoteContext {
  bool json = false;
  ApiClient& api;
};
// An answer with status 2xx, else the error it means (ErrorOfAnswer) or why it did not come.
Result<ApiAnswer> Expect2xx(Result<ApiAnswer> answer, const std::string& server);
// `sluice run FILE` against the server (remote_run.cc): submits, follows, exits as the run ended.
struct RemoteRunOptions {
  std::string file;
  std::map<std::string, std::string> params;  // -p
  std::string params_file;
};
int RemoteRun(Env& env, RemoteContext& c, const RemoteRunOptions& o);

}  // namespace sluice
