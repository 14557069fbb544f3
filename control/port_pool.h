// Local UDP port allocation. The range [min, max] is split between workers
// by port pair (dataplane/steering.h: the even port p for RTP and p+1 for
// RTCP belong to one worker), so the port alone says which worker owns a
// packet. Released pairs go to the back of a FIFO so a port is
// reused as late as possible (stray packets of a finished call then hit
// nothing rather than a new call).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "dataplane/steering.h"

namespace vox::control {

class PortPool {
 public:
  PortPool(uint16_t min_port, uint16_t max_port, int workers, uint32_t seed = 0);

  int worker_of(uint16_t port) const { return dataplane::worker_of_port(port, workers_); }
  // An even RTP port whose pair (p, p+1) is free, from worker w's share.
  std::optional<uint16_t> allocate_pair(int w);
  // Takes that pair (a restored call's); false when it is not in the pool's
  // range or not free.
  bool claim_pair(uint16_t even_port);
  void release_pair(uint16_t even_port);
  size_t free_pairs(int w) const { return free_count_[size_t(w)]; }
  size_t total_pairs() const { return total_; }

 private:
  int workers_;
  // A claimed pair stays in its free list until allocate_pair meets it
  // (and drops it): claiming is O(1), whatever the pool's size.
  std::vector<std::deque<uint16_t>> free_;
  std::vector<size_t> free_count_;
  std::vector<bool> in_pool_, in_use_;  // by port number
  size_t total_ = 0;
};

}  // namespace vox::control
