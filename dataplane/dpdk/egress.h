// The DPDK worker's way out: what the pipeline forwards is rewritten in
// its own frame for the egress interface's port (the IPv4 fast path
// patches headers in place; IPv6, SRTP-resized payloads and family changes
// take the general path), its next hop resolved (or the frame held until
// ARP / neighbour discovery answers), and every port's batch sent once per
// burst. Packets the worker built itself (transcoded, slow-path replies)
// are framed in fresh mbufs. A frame that never leaves is charged to its
// egress flow as send-failed, as the kernel's refusal is on the socket
// backend.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "dataplane/dpdk/counters.h"
#include "dataplane/dpdk/host_stack.h"
#include "dataplane/dpdk/worker_port.h"
#include "dataplane/net/rewrite.h"

namespace vox::dataplane::dpdk {

// One RX burst of frames and what the pipeline sees of them.
struct FrameBurst {
  rte_mbuf* m[kBurstSize];
  net::FrameView views[kBurstSize];
  RxPacket pkts[kBurstSize];
  uint8_t pkt_frame[kBurstSize];  // RxPacket index -> frame index
  bool keep[kBurstSize];          // sent, held or handed off: not freed with the burst
  uint32_t n = 0;
};

class EgressPath {
 public:
  EgressPath(std::vector<WorkerPort>& ports, const Interfaces& interfaces, HostStack& host, WorkerState& w,
             DpdkCounters& counters);
  ~EgressPath();

  // The burst's forwarded packets, into their ports' batches (or held).
  void forward(FrameBurst& fb, const TxPacket* tx, uint32_t n, int64_t now);
  // Packets in worker memory, framed in fresh mbufs and sent in their own
  // bursts (or held).
  void send(const TxPacket* tx, uint32_t n, int64_t now);
  // One TX burst per port: the forwarded frames, then the host stack's
  // answers (so that a short TX takes the answers).
  void transmit();
  // Sends held frames whose next hop resolved (first: a burst's new frames
  // never overtake them); drops those that expired.
  void flush_held(int64_t now);
  bool holding() const { return nheld_ != 0; }
  void free_held();

 private:
  struct Held;
  void forward_other(FrameBurst& fb, uint32_t frame, const TxPacket& t, int64_t now);
  // Headers toward t.dest from the interface t leaves by, on port `out`.
  net::UdpFrameSpec frame_spec(const WorkerPort& out, const TxPacket& t, const net::MacAddr& dst_mac) const;
  // The TOS octet of a packet leaving `source`: its call's (NG "TOS"),
  // else --tos; nullopt: the packet keeps its own.
  std::optional<uint8_t> tos_for(LocalKey source) const;
  // v: the frame's own view (its VLAN tag asks for the hop), null for one
  // the worker built.
  bool hold(rte_mbuf* m, uint8_t port, net::NeighborResolve res, const IpAddr& hop, const IpAddr& src,
            const TxPacket& t, const net::FrameView* v, int64_t now);
  void unresolved(LocalKey from);
  void failed(LocalKey from, std::atomic<uint64_t>& why);
  void transmit(WorkerPort& p, rte_mbuf** m, uint32_t n, const uint16_t* len, const LocalKey* from,
                uint32_t relayed);
  // A batch of frames for one port, sent when full and at the end.
  struct Batches;

  std::vector<WorkerPort>& ports_;
  const Interfaces& ifs_;
  HostStack& host_;
  WorkerState& w_;
  DpdkCounters& dc_;
  std::unique_ptr<Held[]> held_;
  uint32_t nheld_ = 0;
};

}  // namespace vox::dataplane::dpdk
