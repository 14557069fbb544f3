// Fixed-capacity open-addressing map LocalKey -> FlowId, owned by one
// worker. Linear probing with backward-shift deletion (no tombstones, so
// lookups never degrade with churn). Sized once at start-up: capacity is a
// power of two at least twice the maximum number of flows, so the load
// factor stays <= 0.5 and probes stay short.
#pragma once

#include <cstdint>
#include <vector>

#include "dataplane/flow.h"

namespace vox::dataplane {

class FlowTable {
 public:
  explicit FlowTable(uint32_t max_flows);

  FlowId find(LocalKey key) const {
    uint32_t i = slot_of(key);
    for (;;) {
      const Entry& e = entries_[i];
      if (e.id == kNoFlow) return kNoFlow;
      if (e.key == key) return e.id;
      i = (i + 1) & mask_;
    }
  }
  // Starts loading the slot `key` hashes to (a burst issues every
  // lookup's miss before it waits on the first).
  void prefetch(LocalKey key) const { __builtin_prefetch(&entries_[slot_of(key)]); }
  // Inserts or replaces. False when the table is full (max_flows reached).
  bool insert(LocalKey key, FlowId id);
  bool erase(LocalKey key);
  uint32_t size() const { return size_; }
  uint32_t capacity() const { return uint32_t(entries_.size()); }

 private:
  struct Entry {
    LocalKey key;
    FlowId id;
  };
  static_assert(sizeof(Entry) == 8);
  uint32_t slot_of(LocalKey key) const {
    // Fibonacci hashing: ports are dense and sequential, spread them out.
    return uint32_t((uint64_t(key) * 0x9E3779B97F4A7C15ull) >> 32) & mask_;
  }

  std::vector<Entry> entries_;
  uint32_t mask_;
  uint32_t size_ = 0;
  uint32_t max_size_;
};

}  // namespace vox::dataplane
