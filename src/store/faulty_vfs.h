// Fault injection under the store: a SQLite VFS whose Nth fsync fails (see env/faults.h).
#pragma once

namespace sluice {

// Registers the VFS (once per process), arms it to fail fsync number `fail_fsync_at` (1-based,
// counted over every file it opened from now on) and returns its name for sqlite3_open_v2.
const char* FaultyVfs(int fail_fsync_at);

}  // namespace sluice
