// Tests for dataplane/net/frame.h: golden frames (bytes and checksums made by
// an independent script and re-checked here with a naive checksum), every
// status, and truncation at every prefix length (exactly sized heap copies, so
// ASan catches any read past the end).
#include "dataplane/net/frame.h"

#include <gtest/gtest.h>

#include "hex.h"

#include <cstring>

#include <string>
#include <string_view>
#include <vector>

#include "dataplane/net/checksum.h"

namespace vox::dataplane::net {
namespace {

using testing::from_hex;

uint16_t ref_checksum(const uint8_t* p, size_t n) {
  uint32_t s = 0;
  for (size_t i = 0; i < n; i += 2) s += uint32_t(p[i]) << 8 | (i + 1 < n ? p[i + 1] : 0);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return uint16_t(~s);
}

// 02:00:00:00:00:01 -> 02:00:00:00:00:02, 192.0.2.10:40000 -> 198.51.100.20:30000,
// DSCP EF, id 0x1234, DF, TTL 64; UDP carries the 172-octet PCMU packet of
// rtp_test.cc. IP checksum 0x3ae7, UDP checksum 0x43e0.
constexpr std::string_view kIpv4Rtp =
    "020000000002020000000001080045b800c81234400040113ae7c000020ac63364149c40753000b443e0"
    "80001f4c0007d0a03c5a8e11"
    "1e0b0b1e9e8b8b9e1e0b0b1e9e8b8b9e1e0b0b1e9e8b8b9e1e0b0b1e9e8b8b9e1e0b0b1e9e8b8b9e"
    "1e0b0b1e9e8b8b9e1e0b0b1e9e8b8b9e1e0b0b1e9e8b8b9e1e0b0b1e9e8b8b9e1e0b0b1e9e8b8b9e"
    "1e0b0b1e9e8b8b9e1e0b0b1e9e8b8b9e1e0b0b1e9e8b8b9e1e0b0b1e9e8b8b9e1e0b0b1e9e8b8b9e"
    "1e0b0b1e9e8b8b9e1e0b0b1e9e8b8b9e1e0b0b1e9e8b8b9e1e0b0b1e9e8b8b9e1e0b0b1e9e8b8b9e";
// Same RTP over IPv6: 2001:db8::10 -> 2001:db8:1::20, UDP checksum 0xd48f.
constexpr std::string_view kIpv6Rtp =
    "02000000000202000000000186dd6000000000b4114020010db800000000000000000000001020010db8"
    "0001000000000000000000209c40753000b4d48f80001f4c0007d0a03c5a8e11"
    "1e0b0b1e9e8b8b9e1e0b0b1e9e8b8b9e1e0b0b1e9e8b8b9e1e0b0b1e9e8b8b9e1e0b0b1e9e8b8b9e"
    "1e0b0b1e9e8b8b9e1e0b0b1e9e8b8b9e1e0b0b1e9e8b8b9e1e0b0b1e9e8b8b9e1e0b0b1e9e8b8b9e"
    "1e0b0b1e9e8b8b9e1e0b0b1e9e8b8b9e1e0b0b1e9e8b8b9e1e0b0b1e9e8b8b9e1e0b0b1e9e8b8b9e"
    "1e0b0b1e9e8b8b9e1e0b0b1e9e8b8b9e1e0b0b1e9e8b8b9e1e0b0b1e9e8b8b9e1e0b0b1e9e8b8b9e";
// VLAN 100: 10.1.2.3:5060 -> 10.4.5.6:5062, "hello relay".
constexpr std::string_view kVlanIpv4 =
    "020000000002020000000001810000640800450000270007400040111fb20a0102030a04050613c413c6"
    "0013217768656c6c6f2072656c6179";
// IPv4/UDP without checksum (0), padded to the 60-octet Ethernet minimum.
constexpr std::string_view kIpv4NoChecksum =
    "0200000000020200000000010800450000201c46400040119a83c0000201c000020204d2162e000c0000"
    "616263640000000000000000000000000000";
// ICMP echo request from a Linux ping, 10.0.2.15 -> 10.0.2.2.
constexpr std::string_view kIcmpEcho =
    "525400123502080027a53f1c0800450000545c3e40004001c65a0a00020f0a0002020800499e04d20001"
    "a1b2c3d4000000005e0a0b0c0d0e0f10101112131415161718191a1b1c1d1e1f202122232425262728292a"
    "2b2c2d2e2f3031323334353637";

FrameStatus parse(const std::vector<uint8_t>& f, FrameView* v, ParseOptions o = {}) {
  return parse_frame(f.data(), f.size(), v, o);
}

TEST(NetFrame, Ipv4UdpGolden) {
  const auto f = from_hex(kIpv4Rtp);
  ASSERT_EQ(f.size(), 214u);
  // Independent re-check of the golden checksums.
  std::vector<uint8_t> hdr(f.begin() + 14, f.begin() + 34);
  hdr[10] = hdr[11] = 0;
  EXPECT_EQ(ref_checksum(hdr.data(), hdr.size()), 0x3ae7);
  std::vector<uint8_t> pseudo = {192, 0, 2, 10, 198, 51, 100, 20, 0, 17, 0, 180};
  pseudo.insert(pseudo.end(), f.begin() + 34, f.end());
  pseudo[12 + 6] = pseudo[12 + 7] = 0;
  EXPECT_EQ(ref_checksum(pseudo.data(), pseudo.size()), 0x43e0);

  FrameView v;
  ASSERT_EQ(parse(f, &v), FrameStatus::kOk);
  EXPECT_EQ(v.data, f.data());
  EXPECT_EQ(v.length, 214u);
  EXPECT_EQ(v.ethertype, kEtherTypeIpv4);
  EXPECT_FALSE(v.has_vlan);
  EXPECT_EQ(v.ip_version, 4);
  EXPECT_EQ(v.ip_protocol, 17);
  EXPECT_EQ(v.ttl, 64);
  EXPECT_EQ(v.l3_offset, 14);
  EXPECT_EQ(v.l4_offset, 34);
  EXPECT_EQ(v.l3_length, 200u);
  EXPECT_EQ(v.l4_length, 180u);
  EXPECT_EQ(v.src_ip, *IpAddr::parse("192.0.2.10"));
  EXPECT_EQ(v.dst_ip, *IpAddr::parse("198.51.100.20"));
  EXPECT_EQ(v.src_port, 40000);
  EXPECT_EQ(v.dst_port, 30000);
  EXPECT_EQ(v.payload_offset, 42);
  EXPECT_EQ(v.payload_length, 172u);
  EXPECT_EQ(v.payload()[0], 0x80);
  EXPECT_EQ(v.src_mac(), (MacAddr{{2, 0, 0, 0, 0, 1}}));
  EXPECT_EQ(v.dst_mac(), (MacAddr{{2, 0, 0, 0, 0, 2}}));
}

TEST(NetFrame, Ipv6UdpGolden) {
  const auto f = from_hex(kIpv6Rtp);
  FrameView v;
  ASSERT_EQ(parse(f, &v), FrameStatus::kOk);
  EXPECT_EQ(v.ip_version, 6);
  EXPECT_EQ(v.l4_offset, 54);
  EXPECT_EQ(v.l3_length, 220u);
  EXPECT_EQ(v.src_ip, *IpAddr::parse("2001:db8::10"));
  EXPECT_EQ(v.dst_ip, *IpAddr::parse("2001:db8:1::20"));
  EXPECT_EQ(v.payload_offset, 62);
  EXPECT_EQ(v.payload_length, 172u);
  EXPECT_EQ(v.ttl, 64);
}

TEST(NetFrame, VlanTagged) {
  const auto f = from_hex(kVlanIpv4);
  FrameView v;
  ASSERT_EQ(parse(f, &v), FrameStatus::kOk);
  EXPECT_TRUE(v.has_vlan);
  EXPECT_EQ(v.vlan_tci, 100);
  EXPECT_EQ(v.l3_offset, 18);
  EXPECT_EQ(v.src_port, 5060);
  EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(v.payload()), v.payload_length),
            "hello relay");
}

TEST(NetFrame, ZeroUdpChecksumAndEthernetPadding) {
  const auto f = from_hex(kIpv4NoChecksum);
  FrameView v;
  ASSERT_EQ(parse(f, &v), FrameStatus::kOk);
  EXPECT_EQ(v.length, 60u);
  EXPECT_EQ(v.l3_length, 32u);  // the padding is not part of the datagram
  EXPECT_EQ(v.payload_length, 4u);
}

TEST(NetFrame, IcmpIsNotUdpButHasL3View) {
  const auto f = from_hex(kIcmpEcho);
  FrameView v;
  ASSERT_EQ(parse(f, &v), FrameStatus::kNotUdp);
  EXPECT_EQ(v.ip_protocol, 1);
  EXPECT_EQ(v.l4_offset, 34);
  EXPECT_EQ(v.l4_length, 64u);
  EXPECT_EQ(v.src_ip, *IpAddr::parse("10.0.2.15"));
}

TEST(NetFrame, ArpIsNotIp) {
  auto f = from_hex(kIpv4Rtp);
  f[12] = 0x08;
  f[13] = 0x06;
  FrameView v;
  EXPECT_EQ(parse(f, &v), FrameStatus::kNotIp);
  EXPECT_EQ(v.ethertype, kEtherTypeArp);
  EXPECT_EQ(v.l3_offset, 14);
}

TEST(NetFrame, EveryPrefixIsRejected) {
  for (auto golden : {kIpv4Rtp, kIpv6Rtp, kVlanIpv4, kIcmpEcho}) {
    const auto f = from_hex(golden);
    const size_t l3 = f[12] == 0x81 ? 18 : 14;
    const size_t ip_min = f[l3 - 2] == 0x86 ? 40 : 20;
    for (size_t n = 0; n < f.size(); ++n) {
      std::vector<uint8_t> prefix(f.begin(), f.begin() + ptrdiff_t(n));
      FrameView v;
      const FrameStatus s = parse_frame(prefix.data(), n, &v);
      if (n < l3) {
        EXPECT_EQ(s, FrameStatus::kTruncatedEthernet) << n;
      } else if (n < l3 + ip_min) {
        EXPECT_EQ(s, FrameStatus::kTruncatedIp) << n;
      } else {
        EXPECT_EQ(s, FrameStatus::kBadIpLength) << n;
      }
    }
  }
}

TEST(NetFrame, Ipv4HeaderErrors) {
  const auto good = from_hex(kIpv4Rtp);
  FrameView v;
  auto f = good;
  f[14] = 0x65;  // version 6 under ethertype IPv4
  EXPECT_EQ(parse(f, &v), FrameStatus::kBadIpVersion);
  for (uint8_t ihl = 0; ihl < 5; ++ihl) {
    f = good;
    f[14] = uint8_t(0x40 | ihl);
    EXPECT_EQ(parse(f, &v), FrameStatus::kBadIhl) << int(ihl);
  }
  // IHL 15 (60 octets) within the frame but past the total length of 40.
  f = good;
  f[14] = 0x4f;
  f[16] = 0;
  f[17] = 40;
  EXPECT_EQ(parse(f, &v, {.verify_ip_checksum = false}), FrameStatus::kBadIpLength);
  // IHL 15 running past a 70-octet frame.
  f.assign(good.begin(), good.begin() + 70);
  f[14] = 0x4f;
  EXPECT_EQ(parse(f, &v), FrameStatus::kBadIhl);
  f = good;
  f[17] = 0xc9;  // total length 201 > 200 available
  EXPECT_EQ(parse(f, &v), FrameStatus::kBadIpLength);
  f = good;
  f[16] = 0;
  f[17] = 19;  // total length below the header
  EXPECT_EQ(parse(f, &v), FrameStatus::kBadIpLength);
  f = good;
  f[24] ^= 1;  // header checksum
  EXPECT_EQ(parse(f, &v), FrameStatus::kBadIpChecksum);
  EXPECT_EQ(parse(f, &v, {.verify_ip_checksum = false}), FrameStatus::kOk);
}

TEST(NetFrame, Fragments) {
  const auto good = from_hex(kIpv4Rtp);
  FrameView v;
  for (uint16_t flags_offset : {0x2000, 0x0001, 0x00b9, 0x1fff, 0x6000 /*DF+MF*/}) {
    auto f = good;
    f[20] = uint8_t(flags_offset >> 8);
    f[21] = uint8_t(flags_offset);
    EXPECT_EQ(parse(f, &v, {.verify_ip_checksum = false}), FrameStatus::kFragment) << flags_offset;
  }
  auto f = good;
  f[20] = 0x00;  // DF cleared: still a whole datagram
  EXPECT_EQ(parse(f, &v, {.verify_ip_checksum = false}), FrameStatus::kOk);
}

TEST(NetFrame, NotUdp) {
  auto f = from_hex(kIpv4Rtp);
  f[23] = 6;  // TCP
  FrameView v;
  EXPECT_EQ(parse(f, &v, {.verify_ip_checksum = false}), FrameStatus::kNotUdp);
  EXPECT_EQ(v.ip_protocol, 6);
  auto g = from_hex(kIpv6Rtp);
  g[20] = 58;  // ICMPv6
  EXPECT_EQ(parse(g, &v), FrameStatus::kNotUdp);
  for (uint8_t ext : {0, 43, 44, 60}) {
    g[20] = ext;
    EXPECT_EQ(parse(g, &v), FrameStatus::kUnsupported) << int(ext);
  }
}

TEST(NetFrame, UdpErrors) {
  const auto good = from_hex(kIpv4Rtp);
  FrameView v;
  auto f = good;
  f[39] ^= 1;  // UDP length 181 != 180
  EXPECT_EQ(parse(f, &v), FrameStatus::kBadUdpLength);
  f = good;
  f[39] = 7;  // shorter than the header
  EXPECT_EQ(parse(f, &v), FrameStatus::kBadUdpLength);
  f = good;
  f[100] ^= 0x40;  // payload bit flip
  EXPECT_EQ(parse(f, &v), FrameStatus::kBadUdpChecksum);
  EXPECT_EQ(parse(f, &v, {.verify_udp_checksum = false}), FrameStatus::kOk);
  // IP payload of 4 octets: cannot hold a UDP header.
  f.assign(good.begin(), good.begin() + 38);
  f[16] = 0;
  f[17] = 24;
  EXPECT_EQ(parse(f, &v, {.verify_ip_checksum = false}), FrameStatus::kTruncatedUdp);

  auto g = from_hex(kIpv6Rtp);
  g[130] ^= 0x01;
  EXPECT_EQ(parse(g, &v), FrameStatus::kBadUdpChecksum);
  g = from_hex(kIpv6Rtp);
  g[60] = g[61] = 0;  // zero checksum is invalid over IPv6 (RFC 8200 §8.1)
  EXPECT_EQ(parse(g, &v), FrameStatus::kBadUdpChecksum);
  EXPECT_EQ(parse(g, &v, {.verify_udp_checksum = false}), FrameStatus::kBadUdpChecksum);
  g = from_hex(kIpv6Rtp);
  g[19] = 0xb5;  // payload length 181 > available
  EXPECT_EQ(parse(g, &v), FrameStatus::kBadIpLength);
  g[14] = 0x40;
  EXPECT_EQ(parse(g, &v), FrameStatus::kBadIpVersion);
}

TEST(NetFrame, VlanErrors) {
  auto f = from_hex(kVlanIpv4);
  FrameView v;
  f[16] = 0x81;
  f[17] = 0x00;  // second tag
  EXPECT_EQ(parse(f, &v), FrameStatus::kUnsupported);
  f = from_hex(kVlanIpv4);
  f[12] = 0x88;
  f[13] = 0xa8;  // 802.1ad outer tag
  EXPECT_EQ(parse(f, &v), FrameStatus::kUnsupported);
  f.assign(f.begin(), f.begin() + 16);
  f[12] = 0x81;
  f[13] = 0x00;
  EXPECT_EQ(parse(f, &v), FrameStatus::kTruncatedEthernet);
}

// Every field parse_udp4_fast fills, compared with parse_frame's.
void expect_same_view(const FrameView& a, const FrameView& b, const std::string& where) {
  EXPECT_EQ(a.data, b.data) << where;
  EXPECT_EQ(a.length, b.length) << where;
  EXPECT_EQ(a.ethertype, b.ethertype) << where;
  EXPECT_EQ(a.vlan_tci, b.vlan_tci) << where;
  EXPECT_EQ(a.has_vlan, b.has_vlan) << where;
  EXPECT_EQ(a.ip_version, b.ip_version) << where;
  EXPECT_EQ(a.ip_protocol, b.ip_protocol) << where;
  EXPECT_EQ(a.ttl, b.ttl) << where;
  EXPECT_EQ(a.l3_offset, b.l3_offset) << where;
  EXPECT_EQ(a.l4_offset, b.l4_offset) << where;
  EXPECT_EQ(a.l3_length, b.l3_length) << where;
  EXPECT_EQ(a.l4_length, b.l4_length) << where;
  EXPECT_TRUE(a.src_ip == b.src_ip) << where;
  EXPECT_TRUE(a.dst_ip == b.dst_ip) << where;
  EXPECT_EQ(a.src_port, b.src_port) << where;
  EXPECT_EQ(a.dst_port, b.dst_port) << where;
  EXPECT_EQ(a.payload_offset, b.payload_offset) << where;
  EXPECT_EQ(a.payload_length, b.payload_length) << where;
}

// The fast path takes exactly the untagged IPv4-without-options UDP frames
// parse_frame accepts, with the same view: over every golden frame, every
// prefix, every single-bit flip of the headers and each verification choice.
TEST(NetFrame, FastPathTakesExactlyTheCommonFrameParseFrameTakes) {
  size_t taken = 0, refused = 0;
  auto compare = [&](const std::vector<uint8_t>& f, const std::string& where) {
    for (int o = 0; o < 4; ++o) {
      const ParseOptions opt{.verify_ip_checksum = (o & 1) != 0, .verify_udp_checksum = (o & 2) != 0};
      FrameView slow, fast;
      const FrameStatus s = parse_frame(f.data(), f.size(), &slow, opt);
      const bool common = s == FrameStatus::kOk && !slow.has_vlan && slow.ip_version == 4 &&
                          slow.l4_offset == kEthernetHeaderLength + kIpv4MinHeaderLength;
      const bool took = parse_udp4_fast(f.data(), f.size(), &fast, opt);
      ASSERT_EQ(took, common) << where << " options " << o << " status " << to_string(s);
      if (!took) {
        ++refused;
        continue;
      }
      ++taken;
      expect_same_view(fast, slow, where);
    }
  };
  for (auto golden : {kIpv4Rtp, kIpv6Rtp, kVlanIpv4, kIpv4NoChecksum, kIcmpEcho}) {
    const auto good = from_hex(golden);
    compare(good, std::string(golden.substr(0, 8)));
    for (size_t n = 0; n < good.size(); ++n)
      compare(std::vector<uint8_t>(good.begin(), good.begin() + ptrdiff_t(n)), "prefix " + std::to_string(n));
    for (size_t bit = 0; bit < 8 * std::min<size_t>(good.size(), 64); ++bit) {
      auto f = good;
      f[bit / 8] ^= uint8_t(1 << (bit % 8));
      compare(f, "bit " + std::to_string(bit));
    }
  }
  // Both kinds occur: flips of the MACs, TTL or payload keep it common;
  // flips of the type, version, lengths or checksums do not.
  EXPECT_GT(taken, 500u);
  EXPECT_GT(refused, 2000u);
  // The golden RTP frame itself takes the fast path with checksums verified.
  const auto f = from_hex(kIpv4Rtp);
  FrameView v;
  EXPECT_TRUE(parse_udp4_fast(f.data(), f.size(), &v));
  EXPECT_EQ(v.dst_port, 30000);
}

TEST(NetFrame, WireOrderHelpers) {
  const uint8_t wire[4] = {192, 0, 2, 1};
  EXPECT_EQ(load_wire32(wire), to_wire32(0xc0000201));
  EXPECT_EQ(load_wire16(wire), to_wire16(0xc000));
  EXPECT_TRUE(IpAddr::from_v4_wire(load_wire32(wire)) == IpAddr::from_v4(0xc0000201));
  EXPECT_TRUE(IpAddr::from_v4_wire(load_wire32(wire)) == *IpAddr::parse("192.0.2.1"));
}

TEST(NetFrame, StatusNames) {
  for (size_t i = 0; i < kFrameStatusCount; ++i)
    EXPECT_STRNE(to_string(FrameStatus(i)), "unknown") << i;
  EXPECT_STREQ(to_string(FrameStatus::kFragment), "fragment");
}

}  // namespace
}  // namespace vox::dataplane::net
