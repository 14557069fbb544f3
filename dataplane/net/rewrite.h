// Forwarding rewrites of a UDP/IP frame in place (new MACs, addresses, ports,
// TTL - 1, checksums patched per RFC 1624), and build_udp_frame, which writes
// fresh Ethernet/IP/UDP headers in front of a payload (family change, tests).
#pragma once

#include <cstddef>
#include <cstdint>

#include "dataplane/endpoint.h"
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

// Octets of Ethernet (+ VLAN) + IP + UDP headers for spec's family.
size_t udp_frame_header_length(const UdpFrameSpec& spec);

// Writes the headers into the udp_frame_header_length(spec) octets just
// before `payload` (the caller's headroom) and returns the frame start, or
// nullptr when the families differ or the datagram would exceed 65535 octets.
uint8_t* build_udp_frame(uint8_t* payload, size_t payload_length, const UdpFrameSpec& spec);

}  // namespace vox::dataplane::net
