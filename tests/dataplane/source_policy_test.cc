// Latching and source policy: the learning window, lock, strict-source,
// media-handover, and the signalled address taking over from a stranger.
#include "dataplane/source_policy.h"

#include <gtest/gtest.h>

namespace vox::dataplane {
namespace {

Endpoint ep(const char* text) { return *Endpoint::parse(text); }

FlowState flow(const char* sdp, int64_t window_end, uint16_t flags = 0) {
  FlowState f;
  f.sdp_source = ep(sdp);
  f.source = f.sdp_source;
  f.latch_until_ns = window_end;
  f.flags = flags;
  return f;
}

TEST(SourcePolicy, LatchesNatAddressInWindowThenLocks) {
  FlowState f = flow("10.0.0.5:4000", 1000);
  EXPECT_EQ(check_source(f, ep("198.51.100.9:61000"), 10), SourceVerdict::kLatched);
  EXPECT_EQ(f.source, ep("198.51.100.9:61000"));
  EXPECT_EQ(check_source(f, ep("198.51.100.9:61000"), 20), SourceVerdict::kAccept);
  // A stranger inside the window does not take over a latched flow...
  EXPECT_EQ(check_source(f, ep("203.0.113.66:5000"), 30), SourceVerdict::kReject);
  // ...nor after it (RTP Bleed).
  EXPECT_EQ(check_source(f, ep("203.0.113.66:5000"), 2000), SourceVerdict::kReject);
  EXPECT_EQ(f.source, ep("198.51.100.9:61000"));
}

TEST(SourcePolicy, SignalledAddressBeatsARacingStrangerInWindow) {
  FlowState f = flow("192.0.2.10:4000", 1000);
  EXPECT_EQ(check_source(f, ep("203.0.113.66:5000"), 1), SourceVerdict::kLatched);
  EXPECT_EQ(check_source(f, ep("192.0.2.10:4002"), 2), SourceVerdict::kLatched);
  EXPECT_EQ(f.source, ep("192.0.2.10:4002"));
  EXPECT_EQ(check_source(f, ep("203.0.113.66:5000"), 3), SourceVerdict::kReject);
}

// A stranger on the caller's own IP (another port: a second process on
// its host, another phone behind its NAT) sends first and latches; the
// caller's exact SDP address and port takes the stream back, inside the
// window or after it, and keeps it.
TEST(SourcePolicy, TheExactSdpAddressTakesTheLatchBack) {
  for (int64_t when : {int64_t(2), int64_t(5000)}) {
    FlowState f = flow("192.0.2.10:4000", 1000);
    EXPECT_EQ(check_source(f, ep("192.0.2.10:4500"), 1), SourceVerdict::kLatched);
    EXPECT_EQ(check_source(f, ep("192.0.2.10:4000"), when), SourceVerdict::kLatched) << when;
    EXPECT_EQ(f.source, ep("192.0.2.10:4000"));
    EXPECT_EQ(check_source(f, ep("192.0.2.10:4500"), when + 1), SourceVerdict::kReject) << when;
    EXPECT_EQ(check_source(f, ep("192.0.2.10:4000"), when + 2), SourceVerdict::kAccept) << when;
  }
  // Behind NAT the latch stays with the NAT address; only the exact SDP
  // endpoint could take it, not another port of the NAT's IP after the window.
  FlowState nat = flow("10.0.0.5:4000", 1000);
  EXPECT_EQ(check_source(nat, ep("198.51.100.9:61000"), 1), SourceVerdict::kLatched);
  EXPECT_EQ(check_source(nat, ep("198.51.100.9:61002"), 5000), SourceVerdict::kReject);
  EXPECT_EQ(nat.source, ep("198.51.100.9:61000"));
}

TEST(SourcePolicy, AfterWindowOnlyTheSdpAddressCanLatch) {
  FlowState f = flow("192.0.2.10:4000", 1000);
  EXPECT_EQ(check_source(f, ep("203.0.113.66:5000"), 5000), SourceVerdict::kReject);
  EXPECT_EQ(f.latched, 0);
  EXPECT_EQ(check_source(f, ep("192.0.2.10:4000"), 5000), SourceVerdict::kLatched);
}

TEST(SourcePolicy, StrictSourceAcceptsOnlySdpAddress) {
  FlowState f = flow("192.0.2.10:4000", 1000, kFlowStrictSource);
  EXPECT_EQ(check_source(f, ep("192.0.2.10:4001"), 1), SourceVerdict::kReject);
  EXPECT_EQ(check_source(f, ep("192.0.2.10:4000"), 1), SourceVerdict::kLatched);
  EXPECT_EQ(check_source(f, ep("192.0.2.10:4000"), 2), SourceVerdict::kAccept);
}

TEST(SourcePolicy, MediaHandoverFollowsTheSource) {
  FlowState f = flow("192.0.2.10:4000", 1000, kFlowMediaHandover);
  EXPECT_EQ(check_source(f, ep("198.51.100.1:1"), 5000), SourceVerdict::kLatched);
  EXPECT_EQ(check_source(f, ep("198.51.100.2:2"), 6000), SourceVerdict::kLatched);
  EXPECT_EQ(f.source, ep("198.51.100.2:2"));
}

}  // namespace
}  // namespace vox::dataplane
