// NG loop-protect: the mark's place and matching, and the commands: the
// marked SDP that comes back is returned untouched and makes no call.
#include "control/loop_protect.h"

#include <gtest/gtest.h>

#include "call_fixture.h"
#include "control/ng_commands.h"

namespace vox::control {
namespace {

constexpr const char* kSdp =
    "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
    "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

TEST(LoopProtect, TokenIsTwelveHexDigitsAndStable) {
  const std::string& t = loop_protect_token();
  EXPECT_EQ(t.size(), 12u);
  EXPECT_EQ(t.find_first_not_of("0123456789abcdef"), std::string::npos) << t;
  EXPECT_EQ(&t, &loop_protect_token());
}

TEST(LoopProtect, MarkGoesAtSessionLevelOnce) {
  const std::string marked = add_loop_mark(kSdp, "0123456789ab");
  EXPECT_NE(marked.find("t=0 0\r\na=rtpengine:0123456789ab\r\nm=audio"), std::string::npos)
      << marked;
  EXPECT_TRUE(carries_loop_mark(marked, "0123456789ab"));
  EXPECT_EQ(add_loop_mark(marked, "0123456789ab"), marked);
  EXPECT_FALSE(carries_loop_mark(kSdp, "0123456789ab"));
  // Another relay's mark, or ours inside a media section, is not ours at
  // session level.
  EXPECT_FALSE(carries_loop_mark(add_loop_mark(kSdp, "ffffffffffff"), "0123456789ab"));
  EXPECT_FALSE(carries_loop_mark(std::string(kSdp) + "a=rtpengine:0123456789ab\r\n", "0123456789ab"));
  EXPECT_FALSE(carries_loop_mark(add_loop_mark(kSdp, "0123456789abc"), "0123456789ab"));
}

struct LoopProtectNg : testing::CallFixture<1> {
  NgValue offer(const std::string& call_id, const std::string& sdp, bool flag) {
    NgValue d = NgValue::dict();
    d.set("command", "offer");
    d.set("call-id", call_id);
    d.set("from-tag", "A");
    d.set("sdp", sdp);
    if (flag) {
      NgValue flags = NgValue::list();
      flags.push(NgValue::str("loop-protect"));
      d.set("flags", std::move(flags));
    }
    NgContext ctx{*cm, now, *Endpoint::parse("127.0.0.1:5060")};
    return handle_ng_request(d, ctx);
  }
};

TEST_F(LoopProtectNg, TheRelaysOwnSdpComesBackUntouched) {
  NgValue first = offer("loop-1", kSdp, true);
  ASSERT_EQ(first.find_string("result"), "ok");
  const std::string marked(first.find_string("sdp").value_or(""));
  EXPECT_TRUE(carries_loop_mark(marked, loop_protect_token())) << marked;
  const size_t free_pairs = cm->free_port_pairs();
  // The loop brings the relay's own SDP back, as a new call or the same.
  for (const char* id : {"loop-1", "loop-2"}) {
    NgValue again = offer(id, marked, true);
    EXPECT_EQ(again.find_string("result"), "ok");
    EXPECT_EQ(again.find_string("sdp").value_or(""), marked) << id;
  }
  EXPECT_EQ(cm->free_port_pairs(), free_pairs);  // no ports taken
  EXPECT_EQ(cm->find("loop-2"), nullptr);        // no call made
  // Without the flag the mark is not looked at: a call as any other.
  NgValue plain = offer("loop-3", marked, false);
  EXPECT_EQ(plain.find_string("result"), "ok");
  EXPECT_NE(cm->find("loop-3"), nullptr);
}

}  // namespace
}  // namespace vox::control
