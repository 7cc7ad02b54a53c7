// ExecBeside (env.h).
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "env/env.h"

namespace sluice {

Error ExecBeside(const char* name, char** argv) {
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) {
    return Error(ErrorCode::kIo, fmt::format("cannot find this program's folder: {}", strerror(errno)));
  }
  std::string path(self, static_cast<size_t>(n));
  path = path.substr(0, path.rfind('/') + 1) + name;
  argv[0] = path.data();
  execv(path.c_str(), argv);
  return Error(ErrorCode::kIo, fmt::format("cannot run {}: {} (it is installed beside sluice)",
                                           path, strerror(errno)));
}

}  // namespace sluice
