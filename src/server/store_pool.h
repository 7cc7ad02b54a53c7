// A bounded pool of store handles for the requests of `sluice server` (docs/server.md, "Store
// handles").
//
// Design. A Store (one SQLite connection with its files, or one PostgreSQL connection) is used
// by one thread at a time, and each costs the database something: a PostgreSQL connection
// counts against the server's max_connections, a SQLite one holds about three file
// descriptors. The first server opened one per HTTP connection, for as long as the connection
// lived and before its token was checked: 110 idle keep-alive connections took all of
// PostgreSQL's connections, and the engines then failed to open theirs. So handles are checked
// out per request, at its first store read, and given back when its answer is made (a stream
// gives its handle back after each step, before it waits for more). At most `size` handles
// exist; a request that finds none free waits up to `wait_us` for one, then gets a 503 with
// Retry-After (server.cc). Handles are opened lazily and kept open once opened.
//
// Rejected: a handle per thread (the old way; threads are per connection), and a single shared
// handle under a mutex (every request would queue behind a long read, such as a large event
// page).
//
// Thread-safe.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "common/error.h"

namespace sluice {

class Store;

class StorePool {
 public:
  // Opens one more handle; called with no lock held.
  using Opener = std::function<Result<std::unique_ptr<Store>>()>;
  // REQUIRES: size >= 1, wait_us >= 0.
  StorePool(Opener open, int size, int64_t wait_us);
  ~StorePool();

  // A free handle, opening one while fewer than `size` exist, else the first one given back
  // within `wait_us`. On failure: the opener's error, or, when none came back in time, an error
  // with `*busy` set (the caller answers 503).
  Result<Store*> Checkout(bool* busy);
  // Gives `s` (from Checkout) back for the next request.
  void Return(Store* s);

  int size() const { return size_; }
  // How many handles are open now (at most size()).
  int open() const;

 private:
  const Opener open_;
  const int size_;
  const int64_t wait_us_;
  mutable std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Store>> all_;
  std::vector<Store*> free_;
  int opening_ = 0;  // handles being opened outside the lock, counted against size_
};

}  // namespace sluice
