#include "frontend/core/slot_pool.h"

#include <algorithm>
#include <cassert>

namespace medvault::frontend {

bool SlotPool::TryTake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (in_use_ < slots_) {
      ++in_use_;
      peak_ = std::max(peak_, in_use_);
      return true;
    }
  }
  denials_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void SlotPool::Give() {
  std::lock_guard<std::mutex> lock(mu_);
  assert(in_use_ > 0);
  --in_use_;
}

uint32_t SlotPool::in_use() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_use_;
}

uint32_t SlotPool::peak() const {
  std::lock_guard<std::mutex> lock(mu_);
  return peak_;
}

SlotPool::Lease& SlotPool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    Release();
    pool_ = other.pool_;
    other.pool_ = nullptr;
  }
  return *this;
}

void SlotPool::Lease::Release() {
  if (pool_ != nullptr) pool_->Give();
  pool_ = nullptr;
}

}  // namespace medvault::frontend
