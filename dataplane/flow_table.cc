// FlowTable insert/erase.
#include "dataplane/flow_table.h"

#include <algorithm>

namespace vox::dataplane {

bool FlowTable::insert(LocalKey key, FlowId id) {
  if (id == kNoFlow) return false;
  const uint32_t iface = local_key_iface(key);
  if (iface >= by_iface_.size()) by_iface_.resize(iface + 1);
  std::unique_ptr<FlowId[]>& ports = by_iface_[iface];
  if (!ports) {
    ports.reset(new FlowId[kPorts]);
    std::fill_n(ports.get(), kPorts, kNoFlow);
  }
  FlowId& slot = ports[local_key_port(key)];
  if (slot == kNoFlow) {
    if (size_ >= max_size_) return false;
    ++size_;
  }
  slot = id;
  return true;
}

bool FlowTable::erase(LocalKey key) {
  const uint32_t iface = local_key_iface(key);
  if (iface >= by_iface_.size() || !by_iface_[iface]) return false;
  FlowId& slot = by_iface_[iface][local_key_port(key)];
  if (slot == kNoFlow) return false;
  slot = kNoFlow;
  --size_;
  return true;
}

}  // namespace vox::dataplane
