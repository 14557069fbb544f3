// Blocking NG client: one connected UDP socket, cookie-matched replies,
// retransmission of the identical datagram on timeout.
#include "control/ng_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <chrono>
#include <cstring>
#include <random>
#include <vector>

#include "control/bencode.h"
#include "control/ng_message.h"

namespace vox::control {

namespace {

// The largest UDP payload; a `list` or `statistics` reply can be big.
constexpr size_t kMaxDatagram = 65535;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

NgClient::NgClient(Endpoint server) : server_(server) {
  // Random per-client prefix: cookies stay unique across processes talking
  // to the same server, whose reply cache is keyed by cookie alone.
  std::random_device rd;
  cookie_prefix_ = (uint64_t(rd()) << 32) ^ rd();

  sockaddr_storage ss{};
  const socklen_t len = server_.to_sockaddr(&ss);
  fd_ = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    open_error_ = errno_text("socket");
    return;
  }
  // Connected: the kernel filters datagrams from other sources, and an ICMP
  // port-unreachable surfaces as ECONNREFUSED instead of a silent timeout.
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    open_error_ = errno_text("connect");
    ::close(fd_);
    fd_ = -1;
  }
}

NgClient::~NgClient() {
  if (fd_ >= 0) ::close(fd_);
}

std::string NgClient::next_cookie() {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%016llx_%llu", static_cast<unsigned long long>(cookie_prefix_),
                static_cast<unsigned long long>(++sequence_));
  return buf;
}

Result<NgValue, std::string> NgClient::call(const NgValue& request, int timeout_ms, int retries) {
  if (fd_ < 0) return Err{open_error_};
  const std::string cookie = next_cookie();
  std::string datagram = cookie;
  datagram.push_back(' ');
  encode_bencode(request, datagram);

  std::vector<char> buf(kMaxDatagram);
  bool refused = false;
  const int attempts = 1 + (retries < 0 ? 0 : retries);
  for (int attempt = 0; attempt < attempts; ++attempt) {
    const int64_t deadline = now_ms() + timeout_ms;
    bool sent = true;
    if (::send(fd_, datagram.data(), datagram.size(), 0) < 0) {
      if (errno != ECONNREFUSED) return Err{errno_text("send")};
      refused = true;  // a previous datagram bounced; the server may be starting
      sent = false;
    }
    while (sent) {
      const int64_t left = deadline - now_ms();
      if (left <= 0) break;
      pollfd pfd{fd_, POLLIN, 0};
      const int n = ::poll(&pfd, 1, int(left));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Err{errno_text("poll")};
      }
      if (n == 0) break;
      const ssize_t got = ::recv(fd_, buf.data(), buf.size(), 0);
      if (got < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        if (errno == ECONNREFUSED) {
          refused = true;
          break;  // nobody listening right now: wait out the attempt, resend
        }
        return Err{errno_text("recv")};
      }
      const auto split = split_ng_datagram(std::string_view(buf.data(), size_t(got)));
      // A late reply to an earlier (timed-out) request: not ours, keep waiting.
      if (!split || split->cookie != cookie) continue;
      auto body = decode_ng_body(*split);
      if (!body.ok())
        return Err{std::string("undecodable reply from ") + server_.to_string() + ": " + to_string(body.error())};
      return std::move(body).value();
    }
    if (refused) {
      // ECONNREFUSED returns at once; pace retries by the timeout anyway.
      const int64_t left = deadline - now_ms();
      if (left > 0) ::poll(nullptr, 0, int(left));
    }
  }
  return Err{std::string("no reply from ") + server_.to_string() + " after " + std::to_string(attempts) +
             (attempts == 1 ? " attempt" : " attempts") + (refused ? " (connection refused)" : "")};
}

}  // namespace vox::control
