// EpollIo: epoll_wait, recvmmsg per readable socket, sendmmsg per run.
#include "dataplane/io/epoll_io.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

namespace vox::dataplane {

namespace {

constexpr int kMaxEvents = 256;
constexpr uint32_t kRecvBatch = 8;    // datagrams per recvmmsg call
constexpr size_t kBufferSize = 2048;  // kMaxDatagram and room for its SRTP tag
constexpr uint64_t kWakeTag = ~uint64_t(0);
constexpr int kWaitMs = 100;          // how often an idle worker looks at its stop flag

// epoll data: the local key in the high half, the fd in the low half.
uint64_t pack(LocalKey key, int fd) { return uint64_t(key) << 32 | uint32_t(fd); }

}  // namespace

struct EpollIo::Buffers {
  alignas(64) uint8_t data[kMaxBurst][kBufferSize];
  sockaddr_storage names[kMaxBurst];
  iovec iov[kMaxBurst];
  mmsghdr msgs[kMaxBurst];
  RxPacket rx[kMaxBurst];
  epoll_event events[kMaxEvents];
};

EpollIo::EpollIo(WorkerState& state, PortSockets& sockets, SocketLoopConfig config)
    : state_(state), sockets_(sockets), config_(config), bufs_(std::make_unique<Buffers>()) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeTag;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  for (uint32_t i = 0; i < kMaxBurst; ++i) bufs_->iov[i] = {bufs_->data[i], kBufferSize};
}

EpollIo::~EpollIo() {
  close_removed();
  close(wake_fd_);
  close(epoll_fd_);
}

void EpollIo::wake() {
  uint64_t one = 1;
  ssize_t r = write(wake_fd_, &one, sizeof one);
  (void)r;  // EAGAIN means a wake-up is already pending
}

void EpollIo::port_changed(const WorkerState::Applied& a) {
  if (a.port == WorkerState::PortChange::kAdded) {
    if (const int fd = sockets_.fd(a.key); fd >= 0) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = pack(a.key, fd);
      epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    }
  } else if (const int fd = sockets_.take(a.key); fd >= 0) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    closing_.push_back(fd);
  }
}

void EpollIo::wait(bool block) {
  nevents_ = std::max(0, epoll_wait(epoll_fd_, bufs_->events, kMaxEvents, block ? kWaitMs : 0));
  next_event_ = 0;
  bump(state_.counters().wakeups);
}

// Reads the ready sockets in turn until the burst is full (the rest stay
// ready: epoll is level-triggered, the next wait reports them again).
bool EpollIo::next(RxBurst& b, IterationClock&) {
  Buffers& s = *bufs_;
  uint32_t count = 0;
  while (next_event_ < nevents_ && count + kRecvBatch <= kMaxBurst) {
    const uint64_t tag = s.events[next_event_++].data.u64;
    if (tag == kWakeTag) {
      uint64_t v;
      ssize_t r = read(wake_fd_, &v, sizeof v);
      (void)r;
      continue;
    }
    for (uint32_t k = count; k < count + kRecvBatch; ++k) {
      mmsghdr& m = s.msgs[k];
      m.msg_hdr = {};
      m.msg_hdr.msg_name = &s.names[k];
      m.msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      m.msg_hdr.msg_iov = &s.iov[k];
      m.msg_hdr.msg_iovlen = 1;
    }
    // MSG_TRUNC: msg_len is the datagram's real length, so one longer than
    // the buffer is seen, and dropped, as oversized.
    const int r = recvmmsg(int(uint32_t(tag)), s.msgs + count, kRecvBatch, MSG_DONTWAIT | MSG_TRUNC, nullptr);
    bump(state_.counters().rx_calls);
    const auto key = LocalKey(tag >> 32);
    for (int k = 0; k < r; ++k, ++count) {
      RxPacket& p = s.rx[count];
      p.data = s.data[count];
      p.len = uint16_t(std::min<uint32_t>(s.msgs[count].msg_len, 0xffff));
      p.local = key;
      p.source = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&s.names[count]));
      p.capacity = uint16_t(kBufferSize);
    }
  }
  b = RxBurst{s.rx, count, count};
  return count > 0;
}

void EpollIo::close_removed() {
  for (int fd : closing_) close(fd);
  closing_.clear();
}

void EpollIo::end_iteration(uint32_t received, IterationClock&) {
  close_removed();
  if (config_.coalesce_ns > 0 && received < config_.coalesce_below) {
    timespec ts{0, long(config_.coalesce_ns)};
    nanosleep(&ts, nullptr);
  }
}

}  // namespace vox::dataplane
