// Which worker owns a UDP port: the port pair (p, p + 1) of an RTP stream
// and its RTCP belongs to worker (p / 2) % workers. The control plane
// hands a call only ports of its worker, so the port alone names the core
// that owns every packet to it (VPP's NAT splits its port range the same
// way). Used by the port pools, the DPDK receive core's hand-off and the
// rte_flow rules, which must all agree.
#pragma once

#include <bit>
#include <cstdint>

namespace vox::dataplane {

constexpr int worker_of_port(uint16_t port, int workers) {
  return int((port / 2u) % unsigned(workers));
}

// For a power-of-two worker count the rule is a masked match on the port:
// worker w owns the ports p with (p & steering_mask) == steering_value(w).
// (NIC flow rules match under a mask; they cannot take a modulo.)
constexpr bool steerable_by_mask(int workers) { return workers > 0 && std::has_single_bit(unsigned(workers)); }
constexpr uint16_t steering_mask(int workers) { return uint16_t((workers - 1) << 1); }
constexpr uint16_t steering_value(int worker) { return uint16_t(worker << 1); }

static_assert(worker_of_port(30000, 4) == 0 && worker_of_port(30003, 4) == 1 && worker_of_port(30006, 4) == 3);
static_assert((30006 & steering_mask(4)) == steering_value(worker_of_port(30006, 4)));
static_assert((30007 & steering_mask(4)) == steering_value(worker_of_port(30007, 4)));

}  // namespace vox::dataplane
