// A SQLite VFS that wraps the default one and fails the Nth fsync (xSync) of any file it opened,
// or, once its disk is filled, every write (xWrite) with SQLITE_FULL, as a full disk does: fault
// injection below the store, so tests see exactly what SQLite does with them.
#include "store/faulty_vfs.h"

#include <sqlite3.h>

#include <atomic>
#include <cstring>

namespace sluice {
namespace {

struct FaultyFile {
  sqlite3_file base;
  sqlite3_file* real;
};

sqlite3_vfs* g_real = nullptr;
sqlite3_vfs g_vfs;
std::atomic<int> g_syncs{0};
std::atomic<int> g_fail_at{0};
std::atomic<bool> g_full{false};

sqlite3_file* Real(sqlite3_file* f) { return reinterpret_cast<FaultyFile*>(f)->real; }

int Close(sqlite3_file* f) {
  sqlite3_file* r = Real(f);
  int rc = r->pMethods ? r->pMethods->xClose(r) : SQLITE_OK;
  sqlite3_free(r);
  return rc;
}
int Read(sqlite3_file* f, void* b, int n, sqlite3_int64 off) { return Real(f)->pMethods->xRead(Real(f), b, n, off); }
int Write(sqlite3_file* f, const void* b, int n, sqlite3_int64 off) {
  if (g_full.load()) return SQLITE_FULL;
  return Real(f)->pMethods->xWrite(Real(f), b, n, off);
}
int Truncate(sqlite3_file* f, sqlite3_int64 size) { return Real(f)->pMethods->xTruncate(Real(f), size); }
int Sync(sqlite3_file* f, int flags) {
  if (++g_syncs == g_fail_at.load()) return SQLITE_IOERR_FSYNC;
  return Real(f)->pMethods->xSync(Real(f), flags);
}
int FileSize(sqlite3_file* f, sqlite3_int64* size) { return Real(f)->pMethods->xFileSize(Real(f), size); }
int Lock(sqlite3_file* f, int l) { return Real(f)->pMethods->xLock(Real(f), l); }
int Unlock(sqlite3_file* f, int l) { return Real(f)->pMethods->xUnlock(Real(f), l); }
int CheckReservedLock(sqlite3_file* f, int* out) { return Real(f)->pMethods->xCheckReservedLock(Real(f), out); }
int FileControl(sqlite3_file* f, int op, void* arg) { return Real(f)->pMethods->xFileControl(Real(f), op, arg); }
int SectorSize(sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); }
int DeviceCharacteristics(sqlite3_file* f) { return Real(f)->pMethods->xDeviceCharacteristics(Real(f)); }
int ShmMap(sqlite3_file* f, int pg, int sz, int extend, void volatile** pp) {
  return Real(f)->pMethods->xShmMap(Real(f), pg, sz, extend, pp);
}
int ShmLock(sqlite3_file* f, int off, int n, int flags) { return Real(f)->pMethods->xShmLock(Real(f), off, n, flags); }
void ShmBarrier(sqlite3_file* f) { Real(f)->pMethods->xShmBarrier(Real(f)); }
int ShmUnmap(sqlite3_file* f, int del) { return Real(f)->pMethods->xShmUnmap(Real(f), del); }
int Fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** pp) {
  if (Real(f)->pMethods->iVersion < 3) {
    *pp = nullptr;
    return SQLITE_OK;
  }
  return Real(f)->pMethods->xFetch(Real(f), off, n, pp);
}
int Unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
  if (Real(f)->pMethods->iVersion < 3) return SQLITE_OK;
  return Real(f)->pMethods->xUnfetch(Real(f), off, p);
}

const sqlite3_io_methods kMethods = {
    3,           Close,      Read,  Write, Truncate,    Sync,
    FileSize,    Lock,       Unlock, CheckReservedLock, FileControl, SectorSize,
    DeviceCharacteristics, ShmMap, ShmLock, ShmBarrier, ShmUnmap,   Fetch,
    Unfetch};

int Open(sqlite3_vfs*, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  auto* ff = reinterpret_cast<FaultyFile*>(file);
  ff->base.pMethods = nullptr;  // until the real file is open, SQLite must not close it
  ff->real = static_cast<sqlite3_file*>(sqlite3_malloc(g_real->szOsFile));
  if (!ff->real) return SQLITE_NOMEM;
  std::memset(ff->real, 0, g_real->szOsFile);
  int rc = g_real->xOpen(g_real, name, ff->real, flags, out_flags);
  if (rc != SQLITE_OK || !ff->real->pMethods) {
    if (ff->real->pMethods) ff->real->pMethods->xClose(ff->real);
    sqlite3_free(ff->real);
    ff->real = nullptr;
    return rc == SQLITE_OK ? SQLITE_CANTOPEN : rc;
  }
  ff->base.pMethods = &kMethods;
  return SQLITE_OK;
}

}  // namespace

const char* FaultyVfs(int fail_fsync_at) {
  if (!g_real) {
    g_real = sqlite3_vfs_find(nullptr);
    g_vfs = *g_real;
    g_vfs.zName = "sluice-faulty";
    g_vfs.szOsFile = static_cast<int>(sizeof(FaultyFile));
    g_vfs.xOpen = Open;
    g_vfs.pNext = nullptr;
    sqlite3_vfs_register(&g_vfs, 0);
  }
  g_syncs = 0;
  g_fail_at = fail_fsync_at;
  g_full = false;
  return g_vfs.zName;
}

void FillFaultyVfsDisk() { g_full = true; }

}  // namespace sluice
