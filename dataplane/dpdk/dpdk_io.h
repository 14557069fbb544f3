// The DPDK I/O policy of the burst loop (burst_loop.h), l3fwd-style: a
// burst from each RX queue the worker polls (or from the ring its RX core
// fills), each frame classified in place: UDP to the relay into the
// pipeline's burst; another worker's UDP to that worker's ring (the RX
// core of a port without rte_flow); ARP, ICMP and neighbour discovery to
// the host stack; the rest counted and freed. What the pipeline forwards
// leaves through the egress path. No allocation, lock or system call per
// packet. Internal to dataplane/dpdk/.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "dataplane/burst_loop.h"
#include "dataplane/dpdk/egress.h"
#include "dataplane/dpdk/host_stack.h"

namespace vox::dataplane::dpdk {

class DpdkIo {
 public:
  static constexpr uint32_t kMaxBurst = kBurstSize;
  static constexpr bool kBlocks = false;  // it polls

  DpdkIo(WorkerState& state, const WorkerLoopConfig& config, DpdkCounters& counters, BurstTimes& times);
  ~DpdkIo();
  DpdkIo(const DpdkIo&) = delete;
  DpdkIo& operator=(const DpdkIo&) = delete;

  HostStack& host() { return host_; }

  // The burst loop's policy.
  void port_changed(const WorkerState::Applied&) {}  // every port is the NIC's
  void wait(bool) {}
  bool next(RxBurst& b, IterationClock& clock);
  void send(const TxPacket* tx, uint32_t n, int64_t now) { egress_.send(tx, n, now); }
  void transmit(const RxBurst&, const TxPacket* tx, uint32_t n, int64_t now) {
    egress_.forward(fb_, tx, n, now);
    egress_.transmit();
  }
  void release(const RxBurst& b);
  void end_iteration(uint32_t received, IterationClock& clock);
  void shutdown();

 private:
  uint32_t classify(uint32_t n, int port, int64_t now);  // fills fb_ and pkts; returns how many
  // Frame i into the pipeline's burst at pkts[npkts] (true), or to its
  // owner's ring (false).
  template <bool kHandOff>  // kHandOff: this worker is the RX core of ports without steering
  bool take_udp(uint32_t i, uint8_t* frame, uint8_t port, int iface, uint32_t npkts);
  int64_t awake(IterationClock& clock);                  // now, and the other workers' news once

  WorkerState& w_;
  const WorkerLoopConfig& config_;
  DpdkCounters& dc_;
  BurstTimes& times_;
  std::vector<WorkerPort> ports_;
  Interfaces ifs_;
  HostStack host_;
  EgressPath egress_;
  uint8_t port_index_[256] = {};  // port id -> index into ports_ (frames from the inbox)
  std::vector<std::pair<uint8_t, uint16_t>> sources_;  // (port, RX queue) polled in turn
  size_t next_source_ = 0;
  bool awake_ = false;      // this iteration read the clock and the news
  uint32_t empty_polls_ = 0;
  uint64_t burst_t0_ = 0;   // TSC at the burst's start (time_bursts)
  FrameBurst fb_;
};

}  // namespace vox::dataplane::dpdk
