// The kernel-socket backend driven through io_uring instead of epoll: every
// socket has a multishot recvmsg armed into a ring of provided buffers, and
// forwarded packets leave as sendmsg requests submitted together, so one
// io_uring_enter per loop iteration replaces a recvmmsg and a sendmmsg per
// packet (at 50 packets/s per socket each of those carries one packet).
// Same sockets, same pipeline, same commands as SocketWorker.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "dataplane/io/socket_backend.h"
#include "dataplane/pipeline.h"

namespace vox::dataplane {

struct UringState;

class UringWorker {
 public:
  // Fails (ok() false) when the kernel refuses io_uring (disabled by sysctl
  // or seccomp): the engine then falls back to SocketWorker.
  static std::unique_ptr<UringWorker> create(WorkerState& state, PortSockets& sockets,
                                             SocketLoopConfig config);
  ~UringWorker();
  UringWorker(const UringWorker&) = delete;
  UringWorker& operator=(const UringWorker&) = delete;

  void run(const std::atomic<bool>& stop);
  void wake();

 private:
  UringWorker(WorkerState& state, PortSockets& sockets);
  void drain_commands();
  void arm_recv(LocalKey key, int fd);
  void forward(const TxPacket* tx, uint32_t n);
  void recycle(uint16_t buffer_id);
  void cancel_all();

  WorkerState& state_;
  PortSockets& sockets_;
  SocketLoopConfig config_;
  std::unique_ptr<UringState> s_;
  int wake_fd_ = -1;
};

}  // namespace vox::dataplane
