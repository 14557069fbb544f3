// The relay's own RTCP (RFC 3550 §6.4.1, §6.5) for the streams it
// generates (a transcoder's output): a compound of one SR, with a
// reception report block about the stream the relay receives from the same
// party when there is one, and an SDES with a CNAME (§6.1: every compound
// carries one). The party then has a sender report for the SSRC it hears
// and a report on what it sends, which a forwarded SR of the other party
// (another SSRC, another clock) could never give it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dataplane/reception.h"
#include "dataplane/rtcp.h"

namespace vox::dataplane {

inline constexpr size_t kOwnRtcpMaxLength = 76;  // SR with one block (52) + SDES CNAME (24)

// What the SR says about the relay's stream.
struct OwnSender {
  uint32_t ssrc = 0;
  uint64_t ntp = 0;            // wall clock now, NTP 32.32
  uint32_t rtp_timestamp = 0;  // the stream's, at about that time
  uint32_t packets = 0;
  uint32_t octets = 0;         // payload octets (§6.4.1)
};

// The reception report block about the party's stream, from its
// FlowReception; `prior_*` hold the previous report's totals (for the
// fraction lost in between, A.3) and are advanced.
struct OwnReport {
  bool present = false;
  RtcpReportBlock block{};
};
OwnReport report_on(const FlowReception& rx, const FlowReports& reports, int64_t now_ns,
                    uint64_t& prior_expected, uint64_t& prior_received);

// Writes the compound into p (room for kOwnRtcpMaxLength); returns its length.
size_t write_own_rtcp(uint8_t* p, const OwnSender& s, const OwnReport& r);

// The wall clock as NTP 32.32 (seconds since 1900).
uint64_t ntp_now();

}  // namespace vox::dataplane
