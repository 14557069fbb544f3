// The socket backend as the control plane sees it: N shared-nothing
// workers (WorkerSet), each running an io_uring loop (or epoll where the
// kernel refuses io_uring) over the sockets of its ports, which
// bind_port opens on the control thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "dataplane/io/socket_backend.h"
#include "dataplane/io/udp_socket.h"
#include "dataplane/io/uring_backend.h"
#include "dataplane/worker_set.h"

namespace vox::dataplane {

struct SocketEngineConfig {
  std::vector<IpAddr> interfaces;  // local address of each interface index (LocalKey's high half)
  int workers = 1;
  uint32_t max_flows_per_worker = 16384;
  SocketLoopConfig socket;
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

  // "io_uring" or "epoll": what the socket backend ended up using.
  const char* io_method() const { return uring_workers_.empty() ? "epoll" : "io_uring"; }

 private:
  void wake(int w) override;

  SocketEngineConfig config_;
  PortSockets sockets_;
  // Per worker exactly one of these two loops runs.
  std::vector<std::unique_ptr<SocketWorker>> socket_workers_;
  std::vector<std::unique_ptr<UringWorker>> uring_workers_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
};

}  // namespace vox::dataplane
