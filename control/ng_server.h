// The NG control endpoint over UDP: one datagram per request, replies
// cached by (peer, cookie) so a proxy's retransmission gets the same reply
// without running the command twice. The cache keeps two generations
// swapped every 30 s, so a reply lives 30-60 s (NG-PROTOCOL.md).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "control/ng_commands.h"
#include "control/ng_message.h"

namespace vox::control {

class ReplyCache {
 public:
  explicit ReplyCache(int64_t generation_ns = 30'000'000'000) : generation_ns_(generation_ns) {}
  const std::string* find(const std::string& key, int64_t now_ns);
  void insert(std::string key, std::string reply, int64_t now_ns);
  size_t size() const { return current_.size() + previous_.size(); }

 private:
  void rotate(int64_t now_ns);
  int64_t generation_ns_;
  int64_t rotated_at_ = INT64_MIN;  // unset until the first use
  std::unordered_map<std::string, std::string> current_, previous_;
};

struct NgServerStats {
  uint64_t requests = 0, retransmissions = 0, undecodable = 0, dropped_no_cookie = 0,
           refused_peer = 0;
};

class NgServer {
 public:
  NgServer(CallManager& calls, const Config& config);
  ~NgServer();
  // Binds a socket per --listen-ng address; "" on success, else the error
  // text naming the address.
  std::string open();
  const std::vector<int>& fds() const { return fds_; }
  // Handles every datagram waiting on the sockets (non-blocking).
  void poll_once(CallManager::Clock now);
  // Processes one datagram and returns the framed reply ("" = no reply).
  // Public so tests can drive the protocol without sockets.
  std::string handle_datagram(std::string_view datagram, const Endpoint& peer,
                              CallManager::Clock now);
  const NgServerStats& stats() const { return stats_; }

 private:
  void drain(int fd, CallManager::Clock now);

  CallManager& calls_;
  const Config& config_;
  std::vector<int> fds_;
  ReplyCache cache_;
  NgServerStats stats_;
  std::vector<char> buffer_;
};

}  // namespace vox::control
