// The private mount namespace of an attempt with private paths (AttemptRequest::private_paths,
// docs/spec.md 5.2): bubblewrap runs the program where each private path is a folder of the
// attempt's own, the attempt's folder is /attempt (the program starts there), and the rest of
// the host is read-only. Imported Argo steps use it for the absolute paths they read and write
// (/tmp/message), so the host's /tmp is never touched. Pure.
#pragma once

#include <string>
#include <vector>

namespace sluice {

// The folder of the attempt that stands for the private path `path`: WORK/root/PATH.
std::string PrivateFolder(const std::string& work, const std::string& path);

// The top-level folder each private path lies in ("/mnt" for "/mnt/out"), each once, "/tmp"
// always among them: a whole top-level folder is private, so that a path the host lacks can be
// made inside it.
std::vector<std::string> PrivateTops(const std::vector<std::string>& private_paths);

// The argv that runs `argv` sandboxed: `bwrap` (its path), the host's top-level entries
// `host_entries` (names in /) bound read-only except /proc, /dev and the private tops, each
// private top bound from its folder under `work`, and `work` at /attempt.
std::vector<std::string> SandboxArgv(const std::string& bwrap,
                                     const std::vector<std::string>& host_entries,
                                     const std::vector<std::string>& private_paths,
                                     const std::string& work,
                                     const std::vector<std::string>& argv);

}  // namespace sluice
