// NeighborCache: linear probing with backward-shift deletion, so no
// tombstones accumulate. The table is at most half full: probe chains stay
// short and always end at an empty slot. Instantiated for IPv4 and IPv6.
#include "dataplane/net/neighbor_cache.h"

#include <algorithm>
#include <bit>

namespace vox::dataplane::net {

template <class Addr>
NeighborCache<Addr>::NeighborCache(uint32_t capacity, int64_t ttl_ns, int64_t retry_ns)
    : capacity_(capacity == 0 ? 1 : capacity), ttl_ns_(ttl_ns), retry_ns_(retry_ns) {
  const uint32_t slots = std::bit_ceil(std::max<uint32_t>(8, capacity_ * 2));
  mask_ = slots - 1;
  shift_ = 32 - std::countr_zero(slots);
  slots_ = std::make_unique<Entry[]>(slots);  // value-initialized: all kEmpty
}

template <class Addr>
uint32_t NeighborCache<Addr>::find(const Addr& ip) const {
  uint32_t i = slot_of(ip);
  while (slots_[i].state != State::kEmpty && !(slots_[i].ip == ip)) i = (i + 1) & mask_;
  return i;
}

template <class Addr>
typename NeighborCache<Addr>::Entry* NeighborCache<Addr>::insert(const Addr& ip, int64_t now_ns) {
  if (size_ >= capacity_ && sweep(now_ns) == 0) return nullptr;
  Entry& e = slots_[find(ip)];  // empty: the caller found ip absent
  e.ip = ip;
  ++size_;
  return &e;
}

template <class Addr>
typename NeighborCache<Addr>::Resolve NeighborCache<Addr>::resolve(const Addr& ip, int64_t now_ns, MacAddr* mac) {
  Entry& e = slots_[find(ip)];
  if (e.state == State::kResolved && !expired(e, now_ns)) {
    *mac = e.mac;
    return Resolve::kResolved;
  }
  if (e.state == State::kPending && now_ns - e.stamp_ns < retry_ns_) return Resolve::kPending;
  Entry* t = &e;
  if (e.state == State::kEmpty) {
    t = insert(ip, now_ns);
    if (t == nullptr) return Resolve::kTableFull;
  }
  t->state = State::kPending;
  t->stamp_ns = now_ns;
  return Resolve::kSendRequest;
}

template <class Addr>
bool NeighborCache<Addr>::learn(const Addr& ip, const MacAddr& mac, int64_t now_ns) {
  Entry* e = &slots_[find(ip)];
  if (e->state == State::kEmpty) {
    e = insert(ip, now_ns);
    if (e == nullptr) return false;
  }
  e->state = State::kResolved;
  e->mac = mac;
  e->stamp_ns = now_ns;
  return true;
}

template <class Addr>
const MacAddr* NeighborCache<Addr>::lookup(const Addr& ip, int64_t now_ns) const {
  const Entry& e = slots_[find(ip)];
  return e.state == State::kResolved && !expired(e, now_ns) ? &e.mac : nullptr;
}

template <class Addr>
void NeighborCache<Addr>::erase(const Addr& ip) {
  const uint32_t i = find(ip);
  if (slots_[i].state != State::kEmpty) erase_slot(i);
}

template <class Addr>
void NeighborCache<Addr>::erase_slot(uint32_t hole) {
  // Backward-shift deletion: move later chain members whose home slot is
  // not cyclically in (hole, j] into the hole, so lookups never stop early.
  for (uint32_t j = (hole + 1) & mask_; slots_[j].state != State::kEmpty; j = (j + 1) & mask_) {
    const uint32_t home = slot_of(slots_[j].ip);
    const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (stays) continue;
    slots_[hole] = slots_[j];
    hole = j;
  }
  slots_[hole].state = State::kEmpty;
  --size_;
}

template <class Addr>
uint32_t NeighborCache<Addr>::sweep(int64_t now_ns) {
  uint32_t dropped = 0;
  for (uint32_t i = 0; i <= mask_;) {
    if (slots_[i].state != State::kEmpty && expired(slots_[i], now_ns)) {
      erase_slot(i);  // may pull a later entry into slot i: look at it again
      ++dropped;
    } else {
      ++i;
    }
  }
  return dropped;
}

template class NeighborCache<uint32_t>;
template class NeighborCache<IpAddr>;

}  // namespace vox::dataplane::net
