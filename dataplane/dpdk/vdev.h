// Finding ports by name and creating virtual devices at run time: the vdevs
// the tests and the load harness run the engine on (net_ring, net_null,
// net_af_packet, net_tap) without a NIC.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "base/result.h"

namespace vox::dataplane::dpdk {

// The port id of an ethdev by name ("net_ring0", "net_null0").
Result<uint16_t, std::string> find_port(const std::string& name);

// Hot-plugs a vdev, e.g. "net_null1" or "net_af_packet0,iface=lo", and returns
// its port id; the same as --vdev=... on the EAL command line.
Result<uint16_t, std::string> attach_vdev(const std::string& devargs);

// Two net_ring ports wired back to back in this process ("net_ring_<name>_a"
// and "..._b"): what A transmits on queue q, B receives on queue q, and the
// other way round. (A plain --vdev=net_ring0 is instead its own loopback: each
// queue's TX ring is its RX ring. The nodeaction=...:ATTACH devarg cannot
// cross-connect in one process: it names the second port like the first.)
// name: at most 12 characters. Each ring holds ring_size - 1 packets.
Result<std::pair<uint16_t, uint16_t>, std::string> create_ring_pair(const std::string& name, uint16_t queues,
                                                                      uint32_t ring_size = 1024);

}  // namespace vox::dataplane::dpdk
