// The kernel-socket backend: one bound UDP socket per local port, one epoll
// set per worker, recvmmsg per readable socket and sendmmsg per egress
// socket, in bursts through the shared pipeline. Runs anywhere without
// privileges; the default on a fresh checkout.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/io/udp_socket.h"
#include "dataplane/pipeline.h"

namespace vox::dataplane {

// Applies the commands still queued, closing the sockets of removed
// flows. Called when a worker loop is torn down.
void close_worker_sockets(WorkerState& state, PortSockets& sockets);

// Sends and clears what the transcoders generated in the last burst.
void send_generated(WorkerState& state, const PortSockets& sockets);

struct SocketLoopConfig {
  // io_uring (one system call per loop iteration for all sockets) when the
  // kernel allows it, else epoll + recvmmsg/sendmmsg.
  bool use_uring = true;
  // After an iteration that found fewer than coalesce_below packets, sleep
  // this long before polling again, so that the next epoll_wait returns a
  // fuller batch (fewer syscalls per packet at a small latency cost).
  int64_t coalesce_ns = 0;
  uint32_t coalesce_below = 32;
};

struct RxBuffers;

class SocketWorker {
 public:
  SocketWorker(WorkerState& state, PortSockets& sockets, SocketLoopConfig config);
  ~SocketWorker();
  SocketWorker(const SocketWorker&) = delete;
  SocketWorker& operator=(const SocketWorker&) = delete;

  // The thread body: runs until stop is set (checked at least every 100 ms).
  void run(const std::atomic<bool>& stop);
  // Wakes the loop so it drains its command ring now. Any thread.
  void wake();

 private:
  void drain_commands();
  void close_removed();
  void transmit(const TxPacket* tx, uint32_t n);

  WorkerState& state_;
  PortSockets& sockets_;
  SocketLoopConfig config_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::unique_ptr<RxBuffers> bufs_;
  std::vector<int> closing_;  // removed sockets, closed after the current batch
};

}  // namespace vox::dataplane
