// The relay's own RTCP for transcoded streams: the compound it writes (SR,
// a report block on the party's stream, SDES CNAME), the fraction lost
// between reports, and the pipeline sending it once per interval toward
// the party the transcoder sends to, whose other RTCP it then stops.
#include "dataplane/rtcp_report.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "base/bytes.h"
#include "dataplane/pipeline.h"
#include "dataplane/transcode.h"
#include "flow_install.h"

namespace vox::dataplane {
namespace {

constexpr int64_t kMs = 1'000'000;

RtpHeader rtp(uint16_t seq) { return RtpHeader{seq, 0, uint32_t(seq) * 160, 0xA1}; }

TEST(OwnRtcp, SrWithABlockAndACname) {
  FlowReception rx;
  RtpClocks clocks;
  clocks.add(0, 8000);
  for (uint16_t s = 0; s < 100; ++s)
    if (s % 10 != 5) rx.update(rtp(s), s * 20 * kMs, clocks);
  FlowReports reports;
  reports.received_lsr = 0x12345678;
  reports.received_ns = 1'000 * kMs;
  uint64_t prior_expected = 0, prior_received = 0;
  const OwnReport r = report_on(rx, reports, 1'250 * kMs, prior_expected, prior_received);
  ASSERT_TRUE(r.present);
  uint8_t buf[kOwnRtcpMaxLength];
  const size_t len = write_own_rtcp(buf, {0xC0FFEE, 0x11112222'33334444ull, 9600, 60, 9600}, r);
  EXPECT_EQ(len, kOwnRtcpMaxLength);
  auto view = parse_rtcp_compound(buf, len);  // a full compound: no reduced size needed
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->num_packets, 2);
  EXPECT_EQ(view->first_type, kRtcpSr);
  EXPECT_EQ(view->sender_ssrc, 0xC0FFEEu);
  EXPECT_EQ(view->sender_info.ntp_timestamp, 0x11112222'33334444ull);
  EXPECT_EQ(view->sender_info.packet_count, 60u);
  std::vector<RtcpReportBlock> blocks;
  for_each_rtcp_report_block(*view, [&](const RtcpReportBlock& b) { blocks.push_back(b); });
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].ssrc, 0xA1u);
  EXPECT_EQ(blocks[0].cumulative_lost, 10);
  EXPECT_EQ(blocks[0].fraction_lost, 25);  // 10 of 100: 25.6/256
  EXPECT_EQ(blocks[0].highest_seq, 99u);
  EXPECT_EQ(blocks[0].last_sr, 0x12345678u);
  EXPECT_EQ(blocks[0].delay_since_sr, 16384u);  // 250 ms in 1/65536 s
  // SDES: CNAME "vox-00c0ffee".
  const uint8_t* sdes = buf + 52;
  EXPECT_EQ(sdes[1], kRtcpSdes);
  EXPECT_EQ(sdes[8], 1);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(sdes + 10), sdes[9]), "vox-00c0ffee");
  // The next report's fraction counts only what came since.
  for (uint16_t s = 100; s < 200; ++s) rx.update(rtp(s), s * 20 * kMs, clocks);
  EXPECT_EQ(report_on(rx, reports, 0, prior_expected, prior_received).block.fraction_lost, 0);
}

TEST(OwnRtcp, NothingReceivedNoBlock) {
  FlowReception rx;
  FlowReports reports;
  uint64_t e = 0, r = 0;
  const OwnReport report = report_on(rx, reports, 0, e, r);
  EXPECT_FALSE(report.present);
  uint8_t buf[kOwnRtcpMaxLength];
  const size_t len = write_own_rtcp(buf, {1, 2, 3, 4, 5}, report);
  EXPECT_EQ(len, 28u + 24u);
  EXPECT_TRUE(parse_rtcp_compound(buf, len).ok());
}

// B (PCMU) -> transcoder -> A (Opus), rtcp-mux both sides.
struct TranscodedCall : ::testing::Test {
  WorkerState w{0, 16};
  static constexpr FlowId kA = 0, kB = 1;
  const int64_t t0 = 1'000 * kMs;
  TxPacket tx[4];

  void SetUp() override {
    w.apply(testing::add_flow(kA, 30000, "127.0.0.1:4000", kB, kB, kFlowEnabled, t0 + 1'000 * kMs));
    w.apply(testing::add_flow(kB, 30002, "127.0.0.1:5000", kA, kA, kFlowEnabled, t0 + 1'000 * kMs));
    codecs::TranscoderConfig c;
    c.in_codec = codecs::AudioCodec::kPcmu;
    c.out_codec = codecs::AudioCodec::kOpus;
    c.out_pt = 111;
    c.out_ssrc = 0x0a0b0c0d;
    auto t = codecs::Transcoder::create(c);
    ASSERT_TRUE(t.ok());
    auto slot = std::make_unique<TranscodeSlot>(std::move(t).value());
    slot->rtcp_interval_ns = 1'000 * kMs;
    FlowCommand cmd;
    cmd.type = CommandType::kSetTranscode;
    cmd.id = kB;
    cmd.transcode = slot.release();
    w.apply(cmd);
  }
  uint32_t run(std::vector<uint8_t> p, uint16_t port, const char* from, int64_t now) {
    RxPacket in{p.data(), uint16_t(p.size()), make_local_key(0, port), *Endpoint::parse(from)};
    return process_burst(w, &in, 1, now, tx);
  }
  static std::vector<uint8_t> pcmu(uint16_t seq, uint32_t ssrc) {
    std::vector<uint8_t> p(172, 0xff);
    p[0] = 0x80;
    p[1] = 0;
    store_be16(p.data() + 2, seq);
    store_be32(p.data() + 4, uint32_t(seq) * 160);
    store_be32(p.data() + 8, ssrc);
    return p;
  }
  // The RTCP among the burst's generated packets (then cleared).
  std::vector<TxPacket> own_rtcp() {
    std::vector<TxPacket> out;
    GeneratedPackets& g = *w.generated();
    for (uint32_t i = 0; i < g.count; ++i)
      if (g.out[i].len > 1 && g.out[i].data[1] == kRtcpSr) out.push_back(g.out[i]);
    g.count = 0;
    return out;
  }
};

TEST_F(TranscodedCall, AnSrTowardThePartyEachIntervalAndTheOthersRtcpStops) {
  std::vector<TxPacket> sent;
  std::vector<std::vector<uint8_t>> copies;
  for (uint16_t s = 0; s < 150; ++s) {  // 3 s of 20 ms packets both ways
    const int64_t now = t0 + s * 20 * kMs;
    if (s != 7) run(pcmu(s, 0xA1), 30000, "127.0.0.1:4000", now);  // A's, one lost
    run(pcmu(s, 0xB1), 30002, "127.0.0.1:5000", now);
    for (const TxPacket& t : own_rtcp()) {
      sent.push_back(t);
      copies.emplace_back(t.data, t.data + t.len);
    }
  }
  // The first after half an interval, then one a second: 0.5, 1.5, 2.5 s.
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(w.counters().rtcp_sent.load(), 3u);
  for (const TxPacket& t : sent) {
    EXPECT_EQ(t.dest, *Endpoint::parse("127.0.0.1:4000"));  // toward A, from A's port
    EXPECT_EQ(t.source, make_local_key(0, 30000));
  }
  auto view = parse_rtcp_compound(copies.back().data(), copies.back().size());
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->sender_ssrc, 0x0a0b0c0du);  // the Opus stream A hears
  EXPECT_GT(view->sender_info.packet_count, 100u);
  int blocks = 0;
  for_each_rtcp_report_block(*view, [&](const RtcpReportBlock& b) {
    ++blocks;
    EXPECT_EQ(b.ssrc, 0xA1u);
    EXPECT_EQ(b.cumulative_lost, 1);
  });
  EXPECT_EQ(blocks, 1);
  // B's RR is for A no more; A's RR still reaches B (whose stream is not
  // transcoded toward it here).
  std::vector<uint8_t> rr = {0x80, 201, 0, 1, 0, 0, 0, 0xB1};
  EXPECT_EQ(run(rr, 30002, "127.0.0.1:5000", t0 + 3'100 * kMs), 0u);
  EXPECT_EQ(w.counters().rtcp_terminated.load(), 1u);
  rr[7] = 0xA1;
  EXPECT_EQ(run(rr, 30000, "127.0.0.1:4000", t0 + 3'100 * kMs), 1u);
}

TEST_F(TranscodedCall, TheSrsRoundTripComesBackInAsReport) {
  for (uint16_t s = 0; s < 30; ++s) {
    run(pcmu(s, 0xB1), 30002, "127.0.0.1:5000", t0 + s * 20 * kMs);
    own_rtcp();
  }
  // A answers the relay's SR (sent at 0.5 s) at 0.58 s, having held it 30 ms.
  const uint32_t lsr = w.flow(kA).reports.sent_lsr;
  ASSERT_NE(lsr, 0u);
  std::vector<uint8_t> rr(32, 0);
  rr[0] = 0x81;
  rr[1] = 201;
  store_be16(rr.data() + 2, 7);
  store_be32(rr.data() + 8, 0x0a0b0c0d);
  store_be32(rr.data() + 24, lsr);
  store_be32(rr.data() + 28, 30 * 65536 / 1000);
  run(rr, 30000, "127.0.0.1:4000", w.flow(kA).reports.sent_ns + 80 * kMs);
  EXPECT_EQ(w.flow(kA).reports.snapshot().rtt_samples, 1u);
  EXPECT_NEAR(double(w.flow(kA).reports.snapshot().rtt_us), 50'000, 100);
}

}  // namespace
}  // namespace vox::dataplane
