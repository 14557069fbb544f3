// In-place forwarding rewrite and header builder. Checksums: the IPv4 header
// checksum and the UDP checksum are patched with RFC 1624 eqn. 3 from the
// changed words only (IPv4 with the payload as parsed: rewrite_udp4, in the
// header), so the cost is independent of the payload length; only a payload
// rewritten in place (SRTP) is summed again.
#include "dataplane/net/rewrite.h"

#include "base/bytes.h"
#include "dataplane/net/checksum.h"

namespace vox::dataplane::net {

namespace {

// IPv4: addresses are bytes 12..15 of the v4-mapped form.
inline const uint8_t* v4_bytes(const IpAddr& a) { return a.bytes + 12; }

}  // namespace

bool rewrite_udp_frame(uint8_t* frame, const FrameView& v, const UdpRewrite& rw) {
  const bool v4 = v.ip_version == 4;
  if (rw.src.addr.is_v4() != v4 || rw.dst.addr.is_v4() != v4) [[unlikely]]
    return false;
  uint8_t* ip = frame + v.l3_offset;
  uint8_t* udp = frame + v.l4_offset;
  const uint8_t ttl = v4 ? ip[8] : ip[7];
  if (rw.ttl == 0 && ttl <= 1) [[unlikely]]
    return false;
  const uint8_t new_ttl = rw.ttl ? rw.ttl : uint8_t(ttl - 1);
  const bool new_payload = rw.payload_length >= 0;
  const uint32_t udp_length =
      new_payload ? uint32_t(kUdpHeaderLength + size_t(rw.payload_length)) : v.l4_length;
  // IPv4 total length covers the header too (RFC 791); IPv6 payload length
  // does not (RFC 8200 §3).
  const uint32_t ip_header = v4 ? uint32_t(v.l4_offset - v.l3_offset) : 0;
  if (udp_length + ip_header > 0xffff) [[unlikely]]
    return false;

  if (v4 && !new_payload) {
    Udp4Rewrite r4;
    r4.src_be = load_wire32(v4_bytes(rw.src.addr));
    r4.dst_be = load_wire32(v4_bytes(rw.dst.addr));
    r4.src_port_be = to_wire16(rw.src.port);
    r4.dst_port_be = to_wire16(rw.dst.port);
    r4.ttl = new_ttl;
    r4.udp_checksum = rw.udp_checksum;
    r4.offload_ip_checksum = rw.offload_ip_checksum;
    rewrite_udp4(frame, ip, udp, rw.dst_mac, rw.src_mac, r4);
    return true;
  }

  uint8_t new_ports[4];
  store_be16(new_ports, rw.src.port);
  store_be16(new_ports + 2, rw.dst.port);
  const uint16_t old_check = load_be16(udp + 6);
  write_ethernet(frame, rw.dst_mac, rw.src_mac);

  if (v4) {
    // The payload was rewritten in place (SRTP): new lengths, and the UDP
    // checksum summed afresh (the old bytes are gone).
    uint8_t new_addrs[8];
    std::memcpy(new_addrs, v4_bytes(rw.src.addr), 4);
    std::memcpy(new_addrs + 4, v4_bytes(rw.dst.addr), 4);
    // TTL shares a 16-bit word with the protocol (RFC 791 §3.1).
    const uint16_t old_word = load_be16(ip + 8);
    const uint16_t new_word = uint16_t(new_ttl << 8 | (old_word & 0xff));
    const uint16_t old_total = load_be16(ip + 2);
    const uint16_t new_total = uint16_t(ip_header + udp_length);
    if (rw.offload_ip_checksum) {
      store_be16(ip + 10, 0);
    } else {
      store_be16(ip + 10, checksum_adjust(load_be16(ip + 10),
                                          checksum_delta<8>(ip + 12, new_addrs) +
                                              checksum_delta16(old_word, new_word) +
                                              checksum_delta16(old_total, new_total)));
    }
    store_be16(ip + 8, new_word);
    std::memcpy(ip + 12, new_addrs, 8);
    std::memcpy(udp, new_ports, 4);
    store_be16(ip + 2, new_total);
    store_be16(udp + 4, uint16_t(udp_length));
    switch (rw.udp_checksum) {
      case UdpChecksumMode::kSoftware:
        if (old_check != 0) {
          store_be16(udp + 6, 0);
          store_be16(udp + 6, udp_checksum_v4(ip + 12, ip + 16, udp, udp_length));
        }
        break;
      case UdpChecksumMode::kZero:
        store_be16(udp + 6, 0);
        break;
      case UdpChecksumMode::kOffload:
        store_be16(udp + 6, pseudo_header_sum_v4(ip + 12, ip + 16, kIpProtoUdp,
                                                 uint16_t(udp_length)));
        break;
    }
    return true;
  }

  // IPv6 has no header checksum; the hop limit is outside the pseudo-header.
  const uint32_t delta = checksum_delta<16>(ip + 8, rw.src.addr.bytes) +
                         checksum_delta<16>(ip + 24, rw.dst.addr.bytes) +
                         checksum_delta<4>(udp, new_ports);
  ip[7] = new_ttl;
  std::memcpy(ip + 8, rw.src.addr.bytes, 16);
  std::memcpy(ip + 24, rw.dst.addr.bytes, 16);
  std::memcpy(udp, new_ports, 4);
  if (new_payload) {
    store_be16(ip + 4, uint16_t(udp_length));  // parse_frame took no extension headers
    store_be16(udp + 4, uint16_t(udp_length));
  }
  if (rw.udp_checksum == UdpChecksumMode::kOffload) {
    store_be16(udp + 6, pseudo_header_sum_v6(ip + 8, ip + 24, kIpProtoUdp, udp_length));
  } else if (new_payload) {
    store_be16(udp + 6, 0);
    store_be16(udp + 6, udp_checksum_v6(ip + 8, ip + 24, udp, udp_length));
  } else {
    // Never zero over IPv6 (RFC 8200 §8.1), so kZero patches too.
    const uint16_t c = checksum_adjust(old_check, delta);
    store_be16(udp + 6, c == 0 ? 0xffff : c);
  }
  return true;
}

size_t udp_frame_header_length(const UdpFrameSpec& spec) {
  return kEthernetHeaderLength + (spec.has_vlan ? kVlanTagLength : 0) +
         (spec.src.addr.is_v4() ? kIpv4MinHeaderLength : kIpv6HeaderLength) + kUdpHeaderLength;
}

uint8_t* build_udp_frame(uint8_t* payload, size_t payload_length, const UdpFrameSpec& spec) {
  const bool v4 = spec.src.addr.is_v4();
  if (spec.dst.addr.is_v4() != v4) return nullptr;
  const size_t udp_length = kUdpHeaderLength + payload_length;
  const size_t ip_header = v4 ? kIpv4MinHeaderLength : kIpv6HeaderLength;
  if (udp_length + (v4 ? ip_header : 0) > 0xffff) return nullptr;

  uint8_t* frame = payload - udp_frame_header_length(spec);
  write_ethernet(frame, spec.dst_mac, spec.src_mac);
  uint8_t* ip = frame + 12;
  if (spec.has_vlan) {
    store_be16(ip, kEtherTypeVlan);
    store_be16(ip + 2, spec.vlan_tci);
    ip += kVlanTagLength;
  }
  store_be16(ip, v4 ? kEtherTypeIpv4 : kEtherTypeIpv6);
  ip += 2;
  uint8_t* udp = ip + ip_header;

  store_be16(udp, spec.src.port);
  store_be16(udp + 2, spec.dst.port);
  store_be16(udp + 4, uint16_t(udp_length));
  store_be16(udp + 6, 0);

  if (v4) {
    // RFC 791 §3.1: version 4, IHL 5, DF set (RTP is never fragmented here).
    ip[0] = 0x45;
    ip[1] = spec.traffic_class;
    store_be16(ip + 2, uint16_t(ip_header + udp_length));
    store_be16(ip + 4, spec.ipv4_id);
    store_be16(ip + 6, 0x4000);
    ip[8] = spec.ttl;
    ip[9] = kIpProtoUdp;
    store_be16(ip + 10, 0);
    std::memcpy(ip + 12, v4_bytes(spec.src.addr), 4);
    std::memcpy(ip + 16, v4_bytes(spec.dst.addr), 4);
    if (!spec.offload_ip_checksum) store_be16(ip + 10, internet_checksum(ip, ip_header));
    if (spec.udp_checksum == UdpChecksumMode::kSoftware) {
      store_be16(udp + 6, udp_checksum_v4(ip + 12, ip + 16, udp, udp_length));
    } else if (spec.udp_checksum == UdpChecksumMode::kOffload) {
      store_be16(udp + 6,
                 pseudo_header_sum_v4(ip + 12, ip + 16, kIpProtoUdp, uint16_t(udp_length)));
    }
    return frame;
  }

  // RFC 8200 §3: version 6, traffic class, flow label 0.
  store_be32(ip, 0x60000000u | uint32_t(spec.traffic_class) << 20);
  store_be16(ip + 4, uint16_t(udp_length));
  ip[6] = kIpProtoUdp;
  ip[7] = spec.ttl;
  std::memcpy(ip + 8, spec.src.addr.bytes, 16);
  std::memcpy(ip + 24, spec.dst.addr.bytes, 16);
  if (spec.udp_checksum == UdpChecksumMode::kOffload) {
    store_be16(udp + 6, pseudo_header_sum_v6(ip + 8, ip + 24, kIpProtoUdp, uint32_t(udp_length)));
  } else {
    store_be16(udp + 6, udp_checksum_v6(ip + 8, ip + 24, udp, udp_length));
  }
  return frame;
}

}  // namespace vox::dataplane::net
