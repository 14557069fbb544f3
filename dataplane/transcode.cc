// TranscodeSlot: counters published for the control plane (each set by its
// name), and RTCP receiver reports fed back to the transcoder.
#include "dataplane/transcode.h"

#include "dataplane/rtcp.h"

namespace vox::dataplane {

void TranscodeSlot::publish() {
  const codecs::TranscoderCounters& c = transcoder->counters();
  auto set = [this](TranscodeCounter k, uint64_t v) { published[size_t(k)].store(v, std::memory_order_relaxed); };
  set(TranscodeCounter::kPacketsIn, c.packets_in);
  set(TranscodeCounter::kPacketsOut, packets_out);
  set(TranscodeCounter::kFramesDecoded, c.frames_decoded);
  set(TranscodeCounter::kFramesEncoded, c.frames_encoded);
  set(TranscodeCounter::kFramesConcealed, c.frames_concealed);
  set(TranscodeCounter::kFecRecovered, c.frames_fec_recovered);
  set(TranscodeCounter::kLateDropped, c.late_dropped);
  set(TranscodeCounter::kDecodeErrors, c.decode_errors);
  set(TranscodeCounter::kDtmfPassed, c.dtmf_events_passed);
  set(TranscodeCounter::kDtmfDetected, c.dtmf_events_detected);
  set(TranscodeCounter::kDtmfGenerated, c.dtmf_events_generated);
  set(TranscodeCounter::kOverflow, c.output_overflow);
  set(TranscodeCounter::kReceiverReports, c.receiver_reports);
  set(TranscodeCounter::kFramesEncodedFec, c.frames_encoded_fec);
}

void feed_receiver_reports(TranscodeSlot& slot, const uint8_t* rtcp, size_t len) {
  auto view = parse_rtcp_compound(rtcp, len, true);
  if (!view.ok()) return;
  for_each_rtcp_report_block(*view, [&](const RtcpReportBlock& b) {
    slot.transcoder->on_receiver_report(b.ssrc, b.fraction_lost);
  });
  slot.publish();
}

}  // namespace vox::dataplane
