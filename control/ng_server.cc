// NgServer: NG datagrams in batches (recvmmsg), bounded per socket and
// poll; each admitted by --ng-allow and its source's rate limit, answered
// from the reply cache (a retransmission) or by the command handlers, and
// the replies sent in one sendmmsg. And the reply cache's two generations.
#include "control/ng_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/clock.h"
#include "control/ng_reply_fit.h"
#include "dataplane/io/udp_socket.h"

namespace vox::control {

const std::string* ReplyCache::find(const std::string& key, int64_t now_ns) {
  rotate(now_ns);
  if (auto it = current_.replies.find(key); it != current_.replies.end()) return &it->second;
  if (auto it = previous_.replies.find(key); it != previous_.replies.end()) return &it->second;
  return nullptr;
}

void ReplyCache::insert(std::string key, std::string reply, int64_t now_ns) {
  rotate(now_ns);
  const size_t cost = key.size() + reply.size() + kEntryOverhead;
  if (cost > max_bytes_ / 2) {  // could never share the bound with anything
    ++evictions_;
    return;
  }
  if (current_.bytes + cost > max_bytes_ / 2) rotate_now(now_ns);
  auto [it, fresh] = current_.replies.try_emplace(std::move(key));
  if (!fresh) current_.bytes -= it->first.size() + it->second.size() + kEntryOverhead;
  it->second = std::move(reply);
  current_.bytes += cost;
}

void ReplyCache::rotate_now(int64_t now_ns) {
  evictions_ += previous_.replies.size();
  previous_ = std::move(current_);
  current_ = Generation{};
  rotated_at_ = now_ns;
}

void ReplyCache::rotate(int64_t now_ns) {
  if (rotated_at_ == INT64_MIN) rotated_at_ = now_ns;
  if (now_ns - rotated_at_ < generation_ns_) return;
  // Idle for two generations: everything is stale.
  const bool stale = now_ns - rotated_at_ >= 2 * generation_ns_;
  previous_ = stale ? Generation{} : std::move(current_);
  current_ = Generation{};
  rotated_at_ = now_ns;
}

// One recvmmsg's worth of datagrams and the replies to them.
struct NgServer::Batch {
  static constexpr size_t kBufferSize = 65536;  // any UDP payload
  std::unique_ptr<char[]> buffers = std::make_unique_for_overwrite<char[]>(kBatch * kBufferSize);
  mmsghdr in[kBatch];
  iovec in_iov[kBatch];
  sockaddr_storage peers[kBatch];
  alignas(cmsghdr) char control[kBatch][CMSG_SPACE(sizeof(timespec))];
  std::string replies[kBatch];
  int64_t arrived_ns[kBatch];  // each reply's request's receive stamp (CLOCK_REALTIME; 0: none)
  mmsghdr out[kBatch];
  iovec out_iov[kBatch];
};

NgServer::NgServer(CallManager& calls, const Config& config, size_t cache_bytes)
    : calls_(calls),
      config_(config),
      cache_(30'000'000'000, cache_bytes),
      limiter_(uint32_t(std::max(0, config.ng_rate_limit))),
      batch_(std::make_unique<Batch>()) {}

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
    const int on = 1;  // receive stamps: NgServerStats::reply_delay
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
    dataplane::set_tos(fd, at.addr.is_v4(), config_.control_tos);
    if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0)
      return "listen-ng " + at.to_string() + ": " + strerror(errno);
  }
  return "";
}

NgCommandKind ng_command_kind(std::string_view command) {
  for (size_t k = 0; k < size_t(NgCommandKind::kOther); ++k)
    if (ng_name_equal(command, kNgCommandKindNames[NgCommandKind(k)])) return NgCommandKind(k);
  return NgCommandKind::kOther;
}

const NgServerStats& NgServer::stats() {
  stats_.cache_bytes = cache_.bytes();
  stats_.cache_evictions = cache_.evictions();
  return stats_;
}

std::string NgServer::handle_datagram(std::string_view datagram, const Endpoint& peer,
                                      CallManager::Clock now) {
  ++stats_.requests;
  auto req = split_ng_datagram(datagram);
  if (!req) {
    ++stats_.no_cookie;
    return "";
  }
  key_.assign(reinterpret_cast<const char*>(peer.addr.bytes), sizeof peer.addr.bytes);
  key_.append(reinterpret_cast<const char*>(&peer.port), sizeof peer.port);
  key_.append(req->cookie);
  if (const std::string* cached = cache_.find(key_, now.mono_ns)) {
    ++stats_.retransmissions;
    return *cached;
  }
  const int64_t start_ns = monotonic_ns();
  auto body = decode_ng_body(*req);
  if (!body.ok()) {
    // Not cached: answering again costs less than remembering a flood.
    ++stats_.undecodable;
    return frame_ng_reply(req->cookie, ng_error(ng_decode_error(req->encoding)), req->encoding);
  }
  NgContext ctx{calls_, now, peer, &stats()};
  NgValue reply = handle_ng_request(*body, ctx);
  const auto command = body->find_string("command");
  FittedReply fitted = frame_fitting_reply(req->cookie, std::move(reply), req->encoding,
                                           command && ng_name_equal(*command, "list"));
  if (fitted.fit == ReplyFit::kTruncatedList) ++stats_.truncated_lists;
  if (fitted.fit == ReplyFit::kTooLarge) ++stats_.oversized_replies;
  cache_.insert(key_, fitted.framed, now.mono_ns);
  stats_.latency[size_t(ng_command_kind(command.value_or("")))].add(monotonic_ns() - start_ns);
  return std::move(fitted.framed);
}

bool NgServer::admit(const IpAddr& peer, int64_t now_ns) {
  if (!config_.ng_allow.empty() &&
      std::find(config_.ng_allow.begin(), config_.ng_allow.end(), peer) == config_.ng_allow.end()) {
    ++stats_.refused_peer;
    return false;
  }
  if (!limiter_.allow(peer, now_ns)) {
    ++stats_.rate_limited;
    return false;
  }
  return true;
}

namespace {

int64_t realtime_ns() {
  timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return int64_t(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

// The kernel's receive stamp of a datagram (SO_TIMESTAMPNS), 0 without one.
int64_t arrival_ns(const msghdr& h) {
  for (const cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(const_cast<msghdr*>(&h), const_cast<cmsghdr*>(c)))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
      timespec t;
      std::memcpy(&t, CMSG_DATA(c), sizeof t);
      return int64_t(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
    }
  return 0;
}

}  // namespace

void NgServer::poll_once(CallManager::Clock now) {
  for (int fd : fds_) drain(fd, now);
}

void NgServer::drain(int fd, CallManager::Clock now) {
  Batch& b = *batch_;
  for (unsigned taken = 0; taken < kMaxPerSocket;) {
    const unsigned want = std::min(kBatch, kMaxPerSocket - taken);
    for (unsigned i = 0; i < want; ++i) {
      b.in_iov[i] = {b.buffers.get() + i * Batch::kBufferSize, Batch::kBufferSize};
      b.in[i].msg_hdr = {};
      b.in[i].msg_hdr.msg_name = &b.peers[i];
      b.in[i].msg_hdr.msg_namelen = sizeof b.peers[i];
      b.in[i].msg_hdr.msg_iov = &b.in_iov[i];
      b.in[i].msg_hdr.msg_iovlen = 1;
      b.in[i].msg_hdr.msg_control = b.control[i];
      b.in[i].msg_hdr.msg_controllen = sizeof b.control[i];
    }
    const int got = recvmmsg(fd, b.in, want, MSG_DONTWAIT, nullptr);
    if (got <= 0) return;  // EAGAIN: drained
    taken += unsigned(got);
    unsigned replies = 0;
    for (int i = 0; i < got; ++i) {
      auto* sa = reinterpret_cast<sockaddr*>(&b.peers[i]);
      const Endpoint peer = Endpoint::from_sockaddr(sa);
      if (!admit(peer.addr, now.mono_ns)) continue;
      const std::string_view datagram(static_cast<const char*>(b.in_iov[i].iov_base), b.in[i].msg_len);
      std::string reply = handle_datagram(datagram, peer, now);
      if (reply.empty()) continue;
      b.replies[replies] = std::move(reply);
      b.arrived_ns[replies] = arrival_ns(b.in[i].msg_hdr);
      b.out_iov[replies] = {b.replies[replies].data(), b.replies[replies].size()};
      b.out[replies].msg_hdr = {};
      b.out[replies].msg_hdr.msg_name = sa;
      b.out[replies].msg_hdr.msg_namelen = b.in[i].msg_hdr.msg_namelen;
      b.out[replies].msg_hdr.msg_iov = &b.out_iov[replies];
      b.out[replies].msg_hdr.msg_iovlen = 1;
      ++replies;
    }
    // A reply the kernel refuses (a full send buffer) is lost like a
    // datagram on the wire: the proxy retransmits and gets it from the cache.
    for (unsigned sent = 0; sent < replies;) {
      const int n = sendmmsg(fd, b.out + sent, replies - sent, MSG_DONTWAIT);
      sent += n > 0 ? unsigned(n) : 1;  // skip the one that failed
    }
    const int64_t sent_ns = realtime_ns();
    for (unsigned r = 0; r < replies; ++r)
      if (b.arrived_ns[r]) stats_.reply_delay.add(sent_ns - b.arrived_ns[r]);
    if (unsigned(got) < want) return;  // the socket is empty
  }
}

}  // namespace vox::control
