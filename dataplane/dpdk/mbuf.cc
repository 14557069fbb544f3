// Out-of-line rte_mbuf accessors for rte-free code; see mbuf.h.
#include "dataplane/dpdk/mbuf.h"

#include <rte_mbuf.h>

namespace vox::dataplane::dpdk {

uint8_t* mbuf_append(void* mbuf, uint16_t len) {
  return reinterpret_cast<uint8_t*>(rte_pktmbuf_append(static_cast<rte_mbuf*>(mbuf), len));
}

std::span<const uint8_t> mbuf_data(const void* mbuf) {
  const auto* m = static_cast<const rte_mbuf*>(mbuf);
  return {rte_pktmbuf_mtod(m, const uint8_t*), m->data_len};
}

uint32_t mbuf_packet_length(const void* mbuf) { return static_cast<const rte_mbuf*>(mbuf)->pkt_len; }
uint16_t mbuf_segment_count(const void* mbuf) { return static_cast<const rte_mbuf*>(mbuf)->nb_segs; }
void mbuf_free(void* mbuf) { rte_pktmbuf_free(static_cast<rte_mbuf*>(mbuf)); }
void mbuf_free_bulk(void** mbufs, uint32_t n) { rte_pktmbuf_free_bulk(reinterpret_cast<rte_mbuf**>(mbufs), n); }

}  // namespace vox::dataplane::dpdk
