// Counters of the DPDK layer around the pipeline, from one table (the
// pipeline's own are WorkerCounters). Frames dropped here as malformed are
// also added to the worker's `malformed` drops, so the usual totals show
// them, but not the unsupported ones (IPv6 extension headers, which every
// MLD report has; QinQ; multi-segment frames): link traffic the relay does
// not take, not damage. Written by the worker only. rte_*-free.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "dataplane/net/frame.h"

namespace vox::dataplane::dpdk {

// X(field, "name"): one counter, as NG `statistics` names it under `backend`.
#define VOX_DPDK_COUNTERS(X)                                                                      \
  X(frames_rx, "frames rx")                                                                       \
  X(not_ours, "not ours")       /* UDP/IP to an address that is not the relay's */                \
  X(other_mac, "other mac")     /* unicast to another station (af_packet, promiscuous ports) */   \
  X(not_handled, "not handled") /* other ethertypes, IP protocols, ICMP types */                  \
  X(arp_replies_sent, "arp replies sent")                                                         \
  X(arp_requests_sent, "arp requests sent")                                                       \
  X(arp_learned, "arp learned")                                                                   \
  X(arp_unresolved, "arp unresolved") /* frames dropped: no reply in time, or hold full */        \
  X(nd_solicitations_sent, "nd solicitations sent") /* RFC 4861 §7.2.2 */                         \
  X(nd_learned, "nd learned")                                                                     \
  X(icmp_echo_replies, "icmp echo replies")                                                       \
  X(family_mismatch, "family mismatch") /* egress interface and destination of two families */    \
  X(rewrite_failed, "rewrite failed")   /* headers could not be written (no headroom, length) */  \
  X(tx_drops, "tx drops")               /* the TX queue refused them */                           \
  X(handed_off, "handed off")           /* RX core: frames passed to another worker's ring */     \
  X(handoff_drops, "handoff drops")     /* ... that found the ring full */                        \
  X(no_mbuf, "no mbuf")                 /* a frame not built: pool empty */                       \
  X(bursts, "bursts")                   /* non-empty RX bursts */

struct alignas(64) DpdkCounters {
#define VOX_DPDK_COUNTER_FIELD(field, name) std::atomic<uint64_t> field{0};
  VOX_DPDK_COUNTERS(VOX_DPDK_COUNTER_FIELD)
#undef VOX_DPDK_COUNTER_FIELD
  std::atomic<uint64_t> frame_drops[net::kFrameStatusCount] = {};  // by FrameStatus
};

// Named counters for NG `statistics` ("arp replies sent", "frame
// bad-udp-checksum"...), in table order, then the frame drops.
std::vector<std::pair<std::string, uint64_t>> counter_list(const DpdkCounters& c);

// Per-burst processing times (ns, log2 buckets) for p50/p99 in benchmarks.
struct BurstTimes {
  static constexpr int kBuckets = 32;
  uint64_t bucket[kBuckets] = {};
  uint64_t count = 0;
  uint64_t total_ns = 0;  // all of them: the worker's busy time
  void add(uint64_t ns);
  // Upper bound (ns) of the bucket holding quantile q in [0, 1].
  uint64_t quantile_ns(double q) const;
};

}  // namespace vox::dataplane::dpdk
