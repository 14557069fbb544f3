// Tests for dataplane/transcode.h: RTCP from the Opus receiver reaches the
// transcoder (only report blocks about its output SSRC, from SRs and RRs
// anywhere in a compound), malformed or truncated RTCP changes nothing, and
// the counters published for NG query carry the new figures.
#include "dataplane/transcode.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "dataplane/rtcp.h"

namespace vox::dataplane {
namespace {

constexpr uint32_t kOutSsrc = 0x0a0b0c0d;  // the transcoder's Opus output

std::unique_ptr<TranscodeSlot> pcmu_to_opus_slot() {
  codecs::TranscoderConfig c;
  c.in_codec = codecs::AudioCodec::kPcmu;
  c.out_codec = codecs::AudioCodec::kOpus;
  c.out_pt = 111;
  c.out_ssrc = kOutSsrc;
  c.far_side_fec = true;
  auto t = codecs::Transcoder::create(c);
  EXPECT_TRUE(t.ok());
  return std::make_unique<TranscodeSlot>(std::move(t).value());
}

// RR from the Opus party (SSRC 0x11111111) about our stream: 25/256 lost.
constexpr uint8_t kRrLoss[] = {
    0x81, 0xc9, 0x00, 0x07,  // V=2 P=0 RC=1 | PT=201 RR | length 7 (32 octets)
    0x11, 0x11, 0x11, 0x11,  // SSRC of packet sender
    0x0a, 0x0b, 0x0c, 0x0d,  // report block 1: SSRC_1 = kOutSsrc
    0x19, 0x00, 0x00, 0x07,  // fraction lost 25/256 | cumulative lost 7
    0x00, 0x00, 0x01, 0x2c,  // extended highest sequence number 300
    0x00, 0x00, 0x00, 0x30,  // jitter
    0x00, 0x00, 0x00, 0x00,  // LSR: no SR received yet
    0x00, 0x00, 0x00, 0x00,  // DLSR
};

// SR with two blocks (another source lost 200/256, ours none), then an RR
// with two blocks (ours 25/256, another source 255/256), then SDES.
constexpr uint8_t kSrRrSdes[] = {
    0x82, 0xc8, 0x00, 0x12,  // RC=2 | PT=200 SR | length 18 (76 octets)
    0x11, 0x11, 0x11, 0x11,  // SSRC of sender (the Opus party sends too)
    0xe7, 0x4b, 0x1a, 0x2c,  // NTP timestamp, most significant word
    0x00, 0x00, 0x00, 0x00,  // NTP timestamp, least significant word
    0x00, 0x00, 0x3e, 0x80,  // RTP timestamp
    0x00, 0x00, 0x00, 0x64,  // sender's packet count 100
    0x00, 0x00, 0x1f, 0x40,  // sender's octet count 8000
    0x22, 0x22, 0x22, 0x22,  // block 1: another source
    0xc8, 0x00, 0x00, 0x50,  // fraction lost 200/256
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x0a, 0x0b, 0x0c, 0x0d,  // block 2: ours
    0x00, 0x00, 0x00, 0x00,  // no loss
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x82, 0xc9, 0x00, 0x0d,  // RC=2 | PT=201 RR | length 13 (56 octets)
    0x11, 0x11, 0x11, 0x11,  // SSRC of packet sender
    0x0a, 0x0b, 0x0c, 0x0d,  // block 1: ours
    0x19, 0x00, 0x00, 0x07,  // fraction lost 25/256
    0x00, 0x00, 0x01, 0x2c, 0x00, 0x00, 0x00, 0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x33, 0x33, 0x33, 0x33,  // block 2: another source
    0xff, 0x00, 0x01, 0x00,  // fraction lost 255/256
    0x00, 0x00, 0x01, 0x2c, 0x00, 0x00, 0x00, 0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x81, 0xca, 0x00, 0x03,  // SC=1 | PT=202 SDES | length 3 (16 octets)
    0x11, 0x11, 0x11, 0x11,  // chunk 1: SSRC
    0x01, 0x03, 'o', 'p',    // CNAME, 3 octets "ops"
    's', 0x00, 0x00, 0x00,   // end of items + pad to 32 bits
};
static_assert(sizeof(kSrRrSdes) == 148);

uint64_t reports(const TranscodeSlot& s) { return s.get(TranscodeCounter::kReceiverReports); }

TEST(FeedReceiverReports, AnRrAboutOurStreamSetsTheExpectedLoss) {
  auto slot = pcmu_to_opus_slot();
  feed_receiver_reports(*slot, kRrLoss, sizeof(kRrLoss));
  EXPECT_EQ(slot->transcoder->expected_loss_percent(), 10);  // 25/256, rounded up
  EXPECT_EQ(reports(*slot), 1u);                             // published for NG query
}

TEST(FeedReceiverReports, EveryBlockOfACompoundSrAndRr) {
  auto slot = pcmu_to_opus_slot();
  feed_receiver_reports(*slot, kSrRrSdes, sizeof(kSrRrSdes));
  // Ours: 0 (SR), then 25/256 (RR); the 200 and 255 about others are ignored.
  EXPECT_EQ(slot->transcoder->counters().receiver_reports, 2u);
  EXPECT_EQ(slot->transcoder->expected_loss_percent(), 10);
  EXPECT_EQ(reports(*slot), 2u);
}

TEST(FeedReceiverReports, ReportsAboutOtherSourcesChangeNothing) {
  auto slot = pcmu_to_opus_slot();
  auto rr = std::vector<uint8_t>(kRrLoss, kRrLoss + sizeof(kRrLoss));
  rr[11] = 0x0e;  // SSRC_1 is now kOutSsrc + 1
  feed_receiver_reports(*slot, rr.data(), rr.size());
  EXPECT_EQ(slot->transcoder->expected_loss_percent(), 0);
  EXPECT_EQ(reports(*slot), 0u);
}

TEST(FeedReceiverReports, ReducedSizeCompoundsAreWalkedToo) {
  auto slot = pcmu_to_opus_slot();
  // RFC 5506: an SDES first, then the RR; with a=rtcp-rsize the relay accepts it.
  std::vector<uint8_t> b(kSrRrSdes + 132, kSrRrSdes + 148);
  b.insert(b.end(), kRrLoss, kRrLoss + sizeof(kRrLoss));
  feed_receiver_reports(*slot, b.data(), b.size());
  EXPECT_EQ(slot->transcoder->expected_loss_percent(), 10);
}

// Every proper prefix of the RR is malformed (a length field runs past the
// end, or the datagram is not whole words); copied to an exactly sized heap
// buffer so ASan sees any read past it.
TEST(FeedReceiverReports, TruncatedRtcpChangesNothing) {
  auto slot = pcmu_to_opus_slot();
  for (size_t n = 0; n < sizeof(kRrLoss); ++n) {
    std::vector<uint8_t> b(kRrLoss, kRrLoss + n);
    feed_receiver_reports(*slot, b.data(), b.size());
    ASSERT_EQ(reports(*slot), 0u) << "prefix " << n;
  }
  feed_receiver_reports(*slot, nullptr, 0);
  EXPECT_EQ(slot->transcoder->expected_loss_percent(), 0);
  feed_receiver_reports(*slot, kRrLoss, sizeof(kRrLoss));  // the whole packet does count
  EXPECT_EQ(reports(*slot), 1u);
}

TEST(FeedReceiverReports, MalformedRtcpChangesNothing) {
  auto slot = pcmu_to_opus_slot();
  auto changed = [](std::vector<uint8_t> b) {
    auto s = pcmu_to_opus_slot();
    feed_receiver_reports(*s, b.data(), b.size());
    return s->transcoder->counters().receiver_reports != 0;
  };
  const std::vector<uint8_t> rr(kRrLoss, kRrLoss + sizeof(kRrLoss));
  ASSERT_TRUE(changed(rr));  // the unmodified packet is accepted
  auto b = rr;
  b[0] = 0x83;  // RC=3: blocks 2 and 3 would run past the packet (§6.4.2)
  EXPECT_FALSE(changed(b));
  b = rr;
  b[0] = 0x41;  // version 1
  EXPECT_FALSE(changed(b));
  b = rr;
  b[3] = 0x08;  // length one word past the datagram
  EXPECT_FALSE(changed(b));
  b = rr;
  b[0] |= 0x20;  // padding flag, but the last octet (0) is no valid count
  EXPECT_FALSE(changed(b));
  b = rr;
  b.push_back(0);  // not a whole number of words
  EXPECT_FALSE(changed(b));

  // Random bytes, half of them behind a plausible RR header (RC 0..3) whose
  // block 1 would be about us: exactly those whose RC blocks fit count.
  std::mt19937 rng(3550);
  uint64_t want = 0;
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint8_t> g(rng() % 96);
    for (auto& x : g) x = uint8_t(rng());
    if (i % 2 == 0 && g.size() >= 12) {
      g.resize(g.size() / 4 * 4);
      const uint8_t rc = uint8_t(rng() % 4);
      g[0] = uint8_t(0x80 | rc);
      g[1] = kRtcpRr;
      store_be16(g.data() + 2, uint16_t(g.size() / 4 - 1));
      store_be32(g.data() + 8, kOutSsrc);
      if (rc >= 1 && 8 + kRtcpReportBlockLength * rc <= g.size()) ++want;
    }
    feed_receiver_reports(*slot, g.data(), g.size());
  }
  EXPECT_GT(want, 0u);
  EXPECT_EQ(reports(*slot), want);
}

TEST(TranscodeCounterNames, AreDistinct) {
  std::set<std::string> names;
  for (size_t i = 0; i < kTranscodeCounterCount; ++i) names.insert(to_string(TranscodeCounter(i)));
  EXPECT_EQ(names.size(), kTranscodeCounterCount);
  EXPECT_EQ(names.count("?"), 0u);
  EXPECT_EQ(names.count("receiver reports"), 1u);
}

}  // namespace
}  // namespace vox::dataplane
