// TranscodeSlot: counters published for the control plane.
#include "dataplane/transcode.h"

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
  };
  for (size_t i = 0; i < kTranscodeCounterCount; ++i)
    published[i].store(v[i], std::memory_order_relaxed);
}

}  // namespace vox::dataplane
