// One connection to a Redis server: TCP or TLS (OpenSSL), AUTH, SELECT,
// pipelined commands. hiredis (Debian's 0.14, which has no TLS) parses the
// replies; commands are written in RESP here (append_command) and the bytes
// go over this class's own socket, so that TLS is the same code path. Blocking, with timeouts: it
// runs on the state store's own threads, never on the control thread's
// reply path.
#pragma once

#include <cstdint>
#include <memory>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

struct redisReader;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace vox::control::ha {

// Where Redis is and how to log in: rtpengine's "[PASSWORD@]HOST:PORT/DB"
// (the DB number required), plus what rtpengine lacks: an ACL user and TLS.
struct RedisTarget {
  std::string host;
  uint16_t port = 6379;
  int db = 0;
  std::string user;      // Redis 6 ACL user (AUTH user password); empty: "default"
  std::string password;  // empty: no AUTH
  bool tls = false;
  std::string tls_ca;    // CA file the server's certificate must chain to (empty: system CAs)
  std::string tls_cert, tls_key;  // client certificate (Redis tls-auth-clients)
  bool tls_verify = true;

  std::string describe() const;  // "HOST:PORT/DB" (never the password)
};
Result<RedisTarget, std::string> parse_redis_target(std::string_view text);

// A reply, copied out of hiredis's tree.
struct RedisReply {
  enum class Type : uint8_t { kNil, kString, kStatus, kError, kInteger, kArray };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus, kError
  int64_t integer = 0;
  std::vector<RedisReply> elements;
  bool is_error() const { return type == Type::kError; }
};

// Appends one command in Redis's wire format (RESP: an array of bulk
// strings) to `out`; `args` as a span, so a caller with its strings at
// hand copies each once, into `out`.
void append_command(std::string& out, std::span<const std::string_view> args);
inline void append_command(std::string& out, std::initializer_list<std::string_view> args) {
  append_command(out, std::span<const std::string_view>(args.begin(), args.size()));
}

class RedisLink {
 public:
  RedisLink(RedisTarget target, int connect_timeout_ms, int command_timeout_ms);
  ~RedisLink();
  RedisLink(const RedisLink&) = delete;
  RedisLink& operator=(const RedisLink&) = delete;

  // Connects (TLS handshake, AUTH, SELECT target.db); "" when up, else why not.
  std::string connect();
  void close();
  bool up() const { return fd_ >= 0; }
  const RedisTarget& target() const { return target_; }

  using Command = std::vector<std::string>;
  // Sends every command in one write and reads one reply each. An I/O
  // error or timeout closes the link and returns the error; a command
  // Redis refuses gives a kError reply in its place.
  Result<std::vector<RedisReply>, std::string> pipeline(const std::vector<Command>& commands);
  Result<RedisReply, std::string> command(const Command& argv);
  // Commands already formatted by append_command, `count` of them.
  Result<std::vector<RedisReply>, std::string> pipeline_raw(const std::string& bytes, size_t count);
  // The same in two steps, so that the replies can be read later, once
  // they have come: send_raw ("" when sent, else the error; the link is
  // then closed), then replies(count).
  std::string send_raw(const std::string& bytes);
  Result<std::vector<RedisReply>, std::string> replies(size_t count);
  // Sends without waiting for replies (SUBSCRIBE, PSUBSCRIBE).
  std::string send(const Command& argv);
  // The next reply or push message, waiting at most timeout_ms (nullopt,
  // no error: nothing came). For a subscribed link.
  std::optional<RedisReply> next(int timeout_ms, std::string* error);

 private:
  std::string write_all(const std::string& bytes);
  // Reads until the reader has a whole reply (or the deadline).
  Result<RedisReply, std::string> read_reply(int timeout_ms);
  std::string fail(std::string why);  // closes, returns why

  RedisTarget target_;
  int connect_timeout_ms_, command_timeout_ms_;
  int fd_ = -1;
  SSL_CTX* ssl_ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  redisReader* reader_ = nullptr;
};

}  // namespace vox::control::ha
