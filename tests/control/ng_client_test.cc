// NgClient against an in-process UDP responder on 127.0.0.1: the responder
// drops the first attempt (so the client must retransmit the same datagram),
// sends a decoy reply with a foreign cookie, then answers properly.
#include "control/ng_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

namespace vox::control {
namespace {

// A UDP socket bound to an ephemeral port on 127.0.0.1.
struct Responder {
  int fd = -1;
  Endpoint where;

  Responder() {
    fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
    socklen_t len = sizeof sin;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len);
    where = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&sin));
  }
  ~Responder() { ::close(fd); }

  // Next datagram and its sender, or empty after timeout_ms.
  std::string receive(sockaddr_storage* from, socklen_t* from_len, int timeout_ms = 3000) {
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, timeout_ms) != 1) return {};
    char buf[2048];
    *from_len = sizeof *from;
    const ssize_t n = ::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(from), from_len);
    return n > 0 ? std::string(buf, size_t(n)) : std::string();
  }
  void send_to(const std::string& data, const sockaddr_storage& to, socklen_t to_len) {
    ::sendto(fd, data.data(), data.size(), 0, reinterpret_cast<const sockaddr*>(&to), to_len);
  }
};

TEST(NgClient, RetransmitsSameCookieAndMatchesReply) {
  Responder responder;
  std::vector<std::string> seen;
  std::thread server([&] {
    sockaddr_storage from{};
    socklen_t from_len = 0;
    seen.push_back(responder.receive(&from, &from_len));  // dropped: forces a retransmission
    seen.push_back(responder.receive(&from, &from_len));
    const std::string& req = seen.back();
    const std::string cookie = req.substr(0, req.find(' '));
    // A late reply to some other request must be ignored by the client.
    responder.send_to("not-the-cookie d6:result5:errore", from, from_len);
    responder.send_to(cookie + " d6:result4:pong7:warning3:hmme", from, from_len);
  });

  NgClient client(responder.where);
  NgValue req = NgValue::dict();
  req.set("command", "ping");
  auto reply = client.call(req, /*timeout_ms=*/200, /*retries=*/2);
  server.join();

  ASSERT_TRUE(reply.ok()) << reply.error();
  EXPECT_EQ(reply->find_string("result"), "pong");
  EXPECT_EQ(reply->find_string("warning"), "hmm");
  ASSERT_EQ(seen.size(), 2u);
  ASSERT_FALSE(seen[0].empty());
  // Byte-identical retransmission: same cookie, same body.
  EXPECT_EQ(seen[0], seen[1]);
  EXPECT_NE(seen[0].find(" d7:command4:pinge"), std::string::npos) << seen[0];
}

TEST(NgClient, CookiesDifferBetweenRequests) {
  Responder responder;
  std::vector<std::string> cookies;
  std::thread server([&] {
    for (int i = 0; i < 2; ++i) {
      sockaddr_storage from{};
      socklen_t from_len = 0;
      const std::string req = responder.receive(&from, &from_len);
      cookies.push_back(req.substr(0, req.find(' ')));
      responder.send_to(cookies.back() + " d6:result2:oke", from, from_len);
    }
  });
  NgClient client(responder.where);
  NgValue req = NgValue::dict();
  req.set("command", "list");
  EXPECT_TRUE(client.call(req, 1000, 0).ok());
  EXPECT_TRUE(client.call(req, 1000, 0).ok());
  server.join();
  ASSERT_EQ(cookies.size(), 2u);
  EXPECT_FALSE(cookies[0].empty());
  EXPECT_NE(cookies[0], cookies[1]);
}

TEST(NgClient, WorksOverIpv6) {
  const int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_addr = in6addr_loopback;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&sin6), sizeof sin6) != 0) {
    if (fd >= 0) ::close(fd);
    GTEST_SKIP() << "no IPv6 loopback here";
  }
  socklen_t len = sizeof sin6;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sin6), &len);
  const Endpoint where = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&sin6));
  std::thread server([fd] {
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, 3000) != 1) return;
    char buf[512];
    sockaddr_storage from{};
    socklen_t from_len = sizeof from;
    const ssize_t n = ::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n <= 0) return;
    const std::string req(buf, size_t(n));
    const std::string reply = req.substr(0, req.find(' ')) + " d6:result4:ponge";
    ::sendto(fd, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
  });
  NgClient client(where);
  NgValue req = NgValue::dict();
  req.set("command", "ping");
  auto reply = client.call(req, 1000, 0);
  server.join();
  ::close(fd);
  ASSERT_TRUE(reply.ok()) << reply.error();
  EXPECT_EQ(reply->find_string("result"), "pong");
}

TEST(NgClient, TimesOutWhenNobodyAnswers) {
  Responder silent;  // bound but never reads
  NgClient client(silent.where);
  NgValue req = NgValue::dict();
  req.set("command", "ping");
  auto reply = client.call(req, /*timeout_ms=*/30, /*retries=*/1);
  ASSERT_FALSE(reply.ok());
  EXPECT_NE(reply.error().find("2 attempts"), std::string::npos) << reply.error();
}

}  // namespace
}  // namespace vox::control
