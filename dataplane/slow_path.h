// The slow path: packets a worker does not relay itself. STUN checks (ICE)
// and DTLS handshakes arrive on media ports (RFC 7983 demultiplexing) but
// are not per-packet work: the worker copies each into its consumer's ring
// (a handshake thread), and sends what the consumer answers from the port
// the answer names, like the packets its transcoders generate. Every
// backend does this inside the burst loop (burst_loop.h), so a consumer
// written once serves them all. Without a consumer these packets are
// dropped as `not-media`, as before ICE existed.
//
// (The DPDK backend's own link-layer slow path, ARP, neighbour discovery
// and ping, is answered inline by its host stack: a reply is the request's
// frame rewritten in place.)
#pragma once

#include <unistd.h>

#include <cstdint>

#include "base/endpoint.h"
#include "base/spsc_ring.h"
#include "dataplane/demux.h"
#include "dataplane/flow.h"

namespace vox::dataplane {

// The largest UDP payload the relay takes: an Ethernet MTU's datagram
// (1,472 octets over IPv4) and more, with room left in every backend's
// 2,048-octet buffer for an SRTP tag and the headers in front (io_uring
// writes its message header and the source address there too). Larger
// datagrams are dropped as `oversized` on every backend.
inline constexpr uint16_t kMaxDatagram = 1800;

// What arrived: where, from whom, on which flow, and the bytes.
struct SlowPacket {
  LocalKey local = 0;
  Endpoint source;
  FlowId flow = kNoFlow;
  PacketKind kind = PacketKind::kUnknown;
  uint16_t len = 0;
  uint8_t data[kMaxDatagram];
};

// What the consumer sends: from which local port, to whom, the bytes.
struct SlowReply {
  LocalKey from = 0;
  Endpoint dest;
  uint16_t len = 0;
  uint8_t data[kMaxDatagram];
};

// One worker's rings to and from its consumer. The worker is the producer
// of `in` and the consumer of `out`; the consumer thread the reverse. A
// consumer that pushes a reply wakes the worker (Dataplane::notify) so a
// sleeping socket worker sends it now.
struct SlowPath {
  static constexpr size_t kSlots = 256;
  SpscRing<SlowPacket> in{kSlots};
  SpscRing<SlowReply> out{kSlots};
  // An eventfd the consumer sleeps on: the worker writes it once per burst
  // that handed packets over (-1: the consumer polls). Set before the
  // worker's loop is made; the consumer owns it.
  int consumer_fd = -1;
};

// The slow-path packets of one burst, by their index in the burst's
// RxPacket array (filled by process_burst when the worker has a consumer).
struct SlowBurst {
  static constexpr uint32_t kMax = 256;
  uint32_t index[kMax];
  FlowId flow[kMax];
  PacketKind kind[kMax];
  uint32_t count = 0;
};

// Wakes a slow path's consumer (one eventfd write; never per packet).
inline void wake_consumer(const SlowPath& s) {
  if (s.consumer_fd < 0) return;
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(s.consumer_fd, &one, sizeof one);
}

}  // namespace vox::dataplane
