// In-place ICMP responders. Echo replies patch the checksums with RFC 1624
// (swapping source and destination leaves every pseudo-header sum unchanged);
// the Neighbor Advertisement is rewritten whole and checksummed afresh.
#include "dataplane/net/icmp.h"

#include <cstring>

#include "base/bytes.h"
#include "dataplane/net/checksum.h"

namespace vox::dataplane::net {

namespace {

constexpr size_t kIcmpEchoHeader = 8;        // type, code, checksum, id, sequence
constexpr size_t kNeighborMessageLength = 24;  // type .. target address (RFC 4861 §4.3)
constexpr uint8_t kOptionSourceLla = 1;
constexpr uint8_t kOptionTargetLla = 2;

bool is_ours(const uint8_t* addr16, std::span<const IpAddr> ours) {
  for (const IpAddr& a : ours)
    if (std::memcmp(a.bytes, addr16, 16) == 0) return true;
  return false;
}

void swap_bytes(uint8_t* a, uint8_t* b, size_t n) {
  uint8_t t[16];
  std::memcpy(t, a, n);
  std::memcpy(a, b, n);
  std::memcpy(b, t, n);
}

uint16_t icmpv6_sum(const uint8_t* ip, const uint8_t* icmp, uint32_t len) {
  return checksum_add(icmp, len, pseudo_header_sum_v6(ip + 8, ip + 24, kIpProtoIcmpv6, len));
}

// Walks Neighbor Discovery options (RFC 4861 §4.6: type, length in 8-octet
// units, never 0) after the fixed part; returns false if one is malformed,
// else points *lla at the 6-octet link-layer address of option `want`
// (nullptr if absent).
bool find_lla_option(const uint8_t* icmp, size_t len, uint8_t want, const uint8_t** lla) {
  *lla = nullptr;
  for (size_t off = kNeighborMessageLength; off < len;) {
    if (len - off < 2 || icmp[off + 1] == 0 || size_t(icmp[off + 1]) * 8 > len - off) return false;
    if (icmp[off] == want && icmp[off + 1] == 1) *lla = icmp + off + 2;
    off += size_t(icmp[off + 1]) * 8;
  }
  return true;
}

// The 16-bit word holding type and code is the first of the message.
void set_type(uint8_t* icmp, uint8_t type) {
  const uint16_t old_word = load_be16(icmp);
  const uint16_t new_word = uint16_t(type << 8 | icmp[1]);
  store_be16(icmp + 2, checksum_adjust(load_be16(icmp + 2), checksum_delta16(old_word, new_word)));
  icmp[0] = type;
}

}  // namespace

Result<size_t, IcmpError> answer_icmpv4_echo(uint8_t* frame, const FrameView& v,
                                             std::span<const IpAddr> ours) {
  if (v.ip_version != 4 || v.ip_protocol != kIpProtoIcmp) return Err{IcmpError::kNotIcmp};
  if (v.l4_length < kIcmpEchoHeader) return Err{IcmpError::kTruncated};
  uint8_t* ip = frame + v.l3_offset;
  uint8_t* icmp = frame + v.l4_offset;
  if (icmp[0] != kIcmpEchoRequest || icmp[1] != 0) return Err{IcmpError::kNotHandled};
  // RFC 1122 §3.2.2.6: no reply to a multicast/broadcast source.
  if (ip[12] >= 224) return Err{IcmpError::kNotHandled};
  if (!is_ours(v.dst_ip.bytes, ours)) return Err{IcmpError::kNotOurAddress};
  if (checksum_add(icmp, v.l4_length) != 0xffff) return Err{IcmpError::kBadChecksum};

  swap_bytes(frame, frame + 6, 6);
  swap_bytes(ip + 12, ip + 16, 4);  // the header sum is order-independent
  const uint16_t old_word = load_be16(ip + 8);  // TTL | protocol
  const uint16_t new_word = uint16_t(kIpv4ReplyTtl << 8 | ip[9]);
  store_be16(ip + 10, checksum_adjust(load_be16(ip + 10), checksum_delta16(old_word, new_word)));
  ip[8] = kIpv4ReplyTtl;
  set_type(icmp, kIcmpEchoReply);
  return size_t(v.length);
}

Result<size_t, IcmpError> answer_icmpv6_echo(uint8_t* frame, const FrameView& v,
                                             std::span<const IpAddr> ours) {
  if (v.ip_version != 6 || v.ip_protocol != kIpProtoIcmpv6) return Err{IcmpError::kNotIcmp};
  if (v.l4_length < kIcmpEchoHeader) return Err{IcmpError::kTruncated};
  uint8_t* ip = frame + v.l3_offset;
  uint8_t* icmp = frame + v.l4_offset;
  if (icmp[0] != kIcmpv6EchoRequest || icmp[1] != 0) return Err{IcmpError::kNotHandled};
  if (ip[8] == 0xff) return Err{IcmpError::kNotHandled};  // multicast source
  if (!is_ours(ip + 24, ours)) return Err{IcmpError::kNotOurAddress};
  if (icmpv6_sum(ip, icmp, v.l4_length) != 0xffff) return Err{IcmpError::kBadChecksum};

  swap_bytes(frame, frame + 6, 6);
  swap_bytes(ip + 8, ip + 24, 16);
  ip[7] = kIpv4ReplyTtl;  // hop limit: not covered by any checksum
  set_type(icmp, kIcmpv6EchoReply);
  return size_t(v.length);
}

Result<size_t, IcmpError> answer_neighbor_solicitation(uint8_t* frame, size_t capacity,
                                                       const FrameView& v, const MacAddr& our_mac,
                                                       std::span<const IpAddr> ours) {
  if (v.ip_version != 6 || v.ip_protocol != kIpProtoIcmpv6) return Err{IcmpError::kNotIcmp};
  if (v.l4_length < kNeighborMessageLength) return Err{IcmpError::kTruncated};
  uint8_t* ip = frame + v.l3_offset;
  uint8_t* icmp = frame + v.l4_offset;
  if (icmp[0] != kIcmpv6NeighborSolicitation) return Err{IcmpError::kNotHandled};
  // RFC 4861 §7.1.1: hop limit 255 (not forwarded), code 0, target not multicast.
  if (ip[7] != 255 || icmp[1] != 0 || icmp[8] == 0xff)
    return Err{IcmpError::kBadNeighborSolicitation};
  if (icmpv6_sum(ip, icmp, v.l4_length) != 0xffff) return Err{IcmpError::kBadChecksum};

  const uint8_t* source_lla;
  if (!find_lla_option(icmp, v.l4_length, kOptionSourceLla, &source_lla))
    return Err{IcmpError::kBadNeighborSolicitation};
  static const uint8_t kUnspecified[16] = {};
  const bool dad = std::memcmp(ip + 8, kUnspecified, 16) == 0;
  if (dad) {
    // A DAD probe goes to the target's solicited-node group, ff02::1:ffXX:XXXX.
    static const uint8_t kSolicited[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};
    if (source_lla != nullptr || std::memcmp(ip + 24, kSolicited, 13) != 0)
      return Err{IcmpError::kBadNeighborSolicitation};
  }
  if (!is_ours(icmp + 8, ours)) return Err{IcmpError::kNotOurAddress};
  const size_t reply_length = size_t(v.l3_offset) + kIpv6HeaderLength + kNeighborMessageLength + 8;
  if (reply_length > capacity) return Err{IcmpError::kNoRoom};

  // Ethernet: to the soliciting node's link-layer address (its option, else
  // the frame's source), or the all-nodes group 33:33:00:00:00:01 for DAD.
  MacAddr dst_mac = v.src_mac();
  if (source_lla != nullptr) std::memcpy(dst_mac.bytes, source_lla, 6);
  uint8_t dst_ip[16];
  if (dad) {
    dst_mac = MacAddr{{0x33, 0x33, 0, 0, 0, 1}};
    static const uint8_t kAllNodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    std::memcpy(dst_ip, kAllNodes, 16);
  } else {
    std::memcpy(dst_ip, ip + 8, 16);
  }
  std::memcpy(frame, dst_mac.bytes, 6);
  std::memcpy(frame + 6, our_mac.bytes, 6);

  store_be32(ip, 0x60000000u);
  store_be16(ip + 4, uint16_t(kNeighborMessageLength + 8));
  ip[6] = kIpProtoIcmpv6;
  ip[7] = 255;
  std::memcpy(ip + 8, icmp + 8, 16);  // from the target address
  std::memcpy(ip + 24, dst_ip, 16);

  // RFC 4861 §4.4: R=0 (not a router), S unless DAD, O=1; target unchanged;
  // Target Link-Layer Address option.
  icmp[0] = kIcmpv6NeighborAdvertisement;
  icmp[1] = 0;
  store_be16(icmp + 2, 0);
  store_be32(icmp + 4, (dad ? 0u : 0x40000000u) | 0x20000000u);
  icmp[24] = kOptionTargetLla;
  icmp[25] = 1;
  std::memcpy(icmp + 26, our_mac.bytes, 6);
  const uint32_t len = uint32_t(kNeighborMessageLength + 8);
  store_be16(icmp + 2, checksum_finish(icmpv6_sum(ip, icmp, len)));
  return reply_length;
}

size_t build_neighbor_solicitation(uint8_t* out, size_t capacity, const MacAddr& our_mac,
                                   const IpAddr& our_ip, const IpAddr& target, bool has_vlan,
                                   uint16_t vlan_tci) {
  const size_t l3 = kEthernetHeaderLength + (has_vlan ? kVlanTagLength : 0);
  const uint32_t icmp_len = uint32_t(kNeighborMessageLength + 8);  // + source LLA option
  const size_t len = l3 + kIpv6HeaderLength + icmp_len;
  if (capacity < len || our_ip.is_v4() || target.is_v4()) return 0;
  // Solicited-node group (RFC 4291 §2.7.1): ff02::1:ff and the target's
  // low 24 bits; its MAC is 33:33 and the group's low 32 bits (RFC 2464 §7).
  uint8_t group[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};
  std::memcpy(group + 13, target.bytes + 13, 3);
  const MacAddr group_mac{{0x33, 0x33, group[12], group[13], group[14], group[15]}};

  uint8_t* ip = write_ethernet_header(out, group_mac, our_mac, kEtherTypeIpv6, has_vlan, vlan_tci);
  store_be32(ip, 0x60000000u);
  store_be16(ip + 4, uint16_t(icmp_len));
  ip[6] = kIpProtoIcmpv6;
  ip[7] = 255;
  std::memcpy(ip + 8, our_ip.bytes, 16);
  std::memcpy(ip + 24, group, 16);
  uint8_t* icmp = ip + kIpv6HeaderLength;
  icmp[0] = kIcmpv6NeighborSolicitation;
  icmp[1] = 0;
  store_be16(icmp + 2, 0);
  store_be32(icmp + 4, 0);  // reserved
  std::memcpy(icmp + 8, target.bytes, 16);
  icmp[24] = kOptionSourceLla;
  icmp[25] = 1;
  std::memcpy(icmp + 26, our_mac.bytes, 6);
  store_be16(icmp + 2, checksum_finish(icmpv6_sum(ip, icmp, icmp_len)));
  return len;
}

Result<NeighborAdvertisement, IcmpError> parse_neighbor_advertisement(const uint8_t* frame,
                                                                      const FrameView& v) {
  if (v.ip_version != 6 || v.ip_protocol != kIpProtoIcmpv6) return Err{IcmpError::kNotIcmp};
  if (v.l4_length < kNeighborMessageLength) return Err{IcmpError::kTruncated};
  const uint8_t* ip = frame + v.l3_offset;
  const uint8_t* icmp = frame + v.l4_offset;
  if (icmp[0] != kIcmpv6NeighborAdvertisement) return Err{IcmpError::kNotHandled};
  if (ip[7] != 255 || icmp[1] != 0 || icmp[8] == 0xff)
    return Err{IcmpError::kBadNeighborAdvertisement};
  if (icmpv6_sum(ip, icmp, v.l4_length) != 0xffff) return Err{IcmpError::kBadChecksum};
  const uint8_t* target_lla;
  if (!find_lla_option(icmp, v.l4_length, kOptionTargetLla, &target_lla) || target_lla == nullptr)
    return Err{IcmpError::kBadNeighborAdvertisement};
  NeighborAdvertisement na;
  std::memcpy(na.target.bytes, icmp + 8, 16);
  std::memcpy(na.mac.bytes, target_lla, 6);
  na.solicited = (icmp[4] & 0x40) != 0;
  return na;
}

}  // namespace vox::dataplane::net
