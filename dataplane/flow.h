// A flow: what the dataplane knows about one local port of a call. Packets
// that arrive on the flow's local endpoint come from one party; the flow
// says which source it accepts (latching policy) and which flow they leave
// through (the other party's port). Hot state is one cache line, counters a
// second one written only by the owning worker.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "dataplane/endpoint.h"

namespace vox::dataplane {

using FlowId = uint32_t;
inline constexpr FlowId kNoFlow = 0xffffffffu;

// Local endpoint key: (interface index << 16) | UDP port. The port alone
// names the owning worker; the interface index tells same-numbered ports of
// different local addresses apart.
using LocalKey = uint32_t;
constexpr LocalKey make_local_key(uint16_t iface, uint16_t port) {
  return LocalKey(iface) << 16 | port;
}
constexpr uint16_t local_key_port(LocalKey k) { return uint16_t(k); }
constexpr uint16_t local_key_iface(LocalKey k) { return uint16_t(k >> 16); }

// Every reason a packet is not forwarded has a name operators can read
// (VPP-style error counters), per worker and per flow.
enum class DropReason : uint8_t {
  kSourceMismatch,  // latched/strict source check failed (RTP Bleed defence)
  kMalformed,       // not valid RTP/RTCP (RFC 3550 checks)
  kNoDestination,   // the other side's address is not known yet
  kNotMedia,        // STUN/DTLS/unknown first byte on a media port
  kSendFailed,      // the kernel/NIC refused the packet
  kCount
};
inline constexpr size_t kDropReasonCount = size_t(DropReason::kCount);
const char* to_string(DropReason r);

// Source policy flags, set by the control plane from NG flags.
enum FlowFlags : uint16_t {
  kFlowAsymmetric = 1 << 0,     // send to the SDP address, never the latched one
  kFlowStrictSource = 1 << 1,   // source must equal the SDP address
  kFlowMediaHandover = 1 << 2,  // re-latch to a new source at any time
  kFlowRtcpPort = 1 << 3,       // this local port is the RTCP port (no mux)
  kFlowEnabled = 1 << 4,        // forwarding on (off while a stream is rejected)
  kFlowTranscode = 1 << 5,      // RTP goes through the flow's transcoder (set by the worker)
};

// Counters of one flow. Written with relaxed stores by the owning worker
// only (no read-modify-write atomics on the packet path: a plain add on
// x86), read with relaxed loads by the control plane.
struct alignas(64) FlowCounters {
  std::atomic<uint64_t> packets{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<int64_t> last_packet_ns{0};
  std::atomic<uint64_t> drops[kDropReasonCount] = {};
};

// The latched source, published to the control plane through a seqlock so
// that `query` can report it without stopping the worker.
struct LatchedSource {
  std::atomic<uint32_t> seq{0};
  std::atomic<uint64_t> words[3] = {};
  void publish(const Endpoint& e);
  Endpoint read() const;
};

struct alignas(64) FlowHot {
  int64_t latch_until_ns = 0;    // learning window end (after offer/answer)
  LocalKey key = 0;              // where packets arrive
  FlowId egress_rtp = kNoFlow;   // flow whose local endpoint sends RTP arriving here
  FlowId egress_rtcp = kNoFlow;  // ... and RTCP (differs for rtcp-mux demux)
  int32_t fd = -1;               // socket backend: the bound UDP socket
  uint16_t flags = 0;
  uint8_t latched = 0;           // 1 once a source has been learned
  uint8_t pad_ = 0;
  Endpoint source;               // learned (or SDP) address of the party on this port
  Endpoint sdp_source;           // what the party's SDP said
};
static_assert(sizeof(FlowHot) == 64, "hot flow state must stay one cache line");

struct Flow {
  FlowHot hot;
  FlowCounters counters;
  LatchedSource published;
};

}  // namespace vox::dataplane
