// Socket backend loop. Order matters for correctness: commands (which may
// close sockets) are applied only between epoll_wait calls, never while the
// events of one wait are being processed, so an event never refers to a
// socket that was closed (and whose fd number was reused) in between.
#include "base/clock.h"
#include "dataplane/io/socket_backend.h"

#include "dataplane/transcode.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace vox::dataplane {

namespace {

constexpr int kMaxEvents = 256;
constexpr uint32_t kMaxPackets = 256;  // per iteration
constexpr uint32_t kRecvBatch = 8;     // per recvmmsg call
constexpr size_t kBufferSize = 2048;   // an Ethernet-MTU datagram, and room for its SRTP tag
constexpr uint64_t kWakeTag = ~uint64_t(0);


// epoll data: the local key in the high half, the fd in the low half.
uint64_t pack(LocalKey key, int fd) { return uint64_t(key) << 32 | uint32_t(fd); }

}  // namespace

struct RxBuffers {
  alignas(64) uint8_t data[kMaxPackets][kBufferSize];
  sockaddr_storage names[kMaxPackets];
  iovec iov[kMaxPackets];
  mmsghdr msgs[kMaxPackets];
  RxPacket rx[kMaxPackets];
  TxPacket tx[kMaxPackets];
};

SocketWorker::SocketWorker(WorkerState& state, PortSockets& sockets, SocketLoopConfig config)
    : state_(state), sockets_(sockets), config_(config), bufs_(std::make_unique<RxBuffers>()) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeTag;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
}

void close_worker_sockets(WorkerState& state, PortSockets& sockets) {
  FlowCommand cmd;
  while (state.commands().pop(cmd)) {
    const auto a = state.apply(cmd);
    if (a.port == WorkerState::PortChange::kRemoved) sockets.release(a.key);
  }
}

SocketWorker::~SocketWorker() {
  close_worker_sockets(state_, sockets_);
  close(wake_fd_);
  close(epoll_fd_);
}

void SocketWorker::wake() {
  uint64_t one = 1;
  ssize_t r = write(wake_fd_, &one, sizeof one);
  (void)r;  // EAGAIN means a wake-up is already pending
}

void SocketWorker::close_removed() {
  for (int fd : closing_) close(fd);
  closing_.clear();
}

void SocketWorker::drain_commands() {
  FlowCommand cmd;
  while (state_.commands().pop(cmd)) {
    const auto a = state_.apply(cmd);
    if (a.port == WorkerState::PortChange::kAdded) {
      if (const int fd = sockets_.fd(a.key); fd >= 0) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = pack(a.key, fd);
        epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
      }
    }
    if (a.port == WorkerState::PortChange::kRemoved) {
      if (const int fd = sockets_.take(a.key); fd >= 0) {
        epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
        closing_.push_back(fd);
      }
    }
  }
}

void send_generated(WorkerState& state, const PortSockets& sockets) {
  GeneratedPackets* g = state.generated();
  if (!g || g->count == 0) return;
  send_packets(state, sockets, g->out, g->count);
  g->count = 0;
}

void SocketWorker::transmit(const TxPacket* tx, uint32_t n) {
  send_packets(state_, sockets_, tx, n);
  send_generated(state_, sockets_);
}

void SocketWorker::run(const std::atomic<bool>& stop) {
  RxBuffers* bufs = bufs_.get();
  epoll_event events[kMaxEvents];
  WorkerCounters& wc = state_.counters();
  for (uint32_t i = 0; i < kMaxPackets; ++i) {
    bufs->iov[i] = {bufs->data[i], kBufferSize};
  }

  while (!stop.load(std::memory_order_relaxed)) {
    drain_commands();
    close_removed();
    int n = epoll_wait(epoll_fd_, events, kMaxEvents, 100);
    bump(wc.wakeups);
    if (n <= 0) continue;
    // The control plane replies to an offer/answer right after queueing
    // its flow changes, so a packet in this batch may depend on them:
    // apply them now. Sockets removed here are closed only after the batch,
    // so no event of this batch can name a reused fd number.
    drain_commands();
    int64_t now = monotonic_ns();

    uint32_t count = 0;
    for (int e = 0; e < n; ++e) {
      uint64_t tag = events[e].data.u64;
      if (tag == kWakeTag) {
        uint64_t v;
        ssize_t r = read(wake_fd_, &v, sizeof v);
        (void)r;
        continue;
      }
      int fd = int(uint32_t(tag));
      LocalKey key = LocalKey(tag >> 32);
      if (count + kRecvBatch > kMaxPackets) {
        // Buffers full: process what we have, the rest waits for the next
        // wait (level-triggered epoll reports the socket again).
        uint32_t out = process_burst(state_, bufs->rx, count, now, bufs->tx);
        transmit(bufs->tx, out);
        count = 0;
      }
      for (uint32_t k = 0; k < kRecvBatch; ++k) {
        mmsghdr& m = bufs->msgs[count + k];
        m.msg_hdr = {};
        m.msg_hdr.msg_name = &bufs->names[count + k];
        m.msg_hdr.msg_namelen = sizeof(sockaddr_storage);
        m.msg_hdr.msg_iov = &bufs->iov[count + k];
        m.msg_hdr.msg_iovlen = 1;
      }
      int r = recvmmsg(fd, bufs->msgs + count, kRecvBatch, MSG_DONTWAIT, nullptr);
      bump(wc.rx_calls);
      for (int k = 0; k < r; ++k) {
        uint32_t idx = count + uint32_t(k);
        bufs->rx[idx] = RxPacket{bufs->data[idx], uint16_t(bufs->msgs[idx].msg_len), key,
                                 Endpoint::from_sockaddr(
                                     reinterpret_cast<sockaddr*>(&bufs->names[idx])),
                                 uint16_t(kBufferSize)};
      }
      if (r > 0) count += uint32_t(r);
    }
    if (count) {
      uint32_t out = process_burst(state_, bufs->rx, count, now, bufs->tx);
      transmit(bufs->tx, out);
    }
    close_removed();
    if (config_.coalesce_ns > 0 && count < config_.coalesce_below) {
      timespec ts{0, long(config_.coalesce_ns)};
      nanosleep(&ts, nullptr);
    }
  }
}

}  // namespace vox::dataplane
