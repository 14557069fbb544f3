// NgServer without sockets: framing, retransmission cache, error replies,
// JSON requests, the reply cache's two generations and its byte bound,
// `list` replies cut to one datagram, the counters in `statistics`; and
// over real loopback sockets: the work per poll bounded and shared between
// sockets, and the per-source rate limit (issue 16).
#include "control/ng_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <gtest/gtest.h>

#include "control/ng_json.h"
#include "control/ng_reply_fit.h"

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

TEST_F(NgServerTest, UndecodableRequestsAreAnsweredButNotCached) {
  for (int i = 0; i < 1000; ++i)
    EXPECT_NE(server->handle_datagram("g" + std::to_string(i) + " \x01garbage", peer, now), "");
  EXPECT_EQ(server->stats().undecodable, 1000u);
  EXPECT_EQ(server->stats().cache_bytes, 0u);
}

TEST_F(NgServerTest, ListLargerThanADatagramIsTruncatedWithAWarning) {
  constexpr int kCalls = 200;  // 200 call-ids of 400 octets: 81 KB of list
  std::vector<std::string> ids;
  for (int i = 0; i < kCalls; ++i) {
    ids.push_back(std::string(396, 'c') + std::to_string(1000 + i));
    const NgValue r = reply("o" + std::to_string(i) + " " + offer_body(ids.back().c_str()), "o" + std::to_string(i));
    ASSERT_EQ(r.find_string("result"), "ok") << r.find_string("error-reason").value_or("") << " " << i;
  }
  for (bool json : {false, true}) {
    SCOPED_TRACE(json ? "JSON" : "bencode");
    std::string framed = server->handle_datagram(
        json ? "l1 {\"command\":\"list\",\"limit\":1000}" : "l2 d7:command4:list5:limiti1000ee", peer, now);
    ASSERT_LE(framed.size(), kMaxNgDatagram);
    ASSERT_GT(framed.size(), kMaxNgDatagram - 1000);  // cut no more than needed
    auto v = json ? decode_json(framed.substr(3)) : decode_bencode(framed.substr(3));
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(v->find_string("result"), "ok");
    const auto listed = v->find("calls")->as_list();
    ASSERT_GT(listed.size(), 150u);
    ASSERT_LT(listed.size(), size_t(kCalls));
    EXPECT_EQ(v->find_string("warning"),
              "list truncated: " + std::to_string(listed.size()) + " of 200 calls (one UDP datagram)");
  }
  EXPECT_EQ(server->stats().truncated_lists, 2u);
}

TEST_F(NgServerTest, StatisticsShowTheEndpointCounters) {
  server->handle_datagram("no-cookie", peer, now);
  auto v = reply("s1 d7:command10:statisticse", "s1");
  const NgValue* ng = v.find("statistics")->find("totalstatistics")->find("ng");
  ASSERT_NE(ng, nullptr);
  EXPECT_EQ(ng->find_scalar("no cookie"), "1");
  EXPECT_EQ(ng->find_scalar("requests"), "2");
  for (const char* name : {"rate limited", "cache evictions", "cache bytes", "truncated lists",
                           "oversized replies", "retransmissions", "refused peer"})
    EXPECT_TRUE(ng->find_scalar(name)) << name;
}

TEST(ReplyFit, AnyOtherReplyOverADatagramBecomesAnError) {
  NgValue big = NgValue::dict();
  big.set("result", "ok");
  big.set("tags", std::string(70000, 't'));
  FittedReply f = frame_fitting_reply("q1", big, NgEncoding::kBencode, false);
  EXPECT_EQ(f.fit, ReplyFit::kTooLarge);
  auto v = decode_bencode(std::string_view(f.framed).substr(3));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->find_string("result"), "error");
  EXPECT_EQ(v->find_string("error-reason"), "Reply too large for one UDP datagram: 70029 bytes");
  // The same reply under the bound goes out as it is.
  EXPECT_EQ(frame_fitting_reply("q1", big, NgEncoding::kBencode, false, 80000).fit, ReplyFit::kFits);
}

TEST(ReplyCache, KeepsRepliesForOneToTwoGenerations) {
  ReplyCache cache(30);
  cache.insert("a", "A", 0);
  EXPECT_NE(cache.find("a", 29), nullptr);
  EXPECT_NE(cache.find("a", 31), nullptr);  // moved to the previous generation
  EXPECT_EQ(cache.find("a", 62), nullptr);  // two rotations later: gone
}

TEST(ReplyCache, StaysWithinItsByteBoundEvictingTheOldestFirst) {
  constexpr size_t kBound = 100'000;
  ReplyCache cache(30'000'000'000, kBound);
  const std::string reply(400, 'r');
  for (int i = 0; i < 10'000; ++i) {
    cache.insert("key" + std::to_string(i), reply, i);
    ASSERT_LE(cache.bytes(), kBound);
  }
  EXPECT_GT(cache.evictions(), 9000u);
  EXPECT_EQ(cache.evictions() + cache.size(), 10'000u);
  // The newest replies are still there for retransmissions, the oldest gone.
  EXPECT_NE(cache.find("key9999", 10'000), nullptr);
  EXPECT_NE(cache.find("key9950", 10'000), nullptr);
  EXPECT_EQ(cache.find("key0", 10'000), nullptr);
}

// A server on two loopback sockets, and a client socket.
struct NgSocketsTest : NgServerTest {
  int client = -1;
  sockaddr_storage at[2]{};
  socklen_t at_len[2]{};

  void open_sockets(int rate_limit) {
    const Endpoint any_port{*IpAddr::parse("127.0.0.1"), 0};
    config.listen_ng = {any_port, any_port};
    config.ng_rate_limit = rate_limit;
    server = std::make_unique<NgServer>(*cm, config);
    ASSERT_EQ(server->open(), "");
    for (int i = 0; i < 2; ++i) {
      at_len[i] = sizeof at[i];
      getsockname(server->fds()[size_t(i)], reinterpret_cast<sockaddr*>(&at[i]), &at_len[i]);
    }
    client = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    const int size = 8 << 20;
    setsockopt(client, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  void TearDown() override {
    if (client >= 0) close(client);
  }
  void send_pings(int socket_index, int n) {
    for (int i = 0; i < n; ++i) {
      const std::string dg = "p" + std::to_string(socket_index) + "_" + std::to_string(i) + " d7:command4:pinge";
      ASSERT_EQ(sendto(client, dg.data(), dg.size(), 0, reinterpret_cast<sockaddr*>(&at[socket_index]),
                       at_len[socket_index]),
                ssize_t(dg.size()))
          << strerror(errno) << " " << i;
    }
  }
  int replies() {
    char buf[2048];
    int n = 0;
    while (recv(client, buf, sizeof buf, 0) > 0) ++n;
    return n;
  }
};

TEST_F(NgSocketsTest, PollOnceIsBoundedPerSocketAndServesEverySocket) {
  open_sockets(0);
  send_pings(0, 300);  // within the default receive buffer (rmem_default)
  send_pings(1, 300);
  server->poll_once(now);
  // Not all 600: the control loop gets its turn; both sockets were served.
  EXPECT_EQ(server->stats().requests, 2 * NgServer::kMaxPerSocket);
  EXPECT_EQ(replies(), int(2 * NgServer::kMaxPerSocket));
  for (int i = 0; i < 10; ++i) server->poll_once(now);
  EXPECT_EQ(server->stats().requests, 600u);
  EXPECT_EQ(replies(), 600 - int(2 * NgServer::kMaxPerSocket));
}

TEST_F(NgSocketsTest, RateLimitRefusesAFloodingSourceBeyondItsBurst) {
  open_sockets(50);  // 50/s, burst 100
  send_pings(0, 300);
  for (int i = 0; i < 10; ++i) server->poll_once(now);  // the clock stands still: no refill
  EXPECT_EQ(server->stats().requests, 100u);
  EXPECT_EQ(server->stats().rate_limited, 200u);
  EXPECT_EQ(replies(), 100);
  // Half a second later the source has 25 tokens again.
  now.mono_ns += 500'000'000;
  send_pings(1, 50);
  for (int i = 0; i < 5; ++i) server->poll_once(now);
  EXPECT_EQ(server->stats().requests, 125u);
  EXPECT_EQ(server->stats().rate_limited, 225u);
}

TEST(NgRateLimiter, BucketPerSourceAddress) {
  NgRateLimiter limiter(10);  // burst 20
  const IpAddr a = *IpAddr::parse("192.0.2.1"), b = *IpAddr::parse("2001:db8::1");
  int allowed = 0;
  for (int i = 0; i < 100; ++i) allowed += limiter.allow(a, 0);
  EXPECT_EQ(allowed, 20);
  EXPECT_TRUE(limiter.allow(b, 0));  // another source is not affected
  EXPECT_FALSE(limiter.allow(a, 50'000'000));  // 0.5 token
  EXPECT_TRUE(limiter.allow(a, 100'000'000));  // 1 token
  EXPECT_FALSE(limiter.allow(a, 100'000'000));
  NgRateLimiter off(0);
  for (int i = 0; i < 100'000; ++i) ASSERT_TRUE(off.allow(a, 0));
}

}  // namespace
}  // namespace vox::control
