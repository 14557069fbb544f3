// Slow-path access to rte_mbufs for code that must not include rte_* headers
// (tests, control-path packet builders). Out of line: the fast path in
// dataplane/dpdk/ uses rte_mbuf directly.
#pragma once

#include <cstdint>
#include <span>

namespace vox::dataplane::dpdk {

// Extends the packet by len bytes at the end; nullptr when the (single)
// segment has no tailroom left.
uint8_t* mbuf_append(void* mbuf, uint16_t len);
// The first segment's data (the whole packet for single-segment mbufs).
std::span<const uint8_t> mbuf_data(const void* mbuf);
uint32_t mbuf_packet_length(const void* mbuf);
uint16_t mbuf_segment_count(const void* mbuf);
void mbuf_free(void* mbuf);
void mbuf_free_bulk(void** mbufs, uint32_t n);

}  // namespace vox::dataplane::dpdk
