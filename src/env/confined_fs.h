// A read-only view of a FileSystem confined to one folder: what the server loads a submitted
// bundle through (submit.cc, schedules_api.cc), so that a pipeline naming `imports: [/etc/x]` or
// `../../secret.yaml` gets "outside the files" instead of an error that quotes the file's text.
//
// Paths are judged lexically after FileSystem::Absolute (no symlink resolution): the bundles it
// is used on are written by the server from the request's text and hold no links. Every write
// is refused.
#pragma once

#include <memory>
#include <string>

#include "env/env.h"

namespace sluice {

// `base` seen through `root` (an absolute folder): reads of paths below root pass through, any
// other read fails with kInvalidInput "PATH is outside the files uploaded with it" (and Stat
// says such a path is a file, whatever is there, so that callers read it and say so); writes
// fail with kInvalidInput. `base` must outlive it.
std::unique_ptr<FileSystem> NewConfinedReader(FileSystem& base, std::string root);

}  // namespace sluice
