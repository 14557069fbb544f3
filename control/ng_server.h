// The NG control endpoint over UDP: one datagram per request, replies
// cached by (peer, cookie) so a proxy's retransmission gets the same reply
// without running the command twice. The cache keeps two generations
// swapped every 30 s, so a reply lives 30-60 s (NG-PROTOCOL.md), within a
// bound in bytes. Hardened against floods: work per poll is bounded per
// socket, each source address has a rate limit, and garbage is dropped
// before anything is allocated for it.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "control/ng_commands.h"
#include "control/ng_message.h"
#include "control/ng_rate_limit.h"
#include "control/ng_server_stats.h"

namespace vox::control {

class ReplyCache {
 public:
  static constexpr size_t kDefaultMaxBytes = size_t(32) << 20;
  // What an entry costs beyond its key's and reply's octets: the hash node
  // and two string headers (64-bit libstdc++), roughly.
  static constexpr size_t kEntryOverhead = 96;

  explicit ReplyCache(int64_t generation_ns = 30'000'000'000, size_t max_bytes = kDefaultMaxBytes)
      : generation_ns_(generation_ns), max_bytes_(max_bytes) {}
  const std::string* find(const std::string& key, int64_t now_ns);
  // Within max_bytes: a generation that reaches half of it rotates early,
  // evicting the oldest generation first.
  void insert(std::string key, std::string reply, int64_t now_ns);
  size_t size() const { return current_.replies.size() + previous_.replies.size(); }
  size_t bytes() const { return current_.bytes + previous_.bytes; }
  uint64_t evictions() const { return evictions_; }  // entries dropped before their time

 private:
  struct Generation {
    std::unordered_map<std::string, std::string> replies;
    size_t bytes = 0;
  };
  void rotate(int64_t now_ns);
  void rotate_now(int64_t now_ns);
  int64_t generation_ns_;
  size_t max_bytes_;
  int64_t rotated_at_ = INT64_MIN;  // unset until the first use
  Generation current_, previous_;
  uint64_t evictions_ = 0;
};

class NgServer {
 public:
  // Datagrams per recvmmsg, and at most per socket in one poll_once: a
  // flood cannot keep the control loop from its signals, the handshake
  // thread's events and the timers, and one busy socket from the others.
  static constexpr unsigned kBatch = 32;
  static constexpr unsigned kMaxPerSocket = 128;

  NgServer(CallManager& calls, const Config& config,
           size_t cache_bytes = ReplyCache::kDefaultMaxBytes);
  ~NgServer();
  // Binds a socket per --listen-ng address; "" on success, else the error
  // text naming the address.
  std::string open();
  const std::vector<int>& fds() const { return fds_; }
  // Handles the datagrams waiting on the sockets (non-blocking), at most
  // kMaxPerSocket per socket; the poll loop comes back for the rest.
  void poll_once(CallManager::Clock now);
  // Processes one datagram and returns the framed reply ("" = no reply).
  // Public so tests can drive the protocol without sockets.
  std::string handle_datagram(std::string_view datagram, const Endpoint& peer,
                              CallManager::Clock now);
  const NgServerStats& stats();

 private:
  struct Batch;
  // Receives, answers and replies to up to kMaxPerSocket datagrams.
  void drain(int fd, CallManager::Clock now);
  // --ng-allow and the rate limit: whether a datagram from peer is taken.
  bool admit(const IpAddr& peer, int64_t now_ns);

  CallManager& calls_;
  const Config& config_;
  std::vector<int> fds_;
  ReplyCache cache_;
  NgRateLimiter limiter_;
  NgServerStats stats_;
  std::unique_ptr<Batch> batch_;
  std::string key_;  // the cache key of the datagram at hand (reused: no allocation per datagram)
};

}  // namespace vox::control
