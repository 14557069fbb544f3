// Reception statistics and reports (dataplane/reception.h): the parts off
// the per-packet path.
#include "dataplane/reception.h"

#include "base/bytes.h"
#include "dataplane/rtcp.h"

namespace vox::dataplane {

bool RtpClocks::add(uint8_t payload_type, uint32_t clock_rate) {
  if (rate_of(payload_type) || count == kMax || clock_rate == 0) return false;
  pt[count] = payload_type;
  rate[count++] = clock_rate;
  return true;
}

uint32_t RtpClocks::rate_of(uint8_t payload_type) const {
  for (uint8_t i = 0; i < count; ++i)
    if (pt[i] == payload_type) return rate[i];
  return 0;
}

uint64_t FlowReception::expected() const {
  const uint32_t ext = extended_max.load(std::memory_order_relaxed);
  const uint32_t base = base_seq.load(std::memory_order_relaxed);
  const uint64_t before = expected_before.load(std::memory_order_relaxed);
  if (!source.load(std::memory_order_relaxed)) return before;
  return before + uint64_t(ext - base) + 1;
}

uint64_t FlowReception::jitter_ns() const {
  const uint32_t r = rate.load(std::memory_order_relaxed);
  if (!r) return 0;
  return uint64_t(jitter_q4.load(std::memory_order_relaxed)) * 1'000'000'000 / 16 / r;
}

ReceptionSnapshot FlowReception::snapshot() const {
  ReceptionSnapshot s;
  s.received = received.load(std::memory_order_relaxed);
  s.expected = expected();
  s.lost = int64_t(s.expected) - int64_t(s.received);
  s.jitter_ns = jitter_ns();
  s.rate = rate.load(std::memory_order_relaxed);
  s.ssrc = uint32_t(source.load(std::memory_order_relaxed));
  s.wraps = extended_max.load(std::memory_order_relaxed) >> 16;
  return s;
}

ReportSnapshot FlowReports::snapshot() const {
  ReportSnapshot s;
  s.blocks = blocks.load(std::memory_order_relaxed);
  s.fraction_lost = fraction_lost.load(std::memory_order_relaxed);
  s.cumulative_lost = cumulative_lost.load(std::memory_order_relaxed);
  s.jitter = jitter.load(std::memory_order_relaxed);
  s.rtt_us = rtt_us.load(std::memory_order_relaxed);
  s.rtt_samples = rtt_samples.load(std::memory_order_relaxed);
  s.xr_mos_q10 = xr_mos_q10.load(std::memory_order_relaxed);
  return s;
}

// A new source (or the first): the old one's expected packets are kept,
// sequence accounting starts over at this packet (A.1's init_seq).
void FlowReception::restart(uint16_t seq, uint32_t ssrc) {
  if (source.load(std::memory_order_relaxed)) expected_before.store(expected(), std::memory_order_relaxed);
  source.store(uint64_t(ssrc) | kCounting, std::memory_order_relaxed);  // no payload type yet
  base_seq.store(seq, std::memory_order_relaxed);
  extended_max.store(seq, std::memory_order_relaxed);
  bad_seq = uint16_t(seq + 1);
  ticks_per_ns_q32 = 0;  // no jitter step on this packet: the next one sets the clock again
}

bool FlowReception::changed(const RtpHeader& h, int64_t now_ns, const RtpClocks& clocks) {
  const uint64_t was = source.load(std::memory_order_relaxed);
  const bool new_source = !(was & kCounting) || uint32_t(was) != h.ssrc;
  if (new_source) {
    restart(h.sequence, h.ssrc);
    count();
  }
  // Its timestamps are not the last packet's: the transit starts over.
  change_clock(h.payload_type, clocks, now_ns, h.timestamp);
  return new_source;
}

bool FlowReception::jumped(uint16_t seq, uint32_t ssrc) {
  if (seq != bad_seq) {
    bad_seq = uint16_t(seq + 1);
    return false;
  }
  restart(seq, ssrc);
  return true;
}

// Timestamps of another payload type (a DTMF event's, a comfort noise
// frame's) or source are not comparable with the last one's: the transit
// starts over at this packet's. Jitter is rescaled when the clock rate
// changes, so it stays in `rate`'s units.
void FlowReception::change_clock(uint8_t payload_type, const RtpClocks& clocks, int64_t now_ns,
                                 uint32_t timestamp) {
  source.store(key(uint32_t(source.load(std::memory_order_relaxed)), payload_type), std::memory_order_relaxed);
  const uint32_t r = clocks.rate_of(payload_type);
  if (!r) {
    ticks_per_ns_q32 = 0;  // jitter waits for a known type
    return;
  }
  const uint32_t old = rate.load(std::memory_order_relaxed);
  if (old && old != r)
    jitter_q4.store(uint32_t(uint64_t(jitter_q4.load(std::memory_order_relaxed)) * r / old),
                    std::memory_order_relaxed);
  rate.store(r, std::memory_order_relaxed);
  ticks_per_ns_q32 = (uint64_t(r) << 32) / 1'000'000'000;
  transit = arrival(now_ns) - timestamp;
}

namespace {

constexpr uint8_t kXrVoipMetrics = 7;           // RFC 3611 §4.7
constexpr size_t kXrVoipMetricsLength = 36;     // header + 8 words
constexpr size_t kXrMosLqOffset = 26;           // from the block's start
constexpr uint8_t kXrUnavailable = 127;

// The MOS-LQ of the first VoIP metrics block of an XR packet (0: none).
uint8_t xr_mos_lq(const RtcpPacketHeader& h) {
  size_t off = kRtcpHeaderLength + 4;  // after the sender's SSRC
  while (off + 4 <= h.length) {
    const uint8_t* b = h.data + off;
    const size_t block = (size_t(load_be16(b + 2)) + 1) * 4;
    if (off + block > h.length) return 0;
    if (b[0] == kXrVoipMetrics && block >= kXrVoipMetricsLength) {
      const uint8_t mos = b[kXrMosLqOffset];
      return mos >= 10 && mos <= 50 && mos != kXrUnavailable ? mos : 0;
    }
    off += block;
  }
  return 0;
}

}  // namespace

void FlowReports::take(const uint8_t* rtcp, uint16_t len, int64_t now_ns) {
  auto view = parse_rtcp_compound(rtcp, len, true);
  if (!view.ok()) return;
  if (view->has_sender_info) {
    received_lsr = uint32_t(view->sender_info.ntp_timestamp >> 16);
    received_ns = now_ns;
  }
  bool first = true;
  for_each_rtcp_report_block(*view, [&](const RtcpReportBlock& b) {
    if (!first) return;
    first = false;
    blocks.store(blocks.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    fraction_lost.store(b.fraction_lost, std::memory_order_relaxed);
    cumulative_lost.store(b.cumulative_lost, std::memory_order_relaxed);
    jitter.store(b.jitter, std::memory_order_relaxed);
    // The round trip, when the report answers the last SR sent (RFC 3550
    // §6.4.1); DLSR in 1/65536 s.
    if (b.last_sr == 0 || b.last_sr != sent_lsr || sent_ns == 0) return;
    const int64_t rtt = now_ns - sent_ns - int64_t((uint64_t(b.delay_since_sr) * 1'000'000'000) >> 16);
    if (rtt < 0) return;
    rtt_us.store(uint32_t(rtt / 1000), std::memory_order_relaxed);
    rtt_samples.store(rtt_samples.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  });
  for (RtcpPacketHeader h : *view)
    if (h.type == kRtcpXr)
      if (const uint8_t mos = xr_mos_lq(h)) xr_mos_q10.store(mos, std::memory_order_relaxed);
}

}  // namespace vox::dataplane
