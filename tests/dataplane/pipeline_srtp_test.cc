// SRTP on the shared pipeline, for every suite, on an in-memory worker: a
// plain party and an SRTP party bridged both ways (RTP and RTCP), SRTP to
// SRTP re-encrypted, replayed and tampered packets dropped under their own
// reason without touching latching, re-offers that keep or change keys,
// no room for the tag, and a transcoder's output protected. What leaves is
// checked as the receiving party would: with its own SrtpStream.
#include "dataplane/pipeline.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "base/bytes.h"
#include "dataplane/srtp_slot.h"
#include "dataplane/transcode.h"
#include "flow_install.h"
#include "srtp_test_util.h"

namespace vox::dataplane {
namespace {

using testing::make_slot;
using testing::make_stream;
using testing::open;
using testing::seal;
using testing::test_key;

Endpoint ep(const char* text) { return *Endpoint::parse(text); }

constexpr uint32_t kSsrcA = 0x11111111, kSsrcB = 0x22222222;

// 172 octets of PCMU RTP, payload bytes that differ from their ciphertext.
std::vector<uint8_t> rtp_packet(uint16_t seq, uint32_t ssrc = kSsrcA) {
  std::vector<uint8_t> p(172);
  p[0] = 0x80;
  p[1] = 0;
  store_be16(&p[2], seq);
  store_be32(&p[4], seq * 160u);
  store_be32(&p[8], ssrc);
  for (size_t i = 12; i < p.size(); ++i) p[i] = uint8_t(0x55 + i);
  return p;
}

// RR with one report block (RFC 3550 §6.4.2), 32 octets.
std::vector<uint8_t> rtcp_rr(uint32_t ssrc) {
  std::vector<uint8_t> p(32, 0);
  p[0] = 0x81;
  p[1] = 201;
  store_be16(&p[2], 7);
  store_be32(&p[4], ssrc);
  store_be32(&p[8], 0xabcdef01);
  p[12] = 0x19;  // fraction lost
  return p;
}

// A call: party A on local ports 30000/30001, party B on 30002/30003, as in
// pipeline_test.cc. B speaks SRTP unless a test says otherwise.
class PipelineSrtp : public ::testing::TestWithParam<SrtpSuite> {
 protected:
  static constexpr FlowId kArtp = 0, kArtcp = 1, kBrtp = 2, kBrtcp = 3;
  WorkerState w{0, 64};
  int64_t now = 1'000'000;
  TxPacket tx_[1];
  std::vector<uint8_t> buf_;

  // Keys: what each party sends with (its a=crypto), and what the relay
  // sends to it with (the relay's a=crypto to it). All different.
  SrtpKey a_sends = test_key(GetParam(), 1), to_a = test_key(GetParam(), 2);
  SrtpKey b_sends = test_key(GetParam(), 3), to_b = test_key(GetParam(), 4);
  // Party B's own contexts: its sender and its receiver.
  SrtpStream b_out = make_stream(b_sends, SrtpDirection::kOutbound);
  SrtpStream b_in = make_stream(to_b, SrtpDirection::kInbound);

  const SrtpSuiteInfo& info() const { return srtp_suite_info(GetParam()); }

  void install(FlowId id, uint16_t port, const char* sdp, FlowId egress_rtp, FlowId egress_rtcp,
               uint16_t extra = 0) {
    w.apply(testing::add_flow(id, port, sdp, egress_rtp, egress_rtcp, kFlowEnabled | extra,
                              now + 1'000'000'000));
  }
  // As the control plane does: one slot per flow of the party, same keys.
  void set_srtp(FlowId id, const SrtpKey* in, const SrtpKey* out) {
    FlowCommand c;
    c.type = CommandType::kSetSrtp;
    c.id = id;
    c.srtp = make_slot(in, out);
    w.apply(c);
  }
  void srtp_party(FlowId rtp, FlowId rtcp, const SrtpKey& in, const SrtpKey& out) {
    set_srtp(rtp, &in, &out);
    set_srtp(rtcp, &in, &out);
  }
  void SetUp() override {
    install(kArtp, 30000, "127.0.0.1:4000", kBrtp, kBrtcp);
    install(kArtcp, 30001, "127.0.0.1:4001", kBrtp, kBrtcp, kFlowRtcpPort);
    install(kBrtp, 30002, "127.0.0.1:5000", kArtp, kArtcp);
    install(kBrtcp, 30003, "127.0.0.1:5001", kArtp, kArtcp, kFlowRtcpPort);
    srtp_party(kBrtp, kBrtcp, b_sends, to_b);
  }

  // `pkt` arrives on local `port` from `from`, in a buffer of `room` octets
  // (what the backends give: the packet and space after it).
  uint32_t run(const std::vector<uint8_t>& pkt, uint16_t port, const char* from,
               size_t room = 2048) {
    buf_.assign(std::max(room, pkt.size()), 0);
    std::copy(pkt.begin(), pkt.end(), buf_.begin());
    RxPacket rx{buf_.data(), uint16_t(pkt.size()), make_local_key(0, port), ep(from),
                uint16_t(buf_.size())};
    return process_burst(w, &rx, 1, now, tx_);
  }
  std::vector<uint8_t> sent() const { return {tx_[0].data, tx_[0].data + tx_[0].len}; }
  uint64_t drops(FlowId id, DropReason r) const {
    return w.flow(id).drops.by_reason[size_t(r)].load();
  }
  uint64_t worker_drops(DropReason r) const { return w.counters().drops[size_t(r)].load(); }
};

INSTANTIATE_TEST_SUITE_P(Suites, PipelineSrtp, ::testing::ValuesIn(testing::kAllSrtpSuites),
                         [](const auto& p) { return testing::suite_test_name(p.param); });

TEST_P(PipelineSrtp, PlainToSrtpAndBack) {
  const auto plain = rtp_packet(1);
  ASSERT_EQ(run(plain, 30000, "127.0.0.1:4000"), 1u);
  EXPECT_EQ(tx_[0].source, make_local_key(0, 30002));
  EXPECT_TRUE(tx_[0].rewritten);
  ASSERT_EQ(tx_[0].len, plain.size() + info().srtp_tag_length);
  EXPECT_TRUE(std::equal(plain.begin(), plain.begin() + 12, tx_[0].data));      // header in clear
  EXPECT_FALSE(std::equal(plain.begin() + 12, plain.end(), tx_[0].data + 12));  // payload not
  auto back = open(b_in, tx_[0].data, tx_[0].len);
  ASSERT_TRUE(back.ok()) << to_string(back.error());
  EXPECT_EQ(*back, plain);

  // B answers in SRTP; A receives the plain packet B protected.
  const auto reply = rtp_packet(1, kSsrcB);
  const auto sealed = seal(b_out, reply);
  ASSERT_EQ(run(sealed, 30002, "127.0.0.1:5000"), 1u);
  EXPECT_EQ(tx_[0].source, make_local_key(0, 30000));
  EXPECT_EQ(tx_[0].dest, ep("127.0.0.1:4000"));
  EXPECT_TRUE(tx_[0].rewritten);
  EXPECT_EQ(sent(), reply);
  EXPECT_EQ(w.flow(kBrtp).fast.bytes.load(), sealed.size());  // what came over the wire
  for (DropReason r :
       {DropReason::kSrtpAuthFailed, DropReason::kSrtpReplayed, DropReason::kSrtpError})
    EXPECT_EQ(worker_drops(r), 0u);
}

TEST_P(PipelineSrtp, EmptyOrRemovedSlotsLeavePacketsUntouched) {
  // A slot with neither direction: the flag is set, nothing is rewritten.
  set_srtp(kBrtp, nullptr, nullptr);
  EXPECT_TRUE(w.flow(kArtp).fast.rtp.flags & kFlowSrtp);
  const auto plain = rtp_packet(1);
  ASSERT_EQ(run(plain, 30000, "127.0.0.1:4000"), 1u);
  EXPECT_FALSE(tx_[0].rewritten);
  EXPECT_EQ(sent(), plain);
  // A null slot: plain RTP again, in B's flow and in A's copy of it.
  FlowCommand off;
  off.type = CommandType::kSetSrtp;
  off.id = kBrtp;
  w.apply(off);
  EXPECT_FALSE(w.flow(kBrtp).state.flags & kFlowSrtp);
  EXPECT_FALSE(w.flow(kArtp).fast.rtp.flags & kFlowSrtp);
  const auto reply = rtp_packet(1, kSsrcB);
  ASSERT_EQ(run(reply, 30002, "127.0.0.1:5000"), 1u);
  EXPECT_FALSE(tx_[0].rewritten);
  EXPECT_EQ(sent(), reply);
}

TEST_P(PipelineSrtp, SrtpToSrtpIsReencryptedWithTheOtherSidesKey) {
  srtp_party(kArtp, kArtcp, a_sends, to_a);
  SrtpStream a_out = make_stream(a_sends, SrtpDirection::kOutbound);
  SrtpStream a_in = make_stream(to_a, SrtpDirection::kInbound);
  const auto plain = rtp_packet(7);
  ASSERT_EQ(run(seal(a_out, plain), 30000, "127.0.0.1:4000"), 1u);
  ASSERT_EQ(tx_[0].len, plain.size() + info().srtp_tag_length);
  // Not passed through: A's own key does not open it, B's does.
  SrtpStream with_a_key = make_stream(a_sends, SrtpDirection::kInbound);
  auto wrong = open(with_a_key, tx_[0].data, tx_[0].len);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error(), SrtpError::kAuthFailed);
  auto back = open(b_in, tx_[0].data, tx_[0].len);
  ASSERT_TRUE(back.ok()) << to_string(back.error());
  EXPECT_EQ(*back, plain);

  const auto reply = rtp_packet(9, kSsrcB);
  ASSERT_EQ(run(seal(b_out, reply), 30002, "127.0.0.1:5000"), 1u);
  auto at_a = open(a_in, tx_[0].data, tx_[0].len);
  ASSERT_TRUE(at_a.ok()) << to_string(at_a.error());
  EXPECT_EQ(*at_a, reply);
}

TEST_P(PipelineSrtp, SrtcpBothWaysAndMuxed) {
  // A's plain RR leaves B's RTCP port as SRTCP.
  const auto rr_a = rtcp_rr(kSsrcA);
  ASSERT_EQ(run(rr_a, 30001, "127.0.0.1:4001"), 1u);
  EXPECT_EQ(tx_[0].source, make_local_key(0, 30003));
  EXPECT_TRUE(tx_[0].rewritten);
  ASSERT_EQ(tx_[0].len, rr_a.size() + info().srtcp_tag_length + 4);  // E||index, tag
  EXPECT_FALSE(std::equal(rr_a.begin() + 8, rr_a.end(), tx_[0].data + 8));
  auto back = open(b_in, tx_[0].data, tx_[0].len, true);
  ASSERT_TRUE(back.ok()) << to_string(back.error());
  EXPECT_EQ(*back, rr_a);

  // B's SRTCP, on its RTCP port and muxed on its RTP port (RFC 5761): A
  // receives it plain on its RTCP port either way.
  const auto rr_b = rtcp_rr(kSsrcB);
  for (uint16_t port : {30003, 30002}) {
    SCOPED_TRACE(port);
    ASSERT_EQ(
        run(seal(b_out, rr_b, true), port, port == 30003 ? "127.0.0.1:5001" : "127.0.0.1:5000"),
        1u);
    EXPECT_EQ(tx_[0].source, make_local_key(0, 30001));
    EXPECT_EQ(sent(), rr_b);
  }
  // A tampered SRTCP packet: dropped on B's RTCP flow.
  auto bad = seal(b_out, rr_b, true);
  bad[12] ^= 0x01;
  EXPECT_EQ(run(bad, 30003, "127.0.0.1:5001"), 0u);
  EXPECT_EQ(drops(kBrtcp, DropReason::kSrtpAuthFailed), 1u);
}

// The packets an attacker can produce without the key: a copy of one B
// sent, or a modified one. Each is dropped under its reason, per flow and
// per worker, and none latches: inside the learning window, a packet from
// B's SDP address would take the latch over from the stranger who latched
// first (source_policy.h), and only a genuine one does.
TEST_P(PipelineSrtp, ReplayedAndTamperedPacketsDroppedCountedAndNeverLatch) {
  const auto p1 = seal(b_out, rtp_packet(1, kSsrcB));
  ASSERT_EQ(run(p1, 30002, "127.0.0.9:7000"), 1u);
  EXPECT_EQ(w.flow(kBrtp).state.source, ep("127.0.0.9:7000"));
  EXPECT_EQ(w.counters().latches.load(), 1u);

  EXPECT_EQ(run(p1, 30002, "127.0.0.1:5000"), 0u);  // replayed from the SDP address
  EXPECT_EQ(drops(kBrtp, DropReason::kSrtpReplayed), 1u);
  EXPECT_EQ(worker_drops(DropReason::kSrtpReplayed), 1u);

  const auto p2 = seal(b_out, rtp_packet(2, kSsrcB));
  auto payload_flipped = p2;
  payload_flipped[40] ^= 0x01;
  auto tag_flipped = p2;
  tag_flipped.back() ^= 0x80;
  for (const auto* bad : {&payload_flipped, &tag_flipped})
    EXPECT_EQ(run(*bad, 30002, "127.0.0.1:5000"), 0u);
  EXPECT_EQ(drops(kBrtp, DropReason::kSrtpAuthFailed), 2u);
  EXPECT_EQ(worker_drops(DropReason::kSrtpAuthFailed), 2u);

  EXPECT_EQ(w.flow(kBrtp).state.source, ep("127.0.0.9:7000"));
  EXPECT_EQ(w.flow(kBrtp).published.read(), ep("127.0.0.9:7000"));
  EXPECT_EQ(w.counters().latches.load(), 1u);
  EXPECT_EQ(w.flow(kBrtp).fast.packets.load(), 1u);  // drops are not media

  // The genuine packet does take the latch over, and A's RTP follows it.
  ASSERT_EQ(run(p2, 30002, "127.0.0.1:5000"), 1u);
  EXPECT_EQ(w.flow(kBrtp).state.source, ep("127.0.0.1:5000"));
  EXPECT_EQ(w.counters().latches.load(), 2u);

  // Older than the replay window: counted as replayed too.
  const auto old = seal(b_out, rtp_packet(3, kSsrcB));
  ASSERT_EQ(run(seal(b_out, rtp_packet(400, kSsrcB)), 30002, "127.0.0.1:5000"), 1u);
  EXPECT_EQ(run(old, 30002, "127.0.0.1:5000"), 0u);
  EXPECT_EQ(drops(kBrtp, DropReason::kSrtpReplayed), 2u);
  EXPECT_EQ(drops(kArtp, DropReason::kSrtpReplayed), 0u);
}

TEST_P(PipelineSrtp, NoRoomOrADuplicateOnEgressIsAnSrtpError) {
  const auto plain = rtp_packet(1);
  EXPECT_EQ(run(plain, 30000, "127.0.0.1:4000", plain.size()), 0u);  // no tailroom
  EXPECT_EQ(drops(kArtp, DropReason::kSrtpError), 1u);
  ASSERT_EQ(run(plain, 30000, "127.0.0.1:4000"), 1u);
  // The same index again would be sent under the same keystream.
  EXPECT_EQ(run(plain, 30000, "127.0.0.1:4000"), 0u);
  EXPECT_EQ(drops(kArtp, DropReason::kSrtpError), 2u);
  EXPECT_EQ(worker_drops(DropReason::kSrtpError), 2u);
}

// Re-offer with new keys both ways: what B sent under its old key before the
// switch still passes, then its new key; the relay protects toward B with
// the new key at once.
TEST_P(PipelineSrtp, RekeyWithoutAGap) {
  ASSERT_EQ(run(seal(b_out, rtp_packet(1, kSsrcB)), 30002, "127.0.0.1:5000"), 1u);
  const auto in_flight = seal(b_out, rtp_packet(2, kSsrcB));

  const SrtpKey b_sends2 = test_key(GetParam(), 9), to_b2 = test_key(GetParam(), 10);
  srtp_party(kBrtp, kBrtcp, b_sends2, to_b2);
  SrtpStream b_out2 = make_stream(b_sends2, SrtpDirection::kOutbound);
  SrtpStream b_in2 = make_stream(to_b2, SrtpDirection::kInbound);

  ASSERT_EQ(run(in_flight, 30002, "127.0.0.1:5000"), 1u);
  EXPECT_EQ(sent(), rtp_packet(2, kSsrcB));
  ASSERT_EQ(run(seal(b_out2, rtp_packet(3, kSsrcB)), 30002, "127.0.0.1:5000"), 1u);
  EXPECT_EQ(sent(), rtp_packet(3, kSsrcB));
  // B uses the new key now: the old one is retired.
  EXPECT_EQ(run(seal(b_out, rtp_packet(4, kSsrcB)), 30002, "127.0.0.1:5000"), 0u);
  EXPECT_EQ(drops(kBrtp, DropReason::kSrtpAuthFailed), 1u);

  ASSERT_EQ(run(rtp_packet(1), 30000, "127.0.0.1:4000"), 1u);
  EXPECT_FALSE(open(b_in, tx_[0].data, tx_[0].len).ok());
  auto back = open(b_in2, tx_[0].data, tx_[0].len);
  ASSERT_TRUE(back.ok()) << to_string(back.error());
  EXPECT_EQ(*back, rtp_packet(1));
}

// Re-offer repeating the same keys (hold, a codec change): the running
// sessions stay, so a packet accepted before is still a replay, and the
// relay never protects an index it already used.
TEST_P(PipelineSrtp, ReofferWithTheSameKeysKeepsTheRunningSessions) {
  const auto p1 = seal(b_out, rtp_packet(1, kSsrcB));
  ASSERT_EQ(run(p1, 30002, "127.0.0.1:5000"), 1u);
  ASSERT_EQ(run(rtp_packet(1), 30000, "127.0.0.1:4000"), 1u);
  srtp_party(kBrtp, kBrtcp, b_sends, to_b);
  EXPECT_EQ(run(p1, 30002, "127.0.0.1:5000"), 0u);
  EXPECT_EQ(drops(kBrtp, DropReason::kSrtpReplayed), 1u);
  EXPECT_EQ(run(rtp_packet(1), 30000, "127.0.0.1:4000"), 0u);
  EXPECT_EQ(drops(kArtp, DropReason::kSrtpError), 1u);
  ASSERT_EQ(run(rtp_packet(2), 30000, "127.0.0.1:4000"), 1u);
  EXPECT_TRUE(open(b_in, tx_[0].data, tx_[0].len).ok());
}

// A plain PCMU caller, an SRTP Opus callee: the transcoder's packets are
// protected in their slots with the relay's key for B.
TEST_P(PipelineSrtp, TranscodedOutputIsProtected) {
  constexpr uint32_t kOutSsrc = 0x0a0b0c0d;
  codecs::TranscoderConfig c;
  c.in_codec = codecs::AudioCodec::kPcmu;
  c.out_codec = codecs::AudioCodec::kOpus;
  c.out_pt = 111;
  c.out_ssrc = kOutSsrc;
  auto t = codecs::Transcoder::create(c);
  ASSERT_TRUE(t.ok());
  FlowCommand cmd;
  cmd.type = CommandType::kSetTranscode;
  cmd.id = kArtp;
  cmd.transcode = new TranscodeSlot(std::move(t).value());
  w.apply(cmd);

  size_t generated = 0;
  for (uint16_t seq = 1; seq <= 5; ++seq) {
    EXPECT_EQ(run(rtp_packet(seq), 30000, "127.0.0.1:4000"), 0u);  // consumed by the transcoder
    GeneratedPackets& g = *w.generated();
    for (uint32_t k = 0; k < g.count; ++k) {
      const TxPacket& out = g.out[k];
      EXPECT_EQ(out.source, make_local_key(0, 30002));
      EXPECT_TRUE(out.rewritten);
      EXPECT_EQ(load_be32(out.data + 8), kOutSsrc);
      auto back = open(b_in, out.data, out.len);
      ASSERT_TRUE(back.ok()) << to_string(back.error());
      EXPECT_EQ(back->size() + info().srtp_tag_length, out.len);
      EXPECT_EQ((*back)[1] & 0x7f, 111);
      EXPECT_GT(back->size(), 12u);  // an Opus frame
      ++generated;
    }
    g.count = 0;  // sent (the backend's part)
  }
  EXPECT_GE(generated, 4u);
  EXPECT_EQ(worker_drops(DropReason::kSrtpError), 0u);
}

}  // namespace
}  // namespace vox::dataplane
