// The kernel-socket pieces both socket loops (io_uring, epoll) use: a
// bound UDP socket per local port, the table that names each port's
// socket by LocalKey, batched sends with sendmmsg, and their settings.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/endpoint.h"
#include "base/result.h"
#include "dataplane/dataplane.h"
#include "dataplane/packet.h"
#include "dataplane/worker.h"

namespace vox::dataplane {

// Opens a non-blocking UDP socket bound to addr:port, marked DSCP EF.
// Returns the fd, or the errno (EADDRINUSE when the port is taken).
// Marks a UDP socket's packets with `tos` (IPv4 TOS octet or IPv6 traffic
// class); 0 or less leaves the kernel's default.
void set_tos(int fd, bool v4, int tos);

// tos: the IPv4 TOS / IPv6 traffic class octet its packets leave with (184
// = DSCP EF, RFC 4594's class for telephony); 0: the kernel's (unmarked).
Result<int, int> open_udp_port(const IpAddr& addr, uint16_t port, int tos = 0);

// The socket of every bound local port, by LocalKey (interface index and
// UDP port index it directly). The control thread opens a port's socket
// (bind) before it posts the flow command that uses the port; the worker
// that removes the flow takes the socket back (take) and closes it. So a
// socket has one owner at a time, and a port is bound again only once its
// old socket is closed (bind fails until then).
class PortSockets {
 public:
  explicit PortSockets(std::vector<IpAddr> interfaces, int tos = 0);  // tos: open_udp_port's
  ~PortSockets();  // closes every socket still bound
  PortSockets(const PortSockets&) = delete;
  PortSockets& operator=(const PortSockets&) = delete;

  Result<PortHandle, int> bind(LocalKey key);  // control thread
  void release(LocalKey key);                 // control thread: never given to a worker
  void set_tos(LocalKey key, int tos);        // control thread, on a bound port (0: unmarked)
  int fd(LocalKey key) const {                // worker: -1 when not bound
    return local_key_iface(key) < interfaces_.size() ? fds_[key].load(std::memory_order_relaxed) : -1;
  }
  int take(LocalKey key);  // worker: the socket of a removed flow, now the caller's to close
  size_t slots() const { return interfaces_.size() << 16; }  // LocalKeys it can hold

 private:
  std::vector<IpAddr> interfaces_;
  int tos_;
  std::unique_ptr<std::atomic<int32_t>[]> fds_;
};

struct SocketLoopConfig {
  // io_uring (one system call per loop iteration for all sockets) when the
  // kernel allows it, else epoll + recvmmsg/sendmmsg.
  bool use_uring = true;
  // After an iteration that found fewer than coalesce_below packets, wait
  // up to this long for a fuller batch (io_uring: in its wait; epoll: a
  // pause before the next epoll_wait): fewer system calls per packet at a
  // small latency cost.
  int64_t coalesce_ns = 0;
  uint32_t coalesce_below = 32;
};

// Sends packets with sendmmsg, a call per run of packets leaving through
// the same port; a refused packet is counted as send-failed (worker and
// flow), never retried or blocked on.
void send_packets(WorkerState& state, const PortSockets& sockets, const TxPacket* tx, uint32_t n);

}  // namespace vox::dataplane
