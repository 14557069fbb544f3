// Which interface a call side gets from NG "direction": a configured name,
// a BASE of BASE:SUFFIX names taken in turn (rtpengine's round robin), the
// default for no name or an unknown one (rtpengine falls back and logs).
#include <gtest/gtest.h>

#include <regex>

#include "control/call_manager.h"
#include "fake_dataplane.h"

namespace vox::control {
namespace {

std::string sdp(int port) {
  return "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
         "m=audio " + std::to_string(port) + " RTP/AVP 0\r\n";
}

// The address the offer's reply advertises: the answering side's interface.
std::string advertised(const std::string& sdp) {
  std::smatch m;
  EXPECT_TRUE(std::regex_search(sdp, m, std::regex("c=IN IP[46] (\\S+)")));
  return m[1];
}

struct CallInterfacesTest : ::testing::Test {
  Config config;
  testing::FakeDataplane plane{1};
  std::unique_ptr<CallManager> cm;
  CallManager::Clock now{1'000'000'000'000, 1'700'000'000};
  int calls = 0;

  void SetUp() override {
    for (const auto& [name, addr] : std::vector<std::pair<std::string, std::string>>{
             {"default", "203.0.113.1"}, {"int", "10.0.0.1"}, {"pub:1", "198.51.100.1"},
             {"pub:2", "198.51.100.2"}, {"pub:3", "2001:db8::3"}, {"default", "2001:db8::1"}})
      config.interfaces.push_back({name, *IpAddr::parse(addr), *IpAddr::parse(addr)});
    config.port_min = 30000;
    config.port_max = 30099;
    config.delete_delay_s = 0;
    cm = std::make_unique<CallManager>(config, plane);
  }
  // Offers a new call with this direction; the callee side's address.
  std::string callee_address(std::vector<std::string> direction,
                             std::optional<int> family = std::nullopt) {
    SignalRequest r;
    r.call_id = "call-" + std::to_string(++calls);
    r.from_tag = "A";
    r.sdp = sdp(4000);
    r.direction = std::move(direction);
    r.address_family = family;
    auto reply = cm->offer(r, now);
    EXPECT_TRUE(reply.ok()) << (reply.ok() ? "" : reply.error().message());
    return reply.ok() ? advertised(reply->sdp) : "";
  }
};

TEST_F(CallInterfacesTest, NamesPickTheirInterface) {
  EXPECT_EQ(callee_address({"default", "int"}), "10.0.0.1");
  EXPECT_EQ(callee_address({"int", "pub:2"}), "198.51.100.2");
  EXPECT_EQ(callee_address({"default", "default"}, AF_INET6), "2001:db8::1");
}

TEST_F(CallInterfacesTest, ABaseNameTakesItsMembersInTurn) {
  // pub:3 is IPv6: an IPv4 call takes pub:1 and pub:2 in turn.
  std::vector<std::string> seen;
  for (int i = 0; i < 4; ++i) seen.push_back(callee_address({"default", "pub"}));
  EXPECT_EQ(seen, (std::vector<std::string>{"198.51.100.1", "198.51.100.2", "198.51.100.1",
                                            "198.51.100.2"}));
  EXPECT_EQ(callee_address({"default", "pub"}, AF_INET6), "2001:db8::3");
}

TEST_F(CallInterfacesTest, NoNameOrAnUnknownOneIsTheDefault) {
  EXPECT_EQ(callee_address({}), "203.0.113.1");
  // rtpengine's legacy names, or names this host does not configure.
  EXPECT_EQ(callee_address({"internal", "external"}), "203.0.113.1");
  EXPECT_EQ(callee_address({"pub", "priv"}), "203.0.113.1");
  // One name only: the other side is on the default, not on that one.
  EXPECT_EQ(callee_address({"int"}), "203.0.113.1");
}

// rtpengine: the caller's side follows its SDP's family, "address family"
// is for the callee only (else the callee follows the caller).
TEST_F(CallInterfacesTest, EachSideHasItsFamily) {
  const auto offer = [&](const std::string& body, std::optional<int> family) {
    SignalRequest r;
    r.call_id = "call-" + std::to_string(++calls);
    r.from_tag = "A";
    r.sdp = body;
    r.address_family = family;
    auto reply = cm->offer(r, now);
    EXPECT_TRUE(reply.ok()) << (reply.ok() ? "" : reply.error().message());
    return reply.ok() ? advertised(reply->sdp) : "";
  };
  const auto answer_address = [&](const std::string& body) {
    SignalRequest r;
    r.call_id = "call-" + std::to_string(calls);
    r.from_tag = "A";
    r.to_tag = "B";
    r.sdp = body;
    auto reply = cm->answer(r, now);
    EXPECT_TRUE(reply.ok()) << (reply.ok() ? "" : reply.error().message());
    return reply.ok() ? advertised(reply->sdp) : "";
  };
  const std::string v6 = std::regex_replace(sdp(4000), std::regex("IN IP4 192.0.2.10"),
                                            "IN IP6 2001:db8::10");
  // An IPv6 caller, no family: IPv6 both ways.
  EXPECT_EQ(offer(v6, std::nullopt), "2001:db8::1");
  EXPECT_EQ(answer_address(v6), "2001:db8::1");
  // An IPv4 caller with "address family IP6": only the callee is IPv6.
  EXPECT_EQ(offer(sdp(4000), AF_INET6), "2001:db8::1");
  EXPECT_EQ(answer_address(sdp(5000)), "203.0.113.1");
  // An IPv6 caller with "address family IP4".
  EXPECT_EQ(offer(v6, AF_INET), "203.0.113.1");
  EXPECT_EQ(answer_address(sdp(5000)), "2001:db8::1");
}

}  // namespace
}  // namespace vox::control
