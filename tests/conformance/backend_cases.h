// The backend conformance cases, written once: every backend's harness
// instantiates them (tests/dataplane/socket_conformance_test.cc: io_uring
// and epoll; tests/dpdk/dpdk_conformance_test.cc: DPDK on net_ring), so a
// backend proves itself by passing them, each outcome with the same named
// counter everywhere.
#pragma once

#include "tests/conformance/backend_harness.h"

namespace vox::dataplane::conformance {

// 1. RTP both ways through a call's two flows: byte-identical, from the
// right relay port, to the right peer; counted per worker and per flow.
TEST_P(BackendConformance, RelaysRtpBothWays) {
  ASSERT_NO_FATAL_FAILURE(call(h().peer(kPeerA), h().peer(kPeerB)));
  uint64_t bytes = 0;
  for (uint16_t seq = 1; seq <= 3; ++seq) {
    const auto p = rtp_packet(seq, 0x11111111);
    bytes += p.size();
    ASSERT_NO_FATAL_FAILURE(expect_relayed(kPeerA, a_, p, kPeerB, b_));
  }
  for (uint16_t seq = 50; seq < 52; ++seq) {
    const auto p = rtp_packet(seq, 0x22222222, 8, 80);
    bytes += p.size();
    ASSERT_NO_FATAL_FAILURE(expect_relayed(kPeerB, b_, p, kPeerA, a_));
  }
  expect_quiet(kPeerA);
  expect_quiet(kPeerB);
  EXPECT_TRUE(h().wait_until([&] { return h().worker().tx_packets >= 5; }));
  const WorkerSnapshot w = h().worker();
  EXPECT_EQ(w.rx_packets, 5u);
  EXPECT_EQ(w.tx_packets, 5u);
  EXPECT_EQ(w.rx_bytes, bytes);
  EXPECT_EQ(w.latches, 2u);
  EXPECT_EQ(w.no_flow, 0u);
  expect_drops(w, {}, "worker");
  const FlowSnapshot a = h().flow(kA), b = h().flow(kB);
  EXPECT_EQ(a.packets, 3u);
  EXPECT_EQ(a.bytes, 3u * 172);
  EXPECT_EQ(b.packets, 2u);
  EXPECT_EQ(b.bytes, 2u * 92);
  EXPECT_EQ(a.latched.to_string(), h().peer(kPeerA).to_string());
  EXPECT_EQ(b.latched.to_string(), h().peer(kPeerB).to_string());
  expect_drops(a, {}, "flow A");
  expect_drops(b, {}, "flow B");
  EXPECT_EQ(w.tx_bytes, bytes);
}

// 2. Party A's SDP says one address, its media comes from another (NAT):
// latched inside the window, A gets B's media there; after the window a
// third source is refused and counted, and B never sees its packets.
TEST_P(BackendConformance, LatchesInTheWindowThenRefusesOtherSources) {
  constexpr int64_t kShortWindowNs = 300'000'000;
  ASSERT_NO_FATAL_FAILURE(call(h().peer(kPeerA), h().peer(kPeerB), 0, kShortWindowNs));
  const int64_t window_end = monotonic_ns() + kShortWindowNs;
  ASSERT_NO_FATAL_FAILURE(expect_relayed(kPeerAnat, a_, rtp_packet(1, 0x11111111), kPeerB, b_));
  EXPECT_EQ(h().flow(kA).latched.to_string(), h().peer(kPeerAnat).to_string());
  ASSERT_NO_FATAL_FAILURE(expect_relayed(kPeerB, b_, rtp_packet(1, 0x22222222), kPeerAnat, a_));
  expect_quiet(kPeerA);  // A's SDP address: nothing goes there any more

  ASSERT_TRUE(
      h().wait_until([&] { return monotonic_ns() > window_end + 20'000'000; }, Millis(1000)));
  h().send(kStranger, a_, rtp_packet(2, 0x33333333));
  wait_rx(3);
  expect_quiet(kPeerB);
  expect_quiet(kStranger);
  // The latched source still goes through.
  ASSERT_NO_FATAL_FAILURE(expect_relayed(kPeerAnat, a_, rtp_packet(3, 0x11111111), kPeerB, b_));

  const WorkerSnapshot w = h().worker();
  EXPECT_EQ(w.rx_packets, 4u);
  EXPECT_EQ(w.latches, 2u);
  expect_drops(w, {{DropReason::kSourceMismatch, 1}}, "worker");
  const FlowSnapshot a = h().flow(kA);
  expect_drops(a, {{DropReason::kSourceMismatch, 1}}, "flow A");
  EXPECT_EQ(a.packets, 2u);
  EXPECT_EQ(a.latched.to_string(), h().peer(kPeerAnat).to_string());
  expect_drops(h().flow(kB), {}, "flow B");
}

// 3. A muxes RTCP on its RTP port (RFC 5761), B has an RTCP port: A's RTCP
// goes to B's RTCP port from B's RTCP relay port, B's RTCP reaches A on
// A's RTP port, and RTP keeps to the RTP ports.
TEST_P(BackendConformance, DemultiplexesAndMultiplexesRtcp) {
  a_ = h().bind_port();
  b_ = h().bind_port();
  const LocalKey b_rtcp = h().bind_port();
  ASSERT_TRUE(a_ && b_ && b_rtcp);
  ASSERT_NO_FATAL_FAILURE(add_flow(kA, a_, h().peer(kPeerA), kB, kBrtcp));
  ASSERT_NO_FATAL_FAILURE(add_flow(kB, b_, h().peer(kPeerB), kA, kA));
  ASSERT_NO_FATAL_FAILURE(add_flow(kBrtcp, b_rtcp, h().peer(kPeerBrtcp), kA, kA, kFlowRtcpPort));

  ASSERT_NO_FATAL_FAILURE(
      expect_relayed(kPeerA, a_, rtcp_rr(0x11111111, 0x22222222), kPeerBrtcp, b_rtcp));
  ASSERT_NO_FATAL_FAILURE(expect_relayed(kPeerBrtcp, b_rtcp, rtcp_sr(0x22222222), kPeerA, a_));
  ASSERT_NO_FATAL_FAILURE(expect_relayed(kPeerA, a_, rtp_packet(1, 0x11111111), kPeerB, b_));
  ASSERT_NO_FATAL_FAILURE(expect_relayed(kPeerB, b_, rtp_packet(1, 0x22222222), kPeerA, a_));
  expect_quiet(kPeerB);
  expect_quiet(kPeerBrtcp);
  expect_quiet(kPeerA);

  EXPECT_TRUE(h().wait_until([&] { return h().worker().tx_packets >= 4; }));
  const WorkerSnapshot w = h().worker();
  EXPECT_EQ(w.rx_packets, 4u);
  EXPECT_EQ(w.tx_packets, 4u);
  expect_drops(w, {}, "worker");
  EXPECT_EQ(h().flow(kA).packets, 2u);
  EXPECT_EQ(h().flow(kB).packets, 1u);
  EXPECT_EQ(h().flow(kBrtcp).packets, 1u);
  EXPECT_EQ(h().flow(kBrtcp).latched.to_string(), h().peer(kPeerBrtcp).to_string());
}

// 4. B speaks SRTP (the relay holds B's key and its own key for B), A plain
// RTP. The test is B, with libsrtp: the plaintext crosses both ways; a
// replay and a forged packet from B's address are dropped under their own
// names and reach nobody.
TEST_P(BackendConformance, BridgesSrtpAndPlainAndDropsReplayedAndForged) {
  using dataplane::testing::make_stream;
  using dataplane::testing::seal;
  constexpr SrtpSuite kSuite = SrtpSuite::kAesCm128HmacSha1_80;
  const SrtpKey b_sends = dataplane::testing::test_key(kSuite, 3);
  const SrtpKey to_b = dataplane::testing::test_key(kSuite, 4);
  SrtpStream b_out = make_stream(b_sends, SrtpDirection::kOutbound);
  SrtpStream b_in = make_stream(to_b, SrtpDirection::kInbound);
  ASSERT_NO_FATAL_FAILURE(call(h().peer(kPeerA), h().peer(kPeerB)));
  ASSERT_NO_FATAL_FAILURE(set_srtp(kB, dataplane::testing::make_slot(&b_sends, &to_b)));

  // A -> B: plain in, SRTP out, which B's own context opens.
  const auto plain = rtp_packet(1, 0x11111111);
  h().send(kPeerA, a_, plain);
  auto at_b = h().receive(kPeerB);
  ASSERT_TRUE(at_b.has_value());
  EXPECT_EQ(at_b->from.to_string(), h().relay(b_).to_string());
  EXPECT_EQ(at_b->payload.size(), plain.size() + srtp_suite_info(kSuite).srtp_tag_length);
  auto opened = dataplane::testing::open(b_in, at_b->payload.data(), at_b->payload.size());
  ASSERT_TRUE(opened.ok()) << to_string(opened.error());
  EXPECT_EQ(*opened, plain);

  // B -> A: SRTP in, the plaintext out.
  const auto reply = rtp_packet(9, 0x22222222);
  const auto sealed = seal(b_out, reply);
  h().send(kPeerB, b_, sealed);
  ASSERT_NO_FATAL_FAILURE(expect_delivered(kPeerA, a_, reply));

  h().send(kPeerB, b_, sealed);  // replayed (RFC 3711 §3.3.2)
  auto forged = seal(b_out, rtp_packet(10, 0x22222222));
  forged[50] ^= 0x04;  // one payload bit: the tag no longer verifies
  h().send(kPeerB, b_, forged);
  wait_rx(4);
  expect_quiet(kPeerA);
  const auto later = rtp_packet(11, 0x22222222);
  h().send(kPeerB, b_, seal(b_out, later));
  ASSERT_NO_FATAL_FAILURE(expect_delivered(kPeerA, a_, later));

  EXPECT_TRUE(h().wait_until([&] { return h().worker().tx_packets >= 3; }));
  const WorkerSnapshot w = h().worker();
  EXPECT_EQ(w.rx_packets, 5u);
  EXPECT_EQ(w.tx_packets, 3u);
  expect_drops(w, {{DropReason::kSrtpReplayed, 1}, {DropReason::kSrtpAuthFailed, 1}}, "worker");
  const FlowSnapshot b = h().flow(kB);
  expect_drops(b, {{DropReason::kSrtpReplayed, 1}, {DropReason::kSrtpAuthFailed, 1}}, "flow B");
  EXPECT_EQ(b.packets, 2u);
  EXPECT_EQ(b.latched.to_string(), h().peer(kPeerB).to_string());
  expect_drops(h().flow(kA), {}, "flow A");
}

// 5. A sends PCMU, B receives Opus: a PCMU -> Opus transcoder on A's flow.
// 20 ms frames of a 1 kHz tone go in; B decodes what comes out and hears
// the tone, at its level, in one Opus packet per frame, numbered as the
// transcoder was told.
TEST_P(BackendConformance, TranscodesPcmuToOpus) {
  constexpr uint32_t kOpusSsrc = 0x0a0b0c0d;
  constexpr uint16_t kFirstSeq = 100;
  constexpr uint32_t kFirstTs = 4800;
  constexpr int kFrames = 50;  // one second
  ASSERT_NO_FATAL_FAILURE(call(h().peer(kPeerA), h().peer(kPeerB)));
  auto t = codecs::Transcoder::create(
      codecs::test::direction(codecs::AudioCodec::kPcmu, kOpusSsrc, kFirstSeq, kFirstTs));
  ASSERT_TRUE(t.ok());
  auto* slot = new TranscodeSlot(std::move(t).value());
  FlowCommand c;
  c.type = CommandType::kSetTranscode;
  c.id = kA;
  c.transcode = slot;
  ASSERT_TRUE(h().post(c));

  // Each frame is sent once the previous one came out, as 20 ms pacing
  // would have it (frames sent ahead of a resolving next hop are the
  // ordering case's subject, not this one's).
  const auto pcm = codecs::test::tone(1000, 10000, 160 * kFrames);
  auto decoder = codecs::NarrowbandOpusDecoder::create();
  ASSERT_TRUE(decoder.ok());
  std::vector<int16_t> heard;
  uint64_t opus_bytes = 0;
  for (int k = 0; k < kFrames; ++k) {
    auto p = rtp_packet(uint16_t(1000 + k), 0x11111111, 0, 0);
    store_be32(&p[4], 5000 + 160u * uint32_t(k));
    const auto u = codecs::test::ulaw(std::span(pcm).subspan(size_t(160 * k), 160));
    p.insert(p.end(), u.begin(), u.end());
    h().send(kPeerA, a_, p);
    auto d = h().receive(kPeerB);
    ASSERT_TRUE(d.has_value()) << "no Opus packet for frame " << k;
    EXPECT_EQ(d->from.to_string(), h().relay(b_).to_string());
    ASSERT_GT(d->payload.size(), 12u);
    opus_bytes += d->payload.size();
    const uint8_t* r = d->payload.data();
    EXPECT_EQ(r[0] & 0xc0, 0x80);
    EXPECT_EQ(r[1] & 0x7f, 111);
    EXPECT_EQ(load_be16(r + 2), uint16_t(kFirstSeq + k));
    EXPECT_EQ(load_be32(r + 4), kFirstTs + 960u * uint32_t(k));  // 48 kHz clock (RFC 7587 §4.1)
    EXPECT_EQ(load_be32(r + 8), kOpusSsrc);
    int16_t out[960];
    auto n = decoder->decode(r + 12, d->payload.size() - 12, out, 960);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 160u);
    heard.insert(heard.end(), out, out + *n);
  }
  expect_quiet(kPeerB);
  expect_quiet(kPeerA);
  ASSERT_EQ(heard.size(), 160u * kFrames);
  const int16_t* x = heard.data() + 1600;  // past the codec's start-up
  const size_t n = heard.size() - 1600;
  const double p = codecs::test::mean_power(x, n);
  EXPECT_GT(codecs::test::goertzel_power(x, n, 1000), 0.95 * p);  // energy concentrated at 1 kHz
  EXPECT_LT(codecs::test::goertzel_power(x, n, 500) + codecs::test::goertzel_power(x, n, 2000),
            0.01 * p);
  EXPECT_NEAR(std::sqrt(2 * p), 10000, 10000 * 0.25);  // level within about 2 dB
  size_t crossings = 0;
  for (size_t i = 1; i < n; ++i) crossings += (x[i - 1] < 0) != (x[i] < 0);
  EXPECT_NEAR(double(crossings) / (double(n) / 8000), 2000, 20);  // 2 per cycle

  EXPECT_TRUE(h().wait_until([&] { return h().worker().tx_packets >= uint64_t(kFrames); }));
  const WorkerSnapshot w = h().worker();
  EXPECT_EQ(w.rx_packets, uint64_t(kFrames));
  EXPECT_EQ(w.tx_packets, uint64_t(kFrames));
  expect_drops(w, {}, "worker");
  EXPECT_EQ(h().flow(kA).packets, uint64_t(kFrames));
  EXPECT_EQ(slot->get(TranscodeCounter::kFramesDecoded), uint64_t(kFrames));
  EXPECT_EQ(slot->get(TranscodeCounter::kFramesEncoded), uint64_t(kFrames));
  EXPECT_EQ(slot->get(TranscodeCounter::kPacketsOut), uint64_t(kFrames));
  EXPECT_EQ(w.tx_bytes, opus_bytes);
}

// 6. B's SDP address is IPv6, the relay's interface IPv4, and B is
// asymmetric (the relay must send to that address): A's packet is taken
// but cannot leave, counted as send-failed for the worker and for the flow
// it would have left by (B's), not for A's.
TEST_P(BackendConformance, CountsAPacketThatCannotLeaveAsSendFailed) {
  const Endpoint v6 = *Endpoint::parse("[2001:db8::5]:6000");
  ASSERT_NO_FATAL_FAILURE(call(h().peer(kPeerA), v6, kFlowAsymmetric));
  h().send(kPeerA, a_, rtp_packet(1, 0x11111111));
  EXPECT_TRUE(h().wait_until([&] { return drops(h().worker(), DropReason::kSendFailed) >= 1; }))
      << "nothing counted as send-failed";
  expect_quiet(kPeerA);
  expect_quiet(kPeerB);
  const WorkerSnapshot w = h().worker();
  EXPECT_EQ(w.rx_packets, 1u);
  EXPECT_EQ(w.tx_packets, 0u);
  expect_drops(w, {{DropReason::kSendFailed, 1}}, "worker");
  expect_drops(h().flow(kB), {{DropReason::kSendFailed, 1}}, "flow B");
  expect_drops(h().flow(kA), {}, "flow A");
  EXPECT_EQ(h().flow(kA).packets, 1u);
}

// 7. Datagrams too short for what they claim are malformed (RFC 3550
// §5.1), a STUN binding request (RFC 7983: first octet 0..3) is not media;
// none leaves, none latches, and the call relays afterwards.
TEST_P(BackendConformance, DropsTruncatedDatagramsAndStunUnderTheirNames) {
  ASSERT_NO_FATAL_FAILURE(call(h().peer(kPeerA), h().peer(kPeerB)));
  std::vector<uint8_t> five = {0x80, 0x00, 0x00, 0x01, 0x00};
  auto cut = rtp_packet(1, 0x11111111, 0, 8);
  cut[0] = 0x8f;  // CC = 15: a 60-octet CSRC list in a 20-octet datagram
  std::vector<uint8_t> stun = {0x00, 0x01, 0x00, 0x00,
                               0x21, 0x12, 0xa4, 0x42};  // binding request, cookie
  stun.resize(20, 0x5a);                                 // transaction id
  for (const auto* p : {&five, &cut, &stun}) h().send(kPeerA, a_, *p);
  wait_rx(3);
  expect_quiet(kPeerB);
  EXPECT_EQ(h().flow(kA).latched.port, 0) << "latched on a dropped packet";
  ASSERT_NO_FATAL_FAILURE(expect_relayed(kPeerA, a_, rtp_packet(2, 0x11111111), kPeerB, b_));

  EXPECT_TRUE(h().wait_until([&] { return h().worker().tx_packets >= 1; }));
  const WorkerSnapshot w = h().worker();
  EXPECT_EQ(w.rx_packets, 4u);
  EXPECT_EQ(w.tx_packets, 1u);
  expect_drops(w, {{DropReason::kMalformed, 2}, {DropReason::kNotMedia, 1}}, "worker");
  const FlowSnapshot a = h().flow(kA);
  expect_drops(a, {{DropReason::kMalformed, 2}, {DropReason::kNotMedia, 1}}, "flow A");
  EXPECT_EQ(a.packets, 1u);
}

// 8. A burst of RTP to a party the relay has not sent to yet (DPDK: whose
// MAC it must resolve first) leaves whole and in order: a relay must not
// reorder a call's first packets.
TEST_P(BackendConformance, KeepsOrderWhileTheNextHopResolves) {
  constexpr uint16_t kPackets = 40;  // more than one 32-packet burst
  ASSERT_NO_FATAL_FAILURE(call(h().peer(kPeerA), h().peer(kPeerB)));
  for (uint16_t seq = 1; seq <= kPackets; ++seq) h().send(kPeerA, a_, rtp_packet(seq, 0x11111111));
  std::vector<uint16_t> order;
  for (uint16_t k = 0; k < kPackets; ++k) {
    auto d = h().receive(kPeerB);
    ASSERT_TRUE(d.has_value()) << "only " << k << " of " << kPackets << " arrived";
    ASSERT_GE(d->payload.size(), 12u);
    const uint16_t seq = load_be16(&d->payload[2]);
    EXPECT_EQ(d->payload, rtp_packet(seq, 0x11111111));
    EXPECT_EQ(d->from.to_string(), h().relay(b_).to_string());
    order.push_back(seq);
  }
  expect_quiet(kPeerB);
  EXPECT_TRUE(h().wait_until([&] { return h().worker().tx_packets >= kPackets; }));
  EXPECT_EQ(h().worker().tx_packets, kPackets);
  EXPECT_EQ(h().flow(kA).packets, kPackets);
  expect_drops(h().worker(), {}, "worker");

  std::vector<uint16_t> sent(kPackets);
  for (uint16_t k = 0; k < kPackets; ++k) sent[k] = uint16_t(k + 1);
  std::string seen;
  for (uint16_t seq : order) seen += std::to_string(seq) + " ";
  EXPECT_EQ(order, sent) << "arrived: " << seen;
}

// 9. Datagrams over kMaxDatagram are dropped and counted as oversized,
// whatever the backend's buffers could hold (the io_uring loop dropped
// them uncounted, the epoll loop forwarded them cut short); one of exactly
// kMaxDatagram octets is relayed whole.
TEST_P(BackendConformance, DropsOversizedDatagramsAndRelaysTheLargestWhole) {
  ASSERT_NO_FATAL_FAILURE(call(h().peer(kPeerA), h().peer(kPeerB)));
  const auto largest = rtp_packet(1, 0x11111111, 0, kMaxDatagram - 12);
  ASSERT_EQ(largest.size(), kMaxDatagram);
  expect_relayed(kPeerA, a_, largest, kPeerB, b_);
  std::vector<size_t> sizes = {kMaxDatagram + 1u, 1900};
  if (h().largest_datagram() >= 4000) sizes.push_back(4000);
  for (size_t n : sizes) h().send(kPeerA, a_, rtp_packet(2, 0x11111111, 0, n - 12));
  EXPECT_TRUE(h().wait_until([&] { return drops(h().worker(), DropReason::kOversized) >= sizes.size(); }));
  expect_quiet(kPeerB);
  expect_drops(h().worker(), {{DropReason::kOversized, sizes.size()}}, "worker");
  expect_drops(h().flow(kA), {{DropReason::kOversized, sizes.size()}}, "flow A");
  EXPECT_EQ(h().flow(kA).packets, 1u);
  EXPECT_EQ(h().worker().tx_packets, 1u);
}

// 10. With a slow-path consumer (here the test: the ICE and DTLS thread
// later), STUN and DTLS on a flow's port go to it whatever their source
// (ICE authenticates with STUN, not by latching), and what it answers
// leaves from the port it names; neither counts as media.
TEST_P(BackendConformance, HandsStunAndDtlsToTheSlowPathAndSendsItsReplies) {
  ASSERT_NO_FATAL_FAILURE(restart_with_slow_path());
  ASSERT_NO_FATAL_FAILURE(call(h().peer(kPeerA), h().peer(kPeerB)));
  SlowPath* slow = h().dataplane().state(0).slow_path();
  ASSERT_NE(slow, nullptr);
  std::vector<uint8_t> stun = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42};  // binding request (RFC 8489)
  for (uint8_t i = 0; i < 12; ++i) stun.push_back(uint8_t(0xa0 + i));             // transaction id
  const std::vector<uint8_t> dtls = {22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xaa};  // handshake record
  h().send(kStranger, a_, stun);
  h().send(kPeerB, b_, dtls);

  struct Seen {
    LocalKey local;
    Endpoint source;
    FlowId flow;
    PacketKind kind;
    std::vector<uint8_t> bytes;
  };
  std::vector<Seen> seen;
  EXPECT_TRUE(h().wait_until([&] {
    while (const SlowPacket* p = slow->in.peek(0)) {
      seen.push_back({p->local, p->source, p->flow, p->kind, {p->data, p->data + p->len}});
      slow->in.consume(1);
    }
    return seen.size() >= 2;
  }));
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].local, a_);
  EXPECT_EQ(seen[0].source.to_string(), h().peer(kStranger).to_string());
  EXPECT_EQ(seen[0].flow, kA);
  EXPECT_EQ(seen[0].kind, PacketKind::kStun);
  EXPECT_EQ(seen[0].bytes, stun);
  EXPECT_EQ(seen[1].local, b_);
  EXPECT_EQ(seen[1].flow, kB);
  EXPECT_EQ(seen[1].kind, PacketKind::kDtls);
  EXPECT_EQ(seen[1].bytes, dtls);

  // The answer to the STUN request, from A's port to the stranger.
  std::vector<uint8_t> reply = stun;
  reply[0] = 0x01;  // binding success response
  SlowReply* r = slow->out.claim();
  ASSERT_NE(r, nullptr);
  r->from = a_;
  r->dest = seen[0].source;
  r->len = uint16_t(reply.size());
  std::memcpy(r->data, reply.data(), reply.size());
  slow->out.publish();
  h().dataplane().notify(0);
  expect_delivered(kStranger, a_, reply);

  const WorkerSnapshot w = h().worker();
  EXPECT_EQ(w.slow_path_in, 2u);
  EXPECT_EQ(w.slow_path_out, 1u);
  expect_drops(w, {}, "worker");
  EXPECT_EQ(h().flow(kA).packets, 0u);
  EXPECT_EQ(h().flow(kB).packets, 0u);
  expect_quiet(kPeerB);
}

// 11. A consumer that falls behind never stalls the worker: once its ring
// is full, further STUN is dropped and counted as slow-path-full, for the
// worker and the flow, and what fits waits in the ring whole.
TEST_P(BackendConformance, CountsSlowPathPacketsItsFullRingRefuses) {
  ASSERT_NO_FATAL_FAILURE(restart_with_slow_path());
  ASSERT_NO_FATAL_FAILURE(call(h().peer(kPeerA), h().peer(kPeerB)));
  SlowPath* slow = h().dataplane().state(0).slow_path();
  ASSERT_NE(slow, nullptr);
  constexpr uint32_t kExtra = 4;
  const uint32_t sent = uint32_t(SlowPath::kSlots) + kExtra;
  std::vector<uint8_t> stun = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42};
  stun.resize(20);
  // In bursts of 32, each taken before the next: a kernel socket buffer
  // must not be what drops them.
  for (uint32_t k = 0; k < sent; ++k) {
    store_be32(&stun[8], k);  // transaction id: the packet's number
    h().send(kPeerA, a_, stun);
    if (k % 32 != 31 && k + 1 != sent) continue;
    ASSERT_TRUE(h().wait_until([&] {
      const WorkerSnapshot w = h().worker();
      return w.slow_path_in + drops(w, DropReason::kSlowPathFull) >= k + 1;
    })) << "packet " << k << " not taken";
  }
  const WorkerSnapshot w = h().worker();
  EXPECT_EQ(w.slow_path_in, SlowPath::kSlots);
  expect_drops(w, {{DropReason::kSlowPathFull, kExtra}}, "worker");
  expect_drops(h().flow(kA), {{DropReason::kSlowPathFull, kExtra}}, "flow A");
  for (uint32_t k = 0; k < SlowPath::kSlots; ++k) {  // the first ones, whole and in order
    const SlowPacket* p = slow->in.peek(k);
    ASSERT_NE(p, nullptr) << "slot " << k;
    EXPECT_EQ(p->len, stun.size());
    EXPECT_EQ(load_be32(p->data + 8), k);
  }
  EXPECT_EQ(slow->in.peek(SlowPath::kSlots), nullptr);
}

}  // namespace vox::dataplane::conformance
