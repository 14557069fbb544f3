// One DPDK Ethernet port (a NIC or a vdev: net_ring, net_null, net_af_packet,
// net_tap): queues, descriptors, its mbuf pools, link, offloads, statistics.
// rte_*-free on purpose (pimpl); the burst wrappers are inline for
// dataplane/dpdk/ code through port_fastpath.h.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace vox::dataplane::dpdk {

struct PortConfig {
  uint16_t rx_queues = 1;
  uint16_t tx_queues = 1;
  // Asked for; the driver may round them (PortInfo has what was applied).
  uint16_t rx_descriptors = 1024;
  uint16_t tx_descriptors = 1024;
  uint16_t burst_size = 32;
  // Mbufs per NUMA-socket pool; 0 sizes it from the queues (see port.cc).
  uint32_t mbufs_per_pool = 0;
  uint16_t mbuf_cache_size = 256;       // per lcore; clamped to what the pool allows
  uint16_t mbuf_data_room = 2048 + 128;  // RTE_MBUF_DEFAULT_BUF_SIZE
  // Turn on IPv4 + UDP checksum offloads where the port has them.
  bool tx_checksum_offload = true;
  bool rx_checksum_offload = true;
  bool promiscuous = false;
  // NUMA socket of the lcore that polls each RX queue (its pool lives
  // there); empty or shorter than rx_queues: the port's own socket.
  std::vector<int> rx_queue_sockets;
};

struct ChecksumOffloads {
  bool tx_ipv4 = false;
  bool tx_udp = false;
  bool rx_ipv4 = false;
  bool rx_udp = false;
};

using MacAddress = std::array<uint8_t, 6>;

struct PortInfo {
  uint16_t port_id = 0;
  std::string name;    // e.g. "net_ring0"
  std::string driver;  // e.g. "net_ring"
  int socket = 0;
  MacAddress mac{};
  uint16_t max_rx_queues = 0;
  uint16_t max_tx_queues = 0;
  uint16_t rx_descriptors = 0;  // applied
  uint16_t tx_descriptors = 0;
  bool rss = false;  // RX spread over queues by the port (multi-queue only)
  ChecksumOffloads supported;
  ChecksumOffloads enabled;
};

struct LinkStatus {
  bool up = false;
  uint32_t speed_mbps = 0;
  bool full_duplex = false;
};

// rte_eth_stats, plainly. Virtual devices fill only some fields (net_ring:
// packets and tx errors; no bytes).
struct PortStats {
  uint64_t rx_packets = 0;
  uint64_t tx_packets = 0;
  uint64_t rx_bytes = 0;
  uint64_t tx_bytes = 0;
  uint64_t rx_missed = 0;  // dropped by the port: RX queues full
  uint64_t rx_errors = 0;
  uint64_t tx_errors = 0;
  uint64_t rx_no_mbuf = 0;  // RX allocation failures: pool exhausted
};

struct PoolUsage {
  int socket = 0;
  uint32_t capacity = 0;
  uint32_t available = 0;  // including per-lcore caches
  uint32_t in_use = 0;
};

class DpdkPort {
 public:
  // Configures, sets up queues and starts the port. EAL must be running.
  static Result<DpdkPort, std::string> open(uint16_t port_id, const PortConfig& config);

  DpdkPort(DpdkPort&&) noexcept;
  DpdkPort& operator=(DpdkPort&&) noexcept;
  DpdkPort(const DpdkPort&) = delete;
  DpdkPort& operator=(const DpdkPort&) = delete;
  // Drains the RX queues, stops the port (it stays configurable: a vdev is
  // not closed, so it can be opened again) and frees its pools. A pool with
  // mbufs still out (held by the caller, or queued in another port's ring)
  // is left allocated rather than freed under them.
  ~DpdkPort();

  uint16_t id() const { return port_id_; }
  const PortInfo& info() const;
  LinkStatus link() const;  // does not wait
  Result<PortStats, std::string> stats() const;
  void reset_stats();
  std::vector<PoolUsage> pool_usage() const;

  // rte_eth_rx_burst / rte_eth_tx_burst over arrays of rte_mbuf*. tx_burst
  // returns how many the port took; the rest still belong to the caller.
  uint16_t rx_burst(uint16_t queue, void** mbufs, uint16_t n);
  uint16_t tx_burst(uint16_t queue, void** mbufs, uint16_t n);
  // tx_burst, then frees what the port did not take; returns how many went.
  uint16_t tx_burst_or_free(uint16_t queue, void** mbufs, uint16_t n);

  // All n mbufs from the pool of `socket` (-1: the port's), or none: false
  // when the pool cannot supply n (exhaustion is a value, never a crash).
  [[nodiscard]] bool alloc_mbufs(void** mbufs, uint16_t n, int socket = -1);

 private:
  struct Impl;
  explicit DpdkPort(std::unique_ptr<Impl> impl);
  void close();

  uint16_t port_id_ = 0;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vox::dataplane::dpdk
