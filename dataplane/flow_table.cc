// FlowTable insert/erase (backward-shift deletion for linear probing).
#include "dataplane/flow_table.h"

#include <bit>

namespace vox::dataplane {

FlowTable::FlowTable(uint32_t max_flows)
    : entries_(std::bit_ceil(std::max<uint32_t>(16, max_flows * 2)), Entry{0, kNoFlow}),
      mask_(uint32_t(entries_.size() - 1)),
      max_size_(max_flows) {}

bool FlowTable::insert(LocalKey key, FlowId id) {
  uint32_t i = slot_of(key);
  for (;;) {
    Entry& e = entries_[i];
    if (e.id == kNoFlow) {
      if (size_ >= max_size_) return false;
      e = {key, id};
      ++size_;
      return true;
    }
    if (e.key == key) {
      e.id = id;
      return true;
    }
    i = (i + 1) & mask_;
  }
}

bool FlowTable::erase(LocalKey key) {
  uint32_t i = slot_of(key);
  for (;;) {
    if (entries_[i].id == kNoFlow) return false;
    if (entries_[i].key == key) break;
    i = (i + 1) & mask_;
  }
  // Backward shift: move later entries of the probe run into the hole when
  // their home slot is not between the hole and their current position.
  uint32_t hole = i;
  for (uint32_t j = (hole + 1) & mask_;; j = (j + 1) & mask_) {
    if (entries_[j].id == kNoFlow) break;
    uint32_t home = slot_of(entries_[j].key);
    bool movable = ((j - home) & mask_) >= ((j - hole) & mask_);
    if (movable) {
      entries_[hole] = entries_[j];
      hole = j;
    }
  }
  entries_[hole] = {0, kNoFlow};
  --size_;
  return true;
}

}  // namespace vox::dataplane
