// A call's saved state (control/ha/call_state.h) and CallManager::restore:
// the document carries every field back (encode, decode, encode again is
// the same text); a call restored into another call manager, on another
// dataplane, runs on the same ports with the same SRTP keys, transcoders
// and latched sources; a restore that cannot bind changes nothing; the
// state sink hears of every change; bad documents are refused by name;
// any call-id text survives the trip.
#include <gtest/gtest.h>

#include <regex>

#include "control/call_manager.h"
#include "control/ha/call_state.h"
#include "control/srtp_negotiation.h"
#include "dataplane/srtp_slot.h"
#include "dataplane/transcode.h"
#include "call_fixture.h"

namespace vox::control {
namespace {

using testing::FakeDataplane;

std::string offer_sdp(int port, const char* proto = "RTP/AVP", const std::string& extra = "") {
  return "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
         "m=audio " + std::to_string(port) + " " + proto + " 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n"
         "a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n" + extra;
}

std::string answer_sdp(int port, const std::string& fmts, const std::string& lines,
                       const char* proto = "RTP/AVP") {
  return "v=0\r\no=- 2 2 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n"
         "m=audio " + std::to_string(port) + " " + proto + " " + fmts + "\r\n" + lines;
}

int pt_of(const std::string& sdp, const std::string& encoding) {
  std::smatch m;
  EXPECT_TRUE(std::regex_search(sdp, m, std::regex("a=rtpmap:(\\d+) " + encoding))) << sdp;
  return m.empty() ? -1 : std::stoi(m[1]);
}

// Records what the call manager tells its state sink.
struct Sink : CallManager::StateSink {
  std::vector<std::string> events;
  void changed(const Call& c) override { events.push_back("changed " + c.id); }
  void gone(const std::string& id) override { events.push_back("gone " + id); }
};

struct CallRestoreTest : testing::CallFixture<1> {
  // A second relay on its own dataplane, same configuration: the restarted one.
  FakeDataplane plane2{1};
  std::unique_ptr<CallManager> cm2;

  void SetUp() override {
    CallFixture::SetUp();
    cm2 = std::make_unique<CallManager>(config, plane2);
  }
  SignalRequest req(const std::string& call_id, const std::string& body, const char* to = "") {
    SignalRequest r;
    r.call_id = call_id;
    r.from_tag = "A";
    r.to_tag = to;
    r.sdp = body;
    return r;
  }
  // PCMU caller, Opus callee: a transcoder each way.
  void transcoded_call(const std::string& id) {
    SignalRequest o = req(id, offer_sdp(4000));
    o.codec.transcode.push_back(*parse_codec_spec("opus"));
    auto off = cm->offer(o, now);
    ASSERT_TRUE(off.ok()) << off.error().message();
    const std::string opus = std::to_string(pt_of(off->sdp, "opus/48000/2"));
    auto ans = cm->answer(req(id, answer_sdp(5000, opus, "a=rtpmap:" + opus + " opus/48000/2\r\n"), "B"), now);
    ASSERT_TRUE(ans.ok()) << ans.error().message();
  }
  // RTP/AVP caller, SDES-SRTP callee: the relay terminates SRTP on B's side.
  void srtp_call(const std::string& id) {
    SignalRequest o = req(id, offer_sdp(4002));
    o.transport_protocol = "RTP/SAVP";
    auto off = cm->offer(o, now);
    ASSERT_TRUE(off.ok()) << off.error().message();
    std::smatch m;
    ASSERT_TRUE(std::regex_search(off->sdp, m, std::regex("a=crypto:(\\d+ AES_CM_128_HMAC_SHA1_80 inline:[^\r]+)")));
    // B answers with the relay's first line's tag and suite, and its own key.
    SdesCrypto mine;
    mine.tag = std::stoul(std::string(m[1]).substr(0, std::string(m[1]).find(' ')));
    mine.key = *generate_srtp_key(dataplane::SrtpSuite::kAesCm128HmacSha1_80);
    auto ans = cm->answer(req(id, answer_sdp(5002, "0", "a=rtpmap:0 PCMU/8000\r\na=crypto:" +
                                                            render_sdes_crypto(mine) + "\r\n",
                                             "RTP/SAVP"),
                              "B"),
                          now);
    ASSERT_TRUE(ans.ok()) << ans.error().message();
  }
  const Call& call(const CallManager& m, const std::string& id) { return *m.find(id); }
  // Moves call `id` from cm to cm2 through its saved state.
  void restore_in_cm2(const std::string& id) {
    auto decoded = decode_call(encode_call(call(*cm, id)));
    ASSERT_TRUE(decoded.ok()) << decoded.error();
    auto up = cm2->restore(std::move(*decoded), now);
    ASSERT_TRUE(up.ok()) << up.error();
  }
};

TEST_F(CallRestoreTest, EveryFieldRoundTrips) {
  transcoded_call("t");
  srtp_call("s");
  for (const char* id : {"t", "s"}) {
    const std::string saved = encode_call(call(*cm, id));
    auto decoded = decode_call(saved);
    ASSERT_TRUE(decoded.ok()) << decoded.error();
    EXPECT_EQ(encode_call(**decoded), saved);
  }
  // What the transcoded call keeps: the plan each way.
  EXPECT_NE(encode_call(call(*cm, "t")).find("\"transcode\":{"), std::string::npos);
  EXPECT_NE(encode_call(call(*cm, "s")).find("AES_CM_128_HMAC_SHA1_80"), std::string::npos);
}

TEST_F(CallRestoreTest, RestoredCallRunsOnTheSamePortsWithTheSameKeysAndTranscoders) {
  transcoded_call("t");
  srtp_call("s");
  const size_t free_before = cm2->free_port_pairs();
  restore_in_cm2("t");
  restore_in_cm2("s");
  EXPECT_EQ(cm2->free_port_pairs(), free_before - 4);
  EXPECT_EQ(cm2->stats().calls_restored, 2u);
  EXPECT_EQ(cm2->stats().calls_created, 0u);

  for (const char* id : {"t", "s"})
    for (int p = 0; p < 2; ++p) {
      const MediaSide& was = call(*cm, id).parties[p].media[0];
      const MediaSide& now_side = call(*cm2, id).parties[p].media[0];
      EXPECT_EQ(now_side.rtp_port, was.rtp_port);
      EXPECT_TRUE(same_srtp_keys(now_side.srtp, was.srtp));
      EXPECT_EQ(now_side.transcode_description, was.transcode_description);
      EXPECT_EQ(now_side.transcoder != nullptr, was.transcoder != nullptr);
      // The worker has the flows: the port, where media goes, its contexts.
      const auto& flow = plane2.state(0).flow(now_side.rtp_flow);
      EXPECT_EQ(dataplane::local_key_port(flow.state.key), was.rtp_port);
      EXPECT_TRUE(flow.state.flags & dataplane::kFlowEnabled);
      EXPECT_EQ(flow.state.sdp_source, was.sdp_rtp);
      EXPECT_EQ(bool(flow.state.flags & dataplane::kFlowSrtp), was.srtp.has_value());
      EXPECT_EQ(bool(flow.state.flags & dataplane::kFlowTranscode), was.transcoder != nullptr);
      EXPECT_EQ(plane2.state(0).srtp(now_side.rtp_flow) != nullptr, was.srtp.has_value());
    }
  // A restored call is an ordinary one: deleted, its ports come back.
  ASSERT_TRUE(cm2->remove("t", "A", "", "", 0, now).ok());
  cm2->reap("t", now);
  ASSERT_TRUE(cm2->remove("s", "A", "", "", 0, now).ok());
  cm2->reap("s", now);
  EXPECT_EQ(cm2->free_port_pairs(), free_before);
  EXPECT_EQ(cm2->find("t"), nullptr);
}

TEST_F(CallRestoreTest, LatchedSourceIsKeptAndInstalled) {
  transcoded_call("t");
  // The sweep sees where A's flow latched and keeps it with the call.
  Sink sink;
  cm->set_state_sink(&sink);
  const MediaSide& a = call(*cm, "t").parties[0].media[0];
  const Endpoint nat = *Endpoint::parse("192.0.2.99:61000");
  auto& f = plane.state(0).flow(a.rtp_flow);
  f.state.latched = 1;
  f.state.source = nat;
  f.published.publish(nat);
  cm->tick(now);
  EXPECT_EQ(a.latched_rtp, nat);
  ASSERT_EQ(sink.events, std::vector<std::string>{"changed t"});
  cm->tick(now);  // nothing new
  EXPECT_EQ(sink.events.size(), 1u);
  cm->set_state_sink(nullptr);

  restore_in_cm2("t");
  const MediaSide& a2 = call(*cm2, "t").parties[0].media[0];
  const auto& f2 = plane2.state(0).flow(a2.rtp_flow);
  EXPECT_EQ(f2.state.latched, 1);
  EXPECT_EQ(f2.state.source, nat);
}

// The sweep keeps each party's RTP stream (SSRC, rollover counter) with the
// call; after a restore the new flow's wraps add to the saved counter.
TEST_F(CallRestoreTest, SentStreamAndItsRolloverCounterAreKept) {
  srtp_call("s");
  Sink sink;
  cm->set_state_sink(&sink);
  const MediaSide& b = call(*cm, "s").parties[1].media[0];
  auto& rx = plane.state(0).flow(b.rtp_flow).rx;
  rx.received = 70000;
  rx.extended_max = (1u << 16) | 4000;  // wrapped once
  rx.source = dataplane::FlowReception::key(0xB0B, 0);
  cm->tick(now);
  EXPECT_EQ(b.sent_stream, (MediaSide::SentStream{0xB0B, 1, true}));
  ASSERT_EQ(sink.events, std::vector<std::string>{"changed s"});
  cm->set_state_sink(nullptr);

  restore_in_cm2("s");
  const MediaSide& b2 = call(*cm2, "s").parties[1].media[0];
  EXPECT_EQ(b2.roc_base, (MediaSide::SentStream{0xB0B, 1, true}));
  // The restored flow saw the stream wrap once more: 2 in all.
  auto& rx2 = plane2.state(0).flow(b2.rtp_flow).rx;
  rx2.received = 100;
  rx2.extended_max = (1u << 16) | 10;
  rx2.source = dataplane::FlowReception::key(0xB0B, 0);
  cm2->set_state_sink(&sink);  // the sweep looks only where there is a store
  cm2->tick(now);
  cm2->set_state_sink(nullptr);
  EXPECT_EQ(b2.sent_stream, (MediaSide::SentStream{0xB0B, 2, true}));
}

TEST_F(CallRestoreTest, PortTakenRestoresNothing) {
  srtp_call("s");
  const size_t free_before = cm2->free_port_pairs();
  plane2.busy_ports.insert(call(*cm, "s").parties[1].media[0].rtp_port);
  auto decoded = decode_call(encode_call(call(*cm, "s")));
  ASSERT_TRUE(decoded.ok());
  auto up = cm2->restore(std::move(*decoded), now);
  ASSERT_FALSE(up.ok());
  EXPECT_NE(up.error().find("cannot bind"), std::string::npos) << up.error();
  EXPECT_EQ(cm2->find("s"), nullptr);
  EXPECT_EQ(cm2->free_port_pairs(), free_before);
  EXPECT_TRUE(plane2.bound.empty());
  // Once free, the same state comes up; a second restore of it is refused.
  plane2.busy_ports.clear();
  restore_in_cm2("s");
  auto twice = decode_call(encode_call(call(*cm, "s")));
  ASSERT_TRUE(twice.ok());
  auto again = cm2->restore(std::move(*twice), now);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error(), "the call exists");
}

TEST_F(CallRestoreTest, TimersGoOnFromTheSavedWallClock) {
  transcoded_call("t");
  config.offer_timeout_s = 3600;
  config.timeout_s = 60;
  // Restored 50 s after its last signal: 50 s of its 60 s timeout are gone
  // only if no media moves; media counts as seen at the restore.
  auto later = now;
  later.mono_ns += 50'000'000'000;
  later.unix_s += 50;
  auto decoded = decode_call(encode_call(call(*cm, "t")));
  ASSERT_TRUE(decoded.ok());
  ASSERT_TRUE(cm2->restore(std::move(*decoded), later).ok());
  EXPECT_EQ(call(*cm2, "t").created_unix, now.unix_s);
  EXPECT_EQ(call(*cm2, "t").created_ns, later.mono_ns - 50'000'000'000);
  auto t = later;
  t.mono_ns += 59'000'000'000;
  EXPECT_EQ(cm2->tick(t), 0u);
  t.mono_ns += 2'000'000'000;
  EXPECT_EQ(cm2->tick(t), 1u);  // 61 s without media since the restore
}

TEST_F(CallRestoreTest, SinkHearsOfferAnswerDeleteAndTimeout) {
  Sink sink;
  cm->set_state_sink(&sink);
  transcoded_call("t");
  srtp_call("s");
  ASSERT_TRUE(cm->remove("t", "A", "", "", 0, now).ok());
  cm->reap("t", now);
  auto t = now;
  t.mono_ns += int64_t(config.timeout_s + 1) * 1'000'000'000;
  EXPECT_EQ(cm->tick(t), 1u);
  EXPECT_EQ(sink.events, (std::vector<std::string>{"changed t", "changed t", "changed s",
                                                   "changed s", "gone t", "gone s"}));
  // Shutdown is not the end of a call: the saved state stays.
  transcoded_call("u");
  cm->destroy_all();
  EXPECT_EQ(sink.events.back(), "changed u");
}

TEST(CallStateTest, BadDocumentsAreRefusedByName) {
  EXPECT_EQ(decode_call("").error(), "not a JSON object");
  EXPECT_EQ(decode_call("[1]").error(), "not a JSON object");
  EXPECT_NE(decode_call(R"({"v":3})").error().find("layout version 3, this relay reads 1 to 2"),
            std::string::npos);
  EXPECT_NE(decode_call(R"({"v":0})").error().find("layout version 0"), std::string::npos);
  EXPECT_NE(decode_call(R"({"v":1})").error().find("'id' not found"), std::string::npos);

  Call c;
  c.id = "x";
  c.parties[0].media.resize(1);
  SdesSession keys;
  keys.tag = 1;
  keys.inbound = *generate_srtp_key(dataplane::SrtpSuite::kAesCm128HmacSha1_80);
  keys.outbound = *generate_srtp_key(dataplane::SrtpSuite::kAesCm128HmacSha1_80);
  c.parties[0].media[0].srtp = keys;
  std::string doc = encode_call(c);
  ASSERT_TRUE(decode_call(doc).ok());
  const size_t at = doc.find("inline:");
  ASSERT_NE(at, std::string::npos);
  doc.replace(at, 7, "inlin:");
  EXPECT_NE(decode_call(doc).error().find("a=crypto"), std::string::npos);
  c.parties[0].media[0].direction = MediaDirection::kRecvOnly;
  doc = encode_call(c);
  const std::string direction = "\"direction\":" + std::to_string(int(MediaDirection::kRecvOnly));
  doc.replace(doc.find(direction), direction.size(), "\"direction\":9");
  EXPECT_NE(decode_call(doc).error().find("enum value 9"), std::string::npos);
  // Numbers out of their field's range, or not integers, are refused by
  // value (casting them would be undefined).
  for (const char* port : {"70000", "-1", "1e300", "2.5"}) {
    doc = encode_call(c);
    const std::string field = "\"port\":0";
    ASSERT_NE(doc.find(field), std::string::npos);
    doc.replace(doc.find(field), field.size(), std::string("\"port\":") + port);
    EXPECT_NE(decode_call(doc).error().find("number "), std::string::npos) << port;
  }
}

// Members at their defaults are left out (layout 2) and read back as those
// defaults; a layout-1 document, every member written, still reads.
TEST(CallStateTest, DefaultsAreLeftOutAndLayoutOneStillReads) {
  Call c;
  c.id = "x";
  c.parties[0].tag = "a";
  c.parties[0].media.resize(1);
  c.parties[0].media[0].type = "audio";
  c.parties[0].media[0].proto = "RTP/AVP";
  c.parties[1].label = "callee";
  c.parties[1].media.resize(1);
  c.parties[1].media[0].direction = MediaDirection::kSendOnly;
  c.parties[1].media[0].ice.local_ufrag = "u";
  const std::string doc = encode_call(c);
  for (const char* absent : {"\"label\":\"\"", "\"rejected\"", "\"srtp\"", "\"ice_peer\"", "\"mid\""})
    EXPECT_EQ(doc.find(absent), std::string::npos) << absent;
  EXPECT_NE(doc.find("\"label\":\"callee\""), std::string::npos);
  auto back = decode_call(doc);
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ((*back)->parties[1].label, "callee");
  EXPECT_EQ((*back)->parties[1].media[0].direction, MediaDirection::kSendOnly);
  EXPECT_EQ((*back)->parties[1].media[0].ice.local_ufrag, "u");
  EXPECT_EQ((*back)->parties[0].media[0].direction, MediaDirection::kSendRecv);
  EXPECT_EQ(encode_call(**back), doc);

  const std::string v1 = R"({"v":1,"id":"old","worker":0,"parties":[{"address":null,"tag":"a","label":"l","via_branch":"","branch":0,"iface":0,"has_sdp":true,"policy":[false,true,false],"mux_accept":false,"mux_reject":false,"dtls_reverse_passive":null,"media":[{"type":"audio","proto":"RTP/AVP","port":30072,"sdp_rtp":["127.0.0.1",2000],"sdp_rtcp":["127.0.0.1",2001],"latched_rtp":["::",0],"latched_rtcp":["::",0],"stream":[0,0,false],"offered_mux":false,"uses_mux":false,"rejected":false,"relay_offered_mux":false,"direction":0,"codec":"PCMU/8000","clocks":[[0,8000]],"offer_plan":null,"transcode":null,"sdes_offer":[],"sdes_answer":null,"srtp":null,"ice":[false,"","","",""],"dtls":[false,false,"","",false],"ice_peer":["::",0],"ice_peer_rtcp":["::",0],"sent":[false,false,false],"mid":"","bundled":false}],"created":1796694561,"sent_sdp":[0,0,false]},{"address":null,"tag":"b","label":"","via_branch":"","branch":1,"iface":0,"has_sdp":false,"policy":[false,false,false],"mux_accept":false,"mux_reject":false,"dtls_reverse_passive":null,"media":[],"created":1796694561,"sent_sdp":[0,0,false]}],"branches":[],"branches_made":1,"answered":true,"created":1796694561,"last_signal":1796694561,"tos":null})";
  auto old = decode_call(v1);
  ASSERT_TRUE(old.ok()) << old.error();
  EXPECT_EQ((*old)->parties[0].label, "l");
  EXPECT_TRUE((*old)->parties[0].policy.strict_source);
  EXPECT_EQ((*old)->parties[0].media[0].sdp_rtp.port, 2000);
  EXPECT_EQ((*old)->parties[1].branch, 1);
}

// Call-ids and tags are whatever the proxy sent: quotes, backslashes,
// control characters and UTF-8 come back from Redis as they went in.
TEST(CallStateTest, AnyCallIdTextRoundTrips) {
  std::string id = "a\"b\\c\x01\x1f\x7f caf\xc3\xa9 ";
  for (int ch = 1; ch < 0x80; ++ch) id += char(ch);
  Call c;
  c.id = id;
  c.parties[0].tag = "\"\n";
  const std::string doc = encode_call(c);
  EXPECT_NE(doc.find("\\u0001"), std::string::npos);
  auto decoded = decode_call(doc);
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_EQ((*decoded)->id, id);
  EXPECT_EQ((*decoded)->parties[0].tag, "\"\n");
  EXPECT_EQ(encode_call(**decoded), doc);
}

}  // namespace
}  // namespace vox::control
