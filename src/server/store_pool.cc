// The server's pool of store handles (store_pool.h).
#include "server/store_pool.h"

#include <chrono>

#include "store/store.h"

namespace sluice {

StorePool::StorePool(Opener open, int size, int64_t wait_us)
    : open_(std::move(open)), size_(size), wait_us_(wait_us) {}

StorePool::~StorePool() = default;

Result<Store*> StorePool::Checkout(bool* busy) {
  *busy = false;
  std::unique_lock<std::mutex> l(mu_);
  // Waits on the condition variable's own clock: a deadline, not a clock reading of ours.
  const bool got = freed_.wait_for(l, std::chrono::microseconds(wait_us_), [&] {
    return !free_.empty() || static_cast<int>(all_.size()) + opening_ < size_;
  });
  if (!got) {
    *busy = true;
    return Fail(ErrorCode::kStore,
                "all {} store handles of this server are in use (--store-handles); try again later",
                size_);
  }
  if (!free_.empty()) {
    Store* s = free_.back();
    free_.pop_back();
    return s;
  }
  // Opened outside the lock: a PostgreSQL connection takes milliseconds, and the other
  // requests give back and take handles meanwhile.
  ++opening_;
  l.unlock();
  auto opened = open_();
  l.lock();
  --opening_;
  if (!opened) {
    freed_.notify_one();  // the slot it would have taken is free again
    return std::unexpected(opened.error());
  }
  all_.push_back(std::move(*opened));
  return all_.back().get();
}

void StorePool::Return(Store* s) {
  {
    std::lock_guard<std::mutex> l(mu_);
    free_.push_back(s);
  }
  freed_.notify_one();
}

int StorePool::open() const {
  std::lock_guard<std::mutex> l(mu_);
  return static_cast<int>(all_.size());
}

}  // namespace sluice
