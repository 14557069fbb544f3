// ARP for IPv4 over Ethernet (RFC 826): parse, answer a request in place,
// build a request, and ArpCache, the fixed-capacity next-hop table the DPDK
// backend consults per egress packet (no allocation after construction).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "dataplane/net/frame.h"
#include "dataplane/result.h"

namespace vox::dataplane::net {

inline constexpr size_t kArpLength = 28;  // Ethernet/IPv4 ARP packet
inline constexpr uint16_t kArpRequest = 1;
inline constexpr uint16_t kArpReply = 2;

enum class ArpError : uint8_t {
  kNotArp,            // Ethernet header missing/unsupported, or ethertype != 0x0806
  kTruncated,         // fewer than 28 octets after the Ethernet header
  kBadHardware,       // ar$hrd != 1 (Ethernet) or ar$hln != 6
  kBadProtocol,       // ar$pro != 0x0800 or ar$pln != 4
  kBadOperation,      // ar$op is neither request (1) nor reply (2)
};
inline constexpr size_t kArpErrorCount = 5;
const char* to_string(ArpError e);

struct ArpView {
  uint16_t arp_offset;  // from the frame start (after any VLAN tag)
  uint16_t operation;
  MacAddr sender_mac;
  uint32_t sender_ip;   // host order
  MacAddr target_mac;
  uint32_t target_ip;   // host order
};

Result<ArpView, ArpError> parse_arp(const uint8_t* frame, size_t len);

// Turns the ARP request in `frame` into the reply from `our_mac` in place
// (RFC 826 "Packet Reception": swap sender/target, op = reply, Ethernet
// addressed to the requester). The caller checks target_ip is one of ours.
// Returns false, frame untouched, if it is not a valid request.
bool build_arp_reply(uint8_t* frame, size_t len, const MacAddr& our_mac);

// Writes a broadcast who-has request for target_ip into out (zero-padded to
// the 60-octet Ethernet minimum); returns its length, or 0 if capacity is short.
size_t build_arp_request(uint8_t* out, size_t capacity, const MacAddr& our_mac, uint32_t our_ip,
                         uint32_t target_ip, bool has_vlan = false, uint16_t vlan_tci = 0);

// IPv4 next hop -> MAC, open addressing with linear probing. An address being
// resolved is "pending": resolve() asks for at most one request per
// retry interval, so a burst towards an unresolved address sends one ARP.
// Entries (resolved or pending) expire ttl after their last update; expired
// ones are swept only when the table is full.
class ArpCache {
 public:
  enum class Resolve : uint8_t { kResolved, kSendRequest, kPending, kTableFull };

  ArpCache(uint32_t capacity, int64_t ttl_ns, int64_t retry_ns);

  // For an egress packet to ip: kResolved fills *mac; kSendRequest means send
  // an ARP request now (the entry is marked pending); kPending means one went
  // out less than retry_ns ago; kTableFull means ip is not tracked and no
  // request may go out (a named drop reason: no ARP storm when full).
  Resolve resolve(uint32_t ip, int64_t now_ns, MacAddr* mac);
  // Learns ip -> mac from a reply or a request addressed to us (RFC 826
  // merge rule). Returns false when the table is full of live entries.
  bool learn(uint32_t ip, const MacAddr& mac, int64_t now_ns);
  // A fresh resolved entry's MAC, or nullptr.
  const MacAddr* lookup(uint32_t ip, int64_t now_ns) const;
  void erase(uint32_t ip);
  // Drops every expired entry; O(slots). Returns how many were dropped.
  uint32_t sweep(int64_t now_ns);

  uint32_t size() const { return size_; }
  uint32_t capacity() const { return capacity_; }

 private:
  enum class State : uint8_t { kEmpty, kPending, kResolved };
  struct Entry {
    uint32_t ip;
    State state;
    MacAddr mac;
    int64_t stamp_ns;  // resolved: when learned; pending: last request sent
  };
  uint32_t slot_of(uint32_t ip) const { return (ip * 0x9e3779b1u) >> shift_; }
  // The slot holding ip, or the empty slot ending its probe chain.
  uint32_t find(uint32_t ip) const;
  bool expired(const Entry& e, int64_t now_ns) const { return now_ns - e.stamp_ns >= ttl_ns_; }
  Entry* insert(uint32_t ip, int64_t now_ns);
  void erase_slot(uint32_t slot);

  uint32_t capacity_;
  uint32_t mask_;
  int shift_;
  uint32_t size_ = 0;
  int64_t ttl_ns_;
  int64_t retry_ns_;
  std::unique_ptr<Entry[]> slots_;
};

}  // namespace vox::dataplane::net
