// Port lookup and run-time virtual devices; see vdev.h.
#include "dataplane/dpdk/vdev.h"

#include <rte_bus_vdev.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_ring.h>
#ifdef VOX_DPDK_HAVE_NET_RING
#include <rte_eth_ring.h>
#endif

#include <vector>

#include "dataplane/dpdk/eal.h"

namespace vox::dataplane::dpdk {

Result<uint16_t, std::string> find_port(const std::string& name) {
  if (!eal_running()) return Err{std::string("EAL is not running")};
  uint16_t id = 0;
  if (rte_eth_dev_get_port_by_name(name.c_str(), &id) != 0) return Err{"no DPDK port named " + name};
  return id;
}

Result<uint16_t, std::string> attach_vdev(const std::string& devargs) {
  if (!eal_running()) return Err{std::string("EAL is not running")};
  const std::string name = devargs.substr(0, devargs.find(','));
  if (int ret = rte_dev_probe(devargs.c_str()); ret != 0) {
    return Err{"rte_dev_probe(" + devargs + "): " + rte_strerror(-ret)};
  }
  return find_port(name);
}

Result<std::pair<uint16_t, uint16_t>, std::string> create_ring_pair(const std::string& name, uint16_t queues,
                                                                      uint32_t ring_size) {
#ifdef VOX_DPDK_HAVE_NET_RING
  if (!eal_running()) return Err{std::string("EAL is not running")};
  if (name.empty() || name.size() > 12) return Err{std::string("ring pair name must be 1 to 12 characters")};
  if (queues == 0 || queues > RTE_PMD_RING_MAX_RX_RINGS) {
    return Err{"a ring pair has 1 to " + std::to_string(RTE_PMD_RING_MAX_RX_RINGS) + " queues"};
  }
  const int own_socket = static_cast<int>(rte_socket_id());  // SOCKET_ID_ANY off EAL threads
  const int socket = own_socket < 0 ? 0 : own_socket;
  std::vector<rte_ring*> a_to_b(queues), b_to_a(queues);
  for (uint16_t q = 0; q < queues; ++q) {
    // Single producer (the TX side's lcore), single consumer (the RX side's).
    for (auto [vec, dir] : {std::pair{&a_to_b, "ab"}, std::pair{&b_to_a, "ba"}}) {
      const std::string ring_name = "vox_" + name + "_" + dir + std::to_string(q);
      rte_ring* r = rte_ring_create(ring_name.c_str(), ring_size, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
      if (r == nullptr) return Err{"rte_ring_create(" + ring_name + "): " + rte_strerror(rte_errno)};
      (*vec)[q] = r;
    }
  }
  const std::string a = name + "_a";
  const std::string b = name + "_b";
  const int pa = rte_eth_from_rings(a.c_str(), b_to_a.data(), queues, a_to_b.data(), queues, static_cast<unsigned>(socket));
  if (pa < 0) return Err{"rte_eth_from_rings(" + a + "): " + rte_strerror(rte_errno)};
  const int pb = rte_eth_from_rings(b.c_str(), a_to_b.data(), queues, b_to_a.data(), queues, static_cast<unsigned>(socket));
  if (pb < 0) return Err{"rte_eth_from_rings(" + b + "): " + rte_strerror(rte_errno)};
  return std::pair{static_cast<uint16_t>(pa), static_cast<uint16_t>(pb)};
#else
  (void)name;
  (void)queues;
  (void)ring_size;
  return Err{std::string("built without librte_net_ring")};
#endif
}

}  // namespace vox::dataplane::dpdk
