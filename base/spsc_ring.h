// Single-producer single-consumer ring: how the control plane hands
// commands to a worker (and how a worker could answer) without locks.
// Capacity is a power of two; head and tail sit on their own cache lines.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace vox {

template <class T>
class SpscRing {
 public:
  explicit SpscRing(size_t capacity)
      : cap_(std::bit_ceil(capacity)), mask_(cap_ - 1), slots_(new T[cap_]) {}

  // Producer side. False when full.
  bool push(const T& v) {
    uint64_t t = tail_.load(std::memory_order_relaxed);
    if (t - head_cache_ == cap_) {
      head_cache_ = head_.load(std::memory_order_acquire);
      if (t - head_cache_ == cap_) return false;
    }
    slots_[t & mask_] = v;
    tail_.store(t + 1, std::memory_order_release);
    return true;
  }

  // Consumer side. False when empty.
  bool pop(T& out) {
    uint64_t h = head_.load(std::memory_order_relaxed);
    if (h == tail_cache_) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (h == tail_cache_) return false;
    }
    out = slots_[h & mask_];
    head_.store(h + 1, std::memory_order_release);
    return true;
  }

  // In place, for large slots (no copy in or out). Producer: the next free
  // slot (null when full), filled and then made visible with publish().
  T* claim() {
    const uint64_t t = tail_.load(std::memory_order_relaxed);
    if (t - head_cache_ == cap_) {
      head_cache_ = head_.load(std::memory_order_acquire);
      if (t - head_cache_ == cap_) return nullptr;
    }
    return &slots_[t & mask_];
  }
  void publish() { tail_.store(tail_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }
  // Consumer: the i-th unread slot (null when fewer are there), and the
  // first n given back with consume(n).
  const T* peek(size_t i) {
    const uint64_t h = head_.load(std::memory_order_relaxed);
    if (h + i >= tail_cache_) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (h + i >= tail_cache_) return nullptr;
    }
    return &slots_[(h + i) & mask_];
  }
  void consume(size_t n) { head_.store(head_.load(std::memory_order_relaxed) + n, std::memory_order_release); }

  bool empty() const {
    return head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_acquire);
  }
  size_t capacity() const { return cap_; }

 private:
  const size_t cap_, mask_;
  std::unique_ptr<T[]> slots_;
  alignas(64) std::atomic<uint64_t> head_{0};
  uint64_t tail_cache_ = 0;  // consumer's view of tail
  alignas(64) std::atomic<uint64_t> tail_{0};
  uint64_t head_cache_ = 0;  // producer's view of head
};

}  // namespace vox
