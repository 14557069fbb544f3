// PortPool: per-worker FIFO free lists of even ports, shuffled at start so
// that port numbers are not predictable from call order (RTP Bleed makes
// guessable ports an attack surface).
#include "control/port_pool.h"

#include <algorithm>
#include <random>

namespace vox::control {

PortPool::PortPool(uint16_t min_port, uint16_t max_port, int workers, uint32_t seed)
    : workers_(std::max(1, workers)),
      free_(size_t(std::max(1, workers))),
      free_count_(free_.size()),
      in_pool_(65536),
      in_use_(65536) {
  uint32_t first = (min_port + 1u) & ~1u;  // first even port >= min
  std::vector<std::vector<uint16_t>> shares(free_.size());
  for (uint32_t p = first; p + 1 <= max_port; p += 2) {
    shares[size_t(worker_of(uint16_t(p)))].push_back(uint16_t(p));
    in_pool_[p] = true;
    ++total_;
  }
  std::mt19937 rng(seed ? seed : std::random_device{}());
  for (size_t w = 0; w < shares.size(); ++w) {
    std::shuffle(shares[w].begin(), shares[w].end(), rng);
    free_[w].assign(shares[w].begin(), shares[w].end());
    free_count_[w] = shares[w].size();
  }
}

std::optional<uint16_t> PortPool::allocate_pair(int w) {
  auto& q = free_[size_t(w)];
  while (!q.empty()) {
    const uint16_t p = q.front();
    q.pop_front();
    if (in_use_[p]) continue;  // claimed while it waited here
    in_use_[p] = true;
    --free_count_[size_t(w)];
    return p;
  }
  return std::nullopt;
}

bool PortPool::claim_pair(uint16_t even_port) {
  if (even_port % 2 || !in_pool_[even_port] || in_use_[even_port]) return false;
  in_use_[even_port] = true;
  --free_count_[size_t(worker_of(even_port))];
  return true;
}

void PortPool::release_pair(uint16_t even_port) {
  if (!in_pool_[even_port] || !in_use_[even_port]) return;  // not ours, or twice
  in_use_[even_port] = false;
  ++free_count_[size_t(worker_of(even_port))];
  // A pair claimed and released before allocate_pair dropped its old entry
  // would be listed twice: the stale entry is then skipped once in_use_
  // is set again, and a duplicate free entry can only hand it out once.
  free_[size_t(worker_of(even_port))].push_back(even_port);
}

}  // namespace vox::control
