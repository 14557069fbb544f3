// Tests for dataplane/net/rewrite.h: build_udp_frame reproduces independently
// made golden frames byte for byte, and the property that after an in-place
// rewrite the incrementally patched checksums equal a full recomputation.
#include "dataplane/net/rewrite.h"

#include <gtest/gtest.h>

#include "hex.h"

#include <cstring>

#include <random>
#include <string_view>
#include <vector>

#include "dataplane/net/checksum.h"

namespace vox::dataplane::net {
namespace {

using testing::from_hex;

// Same goldens as net_frame_test.cc (made by an independent script).
constexpr std::string_view kVlanIpv4 =
    "020000000002020000000001810000640800450000270007400040111fb20a0102030a04050613c413c6"
    "0013217768656c6c6f2072656c6179";

Endpoint ep(const char* ip, uint16_t port) { return Endpoint{*IpAddr::parse(ip), port}; }

// Writes spec + payload into a buffer with exactly the needed headroom.
std::vector<uint8_t> build(const UdpFrameSpec& spec, std::string_view payload) {
  const size_t hdr = udp_frame_header_length(spec);
  std::vector<uint8_t> buf(hdr + payload.size());
  std::memcpy(buf.data() + hdr, payload.data(), payload.size());
  EXPECT_EQ(build_udp_frame(buf.data() + hdr, payload.size(), spec), buf.data());
  return buf;
}

TEST(NetRewrite, BuilderMatchesGoldenVlanIpv4) {
  UdpFrameSpec s;
  s.src_mac = MacAddr{{2, 0, 0, 0, 0, 1}};
  s.dst_mac = MacAddr{{2, 0, 0, 0, 0, 2}};
  s.has_vlan = true;
  s.vlan_tci = 100;
  s.src = ep("10.1.2.3", 5060);
  s.dst = ep("10.4.5.6", 5062);
  s.ipv4_id = 7;
  EXPECT_EQ(build(s, "hello relay"), from_hex(kVlanIpv4));
}

TEST(NetRewrite, BuilderIpv6ParsesAndChecks) {
  UdpFrameSpec s;
  s.src = ep("2001:db8::10", 40000);
  s.dst = ep("2001:db8:1::20", 30000);
  s.traffic_class = 0xb8;
  const auto f = build(s, "RTP");
  FrameView v;
  ASSERT_EQ(parse_frame(f.data(), f.size(), &v), FrameStatus::kOk);
  EXPECT_EQ(f.size(), 14u + 40 + 8 + 3);
  EXPECT_EQ(f[14], 0x6b);  // version 6, traffic class 0xb8 straddles the nibbles
  EXPECT_EQ(f[15], 0x80);
  EXPECT_EQ(v.src_port, 40000);
  EXPECT_EQ(v.payload_length, 3u);
}

// --tos on a rewritten frame: the octet set, the IPv4 header checksum still
// right (patched, or zeroed for the NIC), IPv6's version and flow label kept.
TEST(NetRewrite, SetTrafficClass) {
  UdpFrameSpec s;
  s.src = ep("10.1.2.3", 5060);
  s.dst = ep("10.4.5.6", 5062);
  s.traffic_class = 0x2e;
  auto f = build(s, "voice");
  uint8_t* ip = f.data() + 14;
  set_traffic_class(ip, true, 0xb8, false);
  EXPECT_EQ(ip[1], 0xb8);
  EXPECT_EQ(internet_checksum(ip, 20), 0);  // the header sums to all ones
  store_be16(ip + 10, 0);  // offloaded: the rewrite zeroed it for the NIC
  set_traffic_class(ip, true, 0x00, true);
  EXPECT_EQ(ip[1], 0x00);
  EXPECT_EQ(load_be16(ip + 10), 0);  // not patched: the NIC fills it in

  s.src = ep("2001:db8::10", 40000);
  s.dst = ep("2001:db8:1::20", 30000);
  s.traffic_class = 0;
  auto g = build(s, "voice");
  uint8_t* ip6 = g.data() + 14;
  ip6[1] |= 0x0a;  // a flow label in the low nibble
  set_traffic_class(ip6, false, 0xb8, false);
  EXPECT_EQ(ip6[0], 0x6b);
  EXPECT_EQ(ip6[1], 0x8a);
  FrameView v;
  EXPECT_EQ(parse_frame(g.data(), g.size(), &v), FrameStatus::kOk);
}

TEST(NetRewrite, BuilderRejectsMixedFamiliesAndOversize) {
  UdpFrameSpec s;
  s.src = ep("10.0.0.1", 1);
  s.dst = ep("::1", 2);
  uint8_t buf[128];
  EXPECT_EQ(build_udp_frame(buf + 64, 8, s), nullptr);
  s.dst = ep("10.0.0.2", 2);
  EXPECT_EQ(build_udp_frame(buf + 64, 65535 - 28 + 1, s), nullptr);
}

TEST(NetRewrite, BuilderChecksumModes) {
  UdpFrameSpec s;
  s.src = ep("192.0.2.1", 1000);
  s.dst = ep("192.0.2.2", 2000);
  s.udp_checksum = UdpChecksumMode::kZero;
  auto f = build(s, "abcdef");
  EXPECT_EQ(f[40], 0);
  EXPECT_EQ(f[41], 0);
  s.udp_checksum = UdpChecksumMode::kOffload;
  s.offload_ip_checksum = true;
  f = build(s, "abcdef");
  EXPECT_EQ(f[24], 0);  // IP checksum left to the NIC
  EXPECT_EQ(f[25], 0);
  // DPDK convention: the uncomplemented pseudo-header sum.
  EXPECT_EQ(uint16_t(f[40] << 8 | f[41]),
            pseudo_header_sum_v4(f.data() + 26, f.data() + 30, 17, 14));
}

// Full recomputation, independent of the incremental path.
void expect_checksums_recomputed(std::vector<uint8_t> f, const FrameView& v) {
  uint8_t* ip = f.data() + v.l3_offset;
  uint8_t* udp = f.data() + v.l4_offset;
  const uint16_t udp_check = uint16_t(udp[6] << 8 | udp[7]);
  udp[6] = udp[7] = 0;
  if (v.ip_version == 4) {
    const uint16_t ip_check = uint16_t(ip[10] << 8 | ip[11]);
    ip[10] = ip[11] = 0;
    EXPECT_EQ(ip_check, internet_checksum(ip, 20));
    if (udp_check != 0) {
      EXPECT_EQ(udp_check, udp_checksum_v4(ip + 12, ip + 16, udp, v.l4_length));
    }
  } else {
    EXPECT_EQ(udp_check, udp_checksum_v6(ip + 8, ip + 24, udp, v.l4_length));
  }
}

IpAddr random_addr(std::mt19937& rng, bool v4) {
  if (v4) return IpAddr::from_v4(uint32_t(rng()));
  IpAddr a;
  for (auto& b : a.bytes) b = uint8_t(rng());
  a.bytes[0] = 0x20;  // never v4-mapped
  return a;
}

TEST(NetRewrite, IncrementalEqualsRecomputedOnRandomFrames) {
  std::mt19937 rng(1624);
  int rewritten = 0;
  for (int iter = 0; iter < 5000; ++iter) {
    const bool v4 = rng() & 1;
    UdpFrameSpec s;
    for (auto& b : s.src_mac.bytes) b = uint8_t(rng());
    s.has_vlan = rng() & 1;
    s.vlan_tci = uint16_t(rng());
    s.src = Endpoint{random_addr(rng, v4), uint16_t(rng())};
    s.dst = Endpoint{random_addr(rng, v4), uint16_t(rng())};
    s.ttl = uint8_t(rng());
    s.traffic_class = uint8_t(rng());
    s.ipv4_id = uint16_t(rng());
    s.udp_checksum = (v4 && rng() % 4 == 0) ? UdpChecksumMode::kZero : UdpChecksumMode::kSoftware;
    std::string payload(rng() % 400, '\0');
    for (auto& c : payload) c = char(rng());
    auto f = build(s, payload);

    FrameView v;
    ASSERT_EQ(parse_frame(f.data(), f.size(), &v), FrameStatus::kOk);
    UdpRewrite rw;
    for (auto& b : rw.dst_mac.bytes) b = uint8_t(rng());
    rw.src = Endpoint{random_addr(rng, v4), uint16_t(rng())};
    rw.dst = Endpoint{random_addr(rng, v4), uint16_t(rng())};
    rw.ttl = rng() % 3 == 0 ? uint8_t(1 + rng() % 255) : 0;  // set, or decrement
    const auto before = f;
    const bool ok = rewrite_udp_frame(f.data(), v, rw);
    if (rw.ttl == 0 && s.ttl <= 1) {
      EXPECT_FALSE(ok);
      EXPECT_EQ(f, before);  // dropped frames are untouched
      continue;
    }
    ASSERT_TRUE(ok);
    ++rewritten;
    FrameView w;
    ASSERT_EQ(parse_frame(f.data(), f.size(), &w), FrameStatus::kOk);
    EXPECT_EQ(w.src_ip, rw.src.addr);
    EXPECT_EQ(w.dst_ip, rw.dst.addr);
    EXPECT_EQ(w.src_port, rw.src.port);
    EXPECT_EQ(w.dst_port, rw.dst.port);
    EXPECT_EQ(w.ttl, rw.ttl ? rw.ttl : s.ttl - 1);
    EXPECT_EQ(w.dst_mac(), rw.dst_mac);
    EXPECT_EQ(w.payload_length, payload.size());
    EXPECT_EQ(0, std::memcmp(w.payload(), payload.data(), payload.size()));
    if (s.udp_checksum == UdpChecksumMode::kZero) {
      EXPECT_EQ(f[w.l4_offset + 6] | f[w.l4_offset + 7], 0);
    }
    expect_checksums_recomputed(f, w);
  }
  EXPECT_GT(rewritten, 4920);
}

TEST(NetRewrite, TtlAndFamily) {
  UdpFrameSpec s;
  s.src = ep("192.0.2.1", 1000);
  s.dst = ep("192.0.2.2", 2000);
  s.ttl = 1;
  auto f = build(s, "x");
  FrameView v;
  ASSERT_EQ(parse_frame(f.data(), f.size(), &v), FrameStatus::kOk);
  UdpRewrite rw;
  rw.src = ep("198.51.100.1", 3000);
  rw.dst = ep("198.51.100.2", 4000);
  EXPECT_FALSE(rewrite_udp_frame(f.data(), v, rw));  // RFC 1812 §5.3.1: TTL 1 expires here
  rw.ttl = 64;  // a relay sends as a host: a fresh TTL, whatever arrived
  EXPECT_TRUE(rewrite_udp_frame(f.data(), v, rw));
  ASSERT_EQ(parse_frame(f.data(), f.size(), &v), FrameStatus::kOk);
  EXPECT_EQ(v.ttl, 64);
  rw.ttl = 0;
  s.ttl = 2;
  f = build(s, "x");
  ASSERT_EQ(parse_frame(f.data(), f.size(), &v), FrameStatus::kOk);
  rw.dst = ep("2001:db8::2", 4000);
  EXPECT_FALSE(rewrite_udp_frame(f.data(), v, rw));  // family change: build a new frame
  rw.dst = ep("198.51.100.2", 4000);
  EXPECT_TRUE(rewrite_udp_frame(f.data(), v, rw));
  ASSERT_EQ(parse_frame(f.data(), f.size(), &v), FrameStatus::kOk);
  EXPECT_EQ(v.ttl, 1);
}

TEST(NetRewrite, OffloadModes) {
  for (bool v4 : {true, false}) {
    UdpFrameSpec s;
    s.src = v4 ? ep("192.0.2.1", 1000) : ep("2001:db8::1", 1000);
    s.dst = v4 ? ep("192.0.2.2", 2000) : ep("2001:db8::2", 2000);
    auto f = build(s, "payload!");
    FrameView v;
    ASSERT_EQ(parse_frame(f.data(), f.size(), &v), FrameStatus::kOk);
    UdpRewrite rw;
    rw.src = v4 ? ep("198.51.100.1", 3000) : ep("2001:db8:9::1", 3000);
    rw.dst = v4 ? ep("198.51.100.2", 4000) : ep("2001:db8:9::2", 4000);
    rw.udp_checksum = UdpChecksumMode::kOffload;
    rw.offload_ip_checksum = true;
    ASSERT_TRUE(rewrite_udp_frame(f.data(), v, rw));
    const uint8_t* ip = f.data() + v.l3_offset;
    const uint8_t* udp = f.data() + v.l4_offset;
    const uint16_t field = uint16_t(udp[6] << 8 | udp[7]);
    if (v4) {
      EXPECT_EQ(ip[10] | ip[11], 0);
      EXPECT_EQ(field, pseudo_header_sum_v4(ip + 12, ip + 16, 17, uint16_t(v.l4_length)));
    } else {
      EXPECT_EQ(field, pseudo_header_sum_v6(ip + 8, ip + 24, 17, v.l4_length));
    }
    // What the NIC then does: checksum over the datagram seeded with that sum.
    std::vector<uint8_t> g = f;
    uint8_t* gu = g.data() + v.l4_offset;
    const uint16_t nic = checksum_finish(checksum_add(gu, v.l4_length));
    gu[6] = uint8_t(nic >> 8);
    gu[7] = uint8_t(nic);
    if (v4) {
      uint8_t* gi = g.data() + v.l3_offset;
      const uint16_t c = internet_checksum(gi, 20);
      gi[10] = uint8_t(c >> 8);
      gi[11] = uint8_t(c);
    }
    FrameView w;
    EXPECT_EQ(parse_frame(g.data(), g.size(), &w), FrameStatus::kOk);
  }
}

// SRTP resizes the payload in place: the rewrite then sets the IP and UDP
// lengths and sums the new payload, so the result is exactly the frame the
// builder makes for the new payload (grown and shrunk, both families, with
// and without VLAN, every checksum mode).
TEST(NetRewrite, NewPayloadLengthMatchesAFreshlyBuiltFrame) {
  std::mt19937 rng(3711);
  for (int iter = 0; iter < 2000; ++iter) {
    SCOPED_TRACE(iter);
    const bool v4 = rng() & 1;
    UdpFrameSpec s;
    for (auto& b : s.src_mac.bytes) b = uint8_t(rng());
    for (auto& b : s.dst_mac.bytes) b = uint8_t(rng());
    s.has_vlan = rng() & 1;
    s.vlan_tci = uint16_t(rng());
    s.src = Endpoint{random_addr(rng, v4), uint16_t(rng())};
    s.dst = Endpoint{random_addr(rng, v4), uint16_t(rng())};
    s.traffic_class = uint8_t(rng());
    s.ipv4_id = uint16_t(rng());
    const UdpChecksumMode modes[] = {UdpChecksumMode::kSoftware, UdpChecksumMode::kZero,
                                     UdpChecksumMode::kOffload};
    s.udp_checksum = modes[rng() % 3];
    std::string payload(20 + rng() % 400, '\0');
    for (auto& c : payload) c = char(rng());
    auto f = build(s, payload);
    FrameView v;
    ASSERT_EQ(parse_frame(f.data(), f.size(), &v, ParseOptions{true, false}), FrameStatus::kOk);

    // The payload is replaced in place by one up to 20 octets longer or shorter.
    std::string next(payload.size() + 20 - rng() % 41, '\0');
    for (auto& c : next) c = char(rng());
    f.resize(v.payload_offset + next.size());
    std::memcpy(f.data() + v.payload_offset, next.data(), next.size());
    UdpRewrite rw;
    rw.src_mac = s.src_mac;
    for (auto& b : rw.dst_mac.bytes) b = uint8_t(rng());
    rw.src = Endpoint{random_addr(rng, v4), uint16_t(rng())};
    rw.dst = Endpoint{random_addr(rng, v4), uint16_t(rng())};
    rw.ttl = 64;
    rw.udp_checksum = modes[rng() % 3];
    rw.payload_length = int32_t(next.size());
    ASSERT_TRUE(rewrite_udp_frame(f.data(), v, rw));

    UdpFrameSpec want = s;
    want.src_mac = rw.src_mac;
    want.dst_mac = rw.dst_mac;
    want.src = rw.src;
    want.dst = rw.dst;
    want.ttl = 64;
    want.udp_checksum = rw.udp_checksum;
    // IPv4 "no checksum" stays so in software mode (rewrite.h).
    if (v4 && rw.udp_checksum == UdpChecksumMode::kSoftware &&
        s.udp_checksum == UdpChecksumMode::kZero)
      want.udp_checksum = UdpChecksumMode::kZero;
    EXPECT_EQ(f, build(want, next));
  }
}

TEST(NetRewrite, NewPayloadLengthBeyondTheIpLengthIsRefused) {
  UdpFrameSpec s;
  s.src = ep("192.0.2.1", 1000);
  s.dst = ep("192.0.2.2", 2000);
  auto f = build(s, "payload");
  FrameView v;
  ASSERT_EQ(parse_frame(f.data(), f.size(), &v), FrameStatus::kOk);
  UdpRewrite rw;
  rw.src = ep("198.51.100.1", 3000);
  rw.dst = ep("198.51.100.2", 4000);
  rw.ttl = 64;
  rw.payload_length = 65535 - 28 + 1;  // IPv4 total length would pass 65535
  const auto before = f;
  EXPECT_FALSE(rewrite_udp_frame(f.data(), v, rw));
  EXPECT_EQ(f, before);
  rw.payload_length = 65535 - 28;
  std::vector<uint8_t> big(v.payload_offset + 65535 - 28);
  std::memcpy(big.data(), f.data(), f.size());
  EXPECT_TRUE(rewrite_udp_frame(big.data(), v, rw));
  ASSERT_EQ(parse_frame(big.data(), big.size(), &v), FrameStatus::kOk);
  EXPECT_EQ(v.payload_length, 65535u - 28);
}

}  // namespace
}  // namespace vox::dataplane::net
