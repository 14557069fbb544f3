// Transcoding on the worker that owns the call. A flow whose direction
// needs a codec change (G.711 <-> Opus, or repacketization) carries a
// TranscodeSlot: the pipeline hands that flow's RTP to the slot's
// codecs::Transcoder instead of forwarding it, and the packets it generates
// (own SSRC, sequence, timestamps) leave from the worker's
// GeneratedPackets, which the backend sends after each burst.
//
// Ownership: the control plane creates a slot (Opus state allocation
// happens there, never on the worker) and hands it over in a kSetTranscode
// command; from then on the worker owns it and deletes it when it is
// replaced or its flow removed. The control plane keeps reading the
// published counters through its pointer until it posts that replacement
// or removal, and never afterwards.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "base/names.h"
#include "codecs/transcoder.h"
#include "dataplane/flow.h"
#include "dataplane/packet.h"

namespace vox::dataplane {

// Transcoder counters as the control plane sees them (NG query/statistics).
enum class TranscodeCounter : uint8_t {
  kPacketsIn,
  kPacketsOut,
  kFramesDecoded,
  kFramesEncoded,
  kFramesConcealed,
  kFecRecovered,
  kLateDropped,
  kDecodeErrors,
  kDtmfPassed,
  kDtmfDetected,
  kDtmfGenerated,
  kOverflow,
  kReceiverReports,
  kFramesEncodedFec,
  kCount
};
inline constexpr size_t kTranscodeCounterCount = size_t(TranscodeCounter::kCount);
inline constexpr EnumNames<TranscodeCounter> kTranscodeCounterNames = {{
    {TranscodeCounter::kPacketsIn, "packets in"},
    {TranscodeCounter::kPacketsOut, "packets out"},
    {TranscodeCounter::kFramesDecoded, "frames decoded"},
    {TranscodeCounter::kFramesEncoded, "frames encoded"},
    {TranscodeCounter::kFramesConcealed, "frames concealed"},
    {TranscodeCounter::kFecRecovered, "frames recovered by FEC"},
    {TranscodeCounter::kLateDropped, "late or duplicate dropped"},
    {TranscodeCounter::kDecodeErrors, "decode errors"},
    {TranscodeCounter::kDtmfPassed, "DTMF events passed"},
    {TranscodeCounter::kDtmfDetected, "DTMF events detected"},
    {TranscodeCounter::kDtmfGenerated, "DTMF events generated"},
    {TranscodeCounter::kOverflow, "output overflow"},
    {TranscodeCounter::kReceiverReports, "receiver reports"},
    {TranscodeCounter::kFramesEncodedFec, "frames encoded with FEC on"},
}};
static_assert(kTranscodeCounterNames.complete());
inline const char* to_string(TranscodeCounter c) { return kTranscodeCounterNames[c]; }

struct TranscodeSlot {
  explicit TranscodeSlot(std::unique_ptr<codecs::Transcoder> t) : transcoder(std::move(t)) {}
  std::unique_ptr<codecs::Transcoder> transcoder;
  uint64_t packets_out = 0;  // worker only
  // The relay's own RTCP toward the party this transcoder sends to
  // (rtcp_report.h), every rtcp_interval_ns (0: none; set before hand-over).
  // The rest is the worker's.
  int64_t rtcp_interval_ns = 0;
  int64_t next_rtcp_ns = 0;          // 0: no packet out yet
  uint32_t out_ssrc = 0, out_timestamp = 0;
  uint64_t octets_out = 0;
  uint64_t prior_expected = 0, prior_received = 0;  // at the last report block
  std::atomic<uint64_t> published[kTranscodeCounterCount] = {};

  // Worker: copies the transcoder's counters for the control plane.
  void publish();
  uint64_t get(TranscodeCounter c) const {
    return published[size_t(c)].load(std::memory_order_relaxed);
  }
};

// Hands every SR/RR report block of an RTCP compound (any first type, RFC
// 5506) to the slot's transcoder, which keeps those about its own output
// SSRC: RTCP from the party the transcoder sends to sets its Opus expected
// loss. Malformed input is ignored. Never allocates or throws.
void feed_receiver_reports(TranscodeSlot& slot, const uint8_t* rtcp, size_t len);

// Packets the transcoders produced during one burst, RTP header included,
// in worker-owned memory, with where they go. Allocated with the first
// slot a worker gets; a worker that never transcodes never has one.
struct GeneratedPackets {
  static constexpr uint32_t kSlots = 256;
  static constexpr uint32_t kSlotBytes = 1500;
  static constexpr uint32_t kRxIndex = 0xffffffffu;  // TxPacket::rx_index of these

  alignas(64) uint8_t buffers[kSlots][kSlotBytes];
  TxPacket out[kSlots];  // out[i].data points into buffers[i]
  uint32_t count = 0;
};

}  // namespace vox::dataplane
