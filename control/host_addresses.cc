// The system's AddressSource: device addresses from getifaddrs, host names
// from getaddrinfo (once, at start).
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <string>

#include "control/config.h"

namespace vox::control {

namespace {

void add_unique(std::vector<IpAddr>& out, const sockaddr* sa) {
  if (sa == nullptr || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)) return;
  const IpAddr a = Endpoint::from_sockaddr(sa).addr;
  if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
}

bool ipv6_link_local(const IpAddr& a) {
  return !a.is_v4() && a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80;
}

std::vector<IpAddr> device_addresses(std::string_view device) {
  std::vector<IpAddr> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  const bool any = device == "any";
  for (const ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    if (any ? (i->ifa_flags & IFF_LOOPBACK) != 0 : device != i->ifa_name) continue;
    const int family = i->ifa_addr->sa_family;
    if (family != AF_INET && family != AF_INET6) continue;
    if (any && ipv6_link_local(Endpoint::from_sockaddr(i->ifa_addr).addr)) continue;
    add_unique(out, i->ifa_addr);
  }
  freeifaddrs(list);
  return out;
}

std::vector<IpAddr> host_addresses(std::string_view host) {
  std::vector<IpAddr> out;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(std::string(host).c_str(), nullptr, &hints, &res) != 0) return out;
  for (const addrinfo* r = res; r != nullptr; r = r->ai_next) add_unique(out, r->ai_addr);
  freeaddrinfo(res);
  return out;
}

}  // namespace

AddressSource system_addresses() {
  return {device_addresses, host_addresses};
}

}  // namespace vox::control
