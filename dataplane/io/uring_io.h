// The io_uring I/O policy of the burst loop: the socket backend's default.
// Every socket has a multishot recvmsg armed into a ring of provided
// buffers, and forwarded packets leave as sendmsg requests submitted with
// the next wait, so one io_uring_enter per iteration replaces a recvmmsg
// and a sendmmsg per packet (at 50 packets/s per socket each of those
// would carry one packet). Same sockets, same pipeline as EpollIo.
#pragma once

#include <cstdint>
#include <memory>

#include "dataplane/burst_loop.h"
#include "dataplane/io/udp_socket.h"

namespace vox::dataplane {

struct UringState;

class UringIo {
 public:
  static constexpr uint32_t kMaxBurst = 256;
  static constexpr bool kBlocks = true;

  // Null when the kernel refuses io_uring (disabled by sysctl or seccomp):
  // the engine then runs EpollIo.
  static std::unique_ptr<UringIo> create(WorkerState& state, PortSockets& sockets,
                                         SocketLoopConfig config);
  ~UringIo();
  UringIo(const UringIo&) = delete;
  UringIo& operator=(const UringIo&) = delete;

  // Makes wait() return now (a command or a slow-path reply is queued). Any thread.
  void wake();

  // The burst loop's policy (burst_loop.h).
  void port_changed(const WorkerState::Applied& a);
  void wait(bool block);
  bool next(RxBurst& b, IterationClock& clock);
  void send(const TxPacket* tx, uint32_t n, int64_t) { send_packets(state_, sockets_, tx, n); }
  void transmit(const RxBurst& b, const TxPacket* tx, uint32_t n, int64_t now);
  void release(const RxBurst& b);
  void end_iteration(uint32_t received, IterationClock& clock);
  void shutdown();

 private:
  UringIo(WorkerState& state, PortSockets& sockets, SocketLoopConfig config);
  void arm_recv(LocalKey key, int fd);
  void recycle(uint16_t buffer_id);
  void take_receive(const void* cqe, uint32_t& count);
  void take_send(const void* cqe);
  void rearm_wake();

  WorkerState& state_;
  PortSockets& sockets_;
  SocketLoopConfig config_;
  std::unique_ptr<UringState> s_;
  int wake_fd_ = -1;
};

using UringLoop = BurstLoop<UringIo>;

}  // namespace vox::dataplane
