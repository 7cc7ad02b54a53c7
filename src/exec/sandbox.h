// The private mount namespace of an attempt with private paths (AttemptRequest::private_paths,
// docs/spec.md 5.2): bubblewrap runs the program where each private path is a folder of the
// attempt's own (as is anything made directly in /), the attempt's folder is /attempt (the
// program starts there), and the rest of the host is read-only. Imported Argo steps use it for the absolute paths they read and write
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

// The argv that runs `argv` sandboxed: `bwrap` (its path), `work`/root as the root, the host's
// top-level entries `host_entries` (names in /) bound read-only in it except /proc, /dev and the
// private tops (which are so their folders in `work`/root), `work` at /attempt, and each of `shared`
// (absolute host folders, such as the artifact store the attempt's inputs are read from) bound
// read-only at its own path where a private top would hide it.
std::vector<std::string> SandboxArgv(const std::string& bwrap,
                                     const std::vector<std::string>& host_entries,
                                     const std::vector<std::string>& private_paths,
                                     const std::string& work,
                                     const std::vector<std::string>& shared,
                                     const std::vector<std::string>& argv);

}  // namespace sluice
