// EgressPath: rewrite, next hop, hold, transmit.
#include "dataplane/dpdk/egress.h"

#include <rte_mbuf.h>

#include <cstring>

#include "dataplane/dpdk/port_fastpath.h"
#include "dataplane/transcode.h"

namespace vox::dataplane::dpdk {

namespace {

constexpr uint32_t kHoldSlots = 64;  // frames waiting for a next hop, per worker
constexpr uint8_t kRelayTtl = 64;    // a relay sends as a host does (see UdpRewrite::ttl)

// The IP header's DSCP/ECN octet: IPv4 TOS, or IPv6 traffic class.
uint8_t traffic_class(const uint8_t* frame, const net::FrameView& v) {
  const uint8_t* ip = frame + v.l3_offset;
  return v.ip_version == 4 ? ip[1] : uint8_t(load_be16(ip) >> 4);
}

// Asks the NIC for the IPv4 checksums the spec leaves to it.
void request_offloads(rte_mbuf* m, uint16_t l2_len, uint16_t l3_len, bool ip, bool udp) {
  if (!ip && !udp) return;
  m->l2_len = l2_len;
  m->l3_len = l3_len;
  m->ol_flags |= RTE_MBUF_F_TX_IPV4 | (ip ? RTE_MBUF_F_TX_IP_CKSUM : 0) | (udp ? RTE_MBUF_F_TX_UDP_CKSUM : 0);
}

}  // namespace

// A frame waiting for its next hop's MAC. `from` is the egress flow's
// local endpoint: a frame that never leaves is charged to it.
struct EgressPath::Held {
  rte_mbuf* m;
  IpAddr next_hop;
  LocalKey from;
  uint16_t len;  // payload octets, for tx bytes
  uint8_t port;  // index into ports_
  int64_t deadline_ns;
};

// Frames built or released outside the burst's own batches, per port: sent
// a full burst at a time, and what is left by send_all().
struct EgressPath::Batches {
  explicit Batches(EgressPath& e) : egress(e) {}
  void add(uint8_t p, rte_mbuf* m, uint16_t len, LocalKey from) {
    frames[p][n[p]] = m;
    lens[p][n[p]] = len;
    froms[p][n[p]++] = from;
    if (n[p] == kBurstSize) send(p);
  }
  void send(uint8_t p) {
    egress.transmit(egress.ports_[p], frames[p], n[p], lens[p], froms[p], n[p]);
    n[p] = 0;
  }
  void send_all() {
    for (size_t p = 0; p < egress.ports_.size(); ++p) send(uint8_t(p));
  }
  EgressPath& egress;
  rte_mbuf* frames[kMaxPorts][kBurstSize];
  uint16_t lens[kMaxPorts][kBurstSize];
  LocalKey froms[kMaxPorts][kBurstSize];
  uint32_t n[kMaxPorts] = {};
};

EgressPath::EgressPath(std::vector<WorkerPort>& ports, const Interfaces& interfaces, HostStack& host,
                       WorkerState& w, DpdkCounters& counters)
    : ports_(ports), ifs_(interfaces), host_(host), w_(w), dc_(counters), held_(new Held[kHoldSlots]) {}

EgressPath::~EgressPath() { free_held(); }

void EgressPath::free_held() {
  for (uint32_t i = 0; i < nheld_; ++i) rte_pktmbuf_free(held_[i].m);
  nheld_ = 0;
}

std::optional<uint8_t> EgressPath::tos_for(LocalKey source) const {
  const PortTos* calls = ifs_.config.port_tos;
  if (calls && calls->any())
    if (auto own = calls->own(source)) return own;
  if (ifs_.config.tos) return ifs_.config.tos;
  return std::nullopt;
}

net::UdpFrameSpec EgressPath::frame_spec(const WorkerPort& out, const TxPacket& t,
                                         const net::MacAddr& dst_mac) const {
  net::UdpFrameSpec spec;
  spec.src_mac = out.mac;
  spec.dst_mac = dst_mac;
  spec.src = ifs_.endpoint(t.source);
  spec.dst = t.dest;
  spec.ttl = kRelayTtl;
  spec.traffic_class = tos_for(t.source).value_or(0);
  // Checksum offload for IPv4 only (software for IPv6: the rare path).
  const bool v4 = spec.src.addr.is_v4();
  spec.udp_checksum = v4 && out.tx_udp_offload ? net::UdpChecksumMode::kOffload : net::UdpChecksumMode::kSoftware;
  spec.offload_ip_checksum = v4 && out.tx_ip_offload;
  return spec;
}

void EgressPath::forward(FrameBurst& fb, const TxPacket* tx, uint32_t n, int64_t now) {
  if (nheld_) flush_held(now);  // the hop may have resolved in this burst
  // The last next hop resolved in this burst (most frames go to one
  // gateway): within a burst `now` is fixed and nothing is learned, so a
  // resolved answer stays the answer.
  uint32_t memo_hop = 0;
  uint8_t memo_port = 0;
  net::MacAddr memo_mac, resolved;
  // In registers: every frame written below is char memory, which may
  // alias any member, so a member read in the loop would be read again
  // after each rewrite.
  const uint32_t* const v4 = ifs_.v4.data();
  const uint8_t* const port_of = ifs_.port.data();
  const uint32_t v4_mask = ifs_.v4_mask;
  WorkerPort* const ports = ports_.data();
  // Once per burst: whether any call has a TOS of its own; without one
  // (the usual case) a packet needs no look at the per-port table.
  const bool calls_tos = ifs_.config.port_tos && ifs_.config.port_tos->any();
  const uint8_t operator_tos = ifs_.config.tos;
  for (uint32_t k = 0; k < n; ++k) {
    const TxPacket& t = tx[k];
    const uint32_t i = fb.pkt_frame[t.rx_index];
    rte_mbuf* m = fb.m[i];
    const net::FrameView& v = fb.views[i];
    const uint32_t iface = local_key_iface(t.source);
    const uint32_t src4 = v4[iface];  // 0: an IPv6 interface
    if (src4 == 0 || !t.dest.addr.is_v4() || v.ip_version != 4) [[unlikely]] {
      forward_other(fb, i, t, now);
      continue;
    }
    const uint32_t dst4 = t.dest.addr.v4();
    const uint8_t pe = port_of[iface];
    WorkerPort& out = ports[pe];
    const uint32_t hop = out.next_hop(dst4, src4, v4_mask);
    // The MAC is read where it is kept and copied once, into the frame.
    const net::MacAddr* dst_mac = &memo_mac;
    auto res = net::ArpCache::Resolve::kResolved;
    if (hop != memo_hop || pe != memo_port || hop == 0) {
      res = out.arp.resolve(hop, now, &resolved);
      dst_mac = &resolved;
      if (res == net::ArpCache::Resolve::kResolved) {
        memo_hop = hop;
        memo_port = pe;
        memo_mac = resolved;
      }
    }
    uint8_t* d = rte_pktmbuf_mtod(m, uint8_t*);
    if (!t.rewritten) [[likely]] {
      net::Udp4Rewrite rw;
      rw.src_be = to_wire32(src4);
      rw.dst_be = to_wire32(dst4);
      rw.src_port_be = to_wire16(local_key_port(t.source));
      rw.dst_port_be = to_wire16(t.dest.port);
      rw.ttl = kRelayTtl;
      rw.udp_checksum = out.tx_udp_offload ? net::UdpChecksumMode::kOffload : net::UdpChecksumMode::kSoftware;
      rw.offload_ip_checksum = out.tx_ip_offload;
      net::rewrite_udp4(d, d + v.l3_offset, d + v.l4_offset, *dst_mac, out.mac, rw);
    } else {
      // SRTP resized the payload in place: new lengths, fresh checksum.
      m->data_len = m->pkt_len = uint16_t(v.payload_offset + t.len);
      net::rewrite_udp_frame(d, v, net::as_rewrite(frame_spec(out, t, *dst_mac), t.len));
    }
    if (calls_tos) {
      if (const auto tc = tos_for(t.source)) net::set_traffic_class(d + v.l3_offset, true, *tc, out.tx_ip_offload);
    } else if (operator_tos) {  // the operator's --tos, the same for every packet
      net::set_traffic_class(d + v.l3_offset, true, operator_tos, out.tx_ip_offload);
    }
    request_offloads(m, v.l3_offset, uint16_t(v.l4_offset - v.l3_offset), out.tx_ip_offload, out.tx_udp_offload);
    if (res == net::NeighborResolve::kResolved) [[likely]] {
      out.queue(m, t.len, t.source);
      fb.keep[i] = true;
      continue;
    }
    fb.keep[i] = hold(m, pe, res, IpAddr::from_v4(hop), IpAddr::from_v4(src4), t, &v, now);
  }
}

// Off the IPv4 fast path: an IPv6 frame, or an IPv6 egress interface. The
// same family on both legs is rewritten in place; a change of family gets
// fresh headers written in front of the payload (the mbuf's headroom takes
// IPv6's 20 more octets). Software checksums: IPv6 media is the rare case.
void EgressPath::forward_other(FrameBurst& fb, uint32_t i, const TxPacket& t, int64_t now) {
  rte_mbuf* m = fb.m[i];
  const net::FrameView& v = fb.views[i];
  const Endpoint src = ifs_.endpoint(t.source);
  if (src.addr.is_v4() != t.dest.addr.is_v4()) return failed(t.source, dc_.family_mismatch);
  const uint8_t pe = ifs_.port[local_key_iface(t.source)];
  WorkerPort& out = ports_[pe];
  const IpAddr hop = out.next_hop(t.dest.addr, src.addr, ifs_.v4_mask, ifs_.config.prefix_len6);
  net::MacAddr dst_mac;
  const auto res = out.resolve(hop, now, &dst_mac);
  uint8_t* d = rte_pktmbuf_mtod(m, uint8_t*);
  net::UdpFrameSpec spec = frame_spec(out, t, dst_mac);
  spec.udp_checksum = net::UdpChecksumMode::kSoftware;  // no offload flags on this path
  spec.offload_ip_checksum = false;
  if ((v.ip_version == 4) == src.addr.is_v4()) {
    if (!net::rewrite_udp_frame(d, v, net::as_rewrite(spec, t.len))) return failed(t.source, dc_.rewrite_failed);
    if (const auto tc = tos_for(t.source))
      net::set_traffic_class(d + v.l3_offset, v.ip_version == 4, *tc, spec.offload_ip_checksum);
    m->data_len = m->pkt_len = uint16_t(v.payload_offset + t.len);
  } else {
    spec.has_vlan = v.has_vlan;
    spec.vlan_tci = v.vlan_tci;
    // The call's or the operator's TOS, or the packet's DSCP (EF for voice) across the family change.
    if (!tos_for(t.source)) spec.traffic_class = traffic_class(d, v);
    const size_t hdr = net::udp_frame_header_length(spec);
    if (hdr > v.payload_offset + rte_pktmbuf_headroom(m)) return failed(t.source, dc_.rewrite_failed);
    uint8_t* f = net::build_udp_frame(d + v.payload_offset, t.len, spec);
    if (f == nullptr) return failed(t.source, dc_.rewrite_failed);
    m->data_off = uint16_t(m->data_off + (f - d));
    m->data_len = m->pkt_len = uint16_t(hdr + t.len);
  }
  if (res == net::NeighborResolve::kResolved) {
    out.queue(m, t.len, t.source);
    fb.keep[i] = true;
  } else {
    fb.keep[i] = hold(m, pe, res, hop, src.addr, t, &v, now);
  }
}

void EgressPath::send(const TxPacket* tx, uint32_t n, int64_t now) {
  if (nheld_) flush_held(now);
  Batches out(*this);
  for (uint32_t k = 0; k < n; ++k) {
    const TxPacket& t = tx[k];
    const Endpoint src = ifs_.endpoint(t.source);
    if (src.addr.is_v4() != t.dest.addr.is_v4()) [[unlikely]] {
      failed(t.source, dc_.family_mismatch);
      continue;
    }
    const uint8_t pi = ifs_.port[local_key_iface(t.source)];
    WorkerPort& p = ports_[pi];
    rte_mbuf* m;
    if (!p.dev->alloc_mbufs(reinterpret_cast<void**>(&m), 1)) [[unlikely]] {
      failed(t.source, dc_.no_mbuf);
      continue;
    }
    const IpAddr hop = p.next_hop(t.dest.addr, src.addr, ifs_.v4_mask, ifs_.config.prefix_len6);
    net::MacAddr dst_mac;
    const auto res = p.resolve(hop, now, &dst_mac);
    const net::UdpFrameSpec spec = frame_spec(p, t, dst_mac);
    const size_t hdr = net::udp_frame_header_length(spec);
    uint8_t* base = rte_pktmbuf_mtod(m, uint8_t*);
    std::memcpy(base + hdr, t.data, t.len);
    net::build_udp_frame(base + hdr, t.len, spec);
    m->data_len = m->pkt_len = uint16_t(hdr + t.len);
    request_offloads(m, net::kEthernetHeaderLength, net::kIpv4MinHeaderLength, spec.offload_ip_checksum,
                     spec.udp_checksum == net::UdpChecksumMode::kOffload);
    if (res == net::NeighborResolve::kResolved) [[likely]] {
      out.add(pi, m, t.len, t.source);
    } else if (!hold(m, pi, res, hop, src.addr, t, nullptr, now)) {
      rte_pktmbuf_free(m);
    }
  }
  out.send_all();
}

// Sends n frames on this worker's queue of p. The first `relayed` are
// packets (of len[k] payload octets) counted as sent, or, refused, charged
// to the egress flow each would have left by (from[k]); any after them are
// the host stack's answers. What the queue refused is freed and counted
// as TX drops.
void EgressPath::transmit(WorkerPort& p, rte_mbuf** m, uint32_t n, const uint16_t* len, const LocalKey* from,
                          uint32_t relayed) {
  if (n == 0) return;
  const uint16_t sent = fastpath::tx_burst_or_free(p.id, p.tx_queue, m, uint16_t(n));
  WorkerCounters& wc = w_.counters();
  const uint32_t delivered = std::min<uint32_t>(sent, relayed);
  uint64_t bytes = 0;
  for (uint32_t k = 0; k < delivered; ++k) bytes += len[k];
  bump(wc.tx_calls);
  bump(wc.tx_packets, delivered);
  bump(wc.tx_bytes, bytes);
  if (sent == n) return;
  bump(dc_.tx_drops, n - sent);
  for (uint32_t k = delivered; k < relayed; ++k) w_.send_failed(from[k]);
}

void EgressPath::transmit() {
  for (WorkerPort& p : ports_) {
    const uint32_t nfwd = p.nfwd;
    std::memcpy(p.tx + nfwd, p.answers, p.nanswers * sizeof(rte_mbuf*));
    transmit(p, p.tx, nfwd + p.nanswers, p.fwd_len, p.fwd_from, nfwd);
    p.nfwd = p.nanswers = 0;
  }
}

void EgressPath::flush_held(int64_t now) {
  Batches out(*this);
  uint32_t kept = 0;
  for (uint32_t i = 0; i < nheld_; ++i) {
    const Held h = held_[i];
    WorkerPort& p = ports_[h.port];
    if (const net::MacAddr* mac = p.lookup(h.next_hop, now)) {
      std::memcpy(rte_pktmbuf_mtod(h.m, uint8_t*), mac->bytes, 6);
      out.add(h.port, h.m, h.len, h.from);
    } else if (now >= h.deadline_ns) {
      rte_pktmbuf_free(h.m);
      unresolved(h.from);
    } else {
      held_[kept++] = h;
    }
  }
  nheld_ = kept;
  out.send_all();
}

// A frame that cannot leave (wrong family, no headroom, no mbuf): counted
// by why and charged to its egress flow.
void EgressPath::failed(LocalKey from, std::atomic<uint64_t>& why) {
  bump(why);
  w_.send_failed(from);
}

// A frame dropped because its next hop did not answer ARP / neighbour
// discovery (or no room was left to hold it): counted here and charged to
// its egress flow, as the kernel's "host unreachable" is on the socket backend.
void EgressPath::unresolved(LocalKey from) { failed(from, dc_.arp_unresolved); }

// A frame whose next hop is not resolved yet: asks for it (res said so),
// then holds the frame for the answer. False when it cannot be held (the
// table or the hold is full): counted and charged; the caller frees it.
bool EgressPath::hold(rte_mbuf* m, uint8_t port, net::NeighborResolve res, const IpAddr& hop, const IpAddr& src,
                      const TxPacket& t, const net::FrameView* v, int64_t now) {
  if (res == net::NeighborResolve::kSendRequest)
    host_.request(port, hop, src, v && v->has_vlan, v ? v->vlan_tci : uint16_t(0));
  if (res != net::NeighborResolve::kTableFull && nheld_ < kHoldSlots) {
    held_[nheld_++] = Held{m, hop, t.source, t.len, port, now + ifs_.config.arp_hold_ns};
    return true;
  }
  unresolved(t.source);
  return false;
}

}  // namespace vox::dataplane::dpdk
