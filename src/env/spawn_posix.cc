// Starting one program: vfork and execve with a minimal child (spawn_posix.h), for the process
// launcher.
#include "env/spawn_posix.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

namespace sluice {
namespace {

// What a child does between its creation and execve(), all prepared by the parent: the child
// only makes system calls on these, never allocates or writes memory other than `*error` (the
// parent's, shared under CLONE_VM) — what async-signal-safety demands of a vfork child.
struct ChildPlan {
  const char* const* candidates;  // the program's possible paths, in PATH order
  size_t n_candidates;
  char* const* argv;
  char* const* envp;
  const char* cwd;  // nullptr: the parent's
  int out_fd, err_fd;
  const int* reset;  // signals to set back to SIG_DFL
  size_t n_reset;
  int file_mask;  // the file mode creation mask the program gets; < 0: this process's
  volatile int* error;
};

// Puts `fd` at `target` for the program (without FD_CLOEXEC).
bool MoveFd(int fd, int target) {
  if (fd == target) return fcntl(fd, F_SETFD, 0) == 0;
  return dup2(fd, target) == target;
}

// Runs in the child. Not instrumented: the child shares the parent's memory, and the
// sanitizers' bookkeeping there would be the parent's.
[[noreturn]] __attribute__((noinline, no_sanitize("address", "undefined"))) int RunChild(
    void* plan) {
  const ChildPlan& p = *static_cast<const ChildPlan*>(plan);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (size_t i = 0; i < p.n_reset; ++i) sigaction(p.reset[i], &dfl, nullptr);
  if (p.file_mask >= 0) umask(static_cast<mode_t>(p.file_mask));
  sigset_t none;
  sigemptyset(&none);
  int in = -1;
  // Signals are unblocked last, once the child is in its own process group: a Ctrl-C meant
  // for Sluice never reaches a child that has not started its program yet.
  bool ok = setpgid(0, 0) == 0 && (in = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0 &&
            MoveFd(in, 0) && MoveFd(p.out_fd, 1) && MoveFd(p.err_fd, 2) &&
            (!p.cwd || chdir(p.cwd) == 0) && sigprocmask(SIG_SETMASK, &none, nullptr) == 0;
  int err = ok ? ENOENT : errno;
  for (size_t i = 0; ok && i < p.n_candidates; ++i) {
    execve(p.candidates[i], p.argv, p.envp);
    // Like execvp: a later directory may hold a program by the same name that can run, and
    // "permission denied" wins over "no such file" when none could.
    if (errno == EACCES) {
      err = EACCES;
    } else if (errno != ENOENT && errno != ENOTDIR) {
      err = errno;
      break;
    }
  }
  *p.error = err;
  _exit(127);
}

}  // namespace

SpawnSetup CurrentSpawnSetup(int child_umask) {
  SpawnSetup s;
  s.child_umask = child_umask;
  // What a task starts with: these signals at their default disposition, even when this
  // process ignores them (nohup, a shell's SIGPIPE); others as inherited, as with exec.
  for (int sig : {SIGINT, SIGTERM, SIGCHLD, SIGPIPE, SIGQUIT, SIGHUP}) {
    struct sigaction sa;
    if (sigaction(sig, nullptr, &sa) != 0 || sa.sa_handler != SIG_DFL) {
      s.reset.push_back(sig);
    }
  }
  // Where programs named without a '/' are looked for: this process's PATH, read once.
  const char* env = std::getenv("PATH");
  std::string_view dirs = env ? env : "/bin:/usr/bin";  // glibc's default
  while (true) {
    size_t colon = dirs.find(':');
    std::string_view dir = dirs.substr(0, colon);
    s.path_dirs.push_back(dir.empty() ? std::string(".") : std::string(dir));
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return s;
}

int OpenLogFile(const std::string& path) {
  return open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);  // as the umask allows
}

Result<int> SpawnProgram(const SpawnSetup& setup, const std::vector<std::string>& argv_in,
                         const std::vector<std::string>& env, const std::string& cwd, int out_fd,
                         int err_fd, int32_t* pid_word) {
  std::vector<char*> argv, envp;
  for (const auto& a : argv_in) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  // The PATH search, as execvp does it, prepared here rather than in the child.
  std::vector<std::string> paths;
  const std::string& name = argv_in[0];
  if (name.find('/') != std::string::npos) {
    paths.push_back(name);
  } else {
    for (const auto& dir : setup.path_dirs) paths.push_back(dir + "/" + name);
  }
  std::vector<const char*> candidates;
  for (const auto& c : paths) candidates.push_back(c.c_str());
  volatile int child_error = 0;
  ChildPlan plan{candidates.data(), candidates.size(), argv.data(), envp.data(),
                 cwd.empty() ? nullptr : cwd.c_str(), out_fd, err_fd,
                 setup.reset.data(), setup.reset.size(), setup.child_umask, &child_error};
  // vfork's way (the parent waits, sharing its memory, until the child runs the program or
  // exits) rather than posix_spawn: glibc's child asks for and resets the disposition of all
  // 64 signals (~130 system calls, while this process waits); this child makes the handful of
  // calls it needs. clone() rather than vfork() for CLONE_PARENT_SETTID: the kernel writes the
  // pid into `pid_word` before the child runs, so a keeper reading it after this process died
  // knows every child that may have begun, however early the death came.
  constexpr size_t kChildStack = 64 * 1024;  // the child's calls, and lazy symbol binding
  std::unique_ptr<char[]> stack(new char[kChildStack]);
  int32_t unused_word = 0;
  pid_t pid = clone(RunChild, stack.get() + kChildStack,
                    CLONE_VM | CLONE_VFORK | CLONE_PARENT_SETTID | SIGCHLD, &plan,
                    pid_word ? pid_word : &unused_word);
  int spawn_error = pid < 0 ? errno : child_error;
  if (pid > 0 && spawn_error != 0) {
    int status;
    waitpid(pid, &status, 0);  // the child exited without running the program
  }
  if (spawn_error != 0) {
    return Fail(ErrorCode::kIo, "cannot start {}: {}", argv_in[0], strerror(spawn_error));
  }
  return pid;
}

}  // namespace sluice
