// Tests for control/sdp.cc, sdp_parse.cc and sdp_render.cc: hand-checked
// golden rewrites (tests/data/sdp/NAME.in.sdp -> NAME.out.sdp), every
// SdpError, truncation of valid bodies, and identity round trips.
#include "control/sdp.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace vox::control {
namespace {

using namespace std::string_literals;

IpAddr ip(std::string_view s) { return *IpAddr::parse(s); }

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string crlf(std::string_view lf_text) {
  std::string out;
  for (char c : lf_text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

SdpMediaRewrite relay(uint16_t rtp, uint16_t rtcp, std::string_view addr = "203.0.113.1") {
  SdpMediaRewrite r;
  r.address = ip(addr);
  r.rtp_port = rtp;
  r.rtcp_port = rtcp;
  return r;
}

// ---- golden cases ----------------------------------------------------------

struct Golden {
  const char* name;
  SdpRewrite rewrite;
};

std::vector<Golden> golden_cases() {
  std::vector<Golden> g;
  {
    SdpRewrite r;
    r.media = {relay(30000, 30001)};
    r.replace_origin = true;
    r.increment_version = true;
    g.push_back({"kamailio_pcmu_pcma_te", r});
    g.push_back({"bare_lf", r});
  }
  {
    SdpRewrite r;
    auto m = relay(30002, 30002);
    m.rtcp_mux = true;
    r.media = {m};
    r.strip_ice = true;
    r.session_version = 5;
    g.push_back({"webrtc_opus_strip_ice", r});
  }
  {
    SdpRewrite r;
    r.media = {relay(30004, 30005), relay(30006, 30007)};
    g.push_back({"audio_video", r});
  }
  {
    SdpRewrite r;
    auto image = relay(30008, 0);
    image.rtcp_attribute = false;  // udptl has no RTCP
    r.media = {relay(0, 0), image};
    r.increment_version = true;
    g.push_back({"t38_image", r});
  }
  {
    SdpRewrite r;
    r.media = {relay(30010, 30011), relay(0, 0)};
    g.push_back({"rejected_stream", r});
  }
  {
    SdpRewrite r;
    r.media = {relay(30012, 30013)};
    r.replace_origin = true;
    g.push_back({"hold_zero_address", r});
  }
  {
    SdpRewrite r;
    auto m = relay(30014, 30015);
    m.full_rtcp_attribute = true;
    r.media = {m};
    g.push_back({"hold_sendonly", r});
  }
  {
    SdpRewrite r;
    auto m = relay(30016, 30017, "2001:db8::1");
    m.full_rtcp_attribute = true;
    r.media = {m};
    r.replace_origin = true;
    r.increment_version = true;
    g.push_back({"ipv6", r});
  }
  {
    SdpRewrite r;
    auto second = relay(30020, 30021);
    second.rtcp_attribute = false;
    r.media = {relay(30018, 30019), second};
    g.push_back({"session_vs_media_c", r});
  }
  {
    SdpRewrite r;
    auto m = relay(30022, 30023);
    m.full_rtcp_attribute = true;
    r.media = {m};
    g.push_back({"rtcp_with_address", r});
    r.media[0].full_rtcp_attribute = false;
    g.push_back({"rtcp_without_address", r});
  }
  return g;
}

TEST(SdpGolden, RewritesMatchHandCheckedOutput) {
  for (const auto& c : golden_cases()) {
    SCOPED_TRACE(c.name);
    const std::string dir = std::string(VOX_TEST_DATA) + "/sdp/";
    const std::string in = read_file(dir + c.name + ".in.sdp");
    const std::string want = read_file(dir + c.name + ".out.sdp");
    ASSERT_FALSE(in.empty());
    ASSERT_FALSE(want.empty());
    auto sdp = parse_sdp(in);
    ASSERT_TRUE(sdp.ok()) << to_string(sdp.error());
    ASSERT_EQ(sdp->media.size(), c.rewrite.media.size());
    const std::string got = render_sdp(*sdp, c.rewrite);
    EXPECT_EQ(got, want);
    // The output is itself valid SDP with the relay's ports.
    auto again = parse_sdp(got);
    ASSERT_TRUE(again.ok());
    ASSERT_EQ(again->media.size(), sdp->media.size());
    for (size_t i = 0; i < sdp->media.size(); ++i) {
      const uint16_t expect = sdp->media[i].port == 0 ? 0 : c.rewrite.media[i].rtp_port;
      EXPECT_EQ(again->media[i].port, expect);
    }
  }
}

// ---- parsing ---------------------------------------------------------------

const char* const kOffer =
    "v=0\n"
    "o=sipp 53655765 2353687637 IN IP4 192.0.2.10\n"
    "s=-\n"
    "c=IN IP4 192.0.2.10\n"
    "t=0 0\n"
    "a=sendonly\n"
    "m=audio 6000/2 RTP/AVP 0 8 101\n"
    "b=AS:64\n"
    "a=rtpmap:0 PCMU/8000\n"
    "a=rtpmap:8 PCMA/8000\n"
    "a=rtpmap:101 telephone-event/8000\n"
    "a=fmtp:101 0-16\n"
    "a=rtcp:6001 IN IP4 192.0.2.11\n"
    "a=rtcp-mux\n"
    "m=video 6002 RTP/AVP 96\n"
    "c=IN IP6 2001:db8::5\n"
    "a=rtpmap:96 VP8/90000\n"
    "a=inactive\n";

TEST(SdpParse, Fields) {
  auto r = parse_sdp(crlf(kOffer));
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  const Sdp& s = *r;
  EXPECT_EQ(s.origin.username, "sipp");
  EXPECT_EQ(s.origin.session_id, "53655765");
  EXPECT_EQ(s.origin.session_version, "2353687637");
  EXPECT_EQ(s.origin.net_type, "IN");
  EXPECT_EQ(s.origin.addr_type, "IP4");
  EXPECT_EQ(s.origin.address, "192.0.2.10");
  ASSERT_TRUE(s.connection);
  EXPECT_EQ(*s.connection, ip("192.0.2.10"));
  EXPECT_EQ(s.session_lines, (std::vector<std::string>{"s=-", "t=0 0", "a=sendonly"}));
  ASSERT_TRUE(s.session_direction);
  EXPECT_EQ(*s.session_direction, MediaDirection::kSendOnly);
  ASSERT_EQ(s.media.size(), 2u);

  const SdpMedia& a = s.media[0];
  EXPECT_EQ(a.type, "audio");
  EXPECT_EQ(a.port, 6000);
  EXPECT_EQ(a.port_count, 2);
  EXPECT_EQ(a.proto, "RTP/AVP");
  EXPECT_EQ(a.formats, (std::vector<std::string>{"0", "8", "101"}));
  EXPECT_FALSE(a.connection);
  EXPECT_EQ(a.effective_address(s), ip("192.0.2.10"));
  EXPECT_EQ(a.other_lines, (std::vector<std::string>{"b=AS:64"}));
  ASSERT_EQ(a.attributes.size(), 6u);
  EXPECT_EQ(a.attributes[0].name, "rtpmap");
  EXPECT_EQ(a.attributes[0].value, "0 PCMU/8000");
  EXPECT_EQ(a.attributes[5].name, "rtcp-mux");
  EXPECT_EQ(a.attributes[5].value, "");
  EXPECT_EQ(a.rtcp_port, 6001);
  EXPECT_EQ(a.rtcp_address, ip("192.0.2.11"));
  EXPECT_TRUE(a.rtcp_mux);
  EXPECT_EQ(a.direction, MediaDirection::kSendOnly);  // inherited from session
  EXPECT_FALSE(a.has_direction_attribute);
  EXPECT_EQ(a.rtpmap("101"), "telephone-event/8000");
  EXPECT_EQ(a.fmtp("101"), "0-16");
  EXPECT_FALSE(a.rtpmap("10"));
  EXPECT_EQ(a.attribute_values("rtpmap").size(), 3u);
  ASSERT_NE(a.find_attribute("fmtp"), nullptr);
  EXPECT_EQ(a.find_attribute("ptime"), nullptr);

  const SdpMedia& v = s.media[1];
  EXPECT_EQ(v.connection, ip("2001:db8::5"));
  EXPECT_EQ(v.effective_address(s), ip("2001:db8::5"));
  EXPECT_FALSE(v.rtcp_port);
  EXPECT_FALSE(v.rtcp_mux);
  EXPECT_EQ(v.direction, MediaDirection::kInactive);
  EXPECT_TRUE(v.has_direction_attribute);
}

TEST(SdpParse, BareLfAndCrlfAgree) {
  auto a = parse_sdp(kOffer);
  auto b = parse_sdp(crlf(kOffer));
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(render_sdp(*a, {}), render_sdp(*b, {}));
}

TEST(SdpParse, HoldAddressAndMulticastSuffixes) {
  auto r = parse_sdp(
      "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
      "m=audio 5000 RTP/AVP 0\r\n"
      "m=audio 5002 RTP/AVP 0\r\nc=IN IP4 233.252.0.1/127/2\r\n"
      "m=audio 5004 RTP/AVP 0\r\nc=IN IP6 ff0e::101/3\r\n"
      "m=audio 5006 RTP/AVP 0\r\nc=IN IP6 ::\r\n");
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  EXPECT_TRUE(r->media[0].effective_address(*r)->is_unspecified());
  EXPECT_EQ(r->media[1].connection, ip("233.252.0.1"));
  EXPECT_EQ(r->media[2].connection, ip("ff0e::101"));
  EXPECT_TRUE(r->media[3].connection->is_unspecified());
  EXPECT_FALSE(r->media[3].connection->is_v4());
}

TEST(SdpParse, RejectedStreamWithoutFormats) {
  auto r = parse_sdp("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
                     "m=video 0 RTP/AVP\r\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->media[0].port, 0);
  EXPECT_TRUE(r->media[0].formats.empty());
}

// ---- errors ----------------------------------------------------------------

const std::string kHead = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n";

SdpError error_of(std::string_view text) {
  auto r = parse_sdp(text);
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? SdpError::kEmpty : r.error();
}

TEST(SdpParse, ErrorEmpty) {
  EXPECT_EQ(error_of(""), SdpError::kEmpty);
  EXPECT_EQ(error_of("\r\n\r\n"), SdpError::kEmpty);
  EXPECT_EQ(error_of("  \n"), SdpError::kEmpty);
  EXPECT_EQ(error_of("s=-\r\nt=0 0\r\n"), SdpError::kEmpty);
}

TEST(SdpParse, ErrorSyntax) {
  const char* bad[] = {
      "s=-\r\nv=0\r\n",                                          // v= not first
      "v=0\r\ns=-\r\n",                                          // no o=
      "v=0\r\no=- 1 IN IP4 192.0.2.1\r\n",                        // o= with 5 fields
      "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nv=0\r\n",               // second v=
      "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nhello\r\n",             // not x=
      "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nS=-\r\n",               // type not a-z
      "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=a\rb\r\n",            // stray CR
  };
  for (const char* b : bad) EXPECT_EQ(error_of(b), SdpError::kSyntax) << b;
  const std::string with_nul = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=a"s + '\0' + "b\r\n";
  EXPECT_EQ(error_of(with_nul), SdpError::kSyntax);

  const char* bad_body[] = {
      "c=IN IP4 sip.example.com\r\n",        // FQDN: no address for the relay
      "c=IN IP4 2001:db8::1\r\n",            // family mismatch
      "c=IN IP6 192.0.2.1\r\n",              // family mismatch
      "c=IN IP4\r\n",                        // missing address
      "c=ATM NSAP 47.0005\r\n",              // not IN
      "c=IN IP5 192.0.2.1\r\n",              // bad addrtype
      "c=IN IP4 192.0.2.1/\r\n",             // empty ttl
      "c=IN IP6 ff0e::1/1/2\r\n",            // IP6 has no ttl
      "c=IN IP4 192.0.2.2\r\n",              // second session c=
      "m=audio\r\n",                         // short m=
      "m=audio 5000 RTP/AVP\r\n",            // no formats on a live stream
      "m=audio x RTP/AVP 0\r\n",             // port not a number
      "m=audio -1 RTP/AVP 0\r\n",            // signed
      "m=audio 5000 RTP/AVP PCMU\r\n",       // RTP format not a payload type
      "m=audio 5000 RTP/AVP 0\r\ns=-\r\n",   // session line in media
      "m=audio 5000 RTP/AVP 0\r\nt=0 0\r\n", // session line in media
      "m=audio 5000 RTP/AVP 0\r\nc=IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.5\r\n",
      "m=audio 5000 RTP/AVP 0\r\na=\r\n",         // empty attribute name
      "m=audio 5000 RTP/AVP 0\r\na=:x\r\n",       // empty attribute name
      "m=audio 5000 RTP/AVP 0\r\na=rtcp\r\n",     // a=rtcp without port
      "m=audio 5000 RTP/AVP 0\r\na=rtcp:x\r\n",   // a=rtcp port not a number
      "m=audio 5000 RTP/AVP 0\r\na=rtcp:5001 IN IP4\r\n",
      "m=audio 5000 RTP/AVP 0\r\na=rtcp:5001 IN IP4 host.example\r\n",
      "a=\r\n",                                   // session attribute without name
  };
  for (const char* b : bad_body) EXPECT_EQ(error_of(kHead + b), SdpError::kSyntax) << b;
}

TEST(SdpParse, ErrorBadNumber) {
  const char* bad_body[] = {
      "m=audio 65536 RTP/AVP 0\r\n",
      "m=audio 99999999999999999999999 RTP/AVP 0\r\n",
      "m=audio 5000/0 RTP/AVP 0\r\n",
      "m=audio 5000/65536 RTP/AVP 0\r\n",
      "m=audio 5000 RTP/AVP 128\r\n",
      "m=audio 5000 RTP/SAVPF 0 300\r\n",
      "m=audio 5000 RTP/AVP 0\r\na=rtcp:65536\r\n",
      "m=audio 5000 RTP/AVP 0\r\nc=IN IP4 233.252.0.1/256\r\n",
      "m=audio 5000 RTP/AVP 0\r\nc=IN IP4 233.252.0.1/127/0\r\n",
  };
  for (const char* b : bad_body) EXPECT_EQ(error_of(kHead + b), SdpError::kBadNumber) << b;
  // Non-RTP formats are names, not payload types.
  EXPECT_TRUE(parse_sdp(kHead + "m=image 5000 udptl t38\r\n").ok());
  EXPECT_TRUE(parse_sdp(kHead + "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n").ok());
}

TEST(SdpParse, ErrorTooLarge) {
  std::string big = kHead + "m=audio 5000 RTP/AVP 0\r\n";
  while (big.size() <= kMaxSdpBytes) big += "a=x-filler:0123456789012345678901234567890123456789\r\n";
  EXPECT_EQ(error_of(big), SdpError::kTooLarge);

  std::string lines = kHead + "m=audio 5000 RTP/AVP 0\r\n";
  for (size_t i = 0; i < kMaxSdpLines; ++i) lines += "a=x\r\n";
  ASSERT_LE(lines.size(), kMaxSdpBytes);
  EXPECT_EQ(error_of(lines), SdpError::kTooLarge);
  std::string blank = kHead + std::string(kMaxSdpLines, '\n');  // blank lines count too
  EXPECT_EQ(error_of(blank), SdpError::kTooLarge);

  std::string media = kHead;
  for (size_t i = 0; i <= kMaxSdpMedia; ++i) media += "m=audio 5000 RTP/AVP 0\r\n";
  EXPECT_EQ(error_of(media), SdpError::kTooLarge);
  media = kHead;
  for (size_t i = 0; i < kMaxSdpMedia; ++i) media += "m=audio 5000 RTP/AVP 0\r\n";
  EXPECT_TRUE(parse_sdp(media).ok());
}

TEST(SdpParse, ErrorIncomplete) {
  const std::string no_c = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n";
  EXPECT_EQ(error_of(no_c + "m=audio 5000 RTP/AVP 0\r\n"), SdpError::kIncomplete);
  EXPECT_EQ(error_of(no_c + "m=audio 5000 RTP/AVP 0\r\nc=IN IP4 192.0.2.1\r\n"
                            "m=video 0 RTP/AVP 96\r\n"),
            SdpError::kIncomplete);
  EXPECT_TRUE(parse_sdp(no_c).ok());  // no media, nothing to connect
}

TEST(SdpParse, ErrorText) {
  EXPECT_STREQ(to_string(SdpError::kIncomplete), "Incomplete SDP specification");
  for (auto e : {SdpError::kEmpty, SdpError::kSyntax, SdpError::kBadNumber, SdpError::kTooLarge})
    EXPECT_STREQ(to_string(e), "Failed to parse SDP");
}

// Every prefix of a valid body parses or fails cleanly (run under ASan), and
// whatever parses renders to something that parses again.
TEST(SdpParse, EveryTruncationParsesOrFailsCleanly) {
  for (const char* name : {"webrtc_opus_strip_ice", "audio_video", "ipv6", "t38_image"}) {
    const std::string in = read_file(std::string(VOX_TEST_DATA) + "/sdp/" + name + ".in.sdp");
    ASSERT_FALSE(in.empty());
    for (size_t n = 0; n <= in.size(); ++n) {
      auto r = parse_sdp(std::string_view(in).substr(0, n));
      if (!r.ok()) continue;
      SdpRewrite rw;
      for (size_t i = 0; i < r->media.size(); ++i) rw.media.push_back(relay(40000, 40001));
      rw.strip_ice = rw.replace_origin = true;
      EXPECT_TRUE(parse_sdp(render_sdp(*r, rw)).ok()) << name << " prefix " << n;
    }
  }
}

// ---- rendering -------------------------------------------------------------

// A rewrite that says "the relay is the endpoint itself": rendering must
// reproduce an SDP written in canonical order byte for byte.
SdpRewrite identity(const Sdp& s) {
  SdpRewrite rw;
  rw.replace_session_connection = false;
  for (const auto& m : s.media) {
    SdpMediaRewrite r;
    r.address = *m.effective_address(s);
    r.rtp_port = m.port;
    r.rtcp_port = m.rtcp_port.value_or(0);
    r.rtcp_attribute = m.rtcp_port.has_value();
    r.full_rtcp_attribute = m.rtcp_address.has_value();
    r.rtcp_mux = m.rtcp_mux;
    rw.media.push_back(r);
  }
  return rw;
}

TEST(SdpRender, IdentityRoundTripKeepsUnknownLinesInOrder) {
  const std::string in = crlf(
      "v=0\n"
      "o=- 42 42 IN IP4 192.0.2.1\n"
      "s=unknown lines\n"
      "i=session info\n"
      "u=http://example.com/\n"
      "e=ops@example.com\n"
      "c=IN IP4 192.0.2.1\n"
      "b=CT:128\n"
      "t=0 0\n"
      "r=604800 3600 0 90000\n"
      "y=unknown session type\n"
      "a=x-session-one:1\n"
      "a=group:BUNDLE a v\n"
      "a=x-session-two\n"
      "m=audio 5000 RTP/AVP 0 101\n"
      "i=audio info\n"
      "c=IN IP4 192.0.2.2\n"
      "b=TIAS:64000\n"
      "k=prompt\n"
      "y=unknown media type\n"
      "a=mid:a\n"
      "a=x-vendor:first value: with colon\n"
      "a=rtpmap:0 PCMU/8000\n"
      "a=x-flag\n"
      "a=rtpmap:101 telephone-event/8000\n"
      "a=fmtp:101 0-15\n"
      "a=ssrc:1 cname:abc\n"
      "a=rtcp:5001 IN IP4 192.0.2.2\n"
      "a=rtcp-mux\n"
      "m=video 5002 RTP/AVPF 96\n"
      "a=mid:v\n"
      "a=rtpmap:96 VP8/90000\n"
      "a=rtcp-fb:96 nack pli\n"
      "a=rtcp:5003\n");
  auto s = parse_sdp(in);
  ASSERT_TRUE(s.ok()) << to_string(s.error());
  EXPECT_EQ(render_sdp(*s, identity(*s)), in);
}

TEST(SdpRender, VersionHandling) {
  auto s = parse_sdp(kHead + "m=audio 5000 RTP/AVP 0\r\n");
  ASSERT_TRUE(s.ok());
  auto origin_of = [](const std::string& out) {
    size_t p = out.find("o=") + 2;
    return out.substr(p, out.find("\r\n", p) - p);
  };
  SdpRewrite rw = identity(*s);
  EXPECT_EQ(origin_of(render_sdp(*s, rw)), "- 1 1 IN IP4 192.0.2.1");
  rw.increment_version = true;
  s->origin.session_version = "999";
  EXPECT_EQ(origin_of(render_sdp(*s, rw)), "- 1 1000 IN IP4 192.0.2.1");
  s->origin.session_version = "v1";  // not a number: passed through
  EXPECT_EQ(origin_of(render_sdp(*s, rw)), "- 1 v1 IN IP4 192.0.2.1");
  rw.session_version = 18446744073709551615ull;
  EXPECT_EQ(origin_of(render_sdp(*s, rw)), "- 1 18446744073709551615 IN IP4 192.0.2.1");
  rw.replace_origin = true;
  rw.media[0].address = ip("2001:db8::1");
  EXPECT_EQ(origin_of(render_sdp(*s, rw)), "- 1 18446744073709551615 IN IP6 2001:db8::1");
}

TEST(SdpRender, KeptSessionConnectionGetsMediaConnection) {
  // Without "replace session-connection" the session c= still names the
  // peer, so each media needs a c= of its own or RTP would bypass the relay.
  auto s = parse_sdp(kHead + "m=audio 5000 RTP/AVP 0\r\na=ptime:20\r\n");
  ASSERT_TRUE(s.ok());
  SdpRewrite rw;
  rw.media = {relay(30000, 30001, "2001:db8::1")};
  rw.replace_session_connection = false;
  EXPECT_EQ(render_sdp(*s, rw),
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
            "m=audio 30000 RTP/AVP 0\r\nc=IN IP6 2001:db8::1\r\na=ptime:20\r\na=rtcp:30001\r\n");
}

TEST(SdpRender, MediaWithoutRewriteIsUnchanged) {
  auto s = parse_sdp(kHead +
                     "m=audio 5000 RTP/AVP 0\r\na=rtcp:5001\r\n"
                     "m=video 5002 RTP/AVP 96\r\na=rtcp:5003\r\na=candidate:1 1 udp 1 192.0.2.1 5002 typ host\r\n");
  ASSERT_TRUE(s.ok());
  SdpRewrite rw;
  rw.media = {relay(30000, 30001)};  // one rewrite for two m= lines
  rw.strip_ice = true;
  EXPECT_EQ(render_sdp(*s, rw),
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 203.0.113.1\r\nt=0 0\r\n"
            "m=audio 30000 RTP/AVP 0\r\na=rtcp:30001\r\n"
            "m=video 5002 RTP/AVP 96\r\nc=IN IP4 192.0.2.1\r\na=rtcp:5003\r\n"
            "a=candidate:1 1 udp 1 192.0.2.1 5002 typ host\r\n");
}

TEST(SdpRender, RtcpAndIceOptions) {
  auto s = parse_sdp(kHead + "a=ice-lite\r\na=ice-options:trickle\r\n" +
                     "m=audio 5000 RTP/AVP 0\r\na=ice-ufrag:u\r\na=ice-pwd:p\r\n"
                     "a=candidate:1 1 udp 1 192.0.2.1 5000 typ host\r\na=remote-candidates:1 192.0.2.1 5000\r\n"
                     "a=end-of-candidates\r\na=rtcp-mux\r\na=rtcp:5000\r\n");
  ASSERT_TRUE(s.ok());
  SdpRewrite rw;
  rw.media = {relay(30000, 30001)};
  rw.media[0].rtcp_attribute = false;  // "no-rtcp-attribute"
  rw.strip_ice = true;
  std::string out = render_sdp(*s, rw);
  EXPECT_EQ(out, "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 203.0.113.1\r\nt=0 0\r\n"
                 "m=audio 30000 RTP/AVP 0\r\n");
  rw.strip_ice = false;
  rw.media[0].rtcp_attribute = true;
  rw.media[0].rtcp_port = 0;  // nothing to advertise
  rw.media[0].rtcp_mux = true;
  out = render_sdp(*s, rw);
  EXPECT_NE(out.find("a=ice-lite\r\na=ice-options:trickle\r\nm=audio"), std::string::npos);
  EXPECT_NE(out.find("a=end-of-candidates\r\na=rtcp-mux\r\n"), std::string::npos);
  EXPECT_EQ(out.find("a=rtcp:"), std::string::npos);
}

TEST(SdpRender, RejectionAndProto) {
  auto s = parse_sdp(kHead + "m=audio 5000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x\r\n"
                             "m=video 0 RTP/AVP 96\r\n");
  ASSERT_TRUE(s.ok());
  SdpRewrite rw;
  rw.media = {relay(0, 0), relay(30002, 30003)};  // the relay rejects audio
  rw.media[0].rtcp_mux = true;
  rw.media[0].proto = "RTP/AVP";
  EXPECT_EQ(render_sdp(*s, rw),
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 203.0.113.1\r\nt=0 0\r\n"
            "m=audio 0 RTP/AVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x\r\n"
            "m=video 0 RTP/AVP 96\r\n");  // a rejected offer stays rejected
}

// The relay gives a stream one port pair: "m=audio P/N" leaves as "m=audio
// P'" when it is rewritten, and a stream it does not rewrite keeps its count.
TEST(SdpRender, PortCountGoesWithTheRewrite) {
  auto s = parse_sdp(kHead + "m=audio 5000/2 RTP/AVP 0\r\nm=video 6000/3 RTP/AVP 96\r\n");
  ASSERT_TRUE(s.ok());
  SdpRewrite rw;
  rw.media = {relay(30000, 30001)};
  rw.media[0].rtcp_attribute = false;
  const std::string out = render_sdp(*s, rw);
  EXPECT_NE(out.find("m=audio 30000 RTP/AVP 0\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("m=video 6000/3 RTP/AVP 96\r\n"), std::string::npos) << out;
}

TEST(SdpRender, CryptoLinesAreReplacedOrStripped) {
  const std::string body = kHead +
      "m=audio 5000 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAA\r\n"
      "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:BBB\r\na=sendrecv\r\n";
  auto s = parse_sdp(body);
  ASSERT_TRUE(s.ok());
  SdpRewrite rw;
  rw.media = {relay(30000, 30001)};
  rw.media[0].rtcp_attribute = false;
  // Our own key replaces both of the party's, where the first stood.
  rw.media[0].crypto = std::vector<std::string>{"1 AEAD_AES_128_GCM inline:OURS"};
  std::string out = render_sdp(*s, rw);
  EXPECT_NE(out.find("a=rtpmap:0 PCMU/8000\r\na=crypto:1 AEAD_AES_128_GCM inline:OURS\r\na=sendrecv\r\n"),
            std::string::npos) << out;
  EXPECT_EQ(out.find("AAA"), std::string::npos);
  EXPECT_EQ(out.find("BBB"), std::string::npos);
  // Toward a plain RTP side: no keys at all.
  rw.media[0].crypto = std::vector<std::string>{};
  rw.media[0].proto = "RTP/AVP";
  out = render_sdp(*s, rw);
  EXPECT_EQ(out.find("a=crypto"), std::string::npos) << out;
  EXPECT_NE(out.find("m=audio 30000 RTP/AVP 0\r\n"), std::string::npos) << out;
  // Toward an SRTP side from a plain offer: the keys follow the codec lines.
  auto plain = parse_sdp(kHead + "m=audio 5000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n");
  ASSERT_TRUE(plain.ok());
  rw.media[0].proto = "RTP/SAVP";
  rw.media[0].crypto = std::vector<std::string>{"1 AES_CM_128_HMAC_SHA1_80 inline:K1", "2 AEAD_AES_128_GCM inline:K2"};
  out = render_sdp(*plain, rw);
  EXPECT_NE(out.find("m=audio 30000 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
                     "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:K1\r\n"
                     "a=crypto:2 AEAD_AES_128_GCM inline:K2\r\na=sendrecv\r\n"),
            std::string::npos) << out;
}

TEST(SdpRender, MediaLevelHoldKept) {
  auto s = parse_sdp(kHead + "m=audio 5000 RTP/AVP 0\r\nc=IN IP6 ::\r\na=inactive\r\n");
  ASSERT_TRUE(s.ok());
  SdpRewrite rw;
  rw.media = {relay(30000, 30001)};
  EXPECT_EQ(render_sdp(*s, rw),
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 203.0.113.1\r\nt=0 0\r\n"
            "m=audio 30000 RTP/AVP 0\r\nc=IN IP6 ::\r\na=inactive\r\na=rtcp:30001\r\n");
}

// ---- codec list replacement (transcoding) -----------------------------------

SdpCodec sdp_codec(uint8_t pt, std::string enc, uint32_t clock, uint8_t ch = 1, std::string fmtp = "") {
  SdpCodec c;
  c.payload_type = pt;
  c.encoding = std::move(enc);
  c.clock_rate = clock;
  c.channels = ch;
  c.fmtp = std::move(fmtp);
  return c;
}

TEST(SdpRender, CodecListReplacesFormatsAndRtpmapBlock) {
  auto s = parse_sdp(kHead +
                     "m=audio 5000 RTP/AVPF 0 8 18 101\r\n"
                     "b=AS:80\r\n"
                     "a=mid:0\r\n"
                     "a=rtpmap:0 PCMU/8000\r\n"
                     "a=rtpmap:18 G729/8000\r\n"
                     "a=fmtp:18 annexb=no\r\n"
                     "a=ssrc:1234 cname:x\r\n"
                     "a=rtpmap:101 telephone-event/8000\r\n"
                     "a=fmtp:101 0-15\r\n"
                     "a=rtcp-fb:18 nack\r\n"
                     "a=rtcp-fb:0 nack\r\n"
                     "a=rtcp-fb:* trr-int 100\r\n"
                     "a=ptime:20\r\n"
                     "a=ptime:30\r\n"
                     "a=sendrecv\r\n");
  ASSERT_TRUE(s.ok());
  SdpRewrite rw;
  rw.media = {relay(30000, 30001)};
  rw.media[0].codecs = std::vector<SdpCodec>{
      sdp_codec(0, "PCMU", 8000), sdp_codec(96, "opus", 48000, 2, "useinbandfec=1"),
      sdp_codec(101, "telephone-event", 8000, 1, "0-16")};
  rw.media[0].ptime = 40;
  EXPECT_EQ(render_sdp(*s, rw),
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 203.0.113.1\r\nt=0 0\r\n"
            "m=audio 30000 RTP/AVPF 0 96 101\r\n"
            "b=AS:80\r\n"
            "a=mid:0\r\n"
            "a=rtpmap:0 PCMU/8000\r\n"
            "a=rtpmap:96 opus/48000/2\r\n"
            "a=fmtp:96 useinbandfec=1\r\n"
            "a=rtpmap:101 telephone-event/8000\r\n"
            "a=fmtp:101 0-16\r\n"
            "a=ssrc:1234 cname:x\r\n"
            "a=rtcp-fb:0 nack\r\n"
            "a=rtcp-fb:* trr-int 100\r\n"
            "a=ptime:40\r\n"
            "a=sendrecv\r\n"
            "a=rtcp:30001\r\n");
}

TEST(SdpRender, CodecListWithoutRtpmapLinesAndPtimeInserted) {
  auto s = parse_sdp(kHead + "m=audio 5000 RTP/AVP 0 8\r\na=sendrecv\r\n");
  ASSERT_TRUE(s.ok());
  SdpRewrite rw;
  rw.media = {relay(30000, 30001)};
  rw.media[0].codecs = std::vector<SdpCodec>{sdp_codec(8, "PCMA", 8000)};
  rw.media[0].ptime = 20;
  EXPECT_EQ(render_sdp(*s, rw),
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 203.0.113.1\r\nt=0 0\r\n"
            "m=audio 30000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=ptime:20\r\na=sendrecv\r\n"
            "a=rtcp:30001\r\n");
  // Only a ptime: it follows the last rtpmap/fmtp line; the formats stay.
  auto t = parse_sdp(kHead + "m=audio 5000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
                             "a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n");
  ASSERT_TRUE(t.ok());
  SdpRewrite only_ptime;
  only_ptime.media = {relay(30000, 30001)};
  only_ptime.media[0].ptime = 30;
  EXPECT_EQ(render_sdp(*t, only_ptime),
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 203.0.113.1\r\nt=0 0\r\n"
            "m=audio 30000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
            "a=rtpmap:101 telephone-event/8000\r\na=ptime:30\r\na=sendrecv\r\na=rtcp:30001\r\n");
}

}  // namespace
}  // namespace vox::control
