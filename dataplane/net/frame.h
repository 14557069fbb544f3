// Ethernet II (+ one 802.1Q tag) / IPv4 / IPv6 / UDP frames parsed in place
// for the DPDK engine: every length is checked before it is read, every
// rejection is a named status the backend counts as a drop reason.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "base/bytes.h"
#include "base/endpoint.h"
#include "dataplane/net/checksum.h"
#include "base/names.h"

namespace vox::dataplane::net {

struct MacAddr {
  uint8_t bytes[6] = {};
  bool operator==(const MacAddr& o) const { return std::memcmp(bytes, o.bytes, 6) == 0; }
  bool is_multicast() const { return (bytes[0] & 1) != 0; }  // includes broadcast
};
inline constexpr MacAddr kBroadcastMac{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};

inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeArp = 0x0806;
inline constexpr uint16_t kEtherTypeVlan = 0x8100;  // IEEE 802.1Q
inline constexpr uint16_t kEtherTypeQinQ = 0x88a8;  // IEEE 802.1ad
inline constexpr uint16_t kEtherTypeIpv6 = 0x86dd;
inline constexpr size_t kEthernetHeaderLength = 14;
inline constexpr size_t kVlanTagLength = 4;
inline constexpr size_t kEthernetMinFrame = 60;  // without FCS; shorter frames are padded
inline constexpr size_t kIpv4MinHeaderLength = 20;
inline constexpr size_t kIpv6HeaderLength = 40;
inline constexpr size_t kUdpHeaderLength = 8;

// The outcome of parse_frame. kOk is the only status for a UDP datagram that
// may be forwarded; the others are drop (or hand-off) reasons.
enum class FrameStatus : uint8_t {
  kOk,
  kTruncatedEthernet,  // shorter than the Ethernet (+ VLAN) header
  kNotIp,              // ethertype is not IPv4/IPv6 (ARP goes here); Ethernet view valid
  kTruncatedIp,        // shorter than the fixed IPv4 (20) / IPv6 (40) header
  kBadIpVersion,       // version field disagrees with the ethertype
  kBadIhl,             // RFC 791 §3.1: IHL < 5, or the header runs past the frame
  kBadIpLength,        // total/payload length exceeds the frame, or IPv4 total < IHL*4
  kFragment,           // RFC 791 §3.1: MF set or fragment offset != 0 (no reassembly)
  kBadIpChecksum,      // RFC 791 §3.1 header checksum
  kNotUdp,             // another upper-layer protocol; L3 view valid (ICMP goes here)
  kTruncatedUdp,       // IP payload shorter than the 8-octet UDP header
  kBadUdpLength,       // RFC 768: length field != IP payload length
  kBadUdpChecksum,     // RFC 768 / RFC 8200 §8.1 (zero is invalid over IPv6)
  kUnsupported,        // QinQ, a second VLAN tag, IPv6 extension headers, jumbograms
  kCount
};
inline constexpr size_t kFrameStatusCount = size_t(FrameStatus::kCount);
inline constexpr EnumNames<FrameStatus> kFrameStatusNames = {{
    {FrameStatus::kOk, "ok"},
    {FrameStatus::kTruncatedEthernet, "truncated-ethernet"},
    {FrameStatus::kNotIp, "not-ip"},
    {FrameStatus::kTruncatedIp, "truncated-ip"},
    {FrameStatus::kBadIpVersion, "bad-ip-version"},
    {FrameStatus::kBadIhl, "bad-ihl"},
    {FrameStatus::kBadIpLength, "bad-ip-length"},
    {FrameStatus::kFragment, "fragment"},
    {FrameStatus::kBadIpChecksum, "bad-ip-checksum"},
    {FrameStatus::kNotUdp, "not-udp"},
    {FrameStatus::kTruncatedUdp, "truncated-udp"},
    {FrameStatus::kBadUdpLength, "bad-udp-length"},
    {FrameStatus::kBadUdpChecksum, "bad-udp-checksum"},
    {FrameStatus::kUnsupported, "unsupported"},
}};
static_assert(kFrameStatusNames.complete());
inline const char* to_string(FrameStatus e) { return kFrameStatusNames[e]; }

// Checks a NIC has already made (DPDK RTE_MBUF_F_RX_*_CKSUM_GOOD) need not
// be repeated in software.
struct ParseOptions {
  bool verify_ip_checksum = true;
  bool verify_udp_checksum = true;
};

// A parsed frame; points into the caller's buffer. Which fields are valid
// depends on the status: Ethernet fields from kNotIp on, L3 fields from
// kNotUdp on, UDP fields only for kOk. All offsets are from the frame start.
struct FrameView {
  const uint8_t* data = nullptr;
  uint32_t length = 0;  // whole frame as received (may include Ethernet padding)
  uint16_t ethertype = 0;  // after the VLAN tag, if any
  uint16_t vlan_tci = 0;
  bool has_vlan = false;
  uint8_t ip_version = 0;   // 4 or 6
  uint8_t ip_protocol = 0;  // IPv4 protocol / IPv6 next header
  uint8_t ttl = 0;          // IPv4 TTL / IPv6 hop limit
  uint16_t l3_offset = 0;
  uint16_t l4_offset = 0;   // after the IPv4 options, or the IPv6 fixed header
  uint32_t l3_length = 0;   // IPv4 total length / 40 + IPv6 payload length
  uint32_t l4_length = 0;   // IP payload length
  IpAddr src_ip, dst_ip;    // IPv4 as v4-mapped
  uint16_t src_port = 0, dst_port = 0;
  uint16_t payload_offset = 0;  // UDP payload
  uint32_t payload_length = 0;

  const uint8_t* l3() const { return data + l3_offset; }
  const uint8_t* l4() const { return data + l4_offset; }
  const uint8_t* payload() const { return data + payload_offset; }
  MacAddr dst_mac() const { MacAddr m; std::memcpy(m.bytes, data, 6); return m; }
  MacAddr src_mac() const { MacAddr m; std::memcpy(m.bytes, data + 6, 6); return m; }
  bool operator==(const FrameView&) const = default;  // every field
};

// Parses the Ethernet header (and one 802.1Q tag) only: fills data, length,
// ethertype, VLAN fields and l3_offset. Returns kNotIp for any ethertype
// (the caller dispatches on it), or kTruncatedEthernet / kUnsupported.
FrameStatus parse_ethernet(const uint8_t* p, size_t len, FrameView* view);

// Parses a whole frame down to the UDP payload. Never reads outside [p, p+len).
FrameStatus parse_frame(const uint8_t* p, size_t len, FrameView* view,
                        const ParseOptions& options = {});

// The relay's everyday frame, taken in a few compares: Ethernet II without
// a tag, IPv4 without options and not a fragment (RFC 791 §3.1), UDP whose
// length is the IP payload's (RFC 768), both checksums right unless
// `options` says the NIC checked them. Fills `view` exactly as parse_frame
// would and returns true; returns false for every other frame, good or
// bad, for parse_frame to take and name. Sums in native byte order: a
// right checksum folds to 0xffff in either (RFC 1071 §2(B)).
inline bool parse_udp4_fast(const uint8_t* p, size_t len, FrameView* v,
                            const ParseOptions& options = {}) {
  constexpr size_t kL3 = kEthernetHeaderLength, kL4 = kL3 + kIpv4MinHeaderLength;
  if (len < kL4 + kUdpHeaderLength) return false;
  const uint8_t* ip = p + kL3;
  const uint8_t* udp = p + kL4;
  if (load_wire16(p + 12) != to_wire16(kEtherTypeIpv4) || ip[0] != 0x45 || ip[9] != kIpProtoUdp)
    return false;
  const uint32_t total = load_be16(ip + 2);
  const uint32_t l4 = total - uint32_t(kIpv4MinHeaderLength);
  if (total > len - kL3 || total < kIpv4MinHeaderLength + kUdpHeaderLength ||
      (load_wire16(ip + 6) & to_wire16(0x3fff)) != 0 || load_be16(udp + 4) != l4)
    return false;
  const uint64_t addrs = uint64_t(load_wire32(ip + 12)) + load_wire32(ip + 16);
  if (options.verify_ip_checksum &&
      checksum_fold64(addrs + load_wire32(ip) + load_wire32(ip + 4) + load_wire32(ip + 8)) != 0xffff)
    return false;
  if (options.verify_udp_checksum && load_wire16(udp + 6) != 0 &&
      checksum_fold64(checksum_partial(udp, l4) + addrs + to_wire16(kIpProtoUdp) +
                      load_wire16(udp + 4)) != 0xffff)
    return false;
  v->data = p;
  v->length = uint32_t(len);
  v->ethertype = kEtherTypeIpv4;
  v->vlan_tci = 0;
  v->has_vlan = false;
  v->ip_version = 4;
  v->ip_protocol = kIpProtoUdp;
  v->ttl = ip[8];
  v->l3_offset = uint16_t(kL3);
  v->l4_offset = uint16_t(kL4);
  v->l3_length = total;
  v->l4_length = l4;
  v->src_ip = IpAddr::from_v4_wire(load_wire32(ip + 12));
  v->dst_ip = IpAddr::from_v4_wire(load_wire32(ip + 16));
  v->src_port = load_be16(udp);
  v->dst_port = load_be16(udp + 2);
  v->payload_offset = uint16_t(kL4 + kUdpHeaderLength);
  v->payload_length = l4 - uint32_t(kUdpHeaderLength);
  return true;
}

// True for IPv6 next-header values that are extension headers (RFC 8200 §4,
// IANA "IPv6 Extension Header Types").
bool is_ipv6_extension_header(uint8_t next_header);

// Writes an Ethernet header (with an 802.1Q tag when has_vlan) for a frame
// the relay builds from nothing; returns where the network layer starts.
inline uint8_t* write_ethernet_header(uint8_t* out, const MacAddr& dst, const MacAddr& src,
                                      uint16_t ethertype, bool has_vlan, uint16_t vlan_tci) {
  std::memcpy(out, dst.bytes, 6);
  std::memcpy(out + 6, src.bytes, 6);
  uint8_t* p = out + 12;
  if (has_vlan) {
    store_be16(p, kEtherTypeVlan);
    store_be16(p + 2, vlan_tci);
    p += kVlanTagLength;
  }
  store_be16(p, ethertype);
  return p + 2;
}

}  // namespace vox::dataplane::net
