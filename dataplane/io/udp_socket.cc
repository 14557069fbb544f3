// UDP sockets of local ports, their table, and sendmmsg batches.
#include "dataplane/io/udp_socket.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace vox::dataplane {

namespace {

void set_tos_option(int fd, bool v4, int tos) {
  if (v4)
    setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof tos);
  else
    setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof tos);
}

}  // namespace

void set_tos(int fd, bool v4, int tos) {
  if (tos <= 0) return;  // 0: the kernel's (unmarked), as rtpengine without --tos
  set_tos_option(fd, v4, tos);
}

Result<int, int> open_udp_port(const IpAddr& addr, uint16_t port, int tos) {
  Endpoint ep{addr, port};
  sockaddr_storage ss;
  socklen_t len = ep.to_sockaddr(&ss);
  int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Err{errno};
  if (ss.ss_family == AF_INET6) {
    int one = 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  set_tos(fd, ss.ss_family == AF_INET, tos);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    int e = errno;
    close(fd);
    return Err{e};
  }
  return fd;
}

PortSockets::PortSockets(std::vector<IpAddr> interfaces, int tos)
    : interfaces_(std::move(interfaces)), tos_(tos), fds_(new std::atomic<int32_t>[interfaces_.size() << 16]) {
  for (size_t k = 0; k < interfaces_.size() << 16; ++k) fds_[k].store(-1, std::memory_order_relaxed);
}

PortSockets::~PortSockets() {
  for (size_t k = 0; k < interfaces_.size() << 16; ++k)
    if (const int fd = fds_[k].load(std::memory_order_relaxed); fd >= 0) close(fd);
}

Result<PortHandle, int> PortSockets::bind(LocalKey key) {
  const size_t iface = local_key_iface(key);
  if (iface >= interfaces_.size()) return Err{EINVAL};
  auto fd = open_udp_port(interfaces_[iface], local_key_port(key), tos_);
  if (!fd.ok()) return Err{fd.error()};
  // A slot still holding a socket here would be a control-plane bug (a
  // port bound twice); the kernel refuses the second bind first.
  fds_[key].store(*fd, std::memory_order_relaxed);
  return PortHandle{key};
}

void PortSockets::set_tos(LocalKey key, int tos) {
  const int fd = this->fd(key);
  if (fd >= 0) set_tos_option(fd, interfaces_[local_key_iface(key)].is_v4(), tos);
}

void PortSockets::release(LocalKey key) {
  if (const int fd = take(key); fd >= 0) close(fd);
}

int PortSockets::take(LocalKey key) {
  if (local_key_iface(key) >= interfaces_.size()) return -1;
  return fds_[key].exchange(-1, std::memory_order_relaxed);
}

void send_packets(WorkerState& state, const PortSockets& sockets, const TxPacket* tx, uint32_t n) {
  constexpr uint32_t kChunk = 64;
  WorkerCounters& wc = state.counters();
  mmsghdr msgs[kChunk];
  iovec iov[kChunk];
  sockaddr_storage names[kChunk];
  uint32_t i = 0;
  uint64_t bytes = 0, sent_total = 0;
  while (i < n) {
    uint32_t j = i;
    const LocalKey from = tx[i].source;
    for (; j < n && j - i < kChunk && tx[j].source == from; ++j) {
      uint32_t k = j - i;
      iov[k] = {const_cast<uint8_t*>(tx[j].data), tx[j].len};
      msgs[k].msg_hdr = {};
      msgs[k].msg_hdr.msg_name = &names[k];
      msgs[k].msg_hdr.msg_namelen = tx[j].dest.to_sockaddr(&names[k]);
      msgs[k].msg_hdr.msg_iov = &iov[k];
      msgs[k].msg_hdr.msg_iovlen = 1;
    }
    const int fd = sockets.fd(from);
    uint32_t count = j - i, done = 0;
    while (done < count) {
      int r = sendmmsg(fd, msgs + done, count - done, MSG_DONTWAIT);
      bump(wc.tx_calls);
      if (r <= 0) {
        // The packet at the head failed (full buffer, unreachable): count
        // it and move on; never block the worker.
        state.send_failed(from);
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

}  // namespace vox::dataplane
