// NeighborCache, the fixed-capacity next hop -> MAC table the DPDK backend
// consults per egress packet (no allocation after construction): ArpCache
// for IPv4 (RFC 826), NdCache for IPv6 neighbour discovery (RFC 4861).
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>

#include "base/endpoint.h"
#include "dataplane/net/frame.h"

namespace vox::dataplane::net {

inline uint32_t neighbor_hash(uint32_t ip) { return ip * 0x9e3779b1u; }
inline uint32_t neighbor_hash(const IpAddr& ip) {
  uint32_t w[4];
  std::memcpy(w, ip.bytes, 16);
  return (w[0] ^ w[1] ^ w[2] ^ (w[3] * 0x85ebca6bu)) * 0x9e3779b1u;
}

// Open addressing with linear probing. An address being resolved is
// "pending": resolve() asks for at most one request per retry interval, so
// a burst towards an unresolved address sends one ARP request / Neighbor
// Solicitation. Entries (resolved or pending) expire ttl after their last
// update; expired ones are swept only when the table is full.
enum class NeighborResolve : uint8_t { kResolved, kSendRequest, kPending, kTableFull };

template <class Addr>
class NeighborCache {
 public:
  using Resolve = NeighborResolve;

  NeighborCache(uint32_t capacity, int64_t ttl_ns, int64_t retry_ns);

  // For an egress packet to ip: kResolved fills *mac; kSendRequest means send
  // a request now (the entry is marked pending); kPending means one went out
  // less than retry_ns ago; kTableFull means ip is not tracked and no request
  // may go out (a named drop reason: no request storm when full).
  Resolve resolve(const Addr& ip, int64_t now_ns, MacAddr* mac);
  // Learns ip -> mac from a reply or a request addressed to us (RFC 826
  // merge rule). Returns false when the table is full of live entries.
  bool learn(const Addr& ip, const MacAddr& mac, int64_t now_ns);
  // A fresh resolved entry's MAC, or nullptr.
  const MacAddr* lookup(const Addr& ip, int64_t now_ns) const;
  // Whether ip has an entry, pending or resolved (RFC 4861 §7.2.5: an
  // advertisement for an address with none is discarded).
  bool tracks(const Addr& ip) const { return slots_[find(ip)].state != State::kEmpty; }
  void erase(const Addr& ip);
  // Drops every expired entry; O(slots). Returns how many were dropped.
  uint32_t sweep(int64_t now_ns);

  uint32_t size() const { return size_; }
  uint32_t capacity() const { return capacity_; }

 private:
  enum class State : uint8_t { kEmpty, kPending, kResolved };
  struct Entry {
    Addr ip;
    State state;
    MacAddr mac;
    int64_t stamp_ns;  // resolved: when learned; pending: last request sent
  };
  uint32_t slot_of(const Addr& ip) const { return neighbor_hash(ip) >> shift_; }
  // The slot holding ip, or the empty slot ending its probe chain.
  uint32_t find(const Addr& ip) const;
  bool expired(const Entry& e, int64_t now_ns) const { return now_ns - e.stamp_ns >= ttl_ns_; }
  Entry* insert(const Addr& ip, int64_t now_ns);
  void erase_slot(uint32_t slot);

  uint32_t capacity_;
  uint32_t mask_;
  int shift_;
  uint32_t size_ = 0;
  int64_t ttl_ns_;
  int64_t retry_ns_;
  std::unique_ptr<Entry[]> slots_;
};

using ArpCache = NeighborCache<uint32_t>;  // IPv4, host order
using NdCache = NeighborCache<IpAddr>;     // IPv6

extern template class NeighborCache<uint32_t>;
extern template class NeighborCache<IpAddr>;

}  // namespace vox::dataplane::net
