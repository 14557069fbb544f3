// Sizes the DPDK engine is built for, rte_*-free so that configuration
// checks (control/config.cc) can name them.
#pragma once

#include <cstddef>

namespace vox::dataplane::dpdk {

// Ethernet ports one engine drives at most: its workers keep arrays per
// port, and --dpdk-port is checked against it.
inline constexpr size_t kMaxPorts = 8;

}  // namespace vox::dataplane::dpdk
