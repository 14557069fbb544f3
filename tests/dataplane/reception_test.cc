// Call quality in the dataplane: RFC 3550 A.1 sequence accounting and A.8
// jitter on arrival, the party's report blocks, the round trip from
// LSR/DLSR, RTCP XR's MOS, and the pipeline feeding them.
#include "dataplane/reception.h"

#include <gtest/gtest.h>

#include <vector>

#include "base/bytes.h"
#include "dataplane/pipeline.h"
#include "flow_install.h"

namespace vox::dataplane {
namespace {

constexpr int64_t kMs = 1'000'000;

RtpHeader packet(uint16_t seq, uint32_t ts, uint32_t ssrc = 0x1234, uint8_t pt = 0) {
  return RtpHeader{seq, pt, ts, ssrc};
}

struct Reception : ::testing::Test {
  FlowReception rx;
  RtpClocks clocks;
  void SetUp() override {
    clocks.add(0, 8000);
    clocks.add(96, 48000);
  }
  // 20 ms G.711 packets: seq, timestamp and arrival in step, arrival
  // shifted by `late_ns`.
  void send(uint16_t seq, int64_t late_ns = 0, uint32_t ssrc = 0x1234) {
    rx.update(packet(seq, uint32_t(seq) * 160, ssrc), int64_t(seq) * 20 * kMs + late_ns + 1'000'000'000, clocks);
  }
};

TEST_F(Reception, CountsLossFromSequenceGaps) {
  for (uint16_t s = 0; s < 100; ++s)
    if (s % 20 != 10) send(s);
  const ReceptionSnapshot q = rx.snapshot();
  EXPECT_EQ(q.received, 95u);
  EXPECT_EQ(q.expected, 100u);
  EXPECT_EQ(q.lost, 5);
  EXPECT_EQ(q.jitter_ns, 0u);  // perfectly paced
  EXPECT_EQ(q.rate, 8000u);
}

TEST_F(Reception, SequenceWrapCountsACycle) {
  for (uint32_t s = 65530; s < 65536 + 6; ++s) rx.update(packet(uint16_t(s), s * 160), int64_t(s) * 20 * kMs, clocks);
  EXPECT_EQ(rx.snapshot().expected, 12u);
  EXPECT_EQ(rx.snapshot().lost, 0);
  EXPECT_EQ(rx.extended_max.load(), 0x10000u + 5);
}

TEST_F(Reception, DuplicatesMakeLossNegativeReorderingDoesNot) {
  send(0);
  send(2);
  send(1);  // late: counted, extends nothing
  send(3);
  EXPECT_EQ(rx.snapshot().lost, 0);
  send(3);  // a duplicate
  EXPECT_EQ(rx.snapshot().lost, -1);
}

TEST_F(Reception, JitterConvergesToTheMeanTransitDifference) {
  // Every other packet 10 ms late: |D| = 10 ms each time.
  for (uint16_t s = 0; s < 500; ++s) send(s, (s % 2) * 10 * kMs);
  EXPECT_NEAR(double(rx.snapshot().jitter_ns) / kMs, 10.0, 0.2);
}

TEST_F(Reception, JitterInTheClockOfThePayloadType) {
  // Opus at 48 kHz: 960 ticks per 20 ms, 5 ms late every other packet.
  for (uint16_t s = 0; s < 500; ++s)
    rx.update(packet(s, uint32_t(s) * 960, 0x1234, 96), int64_t(s) * 20 * kMs + (s % 2) * 5 * kMs, clocks);
  EXPECT_EQ(rx.snapshot().rate, 48000u);
  EXPECT_NEAR(double(rx.snapshot().jitter_ns) / kMs, 5.0, 0.1);
}

TEST_F(Reception, UnknownPayloadTypesLeaveJitterAlone) {
  for (uint16_t s = 0; s < 50; ++s) send(s);
  // An RFC 4733 event (type 101, not in the clocks): one timestamp for
  // every packet of the event, which would read as 20 ms of jitter each.
  for (uint16_t s = 50; s < 60; ++s)
    rx.update(packet(s, 50 * 160, 0x1234, 101), int64_t(s) * 20 * kMs + 1'000'000'000, clocks);
  for (uint16_t s = 60; s < 70; ++s) send(s);
  EXPECT_EQ(rx.snapshot().jitter_ns, 0u);
  EXPECT_EQ(rx.snapshot().received, 70u);
}

TEST_F(Reception, ANewSourceKeepsWhatTheOldOneLost) {
  for (uint16_t s = 0; s < 10; ++s)
    if (s != 5) send(s);
  for (uint16_t s = 1000; s < 1010; ++s) send(s, 0, 0x9999);
  const ReceptionSnapshot q = rx.snapshot();
  EXPECT_EQ(q.ssrc, 0x9999u);
  EXPECT_EQ(q.expected, 20u);
  EXPECT_EQ(q.received, 19u);
  EXPECT_EQ(q.lost, 1);
}

TEST_F(Reception, AJumpIsBelievedOnlyWhenTheNextPacketFollowsIt) {
  for (uint16_t s = 0; s < 10; ++s) send(s);
  send(30000);  // a stray: not counted
  EXPECT_EQ(rx.snapshot().received, 10u);
  send(10);
  send(20000);
  send(20001);  // the sender restarted its sequence: counting starts over here (A.1)
  const ReceptionSnapshot q = rx.snapshot();
  EXPECT_EQ(q.received, 12u);
  EXPECT_EQ(q.expected, 12u);  // 0..10, then 20001
}

// An RR (RFC 3550 §6.4.2) with one report block.
std::vector<uint8_t> rr(uint8_t fraction, int32_t cumulative, uint32_t jitter, uint32_t lsr, uint32_t dlsr) {
  std::vector<uint8_t> p(32);
  p[0] = 0x81;
  p[1] = 201;
  store_be16(p.data() + 2, 7);
  store_be32(p.data() + 4, 0xaaaa);
  store_be32(p.data() + 8, 0x1234);
  store_be32(p.data() + 12, uint32_t(fraction) << 24 | (uint32_t(cumulative) & 0xffffff));
  store_be32(p.data() + 16, 100);
  store_be32(p.data() + 20, jitter);
  store_be32(p.data() + 24, lsr);
  store_be32(p.data() + 28, dlsr);
  return p;
}

TEST(Reports, TakesTheFirstBlockAndTheRoundTrip) {
  FlowReports r;
  const uint64_t ntp = 0x0000'1111'2222'0000ull;
  r.sent_sr(ntp, 5'000 * kMs);
  // Held 0.5 s by the party (DLSR 32768/65536 s), back 600 ms after the SR left.
  auto p = rr(64, 12, 80, uint32_t(ntp >> 16), 32768);
  r.take(p.data(), uint16_t(p.size()), 5'600 * kMs);
  const ReportSnapshot s = r.snapshot();
  EXPECT_EQ(s.blocks, 1u);
  EXPECT_EQ(s.fraction_lost, 64u);
  EXPECT_EQ(s.cumulative_lost, 12);
  EXPECT_EQ(s.jitter, 80u);
  EXPECT_EQ(s.rtt_samples, 1u);
  EXPECT_EQ(s.rtt_us, 100'000u);
}

TEST(Reports, NoRoundTripForAnotherSrOrNone) {
  FlowReports r;
  r.sent_sr(0x0000'1111'2222'0000ull, 5'000 * kMs);
  auto other = rr(0, 0, 0, 0x5555'6666, 0);
  r.take(other.data(), uint16_t(other.size()), 5'100 * kMs);
  auto none = rr(0, -3, 0, 0, 0);
  r.take(none.data(), uint16_t(none.size()), 5'100 * kMs);
  EXPECT_EQ(r.snapshot().blocks, 2u);
  EXPECT_EQ(r.snapshot().cumulative_lost, -3);  // 24-bit signed
  EXPECT_EQ(r.snapshot().rtt_samples, 0u);
}

TEST(Reports, MalformedRtcpIsIgnored) {
  FlowReports r;
  auto p = rr(1, 1, 1, 0, 0);
  p[0] = 0x82;  // two blocks claimed, one present
  r.take(p.data(), uint16_t(p.size()), 0);
  EXPECT_EQ(r.snapshot().blocks, 0u);
}

TEST(Reports, XrVoipMetricsMos) {
  // RR without blocks, then XR (RFC 3611) with a VoIP metrics block: MOS-LQ 3.7.
  std::vector<uint8_t> p = {0x80, 201, 0, 1, 0, 0, 0xaa, 0xaa};
  std::vector<uint8_t> xr(8 + 36, 0);
  xr[0] = 0x80;
  xr[1] = 207;
  store_be16(xr.data() + 2, uint16_t(xr.size() / 4 - 1));
  xr[8] = 7;                      // BT: VoIP metrics
  store_be16(xr.data() + 10, 8);  // block length in words
  xr[8 + 26] = 37;
  p.insert(p.end(), xr.begin(), xr.end());
  FlowReports r;
  r.take(p.data(), uint16_t(p.size()), 0);
  EXPECT_EQ(r.snapshot().xr_mos_q10, 37u);
  EXPECT_EQ(r.snapshot().blocks, 0u);
}

// Through the pipeline: B's SR forwarded to A, A's RR on it, A's RTP.
TEST(PipelineQuality, RoundTripAndReceptionThroughThePipeline) {
  WorkerState w{0, 16};
  constexpr FlowId kA = 0, kB = 1;  // rtcp-mux on both sides
  const int64_t t0 = 1'000 * kMs;
  w.apply(testing::add_flow(kA, 30000, "127.0.0.1:4000", kB, kB, kFlowEnabled, t0 + 1'000 * kMs));
  w.apply(testing::add_flow(kB, 30002, "127.0.0.1:5000", kA, kA, kFlowEnabled, t0 + 1'000 * kMs));
  TxPacket tx[1];
  auto run = [&](std::vector<uint8_t>& p, uint16_t port, const char* from, int64_t now) {
    RxPacket in{p.data(), uint16_t(p.size()), make_local_key(0, port), *Endpoint::parse(from)};
    return process_burst(w, &in, 1, now, tx);
  };
  // SR from B (no blocks): NTP 0x00001111'22220000.
  std::vector<uint8_t> sr(28, 0);
  sr[0] = 0x80;
  sr[1] = 200;
  store_be16(sr.data() + 2, 6);
  store_be32(sr.data() + 8, 0x1111);
  store_be32(sr.data() + 12, 0x2222'0000);
  ASSERT_EQ(run(sr, 30002, "127.0.0.1:5000", t0), 1u);
  auto reply = rr(0, 0, 0, 0x1111'2222, 0);
  ASSERT_EQ(run(reply, 30000, "127.0.0.1:4000", t0 + 40 * kMs), 1u);
  EXPECT_EQ(w.flow(kA).reports.snapshot().rtt_us, 40'000u);
  for (uint16_t s = 0; s < 10; ++s) {
    std::vector<uint8_t> p = {0x80, 0, 0, uint8_t(s), 0, 0, 0, 0, 0, 0, 0x12, 0x34};
    p.resize(172);
    if (s != 4) run(p, 30000, "127.0.0.1:4000", t0 + s * 20 * kMs);
  }
  EXPECT_EQ(w.snapshot(kA).reception.received, 9u);
  EXPECT_EQ(w.snapshot(kA).reception.lost, 1);
  EXPECT_EQ(w.snapshot(kA).reported.rtt_samples, 1u);
}

}  // namespace
}  // namespace vox::dataplane
