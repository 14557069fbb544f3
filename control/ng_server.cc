// NgServer: an NG datagram in, a cached reply (a retransmission) or a fresh
// one from the command handlers out; and the reply cache's two generations.
#include "control/ng_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>


namespace vox::control {

const std::string* ReplyCache::find(const std::string& key, int64_t now_ns) {
  rotate(now_ns);
  if (auto it = current_.find(key); it != current_.end()) return &it->second;
  if (auto it = previous_.find(key); it != previous_.end()) return &it->second;
  return nullptr;
}

void ReplyCache::insert(std::string key, std::string reply, int64_t now_ns) {
  rotate(now_ns);
  current_[std::move(key)] = std::move(reply);
}

void ReplyCache::rotate(int64_t now_ns) {
  if (rotated_at_ == INT64_MIN) rotated_at_ = now_ns;
  if (now_ns - rotated_at_ < generation_ns_) return;
  previous_.swap(current_);
  current_.clear();
  // Idle for two generations: everything is stale.
  if (now_ns - rotated_at_ >= 2 * generation_ns_) previous_.clear();
  rotated_at_ = now_ns;
}

NgServer::NgServer(CallManager& calls, const Config& config)
    : calls_(calls), config_(config), buffer_(65536) {}

NgServer::~NgServer() {
  for (int fd : fds_) close(fd);
}

std::string NgServer::open() {
  for (const Endpoint& at : config_.listen_ng) {
    sockaddr_storage ss;
    socklen_t len = at.to_sockaddr(&ss);
    const int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return "listen-ng " + at.to_string() + ": socket: " + strerror(errno);
    fds_.push_back(fd);
    int size = 4 << 20;  // bursts of signalling (failover of a whole proxy)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (config_.control_tos > 0) {
      const int tos = config_.control_tos;
      if (at.addr.is_v4())
        setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof tos);
      else
        setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof tos);
    }
    if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0)
      return "listen-ng " + at.to_string() + ": " + strerror(errno);
  }
  return "";
}

std::string NgServer::handle_datagram(std::string_view datagram, const Endpoint& peer,
                                      CallManager::Clock now) {
  ++stats_.requests;
  auto req = split_ng_datagram(datagram);
  if (!req) {
    ++stats_.dropped_no_cookie;
    return "";
  }
  std::string key = peer.to_string();
  key += ' ';
  key.append(req->cookie);
  if (const std::string* cached = cache_.find(key, now.mono_ns)) {
    ++stats_.retransmissions;
    return *cached;
  }
  NgValue reply;
  auto body = decode_ng_body(*req);
  if (!body.ok()) {
    ++stats_.undecodable;
    reply = ng_error(ng_decode_error(req->encoding));
  } else {
    NgContext ctx{calls_, now, peer};
    reply = handle_ng_request(*body, ctx);
  }
  std::string framed = frame_ng_reply(req->cookie, reply, req->encoding);
  cache_.insert(std::move(key), framed, now.mono_ns);
  return framed;
}

void NgServer::poll_once(CallManager::Clock now) {
  for (int fd : fds_) drain(fd, now);
}

void NgServer::drain(int fd, CallManager::Clock now) {
  for (;;) {
    sockaddr_storage ss;
    socklen_t slen = sizeof ss;
    ssize_t n = recvfrom(fd, buffer_.data(), buffer_.size(), 0, reinterpret_cast<sockaddr*>(&ss),
                         &slen);
    if (n < 0) return;  // EAGAIN: drained
    Endpoint peer = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
    if (!config_.ng_allow.empty()) {
      bool allowed = false;
      for (const IpAddr& a : config_.ng_allow) allowed |= a == peer.addr;
      if (!allowed) {
        ++stats_.refused_peer;
        continue;
      }
    }
    std::string reply = handle_datagram(std::string_view(buffer_.data(), size_t(n)), peer, now);
    if (!reply.empty())
      sendto(fd, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&ss), slen);
  }
}

}  // namespace vox::control
