// RFC 826 packet handling and the ArpCache (linear probing, backward-shift
// deletion, so no tombstones accumulate). The table is at most half full:
// probe chains stay short and always end at an empty slot.
#include "dataplane/net/arp.h"

#include <algorithm>
#include <bit>

#include "dataplane/bytes.h"

namespace vox::dataplane::net {

const char* to_string(ArpError e) {
  switch (e) {
    case ArpError::kNotArp: return "not-arp";
    case ArpError::kTruncated: return "truncated-arp";
    case ArpError::kBadHardware: return "bad-arp-hardware";
    case ArpError::kBadProtocol: return "bad-arp-protocol";
    case ArpError::kBadOperation: return "bad-arp-operation";
  }
  return "unknown";
}

Result<ArpView, ArpError> parse_arp(const uint8_t* frame, size_t len) {
  FrameView eth;
  if (parse_ethernet(frame, len, &eth) != FrameStatus::kNotIp || eth.ethertype != kEtherTypeArp)
    return Err{ArpError::kNotArp};
  if (len - eth.l3_offset < kArpLength) return Err{ArpError::kTruncated};
  // RFC 826 "Packet format": hrd(16) pro(16) hln(8) pln(8) op(16) sha spa tha tpa.
  const uint8_t* a = frame + eth.l3_offset;
  if (load_be16(a) != 1 || a[4] != 6) return Err{ArpError::kBadHardware};
  if (load_be16(a + 2) != kEtherTypeIpv4 || a[5] != 4) return Err{ArpError::kBadProtocol};
  ArpView v{};
  v.arp_offset = eth.l3_offset;
  v.operation = load_be16(a + 6);
  if (v.operation != kArpRequest && v.operation != kArpReply) return Err{ArpError::kBadOperation};
  std::memcpy(v.sender_mac.bytes, a + 8, 6);
  v.sender_ip = load_be32(a + 14);
  std::memcpy(v.target_mac.bytes, a + 18, 6);
  v.target_ip = load_be32(a + 24);
  return v;
}

bool build_arp_reply(uint8_t* frame, size_t len, const MacAddr& our_mac) {
  auto r = parse_arp(frame, len);
  if (!r.ok() || r->operation != kArpRequest) return false;
  const ArpView& v = *r;
  uint8_t* a = frame + v.arp_offset;
  std::memcpy(frame, v.sender_mac.bytes, 6);  // Ethernet dst: the requester
  std::memcpy(frame + 6, our_mac.bytes, 6);
  store_be16(a + 6, kArpReply);
  std::memcpy(a + 8, our_mac.bytes, 6);
  store_be32(a + 14, v.target_ip);
  std::memcpy(a + 18, v.sender_mac.bytes, 6);
  store_be32(a + 24, v.sender_ip);
  return true;
}

size_t build_arp_request(uint8_t* out, size_t capacity, const MacAddr& our_mac, uint32_t our_ip,
                         uint32_t target_ip, bool has_vlan, uint16_t vlan_tci) {
  if (capacity < kEthernetMinFrame) return 0;
  std::memset(out, 0, kEthernetMinFrame);
  std::memcpy(out, kBroadcastMac.bytes, 6);
  std::memcpy(out + 6, our_mac.bytes, 6);
  uint8_t* p = out + 12;
  if (has_vlan) {
    store_be16(p, kEtherTypeVlan);
    store_be16(p + 2, vlan_tci);
    p += kVlanTagLength;
  }
  store_be16(p, kEtherTypeArp);
  uint8_t* a = p + 2;
  store_be16(a, 1);  // Ethernet
  store_be16(a + 2, kEtherTypeIpv4);
  a[4] = 6;
  a[5] = 4;
  store_be16(a + 6, kArpRequest);
  std::memcpy(a + 8, our_mac.bytes, 6);
  store_be32(a + 14, our_ip);
  // Target hardware address: unknown, left zero (RFC 826 leaves it unspecified).
  store_be32(a + 24, target_ip);
  return kEthernetMinFrame;
}

ArpCache::ArpCache(uint32_t capacity, int64_t ttl_ns, int64_t retry_ns)
    : capacity_(capacity == 0 ? 1 : capacity), ttl_ns_(ttl_ns), retry_ns_(retry_ns) {
  const uint32_t slots = std::bit_ceil(std::max<uint32_t>(8, capacity_ * 2));
  mask_ = slots - 1;
  shift_ = 32 - std::countr_zero(slots);
  slots_ = std::make_unique<Entry[]>(slots);  // value-initialized: all kEmpty
}

uint32_t ArpCache::find(uint32_t ip) const {
  uint32_t i = slot_of(ip);
  while (slots_[i].state != State::kEmpty && slots_[i].ip != ip) i = (i + 1) & mask_;
  return i;
}

ArpCache::Entry* ArpCache::insert(uint32_t ip, int64_t now_ns) {
  if (size_ >= capacity_ && sweep(now_ns) == 0) return nullptr;
  Entry& e = slots_[find(ip)];  // empty: the caller found ip absent
  e.ip = ip;
  ++size_;
  return &e;
}

ArpCache::Resolve ArpCache::resolve(uint32_t ip, int64_t now_ns, MacAddr* mac) {
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

bool ArpCache::learn(uint32_t ip, const MacAddr& mac, int64_t now_ns) {
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

const MacAddr* ArpCache::lookup(uint32_t ip, int64_t now_ns) const {
  const Entry& e = slots_[find(ip)];
  return e.state == State::kResolved && !expired(e, now_ns) ? &e.mac : nullptr;
}

void ArpCache::erase(uint32_t ip) {
  const uint32_t i = find(ip);
  if (slots_[i].state != State::kEmpty) erase_slot(i);
}

void ArpCache::erase_slot(uint32_t hole) {
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

uint32_t ArpCache::sweep(int64_t now_ns) {
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

}  // namespace vox::dataplane::net
