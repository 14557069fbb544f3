// ARP for IPv4 over Ethernet (RFC 826): parse, answer a request in place,
// build a request. The next-hop table, ArpCache, is in neighbor_cache.h.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dataplane/net/frame.h"
#include "dataplane/net/neighbor_cache.h"
#include "base/result.h"
#include "base/names.h"

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
  kCount
};
inline constexpr size_t kArpErrorCount = size_t(ArpError::kCount);
inline constexpr EnumNames<ArpError> kArpErrorNames = {{
    {ArpError::kNotArp, "not-arp"},
    {ArpError::kTruncated, "truncated-arp"},
    {ArpError::kBadHardware, "bad-arp-hardware"},
    {ArpError::kBadProtocol, "bad-arp-protocol"},
    {ArpError::kBadOperation, "bad-arp-operation"},
}};
static_assert(kArpErrorNames.complete());
inline const char* to_string(ArpError e) { return kArpErrorNames[e]; }

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

}  // namespace vox::dataplane::net
