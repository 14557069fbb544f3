// WebRTC legs at offer/answer through the NG layer on a fake dataplane: a
// Chromium offer toward a plain SIP trunk and a trunk's offer toward a
// browser (the SDP each party sees, the ICE and DTLS state each MediaSide
// gets), BUNDLE, and the flows a DTLS or ICE side's state allows.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <iostream>
#include <regex>
#include <sstream>

#include "control/call_manager.h"
#include "control/ng_commands.h"
#include "control/webrtc/leg.h"
#include "control/webrtc_sdp.h"
#include "call_fixture.h"
#include "tests/dataplane/srtp_test_util.h"

namespace vox::control {

// What the WebRTC handshake will do once a side connects or is nominated.
struct CallManagerTestPeer {
  static void install_flows(CallManager& cm, Call& c, int64_t now_ns) { cm.install_flows(c, now_ns); }
};

namespace {

constexpr const char* kRelayFingerprint =
    "sha-256 0F:1E:2D:3C:4B:5A:69:78:87:96:A5:B4:C3:D2:E1:F0:0F:1E:2D:3C:4B:5A:69:78:87:96:A5:B4:"
    "C3:D2:E1:F0";
constexpr const char* kChromeFingerprint =
    "sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:"
    "2C:19:08";

std::string data(const char* name) {
  std::ifstream f(std::string(VOX_TEST_DATA) + "/sdp/" + name, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The lines of an SDP (CRLF or LF).
std::vector<std::string> lines(const std::string& sdp) {
  std::vector<std::string> out;
  std::istringstream in(sdp);
  for (std::string l; std::getline(in, l);) {
    if (!l.empty() && l.back() == '\r') l.pop_back();
    if (!l.empty()) out.push_back(l);
  }
  return out;
}
bool has_line(const std::string& sdp, const std::string& line) {
  for (const auto& l : lines(sdp))
    if (l == line) return true;
  return false;
}
size_t count_prefix(const std::string& sdp, const std::string& prefix) {
  size_t n = 0;
  for (const auto& l : lines(sdp)) n += l.rfind(prefix, 0) == 0;
  return n;
}
// The lines of media section `index` (from its m= line on).
std::vector<std::string> section(const std::string& sdp, size_t index) {
  std::vector<std::string> out;
  size_t m = 0;
  for (const auto& l : lines(sdp)) {
    if (l.rfind("m=", 0) == 0) ++m;
    if (m == index + 1) out.push_back(l);
  }
  return out;
}
std::string m_line(const std::string& sdp, size_t index) {
  auto s = section(sdp, index);
  return s.empty() ? "" : s[0];
}

NgValue strings(std::initializer_list<const char*> items) {
  NgValue l = NgValue::list();
  for (const char* s : items) l.push(NgValue::str(s));
  return l;
}

const char* kTrunkAnswer =
    "v=0\r\no=kam 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
    "m=audio 6000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n";

struct CallWebrtcTest : testing::CallFixture<1> {
  void SetUp() override {
    CallFixture::SetUp();
    config.dtls_fingerprint = kRelayFingerprint;
  }
  NgValue request(const char* command, const std::string& body, const char* from, const char* to,
                  std::vector<std::pair<const char*, NgValue>> extra) {
    NgValue d = NgValue::dict();
    d.set("command", command);
    d.set("call-id", "call-1");
    d.set("from-tag", from);
    if (*to) d.set("to-tag", to);
    d.set("sdp", body);
    for (auto& [k, v] : extra) d.set(k, std::move(v));
    NgContext ctx{*cm, now, *Endpoint::parse("127.0.0.1:5060")};
    return handle_ng_request(d, ctx);
  }
  std::string ok_sdp(const NgValue& reply) {
    EXPECT_EQ(reply.find_string("result"), "ok") << reply.find_string("error-reason").value_or("");
    return std::string(reply.find_string("sdp").value_or(""));
  }
  std::string offer(const std::string& body, std::vector<std::pair<const char*, NgValue>> extra,
                    const char* from = "A") {
    return ok_sdp(request("offer", body, from, "", std::move(extra)));
  }
  std::string answer(const std::string& body, std::vector<std::pair<const char*, NgValue>> extra,
                     const char* from = "A", const char* to = "B") {
    return ok_sdp(request("answer", body, from, to, std::move(extra)));
  }
  const MediaSide& side(int party, size_t index = 0) {
    return cm->find("call-1")->parties[party].media[index];
  }
  Call& call() { return const_cast<Call&>(*cm->find("call-1")); }
  const dataplane::FlowState& flow(FlowId id) { return plane.state(0).flow(id).state; }
  bool enabled(FlowId id) { return flow(id).flags & dataplane::kFlowEnabled; }

  // A browser's a=setup:active answer to the relay's offer.
  std::string browser_answer(const std::string& setup) {
    return "v=0\r\no=- 55 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
           "m=audio 50000 UDP/TLS/RTP/SAVPF 0 101\r\nc=IN IP4 198.51.100.30\r\n"
           "a=candidate:1 1 udp 2122260223 198.51.100.30 50000 typ host\r\n"
           "a=ice-ufrag:BrWs\r\na=ice-pwd:browserpasswordbrowser12\r\n"
           "a=fingerprint:sha-256 AA:BB:CC\r\na=setup:" + setup + "\r\na=mid:0\r\n"
           "a=rtcp-mux\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
  }
};

const std::vector<std::pair<const char*, NgValue>> browser_to_trunk() {
  return {{"flags", strings({"trust-address", "replace-origin", "replace-session-connection",
                             "ICE=remove", "RTP/AVP", "rtcp-mux-demux", "strip-extmap"})}};
}

// ---- browser -> trunk ---------------------------------------------------------

TEST_F(CallWebrtcTest, BrowserOfferReachesTheTrunkAsPlainRtpWithNothingOfTheBrowsers) {
  const std::string to_b = offer(data("chromium_audio_offer.sdp"), browser_to_trunk());
  const MediaSide& b = side(1);
  EXPECT_EQ(m_line(to_b, 0), "m=audio " + std::to_string(b.rtp_port) + " RTP/AVP 111 63 9 0 8 13 110 126");
  for (const char* gone : {"a=candidate", "a=ice-", "a=end-of-candidates", "a=fingerprint",
                           "a=setup", "a=rtcp-fb", "a=rtcp-rsize", "a=extmap:", "a=rtcp-mux",
                           "a=group:BUNDLE", "a=crypto"})
    EXPECT_EQ(count_prefix(to_b, gone), 0u) << gone << "\n" << to_b;
  EXPECT_TRUE(has_line(to_b, "c=IN IP4 203.0.113.1")) << to_b;
  EXPECT_TRUE(has_line(to_b, "a=rtcp:" + std::to_string(b.rtp_port + 1))) << to_b;
  EXPECT_TRUE(has_line(to_b, "a=rtpmap:111 opus/48000/2"));
  EXPECT_TRUE(has_line(to_b, "a=mid:0"));  // may stay
  EXPECT_EQ(to_b.find("192.168.1.23"), std::string::npos);  // no browser candidate

  // The browser's side: DTLS and ICE terminated by the relay.
  const MediaSide& a = side(0);
  EXPECT_TRUE(a.dtls.enabled);
  EXPECT_EQ(a.dtls.remote_fingerprint, kChromeFingerprint);
  EXPECT_EQ(a.dtls.remote_setup, "actpass");
  EXPECT_FALSE(a.dtls.connected);
  EXPECT_TRUE(a.ice.enabled);
  EXPECT_EQ(a.ice.remote_ufrag, "Wq4T");
  EXPECT_EQ(a.ice.remote_pwd, "1PqYz7gZa0Q8rXWmX4nP3kB9");
  EXPECT_EQ(a.ice.local_ufrag.size(), kIceUfragChars);
  EXPECT_EQ(a.ice.local_pwd.size(), kIcePwdChars);
  EXPECT_TRUE(is_ice_chars(a.ice.local_ufrag) && is_ice_chars(a.ice.local_pwd));
  EXPECT_FALSE(b.dtls.enabled);
  EXPECT_FALSE(b.ice.enabled);
  EXPECT_FALSE(b.relay_sent_dtls);
  EXPECT_FALSE(b.relay_sent_ice);
}

TEST_F(CallWebrtcTest, TrunkAnswerReachesTheBrowserAsDtlsIceLiteFromTheRelay) {
  offer(data("chromium_audio_offer.sdp"), browser_to_trunk());
  const std::string to_a = answer(kTrunkAnswer, {});
  if (getenv("VOX_DUMP_SDP")) std::cerr << to_a;
  const MediaSide& a = side(0);
  const std::string port = std::to_string(a.rtp_port);
  EXPECT_EQ(m_line(to_a, 0), "m=audio " + port + " UDP/TLS/RTP/SAVPF 0 101");
  EXPECT_TRUE(has_line(to_a, "a=ice-lite")) << to_a;
  EXPECT_TRUE(has_line(to_a, std::string("a=fingerprint:") + kRelayFingerprint)) << to_a;
  EXPECT_TRUE(has_line(to_a, "a=setup:active")) << to_a;
  EXPECT_TRUE(has_line(to_a, "a=ice-ufrag:" + a.ice.local_ufrag));
  EXPECT_TRUE(has_line(to_a, "a=ice-pwd:" + a.ice.local_pwd));
  EXPECT_EQ(count_prefix(to_a, "a=candidate:"), 1u) << to_a;  // muxed: component 1 only
  const std::regex cand("a=candidate:\\d+ 1 udp 2130706431 203\\.0\\.113\\.1 " + port + " typ host");
  bool found = false;
  for (const auto& l : lines(to_a)) found |= std::regex_match(l, cand);
  EXPECT_TRUE(found) << to_a;
  EXPECT_TRUE(has_line(to_a, "a=end-of-candidates"));
  EXPECT_TRUE(has_line(to_a, "a=rtcp-mux"));
  EXPECT_TRUE(has_line(to_a, "a=rtcp:" + port));
  EXPECT_TRUE(has_line(to_a, "a=mid:0"));             // the browser's mid, back
  EXPECT_TRUE(has_line(to_a, "a=group:BUNDLE 0"));    // and its group
  EXPECT_EQ(count_prefix(to_a, "a=crypto"), 0u);
  EXPECT_TRUE(a.uses_mux);
  EXPECT_TRUE(a.dtls.relay_active);
  EXPECT_TRUE(a.relay_sent_dtls && a.relay_sent_ice);
  EXPECT_TRUE(a.ice.enabled);
  // The trunk's side stays plain (its RTCP demuxed).
  EXPECT_FALSE(side(1).uses_mux);
  EXPECT_FALSE(side(1).dtls.enabled);
}

TEST_F(CallWebrtcTest, PassiveRoleFromConfigOrFlags) {
  config.dtls_passive = true;
  offer(data("chromium_audio_offer.sdp"), browser_to_trunk());
  EXPECT_TRUE(has_line(answer(kTrunkAnswer, {}), "a=setup:passive"));
  EXPECT_FALSE(side(0).dtls.relay_active);
  // DTLS=active in the answer reverts --dtls-passive.
  offer(data("chromium_audio_offer.sdp"), browser_to_trunk());
  EXPECT_TRUE(has_line(answer(kTrunkAnswer, {{"DTLS", NgValue::str("active")}}), "a=setup:active"));
  // DTLS-reverse=passive in the offer: passive toward the offerer.
  config.dtls_passive = false;
  auto flags = browser_to_trunk();
  flags.push_back({"DTLS-reverse", NgValue::str("passive")});
  offer(data("chromium_audio_offer.sdp"), flags);
  EXPECT_TRUE(has_line(answer(kTrunkAnswer, {}), "a=setup:passive"));
}

TEST_F(CallWebrtcTest, OffererSetupDecidesTheRelaysRole) {
  std::string active = data("chromium_audio_offer.sdp");
  active.replace(active.find("a=setup:actpass"), 15, "a=setup:active");
  offer(active, browser_to_trunk());
  EXPECT_TRUE(has_line(answer(kTrunkAnswer, {}), "a=setup:passive"));
  std::string passive = data("chromium_audio_offer.sdp");
  passive.replace(passive.find("a=setup:actpass"), 15, "a=setup:passive");
  config.dtls_passive = true;  // the offer leaves no choice
  offer(passive, browser_to_trunk());
  EXPECT_TRUE(has_line(answer(kTrunkAnswer, {}), "a=setup:active"));
}

// ---- trunk -> browser -----------------------------------------------------------

const std::vector<std::pair<const char*, NgValue>> trunk_to_browser() {
  return {{"flags", strings({"ICE=force", "UDP/TLS/RTP/SAVPF", "rtcp-mux-offer", "generate-mid",
                             "SDES-off"})}};
}

TEST_F(CallWebrtcTest, TrunkOfferReachesTheBrowserWithTheRelaysDtlsAndIce) {
  const std::string to_b = offer(data("kamailio_pcmu_pcma_te.in.sdp"), trunk_to_browser());
  if (getenv("VOX_DUMP_SDP")) std::cerr << to_b;
  const MediaSide& b = side(1);
  const std::string port = std::to_string(b.rtp_port);
  EXPECT_EQ(m_line(to_b, 0), "m=audio " + port + " UDP/TLS/RTP/SAVPF 0 8 101");
  EXPECT_TRUE(has_line(to_b, "a=setup:actpass")) << to_b;
  EXPECT_TRUE(has_line(to_b, std::string("a=fingerprint:") + kRelayFingerprint));
  EXPECT_TRUE(has_line(to_b, "a=ice-lite"));
  EXPECT_TRUE(has_line(to_b, "a=ice-ufrag:" + b.ice.local_ufrag));
  EXPECT_TRUE(has_line(to_b, "a=ice-pwd:" + b.ice.local_pwd));
  EXPECT_TRUE(has_line(to_b, "a=mid:0"));
  EXPECT_TRUE(has_line(to_b, "a=rtcp-mux"));
  EXPECT_EQ(count_prefix(to_b, "a=crypto"), 0u);
  // An offer keeps the RTCP port as a fallback: a component 2 candidate too.
  EXPECT_EQ(count_prefix(to_b, "a=candidate:"), 2u) << to_b;
  EXPECT_NE(to_b.find(" 2 udp 2130706430 203.0.113.1 " + std::to_string(b.rtp_port + 1) +
                      " typ host"),
            std::string::npos);
  EXPECT_TRUE(b.ice.enabled);  // answers checks with its own credentials from now on
  EXPECT_TRUE(b.ice.remote_ufrag.empty());
  EXPECT_FALSE(b.dtls.enabled);  // the browser's fingerprint comes with its answer
  EXPECT_TRUE(b.relay_sent_dtls);

  const std::string to_a = answer(browser_answer("active"), {});
  EXPECT_TRUE(side(1).dtls.enabled);
  EXPECT_FALSE(side(1).dtls.relay_active);  // the browser is active: the relay passive
  EXPECT_EQ(side(1).dtls.remote_fingerprint, "sha-256 AA:BB:CC");
  EXPECT_EQ(side(1).dtls.remote_setup, "active");
  EXPECT_EQ(side(1).ice.remote_ufrag, "BrWs");
  EXPECT_EQ(side(1).ice.remote_pwd, "browserpasswordbrowser12");
  EXPECT_TRUE(side(1).uses_mux);
  // The trunk sees plain RTP/AVP, nothing of the browser's.
  EXPECT_EQ(m_line(to_a, 0), "m=audio " + std::to_string(side(0).rtp_port) + " RTP/AVP 0 101");
  for (const char* gone : {"a=candidate", "a=ice-", "a=fingerprint", "a=setup", "a=group",
                           "a=rtcp-mux", "a=end-of-candidates"})
    EXPECT_EQ(count_prefix(to_a, gone), 0u) << gone << "\n" << to_a;
}

TEST_F(CallWebrtcTest, BrowserAnsweringPassiveMakesTheRelayActive) {
  offer(data("kamailio_pcmu_pcma_te.in.sdp"), trunk_to_browser());
  answer(browser_answer("passive"), {});
  EXPECT_TRUE(side(1).dtls.relay_active);
}

TEST_F(CallWebrtcTest, RtcpMuxRequireAdvertisesNoRtcpPort) {
  auto flags = trunk_to_browser();
  flags.push_back({"rtcp-mux", strings({"require"})});
  const std::string to_b = offer(data("kamailio_pcmu_pcma_te.in.sdp"), flags);
  EXPECT_TRUE(has_line(to_b, "a=rtcp:" + std::to_string(side(1).rtp_port))) << to_b;
  EXPECT_EQ(count_prefix(to_b, "a=candidate:"), 1u);
}

TEST_F(CallWebrtcTest, IceDefaultFollowsTheSendersSdp) {
  // A browser offer with ICE: ICE toward the other side too (rtpengine's default).
  const std::string to_b = offer(data("chromium_audio_offer.sdp"), {});
  EXPECT_TRUE(has_line(to_b, "a=ice-lite"));
  EXPECT_NE(m_line(to_b, 0).find(" UDP/TLS/RTP/SAVPF "), std::string::npos) << to_b;
  EXPECT_TRUE(has_line(to_b, std::string("a=fingerprint:") + kRelayFingerprint));
  EXPECT_EQ(to_b.find("Wq4T"), std::string::npos);  // the browser's credentials stay with it
  EXPECT_EQ(to_b.find(kChromeFingerprint + 8), std::string::npos);
  EXPECT_TRUE(side(1).relay_sent_ice && side(1).relay_sent_dtls);
}

TEST_F(CallWebrtcTest, PlainOfferGetsNoIceByDefaultAndNoneWithRemove) {
  const std::string to_b = offer(data("kamailio_pcmu_pcma_te.in.sdp"), {});
  EXPECT_EQ(count_prefix(to_b, "a=ice-"), 0u);
  EXPECT_EQ(count_prefix(to_b, "a=candidate"), 0u);
  EXPECT_FALSE(side(1).ice.enabled);
  // ICE=remove toward a party offered DTLS: DTLS without ICE.
  ASSERT_TRUE(cm->remove("call-1", "", "", "", 0, now).ok());
  cm->tick(now);
  const std::string removed =
      offer(data("chromium_audio_offer.sdp"), {{"ICE", NgValue::str("remove")}});
  EXPECT_EQ(count_prefix(removed, "a=ice-"), 0u) << removed;
  EXPECT_EQ(count_prefix(removed, "a=candidate"), 0u);
  EXPECT_TRUE(has_line(removed, "a=setup:actpass"));
  EXPECT_FALSE(side(1).ice.enabled);
  EXPECT_TRUE(side(0).ice.enabled);  // the offerer's ICE is its own business
}

TEST_F(CallWebrtcTest, CredentialsStayAcrossReoffersAndRestartWithTheParty) {
  offer(data("chromium_audio_offer.sdp"), browser_to_trunk());
  answer(kTrunkAnswer, {});
  const IceSide first = side(0).ice;
  call().parties[0].media[0].dtls.connected = true;
  offer(data("chromium_audio_offer.sdp"), browser_to_trunk());
  EXPECT_EQ(side(0).ice.local_ufrag, first.local_ufrag);
  EXPECT_EQ(side(0).ice.local_pwd, first.local_pwd);
  EXPECT_TRUE(side(0).dtls.connected);  // same fingerprint: no new handshake
  // The browser restarts ICE and changes its certificate.
  std::string restarted = data("chromium_audio_offer.sdp");
  restarted.replace(restarted.find("a=ice-ufrag:Wq4T"), 16, "a=ice-ufrag:Zz9Y");
  restarted.replace(restarted.find("7B:8B"), 5, "7B:8C");
  offer(restarted, browser_to_trunk());
  EXPECT_EQ(side(0).ice.remote_ufrag, "Zz9Y");
  EXPECT_NE(side(0).ice.local_ufrag, first.local_ufrag);
  EXPECT_NE(side(0).ice.local_pwd, first.local_pwd);
  EXPECT_FALSE(side(0).dtls.connected);
  EXPECT_NE(side(0).dtls.remote_fingerprint.find("7B:8C"), std::string::npos);
}

// ---- BUNDLE ---------------------------------------------------------------------------

TEST_F(CallWebrtcTest, BundledVideoIsRejectedTowardTheTrunkAndInTheAnswer) {
  const std::string to_b = offer(data("chromium_audio_video_bundle_offer.sdp"), browser_to_trunk());
  EXPECT_EQ(m_line(to_b, 0).rfind("m=audio " + std::to_string(side(1, 0).rtp_port) + " RTP/AVP ", 0),
            0u) << to_b;
  EXPECT_EQ(m_line(to_b, 1).rfind("m=video 0 RTP/AVP ", 0), 0u) << to_b;
  EXPECT_EQ(side(0, 1).rtp_port, 0);  // no ports for it
  EXPECT_EQ(count_prefix(to_b, "a=group"), 0u);
  // The trunk answers with video rejected; the browser gets the same.
  const std::string trunk =
      std::string(kTrunkAnswer) + "m=video 0 RTP/AVP 96\r\n";
  const std::string to_a = answer(trunk, {});
  EXPECT_EQ(m_line(to_a, 0).rfind("m=audio " + std::to_string(side(0, 0).rtp_port) +
                                      " UDP/TLS/RTP/SAVPF ", 0),
            0u) << to_a;
  EXPECT_EQ(m_line(to_a, 1).rfind("m=video 0 UDP/TLS/RTP/SAVPF", 0), 0u) << to_a;
  EXPECT_TRUE(has_line(to_a, "a=group:BUNDLE 0")) << to_a;
  EXPECT_TRUE(side(0, 0).dtls.enabled);
  EXPECT_FALSE(side(0, 1).dtls.enabled);
  // Audio flows once DTLS is up.
  call().parties[0].media[0].dtls.connected = true;
  CallManagerTestPeer::install_flows(*cm, call(), now.mono_ns);
  EXPECT_TRUE(enabled(side(0, 0).rtp_flow));
  EXPECT_TRUE(enabled(side(1, 0).rtp_flow));
}

TEST_F(CallWebrtcTest, AudioOnlyBundleKeepsGroupTowardWebrtcAndDropsItTowardTrunk) {
  const std::string to_trunk = offer(data("chromium_audio_offer.sdp"), browser_to_trunk());
  EXPECT_EQ(count_prefix(to_trunk, "a=group"), 0u);
  ASSERT_TRUE(cm->remove("call-1", "", "", "", 0, now).ok());
  cm->tick(now);
  const std::string to_browser = offer(data("chromium_audio_offer.sdp"), {});
  EXPECT_TRUE(has_line(to_browser, "a=group:BUNDLE 0")) << to_browser;
  EXPECT_TRUE(has_line(to_browser, "a=mid:0"));
}

// ---- flows ------------------------------------------------------------------------

TEST_F(CallWebrtcTest, FlowsWaitForDtlsAndGoToTheNominatedIcePeer) {
  offer(data("chromium_audio_offer.sdp"), browser_to_trunk());
  answer(kTrunkAnswer, {});
  const MediaSide& a = side(0);
  const MediaSide& b = side(1);
  // Not connected: neither direction of the stream is on.
  for (FlowId id : {a.rtp_flow, a.rtcp_flow, b.rtp_flow, b.rtcp_flow})
    EXPECT_FALSE(enabled(id)) << id;
  // The browser is an ICE side: sent to at its nominated address only,
  // and before nomination nowhere.
  EXPECT_TRUE(flow(a.rtp_flow).flags & dataplane::kFlowAsymmetric);
  EXPECT_EQ(flow(a.rtp_flow).sdp_source.port, 0);
  EXPECT_FALSE(flow(b.rtp_flow).flags & dataplane::kFlowAsymmetric);
  EXPECT_EQ(flow(b.rtp_flow).sdp_source, *Endpoint::parse("192.0.2.10:6000"));

  const Endpoint nominated = *Endpoint::parse("198.51.100.20:53122");
  call().parties[0].media[0].ice_peer = nominated;
  CallManagerTestPeer::install_flows(*cm, call(), now.mono_ns);
  EXPECT_EQ(flow(a.rtp_flow).sdp_source, nominated);
  EXPECT_EQ(flow(a.rtcp_flow).sdp_source, nominated);  // muxed
  EXPECT_FALSE(enabled(a.rtp_flow));  // still waiting for DTLS

  call().parties[0].media[0].dtls.connected = true;
  CallManagerTestPeer::install_flows(*cm, call(), now.mono_ns);
  for (FlowId id : {a.rtp_flow, a.rtcp_flow, b.rtp_flow, b.rtcp_flow})
    EXPECT_TRUE(enabled(id)) << id;
}

TEST_F(CallWebrtcTest, ChangedAnswererFingerprintNeedsANewHandshake) {
  offer(data("kamailio_pcmu_pcma_te.in.sdp"), trunk_to_browser());
  answer(browser_answer("active"), {});
  EXPECT_FALSE(enabled(side(1).rtp_flow));
  call().parties[1].media[0].dtls.connected = true;
  CallManagerTestPeer::install_flows(*cm, call(), now.mono_ns);
  EXPECT_TRUE(enabled(side(1).rtp_flow));
  EXPECT_TRUE(enabled(side(0).rtp_flow));
  // A re-INVITE answered with the same certificate keeps the association.
  offer(data("kamailio_pcmu_pcma_te.in.sdp"), trunk_to_browser());
  answer(browser_answer("active"), {});
  EXPECT_TRUE(side(1).dtls.connected);
  EXPECT_TRUE(enabled(side(0).rtp_flow));
  // Another certificate: not connected, media off until the new handshake.
  std::string other = browser_answer("active");
  other.replace(other.find("AA:BB:CC"), 8, "AA:BB:CD");
  offer(data("kamailio_pcmu_pcma_te.in.sdp"), trunk_to_browser());
  answer(other, {});
  EXPECT_FALSE(side(1).dtls.connected);
  EXPECT_FALSE(enabled(side(0).rtp_flow));
  EXPECT_FALSE(enabled(side(1).rtp_flow));
}

// ---- NG flags -------------------------------------------------------------------------

// rtpengine logs a value it does not know ("Unknown 'ICE' flag
// encountered: ...") and goes on as if it had not been given.
TEST_F(CallWebrtcTest, UnknownValuesAreIgnored) {
  const std::string body = data("kamailio_pcmu_pcma_te.in.sdp");
  const std::string plain(request("offer", body, "A", "", {}).find_string("sdp").value_or(""));
  const std::vector<std::pair<const char*, NgValue>> values[] = {
      {{"ICE", NgValue::str("sometimes")}},
      {{"flags", strings({"ICE=bogus"})}},
      {{"ICE-lite", NgValue::str("sideways")}},
      {{"DTLS", NgValue::str("maybe")}},
      {{"DTLS-reverse", NgValue::str("off")}},
      {{"DTLS-fingerprint", NgValue::str("md5")}},
      {{"rtcp-mux", strings({"sometimes"})}},
  };
  for (const auto& extra : values) {
    NgValue r = request("offer", body, "A", "", extra);
    ASSERT_EQ(r.find_string("result"), "ok") << extra[0].first;
    EXPECT_FALSE(r.find("warning")) << extra[0].first;
    EXPECT_EQ(r.find_string("sdp"), plain) << extra[0].first;  // a re-offer: same ports
  }
}

TEST_F(CallWebrtcTest, AcceptedValuesAndTheFingerprintHashWarning) {
  const std::string body = data("kamailio_pcmu_pcma_te.in.sdp");
  NgValue r = request("offer", body, "A", "",
                      {{"flags", strings({"ICE-lite=both", "trickle-ICE", "DTLS-fingerprint=SHA-1",
                                          "ICE=force", "UDP/TLS/RTP/SAVPF"})}});
  ASSERT_EQ(r.find_string("result"), "ok");
  EXPECT_EQ(r.find_string("warning"), "DTLS-fingerprint SHA-1 is not available: using sha-256");
  const std::string sdp(r.find_string("sdp").value_or(""));
  EXPECT_TRUE(has_line(sdp, "a=ice-options:trickle")) << sdp;
  EXPECT_TRUE(has_line(sdp, std::string("a=fingerprint:") + kRelayFingerprint));
}

TEST_F(CallWebrtcTest, DtlsOffTurnsUdpTlsIntoSdes) {
  const std::string to_b = offer(data("kamailio_pcmu_pcma_te.in.sdp"),
                                 {{"transport protocol", NgValue::str("UDP/TLS/RTP/SAVPF")},
                                  {"DTLS", NgValue::str("off")}});
  EXPECT_NE(m_line(to_b, 0).find(" RTP/SAVPF "), std::string::npos) << to_b;
  EXPECT_GT(count_prefix(to_b, "a=crypto:"), 0u);
  EXPECT_EQ(count_prefix(to_b, "a=fingerprint"), 0u);
}

TEST_F(CallWebrtcTest, SdesOffOffersDtlsUnderTheSavpProfile) {
  const std::string to_b = offer(data("kamailio_pcmu_pcma_te.in.sdp"),
                                 {{"transport protocol", NgValue::str("RTP/SAVPF")},
                                  {"flags", strings({"SDES-off"})}});
  EXPECT_NE(m_line(to_b, 0).find(" RTP/SAVPF "), std::string::npos) << to_b;
  EXPECT_EQ(count_prefix(to_b, "a=crypto:"), 0u);
  EXPECT_TRUE(has_line(to_b, "a=setup:actpass"));
  EXPECT_TRUE(side(1).relay_sent_dtls);
}

TEST_F(CallWebrtcTest, StripExtmapAndGenerateMid) {
  const std::string kept = offer(data("chromium_audio_offer.sdp"), {});
  EXPECT_EQ(count_prefix(kept, "a=extmap:"), 4u);
  EXPECT_EQ(count_prefix(kept, "a=rtcp-fb:111 transport-cc"), 1u);  // to a SAVPF party
  const std::string stripped =
      offer(data("chromium_audio_offer.sdp"), {{"flags", strings({"strip-extmap"})}});
  EXPECT_EQ(count_prefix(stripped, "a=extmap:"), 0u);
  EXPECT_EQ(count_prefix(stripped, "a=mid:"), 1u);  // not duplicated by a generated one
}


// ---- the handshake thread's legs, as the control plane drives them -----------

// Records what the call manager asks of the legs.
struct FakeLegs final : webrtc::LegControl {
  void set_leg(const webrtc::LegSpec& s) override { legs[s.key] = s; }
  void remove_leg(dataplane::LocalKey key) override {
    legs.erase(key);
    ++removed;
  }
  std::optional<webrtc::LegStatus> status(dataplane::LocalKey) const override { return std::nullopt; }
  webrtc::LegCounters counters() const override { return {}; }
  std::map<dataplane::LocalKey, webrtc::LegSpec> legs;
  int removed = 0;
};

TEST_F(CallWebrtcTest, LegsFollowTheCallAndTheirEventsBecomeFlowCommands) {
  FakeLegs legs;
  cm->attach_legs(&legs);
  struct Detach {
    CallManager& cm;
    ~Detach() { cm.attach_legs(nullptr); }
  } detach{*cm};
  offer(data("chromium_audio_offer.sdp"), browser_to_trunk());
  answer(kTrunkAnswer, {});
  const MediaSide& a = side(0);
  ASSERT_EQ(legs.legs.size(), 1u);  // the browser's side only: the trunk's is plain
  const webrtc::LegSpec& spec = legs.legs.at(a.rtp_handle.key);
  EXPECT_EQ(spec.id, a.leg_id);
  EXPECT_TRUE(spec.ice && spec.dtls && spec.dtls_client);  // the relay answered a=setup:active
  EXPECT_EQ(spec.local.ufrag, a.ice.local_ufrag);
  EXPECT_EQ(spec.remote.pwd, "1PqYz7gZa0Q8rXWmX4nP3kB9");
  EXPECT_EQ(spec.remote_fingerprint, kChromeFingerprint);
  const MediaSide& b = side(1);
  EXPECT_FALSE(enabled(a.rtp_flow) || enabled(b.rtp_flow));  // DTLS not up: no media either way
  // The trunk negotiated AVP: the browser's RTCP feedback is not for it.
  EXPECT_TRUE(flow(b.rtcp_flow).flags & dataplane::kFlowNoFeedback);
  EXPECT_TRUE(flow(b.rtp_flow).flags & dataplane::kFlowNoFeedback);
  EXPECT_FALSE(flow(a.rtp_flow).flags & dataplane::kFlowNoFeedback);

  // ICE nominates the browser's address: media to it goes there.
  webrtc::LegEvent e;
  e.id = a.leg_id;
  e.key = a.rtp_handle.key;
  e.kind = webrtc::LegEventKind::kIcePeer;
  e.peer = *Endpoint::parse("198.51.100.7:40000");
  cm->apply_leg_event(e, now.mono_ns);
  EXPECT_EQ(flow(a.rtp_flow).sdp_source, e.peer);
  EXPECT_TRUE(flow(a.rtp_flow).flags & dataplane::kFlowAsymmetric);

  // The handshake's keys: SRTP on both of the side's flows, then media on.
  const int srtp_before = plane.srtp_commands();
  e.kind = webrtc::LegEventKind::kDtlsConnected;
  e.keys.inbound = dataplane::testing::test_key(dataplane::SrtpSuite::kAeadAes128Gcm, 1);
  e.keys.outbound = dataplane::testing::test_key(dataplane::SrtpSuite::kAeadAes128Gcm, 2);
  cm->apply_leg_event(e, now.mono_ns);
  EXPECT_EQ(plane.srtp_commands(), srtp_before + 2);
  EXPECT_TRUE(side(0).dtls.connected);
  EXPECT_TRUE(enabled(a.rtp_flow) && enabled(b.rtp_flow));
  EXPECT_TRUE(plane.state(0).flow(a.rtp_flow).fast.flags & dataplane::kFlowSrtp);

  // An event of another leg (a port since reused) changes nothing.
  e.id = a.leg_id + 100;
  e.kind = webrtc::LegEventKind::kIceExpired;
  cm->apply_leg_event(e, now.mono_ns);
  EXPECT_EQ(flow(a.rtp_flow).sdp_source.port, 40000);
  // Consent lost: nothing more is sent to the peer.
  e.id = a.leg_id;
  cm->apply_leg_event(e, now.mono_ns);
  EXPECT_EQ(flow(a.rtp_flow).sdp_source.port, 0);

  // The call ends: its leg goes with it.
  ASSERT_TRUE(cm->remove("call-1", "A", "", "", 0, now).ok());
  cm->tick(now);
  EXPECT_TRUE(legs.legs.empty());
  EXPECT_EQ(legs.removed, 1);
}

}  // namespace
}  // namespace vox::control
