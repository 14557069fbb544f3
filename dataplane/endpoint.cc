// Endpoint and IpAddr conversions (text, sockaddr).
#include "dataplane/endpoint.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace vox {

bool IpAddr::is_unspecified() const {
  static const IpAddr zero{};
  return *this == zero || (is_v4() && v4() == 0);
}

bool IpAddr::same_prefix(const IpAddr& o, unsigned bits) const {
  const size_t whole = std::min(bits, 128u) / 8;
  if (std::memcmp(bytes, o.bytes, whole) != 0) return false;
  if (whole == 16 || bits % 8 == 0) return true;
  const uint8_t mask = uint8_t(0xff << (8 - bits % 8));
  return ((bytes[whole] ^ o.bytes[whole]) & mask) == 0;
}

std::optional<IpAddr> IpAddr::parse(std::string_view text) {
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

std::string IpAddr::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  if (is_v4()) {
    in_addr a4{htonl(v4())};
    inet_ntop(AF_INET, &a4, buf, sizeof buf);
  } else {
    inet_ntop(AF_INET6, bytes, buf, sizeof buf);
  }
  return buf;
}

socklen_t Endpoint::to_sockaddr(sockaddr_storage* ss) const {
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

Endpoint Endpoint::from_sockaddr(const sockaddr* sa) {
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

std::optional<Endpoint> Endpoint::parse(std::string_view text) {
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

std::string Endpoint::to_string() const {
  return addr.is_v4() ? addr.to_string() + ":" + std::to_string(port)
                      : "[" + addr.to_string() + "]:" + std::to_string(port);
}

}  // namespace vox
