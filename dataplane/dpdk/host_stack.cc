// HostStack: ARP (RFC 826), ICMP echo, and neighbour discovery (RFC 4861)
// on the DPDK worker.
#include "dataplane/dpdk/host_stack.h"

#include <rte_mbuf.h>

#include "dataplane/dpdk/port_fastpath.h"
#include "dataplane/net/arp.h"
#include "dataplane/net/icmp.h"

namespace vox::dataplane::dpdk {

namespace {

constexpr uint32_t kNewsSlots = 256;  // per sharing pair
constexpr uint8_t kIpProtoIcmp = 1;
constexpr uint8_t kIpProtoIcmpv6 = 58;

}  // namespace

bool HostStack::take(rte_mbuf* m, uint8_t* frame, const net::FrameView& v, net::FrameStatus st,
                     uint8_t port, int64_t now) {
  if (st == net::FrameStatus::kNotIp && v.ethertype == net::kEtherTypeArp) return take_arp(m, frame, port, now);
  if (st == net::FrameStatus::kNotUdp && (v.ip_protocol == kIpProtoIcmp || v.ip_protocol == kIpProtoIcmpv6))
    return take_icmp(m, frame, v, port, now);
  bump(dc_.not_handled);
  return false;
}

bool HostStack::take_arp(rte_mbuf* m, uint8_t* frame, uint8_t port, int64_t now) {
  WorkerPort& in = ports_[port];
  auto arp = net::parse_arp(frame, m->data_len);
  if (!arp.ok()) {
    bump(dc_.not_handled);
    return false;
  }
  const net::ArpView& a = *arp;
  const bool for_us = in.owns_v4(a.target_ip);
  // RFC 826: update a known sender; learn it when the packet is for us.
  if (a.sender_ip != 0 && (for_us || in.arp.lookup(a.sender_ip, now))) {
    if (in.arp.learn(a.sender_ip, a.sender_mac, now)) {
      bump(dc_.arp_learned);
      learned(IpAddr::from_v4(a.sender_ip), a.sender_mac, port);
    }
  }
  if (for_us && a.operation == net::kArpRequest && net::build_arp_reply(frame, m->data_len, in.mac)) {
    in.answer(m);
    bump(dc_.arp_replies_sent);
    return true;
  }
  if (!for_us) bump(dc_.not_handled);
  return false;
}

bool HostStack::take_icmp(rte_mbuf* m, uint8_t* frame, const net::FrameView& v, uint8_t port, int64_t now) {
  WorkerPort& in = ports_[port];
  const auto& addresses = ifs_.config.addresses;
  Result<size_t, net::IcmpError> r = Err{net::IcmpError::kNotHandled};
  if (v.ip_version == 4) {
    r = net::answer_icmpv4_echo(frame, v, addresses);
  } else {
    r = net::answer_icmpv6_echo(frame, v, addresses);
    if (!r.ok() && r.error() == net::IcmpError::kNotHandled)
      r = net::answer_neighbor_solicitation(frame, m->data_len + rte_pktmbuf_tailroom(m), v, in.mac, addresses);
  }
  if (r.ok()) {
    m->data_len = m->pkt_len = uint16_t(*r);
    in.answer(m);
    bump(dc_.icmp_echo_replies);
    return true;
  }
  // An advertisement answering a solicitation: this worker's (it tracks
  // the target) or another's (solicited, to one of our addresses: the
  // answer reaches whichever worker polls the queue). RFC 4861 §7.2.5:
  // others, for an address nobody is resolving, are discarded.
  if (auto na = net::parse_neighbor_advertisement(frame, v);
      na.ok() && (in.nd.tracks(na->target) || (na->solicited && ifs_.of(v.dst_ip) >= 0))) {
    if (in.nd.learn(na->target, na->mac, now)) {
      bump(dc_.nd_learned);
      learned(na->target, na->mac, port);
    }
    return false;
  }
  bump(dc_.not_handled);
  return false;
}

void HostStack::learned(const IpAddr& ip, const net::MacAddr& mac, uint8_t port) {
  for (auto* out : news_out_) out->push(NeighborNews{ip, mac, port});
}

void HostStack::take_news(int64_t now) {
  for (auto& in : news_in_) {
    NeighborNews news;
    while (in->pop(news)) ports_[news.port].learn(news.ip, news.mac, now);
  }
}

void HostStack::share_with(HostStack& other) {
  other.news_in_.push_back(std::make_unique<SpscRing<NeighborNews>>(kNewsSlots));
  news_out_.push_back(other.news_in_.back().get());
}

void HostStack::request(uint8_t port, const IpAddr& hop, const IpAddr& src, bool vlan, uint16_t tci) {
  WorkerPort& p = ports_[port];
  if (hop.is_v4()) request_arp(p, hop.v4(), src.v4(), vlan, tci);
  else request_neighbor(p, hop, src, vlan, tci);
}

void HostStack::request_arp(WorkerPort& p, uint32_t hop, uint32_t src_ip, bool vlan, uint16_t tci) {
  rte_mbuf* req;
  if (!p.dev->alloc_mbufs(reinterpret_cast<void**>(&req), 1)) {
    bump(dc_.no_mbuf);
    return;
  }
  const size_t len = net::build_arp_request(rte_pktmbuf_mtod(req, uint8_t*), rte_pktmbuf_tailroom(req), p.mac,
                                            src_ip, hop, vlan, tci);
  req->data_len = req->pkt_len = uint16_t(len);
  if (fastpath::tx_burst_or_free(p.id, p.tx_queue, &req, 1) == 1) bump(dc_.arp_requests_sent);
}

void HostStack::request_neighbor(WorkerPort& p, const IpAddr& hop, const IpAddr& src, bool vlan, uint16_t tci) {
  rte_mbuf* req;
  if (!p.dev->alloc_mbufs(reinterpret_cast<void**>(&req), 1)) {
    bump(dc_.no_mbuf);
    return;
  }
  const size_t len = net::build_neighbor_solicitation(rte_pktmbuf_mtod(req, uint8_t*), rte_pktmbuf_tailroom(req),
                                                      p.mac, src, hop, vlan, tci);
  if (len == 0) {
    rte_pktmbuf_free(req);
    return;
  }
  req->data_len = req->pkt_len = uint16_t(len);
  if (fastpath::tx_burst_or_free(p.id, p.tx_queue, &req, 1) == 1) bump(dc_.nd_solicitations_sent);
}

}  // namespace vox::dataplane::dpdk
