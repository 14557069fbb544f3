// SRTP at offer/answer, through the NG layer on a fake dataplane: the SDP
// each party sees (protocol, the relay's own a=crypto lines), the SrtpSlots
// the worker holds after applying the commands (suites, directions, keys),
// re-offers keeping or replacing them, errors changing nothing, delete.
#include <gtest/gtest.h>

#include <cstring>
#include <regex>
#include <set>

#include "control/call_manager.h"
#include "control/ng_commands.h"
#include "dataplane/srtp_slot.h"
#include "call_fixture.h"

namespace vox::control {
namespace {

using dataplane::kFlowSrtp;
using dataplane::SrtpDirection;
using dataplane::SrtpSuite;
using testing::FakeDataplane;

constexpr const char* kOfferer = "192.0.2.10";
constexpr const char* kAnswerer = "198.51.100.7";

std::string sdp(int port, const char* addr, const char* proto,
                const std::vector<std::string>& crypto = {}) {
  std::string s = std::string("v=0\r\no=- 1 1 IN IP4 ") + addr + "\r\ns=-\r\nc=IN IP4 " + addr +
                  "\r\nt=0 0\r\nm=audio " + std::to_string(port) + " " + proto +
                  " 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
  for (const auto& c : crypto) s += "a=crypto:" + c + "\r\n";
  return s;
}

struct Line {
  uint32_t tag;
  std::string suite, key;  // key: the base64 text after "inline:"
  std::string rest;        // lifetime, session parameters
};
std::vector<Line> crypto_lines(const std::string& s) {
  std::vector<Line> out;
  static const std::regex re("a=crypto:(\\d+) (\\S+) inline:([A-Za-z0-9+/=]+)([^\r]*)\r\n");
  for (std::sregex_iterator it(s.begin(), s.end(), re), end; it != end; ++it)
    out.push_back({uint32_t(std::stoul((*it)[1])), (*it)[2], (*it)[3], (*it)[4]});
  return out;
}
std::string proto_of(const std::string& s) {
  std::smatch m;
  EXPECT_TRUE(std::regex_search(s, m, std::regex("m=audio \\d+ (\\S+) "))) << s;
  return m.empty() ? "" : std::string(m[1]);
}

// RFC 4648 §4, written independently of control/sdes.cc.
std::vector<uint8_t> base64_decode(std::string_view in) {
  std::vector<uint8_t> out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    acc = acc << 6 | uint32_t(std::strchr(table, c) - table);
    if ((bits += 6) >= 8) out.push_back(uint8_t(acc >> (bits -= 8)));
  }
  return out;
}
std::vector<uint8_t> bytes(const dataplane::SrtpKey& k) {
  return {k.key_salt.begin(), k.key_salt.begin() + k.key_salt_length};
}

// A party's own a=crypto line with a fresh key.
struct PeerLine {
  std::string text;
  dataplane::SrtpKey key;
};
PeerLine peer_line(uint32_t tag, SrtpSuite suite) {
  SdesCrypto c;
  c.tag = tag;
  c.key = *generate_srtp_key(suite);
  return {render_sdes_crypto(c), c.key};
}

NgValue strings(std::initializer_list<const char*> items) {
  NgValue l = NgValue::list();
  for (const char* s : items) l.push(NgValue::str(s));
  return l;
}

struct CallSrtpTest : testing::CallFixture<1> {
  size_t free_pairs = 0;

  void SetUp() override {
    CallFixture::SetUp();
    free_pairs = cm->free_port_pairs();
  }

  NgValue request(const char* command, const std::string& body, const char* from, const char* to,
                  const std::string& call_id, std::vector<std::pair<const char*, NgValue>> extra) {
    NgValue d = NgValue::dict();
    d.set("command", command);
    d.set("call-id", call_id);
    d.set("from-tag", from);
    if (*to) d.set("to-tag", to);
    d.set("sdp", body);
    for (auto& [k, v] : extra) d.set(k, std::move(v));
    NgContext ctx{*cm, now, *Endpoint::parse("127.0.0.1:5060")};
    return handle_ng_request(d, ctx);
  }
  // The rewritten SDP of a successful offer/answer ("" and a failure otherwise).
  std::string ok_sdp(const NgValue& reply) {
    EXPECT_EQ(reply.find_string("result"), "ok") << reply.find_string("error-reason").value_or("");
    return std::string(reply.find_string("sdp").value_or(""));
  }
  std::string offer(const std::string& body,
                    std::vector<std::pair<const char*, NgValue>> extra = {},
                    const std::string& call_id = "call-1", const char* from = "A",
                    const char* to = "") {
    return ok_sdp(request("offer", body, from, to, call_id, std::move(extra)));
  }
  std::string answer(const std::string& body,
                     std::vector<std::pair<const char*, NgValue>> extra = {},
                     const std::string& call_id = "call-1", const char* from = "A",
                     const char* to = "B") {
    return ok_sdp(request("answer", body, from, to, call_id, std::move(extra)));
  }
  std::string error_of(const NgValue& reply) {
    EXPECT_EQ(reply.find_string("result"), "error");
    return std::string(reply.find_string("error-reason").value_or(""));
  }

  const MediaSide& side(int party, const std::string& call_id = "call-1") {
    return cm->find(call_id)->parties[party].media[0];
  }
  dataplane::SrtpSlot* slot(FlowId id) { return plane.state(0).srtp(id); }
  bool flagged(FlowId id) { return plane.state(0).flow(id).state.flags & kFlowSrtp; }

  // Both flows of the side hold their own slot: inbound unprotects with
  // the party's key, outbound protects with the relay's, both `suite`.
  void expect_srtp(const MediaSide& m, SrtpSuite suite) {
    ASSERT_TRUE(m.srtp.has_value());
    EXPECT_EQ(m.srtp->inbound.suite, suite);
    EXPECT_EQ(m.srtp->outbound.suite, suite);
    EXPECT_NE(slot(m.rtp_flow), slot(m.rtcp_flow));
    for (FlowId id : {m.rtp_flow, m.rtcp_flow}) {
      EXPECT_TRUE(flagged(id));
      const dataplane::SrtpSlot* s = slot(id);
      ASSERT_NE(s, nullptr);
      ASSERT_TRUE(s->inbound.has_value());
      ASSERT_TRUE(s->outbound.has_value());
      EXPECT_EQ(s->inbound->suite(), suite);
      EXPECT_EQ(s->inbound->direction(), SrtpDirection::kInbound);
      EXPECT_EQ(s->outbound->suite(), suite);
      EXPECT_EQ(s->outbound->direction(), SrtpDirection::kOutbound);
    }
  }
  void expect_plain(const MediaSide& m) {
    EXPECT_FALSE(m.srtp.has_value());
    for (FlowId id : {m.rtp_flow, m.rtcp_flow}) {
      EXPECT_FALSE(flagged(id));
      EXPECT_EQ(slot(id), nullptr);
    }
  }
  // A call whose offer failed left nothing behind.
  void expect_nothing_left(const std::string& call_id = "call-1") {
    EXPECT_EQ(cm->find(call_id), nullptr);
    EXPECT_TRUE(plane.bound.empty());
    EXPECT_EQ(cm->free_port_pairs(), free_pairs);
    EXPECT_EQ(plane.srtp_commands(), 0);
  }
};

std::pair<const char*, NgValue> transport(const char* proto) {
  return {"transport protocol", NgValue::str(proto)};
}

// --- plain offerer, SRTP answerer ------------------------------------------------------

TEST_F(CallSrtpTest, PlainToSrtpOffersEverySuiteStrongestFirstWithFreshKeys) {
  const std::string to_b = offer(sdp(4000, kOfferer, "RTP/AVP"), {transport("RTP/SAVP")});
  EXPECT_EQ(proto_of(to_b), "RTP/SAVP");
  const auto lines = crypto_lines(to_b);
  const char* order[] = {"AEAD_AES_256_GCM", "AEAD_AES_128_GCM", "AES_256_CM_HMAC_SHA1_80",
                         "AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"};
  const size_t key_salt[] = {44, 28, 46, 30, 30};  // RFC 7714 §12, RFC 6188 §7.1, RFC 4568 §6.2
  ASSERT_EQ(lines.size(), 5u) << to_b;
  std::set<std::string> keys;
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i].tag, i + 1);
    EXPECT_EQ(lines[i].suite, order[i]);
    EXPECT_EQ(base64_decode(lines[i].key).size(), key_salt[i]) << lines[i].key;
    EXPECT_EQ(lines[i].rest, "");  // no session parameters by default
    keys.insert(lines[i].key);
  }
  EXPECT_EQ(keys.size(), 5u);  // a key per line

  // Another call gets other keys.
  const std::string other =
      offer(sdp(4100, kOfferer, "RTP/AVP"), {transport("RTP/SAVP")}, "call-2");
  for (const auto& l : crypto_lines(other)) EXPECT_EQ(keys.count(l.key), 0u) << l.suite;
  EXPECT_EQ(crypto_lines(other).size(), 5u);
  EXPECT_EQ(plane.srtp_commands(), 0);  // nothing installed before the answer
}

TEST_F(CallSrtpTest, AnswerPickingASuiteInstallsItOnBothFlowsOfTheSrtpSideOnly) {
  const SrtpSuite suites[] = {SrtpSuite::kAeadAes256Gcm, SrtpSuite::kAeadAes128Gcm,
                              SrtpSuite::kAes256CmHmacSha1_80, SrtpSuite::kAesCm128HmacSha1_80,
                              SrtpSuite::kAesCm128HmacSha1_32};
  int port = 4000;
  for (SrtpSuite suite : suites) {
    SCOPED_TRACE(std::string(dataplane::srtp_suite_info(suite).name));
    const std::string id = "call-" + std::to_string(port);
    const std::string to_b = offer(sdp(port, kOfferer, "RTP/AVP"), {transport("RTP/SAVP")}, id);
    const auto offered = crypto_lines(to_b);
    const uint32_t tag = uint32_t(suite) + 1;  // offered strongest first, tags 1..5
    ASSERT_EQ(offered.at(tag - 1).suite, dataplane::srtp_suite_info(suite).name);
    const PeerLine b = peer_line(tag, suite);
    const std::string to_a = answer(sdp(port + 1000, kAnswerer, "RTP/SAVP", {b.text}), {}, id);

    EXPECT_EQ(proto_of(to_a), "RTP/AVP");
    EXPECT_EQ(to_a.find("a=crypto"), std::string::npos) << to_a;
    EXPECT_EQ(to_a.find(b.text.substr(b.text.find("inline:"))), std::string::npos);
    expect_plain(side(0, id));
    expect_srtp(side(1, id), suite);
    // Inbound: B's own key; outbound: the key of the line B picked.
    EXPECT_EQ(bytes(side(1, id).srtp->inbound), bytes(b.key));
    EXPECT_EQ(bytes(side(1, id).srtp->outbound), base64_decode(offered[tag - 1].key));
    port += 10;
  }
  EXPECT_EQ(plane.srtp_commands(), 2 * 5);
}

// --- SRTP offerer, plain answerer --------------------------------------------------------

TEST_F(CallSrtpTest, SrtpToPlainAnswersTheOffererWithOneLineOfItsFirstSupportedSuite) {
  const PeerLine a = peer_line(2, SrtpSuite::kAesCm128HmacSha1_80);
  const std::string a_key = a.text.substr(a.text.find("inline:"));
  const std::string to_b =
      offer(sdp(4000, kOfferer, "RTP/SAVP",
                {"1 F8_128_HMAC_SHA1_80 inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJDREVG", a.text}),
            {transport("RTP/AVP")});
  EXPECT_EQ(proto_of(to_b), "RTP/AVP");
  EXPECT_EQ(to_b.find("a=crypto"), std::string::npos) << to_b;
  EXPECT_EQ(to_b.find(a_key), std::string::npos);

  const std::string to_a = answer(sdp(5000, kAnswerer, "RTP/AVP"));
  EXPECT_EQ(proto_of(to_a), "RTP/SAVP");
  const auto lines = crypto_lines(to_a);
  ASSERT_EQ(lines.size(), 1u) << to_a;
  EXPECT_EQ(lines[0].tag, 2u);
  EXPECT_EQ(lines[0].suite, "AES_CM_128_HMAC_SHA1_80");
  EXPECT_EQ(base64_decode(lines[0].key).size(), 30u);
  EXPECT_NE(base64_decode(lines[0].key), bytes(a.key));  // the relay's own key

  expect_srtp(side(0), SrtpSuite::kAesCm128HmacSha1_80);
  EXPECT_EQ(bytes(side(0).srtp->inbound), bytes(a.key));
  EXPECT_EQ(bytes(side(0).srtp->outbound), base64_decode(lines[0].key));
  expect_plain(side(1));
}

TEST_F(CallSrtpTest, SrtpToSrtpIsTerminatedOnBothSidesWithTheRelaysOwnKeys) {
  const PeerLine a = peer_line(1, SrtpSuite::kAeadAes128Gcm);
  const std::string to_b = offer(sdp(4000, kOfferer, "RTP/SAVP", {a.text}));  // no transport key
  EXPECT_EQ(proto_of(to_b), "RTP/SAVP");
  const auto offered = crypto_lines(to_b);
  ASSERT_EQ(offered.size(), 5u);
  for (const auto& l : offered) EXPECT_NE(base64_decode(l.key), bytes(a.key));

  const PeerLine b = peer_line(4, SrtpSuite::kAesCm128HmacSha1_80);
  const std::string to_a = answer(sdp(5000, kAnswerer, "RTP/SAVP", {b.text}));
  EXPECT_EQ(proto_of(to_a), "RTP/SAVP");
  const auto answered = crypto_lines(to_a);
  ASSERT_EQ(answered.size(), 1u);
  EXPECT_EQ(answered[0].suite, "AEAD_AES_128_GCM");
  EXPECT_NE(base64_decode(answered[0].key), bytes(b.key));

  expect_srtp(side(0), SrtpSuite::kAeadAes128Gcm);
  expect_srtp(side(1), SrtpSuite::kAesCm128HmacSha1_80);
  std::set<std::vector<uint8_t>> keys = {
      bytes(side(0).srtp->inbound), bytes(side(0).srtp->outbound), bytes(side(1).srtp->inbound),
      bytes(side(1).srtp->outbound)};
  EXPECT_EQ(keys.size(), 4u);
}

TEST_F(CallSrtpTest, AnswerTransportProtocolAcceptTakesTheAnswerersProfile) {
  offer(sdp(4000, kOfferer, "RTP/AVP"), {transport("RTP/SAVP")});
  const PeerLine b = peer_line(2, SrtpSuite::kAeadAes128Gcm);
  const std::string body = sdp(5000, kAnswerer, "RTP/SAVPF", {b.text});
  EXPECT_EQ(proto_of(answer(body)), "RTP/AVP");  // default: what the offerer offered
  EXPECT_EQ(proto_of(answer(body, {transport("accept")})), "RTP/AVPF");
  // An explicit protocol whose SRTP-ness contradicts the offer: only its
  // profile is taken, with a warning.
  auto r = request("answer", body, "A", "B", "call-1", {transport("RTP/SAVPF")});
  EXPECT_EQ(proto_of(ok_sdp(r)), "RTP/AVPF");
  EXPECT_NE(r.find_string("warning").value_or("").find("does not match the offer"),
            std::string::npos);
  expect_srtp(side(1), SrtpSuite::kAeadAes128Gcm);
  EXPECT_EQ(plane.srtp_commands(), 2);  // the same keys three times: installed once
}

// --- SDES flags ---------------------------------------------------------------------------

TEST_F(CallSrtpTest, SdesFlagsShapeTheRelaysOffer) {
  int n = 0;
  auto offered = [&](std::initializer_list<const char*> sdes, const char* list_key = "SDES") {
    const std::string id = "flags-" + std::to_string(n++);
    return crypto_lines(offer(sdp(4000 + 10 * n, kOfferer, "RTP/AVP"),
                              {transport("RTP/SAVP"), {list_key, strings(sdes)}}, id));
  };
  auto suites = [](const std::vector<Line>& lines) {
    std::vector<std::string> out;
    for (const auto& l : lines) out.push_back(std::to_string(l.tag) + " " + l.suite);
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(suites(offered({"no-AEAD_AES_256_GCM", "no-AES_CM_128_HMAC_SHA1_32"})),
            (V{"1 AEAD_AES_128_GCM", "2 AES_256_CM_HMAC_SHA1_80", "3 AES_CM_128_HMAC_SHA1_80"}));
  EXPECT_EQ(suites(offered({"only-AES_CM_128_HMAC_SHA1_80"})), (V{"1 AES_CM_128_HMAC_SHA1_80"}));
  // The same through "flags": ["SDES-..."].
  EXPECT_EQ(suites(offered({"SDES-only-AEAD_AES_128_GCM", "SDES-pad"}, "flags")),
            (V{"1 AEAD_AES_128_GCM"}));

  // Session parameters: AEAD suites cannot leave SRTP unencrypted or
  // unauthenticated (RFC 7714 §8), so only the AES-CM ones remain.
  for (auto [flag, param] : {std::pair{"unencrypted_srtp", " UNENCRYPTED_SRTP"},
                             std::pair{"UNENCRYPTED_SRTP", " UNENCRYPTED_SRTP"},
                             std::pair{"unauthenticated_srtp", " UNAUTHENTICATED_SRTP"}}) {
    const auto lines = offered({flag});
    EXPECT_EQ(suites(lines), (V{"1 AES_256_CM_HMAC_SHA1_80", "2 AES_CM_128_HMAC_SHA1_80",
                                "3 AES_CM_128_HMAC_SHA1_32"}))
        << flag;
    for (const auto& l : lines) EXPECT_EQ(l.rest, param) << flag;
  }
  for (const auto& l : offered({"unencrypted_srtcp"})) EXPECT_EQ(l.rest, " UNENCRYPTED_SRTCP");
  for (const auto& l : offered({"lifetime"})) EXPECT_EQ(l.rest.substr(0, 5), "|2^31") << l.rest;

  // Padding: 28 octets of AEAD_AES_128_GCM key||salt are 38 base64
  // characters, or 40 with "==".
  auto gcm128 = [](const std::vector<Line>& lines) {
    for (const auto& l : lines)
      if (l.suite == "AEAD_AES_128_GCM") return l.key;
    return std::string();
  };
  EXPECT_EQ(gcm128(offered({})).size(), 38u);
  const std::string padded = gcm128(offered({"pad"}));
  EXPECT_EQ(padded.size(), 40u);
  EXPECT_EQ(padded.substr(38), "==");
}

// With nothing left to offer by SDES the relay offers DTLS-SRTP
// (call_webrtc_sdp_test.cc), unless DTLS is off too; without a DTLS
// certificate (this fixture has none) that is an error as well.
TEST_F(CallSrtpTest, FlagsLeavingNothingToOfferAreAnErrorAndCreateNothing) {
  const std::string body = sdp(4000, kOfferer, "RTP/AVP");
  EXPECT_EQ(error_of(request("offer", body, "A", "", "call-1",
                             {transport("RTP/SAVP"), {"SDES", strings({"off"})},
                              {"DTLS", NgValue::str("off")}})),
            "No acceptable SDES crypto suite");
  EXPECT_EQ(
      error_of(request("offer", body, "A", "", "call-1",
                       {transport("RTP/SAVP"), {"SDES", strings({"only-F8_128_HMAC_SHA1_80"})},
                        {"flags", strings({"DTLS=no"})}})),
      "No acceptable SDES crypto suite");
  EXPECT_EQ(error_of(request("offer", body, "A", "", "call-1",
                             {transport("RTP/SAVP"), {"SDES", strings({"off"})}})),
            "DTLS-SRTP is not available: the relay has no DTLS certificate");
  expect_nothing_left();
  // "off" towards a plain side changes nothing.
  EXPECT_EQ(crypto_lines(offer(body, {{"SDES", strings({"off"})}})).size(), 0u);
}

// rtpengine logs an SDES flag or a transport protocol it does not know and
// goes on; only what cannot be done (DTLS without a certificate) fails.
TEST_F(CallSrtpTest, UnknownFlagsAndProtocolsAreIgnored) {
  const std::string body = sdp(4000, kOfferer, "RTP/AVP");
  const NgValue ignored[] = {
      request("offer", body, "A", "", "call-1", {{"SDES", strings({"bogus"})}}),
      request("offer", body, "A", "", "call-2", {{"flags", strings({"SDES-no-"})}}),
      request("offer", body, "A", "", "call-3", {transport("RTP/XYZ")}),
  };
  for (const NgValue& r : ignored) {
    ASSERT_EQ(r.find_string("result"), "ok") << r.find_string("error-reason").value_or("");
    const std::string out(r.find_string("sdp").value_or(""));
    EXPECT_NE(out.find(" RTP/AVP "), std::string::npos) << out;
    EXPECT_EQ(out.find("a=crypto"), std::string::npos) << out;
  }
  EXPECT_EQ(error_of(request("offer", body, "A", "", "call-4", {transport("UDP/TLS/RTP/SAVPF")})),
            "DTLS-SRTP is not available: the relay has no DTLS certificate");
  EXPECT_EQ(cm->find("call-4"), nullptr);
}

// SDES-nonew: the relay offers the callee only the suites the caller
// offered (rtpengine's docs: no new suite is generated); SDES-order puts
// the named suites first.
TEST_F(CallSrtpTest, NonewOffersOnlyTheOfferersSuites) {
  const std::string body = sdp(4000, kOfferer, "RTP/SAVP",
                               {"1 AES_CM_128_HMAC_SHA1_80 inline:4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm",
                                "2 AES_CM_128_HMAC_SHA1_32 inline:4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm"});
  NgValue r = request("offer", body, "A", "", "call-1",
                      {{"SDES", strings({"nonew", "order:AES_CM_128_HMAC_SHA1_32"})}});
  ASSERT_EQ(r.find_string("result"), "ok") << r.find_string("error-reason").value_or("");
  const auto& offered = cm->find("call-1")->parties[1].media[0].sdes_offer;
  ASSERT_EQ(offered.size(), 2u);
  EXPECT_EQ(offered[0].key.suite, SrtpSuite::kAesCm128HmacSha1_32);
  EXPECT_EQ(offered[1].key.suite, SrtpSuite::kAesCm128HmacSha1_80);
}

// --- the offerer's keys ----------------------------------------------------------------------

TEST_F(CallSrtpTest, BrokenOfferedKeysAreNgErrorsAndLeakNothing) {
  struct Case {
    const char* line;
    const char* reason;
  } cases[] = {
      {"1 AES_CM_128_HMAC_SHA1_80 inline:!!!!DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm",
       "Invalid base64 in SDES key"},
      {"1 AES_CM_128_HMAC_SHA1_80 inline:4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7r",
       "Invalid SDES key length"},
      {"1 AEAD_AES_256_GCM inline:4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm",
       "Invalid SDES key length"},
      {"1 F8_128_HMAC_SHA1_80 inline:4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm",
       "No acceptable SDES crypto suite"},  // an unknown suite only
      {"1 AES_CM_128_HMAC_SHA1_80", "Invalid SDES crypto attribute"},
  };
  for (const auto& c : cases) {
    auto r = request("offer", sdp(4000, kOfferer, "RTP/SAVP", {c.line}), "A", "", "call-1",
                     {transport("RTP/AVP")});
    EXPECT_EQ(error_of(r), c.reason) << c.line;
  }
  // SAVP without any a=crypto.
  EXPECT_EQ(error_of(request("offer", sdp(4000, kOfferer, "RTP/SAVP"), "A", "", "call-1", {})),
            "No acceptable SDES crypto suite");
  expect_nothing_left();
  EXPECT_EQ(cm->stats().errors, 6u);
}

TEST_F(CallSrtpTest, BrokenAnswersAreNgErrorsAndChangeNothing) {
  const std::string to_b = offer(sdp(4000, kOfferer, "RTP/AVP"), {transport("RTP/SAVP")});
  const PeerLine good = peer_line(2, SrtpSuite::kAeadAes128Gcm);
  const std::string key = good.text.substr(good.text.find(" inline:"));
  struct Case {
    std::vector<std::string> lines;
    const char* reason;
  } cases[] = {
      {{"2 AEAD_AES_128_GCM inline:!!!!"}, "Invalid base64 in SDES key"},
      {{"2 AEAD_AES_128_GCM inline:AAECAwQFBgcICQoLDA0OD6Ch"}, "Invalid SDES key length"},
      {{"2 F8_128_HMAC_SHA1_80" + key}, "Unknown SDES crypto suite"},
      {{"9 AEAD_AES_128_GCM" + key}, "SDES answer does not match the offer"},  // tag never offered
      {{"1 AEAD_AES_128_GCM" + key}, "SDES answer does not match the offer"},  // tag 1 is 256-bit
      {{good.text, good.text}, "SDES answer does not match the offer"},        // RFC 4568 §7.1.2
      {{}, "SDES answer does not match the offer"},                            // SAVP, no key
  };
  for (const auto& c : cases) {
    auto r = request("answer", sdp(5000, kAnswerer, "RTP/SAVP", c.lines), "A", "B", "call-1", {});
    EXPECT_EQ(error_of(r), c.reason) << (c.lines.empty() ? "" : c.lines[0]);
  }
  EXPECT_FALSE(cm->find("call-1")->answered);
  expect_plain(side(1));
  EXPECT_EQ(plane.srtp_commands(), 0);
  EXPECT_EQ(plane.bound.size(), 4u);
  // The offer still stands: a good answer completes it.
  answer(sdp(5000, kAnswerer, "RTP/SAVP", {good.text}));
  expect_srtp(side(1), SrtpSuite::kAeadAes128Gcm);
  EXPECT_EQ(crypto_lines(to_b).size(), 5u);
}

TEST_F(CallSrtpTest, AnswererDecliningSrtpIsRelayedPlain) {
  offer(sdp(4000, kOfferer, "RTP/AVP"), {transport("RTP/SAVP")});
  const std::string to_a = answer(sdp(5000, kAnswerer, "RTP/AVP"));
  EXPECT_EQ(proto_of(to_a), "RTP/AVP");
  expect_plain(side(0));
  expect_plain(side(1));
  EXPECT_EQ(plane.srtp_commands(), 0);
}

// --- re-offers ------------------------------------------------------------------------------

TEST_F(CallSrtpTest, UnchangedReofferKeepsTheInstalledSlots) {
  const PeerLine a = peer_line(1, SrtpSuite::kAesCm128HmacSha1_80);
  const std::string first_b = offer(sdp(4000, kOfferer, "RTP/SAVP", {a.text}));
  const PeerLine b = peer_line(2, SrtpSuite::kAeadAes128Gcm);
  const std::string first_a = answer(sdp(5000, kAnswerer, "RTP/SAVP", {b.text}));
  const dataplane::SrtpSlot* slots[] = {slot(side(0).rtp_flow), slot(side(0).rtcp_flow),
                                        slot(side(1).rtp_flow), slot(side(1).rtcp_flow)};
  ASSERT_EQ(plane.srtp_commands(), 4);

  // Same keys both ways: the relay re-offers and re-answers its own keys
  // unchanged, and no slot is replaced (replay windows, ROCs survive).
  const std::string again_b = offer(sdp(4000, kOfferer, "RTP/SAVP", {a.text}));
  EXPECT_EQ(crypto_lines(again_b).size(), 5u);
  for (size_t i = 0; i < 5; ++i)
    EXPECT_EQ(crypto_lines(again_b)[i].key, crypto_lines(first_b)[i].key);
  const std::string again_a = answer(sdp(5000, kAnswerer, "RTP/SAVP", {b.text}));
  EXPECT_EQ(crypto_lines(again_a).at(0).key, crypto_lines(first_a).at(0).key);
  EXPECT_EQ(plane.srtp_commands(), 4);
  const dataplane::SrtpSlot* now_slots[] = {slot(side(0).rtp_flow), slot(side(0).rtcp_flow),
                                            slot(side(1).rtp_flow), slot(side(1).rtcp_flow)};
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(now_slots[i], slots[i]) << i;
}

TEST_F(CallSrtpTest, ReofferFromTheAnswererWithItsKeyKeepsTheSlots) {
  offer(sdp(4000, kOfferer, "RTP/AVP"), {transport("RTP/SAVP")});
  const PeerLine b = peer_line(2, SrtpSuite::kAeadAes128Gcm);
  answer(sdp(5000, kAnswerer, "RTP/SAVP", {b.text}));
  const std::vector<uint8_t> relay_key = bytes(side(1).srtp->outbound);
  ASSERT_EQ(plane.srtp_commands(), 2);

  // B re-INVITEs, offering the key it has; the relay answers it with the
  // key B already has, and A stays plain.
  offer(sdp(5000, kAnswerer, "RTP/SAVP", {b.text}), {transport("RTP/AVP")}, "call-1", "B", "A");
  const std::string to_b = answer(sdp(4000, kOfferer, "RTP/AVP"), {}, "call-1", "B", "A");
  ASSERT_EQ(crypto_lines(to_b).size(), 1u);
  EXPECT_EQ(base64_decode(crypto_lines(to_b)[0].key), relay_key);
  EXPECT_EQ(plane.srtp_commands(), 2);
  expect_srtp(side(1), SrtpSuite::kAeadAes128Gcm);
  expect_plain(side(0));
}

TEST_F(CallSrtpTest, ReofferWithANewKeyReplacesTheSlotsAndGetsANewRelayKey) {
  const PeerLine a1 = peer_line(1, SrtpSuite::kAesCm128HmacSha1_80);
  offer(sdp(4000, kOfferer, "RTP/SAVP", {a1.text}), {transport("RTP/AVP")});
  const std::string first = answer(sdp(5000, kAnswerer, "RTP/AVP"));
  ASSERT_EQ(plane.srtp_commands(), 2);

  const PeerLine a2 = peer_line(1, SrtpSuite::kAesCm128HmacSha1_80);  // same tag and suite
  offer(sdp(4000, kOfferer, "RTP/SAVP", {a2.text}), {transport("RTP/AVP")});
  const std::string second = answer(sdp(5000, kAnswerer, "RTP/AVP"));
  EXPECT_EQ(plane.srtp_commands(), 4);
  expect_srtp(side(0), SrtpSuite::kAesCm128HmacSha1_80);
  EXPECT_EQ(bytes(side(0).srtp->inbound), bytes(a2.key));
  ASSERT_EQ(crypto_lines(second).size(), 1u);
  EXPECT_NE(crypto_lines(second)[0].key, crypto_lines(first).at(0).key);  // new relay key
  EXPECT_EQ(bytes(side(0).srtp->outbound), base64_decode(crypto_lines(second)[0].key));

  // A changes suite: new slots with the new suite.
  const PeerLine a3 = peer_line(3, SrtpSuite::kAeadAes256Gcm);
  offer(sdp(4000, kOfferer, "RTP/SAVP", {a3.text}), {transport("RTP/AVP")});
  answer(sdp(5000, kAnswerer, "RTP/AVP"));
  EXPECT_EQ(plane.srtp_commands(), 6);
  expect_srtp(side(0), SrtpSuite::kAeadAes256Gcm);
  expect_plain(side(1));
}

TEST_F(CallSrtpTest, AnswererRekeyingReplacesItsSlotsOnly) {
  const PeerLine a = peer_line(1, SrtpSuite::kAesCm128HmacSha1_80);
  offer(sdp(4000, kOfferer, "RTP/SAVP", {a.text}));
  answer(sdp(5000, kAnswerer, "RTP/SAVP", {peer_line(4, SrtpSuite::kAesCm128HmacSha1_80).text}));
  const std::vector<uint8_t> relay_to_b = bytes(side(1).srtp->outbound);
  ASSERT_EQ(plane.srtp_commands(), 4);

  const std::string to_b = offer(sdp(4000, kOfferer, "RTP/SAVP", {a.text}));
  const PeerLine b2 = peer_line(4, SrtpSuite::kAesCm128HmacSha1_80);
  answer(sdp(5000, kAnswerer, "RTP/SAVP", {b2.text}));
  EXPECT_EQ(plane.srtp_commands(), 6);  // B's two flows
  EXPECT_EQ(bytes(side(1).srtp->inbound), bytes(b2.key));
  EXPECT_EQ(bytes(side(1).srtp->outbound), relay_to_b);  // B already had the relay's key
  EXPECT_EQ(base64_decode(crypto_lines(to_b).at(3).key), relay_to_b);
  expect_srtp(side(0), SrtpSuite::kAesCm128HmacSha1_80);
}

TEST_F(CallSrtpTest, ReofferDroppingSrtpGoesPlainOnBothFlows) {
  const PeerLine a = peer_line(1, SrtpSuite::kAeadAes128Gcm);
  offer(sdp(4000, kOfferer, "RTP/SAVP", {a.text}));
  answer(sdp(5000, kAnswerer, "RTP/SAVP", {peer_line(2, SrtpSuite::kAeadAes128Gcm).text}));
  ASSERT_EQ(plane.srtp_commands(), 4);

  const std::string to_b = offer(sdp(4000, kOfferer, "RTP/AVP"));
  EXPECT_EQ(proto_of(to_b), "RTP/AVP");
  EXPECT_EQ(to_b.find("a=crypto"), std::string::npos);
  answer(sdp(5000, kAnswerer, "RTP/AVP"));
  EXPECT_EQ(plane.srtp_commands(), 8);  // kSetSrtp(null) on all four flows
  expect_plain(side(0));
  expect_plain(side(1));
}

// --- query and delete -------------------------------------------------------------------

TEST_F(CallSrtpTest, QueryNamesTheSuiteOfEachDirection) {
  offer(sdp(4000, kOfferer, "RTP/AVP"), {transport("RTP/SAVP")});
  answer(sdp(5000, kAnswerer, "RTP/SAVP", {peer_line(4, SrtpSuite::kAesCm128HmacSha1_80).text}));
  NgValue q = NgValue::dict();
  q.set("command", "query");
  q.set("call-id", "call-1");
  NgContext ctx{*cm, now, *Endpoint::parse("127.0.0.1:5060")};
  NgValue v = handle_ng_request(q, ctx);
  const NgValue* tags = v.find("tags");
  ASSERT_NE(tags, nullptr);
  const NgValue& media_b = tags->find("B")->find("medias")->as_list().at(0);
  EXPECT_EQ(media_b.find("SRTP")->find_string("inbound"), "AES_CM_128_HMAC_SHA1_80");
  EXPECT_EQ(media_b.find("SRTP")->find_string("outbound"), "AES_CM_128_HMAC_SHA1_80");
  EXPECT_EQ(media_b.find_strings("flags"), std::vector<std::string_view>{"SDES"});
  for (const NgValue& s : media_b.find("streams")->as_list())
    EXPECT_EQ(s.find_string("crypto suite"), "AES_CM_128_HMAC_SHA1_80");
  const NgValue& media_a = tags->find("A")->find("medias")->as_list().at(0);
  EXPECT_EQ(media_a.find("SRTP"), nullptr);
  for (const NgValue& s : media_a.find("streams")->as_list())
    EXPECT_EQ(s.find("crypto suite"), nullptr);
  // SRTP drop reasons are listed per stream like every other.
  const NgValue& drops = *media_b.find("streams")->as_list().at(0).find("stats")->find("drops");
  EXPECT_NE(drops.find("srtp-auth-failed"), nullptr);
  EXPECT_NE(drops.find("srtp-replayed"), nullptr);
}

TEST_F(CallSrtpTest, DeleteFreesEverySlot) {
  offer(sdp(4000, kOfferer, "RTP/SAVP", {peer_line(1, SrtpSuite::kAeadAes256Gcm).text}));
  answer(sdp(5000, kAnswerer, "RTP/SAVP", {peer_line(1, SrtpSuite::kAeadAes256Gcm).text}));
  const FlowId flows[] = {side(0).rtp_flow, side(0).rtcp_flow, side(1).rtp_flow, side(1).rtcp_flow};
  for (FlowId id : flows) ASSERT_NE(slot(id), nullptr);
  ASSERT_TRUE(cm->remove("call-1", "A", "", "", 0, now).ok());
  cm->tick(now);
  EXPECT_EQ(cm->find("call-1"), nullptr);
  for (FlowId id : flows) {
    EXPECT_EQ(slot(id), nullptr);  // deleted by the worker with the flow (ASan: no leak)
    EXPECT_FALSE(flagged(id));
  }
  EXPECT_TRUE(plane.bound.empty());
}

}  // namespace
}  // namespace vox::control
