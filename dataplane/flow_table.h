// LocalKey -> FlowId, owned by one worker: one array of 65 536 flow ids per
// local interface, indexed by UDP port (256 KiB each, allocated when the
// interface gets its first flow). A lookup is one load from a table small
// enough to stay in L2, with no hashing and no probing: l3fwd's direct
// lookup for a 16-bit key. The number of entries is still bounded by the
// worker's maximum number of flows.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/flow.h"

namespace vox::dataplane {

class FlowTable {
 public:
  explicit FlowTable(uint32_t max_flows) : max_size_(max_flows) {}

  FlowId find(LocalKey key) const {
    const uint32_t iface = local_key_iface(key);
    if (iface >= by_iface_.size()) [[unlikely]] return kNoFlow;
    const FlowId* ports = by_iface_[iface].get();
    return ports ? ports[local_key_port(key)] : kNoFlow;
  }
  // Starts loading the entry of `key` (a burst issues every lookup's miss
  // before it waits on the first).
  void prefetch(LocalKey key) const {
    const uint32_t iface = local_key_iface(key);
    if (iface < by_iface_.size() && by_iface_[iface])
      __builtin_prefetch(&by_iface_[iface][local_key_port(key)]);
  }
  // Inserts or replaces. False when the table holds max_flows entries.
  // Allocates the interface's array the first time (a command, never a packet).
  bool insert(LocalKey key, FlowId id);
  bool erase(LocalKey key);
  uint32_t size() const { return size_; }

 private:
  static constexpr uint32_t kPorts = 65536;
  std::vector<std::unique_ptr<FlowId[]>> by_iface_;
  uint32_t size_ = 0;
  uint32_t max_size_;
};

}  // namespace vox::dataplane
