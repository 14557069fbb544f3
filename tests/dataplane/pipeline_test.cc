// The shared pipeline on an in-memory worker: forwarding both ways, RTCP to
// the RTCP port, rtcp-mux demultiplexing, and every drop reason counted.
#include "dataplane/pipeline.h"

#include <gtest/gtest.h>

#include <vector>

#include "flow_install.h"

namespace vox::dataplane {
namespace {

Endpoint ep(const char* text) { return *Endpoint::parse(text); }

std::vector<uint8_t> rtp_packet(uint8_t pt = 0, size_t payload = 160) {
  std::vector<uint8_t> p = {0x80, pt, 0x12, 0x34, 0, 0, 0, 160, 0xde, 0xad, 0xbe, 0xef};
  p.resize(12 + payload, 0xff);
  return p;
}

std::vector<uint8_t> rtcp_rr() {
  // RR with no report blocks: V=2, PT=201, length 1 (8 bytes), SSRC.
  return {0x80, 201, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef};
}

// A call: party A on local ports 30000/30001, party B on 30002/30003.
struct Pipeline : ::testing::Test {
  WorkerState w{0, 64};
  static constexpr FlowId kArtp = 0, kArtcp = 1, kBrtp = 2, kBrtcp = 3;
  int64_t now = 1'000'000;

  void install(FlowId id, uint16_t port, const char* sdp, FlowId egress_rtp, FlowId egress_rtcp,
               uint16_t extra = 0) {
    w.apply(testing::add_flow(id, port, sdp, egress_rtp, egress_rtcp, kFlowEnabled | extra,
                              now + 1'000'000'000));
  }
  void SetUp() override {
    install(kArtp, 30000, "127.0.0.1:4000", kBrtp, kBrtcp);
    install(kArtcp, 30001, "127.0.0.1:4001", kBrtp, kBrtcp, kFlowRtcpPort);
    install(kBrtp, 30002, "127.0.0.1:5000", kArtp, kArtcp);
    install(kBrtcp, 30003, "127.0.0.1:5001", kArtp, kArtcp, kFlowRtcpPort);
  }
  uint32_t run(std::vector<uint8_t>& pkt, uint16_t port, const char* from, TxPacket* tx) {
    RxPacket rx{pkt.data(), uint16_t(pkt.size()), make_local_key(0, port), ep(from)};
    return process_burst(w, &rx, 1, now, tx);
  }
  uint64_t drops(DropReason r) const { return w.counters().drops[size_t(r)].load(); }
};

TEST_F(Pipeline, ForwardsBothWaysToLatchedAddresses) {
  TxPacket tx[1];
  auto pkt = rtp_packet();
  ASSERT_EQ(run(pkt, 30000, "127.0.0.1:4000", tx), 1u);
  EXPECT_EQ(tx[0].source, make_local_key(0, 30002));  // leaves from B's port
  EXPECT_EQ(tx[0].dest, ep("127.0.0.1:5000"));
  EXPECT_EQ(tx[0].len, 172);
  // B answers from behind a NAT: latched, and A's packets now go there.
  ASSERT_EQ(run(pkt, 30002, "127.0.0.1:45000", tx), 1u);
  EXPECT_EQ(tx[0].source, make_local_key(0, 30000));
  EXPECT_EQ(tx[0].dest, ep("127.0.0.1:4000"));
  ASSERT_EQ(run(pkt, 30000, "127.0.0.1:4000", tx), 1u);
  EXPECT_EQ(tx[0].dest, ep("127.0.0.1:45000"));
  EXPECT_EQ(w.flow(kBrtp).published.read(), ep("127.0.0.1:45000"));
  EXPECT_EQ(w.flow(kArtp).fast.packets.load(), 2u);
  EXPECT_EQ(w.flow(kArtp).fast.bytes.load(), 344u);
  EXPECT_EQ(w.counters().rx_packets.load(), 3u);
  EXPECT_EQ(w.counters().latches.load(), 2u);
}

// A browser (AVPF) on A, a trunk (AVP) on B: feedback A sends is not for B.
TEST_F(Pipeline, FeedbackTowardAnAvpPartyIsStrippedOrDropped) {
  install(kBrtcp, 30003, "127.0.0.1:5001", kArtp, kArtcp, kFlowRtcpPort | kFlowNoFeedback);
  TxPacket tx[1];
  // RR + PSFB PLI (FMT 1, 12 octets): the RR goes on, alone.
  std::vector<uint8_t> rr_pli = rtcp_rr();
  const std::vector<uint8_t> pli = {0x81, 206, 0x00, 0x02, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04};
  rr_pli.insert(rr_pli.end(), pli.begin(), pli.end());
  ASSERT_EQ(run(rr_pli, 30001, "127.0.0.1:4001", tx), 1u);
  EXPECT_EQ(tx[0].len, 8u);
  EXPECT_EQ(std::vector<uint8_t>(tx[0].data, tx[0].data + tx[0].len), rtcp_rr());
  // Feedback alone (reduced size, RFC 5506) toward B: not sent, counted.
  std::vector<uint8_t> only = pli;
  EXPECT_EQ(run(only, 30001, "127.0.0.1:4001", tx), 0u);
  EXPECT_EQ(drops(DropReason::kFeedbackOnly), 1u);
  // The other way (B's RTCP to the AVPF party A) nothing is taken out.
  std::vector<uint8_t> back = rtcp_rr();
  back.insert(back.end(), pli.begin(), pli.end());
  ASSERT_EQ(run(back, 30003, "127.0.0.1:5001", tx), 1u);
  EXPECT_EQ(tx[0].len, 20u);
}

TEST_F(Pipeline, ForeignSourceAfterLatchIsDroppedAndCounted) {
  TxPacket tx[1];
  auto pkt = rtp_packet();
  ASSERT_EQ(run(pkt, 30000, "127.0.0.1:4000", tx), 1u);
  EXPECT_EQ(run(pkt, 30000, "127.0.0.9:6666", tx), 0u);
  EXPECT_EQ(drops(DropReason::kSourceMismatch), 1u);
  EXPECT_EQ(w.flow(kArtp).drops.by_reason[size_t(DropReason::kSourceMismatch)].load(), 1u);
}

TEST_F(Pipeline, RtcpGoesToTheRtcpPortAndMuxIsDemultiplexed) {
  TxPacket tx[1];
  auto rr = rtcp_rr();
  ASSERT_EQ(run(rr, 30001, "127.0.0.1:4001", tx), 1u);
  EXPECT_EQ(tx[0].source, make_local_key(0, 30003));
  EXPECT_EQ(tx[0].dest, ep("127.0.0.1:5001"));
  // RTCP arriving muxed on A's RTP port (RFC 5761) still goes to B's RTCP port.
  ASSERT_EQ(run(rr, 30000, "127.0.0.1:4000", tx), 1u);
  EXPECT_EQ(tx[0].source, make_local_key(0, 30003));
}

TEST_F(Pipeline, MalformedNotMediaUnknownPortAndNoDestination) {
  TxPacket tx[1];
  std::vector<uint8_t> v1 = {0x40, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};  // RTP version 1
  EXPECT_EQ(run(v1, 30000, "127.0.0.1:4000", tx), 0u);
  EXPECT_EQ(drops(DropReason::kNotMedia), 1u);
  std::vector<uint8_t> short_rtp = {0x80, 0, 0, 1, 0, 0};
  EXPECT_EQ(run(short_rtp, 30000, "127.0.0.1:4000", tx), 0u);
  std::vector<uint8_t> bad_pad = rtp_packet();
  bad_pad[0] |= 0x20;  // padding bit, last octet 0xff > payload
  EXPECT_EQ(run(bad_pad, 30000, "127.0.0.1:4000", tx), 0u);
  EXPECT_EQ(drops(DropReason::kMalformed), 2u);
  std::vector<uint8_t> stun = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42};
  stun.resize(20);
  EXPECT_EQ(run(stun, 30000, "127.0.0.1:4000", tx), 0u);
  EXPECT_EQ(drops(DropReason::kNotMedia), 2u);
  auto pkt = rtp_packet();
  EXPECT_EQ(run(pkt, 31000, "127.0.0.1:4000", tx), 0u);
  EXPECT_EQ(w.counters().no_flow.load(), 1u);

  // B's side not known yet (offer without answer): nowhere to send.
  FlowCommand c;
  c.type = CommandType::kUpdateFlow;
  c.id = kBrtp;
  c.state = w.flow(kBrtp).state;
  c.state.sdp_source = Endpoint{};
  c.reset_latch = true;
  w.apply(c);
  EXPECT_EQ(run(pkt, 30000, "127.0.0.1:4000", tx), 0u);
  EXPECT_EQ(drops(DropReason::kNoDestination), 1u);
}

TEST_F(Pipeline, BurstOfManyPacketsKeepsOrder) {
  std::vector<std::vector<uint8_t>> pkts(kBurstSize, rtp_packet());
  RxPacket rx[kBurstSize];
  TxPacket tx[kBurstSize];
  for (uint32_t i = 0; i < kBurstSize; ++i) {
    pkts[i][3] = uint8_t(i);
    bool from_a = i % 2 == 0;
    rx[i] = {pkts[i].data(), uint16_t(pkts[i].size()), make_local_key(0, from_a ? 30000 : 30002),
             ep(from_a ? "127.0.0.1:4000" : "127.0.0.1:5000")};
  }
  ASSERT_EQ(process_burst(w, rx, kBurstSize, now, tx), kBurstSize);
  for (uint32_t i = 0; i < kBurstSize; ++i) {
    EXPECT_EQ(tx[i].data[3], i);
    EXPECT_EQ(tx[i].source, make_local_key(0, i % 2 == 0 ? 30002 : 30000));
  }
}

TEST_F(Pipeline, RemoveFlowStopsForwarding) {
  FlowCommand c;
  c.type = CommandType::kRemoveFlow;
  c.id = kArtp;
  auto applied = w.apply(c);
  EXPECT_EQ(applied.port, WorkerState::PortChange::kRemoved);
  EXPECT_EQ(applied.key, make_local_key(0, 30000));
  TxPacket tx[1];
  auto pkt = rtp_packet();
  EXPECT_EQ(run(pkt, 30000, "127.0.0.1:4000", tx), 0u);
  EXPECT_EQ(w.counters().no_flow.load(), 1u);
}

// The egress copy each flow keeps of the flow its RTP leaves through
// follows every change of that flow: a latch seen from another sender (RTP
// on A's RTCP port), an update of its SDP address and flags, its removal,
// and a new flow reusing its id.
TEST_F(Pipeline, EgressCopyFollowsTheEgressFlow) {
  TxPacket tx[1];
  auto pkt = rtp_packet();
  // Both of A's flows send RTP to B's RTP flow.
  ASSERT_EQ(run(pkt, 30001, "127.0.0.1:4001", tx), 1u);
  EXPECT_EQ(tx[0].dest, ep("127.0.0.1:5000"));
  EXPECT_EQ(tx[0].source, make_local_key(0, 30002));
  ASSERT_EQ(run(pkt, 30002, "127.0.0.1:45000", tx), 1u);  // B latches behind a NAT
  ASSERT_EQ(run(pkt, 30000, "127.0.0.1:4000", tx), 1u);
  EXPECT_EQ(tx[0].dest, ep("127.0.0.1:45000"));
  ASSERT_EQ(run(pkt, 30001, "127.0.0.1:4001", tx), 1u);
  EXPECT_EQ(tx[0].dest, ep("127.0.0.1:45000"));

  // B turns asymmetric with a new SDP address: A sends to the SDP address.
  FlowCommand u;
  u.type = CommandType::kUpdateFlow;
  u.id = kBrtp;
  u.state.egress_rtp = kArtp;
  u.state.egress_rtcp = kArtcp;
  u.state.flags = kFlowEnabled | kFlowAsymmetric;
  u.state.sdp_source = ep("127.0.0.1:5500");
  w.apply(u);
  ASSERT_EQ(run(pkt, 30000, "127.0.0.1:4000", tx), 1u);
  EXPECT_EQ(tx[0].dest, ep("127.0.0.1:5500"));

  // A's RTCP flow now sends RTP nowhere: only A's RTP flow follows B.
  u.id = kArtcp;
  u.state.egress_rtp = kNoFlow;
  u.state.flags = kFlowEnabled | kFlowRtcpPort;
  u.state.sdp_source = ep("127.0.0.1:4001");
  w.apply(u);
  EXPECT_EQ(run(pkt, 30001, "127.0.0.1:4001", tx), 0u);
  EXPECT_EQ(drops(DropReason::kNoDestination), 1u);

  // B removed: A has nowhere to send. A new flow on B's id: A follows it.
  FlowCommand r;
  r.type = CommandType::kRemoveFlow;
  r.id = kBrtp;
  w.apply(r);
  EXPECT_EQ(run(pkt, 30000, "127.0.0.1:4000", tx), 0u);
  EXPECT_EQ(drops(DropReason::kNoDestination), 2u);
  install(kBrtp, 30010, "127.0.0.1:6000", kArtp, kArtcp);
  ASSERT_EQ(run(pkt, 30000, "127.0.0.1:4000", tx), 1u);
  EXPECT_EQ(tx[0].dest, ep("127.0.0.1:6000"));
  EXPECT_EQ(tx[0].source, make_local_key(0, 30010));
  EXPECT_EQ(tx[0].source, make_local_key(0, 30010));
  EXPECT_EQ(run(pkt, 30001, "127.0.0.1:4001", tx), 0u);  // still unlinked
}

}  // namespace
}  // namespace vox::dataplane
