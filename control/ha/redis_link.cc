#include "control/ha/redis_link.h"

#include <hiredis/hiredis.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace vox::control::ha {

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

RedisReply copy(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING: out.type = RedisReply::Type::kString; break;
    case REDIS_REPLY_STATUS: out.type = RedisReply::Type::kStatus; break;
    case REDIS_REPLY_ERROR: out.type = RedisReply::Type::kError; break;
    case REDIS_REPLY_INTEGER: out.type = RedisReply::Type::kInteger; break;
    case REDIS_REPLY_ARRAY: out.type = RedisReply::Type::kArray; break;
    default: out.type = RedisReply::Type::kNil; break;
  }
  if (r->str) out.str.assign(r->str, r->len);
  out.integer = r->integer;
  for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(copy(r->element[i]));
  return out;
}

std::string ssl_error() {
  char buf[256];
  ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
  return buf;
}

// A TCP connection to host:port within timeout_ms, non-blocking (reads
// and writes poll with their own deadlines).
Result<int, std::string> dial(const std::string& host, uint16_t port, int timeout_ms) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int e = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); e != 0)
    return Err{host + ": " + gai_strerror(e)};
  std::string error = "no address";
  int fd = -1;
  for (addrinfo* a = found; a && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = poll(&p, 1, timeout_ms) == 1 ? 0 : -1;
      int soerr = rc == 0 ? 0 : ETIMEDOUT;
      socklen_t len = sizeof soerr;
      if (rc == 0) getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
      errno = soerr;
      rc = soerr == 0 ? 0 : -1;
    }
    if (rc != 0) {
      error = std::strerror(errno);
      ::close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) return Err{"connect " + host + ":" + std::to_string(port) + ": " + error};
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

}  // namespace

void append_command(std::string& out, std::span<const std::string_view> args) {
  const auto count = [&out](char kind, size_t n) {
    char buf[24];
    out += kind;
    out.append(buf, std::to_chars(buf, buf + sizeof buf, n).ptr);
    out += "\r\n";
  };
  count('*', args.size());
  for (std::string_view a : args) {
    count('$', a.size());
    out += a;
    out += "\r\n";
  }
}

std::string RedisTarget::describe() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (tls ? "rediss://" : "") + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) +
         "/" + std::to_string(db);
}

Result<RedisTarget, std::string> parse_redis_target(std::string_view text) {
  RedisTarget t;
  if (const size_t at = text.rfind('@'); at != std::string_view::npos) {
    t.password = std::string(text.substr(0, at));
    text.remove_prefix(at + 1);
  }
  if (const size_t slash = text.rfind('/'); slash != std::string_view::npos) {
    const std::string db(text.substr(slash + 1));
    char* end = nullptr;
    const long n = std::strtol(db.c_str(), &end, 10);
    if (db.empty() || *end || n < 0 || n > 65535) return Err{"database number '" + db + "'"};
    t.db = int(n);
    text = text.substr(0, slash);
  }
  const size_t colon = text.rfind(':');
  const size_t bracket = text.rfind(']');
  if (colon == std::string_view::npos || (bracket != std::string_view::npos && colon < bracket))
    return Err{std::string("HOST:PORT expected")};
  const std::string port(text.substr(colon + 1));
  char* end = nullptr;
  const long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end || p < 1 || p > 65535) return Err{"port '" + port + "'"};
  t.port = uint16_t(p);
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) return Err{std::string("no host")};
  t.host = std::string(host);
  return t;
}

RedisLink::RedisLink(RedisTarget target, int connect_timeout_ms, int command_timeout_ms)
    : target_(std::move(target)),
      connect_timeout_ms_(connect_timeout_ms),
      command_timeout_ms_(command_timeout_ms) {}

RedisLink::~RedisLink() {
  close();
  if (ssl_ctx_) SSL_CTX_free(ssl_ctx_);
}

void RedisLink::close() {
  if (ssl_) SSL_free(ssl_);
  ssl_ = nullptr;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (reader_) redisReaderFree(reader_);
  reader_ = nullptr;
}

std::string RedisLink::fail(std::string why) {
  close();
  return why;
}

std::string RedisLink::connect() {
  close();
  auto fd = dial(target_.host, target_.port, connect_timeout_ms_);
  if (!fd.ok()) return fd.error();
  fd_ = *fd;
  reader_ = redisReaderCreate();
  if (target_.tls) {
    if (!ssl_ctx_) {
      ssl_ctx_ = SSL_CTX_new(TLS_client_method());
      SSL_CTX_set_min_proto_version(ssl_ctx_, TLS1_2_VERSION);
      const bool ca = target_.tls_ca.empty() ? SSL_CTX_set_default_verify_paths(ssl_ctx_)
                                             : SSL_CTX_load_verify_locations(ssl_ctx_, target_.tls_ca.c_str(), nullptr);
      if (!ca) return fail("TLS CA " + target_.tls_ca + ": " + ssl_error());
      if (!target_.tls_cert.empty() &&
          (SSL_CTX_use_certificate_chain_file(ssl_ctx_, target_.tls_cert.c_str()) != 1 ||
           SSL_CTX_use_PrivateKey_file(ssl_ctx_, target_.tls_key.c_str(), SSL_FILETYPE_PEM) != 1))
        return fail("TLS client certificate: " + ssl_error());
      SSL_CTX_set_verify(ssl_ctx_, target_.tls_verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
    }
    ssl_ = SSL_new(ssl_ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, target_.host.c_str());
    if (target_.tls_verify) {
      // The certificate must name the server: its IP address (SAN) when
      // --redis gives one, else its host name.
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
      if (X509_VERIFY_PARAM_set1_ip_asc(param, target_.host.c_str()) != 1)
        SSL_set1_host(ssl_, target_.host.c_str());
    }
    // The handshake on the non-blocking socket, within the connect timeout.
    const int64_t deadline = now_ms() + connect_timeout_ms_;
    for (;;) {
      const int rc = SSL_connect(ssl_);
      if (rc == 1) break;
      const int e = SSL_get_error(ssl_, rc);
      const int left = int(deadline - now_ms());
      if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) || left <= 0)
        return fail("TLS handshake with " + target_.describe() + ": " + ssl_error());
      pollfd p{fd_, short(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
      poll(&p, 1, left);
    }
  }
  std::vector<Command> hello;
  if (!target_.password.empty())
    hello.push_back(target_.user.empty() ? Command{"AUTH", target_.password}
                                         : Command{"AUTH", target_.user, target_.password});
  hello.push_back({"SELECT", std::to_string(target_.db)});
  auto replies = pipeline(hello);
  if (!replies.ok()) return replies.error();
  for (const RedisReply& r : *replies)
    if (r.is_error()) return fail(target_.describe() + ": " + r.str);
  return "";
}

std::string RedisLink::write_all(const std::string& bytes) {
  size_t done = 0;
  const int64_t deadline = now_ms() + command_timeout_ms_;
  while (done < bytes.size()) {
    ssize_t n;
    int want = POLLOUT;
    if (ssl_) {
      n = SSL_write(ssl_, bytes.data() + done, int(bytes.size() - done));
      if (n <= 0) {
        const int e = SSL_get_error(ssl_, int(n));
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) return fail("TLS write: " + ssl_error());
        want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        n = 0;
      }
    } else {
      n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN && errno != EINTR) return fail(std::string("write: ") + std::strerror(errno));
      if (n < 0) n = 0;
    }
    done += size_t(n);
    if (done == bytes.size()) break;
    const int left = int(deadline - now_ms());
    if (left <= 0) return fail("write: timed out");
    pollfd p{fd_, short(want), 0};
    poll(&p, 1, left);
  }
  return "";
}

Result<RedisReply, std::string> RedisLink::read_reply(int timeout_ms) {
  const int64_t deadline = now_ms() + timeout_ms;
  for (;;) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader_, &raw) != REDIS_OK) return Err{fail("protocol error")};
    if (raw) {
      RedisReply r = copy(static_cast<redisReply*>(raw));
      freeReplyObject(raw);
      return r;
    }
    char buf[16384];
    ssize_t n;
    int want = POLLIN;
    if (ssl_) {
      n = SSL_read(ssl_, buf, sizeof buf);
      if (n <= 0) {
        const int e = SSL_get_error(ssl_, int(n));
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) return Err{fail("TLS read: " + ssl_error())};
        want = e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
        n = -1;
        errno = EAGAIN;
      }
    } else {
      n = ::recv(fd_, buf, sizeof buf, 0);
      if (n == 0) return Err{fail("connection closed by Redis")};
    }
    if (n > 0) {
      redisReaderFeed(reader_, buf, size_t(n));
      continue;
    }
    if (errno != EAGAIN && errno != EINTR) return Err{fail(std::string("read: ") + std::strerror(errno))};
    const int left = int(deadline - now_ms());
    if (left <= 0) return Err{std::string()};  // nothing yet: not an error by itself
    pollfd p{fd_, short(want), 0};
    poll(&p, 1, left);
  }
}

Result<std::vector<RedisReply>, std::string> RedisLink::pipeline(const std::vector<Command>& commands) {
  std::string bytes;
  for (const Command& c : commands) {
    std::vector<std::string_view> args(c.begin(), c.end());
    append_command(bytes, args);
  }
  return pipeline_raw(bytes, commands.size());
}

Result<std::vector<RedisReply>, std::string> RedisLink::pipeline_raw(const std::string& bytes, size_t count) {
  if (auto e = send_raw(bytes); !e.empty()) return Err{e};
  return replies(count);
}

std::string RedisLink::send_raw(const std::string& bytes) {
  if (fd_ < 0) return "not connected";
  return write_all(bytes);
}

Result<std::vector<RedisReply>, std::string> RedisLink::replies(size_t count) {
  if (fd_ < 0) return Err{std::string("not connected")};
  std::vector<RedisReply> replies;
  replies.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    auto r = read_reply(command_timeout_ms_);
    if (!r.ok()) return Err{r.error().empty() ? fail("reply timed out") : r.error()};
    replies.push_back(std::move(*r));
  }
  return replies;
}

Result<RedisReply, std::string> RedisLink::command(const Command& argv) {
  auto r = pipeline({argv});
  if (!r.ok()) return Err{r.error()};
  return std::move(r->front());
}

std::string RedisLink::send(const Command& argv) {
  if (fd_ < 0) return "not connected";
  std::string bytes;
  append_command(bytes, std::vector<std::string_view>(argv.begin(), argv.end()));
  return write_all(bytes);
}

std::optional<RedisReply> RedisLink::next(int timeout_ms, std::string* error) {
  if (fd_ < 0) {
    *error = "not connected";
    return std::nullopt;
  }
  auto r = read_reply(timeout_ms);
  if (r.ok()) return std::move(*r);
  *error = r.error();  // empty: timed out, the link is still up
  return std::nullopt;
}

}  // namespace vox::control::ha
