// The DPDK worker loop. One burst: classify every frame (relay candidates
// into the pipeline's RxPacket array; ARP and ICMP answered in place,
// neighbour advertisements learned; the rest counted and freed), run the
// pipeline, rewrite what it forwards, resolve the next hop, transmit once.
#include "base/clock.h"
#include "dataplane/dpdk/worker_loop.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "dataplane/dpdk/port.h"
#include "dataplane/dpdk/port_fastpath.h"
#include "dataplane/net/arp.h"
#include "dataplane/net/icmp.h"
#include "dataplane/net/rewrite.h"
#include "dataplane/pipeline.h"
#include "dataplane/steering.h"
#include "base/spsc_ring.h"
#include "dataplane/transcode.h"

namespace vox::dataplane::dpdk {

namespace {

constexpr uint32_t kHoldSlots = 64;      // packets waiting for an ARP reply, per worker
constexpr uint32_t kArpNewsSlots = 256;  // per sharing pair
constexpr uint8_t kIpProtoIcmp = 1;
constexpr uint8_t kIpProtoIcmpv6 = 58;
constexpr uint8_t kRelayTtl = 64;


net::MacAddr to_mac(const MacAddress& a) {
  net::MacAddr m;
  std::memcpy(m.bytes, a.data(), 6);
  return m;
}

// The IP header's DSCP/ECN octet: IPv4 TOS, or IPv6 traffic class.
uint8_t traffic_class(const uint8_t* frame, const net::FrameView& v) {
  const uint8_t* ip = frame + v.l3_offset;
  return v.ip_version == 4 ? ip[1] : uint8_t(load_be16(ip) >> 4);
}

}  // namespace

uint64_t BurstTimes::quantile_ns(double q) const {
  if (count == 0) return 0;
  const uint64_t want = std::max<uint64_t>(1, uint64_t(q * double(count) + 0.5));
  uint64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += bucket[b];
    if (seen >= want) return uint64_t(1) << b;
  }
  return uint64_t(1) << (kBuckets - 1);
}

std::vector<std::pair<std::string, uint64_t>> counter_list(const DpdkCounters& c) {
  auto get = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  std::vector<std::pair<std::string, uint64_t>> out = {
      {"frames rx", get(c.frames_rx)},
      {"not ours", get(c.not_ours)},
      {"other mac", get(c.other_mac)},
      {"not handled", get(c.not_handled)},
      {"arp replies sent", get(c.arp_replies_sent)},
      {"arp requests sent", get(c.arp_requests_sent)},
      {"arp learned", get(c.arp_learned)},
      {"arp unresolved", get(c.arp_unresolved)},
      {"nd solicitations sent", get(c.nd_solicitations_sent)},
      {"nd learned", get(c.nd_learned)},
      {"icmp echo replies", get(c.icmp_echo_replies)},
      {"ttl or family", get(c.ttl_or_family)},
      {"tx drops", get(c.tx_drops)},
      {"handed off", get(c.handed_off)},
      {"handoff drops", get(c.handoff_drops)},
      {"no mbuf", get(c.no_mbuf)},
  };
  // kNotIp / kNotUdp frames are ARP, ICMP or "not handled", counted above.
  for (size_t s = 0; s < net::kFrameStatusCount; ++s) {
    const auto st = net::FrameStatus(s);
    if (st == net::FrameStatus::kOk || st == net::FrameStatus::kNotIp || st == net::FrameStatus::kNotUdp)
      continue;
    out.emplace_back(std::string("frame ") + net::to_string(st), get(c.frame_drops[s]));
  }
  return out;
}

void* create_handoff_ring(const std::string& name, uint32_t size) {
  return rte_ring_create(name.c_str(), size, int(rte_socket_id()), RING_F_SP_ENQ | RING_F_SC_DEQ);
}

void free_handoff_ring(void* ring) {
  if (!ring) return;
  auto* r = static_cast<rte_ring*>(ring);
  void* m;
  while (rte_ring_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
  rte_ring_free(r);
}

struct WorkerLoop::Impl {
  // A frame waiting for its next hop's MAC. `from` is the egress flow's
  // local endpoint: a frame that never leaves is charged to it.
  struct Held {
    rte_mbuf* m;
    IpAddr next_hop;
    LocalKey from;
    uint8_t port;  // index into ports
    int64_t deadline_ns;
  };

  // One port as this worker sees it: the queues it owns, the host's face
  // on that link (MAC, addresses answered by ARP, gateway, neighbours) and
  // the burst's frames to send there.
  struct Port {
    Port(const PortQueues& q, const HostConfig& h)
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
    uint32_t next_hop(uint32_t dst, uint32_t local, uint32_t mask) const {
      if (gateway == 0 || (dst & mask) == (local & mask)) return dst;
      return gateway;
    }
    // Either family (dst and local alike).
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
    // A rewritten frame of `len` RTP octets, leaving by flow `from`, into
    // this burst's TX batch.
    void queue(rte_mbuf* m, uint16_t len, LocalKey from) {
      fwd_len[nfwd] = len;
      fwd_from[nfwd] = from;
      tx[nfwd++] = m;
    }
    // Sends n frames on this worker's queue, counted as sent packets; what
    // the queue refused is freed, counted as TX drops and charged to the
    // egress flow each would have left by (from[k]).
    void transmit(rte_mbuf** m, const LocalKey* from, uint32_t n, WorkerState& w,
                  DpdkCounters& dc) const {
      if (n == 0) return;
      const uint16_t sent = fastpath::tx_burst_or_free(id, tx_queue, m, uint16_t(n));
      bump(w.counters().tx_packets, sent);
      if (sent == n) return;
      bump(dc.tx_drops, n - sent);
      for (uint32_t k = sent; k < n; ++k) w.send_failed(from[k]);
    }

    DpdkPort* dev;
    uint16_t id = 0, rx_queue = 0, rx_queues = 1, tx_queue = 0;
    net::MacAddr mac;
    bool tx_ip_offload = false, tx_udp_offload = false, rx_offload = false;
    uint32_t gateway = 0;
    IpAddr gateway6;               // unspecified: none
    std::vector<uint32_t> own_v4;  // host order: the IPv4 addresses bound here
    net::ArpCache arp;
    net::NdCache nd;
    // Burst scratch: forwarded frames (their RTP bytes, and the egress
    // flow each leaves by, charged if the queue refuses it), then answers.
    rte_mbuf* tx[2 * kBurstSize];
    uint16_t fwd_len[kBurstSize];
    LocalKey fwd_from[kBurstSize];
    uint32_t nfwd = 0;
    rte_mbuf* answers[kBurstSize];
    uint32_t nanswers = 0;
  };

  std::vector<Port> ports;
  std::vector<uint8_t> iface_port;      // interface index -> ports index
  uint8_t port_index[RTE_MAX_ETHPORTS] = {};  // port id -> ports index (ring frames)
  std::vector<uint32_t> v4_addresses;   // host order; 0 where the interface is IPv6
  uint32_t v4_mask = 0;

  Held held[kHoldSlots];
  uint32_t nheld = 0;

  // Neighbour news: rings this worker reads (one per sharing peer) and writes.
  std::vector<std::unique_ptr<SpscRing<NeighborNews>>> news_in;
  std::vector<SpscRing<NeighborNews>*> news_out;

  // Burst scratch.
  rte_mbuf* rx[kBurstSize];
  net::FrameView views[kBurstSize];
  RxPacket pkts[kBurstSize];
  uint8_t pkt_frame[kBurstSize];  // RxPacket index -> rx index
  TxPacket out[kBurstSize];
  bool keep[kBurstSize];
  uint32_t empty_polls = 0;

  int iface_of(const IpAddr& dst, const HostConfig& host) const {
    if (dst.is_v4()) {  // one 32-bit compare per address, not sixteen octets
      const uint32_t d = dst.v4();
      for (size_t i = 0; i < v4_addresses.size(); ++i)
        if (v4_addresses[i] == d && d != 0) return int(i);
      return -1;
    }
    for (size_t i = 0; i < host.addresses.size(); ++i)
      if (host.addresses[i] == dst) return int(i);
    return -1;
  }
};

WorkerLoop::WorkerLoop(WorkerState& state, WorkerLoopConfig config)
    : state_(state),
      config_(std::move(config)),
      counters_(std::make_unique<DpdkCounters>()),
      impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  const HostConfig& host = config_.host;
  if (config_.ports.empty() || config_.ports.size() > kMaxPorts) {
    std::fprintf(stderr, "WorkerLoop: 1..%zu ports, not %zu\n", kMaxPorts, config_.ports.size());
    std::abort();
  }
  s.ports.reserve(config_.ports.size());
  for (const PortQueues& q : config_.ports) {
    s.port_index[q.port->id()] = uint8_t(s.ports.size());
    s.ports.emplace_back(q, host);
  }
  for (size_t i = 0; i < host.addresses.size(); ++i) {
    const IpAddr& a = host.addresses[i];
    const uint8_t p = i < host.interface_port.size() && host.interface_port[i] < s.ports.size()
                          ? host.interface_port[i]
                          : 0;
    s.iface_port.push_back(p);
    s.v4_addresses.push_back(a.is_v4() ? a.v4() : 0);
    if (a.is_v4()) s.ports[p].own_v4.push_back(a.v4());
  }
  const uint8_t bits = std::min<uint8_t>(host.prefix_len, 32);
  s.v4_mask = bits == 0 ? 0 : ~uint32_t(0) << (32 - bits);
}

WorkerLoop::~WorkerLoop() {
  Impl& s = *impl_;
  for (uint32_t i = 0; i < s.nheld; ++i) rte_pktmbuf_free(s.held[i].m);
  s.nheld = 0;
}

void WorkerLoop::share_arp_with(WorkerLoop& other) {
  other.impl_->news_in.push_back(std::make_unique<SpscRing<NeighborNews>>(kArpNewsSlots));
  impl_->news_out.push_back(other.impl_->news_in.back().get());
}

void WorkerLoop::run(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_relaxed)) {
    if (poll_once() != 0) {
      impl_->empty_polls = 0;
      continue;
    }
    if (config_.idle_sleep_us && ++impl_->empty_polls >= config_.idle_polls) {
      std::this_thread::sleep_for(std::chrono::microseconds(config_.idle_sleep_us));
    }
  }
  // Commands queued at the end still apply (flows are removed, nothing leaks).
  FlowCommand cmd;
  while (state_.commands().pop(cmd)) state_.apply(cmd);
  Impl& s = *impl_;
  for (uint32_t i = 0; i < s.nheld; ++i) rte_pktmbuf_free(s.held[i].m);
  s.nheld = 0;
  if (config_.inbox) {
    void* m;
    while (rte_ring_sc_dequeue(static_cast<rte_ring*>(config_.inbox), &m) == 0)
      rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
  }
}

void WorkerLoop::flush_held(int64_t now) {
  Impl& s = *impl_;
  rte_mbuf* tx[kMaxPorts][kBurstSize];
  LocalKey from[kMaxPorts][kBurstSize];
  uint32_t ntx[kMaxPorts] = {};
  uint32_t kept = 0;
  for (uint32_t i = 0; i < s.nheld; ++i) {
    const Impl::Held h = s.held[i];
    Impl::Port& p = s.ports[h.port];
    if (const net::MacAddr* m = p.lookup(h.next_hop, now); m && ntx[h.port] < kBurstSize) {
      std::memcpy(rte_pktmbuf_mtod(h.m, uint8_t*), m->bytes, 6);
      from[h.port][ntx[h.port]] = h.from;
      tx[h.port][ntx[h.port]++] = h.m;
    } else if (!m && now >= h.deadline_ns) {
      rte_pktmbuf_free(h.m);
      unresolved(h.from);
    } else {
      s.held[kept++] = h;
    }
  }
  s.nheld = kept;
  for (size_t p = 0; p < s.ports.size(); ++p) s.ports[p].transmit(tx[p], from[p], ntx[p], state_, *counters_);
}

// A frame dropped because its next hop did not answer ARP / neighbour
// discovery (or no room was left to hold it): counted here and charged to
// its egress flow, as the kernel's "host unreachable" is on the socket backend.
void WorkerLoop::unresolved(LocalKey from) {
  bump(counters_->arp_unresolved);
  state_.send_failed(from);
}

// A frame whose next hop is not resolved yet: asks for it (res said so),
// then holds the frame for the answer. False when it cannot be held (the
// table or the hold is full): counted and charged; the caller frees it.
bool WorkerLoop::hold(rte_mbuf* m, uint8_t port, net::NeighborResolve res, const IpAddr& hop,
                      const IpAddr& src, LocalKey from, bool vlan, uint16_t tci, int64_t now) {
  Impl& s = *impl_;
  if (res == net::NeighborResolve::kSendRequest) request_neighbor(port, hop, src, vlan, tci);
  if (res != net::NeighborResolve::kTableFull && s.nheld < kHoldSlots) {
    s.held[s.nheld++] = Impl::Held{m, hop, from, port, now + config_.host.arp_hold_ns};
    return true;
  }
  unresolved(from);
  return false;
}

void WorkerLoop::request_arp(int port, uint32_t hop, uint32_t src_ip, bool vlan, uint16_t tci) {
  Impl::Port& p = impl_->ports[size_t(port)];
  rte_mbuf* req;
  if (!p.dev->alloc_mbufs(reinterpret_cast<void**>(&req), 1)) {
    bump(counters_->no_mbuf);
    return;
  }
  const size_t len = net::build_arp_request(rte_pktmbuf_mtod(req, uint8_t*), rte_pktmbuf_tailroom(req),
                                            p.mac, src_ip, hop, vlan, tci);
  req->data_len = req->pkt_len = uint16_t(len);
  if (fastpath::tx_burst_or_free(p.id, p.tx_queue, &req, 1) == 1) bump(counters_->arp_requests_sent);
}

void WorkerLoop::request_neighbor(int port, const IpAddr& hop, const IpAddr& src, bool vlan,
                                  uint16_t tci) {
  if (hop.is_v4()) return request_arp(port, hop.v4(), src.v4(), vlan, tci);
  Impl::Port& p = impl_->ports[size_t(port)];
  rte_mbuf* req;
  if (!p.dev->alloc_mbufs(reinterpret_cast<void**>(&req), 1)) {
    bump(counters_->no_mbuf);
    return;
  }
  const size_t len = net::build_neighbor_solicitation(rte_pktmbuf_mtod(req, uint8_t*),
                                                      rte_pktmbuf_tailroom(req), p.mac, src, hop, vlan, tci);
  if (len == 0) {
    rte_pktmbuf_free(req);
    return;
  }
  req->data_len = req->pkt_len = uint16_t(len);
  if (fastpath::tx_burst_or_free(p.id, p.tx_queue, &req, 1) == 1) bump(counters_->nd_solicitations_sent);
}

void WorkerLoop::send_generated(GeneratedPackets& g, int64_t now) {
  Impl& s = *impl_;
  DpdkCounters& dc = *counters_;
  rte_mbuf* batch[kMaxPorts][kBurstSize];
  LocalKey from[kMaxPorts][kBurstSize];
  uint32_t nb[kMaxPorts] = {};
  auto flush = [&](size_t p) {
    s.ports[p].transmit(batch[p], from[p], nb[p], state_, dc);
    nb[p] = 0;
  };
  for (uint32_t k = 0; k < g.count; ++k) {
    const TxPacket& t = g.out[k];
    const LocalKey key = t.source;
    const uint32_t iface = local_key_iface(key);
    const Endpoint src{config_.host.addresses[iface], local_key_port(key)};
    const bool v4 = src.addr.is_v4();
    if (v4 != t.dest.addr.is_v4()) [[unlikely]] {
      state_.send_failed(key);
      bump(dc.ttl_or_family);
      continue;
    }
    const uint8_t pi = s.iface_port[iface];
    Impl::Port& p = s.ports[pi];
    rte_mbuf* m;
    if (!p.dev->alloc_mbufs(reinterpret_cast<void**>(&m), 1)) [[unlikely]] {
      bump(dc.no_mbuf);
      state_.send_failed(key);
      continue;
    }
    const IpAddr hop = p.next_hop(t.dest.addr, src.addr, s.v4_mask, config_.host.prefix_len6);
    net::MacAddr dst_mac;
    const auto res = p.resolve(hop, now, &dst_mac);
    // Checksum offload for IPv4 only (software for IPv6: a rare path here).
    const bool ip_offload = v4 && p.tx_ip_offload, udp_offload = v4 && p.tx_udp_offload;
    net::UdpFrameSpec spec;
    spec.src_mac = p.mac;
    spec.dst_mac = dst_mac;
    spec.src = src;
    spec.dst = t.dest;
    spec.ttl = kRelayTtl;
    spec.udp_checksum = udp_offload ? net::UdpChecksumMode::kOffload : net::UdpChecksumMode::kSoftware;
    spec.offload_ip_checksum = ip_offload;
    const size_t hdr = net::udp_frame_header_length(spec);
    uint8_t* base = rte_pktmbuf_mtod(m, uint8_t*);
    std::memcpy(base + hdr, t.data, t.len);
    net::build_udp_frame(base + hdr, t.len, spec);
    m->data_len = m->pkt_len = uint16_t(hdr + t.len);
    if (ip_offload || udp_offload) {
      m->l2_len = net::kEthernetHeaderLength;
      m->l3_len = net::kIpv4MinHeaderLength;
      m->ol_flags |= RTE_MBUF_F_TX_IPV4 | (ip_offload ? RTE_MBUF_F_TX_IP_CKSUM : 0) |
                     (udp_offload ? RTE_MBUF_F_TX_UDP_CKSUM : 0);
    }
    if (res == net::NeighborResolve::kResolved) [[likely]] {
      from[pi][nb[pi]] = key;
      batch[pi][nb[pi]++] = m;
      if (nb[pi] == kBurstSize) flush(pi);
    } else if (!hold(m, pi, res, hop, src.addr, key, false, 0, now)) {
      rte_pktmbuf_free(m);
    }
  }
  for (size_t p = 0; p < s.ports.size(); ++p) flush(p);
}

// Off the IPv4 fast path: an IPv6 frame, or an IPv6 egress interface. The
// same family on both legs is rewritten in place; a change of family gets
// fresh headers written in front of the payload (the mbuf's headroom takes
// IPv6's 20 more octets). Software checksums: IPv6 media is the rare case.
void WorkerLoop::forward_other(uint32_t i, const TxPacket& t, int64_t now) {
  Impl& s = *impl_;
  rte_mbuf* m = s.rx[i];
  const net::FrameView& v = s.views[i];
  const uint32_t iface = local_key_iface(t.source);
  const Endpoint src{config_.host.addresses[iface], local_key_port(t.source)};
  auto fail = [&] {
    state_.send_failed(t.source);
    bump(counters_->ttl_or_family);
  };
  if (src.addr.is_v4() != t.dest.addr.is_v4()) return fail();  // interface of the wrong family
  const uint8_t pe = s.iface_port[iface];
  Impl::Port& out = s.ports[pe];
  const IpAddr hop = out.next_hop(t.dest.addr, src.addr, s.v4_mask, config_.host.prefix_len6);
  net::MacAddr dst_mac;
  const auto res = out.resolve(hop, now, &dst_mac);
  uint8_t* d = rte_pktmbuf_mtod(m, uint8_t*);
  if ((v.ip_version == 4) == src.addr.is_v4()) {
    net::UdpRewrite rw;
    rw.src_mac = out.mac;
    rw.dst_mac = dst_mac;
    rw.src = src;
    rw.dst = t.dest;
    rw.ttl = kRelayTtl;
    rw.payload_length = t.len;
    if (!net::rewrite_udp_frame(d, v, rw)) return fail();
    m->data_len = m->pkt_len = uint16_t(v.payload_offset + t.len);
  } else {
    net::UdpFrameSpec spec;
    spec.src_mac = out.mac;
    spec.dst_mac = dst_mac;
    spec.has_vlan = v.has_vlan;
    spec.vlan_tci = v.vlan_tci;
    spec.src = src;
    spec.dst = t.dest;
    spec.ttl = kRelayTtl;
    spec.traffic_class = traffic_class(d, v);  // DSCP (EF for voice) survives the family change
    const size_t hdr = net::udp_frame_header_length(spec);
    if (hdr > v.payload_offset + rte_pktmbuf_headroom(m)) return fail();
    uint8_t* f = net::build_udp_frame(d + v.payload_offset, t.len, spec);
    if (f == nullptr) return fail();
    m->data_off = uint16_t(m->data_off + (f - d));
    m->data_len = m->pkt_len = uint16_t(hdr + t.len);
  }
  if (res == net::NeighborResolve::kResolved) {
    out.queue(m, t.len, t.source);
    s.keep[i] = true;
  } else {
    s.keep[i] = hold(m, pe, res, hop, src.addr, t.source, v.has_vlan, v.vlan_tci, now);
  }
}

uint32_t WorkerLoop::poll_once() {
  Impl& s = *impl_;
  FlowCommand cmd;
  while (state_.commands().pop(cmd)) state_.apply(cmd);

  // The clock is read and ARP news taken once per iteration, and only when
  // there is something to do.
  int64_t now = 0;
  auto wake = [&] {
    if (now) return;
    now = monotonic_ns();
    for (auto& in : s.news_in) {
      NeighborNews news;
      while (in->pop(news)) s.ports[news.port].learn(news.ip, news.mac, now);
    }
  };
  uint32_t total = 0;
  if (config_.inbox) {
    const uint32_t n = rte_ring_sc_dequeue_burst(static_cast<rte_ring*>(config_.inbox),
                                                 reinterpret_cast<void**>(s.rx), kBurstSize, nullptr);
    if (n) {
      wake();
      total = process(n, -1, now);
    }
  } else {
    for (size_t p = 0; p < s.ports.size(); ++p) {
      const Impl::Port& port = s.ports[p];
      for (uint16_t q = port.rx_queue; q < port.rx_queue + port.rx_queues; ++q) {
        const uint32_t n = fastpath::rx_burst(port.id, q, s.rx, kBurstSize);
        if (n == 0) continue;
        wake();
        total += process(n, int(p), now);
      }
    }
  }
  // Packets waiting for a next hop that this iteration may have resolved.
  // (Frames to an unresolved hop are all held, so none overtakes an older one.)
  if (s.nheld) {
    wake();
    flush_held(now);
  }
  return total;
}

// One RX burst of s.rx[0..n) from ports[port] (-1: from the inbox ring, each
// frame's mbuf names its port).
uint32_t WorkerLoop::process(uint32_t n, int port, int64_t now) {
  Impl& s = *impl_;
  DpdkCounters& dc = *counters_;
  WorkerCounters& wc = state_.counters();
  const uint64_t t0 = config_.time_bursts ? rte_rdtsc() : 0;
  bump(dc.frames_rx, n);
  bump(dc.bursts);
  bump(wc.rx_calls);

  // 1. Classify. The mbufs arrive cold (written by the NIC, or by another
  // core): every header's miss starts at once, then each frame's lines
  // (parse and the UDP checksum read all 214 octets) a few frames ahead.
  for (uint32_t i = 0; i < n; ++i) rte_prefetch0(s.rx[i]);
  constexpr uint32_t kAhead = 4;
  auto prefetch_frame = [](const rte_mbuf* m) {  // up to 256 octets: RTP fits
    const uint8_t* p = rte_pktmbuf_mtod(m, const uint8_t*);
    const uint32_t len = m->data_len;
    rte_prefetch0(p);
    if (len > 64) rte_prefetch0(p + 64);
    if (len > 128) rte_prefetch0(p + 128);
    if (len > 192) rte_prefetch0(p + 192);
  };
  for (uint32_t i = 0; i < std::min(n, kAhead); ++i) prefetch_frame(s.rx[i]);
  uint32_t npkts = 0;
  for (uint32_t i = 0; i < n; ++i) {
    rte_mbuf* m = s.rx[i];
    s.keep[i] = false;
    uint8_t* d = rte_pktmbuf_mtod(m, uint8_t*);
    if (i + kAhead < n) prefetch_frame(s.rx[i + kAhead]);
    const uint8_t pi = port >= 0 ? uint8_t(port) : s.port_index[m->port];
    Impl::Port& in = s.ports[pi];
    net::FrameView& v = s.views[i];
    if (m->nb_segs != 1) [[unlikely]] {  // jumbo / scattered: never RTP
      bump(dc.frame_drops[size_t(net::FrameStatus::kUnsupported)]);
      continue;
    }
    // A host takes unicast frames for its own MAC only (a port that sees
    // the whole segment, like af_packet, hands it everything).
    if (m->data_len >= 6 && !(d[0] & 1) && std::memcmp(d, in.mac.bytes, 6) != 0) [[unlikely]] {
      bump(dc.other_mac);
      continue;
    }
    net::ParseOptions opt;
    if (in.rx_offload) {
      const uint64_t ip = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
      const uint64_t l4 = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
      opt.verify_ip_checksum = ip != RTE_MBUF_F_RX_IP_CKSUM_GOOD;
      opt.verify_udp_checksum = l4 != RTE_MBUF_F_RX_L4_CKSUM_GOOD;
    }
    const net::FrameStatus st = net::parse_udp4_fast(d, m->data_len, &v, opt)
                                    ? net::FrameStatus::kOk
                                    : net::parse_frame(d, m->data_len, &v, opt);
    if (st == net::FrameStatus::kOk) [[likely]] {
      // Media for any of the relay's addresses is taken on any of its ports
      // (the weak host model, Linux's default); ARP answers are per port.
      const int iface = s.iface_of(v.dst_ip, config_.host);
      if (iface < 0) [[unlikely]] {
        bump(dc.not_ours);
        continue;
      }
      // RX core of a port without steering: another worker's frame goes
      // to its ring, untouched but for the port it came in on; the owner
      // parses it again (cache-warm).
      if (!config_.outboxes.empty()) {
        const int owner = worker_of_port(v.dst_port, config_.workers);
        if (owner != state_.index()) {
          auto* ring = static_cast<rte_ring*>(config_.outboxes[size_t(owner)]);
          m->port = in.id;
          if (rte_ring_sp_enqueue(ring, m) == 0) {
            s.keep[i] = true;
            bump(dc.handed_off);
          } else {
            bump(dc.handoff_drops);
          }
          continue;
        }
      }
      // Room to grow: the rest of the segment after the payload (Ethernet
      // padding included), for an SRTP tag appended in place.
      const uint32_t room = m->data_len + rte_pktmbuf_tailroom(m) - v.payload_offset;
      RxPacket& rp = s.pkts[npkts];  // field by field: no temporary read back whole
      rp.data = d + v.payload_offset;
      rp.len = uint16_t(v.payload_length);
      rp.local = make_local_key(uint16_t(iface), v.dst_port);
      rp.source.addr = v.src_ip;
      rp.source.port = v.src_port;
      rp.capacity = uint16_t(std::min<uint32_t>(room, 0xffff));
      s.pkt_frame[npkts++] = uint8_t(i);
      continue;
    }
    if (st == net::FrameStatus::kNotIp && v.ethertype == net::kEtherTypeArp) {
      auto arp = net::parse_arp(d, m->data_len);
      if (!arp.ok()) {
        bump(dc.not_handled);
        continue;
      }
      const net::ArpView& a = *arp;
      const bool for_us = in.owns_v4(a.target_ip);
      // RFC 826: update a known sender; learn it when the packet is for us.
      if (a.sender_ip != 0 && (for_us || in.arp.lookup(a.sender_ip, now))) {
        if (in.arp.learn(a.sender_ip, a.sender_mac, now)) {
          bump(dc.arp_learned);
          for (auto* out : s.news_out) out->push(NeighborNews{IpAddr::from_v4(a.sender_ip), a.sender_mac, pi});
        }
      }
      if (for_us && a.operation == net::kArpRequest && net::build_arp_reply(d, m->data_len, in.mac)) {
        in.answers[in.nanswers++] = m;
        s.keep[i] = true;
        bump(dc.arp_replies_sent);
      } else if (!for_us) {
        bump(dc.not_handled);
      }
      continue;
    }
    if (st == net::FrameStatus::kNotUdp &&
        (v.ip_protocol == kIpProtoIcmp || v.ip_protocol == kIpProtoIcmpv6)) {
      Result<size_t, net::IcmpError> r = Err{net::IcmpError::kNotHandled};
      if (v.ip_version == 4) {
        r = net::answer_icmpv4_echo(d, v, config_.host.addresses);
      } else {
        r = net::answer_icmpv6_echo(d, v, config_.host.addresses);
        if (!r.ok() && r.error() == net::IcmpError::kNotHandled)
          r = net::answer_neighbor_solicitation(d, m->data_len + rte_pktmbuf_tailroom(m), v,
                                                in.mac, config_.host.addresses);
      }
      if (r.ok()) {
        m->data_len = m->pkt_len = uint16_t(*r);
        in.answers[in.nanswers++] = m;
        s.keep[i] = true;
        bump(dc.icmp_echo_replies);
        continue;
      }
      // An advertisement answering a solicitation: this worker's (it tracks
      // the target) or another's (solicited, to one of our addresses: the
      // answer reaches whichever worker polls the queue). RFC 4861 §7.2.5:
      // others, for an address nobody is resolving, are discarded.
      if (auto na = net::parse_neighbor_advertisement(d, v);
          na.ok() && (in.nd.tracks(na->target) || (na->solicited && s.iface_of(v.dst_ip, config_.host) >= 0))) {
        if (in.nd.learn(na->target, na->mac, now)) {
          bump(dc.nd_learned);
          for (auto* out : s.news_out) out->push(NeighborNews{na->target, na->mac, pi});
        }
        continue;
      }
      bump(dc.not_handled);
      continue;
    }
    if (st == net::FrameStatus::kNotIp || st == net::FrameStatus::kNotUdp) {
      bump(dc.not_handled);
    } else {
      bump(dc.frame_drops[size_t(st)]);
      if (st != net::FrameStatus::kUnsupported) bump(wc.drops[size_t(DropReason::kMalformed)]);
    }
  }

  // 2. The pipeline: flow lookup, demux, validation, latching, egress.
  const uint32_t nout = npkts ? process_burst(state_, s.pkts, npkts, now, s.out) : 0;

  // 3. Rewrite in place for the egress interface's port and resolve the
  // next hop there.
  // The last next hop resolved in this burst (most frames go to one
  // gateway): within a burst `now` is fixed and nothing is learned, so a
  // resolved answer stays the answer.
  uint32_t memo_hop = 0;
  uint8_t memo_port = 0;
  net::MacAddr memo_mac;
  for (uint32_t k = 0; k < nout; ++k) {
    const TxPacket& t = s.out[k];
    const uint32_t i = s.pkt_frame[t.rx_index];
    rte_mbuf* m = s.rx[i];
    const net::FrameView& v = s.views[i];
    const uint32_t iface = local_key_iface(t.source);
    const uint32_t src4 = s.v4_addresses[iface];  // 0: an IPv6 interface
    if (src4 == 0 || !t.dest.addr.is_v4() || v.ip_version != 4) [[unlikely]] {
      forward_other(i, t, now);
      continue;
    }
    const uint32_t dst4 = t.dest.addr.v4();
    const uint8_t pe = s.iface_port[iface];
    Impl::Port& out = s.ports[pe];
    const uint32_t hop = out.next_hop(dst4, src4, s.v4_mask);
    net::MacAddr dst_mac = memo_mac;
    auto res = net::ArpCache::Resolve::kResolved;
    if (hop != memo_hop || pe != memo_port || hop == 0) {
      res = out.arp.resolve(hop, now, &dst_mac);
      if (res == net::ArpCache::Resolve::kResolved) {
        memo_hop = hop;
        memo_port = pe;
        memo_mac = dst_mac;
      }
    }
    uint8_t* d = rte_pktmbuf_mtod(m, uint8_t*);
    const auto udp_mode =
        out.tx_udp_offload ? net::UdpChecksumMode::kOffload : net::UdpChecksumMode::kSoftware;
    if (!t.rewritten) [[likely]] {
      net::Udp4Rewrite rw;
      rw.dst_mac = dst_mac;
      rw.src_mac = out.mac;
      rw.src_be = to_wire32(src4);
      rw.dst_be = to_wire32(dst4);
      rw.src_port_be = to_wire16(local_key_port(t.source));
      rw.dst_port_be = to_wire16(t.dest.port);
      rw.ttl = kRelayTtl;
      rw.udp_checksum = udp_mode;
      rw.offload_ip_checksum = out.tx_ip_offload;
      net::rewrite_udp4(d, d + v.l3_offset, d + v.l4_offset, rw);
    } else {
      // SRTP resized the payload in place: new lengths, fresh checksum.
      net::UdpRewrite rw;
      rw.src_mac = out.mac;
      rw.dst_mac = dst_mac;
      rw.src = Endpoint{config_.host.addresses[iface], local_key_port(t.source)};
      rw.dst = t.dest;
      rw.ttl = kRelayTtl;
      rw.offload_ip_checksum = out.tx_ip_offload;
      rw.udp_checksum = udp_mode;
      rw.payload_length = t.len;
      m->data_len = m->pkt_len = uint16_t(v.payload_offset + t.len);
      net::rewrite_udp_frame(d, v, rw);
    }
    if (out.tx_ip_offload || out.tx_udp_offload) {
      m->l2_len = v.l3_offset;
      m->l3_len = uint16_t(v.l4_offset - v.l3_offset);
      m->ol_flags |= RTE_MBUF_F_TX_IPV4 | (out.tx_ip_offload ? RTE_MBUF_F_TX_IP_CKSUM : 0) |
                     (out.tx_udp_offload ? RTE_MBUF_F_TX_UDP_CKSUM : 0);
    }
    if (res == net::NeighborResolve::kResolved) [[likely]] {
      out.queue(m, t.len, t.source);
      s.keep[i] = true;
      continue;
    }
    s.keep[i] = hold(m, pe, res, IpAddr::from_v4(hop), IpAddr::from_v4(src4), t.source, v.has_vlan,
                     v.vlan_tci, now);
  }

  // 3b. Packets the transcoders generated: fresh frames in new mbufs (their
  // payload differs in size from what arrived), sent in their own bursts.
  if (GeneratedPackets* g = state_.generated(); g && g->count) {
    send_generated(*g, now);
    g->count = 0;
  }

  // 4. Transmit, one burst per port: forwarded frames first, so that a
  // short TX takes the ARP/ICMP answers.
  for (Impl::Port& p : s.ports) {
    const uint32_t nfwd = p.nfwd;
    const uint32_t ntx = nfwd + p.nanswers;
    if (ntx == 0) continue;
    std::memcpy(p.tx + nfwd, p.answers, p.nanswers * sizeof(rte_mbuf*));
    p.nfwd = p.nanswers = 0;
    const uint16_t sent = fastpath::tx_burst_or_free(p.id, p.tx_queue, p.tx, uint16_t(ntx));
    bump(wc.tx_calls);
    const uint32_t relayed = std::min<uint32_t>(sent, nfwd);
    uint64_t bytes = 0;
    for (uint32_t k = 0; k < relayed; ++k) bytes += p.fwd_len[k];
    bump(wc.tx_packets, relayed);
    bump(wc.tx_bytes, bytes);
    if (sent < ntx) {
      bump(dc.tx_drops, ntx - sent);
      for (uint32_t k = relayed; k < nfwd; ++k) state_.send_failed(p.fwd_from[k]);
    }
  }

  // 5. Everything not sent, held or handed off is freed in one call.
  rte_mbuf* done[kBurstSize];
  uint32_t ndone = 0;
  for (uint32_t i = 0; i < n; ++i)
    if (!s.keep[i]) done[ndone++] = s.rx[i];
  if (ndone) rte_pktmbuf_free_bulk(done, ndone);

  if (config_.time_bursts) {
    const uint64_t cycles = rte_rdtsc() - t0;
    static const double ns_per_cycle = 1e9 / double(rte_get_tsc_hz());
    const uint64_t ns = uint64_t(double(cycles) * ns_per_cycle);
    const int b = ns == 0 ? 0 : std::min(BurstTimes::kBuckets - 1, 64 - __builtin_clzll(ns));
    ++times_.bucket[b];
    ++times_.count;
    times_.total_ns += ns;
  }
  return n;
}

}  // namespace vox::dataplane::dpdk
