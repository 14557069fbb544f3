// libFuzzer target for dataplane/net/: parse any frame (with and without
// checksum verification); views must stay inside the buffer; the fast path
// must agree with parse_frame; the ARP/ICMP
// responders and the forwarding rewrite run on exactly sized copies and
// their output must parse again, with checksums still correct.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "dataplane/net/arp.h"
#include "dataplane/net/checksum.h"
#include "dataplane/net/frame.h"
#include "dataplane/net/icmp.h"
#include "dataplane/net/rewrite.h"

using namespace vox;
using namespace vox::dataplane::net;

namespace {

inline void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool l3_valid(FrameStatus s) { return s == FrameStatus::kOk || s == FrameStatus::kNotUdp; }

void check_view(FrameStatus s, const FrameView& v, const uint8_t* data, size_t size) {
  check(uint8_t(s) < kFrameStatusCount && to_string(s) != nullptr);
  check(v.data == data && v.length == size);
  if (s == FrameStatus::kTruncatedEthernet) return;
  check(v.l3_offset <= size);
  if (!l3_valid(s)) return;
  check(v.ip_version == 4 || v.ip_version == 6);
  check(v.l3_offset + size_t(v.l3_length) <= size);
  check(v.l4_offset >= v.l3_offset + kIpv4MinHeaderLength);
  check(v.l4_offset + size_t(v.l4_length) == v.l3_offset + size_t(v.l3_length));
  if (s != FrameStatus::kOk) return;
  check(v.ip_protocol == kIpProtoUdp);
  check(v.payload_offset == v.l4_offset + kUdpHeaderLength);
  check(v.payload_offset + size_t(v.payload_length) == v.l4_offset + size_t(v.l4_length));
}

void fuzz_icmp(const uint8_t* data, size_t size, const FrameView& v, bool verified) {
  // "Ours": the destination, and for an NS-sized message its target address.
  IpAddr ours[2] = {v.dst_ip, IpAddr{}};
  if (v.ip_version == 6 && v.l4_length >= 24) std::memcpy(ours[1].bytes, v.l4() + 8, 16);
  for (int which = 0; which < 3; ++which) {
    std::vector<uint8_t> buf(size + 32);  // room for an NA longer than the NS
    std::memcpy(buf.data(), data, size);
    Result<size_t, IcmpError> r = Err{IcmpError::kNotIcmp};
    if (which == 0) r = answer_icmpv4_echo(buf.data(), v, ours);
    if (which == 1) r = answer_icmpv6_echo(buf.data(), v, ours);
    if (which == 2) r = answer_neighbor_solicitation(buf.data(), buf.size(), v, MacAddr{{2}}, ours);
    if (!r.ok()) {
      check(to_string(r.error()) != nullptr);
      check(std::memcmp(buf.data(), data, size) == 0);  // refusals never write
      continue;
    }
    check(*r <= buf.size());
    buf.resize(*r);  // exactly sized for the re-parse
    FrameView w;
    const FrameStatus s = parse_frame(buf.data(), buf.size(), &w, {.verify_ip_checksum = verified});
    check(s == FrameStatus::kNotUdp);
    if (w.ip_version == 4) {
      check(checksum_add(w.l4(), w.l4_length) == 0xffff);
    } else {
      const uint8_t* ip = w.l3();
      check(checksum_add(w.l4(), w.l4_length,
                         pseudo_header_sum_v6(ip + 8, ip + 24, kIpProtoIcmpv6, w.l4_length)) == 0xffff);
    }
  }
  // A Neighbor Advertisement's target and MAC come from inside the message;
  // a refusal never says otherwise.
  if (auto na = parse_neighbor_advertisement(data, v); na.ok()) {
    check(v.ip_version == 6 && v.l4_length >= 32 && v.l4()[0] == kIcmpv6NeighborAdvertisement);
    check(std::memcmp(na->target.bytes, v.l4() + 8, 16) == 0);
  } else {
    check(to_string(na.error()) != nullptr);
  }
}

void fuzz_rewrite(const uint8_t* data, size_t size, const FrameView& v, bool verified) {
  std::vector<uint8_t> buf(data, data + size);
  UdpRewrite rw;
  rw.dst_mac = MacAddr{{2, 0, 0, 0, 0, 9}};
  const bool v4 = v.ip_version == 4;
  rw.src = Endpoint{v4 ? IpAddr::from_v4(0xc6336401) : *IpAddr::parse("2001:db8::1"), 30000};
  rw.dst = Endpoint{v4 ? IpAddr::from_v4(0xcb00710a) : *IpAddr::parse("2001:db8:ff::a"), 40002};
  rw.udp_checksum = size % 3 == 0 ? UdpChecksumMode::kZero : UdpChecksumMode::kSoftware;
  if (!rewrite_udp_frame(buf.data(), v, rw)) {
    check(v.ttl <= 1 && std::memcmp(buf.data(), data, size) == 0);
    return;
  }
  FrameView w;
  const ParseOptions o{.verify_ip_checksum = verified, .verify_udp_checksum = verified};
  check(parse_frame(buf.data(), buf.size(), &w, o) == FrameStatus::kOk);
  check(w.src_ip == rw.src.addr && w.dst_ip == rw.dst.addr && w.src_port == rw.src.port &&
        w.dst_port == rw.dst.port && w.ttl == v.ttl - 1 && w.payload_length == v.payload_length);
  check(std::memcmp(w.payload(), v.payload(), v.payload_length) == 0);
}

// parse_udp4_fast takes exactly the untagged, option-less IPv4 UDP frames
// parse_frame takes, and fills the same view.
void fuzz_fast_path(const uint8_t* data, size_t size, FrameStatus s, const FrameView& v,
                    const ParseOptions& o) {
  FrameView f;
  const bool common = s == FrameStatus::kOk && !v.has_vlan && v.ip_version == 4 &&
                      v.l4_offset == kEthernetHeaderLength + kIpv4MinHeaderLength;
  check(parse_udp4_fast(data, size, &f, o) == common);
  if (!common) return;
  check(f == v);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FrameView v, u;
  const FrameStatus sv = parse_frame(data, size, &v);
  const FrameStatus su = parse_frame(data, size, &u, {.verify_ip_checksum = false,
                                                      .verify_udp_checksum = false});
  check_view(sv, v, data, size);
  check_view(su, u, data, size);
  // Skipping verification only removes the checksum rejections.
  check(sv == su || sv == FrameStatus::kBadIpChecksum || sv == FrameStatus::kBadUdpChecksum);
  fuzz_fast_path(data, size, sv, v, {});
  fuzz_fast_path(data, size, su, u, {.verify_ip_checksum = false, .verify_udp_checksum = false});

  {
    std::vector<uint8_t> buf(data, data + size);
    auto a = parse_arp(buf.data(), buf.size());
    const bool replied = build_arp_reply(buf.data(), buf.size(), MacAddr{{2, 0, 0, 0, 0, 1}});
    check(replied == (a.ok() && a->operation == kArpRequest));
    if (replied) {
      auto b = parse_arp(buf.data(), buf.size());
      check(b.ok() && b->operation == kArpReply && b->sender_ip == a->target_ip &&
            b->target_ip == a->sender_ip && b->target_mac == a->sender_mac);
    }
  }
  if (su == FrameStatus::kNotUdp) fuzz_icmp(data, size, u, sv == FrameStatus::kNotUdp);
  if (su == FrameStatus::kOk) fuzz_rewrite(data, size, u, sv == FrameStatus::kOk);
  return 0;
}
