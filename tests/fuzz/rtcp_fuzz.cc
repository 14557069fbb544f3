// libFuzzer target for dataplane/rtcp.h: parse any input with and without
// reduced-size; when it parses, the packet walk must tile the buffer exactly,
// the view's summary fields must match what the walk sees, and the report
// block walk must stay inside the buffer. Any input also goes to a flow's
// report taker (dataplane/reception.h: report blocks, round trip, RTCP XR
// VoIP metrics), which must read inside the buffer and keep its figures in
// range.
#include <cstddef>
#include <cstdint>

#include "base/bytes.h"
#include "dataplane/reception.h"
#include "dataplane/rtcp.h"

using namespace vox::dataplane;

namespace {

inline void check(bool ok) {
  if (!ok) __builtin_trap();
}

void check_view(const RtcpCompoundView& v, const uint8_t* data, size_t size, bool reduced) {
  check(v.data == data && v.length == size && size % 4 == 0 && v.num_packets >= 1);
  check(reduced || v.first_type == kRtcpSr || v.first_type == kRtcpRr);
  size_t off = 0;
  uint16_t n = 0;
  for (RtcpPacketHeader h : v) {
    check(h.data == data + off);
    check(h.length >= kRtcpHeaderLength && h.length % 4 == 0 && h.length <= size - off);
    check((h.data[0] >> 6) == 2 && h.type == h.data[1] && h.count == (h.data[0] & 0x1f));
    const bool last = off + h.length == size;
    check(!h.padding || last);
    if (h.padding) check(h.data[h.length - 1] == v.padding_length && v.padding_length % 4 == 0);
    if (n == 0) check(h.type == v.first_type);
    if (h.type == kRtcpSr) check(h.length >= 28 + 24 * size_t(h.count));
    if (h.type == kRtcpRr) check(h.length >= 8 + 24 * size_t(h.count));
    off += h.length;
    ++n;
    check(n <= size / 4);
  }
  check(off == size && n == v.num_packets);
  check(!v.has_sender_info || (v.first_type == kRtcpSr && v.has_sender_ssrc));
  if (v.has_sender_ssrc) check(v.sender_ssrc == vox::load_be32(data + 4));
  if (v.has_sender_info) {
    check(v.sender_info.ntp_timestamp == vox::load_be64(data + 8));
    check(v.sender_info.octet_count == vox::load_be32(data + 24));
  }
  size_t count = 0;
  for_each_rtcp_packet(v, [&](const RtcpPacketHeader&) { ++count; });
  check(count == v.num_packets);
  // The report-block walk reads only inside the buffer (ASan) and sees RC
  // blocks per SR/RR.
  size_t blocks = 0, want_blocks = 0;
  for (RtcpPacketHeader h : v)
    if (h.type == kRtcpSr || h.type == kRtcpRr) want_blocks += h.count;
  for_each_rtcp_report_block(v, [&](const RtcpReportBlock& b) {
    ++blocks;
    check(b.cumulative_lost >= -(1 << 23) && b.cumulative_lost < (1 << 23));
  });
  check(blocks == want_blocks);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto strict = parse_rtcp_compound(data, size, false);
  auto reduced = parse_rtcp_compound(data, size, true);
  // Reduced-size only relaxes the first-type rule.
  if (strict.ok()) check(reduced.ok());
  if (!strict.ok() && reduced.ok()) check(strict.error() == RtcpError::kBadFirstType);
  if (!strict.ok()) check(to_string(strict.error()) != nullptr);
  if (strict.ok()) check_view(*strict, data, size, false);
  if (reduced.ok()) check_view(*reduced, data, size, true);
  if (size > 65535) return 0;
  FlowReports reports;
  reports.sent_sr(0x0000'1111'2222'0000ull, 1'000'000'000);
  reports.take(data, uint16_t(size), 2'000'000'000);
  const ReportSnapshot r = reports.snapshot();
  check(r.blocks <= 1);  // the first block only
  if (!reduced.ok()) check(r.blocks == 0 && r.xr_mos_q10 == 0);
  check(r.xr_mos_q10 == 0 || (r.xr_mos_q10 >= 10 && r.xr_mos_q10 <= 50));
  check(r.rtt_samples == 0 || r.rtt_us <= 1'000'000);  // never older than the SR
  return 0;
}
