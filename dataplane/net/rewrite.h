// Forwarding rewrites of a UDP/IP frame in place (new MACs, addresses, ports,
// TTL - 1, checksums patched per RFC 1624), and build_udp_frame, which writes
// fresh Ethernet/IP/UDP headers in front of a payload (family change, tests).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "base/endpoint.h"
#include "dataplane/net/checksum.h"
#include "dataplane/net/frame.h"

namespace vox::dataplane::net {

// What to do with the UDP checksum of an outgoing datagram.
enum class UdpChecksumMode : uint8_t {
  kSoftware,      // correct checksum computed or patched in software
  kZero,          // IPv4 only: 0 = "no checksum" (RFC 768); IPv6 falls back to kSoftware
  kOffload,       // NIC completes it: field holds the pseudo-header sum (DPDK
                  // RTE_MBUF_F_TX_UDP_CKSUM convention, rte_ipv4/6_phdr_cksum)
};

struct UdpRewrite {
  MacAddr src_mac, dst_mac;
  Endpoint src, dst;  // same family as the frame
  UdpChecksumMode udp_checksum = UdpChecksumMode::kSoftware;
  bool offload_ip_checksum = false;  // IPv4: NIC computes it; field is zeroed
  // 0: decrement TTL / hop limit (forwarding). Otherwise the new value: a
  // media relay terminates UDP and sends as a host would (64), so a peer's
  // low TTL never shortens the relayed leg.
  uint8_t ttl = 0;
  // -1: the payload is as parsed. Otherwise it was rewritten in place (SRTP
  // protect/unprotect) and is now this many octets: the IP and UDP lengths
  // follow, and kSoftware computes the UDP checksum afresh over it (the old
  // bytes are gone, so RFC 1624 patching cannot apply). The frame then ends
  // at v.payload_offset + payload_length; the caller sizes its buffer.
  int32_t payload_length = -1;
};

// Rewrites the frame `v` describes (parse_frame returned kOk for it, with
// v.data == frame) for forwarding. Decrements TTL / hop limit (RFC 1812
// §5.3.1, RFC 8200 §3) unless rw.ttl sets it; returns false, frame untouched,
// when a decrement would reach 0, when rw's family differs from the
// frame's (use build_udp_frame then) or when the new payload length does
// not fit the IP length field.
// A zero IPv4 UDP checksum stays zero in kSoftware mode.
bool rewrite_udp_frame(uint8_t* frame, const FrameView& v, const UdpRewrite& rw);

// Marks a rewritten frame's IP header with the operator's TOS (IPv4 TOS
// octet, or IPv6 traffic class across the version and flow label nibbles),
// patching the IPv4 header checksum (RFC 1624) unless the NIC computes it.
// UDP's checksum covers neither.
inline void set_traffic_class(uint8_t* ip, bool v4, uint8_t tc, bool offload_ip_checksum) {
  if (!v4) {
    ip[0] = uint8_t((ip[0] & 0xf0) | (tc >> 4));
    ip[1] = uint8_t((tc << 4) | (ip[1] & 0x0f));
    return;
  }
  const uint16_t old_word = load_be16(ip);
  ip[1] = tc;
  if (offload_ip_checksum) return;
  store_be16(ip + 10, checksum_adjust(load_be16(ip + 10), checksum_delta16(old_word, load_be16(ip))));
}

// New destination and source MACs at the start of a frame.
inline void write_ethernet(uint8_t* frame, const MacAddr& dst, const MacAddr& src) {
  std::memcpy(frame, dst.bytes, 6);
  std::memcpy(frame + 6, src.bytes, 6);
}

// The relay's per-packet case, IPv4 to IPv4 with the payload as parsed:
// what rewrite_udp_frame does, from values the caller has at hand
// (addresses and ports in network byte order, as on the wire; the MACs
// where the caller keeps them, copied once, straight into the frame).
struct Udp4Rewrite {
  uint32_t src_be = 0, dst_be = 0;
  uint16_t src_port_be = 0, dst_port_be = 0;
  uint8_t ttl = 0;  // the new TTL (never 0 here: the caller decremented or set it)
  UdpChecksumMode udp_checksum = UdpChecksumMode::kSoftware;
  bool offload_ip_checksum = false;
};

// Rewrites an IPv4 frame parse_frame accepted (ip and udp point into it).
// Both checksums are patched with RFC 1624 eqn. 3 from the changed words,
// summed in native byte order (RFC 1071 §2(B)): the cost is a few adds,
// whatever the payload. A zero UDP checksum stays zero in kSoftware mode.
[[gnu::always_inline]] inline void rewrite_udp4(uint8_t* frame, uint8_t* ip, uint8_t* udp, const MacAddr& dst_mac,
                                                const MacAddr& src_mac, const Udp4Rewrite& rw) {
  write_ethernet(frame, dst_mac, src_mac);
  uint8_t ports_bytes[4];
  std::memcpy(ports_bytes, &rw.src_port_be, 2);
  std::memcpy(ports_bytes + 2, &rw.dst_port_be, 2);
  const uint32_t new_ports = load_wire32(ports_bytes);
  // ~m + m' per changed word (eqn. 3); a 32-bit word is two 16-bit ones.
  const uint64_t addrs =
      uint64_t(~load_wire32(ip + 12)) + uint32_t(~load_wire32(ip + 16)) + rw.src_be + rw.dst_be;
  const uint64_t ports = uint64_t(~load_wire32(udp)) + new_ports;
  // TTL shares a 16-bit word with the protocol (RFC 791 §3.1): octet 8.
  const uint16_t old_ttl_word = load_wire16(ip + 8);
  uint16_t new_ttl_word = old_ttl_word;
  std::memcpy(&new_ttl_word, &rw.ttl, 1);  // the word's first octet, either byte order
  std::memcpy(ip + 8, &new_ttl_word, 2);
  std::memcpy(ip + 12, &rw.src_be, 4);
  std::memcpy(ip + 16, &rw.dst_be, 4);
  std::memcpy(udp, ports_bytes, 4);
  if (rw.offload_ip_checksum) {
    std::memset(ip + 10, 0, 2);
  } else {
    const uint64_t d = addrs + uint16_t(~old_ttl_word) + new_ttl_word;
    const uint16_t c = uint16_t(~checksum_fold64(uint16_t(~load_wire16(ip + 10)) + d));
    std::memcpy(ip + 10, &c, 2);
  }
  switch (rw.udp_checksum) {
    case UdpChecksumMode::kSoftware:
      if (const uint16_t old = load_wire16(udp + 6); old != 0) {
        uint16_t c = uint16_t(~checksum_fold64(uint16_t(~old) + addrs + ports));
        if (c == 0) c = 0xffff;  // RFC 768: 0 is "none"
        std::memcpy(udp + 6, &c, 2);
      }
      break;
    case UdpChecksumMode::kZero:
      std::memset(udp + 6, 0, 2);
      break;
    case UdpChecksumMode::kOffload:
      store_be16(udp + 6, pseudo_header_sum_v4(ip + 12, ip + 16, kIpProtoUdp, load_be16(udp + 4)));
      break;
  }
}

struct UdpFrameSpec {
  MacAddr src_mac, dst_mac;
  bool has_vlan = false;
  uint16_t vlan_tci = 0;
  Endpoint src, dst;  // both IPv4 (v4-mapped) or both IPv6
  uint8_t ttl = 64;
  uint8_t traffic_class = 0;  // IPv4 DSCP/ECN octet or IPv6 traffic class (EF = 0xb8)
  uint16_t ipv4_id = 0;
  UdpChecksumMode udp_checksum = UdpChecksumMode::kSoftware;
  bool offload_ip_checksum = false;
};

// The same headers as an in-place rewrite (a frame of spec's family whose
// payload is now payload_length octets; -1: as parsed). VLAN, traffic
// class and IPv4 id stay the frame's own.
inline UdpRewrite as_rewrite(const UdpFrameSpec& spec, int32_t payload_length) {
  UdpRewrite rw;
  rw.src_mac = spec.src_mac;
  rw.dst_mac = spec.dst_mac;
  rw.src = spec.src;
  rw.dst = spec.dst;
  rw.udp_checksum = spec.udp_checksum;
  rw.offload_ip_checksum = spec.offload_ip_checksum;
  rw.ttl = spec.ttl;
  rw.payload_length = payload_length;
  return rw;
}

// Octets of Ethernet (+ VLAN) + IP + UDP headers for spec's family.
size_t udp_frame_header_length(const UdpFrameSpec& spec);

// Writes the headers into the udp_frame_header_length(spec) octets just
// before `payload` (the caller's headroom) and returns the frame start, or
// nullptr when the families differ or the datagram would exceed 65535 octets.
uint8_t* build_udp_frame(uint8_t* payload, size_t payload_length, const UdpFrameSpec& spec);

}  // namespace vox::dataplane::net
