// Counters: written by their worker only (relaxed stores, a plain add on
// x86), read by the control plane with relaxed loads, through snapshots:
// plain copies the control plane reads instead of the dataplane's cache
// lines. Names come from one table each (VPP's error strings): the
// X-macro below declares the worker's counters, their snapshot and the
// names `statistics` shows.
#pragma once

#include <atomic>
#include <cstdint>

#include "base/endpoint.h"
#include "dataplane/flow.h"

namespace vox::dataplane {

// Relaxed add by the only writer: compiles to a plain add, readable from
// other threads without tearing.
inline void bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

// X(field, "name"): one worker counter.
#define VOX_WORKER_COUNTERS(X)                                                    \
  X(rx_packets, "rx packets")                                                     \
  X(rx_bytes, "rx bytes")                                                         \
  X(tx_packets, "tx packets")                                                     \
  X(tx_bytes, "tx bytes")                                                         \
  X(no_flow, "no flow")     /* arrived on a port with no flow (after a delete) */ \
  X(rx_calls, "rx calls")   /* batched receive calls (recvmmsg, rx_burst) */      \
  X(tx_calls, "tx calls")                                                         \
  X(wakeups, "wakeups")                                                           \
  X(commands, "commands")   /* flow commands applied */                           \
  X(latches, "latches")     /* sources learned */                               \
  X(slow_path_in, "slow path in")    /* STUN/DTLS handed to the consumer */      \
  X(slow_path_out, "slow path out")  /* its replies sent */                     \
  X(rtcp_sent, "rtcp sent")          /* the relay's own reports (rtcp_report.h) */ \
  X(rtcp_terminated, "rtcp terminated")  /* not forwarded: the relay writes that party's */

struct alignas(64) WorkerCounters {
#define VOX_COUNTER_FIELD(field, name) std::atomic<uint64_t> field{0};
  VOX_WORKER_COUNTERS(VOX_COUNTER_FIELD)
#undef VOX_COUNTER_FIELD
  std::atomic<uint64_t> drops[kDropReasonCount] = {};  // by DropReason
};

// A worker's counters at one moment.
struct WorkerSnapshot {
#define VOX_SNAPSHOT_FIELD(field, name) uint64_t field = 0;
  VOX_WORKER_COUNTERS(VOX_SNAPSHOT_FIELD)
#undef VOX_SNAPSHOT_FIELD
  uint64_t drops[kDropReasonCount] = {};

  // f(name, value) for every counter but the drops, in table order.
  template <class F>
  void for_each(F&& f) const {
#define VOX_SNAPSHOT_VISIT(field, name) f(name, field);
    VOX_WORKER_COUNTERS(VOX_SNAPSHOT_VISIT)
#undef VOX_SNAPSHOT_VISIT
  }
};

inline WorkerSnapshot snapshot(const WorkerCounters& c) {
  WorkerSnapshot s;
#define VOX_SNAPSHOT_LOAD(field, name) s.field = c.field.load(std::memory_order_relaxed);
  VOX_WORKER_COUNTERS(VOX_SNAPSHOT_LOAD)
#undef VOX_SNAPSHOT_LOAD
  for (size_t r = 0; r < kDropReasonCount; ++r) s.drops[r] = c.drops[r].load(std::memory_order_relaxed);
  return s;
}

// One flow's counters, the source it latched (port 0: none yet) and its
// call quality figures.
struct FlowSnapshot {
  uint64_t packets = 0, bytes = 0;
  uint64_t drops[kDropReasonCount] = {};
  Endpoint latched;
  ReceptionSnapshot reception;  // the RTP it received, measured
  ReportSnapshot reported;      // the party's RTCP on what it receives

  uint64_t errors() const {
    uint64_t n = 0;
    for (uint64_t d : drops) n += d;
    return n;
  }
};

}  // namespace vox::dataplane
