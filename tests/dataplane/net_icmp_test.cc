// Tests for dataplane/net/icmp.h: a captured ping (Linux, 10.0.2.15 -> 10.0.2.2)
// and ICMPv6 echo / Neighbor Solicitation frames answered in place; expected
// replies were made by an independent script with full checksum computation.
#include "dataplane/net/icmp.h"

#include <gtest/gtest.h>

#include "hex.h"

#include <cstring>

#include <string_view>
#include <vector>

namespace vox::dataplane::net {
namespace {

using testing::from_hex;

constexpr std::string_view kEchoRequest =
    "525400123502080027a53f1c0800450000545c3e40004001c65a0a00020f0a0002020800499e04d20001"
    "a1b2c3d4000000005e0a0b0c0d0e0f10101112131415161718191a1b1c1d1e1f202122232425262728292a"
    "2b2c2d2e2f3031323334353637";
constexpr std::string_view kEchoReply =
    "080027a53f1c5254001235020800450000545c3e40004001c65a0a0002020a00020f0000519e04d20001"
    "a1b2c3d4000000005e0a0b0c0d0e0f10101112131415161718191a1b1c1d1e1f202122232425262728292a"
    "2b2c2d2e2f3031323334353637";
// 2001:db8::1 -> 2001:db8::2, id 0x42 seq 7, 32 octets of data.
constexpr std::string_view kEcho6Request =
    "02000000000202000000000186dd6000000000283a4020010db800000000000000000000000120010db8"
    "000000000000000000000002800030dc00420007202122232425262728292a2b2c2d2e2f303132333435"
    "363738393a3b3c3d3e3f";
constexpr std::string_view kEcho6Reply =
    "02000000000102000000000286dd6000000000283a4020010db800000000000000000000000220010db8"
    "00000000000000000000000181002fdc00420007202122232425262728292a2b2c2d2e2f303132333435"
    "363738393a3b3c3d3e3f";
// Who has 2001:db8::2? from 2001:db8::1 (SLLA 02:00:00:00:00:01) to ff02::1:ff00:2.
constexpr std::string_view kNeighborSolicitation =
    "3333ff00000202000000000186dd6000000000203aff20010db8000000000000000000000001ff020000"
    "0000000000000001ff00000287001c270000000020010db800000000000000000000000201010200000000"
    "01";
constexpr std::string_view kNeighborAdvertisement =
    "02000000000102000000000286dd6000000000203aff20010db800000000000000000000000220010db8"
    "00000000000000000000000188008a716000000020010db80000000000000000000000020201020000000002";
constexpr MacAddr kOurMac{{2, 0, 0, 0, 0, 2}};

std::vector<IpAddr> ours(const char* a) { return {*IpAddr::parse("192.0.2.99"), *IpAddr::parse(a)}; }

TEST(NetIcmp, Ipv4EchoReplyGolden) {
  auto f = from_hex(kEchoRequest);
  FrameView v;
  ASSERT_EQ(parse_frame(f.data(), f.size(), &v), FrameStatus::kNotUdp);
  auto r = answer_icmpv4_echo(f.data(), v, ours("10.0.2.2"));
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  EXPECT_EQ(*r, f.size());
  EXPECT_EQ(f, from_hex(kEchoReply));
}

TEST(NetIcmp, Ipv4EchoRefusals) {
  const auto good = from_hex(kEchoRequest);
  FrameView v;
  auto f = good;
  ASSERT_EQ(parse_frame(f.data(), f.size(), &v), FrameStatus::kNotUdp);
  EXPECT_EQ(answer_icmpv4_echo(f.data(), v, ours("10.0.2.3")).error(), IcmpError::kNotOurAddress);
  f[34 + 20] ^= 1;  // data corrupted
  EXPECT_EQ(answer_icmpv4_echo(f.data(), v, ours("10.0.2.2")).error(), IcmpError::kBadChecksum);
  f = good;
  f[34] = 13;  // timestamp request
  EXPECT_EQ(answer_icmpv4_echo(f.data(), v, ours("10.0.2.2")).error(), IcmpError::kNotHandled);
  EXPECT_EQ(answer_icmpv6_echo(f.data(), v, ours("10.0.2.2")).error(), IcmpError::kNotIcmp);
  FrameView shortv = v;
  shortv.l4_length = 7;
  EXPECT_EQ(answer_icmpv4_echo(f.data(), shortv, ours("10.0.2.2")).error(), IcmpError::kTruncated);
  f = good;
  const auto untouched = f;
  EXPECT_FALSE(answer_icmpv4_echo(f.data(), v, ours("10.0.2.3")).ok());
  EXPECT_EQ(f, untouched);  // refusals never write
  for (size_t i = 0; i < kIcmpErrorCount; ++i) EXPECT_STRNE(to_string(IcmpError(i)), "unknown");
}

TEST(NetIcmp, Ipv6EchoReplyGolden) {
  auto f = from_hex(kEcho6Request);
  FrameView v;
  ASSERT_EQ(parse_frame(f.data(), f.size(), &v), FrameStatus::kNotUdp);
  auto r = answer_icmpv6_echo(f.data(), v, ours("2001:db8::2"));
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  EXPECT_EQ(f, from_hex(kEcho6Reply));
  EXPECT_EQ(answer_icmpv6_echo(f.data(), v, ours("2001:db8::2")).error(), IcmpError::kNotHandled);
}

TEST(NetIcmp, NeighborSolicitationGolden) {
  auto f = from_hex(kNeighborSolicitation);
  FrameView v;
  ASSERT_EQ(parse_frame(f.data(), f.size(), &v), FrameStatus::kNotUdp);
  auto r = answer_neighbor_solicitation(f.data(), f.size(), v, kOurMac, ours("2001:db8::2"));
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  EXPECT_EQ(std::vector<uint8_t>(f.begin(), f.begin() + ptrdiff_t(*r)),
            from_hex(kNeighborAdvertisement));
}

TEST(NetIcmp, NeighborSolicitationRefusals) {
  const auto good = from_hex(kNeighborSolicitation);
  FrameView v;
  auto f = good;
  ASSERT_EQ(parse_frame(f.data(), f.size(), &v), FrameStatus::kNotUdp);
  auto answer = [&](std::vector<uint8_t>& g, const char* ours_addr, size_t cap = 0) {
    FrameView w;
    EXPECT_EQ(parse_frame(g.data(), g.size(), &w), FrameStatus::kNotUdp);
    return answer_neighbor_solicitation(g.data(), cap ? cap : g.size(), w, kOurMac, ours(ours_addr));
  };
  EXPECT_EQ(answer(f, "2001:db8::3").error(), IcmpError::kNotOurAddress);
  f[21] = 64;  // hop limit not 255: forwarded, RFC 4861 §7.1.1
  EXPECT_EQ(answer(f, "2001:db8::2").error(), IcmpError::kBadNeighborSolicitation);
  f = good;
  f[54 + 25] = 0;  // option length 0
  EXPECT_EQ(answer(f, "2001:db8::2").error(), IcmpError::kBadChecksum);  // checksum first
  f = good;
  f[54 + 4] = 1;  // reserved bits: covered by the checksum
  EXPECT_EQ(answer(f, "2001:db8::2").error(), IcmpError::kBadChecksum);
  f = good;
  EXPECT_EQ(answer(f, "2001:db8::2", f.size() - 1).error(), IcmpError::kNoRoom);
}

// Fixes the ICMPv6 checksum of a hand-edited frame (independent code path).
void fix_icmpv6_checksum(std::vector<uint8_t>& f) {
  const size_t ip = 14, l4 = 54, len = f.size() - l4;
  f[l4 + 2] = f[l4 + 3] = 0;
  uint32_t s = 0;
  auto add = [&](const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; i += 2) s += uint32_t(p[i]) << 8 | (i + 1 < n ? p[i + 1] : 0);
  };
  add(f.data() + ip + 8, 32);
  s += uint32_t(len) + 58;
  add(f.data() + l4, len);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  f[l4 + 2] = uint8_t(~s >> 8);
  f[l4 + 3] = uint8_t(~s);
}

TEST(NetIcmp, DuplicateAddressDetectionProbe) {
  // DAD (RFC 4862 §5.4.2): source ::, no SLLA option, so the NS is 24 octets
  // and the NA (32) needs room beyond it.
  auto f = from_hex(kNeighborSolicitation);
  f.resize(f.size() - 8);
  f[19] = 24;
  std::memset(f.data() + 22, 0, 16);
  fix_icmpv6_checksum(f);
  FrameView v;
  ASSERT_EQ(parse_frame(f.data(), f.size(), &v), FrameStatus::kNotUdp);
  EXPECT_EQ(answer_neighbor_solicitation(f.data(), f.size(), v, kOurMac, ours("2001:db8::2")).error(),
            IcmpError::kNoRoom);
  std::vector<uint8_t> buf(f.size() + 8);
  std::memcpy(buf.data(), f.data(), f.size());
  auto r = answer_neighbor_solicitation(buf.data(), buf.size(), v, kOurMac, ours("2001:db8::2"));
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  ASSERT_EQ(*r, buf.size());
  EXPECT_EQ(buf[0], 0x33);  // all-nodes multicast
  EXPECT_EQ(buf[5], 0x01);
  EXPECT_EQ(buf[14 + 24], 0xff);  // IPv6 destination ff02::1
  EXPECT_EQ(buf[14 + 39], 0x01);
  EXPECT_EQ(buf[54 + 4], 0x20);  // S clear, O set
  ASSERT_EQ(parse_frame(buf.data(), buf.size(), &v), FrameStatus::kNotUdp);
  auto check = buf;
  const uint16_t sent = uint16_t(check[56] << 8 | check[57]);
  fix_icmpv6_checksum(check);
  EXPECT_EQ(sent, uint16_t(check[56] << 8 | check[57]));
  // DAD with an SLLA option is invalid (RFC 4861 §7.1.1).
  auto g = from_hex(kNeighborSolicitation);
  std::memset(g.data() + 22, 0, 16);
  fix_icmpv6_checksum(g);
  ASSERT_EQ(parse_frame(g.data(), g.size(), &v), FrameStatus::kNotUdp);
  EXPECT_EQ(answer_neighbor_solicitation(g.data(), g.size(), v, kOurMac, ours("2001:db8::2")).error(),
            IcmpError::kBadNeighborSolicitation);
}

TEST(NetIcmp, ZeroLengthOptionRejected) {
  auto f = from_hex(kNeighborSolicitation);
  f[54 + 25] = 0;
  fix_icmpv6_checksum(f);
  FrameView v;
  ASSERT_EQ(parse_frame(f.data(), f.size(), &v), FrameStatus::kNotUdp);
  EXPECT_EQ(answer_neighbor_solicitation(f.data(), f.size(), v, kOurMac, ours("2001:db8::2")).error(),
            IcmpError::kBadNeighborSolicitation);
}

// The relay's own solicitation is the independently made golden frame
// above, and the frame that answers it parses back to the target's MAC.
TEST(NetIcmp, NeighborSolicitationGoldenAndItsAdvertisement) {
  const MacAddr from_mac{{2, 0, 0, 0, 0, 1}};
  uint8_t buf[128];
  const size_t n = build_neighbor_solicitation(buf, sizeof buf, from_mac, *IpAddr::parse("2001:db8::1"),
                                               *IpAddr::parse("2001:db8::2"));
  EXPECT_EQ(std::vector<uint8_t>(buf, buf + n), from_hex(kNeighborSolicitation));
  EXPECT_EQ(build_neighbor_solicitation(buf, n - 1, from_mac, *IpAddr::parse("2001:db8::1"),
                                        *IpAddr::parse("2001:db8::2")),
            0u);
  EXPECT_EQ(build_neighbor_solicitation(buf, sizeof buf, from_mac, *IpAddr::parse("10.0.0.1"),
                                        *IpAddr::parse("2001:db8::2")),
            0u);
  // With a VLAN tag the same message follows the tag.
  const size_t t = build_neighbor_solicitation(buf, sizeof buf, from_mac, *IpAddr::parse("2001:db8::1"),
                                               *IpAddr::parse("2001:db8::2"), true, 0x0123);
  ASSERT_EQ(t, n + 4);
  FrameView v;
  ASSERT_EQ(parse_frame(buf, t, &v), FrameStatus::kNotUdp);
  EXPECT_TRUE(v.has_vlan);
  EXPECT_EQ(v.vlan_tci, 0x0123);
  const auto golden = from_hex(kNeighborSolicitation);
  EXPECT_EQ(std::vector<uint8_t>(buf + 18, buf + t), std::vector<uint8_t>(golden.begin() + 14, golden.end()));

  auto f = from_hex(kNeighborAdvertisement);
  ASSERT_EQ(parse_frame(f.data(), f.size(), &v), FrameStatus::kNotUdp);
  auto na = parse_neighbor_advertisement(f.data(), v);
  ASSERT_TRUE(na.ok()) << to_string(na.error());
  EXPECT_EQ(na->target, *IpAddr::parse("2001:db8::2"));
  EXPECT_EQ(na->mac, kOurMac);
  EXPECT_TRUE(na->solicited);
  f[54 + 4] &= 0xbf;  // S cleared (an unsolicited update)
  fix_icmpv6_checksum(f);
  na = parse_neighbor_advertisement(f.data(), v);
  ASSERT_TRUE(na.ok()) << to_string(na.error());
  EXPECT_FALSE(na->solicited);
}

TEST(NetIcmp, NeighborAdvertisementRefusals) {
  const auto good = from_hex(kNeighborAdvertisement);
  auto parse = [](std::vector<uint8_t> g) {
    FrameView w;
    EXPECT_EQ(parse_frame(g.data(), g.size(), &w), FrameStatus::kNotUdp);
    return parse_neighbor_advertisement(g.data(), w);
  };
  auto f = good;
  f[21] = 64;  // hop limit not 255: forwarded (RFC 4861 §7.1.2)
  EXPECT_EQ(parse(f).error(), IcmpError::kBadNeighborAdvertisement);
  f = good;
  f[54 + 8] = 0xff;  // multicast target
  fix_icmpv6_checksum(f);
  EXPECT_EQ(parse(f).error(), IcmpError::kBadNeighborAdvertisement);
  f = good;
  f[54 + 30] ^= 1;  // the MAC in the option, under the checksum
  EXPECT_EQ(parse(f).error(), IcmpError::kBadChecksum);
  f = good;
  f[54 + 24] = 1;  // a source, not target, link-layer address option
  fix_icmpv6_checksum(f);
  EXPECT_EQ(parse(f).error(), IcmpError::kBadNeighborAdvertisement);
  f = good;
  f[54 + 25] = 2;  // option runs past the message
  fix_icmpv6_checksum(f);
  EXPECT_EQ(parse(f).error(), IcmpError::kBadNeighborAdvertisement);
  f = good;
  f.resize(f.size() - 8);  // no options at all
  f[19] = 24;
  fix_icmpv6_checksum(f);
  EXPECT_EQ(parse(f).error(), IcmpError::kBadNeighborAdvertisement);
  // A solicitation, or an echo, is not an advertisement.
  EXPECT_EQ(parse(from_hex(kNeighborSolicitation)).error(), IcmpError::kNotHandled);
  EXPECT_EQ(parse(from_hex(kEchoRequest)).error(), IcmpError::kNotIcmp);
}

}  // namespace
}  // namespace vox::dataplane::net
