// An IPv4 or IPv6 address plus UDP port, in a compact, trivially copyable
// form that fits a flow's hot cache line. IPv4 is stored as a v4-mapped
// IPv6 address (::ffff:a.b.c.d) so that comparison is one memcmp.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

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

}  // namespace vox
