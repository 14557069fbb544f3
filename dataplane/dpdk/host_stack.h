// The DPDK worker as a host on its links: it answers ARP, neighbour
// solicitations and ping for the relay's addresses in place (the request's
// frame becomes the reply), learns next hops from ARP replies and neighbour
// advertisements, asks for the ones it needs, and tells the other workers
// what it learned (replies arrive on whichever queue the NIC chose). This
// is the DPDK backend's link-layer slow path; it runs inline on the worker.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "base/spsc_ring.h"
#include "dataplane/dpdk/counters.h"
#include "dataplane/dpdk/worker_port.h"

namespace vox::dataplane::dpdk {

class HostStack {
 public:
  HostStack(std::vector<WorkerPort>& ports, const Interfaces& interfaces, DpdkCounters& counters)
      : ports_(ports), ifs_(interfaces), dc_(counters) {}

  // A frame that is not UDP to the relay (parse status kNotIp or kNotUdp)
  // from ports_[port]: answered (true: the frame is queued on the port as
  // the answer and must not be freed), learned from, or counted as not
  // handled.
  bool take(rte_mbuf* m, uint8_t* frame, const net::FrameView& v, net::FrameStatus st, uint8_t port,
            int64_t now);
  // Asks for hop's MAC on ports_[port]: ARP request or neighbour solicitation.
  void request(uint8_t port, const IpAddr& hop, const IpAddr& src, bool vlan, uint16_t tci);
  // Learns what the other workers learned since the last call.
  void take_news(int64_t now);
  // Tells `other` about every next hop this worker learns.
  void share_with(HostStack& other);

 private:
  bool take_arp(rte_mbuf* m, uint8_t* frame, uint8_t port, int64_t now);
  bool take_icmp(rte_mbuf* m, uint8_t* frame, const net::FrameView& v, uint8_t port, int64_t now);
  void learned(const IpAddr& ip, const net::MacAddr& mac, uint8_t port);
  void request_arp(WorkerPort& p, uint32_t hop, uint32_t src_ip, bool vlan, uint16_t tci);
  void request_neighbor(WorkerPort& p, const IpAddr& hop, const IpAddr& src, bool vlan, uint16_t tci);

  std::vector<WorkerPort>& ports_;
  const Interfaces& ifs_;
  DpdkCounters& dc_;
  // Neighbour news: rings this worker reads (one per sharing peer) and writes.
  std::vector<std::unique_ptr<SpscRing<NeighborNews>>> news_in_;
  std::vector<SpscRing<NeighborNews>*> news_out_;
};

}  // namespace vox::dataplane::dpdk
