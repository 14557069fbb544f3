// voxload's fallback I/O driver, for kernels without io_uring: per tick,
// sendto for each due packet, then one epoll_wait(0) and recvmmsg on each
// readable socket.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "voxload_io.h"

namespace voxload {

namespace {

int64_t rx_realtime_from(msghdr* msg) {
  for (cmsghdr* c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
      timespec ts;
      std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
      return int64_t(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
    }
  }
  return 0;
}

class EpollDriver {
 public:
  static constexpr int kBatch = 32;

  explicit EpollDriver(LoadRun& run) : run_(run) {}
  ~EpollDriver() {
    if (epfd_ >= 0) ::close(epfd_);
  }

  std::optional<std::string> init() {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) return std::string("epoll_create1: ") + std::strerror(errno);
    const auto& fds = run_.fds();
    for (uint32_t i = 0; i < fds.size(); ++i) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u32 = i;
      if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fds[i], &ev) != 0) return std::string("epoll_ctl: ") + std::strerror(errno);
    }
    events_.resize(std::min<size_t>(fds.size(), 4096));
    packet_.assign(run_.packet_capacity(), 0xff);
    rx_bufs_.resize(size_t(kBatch) * 2048);
    for (int i = 0; i < kBatch; ++i) {
      iov_[i] = iovec{&rx_bufs_[size_t(i) * 2048], 2048};
      hdrs_[i] = mmsghdr{};
      hdrs_[i].msg_hdr.msg_iov = &iov_[i];
      hdrs_[i].msg_hdr.msg_iovlen = 1;
    }
    return std::nullopt;
  }

  void run() {
    for (int64_t now = mono_ns(); run_.advance(now); now = mono_ns()) {
      if (run_.sending(now)) send_due(now);
      const int64_t next = run_.next_tick(now);
      timespec ts{time_t(next / kNsPerSec), long(next % kNsPerSec)};
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
      receive_ready();
    }
  }

 private:
  void send_due(int64_t now) {
    for (uint64_t n = run_.due(now); n > 0; --n) {
      const uint32_t s = run_.take_next_stream();
      Stream& st = run_.stream(s);
      bool in_window = false;
      const size_t len = run_.build_packet(s, packet_.data(), mono_ns(), &in_window);
      if (::sendto(run_.fds()[s], packet_.data(), len, MSG_DONTWAIT,
                   reinterpret_cast<const sockaddr*>(&st.dest), st.dest_len) >= 0)
        run_.on_sent(in_window);
      else
        run_.on_send_error(errno);
    }
  }

  void receive_ready() {
    const int n = epoll_wait(epfd_, events_.data(), int(events_.size()), 0);
    for (int i = 0; i < n; ++i) {
      const uint32_t sock = events_[size_t(i)].data.u32;
      for (;;) {
        for (int k = 0; k < kBatch; ++k) {
          hdrs_[k].msg_hdr.msg_control = control_[k];
          hdrs_[k].msg_hdr.msg_controllen = sizeof control_[k];
        }
        const int got = recvmmsg(run_.fds()[sock], hdrs_, kBatch, MSG_DONTWAIT, nullptr);
        if (got <= 0) {
          if (got < 0 && errno != EAGAIN) ++run_.counters().recv_errors;
          break;
        }
        for (int k = 0; k < got; ++k)
          run_.on_receive(sock, static_cast<const uint8_t*>(iov_[k].iov_base), hdrs_[k].msg_len,
                          rx_realtime_from(&hdrs_[k].msg_hdr));
        if (got < kBatch) break;
      }
    }
  }

  LoadRun& run_;
  int epfd_ = -1;
  std::vector<epoll_event> events_;
  std::vector<uint8_t> packet_;
  std::vector<uint8_t> rx_bufs_;
  iovec iov_[kBatch];
  mmsghdr hdrs_[kBatch];
  alignas(cmsghdr) uint8_t control_[kBatch][CMSG_SPACE(sizeof(timespec))];
};

}  // namespace

std::optional<std::string> drive_with_epoll(LoadRun& run) {
  EpollDriver driver(run);
  return set_up_and_drive(driver, run);
}

}  // namespace voxload
