// Internal to the DPDK worker: one port as a worker sees it (its queues,
// the host's face on that link: MAC, addresses answered by ARP, gateways,
// neighbour caches, and the burst's frames to send there), and the
// relay's interfaces (NG "direction" -> address and port). Shared by the
// worker's host stack, its egress and its I/O policy.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "dataplane/dpdk/port.h"
#include "dataplane/dpdk/worker_loop.h"
#include "dataplane/net/neighbor_cache.h"
#include "dataplane/pipeline.h"

struct rte_mbuf;

namespace vox::dataplane::dpdk {

inline net::MacAddr to_mac(const MacAddress& a) {
  net::MacAddr m;
  std::copy(a.begin(), a.end(), m.bytes);
  return m;
}

struct WorkerPort {
  WorkerPort(const PortQueues& q, const HostConfig& h)
      : dev(q.port),
        arp(h.arp_entries, h.arp_ttl_ns, h.arp_retry_ns),
        nd(h.arp_entries, h.arp_ttl_ns, h.arp_retry_ns) {
    const PortInfo& info = dev->info();
    id = info.port_id;
    rx_queue = q.rx_queue;
    rx_queues = std::max<uint16_t>(q.rx_queue_count, 1);
    tx_queue = q.tx_queue;
    mac = to_mac(info.mac);
    tx_ip_offload = info.enabled.tx_ipv4;
    tx_udp_offload = info.enabled.tx_udp;
    rx_offload = info.enabled.rx_ipv4 || info.enabled.rx_udp;
    if (q.gateway.is_v4()) gateway = q.gateway.v4();
    if (!q.gateway6.is_v4() && !q.gateway6.is_unspecified()) gateway6 = q.gateway6;
  }
  bool owns_v4(uint32_t ip) const {
    return ip != 0 && std::find(own_v4.begin(), own_v4.end(), ip) != own_v4.end();
  }
  // The next hop toward dst from local: dst itself on link, else the gateway.
  uint32_t next_hop(uint32_t dst, uint32_t local, uint32_t mask) const {
    if (gateway == 0 || (dst & mask) == (local & mask)) return dst;
    return gateway;
  }
  IpAddr next_hop(const IpAddr& dst, const IpAddr& local, uint32_t mask, uint8_t bits6) const {
    if (dst.is_v4()) return IpAddr::from_v4(next_hop(dst.v4(), local.v4(), mask));
    if (gateway6.is_unspecified() || dst.same_prefix(local, bits6)) return dst;
    return gateway6;
  }
  net::NeighborResolve resolve(const IpAddr& hop, int64_t now, net::MacAddr* hop_mac) {
    return hop.is_v4() ? arp.resolve(hop.v4(), now, hop_mac) : nd.resolve(hop, now, hop_mac);
  }
  const net::MacAddr* lookup(const IpAddr& hop, int64_t now) const {
    return hop.is_v4() ? arp.lookup(hop.v4(), now) : nd.lookup(hop, now);
  }
  bool learn(const IpAddr& ip, const net::MacAddr& ip_mac, int64_t now) {
    return ip.is_v4() ? arp.learn(ip.v4(), ip_mac, now) : nd.learn(ip, ip_mac, now);
  }
  // A rewritten frame of `len` payload octets, leaving by the flow whose
  // local endpoint is `from`, into this burst's TX batch.
  void queue(rte_mbuf* m, uint16_t len, LocalKey from) {
    fwd_len[nfwd] = len;
    fwd_from[nfwd] = from;
    tx[nfwd++] = m;
  }
  void answer(rte_mbuf* m) { answers[nanswers++] = m; }

  DpdkPort* dev;
  uint16_t id = 0, rx_queue = 0, rx_queues = 1, tx_queue = 0;
  net::MacAddr mac;
  bool tx_ip_offload = false, tx_udp_offload = false, rx_offload = false;
  uint32_t gateway = 0;
  IpAddr gateway6;               // unspecified: none
  std::vector<uint32_t> own_v4;  // host order: the IPv4 addresses bound here
  net::ArpCache arp;
  net::NdCache nd;
  // Burst scratch: forwarded frames (their payload octets, and the egress
  // flow each leaves by, charged if the queue refuses it), then answers.
  rte_mbuf* tx[2 * kBurstSize];
  uint16_t fwd_len[kBurstSize];
  LocalKey fwd_from[kBurstSize];
  uint32_t nfwd = 0;
  rte_mbuf* answers[kBurstSize];
  uint32_t nanswers = 0;
};

// The relay's interfaces on this worker's ports: interface index (the
// LocalKey's high half) -> address and port.
struct Interfaces {
  Interfaces(const HostConfig& host, std::vector<WorkerPort>& ports) : config(host) {
    for (size_t i = 0; i < host.addresses.size(); ++i) {
      const IpAddr& a = host.addresses[i];
      const uint8_t p = i < host.interface_port.size() && host.interface_port[i] < ports.size()
                            ? host.interface_port[i]
                            : 0;
      port.push_back(p);
      v4.push_back(a.is_v4() ? a.v4() : 0);
      if (a.is_v4()) ports[p].own_v4.push_back(a.v4());
    }
    const uint8_t bits = std::min<uint8_t>(host.prefix_len, 32);
    v4_mask = bits == 0 ? 0 : ~uint32_t(0) << (32 - bits);
  }
  // The interface whose address is dst, or -1.
  int of(const IpAddr& dst) const {
    if (dst.is_v4()) return of_v4(v4.data(), v4.size(), dst.v4());
    for (size_t i = 0; i < config.addresses.size(); ++i)
      if (config.addresses[i] == dst) return int(i);
    return -1;
  }
  // The same for an IPv4 address d (host order) over a copy of v4: one
  // 32-bit compare per address, not sixteen octets.
  static int of_v4(const uint32_t* v4, size_t n, uint32_t d) {
    for (size_t i = 0; i < n; ++i)
      if (v4[i] == d && d != 0) return int(i);
    return -1;
  }
  Endpoint endpoint(LocalKey key) const { return Endpoint{config.addresses[local_key_iface(key)], local_key_port(key)}; }

  const HostConfig& config;
  std::vector<uint8_t> port;  // interface -> index into the worker's ports
  std::vector<uint32_t> v4;   // host order; 0 where the interface is IPv6
  uint32_t v4_mask = 0;
};

}  // namespace vox::dataplane::dpdk
