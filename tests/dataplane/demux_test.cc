// Tests for dataplane/demux.h: real first octets of STUN, DTLS, RTP and RTCP,
// the range boundaries of RFC 7983 §7 and RFC 5761 §4, and an exhaustive
// comparison of every (first, second) octet pair with a plain reference.
#include "dataplane/demux.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace vox::dataplane {
namespace {

PacketKind classify2(uint8_t b0, uint8_t b1) {
  const uint8_t p[2] = {b0, b1};
  return classify_packet(p, 2);
}

TEST(Demux, RealPacketStarts) {
  // STUN Binding Request (RFC 8489 §5): type 0x0001, then the magic cookie.
  const uint8_t stun[] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42};
  EXPECT_EQ(classify_packet(stun, sizeof(stun)), PacketKind::kStun);
  // STUN Binding Success Response: 0x0101.
  EXPECT_EQ(classify2(0x01, 0x01), PacketKind::kStun);
  // DTLS 1.2 handshake record (content type 22, version 0xfefd).
  const uint8_t dtls[] = {0x16, 0xfe, 0xfd, 0x00, 0x00};
  EXPECT_EQ(classify_packet(dtls, sizeof(dtls)), PacketKind::kDtls);
  EXPECT_EQ(classify2(0x17, 0xfe), PacketKind::kDtls);  // application data
  EXPECT_EQ(classify2(0x15, 0xfe), PacketKind::kDtls);  // alert
  // RTP: PCMU, PCMA, telephone-event with marker, dynamic PT 96 with marker.
  EXPECT_EQ(classify2(0x80, 0x00), PacketKind::kRtp);
  EXPECT_EQ(classify2(0x80, 0x08), PacketKind::kRtp);
  EXPECT_EQ(classify2(0x80, 0xe5), PacketKind::kRtp);
  EXPECT_EQ(classify2(0xb2, 0xe0), PacketKind::kRtp);
  // RTCP: SR, RR, SDES, BYE, APP, RTPFB, PSFB, XR.
  for (uint8_t pt = 200; pt <= 207; ++pt) EXPECT_EQ(classify2(0x81, pt), PacketKind::kRtcp) << int(pt);
  EXPECT_EQ(classify2(0xa1, 0xcb), PacketKind::kRtcp);  // padded BYE
}

TEST(Demux, RangeBoundaries) {
  EXPECT_EQ(classify2(0, 0), PacketKind::kStun);
  EXPECT_EQ(classify2(3, 0), PacketKind::kStun);
  EXPECT_EQ(classify2(4, 0), PacketKind::kUnknown);
  EXPECT_EQ(classify2(16, 0), PacketKind::kUnknown);  // ZRTP
  EXPECT_EQ(classify2(19, 0), PacketKind::kUnknown);
  EXPECT_EQ(classify2(20, 0), PacketKind::kDtls);
  EXPECT_EQ(classify2(63, 0), PacketKind::kDtls);
  EXPECT_EQ(classify2(64, 0), PacketKind::kUnknown);  // TURN channel
  EXPECT_EQ(classify2(127, 0), PacketKind::kUnknown);
  EXPECT_EQ(classify2(128, 0), PacketKind::kRtp);
  EXPECT_EQ(classify2(191, 0), PacketKind::kRtp);
  EXPECT_EQ(classify2(192, 0), PacketKind::kUnknown);
  EXPECT_EQ(classify2(255, 200), PacketKind::kUnknown);
  // RFC 5761 §4: second octet 192..223 is RTCP (RTP PT 64..95 with M set).
  EXPECT_EQ(classify2(0x80, 191), PacketKind::kRtp);
  EXPECT_EQ(classify2(0x80, 192), PacketKind::kRtcp);
  EXPECT_EQ(classify2(0x80, 223), PacketKind::kRtcp);
  EXPECT_EQ(classify2(0x80, 224), PacketKind::kRtp);
  // The second octet only matters in the RTP/RTCP range.
  EXPECT_EQ(classify2(0x00, 200), PacketKind::kStun);
  EXPECT_EQ(classify2(0x16, 200), PacketKind::kDtls);
}

TEST(Demux, ShortInputs) {
  EXPECT_EQ(classify_packet(nullptr, 0), PacketKind::kUnknown);
  const uint8_t one[] = {0x80};
  EXPECT_EQ(classify_packet(one, 1), PacketKind::kUnknown);
}

TEST(Demux, ExhaustiveAgainstReference) {
  for (int b0 = 0; b0 < 256; ++b0) {
    for (int b1 = 0; b1 < 256; ++b1) {
      PacketKind want = PacketKind::kUnknown;
      if (b0 <= 3) want = PacketKind::kStun;
      else if (b0 >= 20 && b0 <= 63) want = PacketKind::kDtls;
      else if (b0 >= 128 && b0 <= 191)
        want = (b1 >= 192 && b1 <= 223) ? PacketKind::kRtcp : PacketKind::kRtp;
      ASSERT_EQ(classify2(uint8_t(b0), uint8_t(b1)), want) << b0 << "," << b1;
    }
  }
}

TEST(Demux, Names) {
  std::set<std::string> names;
  for (size_t i = 0; i < kPacketKindCount; ++i) names.insert(to_string(PacketKind(i)));
  EXPECT_EQ(names.size(), kPacketKindCount);
}

}  // namespace
}  // namespace vox::dataplane
