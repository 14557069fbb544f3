// A packet as the pipeline sees it, whatever the backend: what arrived
// (RxPacket: the payload in the backend's buffer, where and from whom) and
// what leaves (TxPacket: the bytes, to whom, from which local port).
// Backends fill RxPacket arrays and drain TxPacket arrays, nothing else.
#pragma once

#include <cstdint>

#include "base/endpoint.h"
#include "dataplane/flow.h"

namespace vox::dataplane {

inline constexpr uint32_t kBurstSize = 32;

struct RxPacket {
  uint8_t* data;
  uint16_t len;
  LocalKey local;   // where it arrived
  Endpoint source;  // who sent it
  // Octets the buffer holds from `data` on (>= len): SRTP protect appends
  // its tag in place. 0 (or len): no room, a packet to an SRTP party drops.
  uint16_t capacity = 0;
};

struct TxPacket {
  const uint8_t* data;
  uint16_t len;
  Endpoint dest;
  uint32_t rx_index;  // which RxPacket it is (DPDK: the mbuf to rewrite and send)
  LocalKey source;    // the egress flow's local endpoint: the port it leaves from
  // SRTP rewrote the payload in place (len may differ from the RxPacket's):
  // DPDK sets the new lengths and recomputes the UDP checksum.
  bool rewritten = false;
};

}  // namespace vox::dataplane
