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

Result<int, int> open_udp_port(const IpAddr& addr, uint16_t port) {
  Endpoint ep{addr, port};
  sockaddr_storage ss;
  socklen_t len = ep.to_sockaddr(&ss);
  int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Err{errno};
  if (ss.ss_family == AF_INET6) {
    int one = 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  // DSCP EF (46) for voice, as RFC 4594 recommends for telephony.
  int tos = 46 << 2;
  if (ss.ss_family == AF_INET)
    setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof tos);
  else
    setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof tos);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    int e = errno;
    close(fd);
    return Err{e};
  }
  return fd;
}

struct RxBuffers {
  alignas(64) uint8_t data[kMaxPackets][kBufferSize];
  sockaddr_storage names[kMaxPackets];
  iovec iov[kMaxPackets];
  mmsghdr msgs[kMaxPackets];
  RxPacket rx[kMaxPackets];
  TxPacket tx[kMaxPackets];
};

SocketWorker::SocketWorker(WorkerState& state, SocketLoopConfig config)
    : state_(state), config_(config), bufs_(std::make_unique<RxBuffers>()) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeTag;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
}

void close_worker_sockets(WorkerState& state) {
  FlowCommand cmd;
  while (state.commands().pop(cmd)) {
    auto a = state.apply(cmd);
    if (a.fd_removed >= 0) close(a.fd_removed);
  }
  for (FlowId id = 0; id < state.max_flows(); ++id) {
    FlowHot& h = state.flow(id).hot;
    if (h.fd >= 0) {
      close(h.fd);
      h.fd = -1;
    }
  }
}

SocketWorker::~SocketWorker() {
  close_worker_sockets(state_);
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
    auto a = state_.apply(cmd);
    if (a.fd_added >= 0) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = pack(cmd.hot.key, a.fd_added);
      epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, a.fd_added, &ev);
    }
    if (a.fd_removed >= 0) {
      epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, a.fd_removed, nullptr);
      closing_.push_back(a.fd_removed);
    }
  }
}

void send_packets(WorkerState& state, const TxPacket* tx, uint32_t n) {
  // Runs of packets leaving through the same socket go out in one sendmmsg.
  constexpr uint32_t kChunk = 64;
  WorkerCounters& wc = state.counters();
  mmsghdr msgs[kChunk];
  iovec iov[kChunk];
  sockaddr_storage names[kChunk];
  uint32_t i = 0;
  uint64_t bytes = 0, sent_total = 0;
  while (i < n) {
    uint32_t j = i;
    int fd = tx[i].fd;
    for (; j < n && j - i < kChunk && tx[j].fd == fd; ++j) {
      uint32_t k = j - i;
      iov[k] = {const_cast<uint8_t*>(tx[j].data), tx[j].len};
      msgs[k].msg_hdr = {};
      msgs[k].msg_hdr.msg_name = &names[k];
      msgs[k].msg_hdr.msg_namelen = tx[j].dest.to_sockaddr(&names[k]);
      msgs[k].msg_hdr.msg_iov = &iov[k];
      msgs[k].msg_hdr.msg_iovlen = 1;
    }
    uint32_t count = j - i, done = 0;
    while (done < count) {
      int r = sendmmsg(fd, msgs + done, count - done, MSG_DONTWAIT);
      bump(wc.tx_calls);
      if (r <= 0) {
        // The packet at the head failed (full buffer, unreachable): count
        // it and move on; never block the worker.
        state.send_failed(tx[i + done].source);
        ++done;
        continue;
      }
      for (int k = 0; k < r; ++k) bytes += tx[i + done + k].len;
      sent_total += uint32_t(r);
      done += uint32_t(r);
    }
    i = j;
  }
  bump(wc.tx_packets, sent_total);
  bump(wc.tx_bytes, bytes);
}

void send_generated(WorkerState& state) {
  GeneratedPackets* g = state.generated();
  if (!g || g->count == 0) return;
  send_packets(state, g->out, g->count);
  g->count = 0;
}

void SocketWorker::transmit(const TxPacket* tx, uint32_t n) {
  send_packets(state_, tx, n);
  send_generated(state_);
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
