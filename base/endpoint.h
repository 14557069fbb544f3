// An IPv4 or IPv6 address plus UDP port, in a compact, trivially copyable
// form that fits a flow's hot cache line. IPv4 is stored as a v4-mapped
// IPv6 address (::ffff:a.b.c.d) so that comparison is one memcmp.
// Header-only (base/): the conversions to text and sockaddr are below the
// types.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace vox {

inline constexpr uint8_t kV4MappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

struct IpAddr {
  uint8_t bytes[16] = {};

  bool is_v4() const { return std::memcmp(bytes, kV4MappedPrefix, 12) == 0; }
  bool is_unspecified() const;  // 0.0.0.0 or :: (SDP "hold" address)
  // Whether the first `bits` of the 128-bit form match o's (an IPv4
  // address's /n is bits 96 + n; past 128 counts as 128).
  bool same_prefix(const IpAddr& o, unsigned bits) const;
  // Host order; only when is_v4().
  uint32_t v4() const {
    uint32_t be;
    std::memcpy(&be, bytes + 12, 4);
    return __builtin_bswap32(be);
  }
  static IpAddr from_v4(uint32_t host_order) {
    IpAddr a;
    std::memcpy(a.bytes, kV4MappedPrefix, 12);
    const uint32_t be = __builtin_bswap32(host_order);
    std::memcpy(a.bytes + 12, &be, 4);
    return a;
  }
  // From an IPv4 address as it lies on the wire (network order in a native
  // integer), built in one 16-octet store: a packet path reading the whole
  // address back right away then gets it forwarded from that store instead
  // of stalling on two partial ones.
  static IpAddr from_v4_wire(uint32_t wire) {
    using V = uint32_t __attribute__((vector_size(16)));
    uint32_t prefix;  // octets 8..11 of the v4-mapped form: 00 00 ff ff
    std::memcpy(&prefix, kV4MappedPrefix + 8, 4);
    const V v = {0, 0, prefix, wire};
    IpAddr a;
    std::memcpy(a.bytes, &v, 16);
    return a;
  }
  static std::optional<IpAddr> parse(std::string_view text);  // "1.2.3.4" or "::1" / "[::1]"
  std::string to_string() const;
  bool operator==(const IpAddr& o) const { return std::memcmp(bytes, o.bytes, 16) == 0; }
};

struct Endpoint {
  IpAddr addr;
  uint16_t port = 0;  // host order; 0 = unknown

  bool valid() const { return port != 0; }
  bool operator==(const Endpoint& o) const { return port == o.port && addr == o.addr; }

  // sockaddr conversions: v4-mapped addresses become AF_INET.
  socklen_t to_sockaddr(sockaddr_storage* ss) const;
  static Endpoint from_sockaddr(const sockaddr* sa);
  static std::optional<Endpoint> parse(std::string_view text);  // "1.2.3.4:5" / "[::1]:5"
  std::string to_string() const;
};

static_assert(sizeof(Endpoint) == 18);

inline bool IpAddr::is_unspecified() const {
  static const IpAddr zero{};
  return *this == zero || (is_v4() && v4() == 0);
}

inline bool IpAddr::same_prefix(const IpAddr& o, unsigned bits) const {
  const size_t whole = std::min(bits, 128u) / 8;
  if (std::memcmp(bytes, o.bytes, whole) != 0) return false;
  if (whole == 16 || bits % 8 == 0) return true;
  const uint8_t mask = uint8_t(0xff << (8 - bits % 8));
  return ((bytes[whole] ^ o.bytes[whole]) & mask) == 0;
}

inline std::optional<IpAddr> IpAddr::parse(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']')
    text = text.substr(1, text.size() - 2);
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = 0;
  in_addr a4;
  if (inet_pton(AF_INET, buf, &a4) == 1) return from_v4(ntohl(a4.s_addr));
  IpAddr a;
  if (inet_pton(AF_INET6, buf, a.bytes) == 1) return a;
  return std::nullopt;
}

inline std::string IpAddr::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  if (is_v4()) {
    in_addr a4{htonl(v4())};
    inet_ntop(AF_INET, &a4, buf, sizeof buf);
  } else {
    inet_ntop(AF_INET6, bytes, buf, sizeof buf);
  }
  return buf;
}

inline socklen_t Endpoint::to_sockaddr(sockaddr_storage* ss) const {
  std::memset(ss, 0, sizeof *ss);
  if (addr.is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    sin->sin_addr.s_addr = htonl(addr.v4());
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(ss);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  std::memcpy(&sin6->sin6_addr, addr.bytes, 16);
  return sizeof(sockaddr_in6);
}

// A caller may pass a sockaddr_in as its sockaddr: inlined there, GCC 12
// sees the IPv6 branch read past it, though that branch never runs for
// AF_INET (-Warray-bounds false positive).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
inline Endpoint Endpoint::from_sockaddr(const sockaddr* sa) {
  Endpoint e;
  if (sa->sa_family == AF_INET) {
    auto* sin = reinterpret_cast<const sockaddr_in*>(sa);
    e.addr = IpAddr::from_v4(ntohl(sin->sin_addr.s_addr));
    e.port = ntohs(sin->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    auto* sin6 = reinterpret_cast<const sockaddr_in6*>(sa);
    std::memcpy(e.addr.bytes, &sin6->sin6_addr, 16);
    e.port = ntohs(sin6->sin6_port);
  }
  return e;
}
#pragma GCC diagnostic pop

inline std::optional<Endpoint> Endpoint::parse(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto host = text.substr(0, colon);
  auto port_text = text.substr(colon + 1);
  // A bare IPv6 address without brackets has several colons: not host:port.
  if (host.find(':') != std::string_view::npos && host.front() != '[') return std::nullopt;
  auto ip = IpAddr::parse(host);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (!ip || ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
      port > 65535)
    return std::nullopt;
  return Endpoint{*ip, uint16_t(port)};
}

inline std::string Endpoint::to_string() const {
  return addr.is_v4() ? addr.to_string() + ":" + std::to_string(port)
                      : "[" + addr.to_string() + "]:" + std::to_string(port);
}


}  // namespace vox
