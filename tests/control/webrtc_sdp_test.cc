// Tests for control/webrtc_sdp.cc: DTLS roles (RFC 4145/8842), ICE
// credentials and host candidates (RFC 8445/8839), reading a party's
// transport attributes at media or session level, BUNDLE groups.
#include "control/webrtc_sdp.h"

#include <gtest/gtest.h>

namespace vox::control {
namespace {

TEST(WebrtcSdp, DtlsRoles) {
  EXPECT_TRUE(relay_active_answering("actpass", false));
  EXPECT_FALSE(relay_active_answering("actpass", true));
  EXPECT_FALSE(relay_active_answering("active", false));
  EXPECT_TRUE(relay_active_answering("passive", true));
  EXPECT_FALSE(relay_active_answering("", false));  // absent: active (RFC 4145 §4)
  EXPECT_TRUE(relay_active_after_answer("passive"));
  EXPECT_FALSE(relay_active_after_answer("active"));
  EXPECT_FALSE(relay_active_after_answer(""));
}

TEST(WebrtcSdp, HostCandidates) {
  EXPECT_EQ(host_candidate_priority(1), 2130706431u);  // RFC 8445 §5.1.2.1
  EXPECT_EQ(host_candidate_priority(2), 2130706430u);
  const std::string c = host_candidate(*IpAddr::parse("203.0.113.1"), 30000, 1);
  EXPECT_NE(c.find(" 1 udp 2130706431 203.0.113.1 30000 typ host"), std::string::npos) << c;
  EXPECT_EQ(c.substr(0, c.find(' ')),
            host_candidate(*IpAddr::parse("203.0.113.1"), 30001, 2).substr(0, c.find(' ')));
}

TEST(WebrtcSdp, IceCredentials) {
  std::random_device rd;
  const std::string a = random_ice_chars(kIcePwdChars, rd), b = random_ice_chars(kIcePwdChars, rd);
  EXPECT_EQ(a.size(), 24u);
  EXPECT_TRUE(is_ice_chars(a));
  EXPECT_NE(a, b);
  EXPECT_FALSE(is_ice_chars("ab-c"));
}

TEST(WebrtcSdp, ReadsMediaThenSessionLevel) {
  auto sdp = parse_sdp(
      "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
      "a=group:BUNDLE a v\r\na=ice-ufrag:sess\r\na=ice-pwd:sessionpwdsessionpwd\r\n"
      "a=fingerprint:sha-1 11:22\r\na=fingerprint:sha-256 AA:BB\r\n"
      "m=audio 4000 RTP/SAVPF 0\r\na=mid:a\r\na=setup:actpass\r\n"
      "m=video 4000 UDP/TLS/RTP/SAVPF 96\r\na=mid:v\r\na=ice-ufrag:med\r\n"
      "a=fingerprint:sha-256 CC:DD\r\n"
      "m=audio 5000 RTP/AVP 0\r\na=ice-pwd:x\r\n");
  ASSERT_TRUE(sdp.ok());
  const PeerTransport a = read_peer_transport(*sdp, sdp->media[0]);
  EXPECT_TRUE(a.dtls);  // RTP/SAVPF with a fingerprint
  EXPECT_EQ(a.fingerprint, "sha-256 AA:BB");
  EXPECT_EQ(a.setup, "actpass");
  EXPECT_TRUE(a.ice);
  EXPECT_EQ(a.ice_ufrag, "sess");
  EXPECT_EQ(a.mid, "a");
  const PeerTransport v = read_peer_transport(*sdp, sdp->media[1]);
  EXPECT_EQ(v.fingerprint, "sha-256 CC:DD");
  EXPECT_EQ(v.ice_ufrag, "med");
  EXPECT_EQ(v.ice_pwd, "sessionpwdsessionpwd");
  const PeerTransport p = read_peer_transport(*sdp, sdp->media[2]);
  EXPECT_FALSE(p.dtls);  // RTP/AVP: a fingerprint does not make it DTLS
  EXPECT_EQ(bundled_media(*sdp), (std::vector<size_t>{0, 1}));
}

}  // namespace
}  // namespace vox::control
