// Internal to dataplane/dpdk/ (includes rte_ethdev.h; never include it from a
// public header): the burst calls a worker makes per loop, inline, over a
// port id. DpdkPort's member wrappers call these.
#pragma once

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <cstdint>

namespace vox::dataplane::dpdk::fastpath {

inline uint16_t rx_burst(uint16_t port, uint16_t queue, rte_mbuf** mbufs, uint16_t n) {
  return rte_eth_rx_burst(port, queue, mbufs, n);
}

inline uint16_t tx_burst(uint16_t port, uint16_t queue, rte_mbuf** mbufs, uint16_t n) {
  return rte_eth_tx_burst(port, queue, mbufs, n);
}

// l3fwd's pattern: what the TX queue did not take is dropped here, once per
// burst; the caller counts n - returned as TX drops.
inline uint16_t tx_burst_or_free(uint16_t port, uint16_t queue, rte_mbuf** mbufs, uint16_t n) {
  const uint16_t sent = rte_eth_tx_burst(port, queue, mbufs, n);
  if (sent < n) [[unlikely]] rte_pktmbuf_free_bulk(mbufs + sent, n - sent);
  return sent;
}

}  // namespace vox::dataplane::dpdk::fastpath
