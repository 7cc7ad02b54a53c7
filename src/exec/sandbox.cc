#include "exec/sandbox.h"

#include <algorithm>

namespace sluice {

std::string PrivateFolder(const std::string& work, const std::string& path) {
  return work + "/root" + path;
}

std::vector<std::string> PrivateTops(const std::vector<std::string>& private_paths) {
  std::vector<std::string> tops = {"/tmp"};
  for (const std::string& p : private_paths) {
    std::string top = p.substr(0, p.find('/', 1));
    if (std::ranges::find(tops, top) == tops.end()) tops.push_back(top);
  }
  return tops;
}

std::vector<std::string> SandboxArgv(const std::string& bwrap,
                                     const std::vector<std::string>& host_entries,
                                     const std::vector<std::string>& private_paths,
                                     const std::string& work,
                                     const std::vector<std::string>& shared,
                                     const std::vector<std::string>& argv) {
  const std::vector<std::string> tops = PrivateTops(private_paths);
  // No --die-with-parent: an attempt outlives a crash of the engine, kept by the run's keeper.
  // The sandbox's root is the attempt's `root` folder: a private top is its folder there, and
  // so is anything made directly in / (Argo's `/output`).
  std::vector<std::string> out = {bwrap, "--bind", work + "/root", "/"};
  for (const std::string& e : host_entries) {
    const std::string path = "/" + e;
    if (e == "proc" || e == "dev" || e == "attempt" || std::ranges::find(tops, path) != tops.end()) {
      continue;
    }
    out.insert(out.end(), {"--ro-bind", path, path});
  }
  out.insert(out.end(), {"--proc", "/proc", "--dev", "/dev"});
  for (const std::string& path : shared) {
    const bool hidden = std::ranges::any_of(tops, [&](const std::string& top) {
      return path.starts_with(top + "/");
    });
    if (hidden) out.insert(out.end(), {"--ro-bind", path, path});
  }
  out.insert(out.end(), {"--bind", work, "/attempt", "--chdir", "/attempt",
                         "--setenv", "SLUICE_ATTEMPT_DIR", "/attempt", "--"});
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

}  // namespace sluice
