// Forking with NG "via-branch": each branch of a forked INVITE gets a
// callee side with its own ports; the branch that signals last is in
// dialogue with the caller, the others are parked with their flows off;
// a delete naming a branch ends that branch alone.
#include <gtest/gtest.h>

#include <regex>

#include "call_fixture.h"
#include "control/call_manager.h"

namespace vox::control {
namespace {

using dataplane::kFlowEnabled;
using dataplane::kNoFlow;

std::string sdp(int port, const char* addr = "192.0.2.10") {
  return std::string("v=0\r\no=- 1 1 IN IP4 ") + addr + "\r\ns=-\r\nc=IN IP4 " + addr +
         "\r\nt=0 0\r\nm=audio " + std::to_string(port) + " RTP/AVP 0\r\n";
}

int sdp_port(const std::string& s) {
  std::smatch m;
  EXPECT_TRUE(std::regex_search(s, m, std::regex("m=audio (\\d+)")));
  return std::stoi(m[1]);
}

struct CallForkTest : testing::CallFixture<1> {
  SignalRequest req(const std::string& body, const char* via, const char* to = "") {
    SignalRequest r;
    r.call_id = "call-1";
    r.from_tag = "A";
    r.to_tag = to;
    r.via_branch = via;
    r.sdp = body;
    return r;
  }
  int offer(const char* via) {
    auto r = cm->offer(req(sdp(4000), via), now);
    EXPECT_TRUE(r.ok()) << r.error().message();
    return r.ok() ? sdp_port(r->sdp) : 0;
  }
  int answer(const char* via, const char* tag, int port) {
    auto r = cm->answer(req(sdp(port, "198.51.100.7"), via, tag), now);
    EXPECT_TRUE(r.ok()) << r.error().message();
    return r.ok() ? sdp_port(r->sdp) : 0;
  }
  const Call& call() { return *cm->find("call-1"); }
  const dataplane::FlowState& flow(FlowId id) { return plane.state(0).flow(id).state; }
  // The flow the caller's RTP goes out of (the callee side in dialogue).
  FlowId caller_egress() { return flow(call().parties[0].media[0].rtp_flow).egress_rtp; }
  bool parked_off(const Party& p) {
    const auto& f = flow(p.media[0].rtp_flow);
    return !(f.flags & kFlowEnabled) && f.egress_rtp == kNoFlow;
  }
};

TEST_F(CallForkTest, EachBranchGetsItsOwnPorts) {
  const int b1 = offer("z9hG4bK-1");
  const int b2 = offer("z9hG4bK-2");
  EXPECT_NE(b1, b2);
  EXPECT_EQ(plane.bound.size(), 6u);  // the caller's pair and one per branch
  const Call& c = call();
  ASSERT_EQ(c.branches.size(), 1u);
  EXPECT_EQ(c.parties[1].via_branch, "z9hG4bK-2");
  EXPECT_EQ(c.parties[1].media[0].rtp_port, b2);
  EXPECT_EQ(c.branches[0].via_branch, "z9hG4bK-1");
  EXPECT_EQ(c.branches[0].media[0].rtp_port, b1);
  EXPECT_EQ(caller_egress(), c.parties[1].media[0].rtp_flow);
  EXPECT_TRUE(parked_off(c.branches[0]));
  // The same branch again (a retransmitted or re-sent offer): its ports.
  EXPECT_EQ(offer("z9hG4bK-1"), b1);
  EXPECT_EQ(offer("z9hG4bK-2"), b2);
  EXPECT_EQ(plane.bound.size(), 6u);
}

TEST_F(CallForkTest, TheAnsweringBranchTakesTheDialogue) {
  const int b1 = offer("z9hG4bK-1");
  const int b2 = offer("z9hG4bK-2");
  const int caller = answer("z9hG4bK-1", "T1", 5000);
  const Call& c = call();
  EXPECT_EQ(caller, c.parties[0].media[0].rtp_port);
  EXPECT_EQ(c.parties[1].tag, "T1");
  EXPECT_EQ(c.parties[1].media[0].rtp_port, b1);
  EXPECT_EQ(caller_egress(), c.parties[1].media[0].rtp_flow);
  EXPECT_TRUE(flow(c.parties[0].media[0].rtp_flow).flags & kFlowEnabled);
  EXPECT_TRUE(flow(c.parties[1].media[0].rtp_flow).flags & kFlowEnabled);
  EXPECT_EQ(flow(c.parties[1].media[0].rtp_flow).egress_rtp, c.parties[0].media[0].rtp_flow);
  ASSERT_EQ(c.branches.size(), 1u);
  EXPECT_EQ(c.branches[0].media[0].rtp_port, b2);
  EXPECT_TRUE(parked_off(c.branches[0]));
  // The other branch answers (its 200 after the first one's 183).
  answer("z9hG4bK-2", "T2", 6000);
  EXPECT_EQ(call().parties[1].media[0].rtp_port, b2);
  EXPECT_EQ(call().parties[1].tag, "T2");
  EXPECT_TRUE(parked_off(call().branches[0]));
  // An answer naming the first branch's tag again takes it back.
  answer("", "T1", 5000);
  EXPECT_EQ(call().parties[1].media[0].rtp_port, b1);
}

TEST_F(CallForkTest, DeletingABranchEndsItAlone) {
  offer("z9hG4bK-1");
  const int b2 = offer("z9hG4bK-2");
  answer("z9hG4bK-2", "T2", 5000);
  const size_t free_before = cm->free_port_pairs();
  ASSERT_TRUE(cm->remove("call-1", "A", "", "z9hG4bK-1", 0, now).ok());
  cm->reap("call-1", now);
  ASSERT_NE(cm->find("call-1"), nullptr);
  EXPECT_FALSE(call().deleted);
  EXPECT_TRUE(call().branches.empty());
  EXPECT_EQ(call().parties[1].media[0].rtp_port, b2);
  EXPECT_EQ(cm->free_port_pairs(), free_before + 1);
  EXPECT_EQ(plane.bound.size(), 4u);
  // The last branch's delete is the call's.
  ASSERT_TRUE(cm->remove("call-1", "A", "", "z9hG4bK-2", 0, now).ok());
  cm->reap("call-1", now);
  EXPECT_EQ(cm->find("call-1"), nullptr);
  EXPECT_TRUE(plane.bound.empty());
}

TEST_F(CallForkTest, DeletingTheBranchInDialogueBringsBackAParkedOne) {
  const int b1 = offer("z9hG4bK-1");
  offer("z9hG4bK-2");
  answer("z9hG4bK-2", "T2", 5000);
  ASSERT_TRUE(cm->remove("call-1", "A", "", "z9hG4bK-2", 0, now).ok());
  const Call& c = call();
  EXPECT_FALSE(c.deleted);
  EXPECT_TRUE(c.branches.empty());
  EXPECT_EQ(c.parties[1].media[0].rtp_port, b1);
  EXPECT_EQ(caller_egress(), c.parties[1].media[0].rtp_flow);
  EXPECT_EQ(plane.bound.size(), 4u);
}

TEST_F(CallForkTest, AnUnknownViaBranchDeletesTheCall) {
  offer("z9hG4bK-1");
  offer("z9hG4bK-2");
  ASSERT_TRUE(cm->remove("call-1", "A", "", "z9hG4bK-9", 0, now).ok());
  cm->reap("call-1", now);
  EXPECT_EQ(cm->find("call-1"), nullptr);
  EXPECT_TRUE(plane.bound.empty());
}

TEST_F(CallForkTest, AFailedBranchOfferChangesNothing) {
  config.port_max = 30003;  // two pairs: the caller's and one branch's
  cm = std::make_unique<CallManager>(config, plane);
  const int b1 = offer("z9hG4bK-1");
  auto r = cm->offer(req(sdp(4000), "z9hG4bK-2"), now);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, NgErrc::kOutOfPorts);
  const Call& c = call();
  EXPECT_TRUE(c.branches.empty());
  EXPECT_EQ(c.parties[1].via_branch, "z9hG4bK-1");
  EXPECT_EQ(c.parties[1].media[0].rtp_port, b1);
  EXPECT_EQ(caller_egress(), c.parties[1].media[0].rtp_flow);
}

// Without via-branch a second offer is the same callee side (a
// re-offer); the first via-branch an untagged callee hears of is its own.
TEST_F(CallForkTest, NoViaBranchMeansOneCalleeSide) {
  const int p = offer("");
  EXPECT_EQ(offer(""), p);
  EXPECT_EQ(offer("z9hG4bK-1"), p);
  EXPECT_EQ(call().parties[1].via_branch, "z9hG4bK-1");
  EXPECT_TRUE(call().branches.empty());
}

}  // namespace
}  // namespace vox::control
