// The latched-source seqlock.
#include "dataplane/flow.h"

#include <cstring>

namespace vox::dataplane {

void LatchedSource::publish(const Endpoint& e) {
  uint64_t w[3] = {};
  std::memcpy(w, &e, sizeof e);
  uint32_t s = seq.load(std::memory_order_relaxed);
  seq.store(s + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  for (int i = 0; i < 3; ++i) words[i].store(w[i], std::memory_order_relaxed);
  seq.store(s + 2, std::memory_order_release);
}

Endpoint LatchedSource::read() const {
  uint64_t w[3];
  for (;;) {
    uint32_t s1 = seq.load(std::memory_order_acquire);
    for (int i = 0; i < 3; ++i) w[i] = words[i].load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (!(s1 & 1) && seq.load(std::memory_order_relaxed) == s1) break;
  }
  Endpoint e;
  std::memcpy(&e, w, sizeof e);
  return e;
}

}  // namespace vox::dataplane
