// `sluice-net chaos-proxy` (docs/chaos-proxy.md): a FaultProxy as a process of its own, for an
// experiment that runs the proxy beside the pipeline rather than in its own process. It prints
// the bound address as its first line, proxies until SIGINT or SIGTERM, then prints its
// counters as one JSON line. Meanwhile each line on its stdin sets a new fault (ControlLine).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "chaos/fault_proxy.h"

namespace sluice {

// The options of the command line after "chaos-proxy". On failure an kInvalidInput error that
// names the bad flag; "--help" yields an error whose message is the usage (code kCancelled).
Result<FaultProxyOptions> ParseChaosProxyArgs(const std::vector<std::string>& args);

// A control line (stdin of the command): "none", or the fault's flags as on the command line
// ("--latency 100ms --direction downstream", "--reset --probability 0.3"); each line is a
// whole fault, not a change to the one in force. On failure an kInvalidInput error.
Result<ProxyFault> ParseFaultLine(std::string_view line);

// Runs one control line against `proxy` and returns its answer: "ok DESCRIPTION" once the
// fault is set, "error MESSAGE", or the counters' JSON for "counters".
std::string ControlLine(FaultProxy& proxy, std::string_view line);

// {"accepted":3,"open":0,...}: the counters as one JSON object, for logs and journals.
std::string CountersJson(const ProxyCounters& c);

// The command: argv[1] is "chaos-proxy". Returns the exit status (0; 2 for a bad command line;
// 3 when the proxy cannot start).
int ChaosProxyMain(int argc, char** argv);

}  // namespace sluice
