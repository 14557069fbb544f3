// The ICMP the relay answers itself on the DPDK path, in place: ICMPv4 echo
// (RFC 792), ICMPv6 echo (RFC 4443 §4) and Neighbor Solicitation ->
// Advertisement (RFC 4861 §7.2.4) for the relay's own addresses; and the
// other half of neighbour discovery, resolving a next hop: the Neighbor
// Solicitation the relay sends and the Advertisement that answers it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/endpoint.h"
#include "dataplane/net/frame.h"
#include "base/result.h"
#include "base/names.h"

namespace vox::dataplane::net {

inline constexpr uint8_t kIcmpEchoReply = 0;
inline constexpr uint8_t kIcmpEchoRequest = 8;
inline constexpr uint8_t kIcmpv6EchoRequest = 128;
inline constexpr uint8_t kIcmpv6EchoReply = 129;
inline constexpr uint8_t kIcmpv6NeighborSolicitation = 135;
inline constexpr uint8_t kIcmpv6NeighborAdvertisement = 136;
inline constexpr uint8_t kIpv4ReplyTtl = 64;

// Why an ICMP message gets no answer; one drop reason each.
enum class IcmpError : uint8_t {
  kNotIcmp,         // view is not ICMPv4 over IPv4 / ICMPv6 over IPv6
  kTruncated,       // message shorter than its fixed part
  kBadChecksum,     // RFC 792 / RFC 4443 §2.3
  kNotHandled,      // another type (or code != 0): not ours to answer
  kNotOurAddress,   // destination / NS target is not one of our addresses
  kBadNeighborSolicitation,  // RFC 4861 §7.1.1 validity checks
  kNoRoom,          // buffer too small for the Neighbor Advertisement
  kBadNeighborAdvertisement,  // RFC 4861 §7.1.2 validity checks, or no target link-layer address
  kCount
};
inline constexpr size_t kIcmpErrorCount = size_t(IcmpError::kCount);
inline constexpr EnumNames<IcmpError> kIcmpErrorNames = {{
    {IcmpError::kNotIcmp, "not-icmp"},
    {IcmpError::kTruncated, "truncated-icmp"},
    {IcmpError::kBadChecksum, "bad-icmp-checksum"},
    {IcmpError::kNotHandled, "icmp-not-handled"},
    {IcmpError::kNotOurAddress, "icmp-not-our-address"},
    {IcmpError::kBadNeighborSolicitation, "bad-neighbor-solicitation"},
    {IcmpError::kNoRoom, "icmp-no-room"},
    {IcmpError::kBadNeighborAdvertisement, "bad-neighbor-advertisement"},
}};
static_assert(kIcmpErrorNames.complete());
inline const char* to_string(IcmpError e) { return kIcmpErrorNames[e]; }

// All take `frame` (== v.data, writable) and a view for which parse_frame
// returned kNotUdp, and return the length of the reply now in the frame's
// buffer. Echo replies keep the request's length and data.

// RFC 792: type 8 -> 0, addresses and MACs swapped, TTL reset to 64.
Result<size_t, IcmpError> answer_icmpv4_echo(uint8_t* frame, const FrameView& v,
                                             std::span<const IpAddr> ours);
// RFC 4443 §4.2: type 128 -> 129, addresses and MACs swapped, hop limit 64.
Result<size_t, IcmpError> answer_icmpv6_echo(uint8_t* frame, const FrameView& v,
                                             std::span<const IpAddr> ours);
// RFC 4861 §7.2.4: a Neighbor Advertisement from our_mac for an NS whose
// target is in `ours`, with a Target Link-Layer Address option. Replies to a
// DAD probe (source ::) go to all-nodes (ff02::1) with S = 0. The NA may be
// longer than the NS: capacity is the writable buffer size from frame.
Result<size_t, IcmpError> answer_neighbor_solicitation(uint8_t* frame, size_t capacity,
                                                       const FrameView& v, const MacAddr& our_mac,
                                                       std::span<const IpAddr> ours);

// RFC 4861 §7.2.2: a Neighbor Solicitation from our_ip (IPv6) for target,
// to its solicited-node group ff02::1:ffXX:XXXX (Ethernet 33:33:ff:XX:XX:XX),
// hop limit 255, with our Source Link-Layer Address option. Returns its
// length, or 0 if capacity is short or an address is not IPv6.
size_t build_neighbor_solicitation(uint8_t* out, size_t capacity, const MacAddr& our_mac,
                                   const IpAddr& our_ip, const IpAddr& target,
                                   bool has_vlan = false, uint16_t vlan_tci = 0);

// What a valid Neighbor Advertisement says: target's link-layer address,
// and whether it answers a solicitation (the S flag, RFC 4861 §4.4).
struct NeighborAdvertisement {
  IpAddr target;
  MacAddr mac;
  bool solicited = false;
};
// Checks a Neighbor Advertisement (RFC 4861 §7.1.2: hop limit 255, code 0,
// checksum, target not multicast, options well formed) for which
// parse_frame returned kNotUdp. One without a Target Link-Layer Address
// option is refused: the relay only asks by multicast, and RFC 4861 §4.4
// makes the option mandatory in answers to those.
Result<NeighborAdvertisement, IcmpError> parse_neighbor_advertisement(const uint8_t* frame,
                                                                      const FrameView& v);

}  // namespace vox::dataplane::net
