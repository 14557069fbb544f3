// Tests for dataplane/net/checksum.h: the RFC 1071 §3 worked example, RFC
// 1624 incremental updates, and the fast sum against a naive word-by-word
// reference over random buffers of every length 0..300 and every alignment.
#include "dataplane/net/checksum.h"

#include <gtest/gtest.h>

#include <cstring>

#include <random>
#include <vector>

namespace vox::dataplane::net {
namespace {

// Independent reference: one big-endian word at a time (RFC 1071 §4.1).
uint16_t ref_checksum(const uint8_t* p, size_t n) {
  uint64_t s = 0;
  for (size_t i = 0; i < n; i += 2) s += uint32_t(p[i]) << 8 | (i + 1 < n ? p[i + 1] : 0);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return uint16_t(~s);
}

TEST(NetChecksum, Rfc1071Example) {
  // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2 (checksum 220d).
  const uint8_t b[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(checksum_add(b, sizeof b), 0xddf2);
  EXPECT_EQ(internet_checksum(b, sizeof b), 0x220d);
}

TEST(NetChecksum, Ipv4HeaderGolden) {
  // A 20-octet IPv4 header from the Wikipedia/RFC-style worked example.
  const uint8_t h[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                       0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  EXPECT_EQ(internet_checksum(h, sizeof h), 0xb861);
  uint8_t full[sizeof h];
  std::memcpy(full, h, sizeof h);
  full[10] = 0xb8;
  full[11] = 0x61;
  EXPECT_EQ(checksum_add(full, sizeof full), 0xffff);  // a correct header sums to -0
}

TEST(NetChecksum, MatchesReferenceAllLengthsAndAlignments) {
  std::mt19937 rng(1071);
  std::vector<uint8_t> buf(320 + 8);
  for (auto& b : buf) b = uint8_t(rng());
  for (size_t align = 0; align < 8; ++align) {
    for (size_t len = 0; len <= 300; ++len) {
      ASSERT_EQ(internet_checksum(buf.data() + align, len), ref_checksum(buf.data() + align, len))
          << "len " << len << " align " << align;
    }
  }
  // Carries on every addition, up to the IP maximum and past the lengths
  // after which the vector lanes must meet the 64-bit sum.
  std::vector<uint8_t> ones(3 << 19, 0xff);
  for (size_t len : {size_t(1500), size_t(1499), size_t(65534), size_t(65535), size_t(1) << 20,
                     (size_t(3) << 19) - 1})
    EXPECT_EQ(internet_checksum(ones.data(), len), ref_checksum(ones.data(), len)) << len;
}

TEST(NetChecksum, ChainingEqualsOneShot) {
  std::mt19937 rng(7);
  std::vector<uint8_t> buf(200);
  for (auto& b : buf) b = uint8_t(rng());
  for (size_t split = 0; split <= buf.size(); split += 2) {
    const uint16_t s = checksum_add(buf.data() + split, buf.size() - split,
                                    checksum_add(buf.data(), split));
    EXPECT_EQ(checksum_finish(s), ref_checksum(buf.data(), buf.size()));
  }
}

TEST(NetChecksum, Rfc1624IncrementalEqualsRecompute) {
  std::mt19937 rng(1624);
  for (int iter = 0; iter < 20000; ++iter) {
    uint8_t h[20];
    for (auto& b : h) b = uint8_t(rng());
    h[0] = 0x45;  // keeps the sum non-zero, as in any real header
    h[10] = h[11] = 0;
    const uint16_t before = internet_checksum(h, 20);
    const size_t word = 2 * (rng() % 10);
    if (word == 10) continue;
    const uint16_t old_w = uint16_t(h[word] << 8 | h[word + 1]);
    const uint16_t new_w = uint16_t(rng());
    h[word] = uint8_t(new_w >> 8);
    h[word + 1] = uint8_t(new_w);
    if (word == 0 && h[0] == 0 && h[1] == 0) continue;
    ASSERT_EQ(checksum_adjust(before, checksum_delta16(old_w, new_w)), internet_checksum(h, 20));
  }
  // RFC 1624 §4's case: eqn. 3 does not produce -0 (0xffff) where eqn. 2 would.
  EXPECT_EQ(checksum_adjust(0xdd2f, checksum_delta16(0x5555, 0x3285)), 0x0000);
}

TEST(NetChecksum, UdpPseudoHeaderV4Golden) {
  // 192.0.2.10:40000 -> 198.51.100.20:30000, 4 octets "RTP!": the RFC 768
  // pseudo-header laid out explicitly and summed by the naive reference.
  const uint8_t src[] = {192, 0, 2, 10}, dst[] = {198, 51, 100, 20};
  uint8_t udp[] = {0x9c, 0x40, 0x75, 0x30, 0x00, 0x0c, 0x00, 0x00, 'R', 'T', 'P', '!'};
  uint8_t pseudo[12 + sizeof udp] = {192, 0, 2, 10, 198, 51, 100, 20, 0, 17, 0, 12};
  std::memcpy(pseudo + 12, udp, sizeof udp);
  EXPECT_EQ(udp_checksum_v4(src, dst, udp, sizeof udp), ref_checksum(pseudo, sizeof pseudo));
}

TEST(NetChecksum, UdpPseudoHeaderV6MatchesReference) {
  uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8}, dst[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1};
  src[15] = 0x10;
  dst[15] = 0x20;
  uint8_t udp[] = {0x9c, 0x40, 0x75, 0x30, 0x00, 0x0b, 0x00, 0x00, 'a', 'b', 'c'};
  uint8_t pseudo[40 + sizeof udp] = {};
  std::memcpy(pseudo, src, 16);
  std::memcpy(pseudo + 16, dst, 16);
  pseudo[35] = sizeof udp;
  pseudo[39] = 17;
  std::memcpy(pseudo + 40, udp, sizeof udp);
  EXPECT_EQ(udp_checksum_v6(src, dst, udp, sizeof udp), ref_checksum(pseudo, sizeof pseudo));
}

TEST(NetChecksum, ZeroResultIsSentAsAllOnes) {
  // Craft a datagram whose checksum computes to 0: RFC 768 sends 0xffff.
  const uint8_t src[] = {0, 0, 0, 0}, dst[] = {0, 0, 0, 0};
  uint8_t udp[10] = {0, 0, 0, 0, 0, 10, 0, 0, 0, 0};
  // Pseudo sum = 17 + 10, header length 10: total 0x25; pad data so the sum is 0xffff.
  const uint16_t fill = uint16_t(0xffff - (17 + 10 + 10));
  udp[8] = uint8_t(fill >> 8);
  udp[9] = uint8_t(fill);
  EXPECT_EQ(udp_checksum_v4(src, dst, udp, sizeof udp), 0xffff);
}

}  // namespace
}  // namespace vox::dataplane::net
