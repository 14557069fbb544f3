// Opening voxload's media sockets (SO_TIMESTAMPNS, a 1 MiB receive buffer)
// and raising the descriptor limit for them.
#include "voxload_sockets.h"

#include <sys/socket.h>
#include <unistd.h>

namespace voxload {

bool raise_fd_limit(rlim_t needed) {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return false;
  if (rl.rlim_cur >= needed) return true;
  if (rl.rlim_max < needed) rl.rlim_max = needed;  // works as root only
  rl.rlim_cur = needed;
  if (setrlimit(RLIMIT_NOFILE, &rl) == 0) return true;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_cur >= needed;
}

int open_media_socket(const vox::IpAddr& local, uint16_t* port) {
  sockaddr_storage ss{};
  const socklen_t len = vox::Endpoint{local, 0}.to_sockaddr(&ss);
  const int fd = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  const int rcvbuf = 1 << 20;  // bursts of a tick's worth of packets per socket
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    ::close(fd);
    return -1;
  }
  socklen_t got = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &got);
  *port = vox::Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss)).port;
  return fd;
}

}  // namespace voxload
