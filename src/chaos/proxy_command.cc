// `sluice-net chaos-proxy` (proxy_command.h). The flags are read by hand: the command must
// start without CLI11, and sluice-net dispatches it before its own parser as it does
// rollout-exec (src/server/main.cc).
#include "chaos/proxy_command.h"

#include <pthread.h>
#include <signal.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "common/strings.h"

namespace sluice {
namespace {

constexpr const char* kUsage =
    "usage: sluice-net chaos-proxy --upstream HOST:PORT [--listen 127.0.0.1:PORT]\n"
    "         [--latency 100ms] [--jitter 20ms] [--bandwidth 10k] [--direction both|upstream|downstream]\n"
    "         [--reset | --blackhole | --refuse] [--probability 0.5] [--seed N] [--max-connections N]\n"
    "Proxies TCP from --listen (loopback; port 0: any free port) to --upstream with the fault\n"
    "given, until SIGINT or SIGTERM. Prints the bound address first, the counters (JSON) last.\n";

Result<ProxyCut> SetCut(ProxyCut current, ProxyCut next, std::string_view flag) {
  if (current != ProxyCut::kNone && current != next) {
    return Fail(ErrorCode::kInvalidInput, "chaos-proxy: {} cannot combine with another of "
                "--reset, --blackhole, --refuse", flag);
  }
  return next;
}

Result<int64_t> DurationFlag(std::string_view flag, const std::string& value) {
  auto ms = ParseDurationMs(value);
  if (!ms || *ms < 0) {
    return Fail(ErrorCode::kInvalidInput, "chaos-proxy: {} {} is not a duration (100ms, 2s)",
                flag, Quote(value));
  }
  return *ms;
}

Result<int64_t> NumberFlag(std::string_view flag, const std::string& value, double min) {
  auto q = ParseQuantity(value);
  if (!q || *q < min || *q > 9e15 || *q != std::floor(*q)) {
    return Fail(ErrorCode::kInvalidInput, "chaos-proxy: {} {} is not a whole number of at "
                "least {} (10k, 1Mi)", flag, Quote(value), min);
  }
  return static_cast<int64_t>(*q);
}

// One flag with its value (when it takes one). On failure the error of a bad value.
Status ApplyFlag(FaultProxyOptions& o, const std::string& flag, const std::string& value) {
  ProxyFault& f = o.fault;
  if (flag == "--listen") {
    o.listen = value;
  } else if (flag == "--upstream") {
    o.upstream = value;
  } else if (flag == "--latency") {
    SLUICE_TRY(ms, DurationFlag(flag, value));
    f.latency_ms = *ms;
  } else if (flag == "--jitter") {
    SLUICE_TRY(ms, DurationFlag(flag, value));
    f.jitter_ms = *ms;
  } else if (flag == "--bandwidth") {
    SLUICE_TRY(rate, NumberFlag(flag, value, 1));
    f.bandwidth = *rate;
  } else if (flag == "--direction") {
    if (value == "both") f.direction = ProxyDirection::kBoth;
    else if (value == "upstream") f.direction = ProxyDirection::kUpstream;
    else if (value == "downstream") f.direction = ProxyDirection::kDownstream;
    else return Fail(ErrorCode::kInvalidInput, "chaos-proxy: --direction {} is not both, "
                     "upstream or downstream", Quote(value));
  } else if (flag == "--probability") {
    char* end = nullptr;
    f.probability = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0' || !(f.probability >= 0 && f.probability <= 1)) {
      return Fail(ErrorCode::kInvalidInput, "chaos-proxy: --probability {} is not a number "
                  "from 0 to 1", Quote(value));
    }
  } else if (flag == "--seed") {
    SLUICE_TRY(seed, NumberFlag(flag, value, 0));
    o.seed = static_cast<uint64_t>(*seed);
  } else if (flag == "--max-connections") {
    SLUICE_TRY(n, NumberFlag(flag, value, 1));
    o.max_connections = static_cast<int>(std::min<int64_t>(*n, 1'000'000));
  }
  return {};
}

bool TakesValue(std::string_view flag) {
  for (std::string_view f : {"--listen", "--upstream", "--latency", "--jitter", "--bandwidth",
                             "--direction", "--probability", "--seed", "--max-connections"}) {
    if (f == flag) return true;
  }
  return false;
}

}  // namespace

Result<FaultProxyOptions> ParseChaosProxyArgs(const std::vector<std::string>& args) {
  FaultProxyOptions o;
  ProxyFault& f = o.fault;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i], value;
    if (flag == "-h" || flag == "--help") return Fail(ErrorCode::kCancelled, "{}", kUsage);
    if (size_t eq = flag.find('='); StartsWith(flag, "--") && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag.resize(eq);
      if (!TakesValue(flag)) {
        return Fail(ErrorCode::kInvalidInput, "chaos-proxy: {} takes no value", flag);
      }
    } else if (TakesValue(flag)) {
      if (i + 1 >= args.size()) {
        return Fail(ErrorCode::kInvalidInput, "chaos-proxy: {} needs a value", flag);
      }
      value = args[++i];
    }
    if (flag == "--reset" || flag == "--blackhole" || flag == "--refuse") {
      const ProxyCut cut = flag == "--reset"       ? ProxyCut::kReset
                           : flag == "--blackhole" ? ProxyCut::kBlackhole
                                                   : ProxyCut::kRefuse;
      SLUICE_TRY(set, SetCut(f.cut, cut, flag));
      f.cut = *set;
    } else if (TakesValue(flag)) {
      SLUICE_TRY_STATUS(ApplyFlag(o, flag, value));
    } else {
      static const std::vector<std::string> kFlags = {
          "--listen", "--upstream", "--latency", "--jitter", "--bandwidth", "--direction",
          "--probability", "--seed", "--max-connections", "--reset", "--blackhole", "--refuse"};
      return Fail(ErrorCode::kInvalidInput, "chaos-proxy: unknown argument {}{}", Quote(flag),
                  DidYouMean(flag, kFlags));
    }
  }
  if (o.upstream.empty()) {
    return Fail(ErrorCode::kInvalidInput, "chaos-proxy: --upstream HOST:PORT is required");
  }
  SLUICE_TRY_STATUS(CheckFault(f));
  return o;
}

std::string CountersJson(const ProxyCounters& c) {
  return fmt::format(
      "{{\"accepted\":{},\"open\":{},\"bytes_upstream\":{},\"bytes_downstream\":{},"
      "\"bytes_dropped\":{},\"reset\":{},\"blackholed\":{},\"refused\":{},"
      "\"upstream_failed\":{}}}",
      c.accepted, c.open, c.bytes_upstream, c.bytes_downstream, c.bytes_dropped, c.reset,
      c.blackholed, c.refused, c.upstream_failed);
}

int ChaosProxyMain(int argc, char** argv) {
  std::vector<std::string> args(argv + 2, argv + argc);
  auto options = ParseChaosProxyArgs(args);
  if (!options) {
    const bool help = options.error().code == ErrorCode::kCancelled;
    std::fputs(options.error().message.c_str(), help ? stdout : stderr);
    if (!help) std::fputc('\n', stderr);
    return help ? 0 : 2;
  }
  // The signals are blocked before the loop thread starts, which inherits the mask, and taken
  // here by sigwait: neither interrupts the loop.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  auto proxy = FaultProxy::Start(*options);
  if (!proxy) {
    std::fprintf(stderr, "sluice: %s\n", proxy.error().message.c_str());
    return proxy.error().code == ErrorCode::kInvalidInput ? 2 : 3;
  }
  std::printf("%s\n", (*proxy)->address().c_str());
  std::fflush(stdout);
  std::fprintf(stderr, "chaos-proxy: %s -> %s, fault: %s\n", (*proxy)->address().c_str(),
               options->upstream.c_str(), DescribeFault(options->fault).c_str());
  int sig = 0;
  sigwait(&stop, &sig);
  (*proxy)->Stop();
  std::printf("%s\n", CountersJson((*proxy)->counters()).c_str());
  return 0;
}

}  // namespace sluice
