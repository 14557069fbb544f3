// DpdkPort: configure, start, observe and stop one ethdev port; see port.h.
#include "dataplane/dpdk/port.h"

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>

#include "dataplane/dpdk/eal.h"
#include "dataplane/dpdk/port_fastpath.h"

namespace vox::dataplane::dpdk {
namespace {

// RX drain on close: a vdev such as net_null never runs dry, so bound it.
constexpr int kMaxDrainBursts = 256;
constexpr uint16_t kDrainBurst = 32;

std::string errtext(const char* what, int ret) {
  std::string s = what;
  s += ": ";
  s += rte_strerror(ret < 0 ? -ret : ret);
  return s;
}

rte_mbuf** as_mbufs(void** p) { return reinterpret_cast<rte_mbuf**>(p); }

// Smallest 2^k - 1 >= n: rte_ring-backed pools are sized best at that.
uint32_t ring_friendly(uint32_t n) {
  uint32_t v = 1;
  while (v - 1 < n) v <<= 1;
  return v - 1;
}

}  // namespace

struct DpdkPort::Impl {
  PortInfo info;
  PortConfig config;
  std::map<int, rte_mempool*> pools;  // by NUMA socket
  bool started = false;
};

DpdkPort::DpdkPort(std::unique_ptr<Impl> impl) : port_id_(impl->info.port_id), impl_(std::move(impl)) {}
DpdkPort::DpdkPort(DpdkPort&&) noexcept = default;
DpdkPort& DpdkPort::operator=(DpdkPort&& other) noexcept {
  if (this != &other) {
    close();
    port_id_ = other.port_id_;
    impl_ = std::move(other.impl_);
  }
  return *this;
}
DpdkPort::~DpdkPort() { close(); }

// What the port can offload and what it is asked to (info.supported,
// info.enabled, info.rss), as the configuration DPDK takes.
rte_eth_conf port_conf(const rte_eth_dev_info& dev_info, const PortConfig& cfg, PortInfo& info) {
  info.supported.tx_ipv4 = (dev_info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) != 0;
  info.supported.tx_udp = (dev_info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) != 0;
  info.supported.rx_ipv4 = (dev_info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) != 0;
  info.supported.rx_udp = (dev_info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_UDP_CKSUM) != 0;
  if (cfg.tx_checksum_offload) {
    info.enabled.tx_ipv4 = info.supported.tx_ipv4;
    info.enabled.tx_udp = info.supported.tx_udp;
  }
  if (cfg.rx_checksum_offload) {
    info.enabled.rx_ipv4 = info.supported.rx_ipv4;
    info.enabled.rx_udp = info.supported.rx_udp;
  }
  rte_eth_conf conf{};
  if (info.enabled.tx_ipv4) conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
  if (info.enabled.tx_udp) conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
  if (info.enabled.rx_ipv4) conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
  if (info.enabled.rx_udp) conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
  const uint64_t rss_hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & dev_info.flow_type_rss_offloads;
  if (cfg.rx_queues > 1 && rss_hf != 0) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
    info.rss = true;
  }
  return conf;
}

// The NUMA socket whose pool RX queue q takes its mbufs from.
int queue_socket(const PortConfig& cfg, const PortInfo& info, uint16_t q) {
  return q < cfg.rx_queue_sockets.size() && cfg.rx_queue_sockets[q] >= 0 ? cfg.rx_queue_sockets[q] : info.socket;
}

// One pool per NUMA socket that polls an RX queue. Each is sized for its
// RX rings full, every TX ring full (a received mbuf may wait in any TX
// queue), one burst in flight per queue and every lcore's cache full. On
// failure none is left.
Result<bool, std::string> create_pools(const PortConfig& cfg, const PortInfo& info, uint16_t rxd, uint16_t txd,
                                       std::map<int, rte_mempool*>& pools) {
  std::map<int, uint32_t> rx_queues_on;
  for (uint16_t q = 0; q < cfg.rx_queues; ++q) ++rx_queues_on[queue_socket(cfg, info, q)];
  static std::atomic<uint32_t> pool_serial{0};
  for (const auto& [socket, nq] : rx_queues_on) {
    uint32_t n = cfg.mbufs_per_pool;
    const uint32_t cache_want = std::min<uint32_t>(cfg.mbuf_cache_size, RTE_MEMPOOL_CACHE_MAX_SIZE);
    if (n == 0) {
      n = nq * rxd + uint32_t{cfg.tx_queues} * txd + (nq + cfg.tx_queues) * uint32_t{cfg.burst_size} +
          rte_lcore_count() * cache_want;
      n = ring_friendly(n);
    }
    // rte_mempool_create rejects a cache larger than n / 1.5.
    const uint32_t cache = std::min<uint32_t>(cache_want, n * 2 / 3);
    char pool_name[RTE_MEMPOOL_NAMESIZE];
    std::snprintf(pool_name, sizeof pool_name, "vox_p%u_s%d_%u", info.port_id, socket, pool_serial.fetch_add(1));
    rte_mempool* pool = rte_pktmbuf_pool_create(pool_name, n, cache, 0, cfg.mbuf_data_room, socket);
    if (pool == nullptr) {
      const int err = rte_errno;
      for (auto& [s, p] : pools) rte_mempool_free(p);
      pools.clear();
      return Err{"rte_pktmbuf_pool_create(" + std::to_string(n) + " mbufs, socket " + std::to_string(socket) +
                 "): " + rte_strerror(err)};
    }
    pools[socket] = pool;
  }
  return true;
}

Result<DpdkPort, std::string> DpdkPort::open(uint16_t port_id, const PortConfig& cfg) {
  if (!eal_running()) return Err{std::string("EAL is not running")};
  if (!rte_eth_dev_is_valid_port(port_id)) {
    return Err{"no DPDK port " + std::to_string(port_id)};
  }
  if (cfg.rx_queues == 0 || cfg.tx_queues == 0) return Err{std::string("a port needs at least one RX and one TX queue")};
  if (cfg.burst_size == 0) return Err{std::string("burst_size must be positive")};

  auto impl = std::make_unique<Impl>();
  impl->config = cfg;
  PortInfo& info = impl->info;
  info.port_id = port_id;

  rte_eth_dev_info dev_info{};
  if (int ret = rte_eth_dev_info_get(port_id, &dev_info); ret != 0) return Err{errtext("rte_eth_dev_info_get", ret)};
  char name[RTE_ETH_NAME_MAX_LEN] = {};
  if (rte_eth_dev_get_name_by_port(port_id, name) == 0) info.name = name;
  info.driver = dev_info.driver_name != nullptr ? dev_info.driver_name : "";
  const int dev_socket = rte_eth_dev_socket_id(port_id);
  const int own_socket = static_cast<int>(rte_socket_id());
  info.socket = dev_socket >= 0 ? dev_socket : (own_socket >= 0 ? own_socket : 0);
  info.max_rx_queues = dev_info.max_rx_queues;
  info.max_tx_queues = dev_info.max_tx_queues;
  if (cfg.rx_queues > dev_info.max_rx_queues || cfg.tx_queues > dev_info.max_tx_queues) {
    return Err{info.name + " (" + info.driver + ") has at most " + std::to_string(dev_info.max_rx_queues) +
               " RX / " + std::to_string(dev_info.max_tx_queues) + " TX queues"};
  }

  const rte_eth_conf conf = port_conf(dev_info, cfg, info);
  if (int ret = rte_eth_dev_configure(port_id, cfg.rx_queues, cfg.tx_queues, &conf); ret != 0) {
    return Err{errtext("rte_eth_dev_configure", ret)};
  }
  uint16_t rxd = cfg.rx_descriptors;
  uint16_t txd = cfg.tx_descriptors;
  if (int ret = rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &rxd, &txd); ret != 0) {
    return Err{errtext("rte_eth_dev_adjust_nb_rx_tx_desc", ret)};
  }
  info.rx_descriptors = rxd;
  info.tx_descriptors = txd;

  if (auto made = create_pools(cfg, info, rxd, txd, impl->pools); !made.ok()) return Err{made.error()};
  auto fail = [&](std::string msg) -> Result<DpdkPort, std::string> {
    // The port is configured but not started; its queues reference the pools
    // only until the next configure, so they can go.
    for (auto& [s, p] : impl->pools) rte_mempool_free(p);
    impl->pools.clear();
    return Err{std::move(msg)};
  };

  rte_eth_rxconf rxconf = dev_info.default_rxconf;
  rxconf.offloads = conf.rxmode.offloads;
  for (uint16_t q = 0; q < cfg.rx_queues; ++q) {
    const int s = queue_socket(cfg, info, q);
    if (int ret = rte_eth_rx_queue_setup(port_id, q, rxd, static_cast<unsigned>(s), &rxconf, impl->pools[s]); ret != 0) {
      return fail(errtext(("rte_eth_rx_queue_setup(queue " + std::to_string(q) + ")").c_str(), ret));
    }
  }
  rte_eth_txconf txconf = dev_info.default_txconf;
  txconf.offloads = conf.txmode.offloads;
  for (uint16_t q = 0; q < cfg.tx_queues; ++q) {
    if (int ret = rte_eth_tx_queue_setup(port_id, q, txd, static_cast<unsigned>(info.socket), &txconf); ret != 0) {
      return fail(errtext(("rte_eth_tx_queue_setup(queue " + std::to_string(q) + ")").c_str(), ret));
    }
  }
  if (int ret = rte_eth_dev_start(port_id); ret != 0) return fail(errtext("rte_eth_dev_start", ret));
  impl->started = true;
  if (cfg.promiscuous) {
    // Not every vdev implements it (ENOTSUP); it only widens what we see.
    (void)rte_eth_promiscuous_enable(port_id);
  }
  rte_ether_addr mac{};
  if (rte_eth_macaddr_get(port_id, &mac) == 0) std::copy(std::begin(mac.addr_bytes), std::end(mac.addr_bytes), info.mac.begin());
  return DpdkPort(std::move(impl));
}

void DpdkPort::close() {
  if (!impl_) return;
  if (impl_->started && eal_running()) {
    rte_mbuf* burst[kDrainBurst];
    for (uint16_t q = 0; q < impl_->config.rx_queues; ++q) {
      for (int i = 0; i < kMaxDrainBursts; ++i) {
        const uint16_t n = rte_eth_rx_burst(port_id_, q, burst, kDrainBurst);
        if (n == 0) break;
        rte_pktmbuf_free_bulk(burst, n);
      }
    }
    (void)rte_eth_dev_stop(port_id_);
    impl_->started = false;
  }
  if (eal_running()) {
    for (auto& [socket, pool] : impl_->pools) {
      if (rte_mempool_avail_count(pool) == pool->size) rte_mempool_free(pool);
    }
  }
  impl_.reset();
}

const PortInfo& DpdkPort::info() const { return impl_->info; }

LinkStatus DpdkPort::link() const {
  rte_eth_link l{};
  LinkStatus out;
  if (rte_eth_link_get_nowait(port_id_, &l) != 0) return out;
  out.up = l.link_status == RTE_ETH_LINK_UP;
  out.speed_mbps = l.link_speed == RTE_ETH_SPEED_NUM_UNKNOWN ? 0 : l.link_speed;
  out.full_duplex = l.link_duplex == RTE_ETH_LINK_FULL_DUPLEX;
  return out;
}

Result<PortStats, std::string> DpdkPort::stats() const {
  rte_eth_stats s{};
  if (int ret = rte_eth_stats_get(port_id_, &s); ret != 0) return Err{errtext("rte_eth_stats_get", ret)};
  PortStats out;
  out.rx_packets = s.ipackets;
  out.tx_packets = s.opackets;
  out.rx_bytes = s.ibytes;
  out.tx_bytes = s.obytes;
  out.rx_missed = s.imissed;
  out.rx_errors = s.ierrors;
  out.tx_errors = s.oerrors;
  out.rx_no_mbuf = s.rx_nombuf;
  return out;
}

void DpdkPort::reset_stats() { (void)rte_eth_stats_reset(port_id_); }

std::vector<PoolUsage> DpdkPort::pool_usage() const {
  std::vector<PoolUsage> out;
  for (const auto& [socket, pool] : impl_->pools) {
    PoolUsage u;
    u.socket = socket;
    u.capacity = pool->size;
    u.available = rte_mempool_avail_count(pool);
    u.in_use = rte_mempool_in_use_count(pool);
    out.push_back(u);
  }
  return out;
}

uint16_t DpdkPort::rx_burst(uint16_t queue, void** mbufs, uint16_t n) {
  return fastpath::rx_burst(port_id_, queue, as_mbufs(mbufs), n);
}

uint16_t DpdkPort::tx_burst(uint16_t queue, void** mbufs, uint16_t n) {
  return fastpath::tx_burst(port_id_, queue, as_mbufs(mbufs), n);
}

uint16_t DpdkPort::tx_burst_or_free(uint16_t queue, void** mbufs, uint16_t n) {
  return fastpath::tx_burst_or_free(port_id_, queue, as_mbufs(mbufs), n);
}

bool DpdkPort::alloc_mbufs(void** mbufs, uint16_t n, int socket) {
  auto it = impl_->pools.find(socket < 0 ? impl_->info.socket : socket);
  if (it == impl_->pools.end()) it = impl_->pools.begin();
  return rte_pktmbuf_alloc_bulk(it->second, as_mbufs(mbufs), n) == 0;
}

}  // namespace vox::dataplane::dpdk
