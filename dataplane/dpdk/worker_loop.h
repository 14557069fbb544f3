// The DPDK worker: one lcore polling its RX queues (or the ring its RX core
// fills) and running the shared burst loop on the frames, l3fwd-style:
//
//   rx_burst -> classify (dpdk_io.cc: UDP to the pipeline; ARP, ICMP echo,
//   neighbour discovery to the host stack, host_stack.cc) -> process_burst
//   (flow lookup, latching, egress) -> rewrite headers in the mbuf in place,
//   next-hop MAC (egress.cc) -> tx_burst
//
// No allocation, lock or syscall per packet; counters are relaxed stores
// read by the control plane (counters.h). rte_*-free header: the bench and
// the engine drive it through this API.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/endpoint.h"
#include "dataplane/dpdk/counters.h"
#include "dataplane/dpdk/limits.h"
#include "dataplane/net/frame.h"
#include "dataplane/port_tos.h"
#include "dataplane/worker.h"

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
  // --tos: the TOS / traffic class octet of every packet sent; 0: relayed
  // packets keep the one they arrived with, built ones leave unmarked.
  uint8_t tos = 0;
  // Calls' own TOS (NG "TOS") by the local port a packet leaves from,
  // ahead of `tos`; owned by the engine (null: none).
  const PortTos* port_tos = nullptr;
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

class DpdkIo;

// One worker: the burst loop (burst_loop.h) over the DPDK I/O policy
// (dpdk_io.h), on its own lcore.
class WorkerLoop {
 public:
  WorkerLoop(WorkerState& state, WorkerLoopConfig config);
  ~WorkerLoop();
  WorkerLoop(const WorkerLoop&) = delete;
  WorkerLoop& operator=(const WorkerLoop&) = delete;

  // Tells `other` about every next hop this worker learns (ARP replies and
  // neighbour advertisements arrive on one queue; every worker transmits).
  void share_arp_with(WorkerLoop& other);

  // One iteration: commands, a burst from each RX queue through the
  // pipeline and out, held frames. Returns the frames received.
  uint32_t poll_once();
  // Polls until stop is set, then frees every mbuf it still holds.
  void run(const std::atomic<bool>& stop);

  WorkerState& state() { return state_; }
  const DpdkCounters& counters() const { return *counters_; }
  const BurstTimes& burst_times() const { return times_; }

 private:
  struct Loop;
  WorkerState& state_;
  WorkerLoopConfig config_;
  std::unique_ptr<DpdkCounters> counters_;
  BurstTimes times_;
  std::unique_ptr<Loop> loop_;
};

}  // namespace vox::dataplane::dpdk
