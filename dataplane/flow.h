// A flow: what the dataplane knows about one local port of a call. Packets
// that arrive on the flow's local endpoint come from one party; the flow
// says which source it accepts (latching policy) and which flow they leave
// through (the other party's port). A relayed RTP packet touches two cache
// lines of its flow and nothing else: the fast line (its counters, the
// latched source, and a copy of where it leaves: the egress flow's address
// fields), which the worker keeps in step with the flow's state line (what
// the control plane installed: policy, SDP address, latching window), and
// the reception line beside it (sequence and jitter accounting for call
// quality, reception.h). Drop counters, RTCP reports and what the control
// plane reads sit on colder lines.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "base/endpoint.h"
#include "base/names.h"
#include "dataplane/reception.h"

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
  kNotMedia,        // unknown first byte on a media port (STUN/DTLS too, without a slow path)
  kSendFailed,      // the kernel/NIC refused the packet
  kSrtpAuthFailed,  // SRTP/SRTCP tag did not verify (forged, corrupt, wrong key); never latches
  kSrtpReplayed,    // SRTP index already seen or older than the replay window (RFC 3711 §3.3.2)
  kSrtpError,       // any other SRTP failure: too short, key expired, no room for the tag
  kOversized,       // a datagram over kMaxDatagram (slow_path.h), on every backend
  kSlowPathFull,    // STUN/DTLS for the slow path, whose ring was full
  kFeedbackOnly,    // RTCP of feedback only (RTPFB/PSFB) toward a party that negotiated AVP
  kCount
};
inline constexpr size_t kDropReasonCount = size_t(DropReason::kCount);
inline constexpr EnumNames<DropReason> kDropReasonNames = {{
    {DropReason::kSourceMismatch, "source-mismatch"},
    {DropReason::kMalformed, "malformed"},
    {DropReason::kNoDestination, "no-destination"},
    {DropReason::kNotMedia, "not-media"},
    {DropReason::kSendFailed, "send-failed"},
    {DropReason::kSrtpAuthFailed, "srtp-auth-failed"},
    {DropReason::kSrtpReplayed, "srtp-replayed"},
    {DropReason::kSrtpError, "srtp-error"},
    {DropReason::kOversized, "oversized"},
    {DropReason::kSlowPathFull, "slow-path-full"},
    {DropReason::kFeedbackOnly, "feedback-only"},
}};
static_assert(kDropReasonNames.complete());
inline const char* to_string(DropReason r) { return kDropReasonNames[r]; }

// Source policy flags, set by the control plane from NG flags.
enum FlowFlags : uint16_t {
  kFlowAsymmetric = 1 << 0,     // send to the SDP address, never the latched one
  kFlowStrictSource = 1 << 1,   // source must equal the SDP address
  kFlowMediaHandover = 1 << 2,  // re-latch to a new source at any time
  kFlowRtcpPort = 1 << 3,       // this local port is the RTCP port (no mux)
  kFlowEnabled = 1 << 4,        // forwarding on (off while a stream is rejected)
  kFlowTranscode = 1 << 5,      // RTP goes through the flow's transcoder (set by the worker)
  kFlowSrtp = 1 << 6,           // the flow has an SrtpSlot (set by the worker)
  kFlowLatched = 1 << 7,        // FlowFast only: `source` is the latched source
  kFlowNoFeedback = 1 << 8,     // the party negotiated AVP: no RTCP feedback toward it
  kFlowOwnRtcp = 1 << 9,        // the relay writes this party's RTCP (rtcp_report.h): the
                                // other party's is not forwarded to it (set by the worker)
};

// The latched source, published to the control plane through a seqlock so
// that `query` can report it without stopping the worker.
struct LatchedSource {
  std::atomic<uint32_t> seq{0};
  std::atomic<uint64_t> words[3] = {};
  void publish(const Endpoint& e);
  Endpoint read() const;
};

// A flow's state as the control plane installs it (commands carry one),
// plus what latching learned. The packet path reads it only off the fast
// path: an unlatched or new source, RTCP's egress, a transcoder.
struct alignas(64) FlowState {
  int64_t latch_until_ns = 0;    // learning window end (after offer/answer)
  LocalKey key = 0;              // where packets arrive
  FlowId egress_rtp = kNoFlow;   // flow whose local endpoint sends RTP arriving here
  FlowId egress_rtcp = kNoFlow;  // ... and RTCP (differs for rtcp-mux demux)
  uint16_t flags = 0;
  uint8_t latched = 0;           // 1 once a source has been learned
  uint8_t pad_ = 0;
  Endpoint source;               // learned (or SDP) address of the party on this port
  Endpoint sdp_source;           // what the party's SDP said
};
static_assert(sizeof(FlowState) == 64, "a flow's state must stay one cache line");

// Where RTP arriving on a flow leaves: the egress flow's fields the packet
// path needs, copied into the ingress flow so that relaying never reads a
// second flow. WorkerState refreshes the copy whenever the egress flow's
// fields change (a command, a latch).
struct Egress {
  Endpoint dest;           // the egress party's address (latched, or SDP if asymmetric); port 0: none
  uint16_t flags = 0;      // the egress flow's flags
  LocalKey key = 0;        // its local endpoint: the packet's new source
};
static_assert(sizeof(Egress) == 24);

// The fast line: all a relayed packet reads and writes, in 64 octets.
// Written by the owning worker only (relaxed stores, no read-modify-write
// atomics: a plain add on x86); the counters are read with relaxed loads by
// the control plane, which also tells activity from them (rtpengine does
// the same with its kernel module's counters), so no per-packet timestamp.
struct alignas(64) FlowFast {
  std::atomic<uint64_t> packets{0};
  std::atomic<uint64_t> bytes{0};
  Endpoint source;     // FlowState::source, valid for the fast check with kFlowLatched
  uint16_t flags = 0;  // FlowState::flags | kFlowLatched once latched
  Egress rtp;          // RTP's egress (RTCP's, rarer, is read from its flow)
};
static_assert(sizeof(FlowFast) == 64, "the fast path must stay one cache line");

struct alignas(64) FlowDrops {
  std::atomic<uint64_t> by_reason[kDropReasonCount] = {};
};

struct Flow {
  FlowFast fast;
  FlowReception rx;  // the RTP it receives, measured (a relayed RTP packet's second line)
  FlowState state;   // the flow's state: read on slow paths only
  FlowDrops drops;
  FlowReports reports;  // the party's RTCP: what it says it receives
  LatchedSource published;
  RtpClocks clocks;  // payload type -> clock rate, for jitter
  // The flows whose RTP egress is this flow (an intrusive list, worker
  // only): they hold a copy of this flow's address fields.
  FlowId first_sender = kNoFlow;
  FlowId next_sender = kNoFlow;  // the next flow sending to the same egress
};

}  // namespace vox::dataplane
