// CallManager with codec options on a fake dataplane: the offer/answer
// decide per direction whether the worker transcodes, the transcoders land
// on the right flows after them, survive a re-INVITE that changes nothing
// and go away when the codecs match again or the call ends.
#include <gtest/gtest.h>

#include <regex>

#include "control/call_manager.h"
#include "dataplane/transcode.h"
#include "call_fixture.h"

namespace vox::control {
namespace {

using dataplane::kFlowTranscode;
using testing::FakeDataplane;

std::string g711_offer(int port) {
  return "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
         "m=audio " + std::to_string(port) + " RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n"
         "a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n";
}

std::string answer_with(int port, const std::string& fmts, const std::string& lines) {
  return "v=0\r\no=- 2 2 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n"
         "m=audio " + std::to_string(port) + " RTP/AVP " + fmts + "\r\n" + lines;
}

// The payload type the relay gave `encoding` in an SDP it produced.
int pt_of(const std::string& sdp, const std::string& encoding) {
  std::smatch m;
  EXPECT_TRUE(std::regex_search(sdp, m, std::regex("a=rtpmap:(\\d+) " + encoding))) << sdp;
  return m.empty() ? -1 : std::stoi(m[1]);
}

struct CallTranscodeTest : testing::CallFixture<1> {
  SignalRequest req(const std::string& body, const char* to = "") {
    SignalRequest r;
    r.call_id = "call-1";
    r.from_tag = "A";
    r.to_tag = to;
    r.sdp = body;
    return r;
  }
  SignalRequest transcode_offer() {
    SignalRequest r = req(g711_offer(4000));
    r.codec.transcode.push_back(*parse_codec_spec("opus"));
    r.codec.mask.push_back(*parse_codec_spec("PCMA"));
    return r;
  }
  std::string opus_answer(const std::string& offer_sdp) {
    const std::string opus = std::to_string(pt_of(offer_sdp, "opus/48000/2"));
    const std::string te = std::to_string(pt_of(offer_sdp, "telephone-event/48000"));
    return answer_with(5000, opus + " " + te,
                       "a=rtpmap:" + opus + " opus/48000/2\r\na=fmtp:" + opus +
                           " useinbandfec=1\r\na=rtpmap:" + te + " telephone-event/48000\r\n");
  }
  const MediaSide& side(int party) { return cm->find("call-1")->parties[party].media[0]; }
  const dataplane::WorkerState& worker() { return plane.state(0); }
  bool transcodes(FlowId id) {
    return (worker().flow(id).state.flags & kFlowTranscode) != 0 &&
           const_cast<dataplane::WorkerState&>(worker()).transcoder(id) != nullptr;
  }
};

TEST_F(CallTranscodeTest, OpusAnswerInstallsATranscoderEachWay) {
  auto off = cm->offer(transcode_offer(), now);
  ASSERT_TRUE(off.ok()) << off.error().message();
  EXPECT_EQ(off->sdp.find("PCMA"), std::string::npos) << off->sdp;  // masked
  auto ans = cm->answer(req(opus_answer(off->sdp), "B"), now);
  ASSERT_TRUE(ans.ok()) << ans.error().message();
  // A sees its own codecs back: PCMU and its telephone-event, its PTs.
  EXPECT_TRUE(std::regex_search(ans->sdp, std::regex("m=audio \\d+ RTP/AVP 0 101\r\n"))) << ans->sdp;
  EXPECT_EQ(ans->sdp.find("opus"), std::string::npos);

  const MediaSide& a = side(0);
  const MediaSide& b = side(1);
  ASSERT_NE(a.transcoder, nullptr);
  ASSERT_NE(b.transcoder, nullptr);
  EXPECT_TRUE(transcodes(a.rtp_flow));  // what A sends is transcoded toward B
  EXPECT_TRUE(transcodes(b.rtp_flow));
  EXPECT_FALSE(transcodes(a.rtcp_flow));
  EXPECT_NE(a.transcode_description.find("PCMU/8000 pt 0"), std::string::npos);
  EXPECT_NE(a.transcode_description.find("-> opus/48000/2"), std::string::npos);
  EXPECT_NE(b.transcode_description.find("-> PCMU/8000 pt 0"), std::string::npos);
  EXPECT_EQ(cm->stats().transcoded_streams, 2u);

  // A re-INVITE with the same codecs keeps the running transcoders (their
  // SSRC, sequence and timestamps continue).
  const dataplane::TranscodeSlot* before = a.transcoder;
  off = cm->offer(transcode_offer(), now);
  ASSERT_TRUE(off.ok()) << off.error().message();
  ASSERT_TRUE(cm->answer(req(opus_answer(off->sdp), "B"), now).ok());
  EXPECT_EQ(side(0).transcoder, before);
  EXPECT_EQ(cm->stats().transcoded_streams, 2u);

  // The callee now answers PCMU: plain relay again, transcoders removed.
  off = cm->offer(transcode_offer(), now);
  ASSERT_TRUE(off.ok()) << off.error().message();
  ASSERT_TRUE(cm->answer(req(answer_with(5000, "0", "a=rtpmap:0 PCMU/8000\r\n"), "B"), now).ok());
  EXPECT_EQ(side(0).transcoder, nullptr);
  EXPECT_EQ(side(1).transcoder, nullptr);
  EXPECT_FALSE(transcodes(side(0).rtp_flow));
  EXPECT_FALSE(transcodes(side(1).rtp_flow));
}

TEST_F(CallTranscodeTest, SharedCodecRelaysWithoutTranscoding) {
  auto off = cm->offer(transcode_offer(), now);
  ASSERT_TRUE(off.ok()) << off.error().message();
  auto ans = cm->answer(req(answer_with(5000, "0 101", "a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"), "B"), now);
  ASSERT_TRUE(ans.ok()) << ans.error().message();
  EXPECT_EQ(side(0).transcoder, nullptr);
  EXPECT_FALSE(transcodes(side(0).rtp_flow));
  EXPECT_EQ(cm->stats().transcoded_streams, 0u);
}

TEST_F(CallTranscodeTest, AnswerWithACodecNeverOfferedIsAnErrorAndChangesNothing) {
  auto off = cm->offer(transcode_offer(), now);
  ASSERT_TRUE(off.ok()) << off.error().message();
  auto ans = cm->answer(req(answer_with(5000, "18", "a=rtpmap:18 G729/8000\r\n"), "B"), now);
  ASSERT_FALSE(ans.ok());
  EXPECT_NE(ans.error().message().find("not offered"), std::string::npos) << ans.error().message();
  EXPECT_FALSE(cm->find("call-1")->answered);
  EXPECT_EQ(side(0).transcoder, nullptr);
}

// No codec options, and the callee answers PCMU to a PCMA-only offer
// (RFC 3264 §6.1 forbids it): the caller is answered its PCMA and the
// relay transcodes both ways, as rtpengine does.
TEST_F(CallTranscodeTest, AnswerWithAnUnofferedCodecTheRelayHasIsTranscoded) {
  const std::string pcma = answer_with(4000, "8", "a=rtpmap:8 PCMA/8000\r\n");
  ASSERT_TRUE(cm->offer(req(pcma), now).ok());
  auto ans = cm->answer(req(answer_with(5000, "0", "a=rtpmap:0 PCMU/8000\r\n"), "B"), now);
  ASSERT_TRUE(ans.ok()) << ans.error().message();
  EXPECT_NE(ans->sdp.find("m=audio " + std::to_string(side(0).rtp_port) + " RTP/AVP 8\r\n"),
            std::string::npos) << ans->sdp;
  EXPECT_TRUE(ans->warning.empty()) << ans->warning;
  ASSERT_NE(side(0).transcoder, nullptr);
  ASSERT_NE(side(1).transcoder, nullptr);
  EXPECT_TRUE(transcodes(side(0).rtp_flow));
  EXPECT_TRUE(transcodes(side(1).rtp_flow));
}

// ... and one the relay has no codec for (G.729) is passed on, with a warning.
TEST_F(CallTranscodeTest, AnswerWithAnUnofferedCodecTheRelayLacksIsPassedOnWithAWarning) {
  ASSERT_TRUE(cm->offer(req(g711_offer(4000)), now).ok());
  auto ans = cm->answer(req(answer_with(5000, "18", "a=rtpmap:18 G729/8000\r\n"), "B"), now);
  ASSERT_TRUE(ans.ok()) << ans.error().message();
  EXPECT_NE(ans->sdp.find(" RTP/AVP 18\r\n"), std::string::npos) << ans->sdp;
  EXPECT_EQ(ans->warning, "Answer contains a codec that was not offered: G729/8000, passed on as it is");
  EXPECT_EQ(side(0).transcoder, nullptr);
}

TEST_F(CallTranscodeTest, DeleteHandsTheTranscodersBackToTheWorkerAndKeepsTheirCounts) {
  auto off = cm->offer(transcode_offer(), now);
  ASSERT_TRUE(off.ok()) << off.error().message();
  ASSERT_TRUE(cm->answer(req(opus_answer(off->sdp), "B"), now).ok());
  const FlowId a_flow = side(0).rtp_flow;
  ASSERT_TRUE(cm->remove("call-1", "A", "", "", 0, now).ok());
  cm->tick(now);
  EXPECT_EQ(cm->find("call-1"), nullptr);
  EXPECT_FALSE(transcodes(a_flow));  // the worker deleted it with the flow (ASan: no leak)
}

}  // namespace
}  // namespace vox::control
