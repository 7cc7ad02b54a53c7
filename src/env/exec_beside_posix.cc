// ExecBeside and SpawnBesideDetached (env.h).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "env/env.h"

namespace sluice {

namespace {

Result<std::string> Beside(const char* name) {
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) {
    return Fail(ErrorCode::kIo, "cannot find this program's folder: {}", strerror(errno));
  }
  std::string path(self, static_cast<size_t>(n));
  return path.substr(0, path.rfind('/') + 1) + name;
}

}  // namespace

Result<std::string> ProgramBeside(const char* name) { return Beside(name); }

Status SpawnBesideDetached(const char* name, const std::vector<std::string>& args,
                           const std::string& log_path, const std::vector<std::string>* env) {
  SLUICE_TRY(path, Beside(name));
  // Everything the children need is made before the fork: between fork and exec they only
  // call async-signal-safe functions (this process has threads).
  std::vector<std::string> owned{*path};
  owned.insert(owned.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : owned) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> vars;
  if (env) {
    vars = *env;
  } else {
    for (char** e = environ; *e; ++e) vars.emplace_back(*e);
  }
  std::vector<char*> envp;
  for (auto& v : vars) envp.push_back(v.data());
  envp.push_back(nullptr);
  const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log < 0) return Fail(ErrorCode::kIo, "cannot open {}: {}", log_path, strerror(errno));
  const int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  sigset_t none;
  sigemptyset(&none);
  const pid_t child = fork();
  if (child == 0) {
    // The first child only starts the second and ends, so that the program is nobody's child
    // here (init reaps it) and this process has only this one to wait for.
    if (fork() == 0) {
      setsid();
      sigprocmask(SIG_SETMASK, &none, nullptr);
      dup2(null, 0);
      dup2(log, 1);
      dup2(log, 2);
      // Nothing else of this process's: its clients' connections are not close-on-exec.
      close_range(3, ~0U, 0);
      execve(argv[0], argv.data(), envp.data());
      static const char kMsg[] = "sluice: cannot run the engine program\n";
      (void)!write(2, kMsg, sizeof(kMsg) - 1);
      _exit(127);
    }
    _exit(0);
  }
  const int e = errno;
  close(log);
  if (null >= 0) close(null);
  if (child < 0) return Fail(ErrorCode::kIo, "cannot start {}: {}", *path, strerror(e));
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return {};
}

Error ExecBeside(const char* name, char** argv) {
  auto beside = Beside(name);
  if (!beside) return beside.error();
  std::string path = *beside;
  argv[0] = path.data();
  execv(path.c_str(), argv);
  return Error(ErrorCode::kIo, fmt::format("cannot run {}: {} (it is installed beside sluice)",
                                           path, strerror(errno)));
}

}  // namespace sluice
