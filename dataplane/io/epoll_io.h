// The epoll I/O policy of the burst loop: the socket backend's fallback
// where the kernel refuses io_uring. One epoll set per worker over the
// sockets of its ports; a readable socket is drained with recvmmsg into
// the burst, forwarded packets leave with sendmmsg, a call per run of
// packets through one socket.
#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/burst_loop.h"
#include "dataplane/io/udp_socket.h"

namespace vox::dataplane {

class EpollIo {
 public:
  static constexpr uint32_t kMaxBurst = 256;
  static constexpr bool kBlocks = true;

  EpollIo(WorkerState& state, PortSockets& sockets, SocketLoopConfig config);
  ~EpollIo();
  EpollIo(const EpollIo&) = delete;
  EpollIo& operator=(const EpollIo&) = delete;

  // Makes wait() return now (a command or a slow-path reply is queued). Any thread.
  void wake();

  // The burst loop's policy (burst_loop.h).
  void port_changed(const WorkerState::Applied& a);
  void wait(bool block);
  bool next(RxBurst& b, IterationClock& clock);
  void send(const TxPacket* tx, uint32_t n, int64_t) { send_packets(state_, sockets_, tx, n); }
  void transmit(const RxBurst&, const TxPacket* tx, uint32_t n, int64_t) {
    send_packets(state_, sockets_, tx, n);
  }
  void release(const RxBurst&) {}
  void end_iteration(uint32_t received, IterationClock&);
  void shutdown() { close_removed(); }

 private:
  struct Buffers;
  void close_removed();

  WorkerState& state_;
  PortSockets& sockets_;
  SocketLoopConfig config_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::unique_ptr<Buffers> bufs_;
  int nevents_ = 0, next_event_ = 0;  // the last wait's events, and the next to read
  // Removed sockets, closed after the iteration: no event of this wait
  // may name a descriptor number that was closed and reused meanwhile.
  std::vector<int> closing_;
};

using EpollLoop = BurstLoop<EpollIo>;

}  // namespace vox::dataplane
