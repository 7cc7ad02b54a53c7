// Fault injection under the store: a SQLite VFS whose Nth fsync fails, or whose disk fills up
// (see env/faults.h).
#pragma once

namespace sluice {

// The faults injected under a store (SLUICE_FAULTS fsync-fail@N, disk-full@N); 0 = none.
struct StoreFaults {
  int fsync_fail_at = 0;  // this fsync (1-based) fails
  int disk_full_at = 0;   // from this commit (1-based) of the store's on, every write fails: full
  bool any() const { return fsync_fail_at > 0 || disk_full_at > 0; }
};

// Registers the VFS (once per process), arms it to fail fsync number `fail_fsync_at` (1-based,
// counted over every file it opened from now on; 0: none), with room on its disk, and returns
// its name for sqlite3_open_v2.
const char* FaultyVfs(int fail_fsync_at);
// The VFS's disk is full from now on: every write answers SQLITE_FULL.
void FillFaultyVfsDisk();

}  // namespace sluice
