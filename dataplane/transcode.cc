// TranscodeSlot: counters published for the control plane, and RTCP
// receiver reports fed back to the transcoder.
#include "dataplane/transcode.h"

#include "dataplane/rtcp.h"

namespace vox::dataplane {

const char* to_string(TranscodeCounter c) {
  switch (c) {
    case TranscodeCounter::kPacketsIn: return "packets in";
    case TranscodeCounter::kPacketsOut: return "packets out";
    case TranscodeCounter::kFramesDecoded: return "frames decoded";
    case TranscodeCounter::kFramesEncoded: return "frames encoded";
    case TranscodeCounter::kFramesConcealed: return "frames concealed";
    case TranscodeCounter::kFecRecovered: return "frames recovered by FEC";
    case TranscodeCounter::kLateDropped: return "late or duplicate dropped";
    case TranscodeCounter::kDecodeErrors: return "decode errors";
    case TranscodeCounter::kDtmfPassed: return "DTMF events passed";
    case TranscodeCounter::kDtmfDetected: return "DTMF events detected";
    case TranscodeCounter::kDtmfGenerated: return "DTMF events generated";
    case TranscodeCounter::kOverflow: return "output overflow";
    case TranscodeCounter::kReceiverReports: return "receiver reports";
    case TranscodeCounter::kFramesEncodedFec: return "frames encoded with FEC on";
    case TranscodeCounter::kCount: break;
  }
  return "?";
}

void TranscodeSlot::publish() {
  const codecs::TranscoderCounters& c = transcoder->counters();
  const uint64_t v[kTranscodeCounterCount] = {
      c.packets_in,         packets_out,        c.frames_decoded,       c.frames_encoded,
      c.frames_concealed,   c.frames_fec_recovered, c.late_dropped,     c.decode_errors,
      c.dtmf_events_passed, c.dtmf_events_detected, c.dtmf_events_generated, c.output_overflow,
      c.receiver_reports,   c.frames_encoded_fec,
  };
  for (size_t i = 0; i < kTranscodeCounterCount; ++i)
    published[i].store(v[i], std::memory_order_relaxed);
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
