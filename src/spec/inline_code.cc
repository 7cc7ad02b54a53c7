#include "spec/inline_code.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace sluice {

namespace {

std::string_view BaseName(std::string_view s) {
  size_t slash = s.rfind('/');
  return slash == std::string_view::npos ? s : s.substr(slash + 1);
}

template <size_t N>
bool OneOf(std::string_view s, const std::array<std::string_view, N>& names) {
  return std::find(names.begin(), names.end(), s) != names.end();
}

// Programs that start the program named after them (with options or values between).
constexpr std::array<std::string_view, 17> kWrappers = {
    "env",   "nice",    "nohup", "timeout", "stdbuf",  "setsid", "ionice",  "chrt",  "taskset",
    "time",  "sudo",    "doas",  "busybox", "command", "exec",   "unbuffer", "xargs"};
constexpr std::array<std::string_view, 12> kShells = {
    "sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "yash", "posh", "fish", "csh", "tcsh"};
constexpr std::array<std::string_view, 4> kAwks = {"awk", "gawk", "mawk", "nawk"};

bool IsPython(std::string_view p) {
  for (std::string_view stem : {"python", "pypy"}) {
    if (p.substr(0, stem.size()) != stem) continue;
    std::string_view rest = p.substr(stem.size());
    if (std::all_of(rest.begin(), rest.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '.'; })) {
      return true;
    }
  }
  return false;
}

// An option of a shell: its letters; `-c` (alone or in a cluster: -ec, -xc) makes the first
// argument after the options the command string; -o/-O (alone or ending a cluster) and
// --rcfile/--init-file take the next argument.
std::optional<size_t> ShellCode(const std::vector<std::string_view>& args, size_t i) {
  bool code = false;
  for (++i; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == "--") return code && i + 1 < args.size() ? std::optional<size_t>(i + 1) : std::nullopt;
    if (a.size() < 2 || (a[0] != '-' && a[0] != '+')) break;
    if (a[1] == '-') {
      if (a == "--rcfile" || a == "--init-file") ++i;
      continue;
    }
    if (a.find('c') != std::string_view::npos && a[0] == '-') code = true;
    if (a.back() == 'o' || a.back() == 'O') ++i;
  }
  return code && i < args.size() ? std::optional<size_t>(i) : std::nullopt;
}

// Interpreters whose options are getopt-like clusters: `flags` are the letters whose value is
// code (python -c, perl -e/-E, ruby -e, php -r), `takes` the letters that take a value; the
// value is the rest of the cluster or the next argument. The first non-option ends the options
// (a script file), as does a letter of `stops`.
std::optional<size_t> ClusterCode(const std::vector<std::string_view>& args, size_t i,
                                  std::string_view flags, std::string_view takes,
                                  std::string_view stops = "") {
  for (++i; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a.size() < 2 || a[0] != '-' || a[1] == '-') return std::nullopt;
    for (size_t k = 1; k < a.size(); ++k) {
      if (stops.find(a[k]) != std::string_view::npos) return std::nullopt;  // python -m MODULE
      bool code = flags.find(a[k]) != std::string_view::npos;
      if (!code && takes.find(a[k]) == std::string_view::npos) continue;
      if (k + 1 < a.size()) {
        if (code) return i;  // -cCODE
        break;               // -Wdefault: the value is the rest
      }
      if (code) return i + 1 < args.size() ? std::optional<size_t>(i + 1) : std::nullopt;
      ++i;  // -W default
      break;
    }
  }
  return std::nullopt;
}

// node: -e/--eval/-p/--print CODE, or --eval=CODE.
std::optional<size_t> NodeCode(const std::vector<std::string_view>& args, size_t i) {
  for (++i; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a.empty() || a[0] != '-') return std::nullopt;
    if (a.starts_with("--eval=") || a.starts_with("--print=")) return i;
    if (a == "-e" || a == "--eval" || a == "-p" || a == "--print") {
      return i + 1 < args.size() ? std::optional<size_t>(i + 1) : std::nullopt;
    }
  }
  return std::nullopt;
}

// awk: the first argument after the options is the program, unless -f names a program file.
std::optional<size_t> AwkCode(const std::vector<std::string_view>& args, size_t i) {
  for (++i; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == "--") return i + 1 < args.size() ? std::optional<size_t>(i + 1) : std::nullopt;
    if (a.size() < 2 || a[0] != '-') return i;
    if (a == "-f" || a.starts_with("--file")) return std::nullopt;
    if (a == "-F" || a == "-v") ++i;
  }
  return std::nullopt;
}

}  // namespace

std::optional<InlineCode> FindInlineCode(const std::vector<std::string_view>& args) {
  size_t i = 0;
  // Through wrappers: the interpreter is the first later argument named like one.
  while (i < args.size() && OneOf(BaseName(args[i]), kWrappers)) {
    size_t next = i + 1;
    while (next < args.size()) {
      std::string_view b = BaseName(args[next]);
      if (OneOf(b, kWrappers) || OneOf(b, kShells) || OneOf(b, kAwks) || IsPython(b) ||
          b == "perl" || b == "ruby" || b == "node" || b == "nodejs" || b == "php") {
        break;
      }
      ++next;
    }
    if (next >= args.size()) return std::nullopt;
    i = next;
  }
  if (i >= args.size()) return std::nullopt;
  const std::string program(BaseName(args[i]));
  std::optional<size_t> code;
  std::string flag;
  if (OneOf(BaseName(args[i]), kShells)) {
    code = ShellCode(args, i), flag = " -c";
  } else if (IsPython(program)) {
    code = ClusterCode(args, i, "c", "WXQ", "m"), flag = " -c";
  } else if (program == "perl") {
    code = ClusterCode(args, i, "eE", ""), flag = " -e";
  } else if (program == "ruby") {
    code = ClusterCode(args, i, "e", "IrCEF"), flag = " -e";
  } else if (program == "php") {
    code = ClusterCode(args, i, "r", "cdz"), flag = " -r";
  } else if (program == "node" || program == "nodejs") {
    code = NodeCode(args, i), flag = " -e";
  } else if (OneOf(BaseName(args[i]), kAwks)) {
    code = AwkCode(args, i);
  }
  if (!code) return std::nullopt;
  return InlineCode{*code, program + flag};
}

}  // namespace sluice
