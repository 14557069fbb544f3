// NgServer without sockets: framing, retransmission cache, error replies,
// JSON requests, and the reply cache's two generations.
#include "control/ng_server.h"

#include <gtest/gtest.h>

#include "control/bencode.h"
#include "fake_dataplane.h"

namespace vox::control {
namespace {

struct NgServerTest : ::testing::Test {
  Config config;
  testing::FakeDataplane plane;
  std::unique_ptr<CallManager> cm;
  std::unique_ptr<NgServer> server;
  CallManager::Clock now{1'000'000'000, 1'700'000'000};
  Endpoint peer = *Endpoint::parse("127.0.0.1:5060");

  void SetUp() override {
    config.interfaces.push_back({"default", *IpAddr::parse("127.0.0.1"), *IpAddr::parse("127.0.0.1")});
    cm = std::make_unique<CallManager>(config, plane);
    server = std::make_unique<NgServer>(*cm, config);
  }
  NgValue reply(std::string_view datagram, std::string_view cookie) {
    std::string r = server->handle_datagram(datagram, peer, now);
    EXPECT_EQ(r.substr(0, cookie.size() + 1), std::string(cookie) + " ");
    auto v = decode_bencode(std::string_view(r).substr(cookie.size() + 1));
    EXPECT_TRUE(v.ok());
    return v.ok() ? *v : NgValue();
  }
  static std::string offer_body(const char* call_id) {
    NgValue d = NgValue::dict();
    d.set("command", "offer");
    d.set("call-id", call_id);
    d.set("from-tag", "ft");
    d.set("sdp", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                 "m=audio 4000 RTP/AVP 0\r\n");
    return encode_bencode(d);
  }
};

TEST_F(NgServerTest, Ping) {
  auto v = reply("abc d7:command4:pinge", "abc");
  EXPECT_EQ(v.find_string("result"), "pong");
}

TEST_F(NgServerTest, RetransmissionGetsCachedReplyAndRunsOnce) {
  std::string dg = "c1 " + offer_body("call-x");
  std::string first = server->handle_datagram(dg, peer, now);
  std::string second = server->handle_datagram(dg, peer, now);
  EXPECT_EQ(first, second);
  EXPECT_EQ(server->stats().retransmissions, 1u);
  EXPECT_EQ(cm->stats().offers, 1u);
  // Another client with the same cookie is a different request.
  Endpoint other = *Endpoint::parse("127.0.0.2:5060");
  server->handle_datagram(dg, other, now);
  EXPECT_EQ(cm->stats().offers, 2u);
}

TEST_F(NgServerTest, ErrorsAreRepliesWithReasons) {
  EXPECT_EQ(reply("k1 d7:command", "k1").find_string("error-reason"),
            "Could not decode bencode dictionary");
  EXPECT_EQ(server->handle_datagram("k2 {\"command\": ", peer, now),
            "k2 {\"result\":\"error\",\"error-reason\":\"Failed to parse JSON document\"}");
  EXPECT_EQ(reply("k3 d7:command5:bogase", "k3").find_string("error-reason"),
            "Unrecognized command");
  EXPECT_EQ(reply("k4 d7:command5:offere", "k4").find_string("error-reason"),
            "No call-id in message");
  EXPECT_EQ(reply("k5 d7:command5:offer7:call-id1:xe", "k5").find_string("error-reason"),
            "No from-tag in message");
  EXPECT_EQ(reply("k6 d7:command5:offer7:call-id1:x8:from-tag1:ye", "k6").find_string("error-reason"),
            "No SDP body in message");
  EXPECT_EQ(reply("k7 d7:command5:query7:call-id1:xe", "k7").find_string("error-reason"),
            "Unknown call-id");
  EXPECT_EQ(reply("k8 d7:command6:answer7:call-id1:x8:from-tag1:y3:sdp3:v=0e", "k8")
                .find_string("error-reason"),
            "No to-tag in message");
  EXPECT_EQ(cm->size(), 0u);
  // No cookie: nothing to answer to.
  EXPECT_EQ(server->handle_datagram("garbage", peer, now), "");
}

TEST_F(NgServerTest, JsonRequestsGetJsonReplies) {
  std::string r = server->handle_datagram("j1 {\"command\":\"ping\"}", peer, now);
  EXPECT_EQ(r, "j1 {\"result\":\"pong\"}");
}

TEST(ReplyCache, KeepsRepliesForOneToTwoGenerations) {
  ReplyCache cache(30);
  cache.insert("a", "A", 0);
  EXPECT_NE(cache.find("a", 29), nullptr);
  EXPECT_NE(cache.find("a", 31), nullptr);  // moved to the previous generation
  EXPECT_EQ(cache.find("a", 62), nullptr);  // two rotations later: gone
}

}  // namespace
}  // namespace vox::control
