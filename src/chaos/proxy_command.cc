// `sluice-net chaos-proxy` (proxy_command.h). The flags are read by hand: the command must
// start without CLI11, and sluice-net dispatches it before its own parser as it does
// rollout-exec (src/server/main.cc).
#include "chaos/proxy_command.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "common/strings.h"

namespace sluice {
namespace {

constexpr const char* kUsage =
    "usage: sluice-net chaos-proxy --upstream HOST:PORT [--listen 127.0.0.1:PORT]\n"
    "         [--latency 100ms] [--jitter 20ms] [--bandwidth 10k]\n"
    "         [--direction both|upstream|downstream] [--reset | --blackhole | --refuse]\n"
    "         [--probability 0.5] [--seed N] [--max-connections N]\n"
    "Proxies TCP from --listen (loopback; port 0: any free port) to --upstream with the fault\n"
    "given, until SIGINT or SIGTERM. Prints the bound address first, the counters (JSON) last.\n"
    "Each line on stdin sets a new fault: \"none\" or the fault's flags (docs/chaos-proxy.md).\n";

Result<ProxyCut> SetCut(ProxyCut current, ProxyCut next, std::string_view flag) {
  if (current != ProxyCut::kNone && current != next) {
    return Fail(ErrorCode::kInvalidInput,
                "chaos-proxy: {} cannot combine with another of --reset, --blackhole, --refuse",
                flag);
  }
  return next;
}

Result<int64_t> DurationFlag(std::string_view flag, const std::string& value) {
  auto ms = ParseDurationMs(value);
  if (!ms || *ms < 0) {
    return Fail(ErrorCode::kInvalidInput, "chaos-proxy: {} {} is not a duration (100ms, 2s)", flag,
                Quote(value));
  }
  return *ms;
}

Result<int64_t> NumberFlag(std::string_view flag, const std::string& value, double min) {
  auto q = ParseQuantity(value);
  if (!q || *q < min || *q > 9e15 || *q != std::floor(*q)) {
    return Fail(ErrorCode::kInvalidInput,
                "chaos-proxy: {} {} is not a whole number of at least {} (10k, 1Mi)", flag,
                Quote(value), min);
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
    if (value == "both") {
      f.direction = ProxyDirection::kBoth;
    } else if (value == "upstream") {
      f.direction = ProxyDirection::kUpstream;
    } else if (value == "downstream") {
      f.direction = ProxyDirection::kDownstream;
    } else {
      return Fail(ErrorCode::kInvalidInput,
                  "chaos-proxy: --direction {} is not both, upstream or downstream", Quote(value));
    }
  } else if (flag == "--probability") {
    char* end = nullptr;
    f.probability = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0' || !(f.probability >= 0 && f.probability <= 1)) {
      return Fail(ErrorCode::kInvalidInput,
                  "chaos-proxy: --probability {} is not a number from 0 to 1", Quote(value));
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

// The flags of `args` into `o`. With `fault_only` (a control line), only the fault's flags.
Status ParseFlags(const std::vector<std::string>& args, FaultProxyOptions& o, bool fault_only) {
  ProxyFault& f = o.fault;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i], value;
    if (!fault_only && (flag == "-h" || flag == "--help")) {
      return Fail(ErrorCode::kCancelled, "{}", kUsage);
    }
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
    if (fault_only && (flag == "--listen" || flag == "--upstream" || flag == "--seed" ||
                       flag == "--max-connections")) {
      return Fail(ErrorCode::kInvalidInput, "chaos-proxy: {} cannot change while the proxy runs",
                  flag);
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
          "--listen",          "--upstream",  "--latency",     "--jitter",
          "--bandwidth",       "--direction", "--probability", "--seed",
          "--max-connections", "--reset",     "--blackhole",   "--refuse"};
      return Fail(ErrorCode::kInvalidInput, "chaos-proxy: unknown argument {}{}", Quote(flag),
                  DidYouMean(flag, kFlags));
    }
  }
  return CheckFault(f);
}

// Answers control lines from stdin until a signal arrives on `signals`. The end of stdin (a
// proxy started with </dev/null) only ends the reading: the proxy runs on.
void ReadControlLines(FaultProxy& proxy, int signals) {
  bool reading = true;
  std::string pending;
  for (;;) {
    pollfd fds[2] = {{signals, POLLIN, 0}, {reading ? STDIN_FILENO : -1, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) continue;
    if (fds[0].revents) return;
    if (!fds[1].revents) continue;
    char buf[4096];
    const ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n <= 0) {
      reading = n < 0 && (errno == EINTR || errno == EAGAIN);
      continue;
    }
    pending.append(buf, static_cast<size_t>(n));
    for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
      const std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (Trim(line).empty()) continue;
      std::printf("%s\n", ControlLine(proxy, line).c_str());
      std::fflush(stdout);
    }
  }
}

}  // namespace

Result<FaultProxyOptions> ParseChaosProxyArgs(const std::vector<std::string>& args) {
  FaultProxyOptions o;
  SLUICE_TRY_STATUS(ParseFlags(args, o, false));
  if (o.upstream.empty()) {
    return Fail(ErrorCode::kInvalidInput, "chaos-proxy: --upstream HOST:PORT is required");
  }
  return o;
}

Result<ProxyFault> ParseFaultLine(std::string_view line) {
  std::vector<std::string> words;
  for (const std::string& w : Split(Trim(line), ' ')) {
    if (!Trim(w).empty()) words.emplace_back(Trim(w));
  }
  if (words.size() == 1 && words[0] == "none") return ProxyFault{};
  if (words.empty()) return Fail(ErrorCode::kInvalidInput, "chaos-proxy: an empty fault");
  FaultProxyOptions o;
  SLUICE_TRY_STATUS(ParseFlags(words, o, true));
  return o.fault;
}

std::string ControlLine(FaultProxy& proxy, std::string_view line) {
  if (Trim(line) == "counters") return CountersJson(proxy.counters());
  auto fault = ParseFaultLine(line);
  if (fault) {
    if (auto set = proxy.Set(*fault); !set) fault = std::unexpected(set.error());
  }
  if (!fault) return "error " + fault.error().message;
  return "ok " + DescribeFault(*fault);
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
  // The signals are blocked before the loop thread starts, which inherits the mask, and read
  // here from a signalfd beside stdin: neither interrupts the loop.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  auto proxy = FaultProxy::Start(*options);
  if (!proxy) {
    // As every sluice command reports (cli_support.h, Report): input errors bare, others
    // prefixed.
    const bool input = proxy.error().code == ErrorCode::kInvalidInput;
    std::fprintf(stderr, "%s%s\n", input ? "" : "sluice: ", proxy.error().message.c_str());
    return input ? 2 : 3;
  }
  std::printf("%s\n", (*proxy)->address().c_str());
  std::fflush(stdout);
  std::fprintf(stderr, "chaos-proxy: %s -> %s, fault: %s\n", (*proxy)->address().c_str(),
               options->upstream.c_str(), DescribeFault(options->fault).c_str());
  if (const int signals = signalfd(-1, &stop, SFD_CLOEXEC); signals >= 0) {
    ReadControlLines(**proxy, signals);
    close(signals);
  } else {  // no control lines then, but the signals still end the proxy
    int sig = 0;
    sigwait(&stop, &sig);
  }
  (*proxy)->Stop();
  std::printf("%s\n", CountersJson((*proxy)->counters()).c_str());
  return 0;
}

}  // namespace sluice
