// CallManager on a fake dataplane: offer/answer wiring of flows and SDP,
// re-INVITE keeping ports, failures changing nothing, deletes, timeouts.
#include "control/call_manager.h"

#include <gtest/gtest.h>

#include <regex>

#include "call_fixture.h"

namespace vox::control {
namespace {

using dataplane::kFlowEnabled;
using testing::FakeDataplane;

std::string sdp(int port, const char* addr = "192.0.2.10", const char* extra = "") {
  return std::string("v=0\r\no=- 1 1 IN IP4 ") + addr + "\r\ns=-\r\nc=IN IP4 " + addr +
         "\r\nt=0 0\r\nm=audio " + std::to_string(port) +
         " RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n" + extra;
}

int sdp_port(const std::string& s) {
  std::smatch m;
  EXPECT_TRUE(std::regex_search(s, m, std::regex("m=audio (\\d+)")));
  return std::stoi(m[1]);
}

struct CallManagerTest : testing::CallFixture<2> {
  SignalRequest req(const std::string& body, const char* from = "A", const char* to = "") {
    SignalRequest r;
    r.call_id = "call-1";
    r.from_tag = from;
    r.to_tag = to;
    r.sdp = body;
    return r;
  }
};

TEST_F(CallManagerTest, OfferAnswerWiresFlowsBothWays) {
  auto off = cm->offer(req(sdp(4000)), now);
  ASSERT_TRUE(off.ok()) << off.error().message();
  EXPECT_NE(off->sdp.find("c=IN IP4 203.0.113.1"), std::string::npos);
  int port_b = sdp_port(off->sdp);
  EXPECT_NE(off->sdp.find("a=rtcp:" + std::to_string(port_b + 1)), std::string::npos);
  auto ans = cm->answer(req(sdp(5000, "198.51.100.7"), "A", "B"), now);
  ASSERT_TRUE(ans.ok()) << ans.error().message();
  int port_a = sdp_port(ans->sdp);
  EXPECT_NE(port_a, port_b);

  const Call* c = cm->find("call-1");
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->answered);
  const MediaSide& a = c->parties[0].media[0];
  const MediaSide& b = c->parties[1].media[0];
  EXPECT_EQ(a.rtp_port, port_a);
  EXPECT_EQ(b.rtp_port, port_b);
  const auto& w = plane.state(c->worker);
  const auto& fa = w.flow(a.rtp_flow).state;
  const auto& fb = w.flow(b.rtp_flow).state;
  EXPECT_EQ(fa.egress_rtp, b.rtp_flow);
  EXPECT_EQ(fa.egress_rtcp, b.rtcp_flow);
  EXPECT_EQ(fb.egress_rtp, a.rtp_flow);
  EXPECT_EQ(fa.sdp_source, *Endpoint::parse("192.0.2.10:4000"));
  EXPECT_EQ(fb.sdp_source, *Endpoint::parse("198.51.100.7:5000"));
  EXPECT_EQ(w.flow(b.rtcp_flow).state.sdp_source, *Endpoint::parse("198.51.100.7:5001"));
  EXPECT_TRUE(fa.flags & kFlowEnabled);
  EXPECT_EQ(plane.bound.size(), 4u);  // two port pairs
}

TEST_F(CallManagerTest, ReinviteKeepsPortsAndNewAddressResetsLatch) {
  auto off = cm->offer(req(sdp(4000)), now);
  ASSERT_TRUE(cm->answer(req(sdp(5000), "A", "B"), now).ok());
  auto again = cm->offer(req(sdp(4000)), now);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(sdp_port(again->sdp), sdp_port(off->sdp));
  // The callee re-invites from a new address: same ports, new SDP source.
  auto re = cm->offer(req(sdp(6000, "198.51.100.99"), "B", "A"), now);
  ASSERT_TRUE(re.ok()) << re.error().message();
  const Call* c = cm->find("call-1");
  EXPECT_EQ(c->parties[1].media[0].sdp_rtp, *Endpoint::parse("198.51.100.99:6000"));
  EXPECT_EQ(sdp_port(re->sdp), c->parties[0].media[0].rtp_port);
  EXPECT_EQ(plane.bound.size(), 4u);
}

TEST_F(CallManagerTest, FailuresChangeNothing) {
  SignalRequest bad = req("v=0\r\nthis is not sdp");
  EXPECT_FALSE(cm->offer(bad, now).ok());
  EXPECT_EQ(cm->size(), 0u);
  EXPECT_EQ(cm->answer(req(sdp(5000), "A", "B"), now).error().message(), "Unknown call-id");
  ASSERT_TRUE(cm->offer(req(sdp(4000)), now).ok());
  EXPECT_EQ(cm->answer(req(sdp(5000), "X", "B"), now).error().message(),
            "Call-ID not found or tags didn't match");
  EXPECT_EQ(cm->remove("nope", "", "", "", 0, now).error().message(), "Unknown call-id");
  EXPECT_EQ(cm->size(), 1u);
}

TEST_F(CallManagerTest, PortExhaustionIsAnErrorAndRollsBack) {
  config.port_max = 30007;  // 4 pairs over 2 workers: one call per worker
  cm = std::make_unique<CallManager>(config, plane);
  for (int i = 0; i < 2; ++i) {
    auto r = req(sdp(4000));
    r.call_id = "c" + std::to_string(i);
    ASSERT_TRUE(cm->offer(r, now).ok());
  }
  auto r = req(sdp(4000));
  r.call_id = "c-extra";
  auto res = cm->offer(r, now);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().message(), "Ran out of ports");
  EXPECT_EQ(cm->find("c-extra"), nullptr);
  EXPECT_EQ(plane.bound.size(), 8u);
  ASSERT_TRUE(cm->remove("c0", "", "", "", 0, now).ok());
  cm->tick(now);
  EXPECT_TRUE(cm->offer(r, now).ok());
}

TEST_F(CallManagerTest, PortsHeldByOthersAreSkipped) {
  for (uint16_t p = 30000; p < 30090; ++p) plane.busy_ports.insert(p);
  auto off = cm->offer(req(sdp(4000)), now);
  ASSERT_TRUE(off.ok()) << off.error().message();
  EXPECT_GE(sdp_port(off->sdp), 30090);
}

TEST_F(CallManagerTest, DeleteReleasesEverything) {
  ASSERT_TRUE(cm->offer(req(sdp(4000)), now).ok());
  ASSERT_TRUE(cm->answer(req(sdp(5000), "A", "B"), now).ok());
  size_t free_before = cm->free_port_pairs();
  ASSERT_TRUE(cm->remove("call-1", "A", "", "", 5, now).ok());
  EXPECT_TRUE(cm->active_calls(10).empty());
  EXPECT_NE(cm->find("call-1"), nullptr);  // kept for the delete delay
  EXPECT_EQ(cm->tick(now), 0u);
  auto later = now;
  later.mono_ns += 6'000'000'000;
  EXPECT_EQ(cm->tick(later), 1u);
  EXPECT_EQ(cm->find("call-1"), nullptr);
  EXPECT_EQ(cm->free_port_pairs(), free_before + 2);
  EXPECT_TRUE(plane.bound.empty());
}

TEST_F(CallManagerTest, TimeoutsEndCalls) {
  config.timeout_s = 10;
  config.offer_timeout_s = 30;
  cm = std::make_unique<CallManager>(config, plane);
  auto r1 = req(sdp(4000));
  ASSERT_TRUE(cm->offer(r1, now).ok());
  ASSERT_TRUE(cm->answer(req(sdp(5000), "A", "B"), now).ok());
  auto r2 = req(sdp(4000));
  r2.call_id = "ringing";
  ASSERT_TRUE(cm->offer(r2, now).ok());
  auto t = now;
  t.mono_ns += 11'000'000'000;
  EXPECT_EQ(cm->tick(t), 1u);  // the answered call had no media for 11 s
  EXPECT_EQ(cm->find("call-1"), nullptr);
  EXPECT_NE(cm->find("ringing"), nullptr);  // still ringing: offer timeout applies
  t.mono_ns += 20'000'000'000;
  EXPECT_EQ(cm->tick(t), 1u);
  EXPECT_EQ(cm->stats().calls_timed_out, 2u);
}

// The dataplane keeps no per-packet timestamp: the control plane tells
// media activity from the flows' packet counters moving between its looks
// (each tick, each query), so a call with media outlives --timeout and
// times out that long after its counters stop.
TEST_F(CallManagerTest, MediaActivityComesFromCountersMoving) {
  config.timeout_s = 10;
  cm = std::make_unique<CallManager>(config, plane);
  ASSERT_TRUE(cm->offer(req(sdp(4000)), now).ok());
  ASSERT_TRUE(cm->answer(req(sdp(5000), "A", "B"), now).ok());
  const Call* c = cm->find("call-1");
  ASSERT_NE(c, nullptr);
  const MediaSide& a = c->parties[0].media[0];
  auto& w = plane.state(c->worker);
  auto at = [&](int64_t s) {
    auto t = now;
    t.mono_ns += s * 1'000'000'000;
    return t;
  };
  EXPECT_EQ(cm->last_packet_ns(*c, a, false, at(1).mono_ns), 0);  // nothing yet
  // A's RTP counted by the worker between two looks: active at the look.
  w.flow(a.rtp_flow).fast.packets.store(50, std::memory_order_relaxed);
  EXPECT_EQ(cm->tick(at(8)), 0u);
  EXPECT_EQ(cm->last_packet_ns(*c, a, false, at(9).mono_ns), at(8).mono_ns);  // unchanged since
  EXPECT_EQ(cm->last_media_ns(*c, at(9).mono_ns), at(8).mono_ns);
  EXPECT_EQ(cm->tick(at(15)), 0u);  // 7 s after the last movement: alive
  w.flow(a.rtp_flow).fast.packets.store(100, std::memory_order_relaxed);
  EXPECT_EQ(cm->tick(at(17)), 0u);
  EXPECT_EQ(cm->tick(at(26)), 0u);  // 9 s of silence
  EXPECT_EQ(cm->tick(at(28)), 1u);  // 11 s: timed out
  EXPECT_EQ(cm->find("call-1"), nullptr);
}

TEST_F(CallManagerTest, MaxSessions) {
  config.max_sessions = 1;
  cm = std::make_unique<CallManager>(config, plane);
  ASSERT_TRUE(cm->offer(req(sdp(4000)), now).ok());
  auto r = req(sdp(4000));
  r.call_id = "second";
  EXPECT_EQ(cm->offer(r, now).error().message(), "Parallel session limit reached");
  EXPECT_EQ(cm->offer(r, now).error().code, NgErrc::kSessionLimit);  // what "load limit" tests
}

TEST_F(CallManagerTest, RtcpMuxNegotiation) {
  auto off = cm->offer(req(sdp(4000, "192.0.2.10", "a=rtcp-mux\r\n")), now);
  ASSERT_TRUE(off.ok());
  EXPECT_NE(off->sdp.find("a=rtcp-mux"), std::string::npos);  // offered on to B
  auto ans = cm->answer(req(sdp(5000, "198.51.100.7", "a=rtcp-mux\r\n"), "A", "B"), now);
  ASSERT_TRUE(ans.ok());
  EXPECT_NE(ans->sdp.find("a=rtcp-mux"), std::string::npos);  // accepted toward A
  EXPECT_NE(ans->sdp.find("a=rtcp:" + std::to_string(sdp_port(ans->sdp)) + "\r\n"),
            std::string::npos);  // RFC 5761: a=rtcp is the RTP port once muxed
  const Call* c = cm->find("call-1");
  const auto& w = plane.state(c->worker);
  const MediaSide& a = c->parties[0].media[0];
  const MediaSide& b = c->parties[1].media[0];
  EXPECT_TRUE(a.uses_mux && b.uses_mux);
  EXPECT_EQ(w.flow(a.rtp_flow).state.egress_rtcp, b.rtp_flow);  // RTCP stays muxed

  // B declines mux: A's muxed RTCP is demultiplexed to B's RTCP port.
  auto r = req(sdp(4000, "192.0.2.10", "a=rtcp-mux\r\n"));
  r.call_id = "call-2";
  ASSERT_TRUE(cm->offer(r, now).ok());
  auto a2 = req(sdp(5000), "A", "B");
  a2.call_id = "call-2";
  auto ans2 = cm->answer(a2, now);
  ASSERT_TRUE(ans2.ok());
  EXPECT_EQ(ans2->sdp.find("a=rtcp-mux"), std::string::npos);
  const Call* c2 = cm->find("call-2");
  const MediaSide& b2 = c2->parties[1].media[0];
  EXPECT_EQ(plane.state(c2->worker).flow(c2->parties[0].media[0].rtp_flow).state.egress_rtcp,
            b2.rtcp_flow);
}

// rtcp-mux "reject" (rtpengine): no mux toward the offerer, while the
// recipient is still offered it; A's RTCP then goes to B's RTP port muxed.
TEST_F(CallManagerTest, RtcpMuxRejectIsAboutTheOfferer) {
  SignalRequest o = req(sdp(4000, "192.0.2.10", "a=rtcp-mux\r\n"));
  o.rtcp_mux_reject = true;
  auto off = cm->offer(o, now);
  ASSERT_TRUE(off.ok());
  EXPECT_NE(off->sdp.find("a=rtcp-mux"), std::string::npos) << off->sdp;
  auto ans = cm->answer(req(sdp(5000, "198.51.100.7", "a=rtcp-mux\r\n"), "A", "B"), now);
  ASSERT_TRUE(ans.ok());
  EXPECT_EQ(ans->sdp.find("a=rtcp-mux"), std::string::npos) << ans->sdp;
  const Call* c = cm->find("call-1");
  EXPECT_FALSE(c->parties[0].media[0].uses_mux);
  EXPECT_TRUE(c->parties[1].media[0].uses_mux);
  EXPECT_EQ(plane.state(c->worker).flow(c->parties[0].media[0].rtcp_flow).state.egress_rtcp,
            c->parties[1].media[0].rtp_flow);
}

// replace: zero-address (rtpengine): a c=0.0.0.0 becomes the relay's
// address instead of staying a hold.
TEST_F(CallManagerTest, ReplaceZeroAddress) {
  auto hold = cm->offer(req(sdp(4000, "0.0.0.0")), now);
  ASSERT_TRUE(hold.ok());
  EXPECT_NE(hold->sdp.find("c=IN IP4 0.0.0.0"), std::string::npos) << hold->sdp;
  SignalRequest r = req(sdp(4000, "0.0.0.0"));
  r.replace_zero_address = true;
  auto replaced = cm->offer(r, now);
  ASSERT_TRUE(replaced.ok());
  EXPECT_EQ(replaced->sdp.find("c=IN IP4 0.0.0.0"), std::string::npos) << replaced->sdp;
  EXPECT_NE(replaced->sdp.find("c=IN IP4 203.0.113.1"), std::string::npos) << replaced->sdp;
}

// "media address" is written into the SDP sent on, in place of the relay's
// own address (rtpengine 10.5); media still goes to the party's SDP address.
TEST_F(CallManagerTest, MediaAddressGoesIntoTheSdpSent) {
  SignalRequest r = req(sdp(4000));
  r.media_address = IpAddr::parse("198.51.100.50");
  auto off = cm->offer(r, now);
  ASSERT_TRUE(off.ok());
  EXPECT_NE(off->sdp.find("c=IN IP4 198.51.100.50"), std::string::npos) << off->sdp;
  EXPECT_EQ(off->sdp.find("203.0.113.1"), std::string::npos) << off->sdp;
  EXPECT_EQ(cm->find("call-1")->parties[0].media[0].sdp_rtp, *Endpoint::parse("192.0.2.10:4000"));
}

// "label" names the party that sent the SDP: the callee in an answer.
TEST_F(CallManagerTest, LabelInAnAnswerLabelsTheCallee) {
  SignalRequest o = req(sdp(4000));
  o.label = "caller";
  ASSERT_TRUE(cm->offer(o, now).ok());
  SignalRequest a = req(sdp(5000), "A", "B");
  a.label = "callee";
  ASSERT_TRUE(cm->answer(a, now).ok());
  const Call* c = cm->find("call-1");
  EXPECT_EQ(c->parties[0].label, "caller");
  EXPECT_EQ(c->parties[1].label, "callee");
}

// a=rtcp (RFC 3605) is about RTP: a T.38 (udptl) stream gets none.
TEST_F(CallManagerTest, NoRtcpAttributeOnNonRtpStreams) {
  const std::string body = sdp(4000) + "m=image 4002 udptl t38\r\na=T38FaxVersion:0\r\n";
  auto off = cm->offer(req(body), now);
  ASSERT_TRUE(off.ok()) << off.error().message();
  const std::string image = off->sdp.substr(off->sdp.find("m=image"));
  const std::string audio = off->sdp.substr(0, off->sdp.find("m=image"));
  EXPECT_EQ(image.find("a=rtcp"), std::string::npos) << off->sdp;
  EXPECT_NE(audio.find("a=rtcp:"), std::string::npos) << off->sdp;
}

// single-codec in the answer works without any codec option in the
// offer: the caller is answered the callee's first codec (and events).
TEST_F(CallManagerTest, SingleCodecInTheAnswerAlone) {
  const std::string g711 =
      "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
      "m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n";
  auto off = cm->offer(req(g711), now);
  ASSERT_TRUE(off.ok());
  EXPECT_NE(off->sdp.find(" RTP/AVP 0 8 101\r\n"), std::string::npos) << off->sdp;
  SignalRequest a = req(g711, "A", "B");
  a.codec.single_codec = true;
  auto ans = cm->answer(a, now);
  ASSERT_TRUE(ans.ok()) << ans.error().message();
  EXPECT_NE(ans->sdp.find(" RTP/AVP 0 101\r\n"), std::string::npos) << ans->sdp;
  // Without it the answer's list is passed on as it is.
  auto plain = cm->answer(req(g711, "A", "B"), now);
  ASSERT_TRUE(plain.ok());
  EXPECT_NE(plain->sdp.find(" RTP/AVP 0 8 101\r\n"), std::string::npos) << plain->sdp;
}

// RFC 5888 §9.1: an answer carries a=mid only for an offered one, so the
// callee's a=mid (say a browser answering a generate-mid offer) does not
// reach a caller that sent none; an offered mid is answered.
TEST_F(CallManagerTest, AnswerMidOnlyForAnOfferedOne) {
  ASSERT_TRUE(cm->offer(req(sdp(4000)), now).ok());
  auto ans = cm->answer(req(sdp(5000, "198.51.100.7", "a=mid:0\r\n"), "A", "B"), now);
  ASSERT_TRUE(ans.ok());
  EXPECT_EQ(ans->sdp.find("a=mid"), std::string::npos) << ans->sdp;
  ASSERT_TRUE(cm->offer(req(sdp(4000, "192.0.2.10", "a=mid:audio\r\n")), now).ok());
  ans = cm->answer(req(sdp(5000, "198.51.100.7", "a=mid:audio\r\n"), "A", "B"), now);
  ASSERT_TRUE(ans.ok());
  EXPECT_NE(ans->sdp.find("a=mid:audio"), std::string::npos) << ans->sdp;
}

// "m=audio P/2": one port pair per stream (ports are steered to workers by
// pair), said in the SDP sent on and in a warning, both ways.
TEST_F(CallManagerTest, PortCountIsOnePairWithAWarning) {
  std::string body = sdp(4000);
  body.replace(body.find("m=audio 4000"), 12, "m=audio 4000/2");
  auto off = cm->offer(req(body), now);
  ASSERT_TRUE(off.ok()) << off.error().message();
  EXPECT_EQ(off->sdp.find("/2 RTP"), std::string::npos) << off->sdp;
  EXPECT_EQ(off->warning, "m= line 1: 2 ports: only the first port pair is relayed");
  std::string answer_body = sdp(5000);
  answer_body.replace(answer_body.find("m=audio 5000"), 12, "m=audio 5000/2");
  auto ans = cm->answer(req(answer_body, "A", "B"), now);
  ASSERT_TRUE(ans.ok());
  EXPECT_EQ(ans->sdp.find("/2 RTP"), std::string::npos) << ans->sdp;
  EXPECT_EQ(ans->warning, off->warning);
  EXPECT_EQ(plane.bound.size(), 4u);
  EXPECT_TRUE(cm->offer(req(sdp(4000)), now)->warning.empty());
}

// NG "TOS" (rtpengine's rule): a value marks every port of the call, a
// negative one leaves it, none (or 256 and over) takes it back to --tos.
TEST_F(CallManagerTest, TosMarksEveryPortOfTheCall) {
  SignalRequest o = req(sdp(4000));
  o.tos = 184;
  ASSERT_TRUE(cm->offer(o, now).ok());
  EXPECT_EQ(plane.tos.size(), 4u);  // both parties' pairs
  SignalRequest keep = req(sdp(5000), "A", "B");
  keep.tos = SignalRequest::kTosKeep;
  ASSERT_TRUE(cm->answer(keep, now).ok());
  ASSERT_EQ(plane.tos.size(), 4u);
  for (const auto& [key, tos] : plane.tos) EXPECT_EQ(tos, 184) << key;
  SignalRequest zero = req(sdp(5000), "A", "B");
  zero.tos = 0;  // unmarked on purpose, whatever --tos says
  ASSERT_TRUE(cm->answer(zero, now).ok());
  ASSERT_EQ(plane.tos.size(), 4u);
  for (const auto& [key, tos] : plane.tos) EXPECT_EQ(tos, 0) << key;
  ASSERT_TRUE(cm->answer(req(sdp(5000), "A", "B"), now).ok());  // no TOS: back to --tos
  EXPECT_TRUE(plane.tos.empty());
  EXPECT_FALSE(cm->find("call-1")->tos);
}

// replace "SDP-version": the o= version the relay sends a party goes up
// when what it sends changed, and only then.
TEST_F(CallManagerTest, ReplaceSdpVersionCountsChanges) {
  const auto version = [](const std::string& s) {
    std::smatch m;
    EXPECT_TRUE(std::regex_search(s, m, std::regex("o=- 1 (\\d+) IN")));
    return m.empty() ? std::string() : std::string(m[1]);
  };
  const auto offer = [&](const std::string& body) {
    SignalRequest r = req(body);
    r.replace_sdp_version = true;
    auto o = cm->offer(r, now);
    EXPECT_TRUE(o.ok());
    return o.ok() ? version(o->sdp) : std::string();
  };
  EXPECT_EQ(offer(sdp(4000)), "1");
  EXPECT_EQ(offer(sdp(4000)), "1");  // the same SDP again
  std::string bumped = sdp(4000);
  bumped.replace(bumped.find("o=- 1 1"), 7, "o=- 1 7");
  EXPECT_EQ(offer(bumped), "1");  // the sender's version moved, the SDP sent did not
  EXPECT_EQ(offer(sdp(4000, "192.0.2.10", "a=sendonly\r\n")), "2");  // changed
  EXPECT_EQ(offer(sdp(4000, "192.0.2.10", "a=sendonly\r\n")), "2");
  EXPECT_EQ(version(cm->offer(req(sdp(4000)), now)->sdp), "1");  // without the flag: the sender's
}

TEST_F(CallManagerTest, RejectedStreamGetsNoPorts) {
  std::string body = sdp(4000) + "m=video 0 RTP/AVP 96\r\n";
  auto off = cm->offer(req(body), now);
  ASSERT_TRUE(off.ok()) << off.error().message();
  EXPECT_NE(off->sdp.find("m=video 0 "), std::string::npos);
  const Call* c = cm->find("call-1");
  EXPECT_EQ(c->parties[0].media[1].rtp_port, 0);
  EXPECT_EQ(plane.bound.size(), 4u);
}

}  // namespace
}  // namespace vox::control
