// parse_frame: Ethernet II / 802.1Q (IEEE 802.3 §3.2.6, 802.1Q §9.6), IPv4
// (RFC 791 §3.1), IPv6 (RFC 8200 §3), UDP (RFC 768). No allocation, no
// exceptions: called once per received frame by the DPDK backend.
#include "dataplane/net/frame.h"

#include "base/bytes.h"
#include "dataplane/net/checksum.h"

namespace vox::dataplane::net {

bool is_ipv6_extension_header(uint8_t nh) {
  switch (nh) {
    case 0:    // Hop-by-Hop Options
    case 43:   // Routing
    case 44:   // Fragment
    case 50:   // ESP
    case 51:   // AH
    case 60:   // Destination Options
    case 135:  // Mobility
    case 139:  // HIP
    case 140:  // Shim6
    case 253:
    case 254:  // experimentation (RFC 3692)
      return true;
    default:
      return false;
  }
}

namespace {

// RFC 791 §3.1. On success fills the L3 fields; the IP payload is
// [l4_offset, l4_offset + l4_length).
FrameStatus parse_ipv4(const uint8_t* p, size_t len, FrameView* v, const ParseOptions& o) {
  const size_t l3 = v->l3_offset;
  if (len < l3 + kIpv4MinHeaderLength) [[unlikely]]
    return FrameStatus::kTruncatedIp;
  const uint8_t* ip = p + l3;
  if ((ip[0] >> 4) != 4) [[unlikely]]
    return FrameStatus::kBadIpVersion;
  const size_t ihl = size_t(ip[0] & 0x0f) * 4;
  if (ihl < kIpv4MinHeaderLength || l3 + ihl > len) [[unlikely]]
    return FrameStatus::kBadIhl;
  const size_t total = load_be16(ip + 2);
  if (total > len - l3 || total < ihl) [[unlikely]]
    return FrameStatus::kBadIpLength;
  if (o.verify_ip_checksum && checksum_add(ip, ihl) != 0xffff) [[unlikely]]
    return FrameStatus::kBadIpChecksum;
  // Flags (3 bits: reserved, DF, MF) and the 13-bit fragment offset.
  if ((load_be16(ip + 6) & 0x3fff) != 0) [[unlikely]]
    return FrameStatus::kFragment;
  v->ip_version = 4;
  v->ttl = ip[8];
  v->ip_protocol = ip[9];
  v->l3_length = uint32_t(total);
  v->l4_offset = uint16_t(l3 + ihl);
  v->l4_length = uint32_t(total - ihl);
  v->src_ip = IpAddr::from_v4_wire(load_wire32(ip + 12));
  v->dst_ip = IpAddr::from_v4_wire(load_wire32(ip + 16));
  return FrameStatus::kOk;
}

// RFC 8200 §3. Only an upper-layer header may follow the fixed header.
FrameStatus parse_ipv6(const uint8_t* p, size_t len, FrameView* v) {
  const size_t l3 = v->l3_offset;
  if (len < l3 + kIpv6HeaderLength) [[unlikely]]
    return FrameStatus::kTruncatedIp;
  const uint8_t* ip = p + l3;
  if ((ip[0] >> 4) != 6) [[unlikely]]
    return FrameStatus::kBadIpVersion;
  const size_t payload = load_be16(ip + 4);
  if (payload > len - l3 - kIpv6HeaderLength) [[unlikely]]
    return FrameStatus::kBadIpLength;
  // Payload length 0 with a Hop-by-Hop header would be a jumbogram (RFC
  // 2675); extension headers are rejected below, so 0 is just empty.
  if (is_ipv6_extension_header(ip[6])) [[unlikely]]
    return FrameStatus::kUnsupported;
  v->ip_version = 6;
  v->ip_protocol = ip[6];
  v->ttl = ip[7];
  v->l3_length = uint32_t(kIpv6HeaderLength + payload);
  v->l4_offset = uint16_t(l3 + kIpv6HeaderLength);
  v->l4_length = uint32_t(payload);
  std::memcpy(v->src_ip.bytes, ip + 8, 16);
  std::memcpy(v->dst_ip.bytes, ip + 24, 16);
  return FrameStatus::kOk;
}

}  // namespace

FrameStatus parse_ethernet(const uint8_t* p, size_t len, FrameView* v) {
  v->data = p;
  v->length = uint32_t(len);
  if (len < kEthernetHeaderLength) [[unlikely]]
    return FrameStatus::kTruncatedEthernet;
  uint16_t type = load_be16(p + 12);
  size_t l3 = kEthernetHeaderLength;
  if (type == kEtherTypeVlan) {
    // 802.1Q: TPID 0x8100, 16-bit TCI (PCP, DEI, VID), then the real type.
    if (len < kEthernetHeaderLength + kVlanTagLength) [[unlikely]]
      return FrameStatus::kTruncatedEthernet;
    v->has_vlan = true;
    v->vlan_tci = load_be16(p + 14);
    type = load_be16(p + 16);
    l3 += kVlanTagLength;
    if (type == kEtherTypeVlan || type == kEtherTypeQinQ) [[unlikely]]
      return FrameStatus::kUnsupported;
  } else if (type == kEtherTypeQinQ) [[unlikely]] {
    return FrameStatus::kUnsupported;
  }
  v->ethertype = type;
  v->l3_offset = uint16_t(l3);
  return FrameStatus::kNotIp;
}

FrameStatus parse_frame(const uint8_t* p, size_t len, FrameView* v, const ParseOptions& o) {
  *v = FrameView{};
  FrameStatus s = parse_ethernet(p, len, v);
  if (s != FrameStatus::kNotIp) [[unlikely]]
    return s;
  if (v->ethertype == kEtherTypeIpv4) {
    s = parse_ipv4(p, len, v, o);
  } else if (v->ethertype == kEtherTypeIpv6) {
    s = parse_ipv6(p, len, v);
  } else {
    return FrameStatus::kNotIp;
  }
  if (s != FrameStatus::kOk) [[unlikely]]
    return s;
  if (v->ip_protocol != kIpProtoUdp) return FrameStatus::kNotUdp;

  // RFC 768: 8-octet header; the length field counts header + data and must
  // match the IP payload exactly (a relay forwards nothing it cannot account for).
  if (v->l4_length < kUdpHeaderLength) [[unlikely]]
    return FrameStatus::kTruncatedUdp;
  const uint8_t* udp = p + v->l4_offset;
  if (load_be16(udp + 4) != v->l4_length) [[unlikely]]
    return FrameStatus::kBadUdpLength;
  const uint16_t check = load_be16(udp + 6);
  if (v->ip_version == 4) {
    // Zero means the sender computed none (RFC 768).
    if (check != 0 && o.verify_udp_checksum) {
      const uint8_t* ip = p + v->l3_offset;
      const uint16_t ph = pseudo_header_sum_v4(ip + 12, ip + 16, kIpProtoUdp, uint16_t(v->l4_length));
      if (checksum_add(udp, v->l4_length, ph) != 0xffff) [[unlikely]]
        return FrameStatus::kBadUdpChecksum;
    }
  } else {
    // RFC 8200 §8.1: a zero UDP checksum over IPv6 is discarded, even when the
    // NIC verified the rest (it costs one compare).
    if (check == 0) [[unlikely]]
      return FrameStatus::kBadUdpChecksum;
    if (o.verify_udp_checksum) {
      const uint8_t* ip = p + v->l3_offset;
      const uint16_t ph = pseudo_header_sum_v6(ip + 8, ip + 24, kIpProtoUdp, v->l4_length);
      if (checksum_add(udp, v->l4_length, ph) != 0xffff) [[unlikely]]
        return FrameStatus::kBadUdpChecksum;
    }
  }
  v->src_port = load_be16(udp);
  v->dst_port = load_be16(udp + 2);
  v->payload_offset = uint16_t(v->l4_offset + kUdpHeaderLength);
  v->payload_length = v->l4_length - uint32_t(kUdpHeaderLength);
  return FrameStatus::kOk;
}

}  // namespace vox::dataplane::net
