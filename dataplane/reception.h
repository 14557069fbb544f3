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

#include "dataplane/rtp.h"

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

struct alignas(64) FlowReception {
  // Read by the control plane.
  std::atomic<uint64_t> received{0};        // RTP packets counted, every SSRC
  std::atomic<uint64_t> expected_before{0}; // expected of the SSRCs before the current one
  std::atomic<uint32_t> extended_max{0};    // current SSRC: cycles | highest sequence (A.1)
  std::atomic<uint32_t> base_seq{0};        // current SSRC: its first sequence number
  std::atomic<uint32_t> jitter_q4{0};       // A.8's J * 16, in RTP units of `rate`
  std::atomic<uint32_t> rate{0};            // the clock jitter is in (0: none known yet)
  std::atomic<uint32_t> ssrc{0};
  // The worker's own.
  uint32_t transit = 0;     // previous packet's arrival - timestamp, RTP units
  uint32_t bad_seq = 0;     // A.1: a jump's next expected sequence number
  uint8_t pt = 0xff;        // payload type of the previous packet (0xff: none yet)
  uint8_t have_transit = 0;
  uint8_t pad_[2] = {};
  uint64_t ticks_per_ns_q32 = 0;  // rate / 1e9 in 32.32 fixed point

  // One RTP packet from the accepted source, arriving at now_ns (any clock
  // with ns ticks). `clocks`: read only when the payload type changes.
  void update(const RtpView& rtp, int64_t now_ns, const RtpClocks& clocks) {
    const uint32_t ext = extended_max.load(std::memory_order_relaxed);
    const uint16_t max_seq = uint16_t(ext);
    const uint16_t udelta = uint16_t(rtp.sequence - max_seq);
    if (rtp.ssrc != ssrc.load(std::memory_order_relaxed) || received.load(std::memory_order_relaxed) == 0)
        [[unlikely]] {
      restart(rtp);
    } else if (udelta < kMaxDropout) [[likely]] {
      // In order, with or without a gap; a wrap counts one more cycle.
      const uint32_t cycles = (ext & 0xffff0000u) + (rtp.sequence < max_seq ? 0x10000u : 0);
      extended_max.store(cycles | rtp.sequence, std::memory_order_relaxed);
    } else if (udelta <= 65536 - kMaxMisorder) [[unlikely]] {
      // A large jump: believed only when the next packet follows it (the
      // sender restarted its sequence), A.1's bad_seq.
      if (rtp.sequence != bad_seq) {
        bad_seq = uint16_t(rtp.sequence + 1);
        return;
      }
      restart(rtp);
    }  // else a duplicate or reordered packet: counted, extends nothing
    received.store(received.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (rtp.payload_type != pt) [[unlikely]]
      change_clock(rtp.payload_type, clocks);
    if (!ticks_per_ns_q32) return;
    // A.8: D = (Rj - Ri) - (Sj - Si) in RTP units; J += (|D| - J) / 16.
    const uint32_t arrival = uint32_t(Uint128(uint64_t(now_ns)) * ticks_per_ns_q32 >> 32);
    const uint32_t t = arrival - rtp.timestamp;
    if (have_transit) {
      const int32_t d = int32_t(t - transit);
      const uint32_t j = jitter_q4.load(std::memory_order_relaxed);
      const uint32_t abs_d = uint32_t(d < 0 ? -int64_t(d) : d);
      jitter_q4.store(j + abs_d - ((j + 8) >> 4), std::memory_order_relaxed);
    }
    transit = t;
    have_transit = 1;
  }

  // Packets lost so far (expected - received, every SSRC; duplicates can
  // make it negative, RFC 3550 §6.4.1).
  int64_t lost() const {
    return int64_t(expected()) - int64_t(received.load(std::memory_order_relaxed));
  }
  uint64_t expected() const;
  // Jitter in nanoseconds (0 without a known clock).
  uint64_t jitter_ns() const;

  ReceptionSnapshot snapshot() const;

  static constexpr uint16_t kMaxDropout = 3000;  // RFC 3550 A.1
  static constexpr uint16_t kMaxMisorder = 100;

 private:
  void restart(const RtpView& rtp);
  void change_clock(uint8_t payload_type, const RtpClocks& clocks);
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
