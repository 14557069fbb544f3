// The NG flood: paced sendmmsg batches of garbage, replies drained and
// counted, one line of report (text, or JSON with --json).
#include "voxload_ng_flood.h"

#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "voxload_options.h"
#include "voxload_run.h"

namespace voxload {

namespace {

constexpr unsigned kBatch = 64;           // datagrams per sendmmsg
constexpr int64_t kTickNs = 500'000;      // pacing: what is due goes out every 0.5 ms
constexpr size_t kCookieDigits = 12;      // the unique part of a cookie
constexpr char kNoCookie[] = "\x01\x02garbage-without-a-cookie-or-space\x7f";
constexpr char kBadBody[] = " \x01garbage-after-a-cookie\x80";
constexpr char kPingBody[] = " d7:command4:pinge";

struct FloodCounts {
  uint64_t attempted = 0;  // the pace: what was due, sent or not
  uint64_t sent = 0, send_errors = 0, replies = 0;
  int first_errno = 0;
};

// One batch of datagrams: garbage: even ones without cookie, odd ones
// "fXXXXXXXXXXXX <junk>"; ping: every one "fXXXXXXXXXXXX <ping>".
struct FloodBatch {
  std::string datagrams[kBatch];
  iovec iov[kBatch];
  mmsghdr msgs[kBatch];
  unsigned first_numbered = 1, step = 2;

  FloodBatch(sockaddr_storage* to, socklen_t to_len, bool pings) {
    if (pings) first_numbered = 0, step = 1;
    for (unsigned i = 0; i < kBatch; ++i) {
      const std::string cookie = "f" + std::string(kCookieDigits, '0');
      datagrams[i] = pings ? cookie + kPingBody : i % 2 ? cookie + kBadBody : std::string(kNoCookie);
      iov[i] = {datagrams[i].data(), datagrams[i].size()};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_name = to;
      msgs[i].msg_hdr.msg_namelen = to_len;
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
  }
  // Fresh cookies, so no datagram is a retransmission of another.
  void number(uint64_t first) {
    static constexpr char kHex[] = "0123456789abcdef";
    for (unsigned i = first_numbered; i < kBatch; i += step) {
      uint64_t n = first + i;
      for (size_t d = kCookieDigits; d > 0; --d, n >>= 4) datagrams[i][d] = kHex[n & 15];
    }
  }
};

void drain_replies(int fd, FloodCounts& c) {
  static char buf[kBatch][2048];
  static iovec iov[kBatch];
  static mmsghdr msgs[kBatch];
  for (;;) {
    for (unsigned i = 0; i < kBatch; ++i) {
      iov[i] = {buf[i], sizeof buf[i]};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = recvmmsg(fd, msgs, kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) return;
    c.replies += uint64_t(n);
  }
}

int open_flood_socket(const vox::IpAddr& local) {
  sockaddr_storage ss{};
  const socklen_t len = vox::Endpoint{local, 0}.to_sockaddr(&ss);
  const int fd = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

int run_ng_flood(const Options& opt, const vox::Endpoint& ng, const vox::IpAddr& local) {
  const NgFloodOptions& f = opt.flood;
  std::vector<int> fds;
  for (int i = 0; i < f.sockets; ++i) {
    const int fd = open_flood_socket(local);
    if (fd < 0) {
      std::fprintf(stderr, "voxload: cannot open a flood socket on %s: %s\n", local.to_string().c_str(),
                   std::strerror(errno));
      for (int open_fd : fds) ::close(open_fd);
      return 1;
    }
    fds.push_back(fd);
  }
  sockaddr_storage to{};
  const socklen_t to_len = ng.to_sockaddr(&to);
  FloodBatch batch(&to, to_len, f.kind == "ping");
  FloodCounts c;
  std::fprintf(stderr, "voxload: flooding %s with %.0f %s datagrams/s for %.1f s from %d socket(s) on %s\n",
               ng.to_string().c_str(), f.rate, f.kind.c_str(), f.seconds, f.sockets, local.to_string().c_str());
  const int64_t start = mono_ns(), end = start + int64_t(f.seconds * 1e9);
  size_t turn = 0;
  for (int64_t now = start; now < end && !g_stop; now = mono_ns()) {
    // What is due by now; after a stall at most 10 ms' worth at once.
    const uint64_t due = uint64_t(double(now - start) * 1e-9 * f.rate);
    uint64_t owed = std::min<uint64_t>(due - std::min(due, c.attempted), uint64_t(f.rate / 100) + kBatch);
    while (owed > 0) {
      const unsigned n = unsigned(std::min<uint64_t>(owed, kBatch));
      batch.number(c.attempted);
      const int fd = fds[turn++ % fds.size()];
      const int sent = sendmmsg(fd, batch.msgs, n, MSG_DONTWAIT);
      // A refused datagram is lost, not retried: the pace goes on.
      const unsigned done = sent > 0 ? unsigned(sent) : 1;
      if (sent <= 0) {
        ++c.send_errors;
        if (!c.first_errno) c.first_errno = errno;
      }
      c.sent += sent > 0 ? unsigned(sent) : 0;
      c.attempted += done;
      owed -= std::min<uint64_t>(owed, done);
    }
    for (int fd : fds) drain_replies(fd, c);
    const timespec tick{0, long(kTickNs)};
    clock_nanosleep(CLOCK_MONOTONIC, 0, &tick, nullptr);
  }
  const double seconds = double(mono_ns() - start) * 1e-9;
  for (int fd : fds) drain_replies(fd, c);
  for (int fd : fds) ::close(fd);
  const double achieved = double(c.sent) / seconds;
  if (opt.json)
    std::printf("{\"mode\":\"ng-flood\",\"target_rate\":%.0f,\"seconds\":%.3f,\"sent\":%llu,\"send_errors\":%llu,"
                "\"achieved_rate\":%.0f,\"replies\":%llu,\"sockets\":%d}\n",
                f.rate, seconds, (unsigned long long)c.sent, (unsigned long long)c.send_errors, achieved,
                (unsigned long long)c.replies, f.sockets);
  else
    std::printf("ng-flood: %llu datagrams in %.2f s (%.0f/s of %.0f/s asked), %llu send errors%s%s, %llu replies\n",
                (unsigned long long)c.sent, seconds, achieved, f.rate, (unsigned long long)c.send_errors,
                c.first_errno ? ", first: " : "", c.first_errno ? std::strerror(c.first_errno) : "",
                (unsigned long long)c.replies);
  return g_stop ? 1 : 0;
}

}  // namespace voxload
