// The socket backend as the control plane sees it: N shared-nothing
// workers (WorkerSet), each running the burst loop over the sockets of its
// ports with io_uring (or epoll where the kernel refuses io_uring); the
// control thread opens a port's socket in bind_port.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "dataplane/io/epoll_io.h"
#include "dataplane/io/udp_socket.h"
#include "dataplane/io/uring_io.h"
#include "dataplane/worker_set.h"

namespace vox::dataplane {

struct SocketEngineConfig {
  std::vector<IpAddr> interfaces;  // local address of each interface index (LocalKey's high half)
  int workers = 1;
  uint32_t max_flows_per_worker = 16384;
  SocketLoopConfig socket;
  int tos = 0;  // every media socket's TOS octet (open_udp_port); 0: unmarked
};

class SocketEngine final : public WorkerSet {
 public:
  explicit SocketEngine(SocketEngineConfig config);
  ~SocketEngine() override;
  SocketEngine(const SocketEngine&) = delete;
  SocketEngine& operator=(const SocketEngine&) = delete;

  void start();
  void stop();  // joins the workers; every socket is closed

  Result<PortHandle, int> bind_port(LocalKey key) override { return sockets_.bind(key); }
  void release_port(PortHandle port) override { sockets_.release(port.key); }
  void set_port_tos(LocalKey key, std::optional<uint8_t> tos) override {
    sockets_.set_tos(key, tos ? *tos : config_.tos);
  }

  // "io_uring" or "epoll": what the socket backend ended up using.
  const char* io_method() const { return uring_.empty() ? "epoll" : "io_uring"; }

 private:
  void wake(int w) override;
  template <class Io>
  void start_loops(std::vector<std::unique_ptr<Io>>& ios);

  SocketEngineConfig config_;
  PortSockets sockets_;
  // Per worker one I/O policy, of one kind for all.
  std::vector<std::unique_ptr<UringIo>> uring_;
  std::vector<std::unique_ptr<EpollIo>> epoll_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
};

}  // namespace vox::dataplane
