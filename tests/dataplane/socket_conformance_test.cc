// The backend conformance suite (tests/conformance/backend_harness.h) on the
// socket backend: a one-worker SocketEngine on 127.0.0.1 running its
// io_uring loop or its epoll loop, peers as real UDP sockets on 127.0.0.1.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "dataplane/io/socket_engine.h"
#include "tests/conformance/backend_cases.h"

namespace vox::dataplane::conformance {
namespace {

class SocketHarness final : public BackendHarness {
 public:
  explicit SocketHarness(bool use_uring) : use_uring_(use_uring) {}
  ~SocketHarness() override {
    engine_.reset();
    for (int fd : peer_fds_)
      if (fd >= 0) close(fd);
  }

  void start(bool slow_path) override {
    SocketEngineConfig c;
    c.interfaces = {relay_address()};
    c.workers = 1;
    c.max_flows_per_worker = 64;
    c.socket.use_uring = use_uring_;
    engine_ = std::make_unique<SocketEngine>(c);
    if (use_uring_ && std::string(engine_->io_method()) != "io_uring")
      GTEST_SKIP() << "the kernel refused io_uring: SocketEngine fell back to "
                   << engine_->io_method();
    if (slow_path) engine_->enable_slow_path();
    engine_->start();
  }
  void stop() override {
    if (engine_) engine_->stop();
  }

  WorkerSet& dataplane() override { return *engine_; }
  size_t largest_datagram() const override { return 65507; }  // IPv4's UDP maximum
  IpAddr relay_address() const override { return *IpAddr::parse("127.0.0.1"); }

  Endpoint peer(int i) override {
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
    getsockname(peer_fd(i), reinterpret_cast<sockaddr*>(&ss), &len);
    return Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
  }

  // Below the usual ephemeral range (32768..60999), where the peers' own
  // ports come from; a port another process holds is skipped.
  LocalKey bind_port() override {
    static uint32_t serial = uint32_t(getpid()) * 37;
    for (int tries = 0; tries < 200; ++tries) {
      const uint16_t port = uint16_t(20000 + (serial++ * 2) % 12000);
      const LocalKey key = make_local_key(0, port);
      auto bound = engine_->bind_port(key);
      if (bound.ok()) return bound->key;
      if (bound.error() != EADDRINUSE) {
        ADD_FAILURE() << "bind_port(" << port << "): " << std::strerror(bound.error());
        return 0;
      }
    }
    ADD_FAILURE() << "no free relay port";
    return 0;
  }

  void send(int i, LocalKey to, const std::vector<uint8_t>& payload) override {
    sockaddr_storage ss;
    const socklen_t len = relay(to).to_sockaddr(&ss);
    const ssize_t r = sendto(peer_fd(i), payload.data(), payload.size(), 0,
                             reinterpret_cast<sockaddr*>(&ss), len);
    EXPECT_EQ(r, ssize_t(payload.size())) << "peer " << i << ": " << std::strerror(errno);
  }

  std::optional<Datagram> try_receive(int i) override {
    uint8_t buf[65536];
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
    const ssize_t r =
        recvfrom(peer_fd(i), buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&ss), &len);
    if (r < 0) return std::nullopt;
    return Datagram{Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss)),
                    std::vector<uint8_t>(buf, buf + r)};
  }

  void step() override { std::this_thread::sleep_for(std::chrono::microseconds(200)); }

 private:
  // Peer i's socket, bound to 127.0.0.1 on a port the kernel picks.
  int peer_fd(int i) {
    if (i < 0 || i >= kPeers) {
      ADD_FAILURE() << "no peer " << i;
      return -1;
    }
    int& fd = peer_fds_[size_t(i)];
    if (fd >= 0) return fd;
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_storage ss;
    const socklen_t len = Endpoint{relay_address(), 0}.to_sockaddr(&ss);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&ss), len), 0) << std::strerror(errno);
    return fd;
  }

  bool use_uring_;
  std::unique_ptr<SocketEngine> engine_;
  std::vector<int> peer_fds_ = std::vector<int>(kPeers, -1);
};

std::unique_ptr<BackendHarness> make_uring() {
  return std::make_unique<SocketHarness>(true);
}
std::unique_ptr<BackendHarness> make_epoll() {
  return std::make_unique<SocketHarness>(false);
}

INSTANTIATE_TEST_SUITE_P(Socket, BackendConformance,
                         ::testing::Values(BackendParam{"uring", make_uring},
                                           BackendParam{"epoll", make_epoll}),
                         backend_name);

}  // namespace
}  // namespace vox::dataplane::conformance
