// Tests for dataplane/net/arp.h: a captured who-has request (VMware guest
// asking for its gateway) answered in place, the request builder, every
// parse error, and ArpCache resolution, rate limiting, expiry and capacity.
#include "dataplane/net/arp.h"

#include <gtest/gtest.h>

#include "hex.h"

#include <cstring>

#include <string_view>
#include <vector>

namespace vox::dataplane::net {
namespace {

using testing::from_hex;

// Who has 192.168.1.1? Tell 192.168.1.100 (00:0c:29:3e:5c:2d), padded to 60.
constexpr std::string_view kArpRequestHex =
    "ffffffffffff000c293e5c2d08060001080006040001000c293e5c2dc0a80164000000000000c0a80101"
    "000000000000000000000000000000000000";
// The reply a host at 192.168.1.1 with MAC 02:42:ac:11:00:01 sends.
constexpr std::string_view kArpReplyHex =
    "000c293e5c2d0242ac110001080600010800060400020242ac110001c0a80101000c293e5c2dc0a80164"
    "000000000000000000000000000000000000";
constexpr MacAddr kOurMac{{0x02, 0x42, 0xac, 0x11, 0x00, 0x01}};
constexpr int64_t kSecond = 1'000'000'000;

TEST(NetArp, ParseCapturedRequest) {
  const auto f = from_hex(kArpRequestHex);
  auto r = parse_arp(f.data(), f.size());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->operation, kArpRequest);
  EXPECT_EQ(r->arp_offset, 14);
  EXPECT_EQ(r->sender_mac, (MacAddr{{0x00, 0x0c, 0x29, 0x3e, 0x5c, 0x2d}}));
  EXPECT_EQ(r->sender_ip, 0xc0a80164u);
  EXPECT_EQ(r->target_ip, 0xc0a80101u);
}

TEST(NetArp, ReplyInPlace) {
  auto f = from_hex(kArpRequestHex);
  ASSERT_TRUE(build_arp_reply(f.data(), f.size(), kOurMac));
  EXPECT_EQ(f, from_hex(kArpReplyHex));
  // A reply is not answered again.
  EXPECT_FALSE(build_arp_reply(f.data(), f.size(), kOurMac));
  EXPECT_EQ(f, from_hex(kArpReplyHex));
}

TEST(NetArp, BuildRequest) {
  uint8_t buf[60];
  const MacAddr requester{{0x00, 0x0c, 0x29, 0x3e, 0x5c, 0x2d}};
  ASSERT_EQ(build_arp_request(buf, sizeof buf, requester, 0xc0a80164, 0xc0a80101), 60u);
  EXPECT_EQ(std::vector<uint8_t>(buf, buf + 60), from_hex(kArpRequestHex));
  EXPECT_EQ(build_arp_request(buf, 59, requester, 1, 2), 0u);
  ASSERT_EQ(build_arp_request(buf, sizeof buf, requester, 1, 2, true, 42), 60u);
  auto r = parse_arp(buf, sizeof buf);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->arp_offset, 18);
  EXPECT_EQ(r->target_ip, 2u);
}

TEST(NetArp, ParseErrors) {
  const auto good = from_hex(kArpRequestHex);
  for (size_t n = 0; n < 14 + kArpLength; ++n) {
    std::vector<uint8_t> prefix(good.begin(), good.begin() + ptrdiff_t(n));
    auto r = parse_arp(prefix.data(), n);
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.error(), n < 14 ? ArpError::kNotArp : ArpError::kTruncated) << n;
  }
  auto f = good;
  f[13] = 0x00;  // IPv4 ethertype
  EXPECT_EQ(parse_arp(f.data(), f.size()).error(), ArpError::kNotArp);
  f = good;
  f[15] = 6;  // IEEE 802 hardware type
  EXPECT_EQ(parse_arp(f.data(), f.size()).error(), ArpError::kBadHardware);
  f = good;
  f[18] = 8;
  EXPECT_EQ(parse_arp(f.data(), f.size()).error(), ArpError::kBadHardware);
  f = good;
  f[16] = 0x86;
  EXPECT_EQ(parse_arp(f.data(), f.size()).error(), ArpError::kBadProtocol);
  f = good;
  f[21] = 3;  // RARP request
  EXPECT_EQ(parse_arp(f.data(), f.size()).error(), ArpError::kBadOperation);
  for (size_t i = 0; i < kArpErrorCount; ++i) EXPECT_STRNE(to_string(ArpError(i)), "unknown");
}

TEST(NetArpCache, ResolveRateLimitsAndLearns) {
  ArpCache c(16, 300 * kSecond, kSecond);
  MacAddr m;
  EXPECT_EQ(c.resolve(0x0a000001, 0, &m), ArpCache::Resolve::kSendRequest);
  EXPECT_EQ(c.resolve(0x0a000001, kSecond / 2, &m), ArpCache::Resolve::kPending);
  EXPECT_EQ(c.resolve(0x0a000001, kSecond, &m), ArpCache::Resolve::kSendRequest);  // retry
  EXPECT_EQ(c.lookup(0x0a000001, kSecond), nullptr);
  EXPECT_EQ(c.size(), 1u);
  EXPECT_TRUE(c.learn(0x0a000001, kOurMac, 2 * kSecond));
  EXPECT_EQ(c.resolve(0x0a000001, 3 * kSecond, &m), ArpCache::Resolve::kResolved);
  EXPECT_EQ(m, kOurMac);
  ASSERT_NE(c.lookup(0x0a000001, 3 * kSecond), nullptr);
  EXPECT_EQ(c.size(), 1u);
}

TEST(NetArpCache, Expiry) {
  ArpCache c(16, 10 * kSecond, kSecond);
  MacAddr m;
  ASSERT_TRUE(c.learn(7, kOurMac, 0));
  EXPECT_NE(c.lookup(7, 10 * kSecond - 1), nullptr);
  EXPECT_EQ(c.lookup(7, 10 * kSecond), nullptr);
  EXPECT_EQ(c.resolve(7, 10 * kSecond, &m), ArpCache::Resolve::kSendRequest);  // re-resolve
  EXPECT_EQ(c.resolve(7, 10 * kSecond + 1, &m), ArpCache::Resolve::kPending);
  EXPECT_EQ(c.sweep(20 * kSecond - 1), 0u);
  EXPECT_EQ(c.sweep(20 * kSecond), 1u);
  EXPECT_EQ(c.size(), 0u);
}

// The same table keyed by IPv6 addresses (neighbour discovery): addresses
// that differ only in their high words are different entries, and an
// advertisement is taken only for an address being tracked.
TEST(NetNdCache, ResolvesLearnsAndTracksIpv6Neighbours) {
  NdCache c(16, 300 * kSecond, kSecond);
  const IpAddr a = *IpAddr::parse("2001:db8::3");
  const IpAddr b = *IpAddr::parse("2001:db9::3");
  MacAddr m;
  EXPECT_FALSE(c.tracks(a));
  EXPECT_EQ(c.resolve(a, 0, &m), NdCache::Resolve::kSendRequest);
  EXPECT_TRUE(c.tracks(a));
  EXPECT_FALSE(c.tracks(b));
  EXPECT_EQ(c.resolve(a, kSecond / 2, &m), NdCache::Resolve::kPending);
  EXPECT_TRUE(c.learn(a, kOurMac, kSecond));
  EXPECT_EQ(c.resolve(a, 2 * kSecond, &m), NdCache::Resolve::kResolved);
  EXPECT_EQ(m, kOurMac);
  EXPECT_EQ(c.lookup(b, 2 * kSecond), nullptr);
  EXPECT_EQ(c.resolve(b, 2 * kSecond, &m), NdCache::Resolve::kSendRequest);
  EXPECT_EQ(c.size(), 2u);
  c.erase(a);
  EXPECT_FALSE(c.tracks(a));
  EXPECT_TRUE(c.tracks(b));
  EXPECT_EQ(c.size(), 1u);
}

TEST(NetArpCache, CapacityAndSweepOnFull) {
  ArpCache c(64, 10 * kSecond, kSecond);
  MacAddr m;
  for (uint32_t i = 0; i < 64; ++i) ASSERT_TRUE(c.learn(0x0a000000 + i, kOurMac, i));
  EXPECT_EQ(c.size(), 64u);
  EXPECT_FALSE(c.learn(0x0b000000, kOurMac, 100));  // full of live entries
  EXPECT_EQ(c.resolve(0x0b000000, 100, &m), ArpCache::Resolve::kTableFull);
  for (uint32_t i = 0; i < 64; ++i) ASSERT_NE(c.lookup(0x0a000000 + i, 100), nullptr) << i;
  // Once the first ten are older than the TTL, a new address evicts them.
  EXPECT_TRUE(c.learn(0x0b000000, kOurMac, 10 * kSecond + 9));
  EXPECT_EQ(c.size(), 64u - 10 + 1);
  for (uint32_t i = 10; i < 64; ++i) ASSERT_NE(c.lookup(0x0a000000 + i, 10 * kSecond + 9), nullptr);
}

TEST(NetArpCache, EraseKeepsProbeChainsIntact) {
  // Many keys, random erasures: every remaining key stays reachable.
  ArpCache c(1000, 1000 * kSecond, kSecond);
  for (uint32_t i = 0; i < 1000; ++i) ASSERT_TRUE(c.learn(i * 2654435761u, kOurMac, 0));
  for (uint32_t i = 0; i < 1000; i += 3) c.erase(i * 2654435761u);
  for (uint32_t i = 0; i < 1000; ++i)
    EXPECT_EQ(c.lookup(i * 2654435761u, 1) != nullptr, i % 3 != 0) << i;
  EXPECT_EQ(c.size(), 1000u - 334);
}

}  // namespace
}  // namespace vox::dataplane::net
