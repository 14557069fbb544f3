// The DPDK worker: one lcore polling one RX queue (or the ring its RX core
// fills) and running the shared pipeline on the frames, l3fwd-style:
//
//   rx_burst -> parse Ethernet/IP/UDP -> {ARP, ICMP echo, NS: answer; else
//   drop and count} -> process_burst (flow lookup, latching, egress) ->
//   rewrite headers in the mbuf in place -> next-hop MAC (ARP / neighbour
//   cache) -> tx_burst
//
// The worker is also a host on the wire: it answers ARP, neighbour
// solicitations and ping for the relay's addresses and resolves next hops
// itself (ARP for IPv4, neighbour discovery for IPv6). No allocation, lock or
// syscall per packet; counters are relaxed stores read by the control plane.
// rte_*-free header: the bench and the engine drive it through this API.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dataplane/dataplane.h"
#include "dataplane/dpdk/limits.h"
#include "base/endpoint.h"
#include "dataplane/net/frame.h"
#include "dataplane/net/neighbor_cache.h"
#include "dataplane/worker.h"

struct rte_mbuf;

namespace vox::dataplane {
struct TxPacket;
}

namespace vox::dataplane::dpdk {

class DpdkPort;

// The relay as an IPv4/IPv6 host on its DPDK ports.
struct HostConfig {
  // Interface index (NG "direction", LocalKey high half) -> local address,
  // and the port (index into WorkerLoopConfig::ports) the address lives on;
  // interfaces past the end of interface_port are on ports[0].
  std::vector<IpAddr> addresses;
  std::vector<uint8_t> interface_port;
  // IPv4 destinations outside an address's /prefix_len (IPv6: /prefix_len6)
  // go to its port's gateway of that family; without one every destination
  // is on link.
  uint8_t prefix_len = 24;
  uint8_t prefix_len6 = 64;
  uint32_t arp_entries = 4096;
  int64_t arp_ttl_ns = 300'000'000'000;      // like a NIC's neighbour table: 5 min
  int64_t arp_retry_ns = 1'000'000'000;      // one request per second per next hop
  int64_t arp_hold_ns = 1'000'000'000;       // packets wait this long for a reply
};

// Counters of the DPDK layer around the pipeline (the pipeline's own are in
// WorkerCounters; frames dropped here as malformed are also added to the
// worker's `malformed` drops, so the usual totals show them, but not the
// unsupported ones: IPv6 extension headers (every MLD report has one), QinQ,
// multi-segment frames are link traffic the relay does not take, not
// damage). Written by the worker only.
struct alignas(64) DpdkCounters {
  std::atomic<uint64_t> frames_rx{0};
  std::atomic<uint64_t> frame_drops[net::kFrameStatusCount] = {};  // by FrameStatus
  std::atomic<uint64_t> not_ours{0};        // UDP/IP to an address that is not the relay's
  std::atomic<uint64_t> other_mac{0};       // unicast to another station's MAC (af_packet, promiscuous ports)
  std::atomic<uint64_t> not_handled{0};     // other ethertypes / IP protocols / ICMP types
  std::atomic<uint64_t> arp_replies_sent{0};
  std::atomic<uint64_t> arp_requests_sent{0};
  std::atomic<uint64_t> arp_learned{0};
  std::atomic<uint64_t> arp_unresolved{0};  // frames dropped: no ARP reply in time / hold full
  std::atomic<uint64_t> icmp_echo_replies{0};
  std::atomic<uint64_t> ttl_or_family{0};   // egress interface and destination of different families
  std::atomic<uint64_t> nd_solicitations_sent{0};  // IPv6 next hops asked for (RFC 4861 §7.2.2)
  std::atomic<uint64_t> nd_learned{0};      // ... and learned from advertisements
  std::atomic<uint64_t> tx_drops{0};        // the TX queue refused them
  std::atomic<uint64_t> handed_off{0};      // RX core: frames passed to another worker's ring
  std::atomic<uint64_t> handoff_drops{0};   // ... that found the ring full
  std::atomic<uint64_t> no_mbuf{0};         // ARP request not sent: pool empty
  std::atomic<uint64_t> bursts{0};          // non-empty RX bursts processed
};

// Named counters for NG `statistics` ("arp replies sent", "frame bad-udp-checksum"...).
std::vector<std::pair<std::string, uint64_t>> counter_list(const DpdkCounters& c);

// Per-burst processing times (ns, log2 buckets) for p50/p99 in benchmarks.
struct BurstTimes {
  static constexpr int kBuckets = 32;
  uint64_t bucket[kBuckets] = {};
  uint64_t count = 0;
  uint64_t total_ns = 0;  // all of them: the worker's busy time
  // Upper bound (ns) of the bucket holding quantile q in [0, 1].
  uint64_t quantile_ns(double q) const;
};

// One of the worker's ports: the queues it owns there and the port's next
// hop for off-link destinations.
struct PortQueues {
  DpdkPort* port = nullptr;
  uint16_t rx_queue = 0;  // polled when `inbox` is null
  uint16_t tx_queue = 0;
  IpAddr gateway;         // IPv4, or unspecified: everything on link
  IpAddr gateway6;        // IPv6, or unspecified: every IPv6 destination on link
  // RX queues polled, from rx_queue on: more than one for an RX core whose
  // port spreads frames over queues by itself (RSS, af_packet's fanout).
  uint16_t rx_queue_count = 1;
};

struct WorkerLoopConfig {
  // Every port the relay drives (a worker transmits on each; polls each
  // unless `inbox` is set). At most kMaxPorts.
  std::vector<PortQueues> ports;
  // Frames for this worker come from an RX core through this rte_ring
  // (struct rte_ring*), not from the ports: the hand-off for ports without
  // rte_flow steering.
  void* inbox = nullptr;
  // RX core only: per worker rings to hand other workers' frames to
  // (index = worker; its own slot null), and how ports map to workers.
  std::vector<void*> outboxes;
  int workers = 1;
  HostConfig host;
  // After this many empty polls in a row the loop sleeps idle_sleep_us
  // (0: spin like testpmd). Costs at most that much latency after silence.
  uint32_t idle_polls = 1024;
  uint32_t idle_sleep_us = 0;
  bool time_bursts = false;  // fill BurstTimes (two TSC reads per burst)
};

// Where a next hop learned by one worker (ARP reply, neighbour
// advertisement) reaches the others.
struct NeighborNews {
  IpAddr ip;  // IPv4 (v4-mapped) or IPv6
  net::MacAddr mac;
  uint8_t port;  // index into WorkerLoopConfig::ports
};

// The rte_ring an RX core hands one worker's frames through (single
// producer, single consumer; holds size - 1 frames), and its release (frees
// frames still queued). For the engine and for tests, which see no rte_*.
void* create_handoff_ring(const std::string& name, uint32_t size);
void free_handoff_ring(void* ring);

class WorkerLoop {
 public:
  WorkerLoop(WorkerState& state, WorkerLoopConfig config);
  ~WorkerLoop();
  WorkerLoop(const WorkerLoop&) = delete;
  WorkerLoop& operator=(const WorkerLoop&) = delete;

  // Tells `other` about every next hop this worker learns (ARP replies and
  // neighbour advertisements arrive on one queue; every worker transmits).
  void share_arp_with(WorkerLoop& other);

  // One iteration: commands, one RX burst, pipeline, TX, held packets.
  // Returns the frames received.
  uint32_t poll_once();
  // Polls until stop is set, then frees every mbuf it still holds.
  void run(const std::atomic<bool>& stop);

  WorkerState& state() { return state_; }
  const DpdkCounters& counters() const { return *counters_; }
  const BurstTimes& burst_times() const { return times_; }

 private:
  struct Impl;
  uint32_t process(uint32_t n, int port, int64_t now_ns);  // one RX burst
  void flush_held(int64_t now_ns);  // sends what resolved, drops what expired
  void send_generated(GeneratedPackets& g, int64_t now_ns);  // transcoded packets
  void request_arp(int port, uint32_t hop, uint32_t src_ip, bool vlan, uint16_t tci);
  void request_neighbor(int port, const IpAddr& hop, const IpAddr& src, bool vlan, uint16_t tci);
  // A frame the fast path does not rewrite: IPv6 on either side.
  void forward_other(uint32_t frame, const TxPacket& t, int64_t now_ns);
  void unresolved(LocalKey from);  // a frame whose next hop never resolved
  bool hold(rte_mbuf* m, uint8_t port, net::NeighborResolve res, const IpAddr& hop, const IpAddr& src,
            LocalKey from, bool vlan, uint16_t tci, int64_t now_ns);
  WorkerState& state_;
  WorkerLoopConfig config_;
  std::unique_ptr<DpdkCounters> counters_;
  BurstTimes times_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vox::dataplane::dpdk
