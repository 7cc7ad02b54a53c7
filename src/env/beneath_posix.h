// The posix file system's reads of files a task controls and of input files: bounded before
// reading, regular files only, and (beneath a folder) no symbolic link leading out of it. Used
// by env_posix.cc only; see FileSystem in env.h for the contracts.
#pragma once

#include <string>
#include <vector>

#include "env/env.h"

namespace sluice {

// FileSystem::ReadFileAtMost.
Result<std::string> PosixReadFileAtMost(const std::string& path, int64_t max_bytes);
// FileSystem::ReadFileRange.
Result<std::string> PosixReadFileRange(const std::string& path, int64_t offset, int64_t max_bytes);
// FileSystem::ReadFileBeneath.
Result<std::string> PosixReadFileBeneath(const std::string& root, const std::string& rel,
                                         int64_t max_bytes);
// FileSystem::CopyBeneath.
Result<std::vector<CopiedEntry>> PosixCopyBeneath(const std::string& root, const std::string& rel,
                                                  const std::string& dest,
                                                  const CopyLimits& limits);

}  // namespace sluice
