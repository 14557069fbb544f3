// Call quality as the relay sees it, per flow, for `query`, the end-of-call
// record and /metrics:
//  - FlowReception: the RTP the party sends, measured on arrival: RFC 3550
//    A.1's sequence accounting (expected, received, so lost) and A.8's
//    interarrival jitter. One cache line next to the fast line, written
//    per RTP packet with plain stores by the owning worker.
//  - FlowReports: what the party's own RTCP says about the RTP it receives
//    (its first report block), the round trip to it from LSR/DLSR against
//    the SRs sent to it (RFC 3550 §6.4.1: RTT = A - LSR - DLSR, here on the
//    relay's clock: when the SR left, when the report came), and the last SR
//    it sent (for the relay's own reports, rtcp_report.h). Written per RTCP
//    packet only.
// The control plane reads both with relaxed loads: figures may be one
// packet apart from each other, never torn.
#pragma once

#include <atomic>
#include <cstdint>

#include "base/bytes.h"

namespace vox::dataplane {

__extension__ using Uint128 = unsigned __int128;  // x86-64's 64x64 -> 128 multiply

// The RTP clock rate of each payload type a flow may carry (the SDPs'
// rtpmap and static types), for jitter in seconds. Installed with the flow.
struct RtpClocks {
  static constexpr uint8_t kMax = 8;
  uint8_t count = 0;
  uint8_t pt[kMax] = {};
  uint32_t rate[kMax] = {};

  // Adds pt at `rate` unless known or full; false when not added.
  bool add(uint8_t payload_type, uint32_t clock_rate);
  uint32_t rate_of(uint8_t payload_type) const;  // 0: unknown
};

// What the control plane reads of a FlowReception.
struct ReceptionSnapshot {
  uint64_t received = 0;
  uint64_t expected = 0;
  int64_t lost = 0;         // expected - received (negative: duplicates)
  uint64_t jitter_ns = 0;
  uint32_t rate = 0;        // the stream's RTP clock (0: unknown)
  uint32_t ssrc = 0;
  // How often the current SSRC's sequence number wrapped since its first
  // packet here (A.1's cycles): the SRTP rollover counter of a stream seen
  // from its start (RFC 3711 §3.3.1).
  uint32_t wraps = 0;
};

// ... and of a FlowReports.
struct ReportSnapshot {
  uint32_t blocks = 0;          // 0: the party sent no report block
  uint32_t fraction_lost = 0;   // 1/256
  int32_t cumulative_lost = 0;
  uint32_t jitter = 0;          // RTP units of what the party receives
  uint32_t rtt_us = 0;
  uint32_t rtt_samples = 0;     // 0: no round trip measured
  uint32_t xr_mos_q10 = 0;      // 0: no XR VoIP metrics
};

// The fields of a validated RTP header that reception counts, read straight
// from the packet (it is in L1: just parsed).
struct RtpHeader {
  uint16_t sequence;
  uint8_t payload_type;
  uint32_t timestamp;
  uint32_t ssrc;
  static RtpHeader of(const uint8_t* p) {
    return RtpHeader{load_be16(p + 2), uint8_t(p[1] & 0x7f), load_be32(p + 4), load_be32(p + 8)};
  }
};

struct alignas(64) FlowReception {
  // Read by the control plane.
  std::atomic<uint64_t> received{0};        // RTP packets counted, every SSRC
  std::atomic<uint64_t> expected_before{0}; // expected of the SSRCs before the current one
  std::atomic<uint32_t> extended_max{0};    // current SSRC: cycles | highest sequence (A.1)
  std::atomic<uint32_t> base_seq{0};        // current SSRC: its first sequence number
  std::atomic<uint32_t> jitter_q4{0};       // A.8's J * 16, in RTP units of `rate`
  std::atomic<uint32_t> rate{0};            // the clock jitter is in (0: none known yet)
  std::atomic<uint64_t> source{0};          // key(): the SSRC counted and the payload type last seen
  // The worker's own.
  uint64_t ticks_per_ns_q32 = 0;  // rate / 1e9 in 32.32 fixed point (0: no jitter)
  uint32_t transit = 0;           // previous packet's arrival - timestamp, RTP units
  uint16_t bad_seq = 0;           // A.1: a jump's next expected sequence number

  // What update() compares a packet with: its SSRC, a bit saying a source is
  // counted, its payload type with bit 7 set (so that 0 matches no type).
  static constexpr uint64_t kCounting = uint64_t(1) << 32;
  static uint64_t key(uint32_t ssrc, uint8_t pt) { return ssrc | kCounting | uint64_t(pt | 0x80) << 40; }

  // One RTP packet from the accepted source, arriving at now_ns (any clock
  // with ns ticks). `clocks`: read only when the payload type changes. Per
  // packet, inlined: one compare (same source, same payload type), a
  // sequence step (a wrap carries into the cycle count by itself), a count,
  // and A.8's jitter step.
  [[gnu::always_inline]] void update(const RtpHeader& h, int64_t now_ns, const RtpClocks& clocks) {
    if (key(h.ssrc, h.payload_type) != source.load(std::memory_order_relaxed)) [[unlikely]] {
      if (changed(h, now_ns, clocks)) return;  // a new source: counted from this packet
      if (step(h.sequence, h.ssrc)) count();
      return;  // another payload type: its transit starts here
    }
    if (!step(h.sequence, h.ssrc)) return;
    count();
    if (!ticks_per_ns_q32) return;
    // A.8: D = (Rj - Ri) - (Sj - Si) in RTP units; J += (|D| - J) / 16.
    const uint32_t t = arrival(now_ns) - h.timestamp;
    const int32_t d = int32_t(t - transit);
    transit = t;
    const uint32_t abs_d = d < 0 ? uint32_t(-int64_t(d)) : uint32_t(d);
    const uint32_t j = jitter_q4.load(std::memory_order_relaxed);
    jitter_q4.store(j + abs_d - ((j + 8) >> 4), std::memory_order_relaxed);
  }

  // Packets expected so far, every SSRC (lost = expected - received, which
  // duplicates can make negative, RFC 3550 §6.4.1).
  uint64_t expected() const;
  // Jitter in nanoseconds (0 without a known clock).
  uint64_t jitter_ns() const;
  ReceptionSnapshot snapshot() const;
  // The payload types' clocks were re-installed: looked up again with the next packet.
  void forget_clock() {
    source.store(source.load(std::memory_order_relaxed) & (kCounting | 0xffffffffu), std::memory_order_relaxed);
  }

  static constexpr uint16_t kMaxDropout = 3000;  // RFC 3550 A.1
  static constexpr uint16_t kMaxMisorder = 100;

 private:
  // A.1's sequence step; false for a stray jump (not counted).
  bool step(uint16_t seq, uint32_t ssrc) {
    const uint32_t ext = extended_max.load(std::memory_order_relaxed);
    const uint16_t udelta = uint16_t(seq - uint16_t(ext));
    if (udelta < kMaxDropout) [[likely]]
      extended_max.store(ext + udelta, std::memory_order_relaxed);
    else if (udelta <= 65536 - kMaxMisorder) [[unlikely]]
      return jumped(seq, ssrc);
    return true;  // in order, or a duplicate or reordered packet: counted, extends nothing
  }
  void count() { received.store(received.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
  // A packet of another source or payload type: true when a new source
  // (counting restarts at this packet, counted).
  bool changed(const RtpHeader& h, int64_t now_ns, const RtpClocks& clocks);
  void restart(uint16_t seq, uint32_t ssrc);
  // A large jump: believed (counting restarts there: true) only when this
  // packet follows the previous jump's (the sender restarted its sequence).
  bool jumped(uint16_t seq, uint32_t ssrc);
  // Another payload type (or a new source): its clock, and the transit the
  // next packet's is compared with.
  void change_clock(uint8_t payload_type, const RtpClocks& clocks, int64_t now_ns, uint32_t timestamp);
  uint32_t arrival(int64_t now_ns) const { return uint32_t(Uint128(uint64_t(now_ns)) * ticks_per_ns_q32 >> 32); }
};
static_assert(sizeof(FlowReception) == 64, "reception must stay one cache line");

struct alignas(64) FlowReports {
  // The party's last report block (about the RTP it receives).
  std::atomic<uint32_t> blocks{0};           // report blocks taken
  std::atomic<uint32_t> fraction_lost{0};    // in 1/256, since its previous report
  std::atomic<int32_t> cumulative_lost{0};
  std::atomic<uint32_t> jitter{0};           // RTP units of what it receives
  std::atomic<uint32_t> rtt_us{0};           // the last round trip measured (valid if rtt_samples)
  std::atomic<uint32_t> rtt_samples{0};
  std::atomic<uint32_t> xr_mos_q10{0};       // RTCP XR VoIP metrics' MOS-LQ * 10 (0: none)
  // The worker's own: the last SR the relay sent this party (LSR value, when).
  uint32_t sent_lsr = 0;
  int64_t sent_ns = 0;
  // ... and the last SR the party sent (for the relay's own report blocks).
  uint32_t received_lsr = 0;
  int64_t received_ns = 0;

  // The party's RTCP, validated: takes its first report block (and round
  // trip), its SR's NTP time, and XR VoIP metrics. Never reads past `len`.
  void take(const uint8_t* rtcp, uint16_t len, int64_t now_ns);
  ReportSnapshot snapshot() const;

  // An SR leaves toward this party (forwarded or the relay's own).
  void sent_sr(uint64_t ntp, int64_t now_ns) {
    sent_lsr = uint32_t(ntp >> 16);
    sent_ns = now_ns;
  }
};
static_assert(sizeof(FlowReports) == 64, "reports must stay one cache line");

}  // namespace vox::dataplane
