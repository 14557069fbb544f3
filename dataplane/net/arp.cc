// RFC 826 packet handling.
#include "dataplane/net/arp.h"

#include <cstring>

#include "base/bytes.h"

namespace vox::dataplane::net {

Result<ArpView, ArpError> parse_arp(const uint8_t* frame, size_t len) {
  FrameView eth;
  if (parse_ethernet(frame, len, &eth) != FrameStatus::kNotIp || eth.ethertype != kEtherTypeArp)
    return Err{ArpError::kNotArp};
  if (len - eth.l3_offset < kArpLength) return Err{ArpError::kTruncated};
  // RFC 826 "Packet format": hrd(16) pro(16) hln(8) pln(8) op(16) sha spa tha tpa.
  const uint8_t* a = frame + eth.l3_offset;
  if (load_be16(a) != 1 || a[4] != 6) return Err{ArpError::kBadHardware};
  if (load_be16(a + 2) != kEtherTypeIpv4 || a[5] != 4) return Err{ArpError::kBadProtocol};
  ArpView v{};
  v.arp_offset = eth.l3_offset;
  v.operation = load_be16(a + 6);
  if (v.operation != kArpRequest && v.operation != kArpReply) return Err{ArpError::kBadOperation};
  std::memcpy(v.sender_mac.bytes, a + 8, 6);
  v.sender_ip = load_be32(a + 14);
  std::memcpy(v.target_mac.bytes, a + 18, 6);
  v.target_ip = load_be32(a + 24);
  return v;
}

bool build_arp_reply(uint8_t* frame, size_t len, const MacAddr& our_mac) {
  auto r = parse_arp(frame, len);
  if (!r.ok() || r->operation != kArpRequest) return false;
  const ArpView& v = *r;
  uint8_t* a = frame + v.arp_offset;
  std::memcpy(frame, v.sender_mac.bytes, 6);  // Ethernet dst: the requester
  std::memcpy(frame + 6, our_mac.bytes, 6);
  store_be16(a + 6, kArpReply);
  std::memcpy(a + 8, our_mac.bytes, 6);
  store_be32(a + 14, v.target_ip);
  std::memcpy(a + 18, v.sender_mac.bytes, 6);
  store_be32(a + 24, v.sender_ip);
  return true;
}

size_t build_arp_request(uint8_t* out, size_t capacity, const MacAddr& our_mac, uint32_t our_ip,
                         uint32_t target_ip, bool has_vlan, uint16_t vlan_tci) {
  if (capacity < kEthernetMinFrame) return 0;
  std::memset(out, 0, kEthernetMinFrame);
  uint8_t* a = write_ethernet_header(out, kBroadcastMac, our_mac, kEtherTypeArp, has_vlan, vlan_tci);
  store_be16(a, 1);  // Ethernet
  store_be16(a + 2, kEtherTypeIpv4);
  a[4] = 6;
  a[5] = 4;
  store_be16(a + 6, kArpRequest);
  std::memcpy(a + 8, our_mac.bytes, 6);
  store_be32(a + 14, our_ip);
  // Target hardware address: unknown, left zero (RFC 826 leaves it unspecified).
  store_be32(a + 24, target_ip);
  return kEthernetMinFrame;
}

}  // namespace vox::dataplane::net
