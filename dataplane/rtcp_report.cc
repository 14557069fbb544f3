// The relay's own RTCP compound (dataplane/rtcp_report.h).
#include "dataplane/rtcp_report.h"

#include <time.h>

#include <algorithm>
#include <cstdio>

#include "base/bytes.h"
#include "dataplane/rtcp.h"

namespace vox::dataplane {

namespace {

constexpr uint64_t kNtpUnixOffset = 2'208'988'800;  // 1900 -> 1970, seconds
constexpr uint8_t kSdesCname = 1;
constexpr size_t kCnameLength = 12;  // "vox-" + 8 hex digits

void write_block(uint8_t* p, const RtcpReportBlock& b) {
  store_be32(p, b.ssrc);
  store_be32(p + 4, uint32_t(b.fraction_lost) << 24 | (uint32_t(b.cumulative_lost) & 0xffffff));
  store_be32(p + 8, b.highest_seq);
  store_be32(p + 12, b.jitter);
  store_be32(p + 16, b.last_sr);
  store_be32(p + 20, b.delay_since_sr);
}

}  // namespace

uint64_t ntp_now() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  const uint64_t frac = (uint64_t(ts.tv_nsec) << 32) / 1'000'000'000;
  return (uint64_t(ts.tv_sec) + kNtpUnixOffset) << 32 | frac;
}

OwnReport report_on(const FlowReception& rx, const FlowReports& reports, int64_t now_ns,
                    uint64_t& prior_expected, uint64_t& prior_received) {
  OwnReport r;
  const ReceptionSnapshot s = rx.snapshot();
  if (!s.received) return r;
  r.present = true;
  RtcpReportBlock& b = r.block;
  b.ssrc = s.ssrc;
  // A.3: the fraction lost since the last report, 0 if duplicates made up for it.
  const int64_t expected = int64_t(s.expected - std::min(prior_expected, s.expected));
  const int64_t received = int64_t(s.received - std::min(prior_received, s.received));
  const int64_t lost = expected - received;
  b.fraction_lost = expected > 0 && lost > 0 ? uint8_t(std::min<int64_t>((lost << 8) / expected, 255)) : 0;
  prior_expected = s.expected;
  prior_received = s.received;
  b.cumulative_lost = int32_t(std::clamp<int64_t>(s.lost, -0x800000, 0x7fffff));
  b.highest_seq = rx.extended_max.load(std::memory_order_relaxed);
  b.jitter = rx.jitter_q4.load(std::memory_order_relaxed) >> 4;
  if (reports.received_ns) {
    b.last_sr = reports.received_lsr;
    b.delay_since_sr = uint32_t((uint64_t(now_ns - reports.received_ns) << 16) / 1'000'000'000);
  }
  return r;
}

size_t write_own_rtcp(uint8_t* p, const OwnSender& s, const OwnReport& r) {
  const uint8_t blocks = r.present ? 1 : 0;
  const size_t sr_length = kRtcpHeaderLength + 4 + kRtcpSenderInfoLength + blocks * kRtcpReportBlockLength;
  p[0] = uint8_t(0x80 | blocks);  // V=2, RC
  p[1] = kRtcpSr;
  store_be16(p + 2, uint16_t(sr_length / 4 - 1));
  store_be32(p + 4, s.ssrc);
  store_be32(p + 8, uint32_t(s.ntp >> 32));
  store_be32(p + 12, uint32_t(s.ntp));
  store_be32(p + 16, s.rtp_timestamp);
  store_be32(p + 20, s.packets);
  store_be32(p + 24, s.octets);
  if (r.present) write_block(p + 28, r.block);
  // SDES: one chunk, the CNAME item, a null item ending it, padded to 32 bits.
  uint8_t* d = p + sr_length;
  constexpr size_t kChunk = 4 + 2 + kCnameLength;           // SSRC, type, length, text
  constexpr size_t kSdesLength = kRtcpHeaderLength + (kChunk + 1 + 3) / 4 * 4;  // + null, padded
  d[0] = 0x81;  // V=2, SC=1
  d[1] = kRtcpSdes;
  store_be16(d + 2, uint16_t(kSdesLength / 4 - 1));
  store_be32(d + 4, s.ssrc);
  d[8] = kSdesCname;
  d[9] = uint8_t(kCnameLength);
  char cname[kCnameLength + 1];
  std::snprintf(cname, sizeof cname, "vox-%08x", s.ssrc);
  std::copy(cname, cname + kCnameLength, d + 10);
  std::fill(d + 10 + kCnameLength, d + kSdesLength, uint8_t(0));
  return sr_length + kSdesLength;
}

}  // namespace vox::dataplane
