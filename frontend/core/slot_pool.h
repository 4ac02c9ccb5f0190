// A fixed number of slots, taken without blocking. The frontend keeps two: its chunk budget (the
// sealed chunks puts and reads may hold beyond the one each is working on: their windows grow
// only with slots from it, so with the budget spent a transfer goes on one chunk at a time, slower
// but never stuck) and its limit on transfers at once (a put or read beyond it is refused).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#include "absl/base/thread_annotations.h"

namespace medvault::frontend {

// Thread-safe. Never blocks: a caller that gets no slot does without.
class SlotPool {
 public:
  // 0 slots: every TryTake is refused.
  explicit SlotPool(uint32_t slots) : slots_(slots) {}

  // Takes one slot; false (and counts a denial) when all are in use.
  bool TryTake();
  // Returns one slot taken by TryTake.
  void Give();

  // A slot held for as long as the lease lives. Movable; an empty lease holds none.
  class Lease {
   public:
    Lease() = default;
    explicit Lease(SlotPool* pool) : pool_(pool) {}
    Lease(Lease&& other) noexcept : pool_(other.pool_) { other.pool_ = nullptr; }
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { Release(); }
    void Release();
    bool held() const { return pool_ != nullptr; }

   private:
    SlotPool* pool_ = nullptr;
  };
  // A lease on one slot, or an empty one when none is free.
  Lease TryLease() { return TryTake() ? Lease(this) : Lease(); }

  uint32_t slots() const { return slots_; }
  uint32_t in_use() const;
  // The most slots ever in use at once, and how often a slot was asked for and not given.
  uint32_t peak() const;
  uint64_t denials() const { return denials_.load(std::memory_order_relaxed); }
  const std::atomic<uint64_t>& denial_counter() const { return denials_; }

 private:
  const uint32_t slots_;
  mutable std::mutex mu_;
  uint32_t in_use_ ABSL_GUARDED_BY(mu_) = 0;
  uint32_t peak_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<uint64_t> denials_{0};
};

}  // namespace medvault::frontend
