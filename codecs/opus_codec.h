// RAII libopus encoder and decoder for the G.711 <-> Opus transcoder. Both
// run at 8 kHz mono: G.711 is narrowband, so feeding Opus 8 kHz PCM and
// decoding to 8 kHz avoids a resampler and halves the encoder's cost (the
// RTP clock on the Opus side stays 48 kHz, RFC 7587 §4.1). libopus types are
// only forward-declared here; <opus.h> stays in opus_codec.cc. The classes
// are named Narrowband* so they never collide with libopus's global
// OpusEncoder / OpusDecoder, even under a using-directive.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/names.h"
#include "base/result.h"

struct OpusEncoder;  // libopus
struct OpusDecoder;

namespace vox::codecs {

inline constexpr uint32_t kOpusRtpClockHz = 48000;  // RFC 7587 §4.1
inline constexpr uint32_t kNarrowbandHz = 8000;
// Longest Opus packet: 120 ms (RFC 6716 §3.2.5), in 8 kHz samples.
inline constexpr size_t kOpusMaxPacketSamples8k = 960;
// Largest packet we ask libopus for: 3 frames of 1275 octets (§3.4).
inline constexpr size_t kOpusMaxPacketBytes = 3 * 1275;

// Complexity 5 is the default: measured here (TARGETS.md, 20 ms frames of
// 8 kHz speech at 24 kbit/s) an encode costs 30 / 69 / 123 µs at complexity
// 0 / 5 / 10. 5 keeps a transcoded call (encode + decode + G.711) near 80 µs
// per 20 ms, ≈5.8x fewer CPU than rtpengine's 230 µs per call-direction
// (target ≥ 3x), with room left for I/O and SRTP; 10 would still meet 3x but
// spends 1.8x the CPU on a narrowband SILK gain that a PSTN leg cannot hear.
inline constexpr int kDefaultOpusComplexity = 5;
// 24 kbit/s: narrowband SILK is transparent well below this, and it is the
// rate the reference figures were measured at.
inline constexpr int32_t kDefaultOpusBitrate = 24000;

struct OpusEncoderConfig {
  int complexity = kDefaultOpusComplexity;  // 0..10
  int32_t bitrate = kDefaultOpusBitrate;    // 6000..510000 bit/s
  bool fec = false;                         // in-band FEC (the peer offered useinbandfec=1)
  bool dtx = false;                         // discontinuous transmission (usedtx=1)
  // Expected loss, 0..100. With fec, libopus adds LBRR (in-band FEC; +29 %
  // encode CPU at 10 %, bench/RESULTS.md) only when this is above 0; it also
  // makes SILK scale down its long-term prediction so a loss propagates
  // less. The transcoder sets it at run time from the receiver's reports.
  int packet_loss_percent = 0;
};

enum class OpusError : uint8_t {
  kBadArgument,     // OPUS_BAD_ARG: a config value or frame size libopus rejects
  kBufferTooSmall,  // OPUS_BUFFER_TOO_SMALL
  kInvalidPacket,   // OPUS_INVALID_PACKET: malformed TOC or frame lengths (RFC 6716 §3.4)
  kOutOfMemory,     // OPUS_ALLOC_FAIL
  kInternal,        // OPUS_INTERNAL_ERROR / anything else
  kCount
};
inline constexpr EnumNames<OpusError> kOpusErrorNames = {{
    {OpusError::kBadArgument, "bad-argument"},
    {OpusError::kBufferTooSmall, "buffer-too-small"},
    {OpusError::kInvalidPacket, "invalid-packet"},
    {OpusError::kOutOfMemory, "out-of-memory"},
    {OpusError::kInternal, "internal"},
}};
static_assert(kOpusErrorNames.complete());
inline const char* to_string(OpusError e) { return kOpusErrorNames[e]; }

class NarrowbandOpusEncoder {
 public:
  // Frame sizes at 8 kHz: Opus's 2.5, 5, 10, 20, 40, 60 ms, and 30 ms sent
  // as three 10 ms frames in one packet.
  static bool valid_frame_samples(size_t n);

  static Result<NarrowbandOpusEncoder, OpusError> create(const OpusEncoderConfig& config);
  ~NarrowbandOpusEncoder();
  NarrowbandOpusEncoder(NarrowbandOpusEncoder&& o) noexcept : enc_(o.enc_) { o.enc_ = nullptr; }
  NarrowbandOpusEncoder& operator=(NarrowbandOpusEncoder&& o) noexcept;
  NarrowbandOpusEncoder(const NarrowbandOpusEncoder&) = delete;
  NarrowbandOpusEncoder& operator=(const NarrowbandOpusEncoder&) = delete;

  // Encodes one frame of 8 kHz mono PCM into out; returns the packet size.
  // With DTX on, a packet of 2 octets or less need not be sent (libopus
  // docs); a 30 ms packet is never that small, so DTX saves nothing there.
  Result<size_t, OpusError> encode(const int16_t* pcm, size_t samples, uint8_t* out, size_t cap);

  // Runtime knobs (per-call "codec set" options, RTCP loss feedback): one
  // opus_encoder_ctl each, no allocation.
  Result<bool, OpusError> set_bitrate(int32_t bps);
  Result<bool, OpusError> set_complexity(int complexity);
  Result<bool, OpusError> set_packet_loss_percent(int percent);  // 0..100

  static size_t state_size();  // opus_encoder_get_size(1)

 private:
  explicit NarrowbandOpusEncoder(::OpusEncoder* e) : enc_(e) {}
  ::OpusEncoder* enc_;
};

class NarrowbandOpusDecoder {
 public:
  static Result<NarrowbandOpusDecoder, OpusError> create();  // 8 kHz mono output
  ~NarrowbandOpusDecoder();
  NarrowbandOpusDecoder(NarrowbandOpusDecoder&& o) noexcept : dec_(o.dec_) { o.dec_ = nullptr; }
  NarrowbandOpusDecoder& operator=(NarrowbandOpusDecoder&& o) noexcept;
  NarrowbandOpusDecoder(const NarrowbandOpusDecoder&) = delete;
  NarrowbandOpusDecoder& operator=(const NarrowbandOpusDecoder&) = delete;

  // Decodes a packet; returns the samples written (at most max_samples).
  Result<size_t, OpusError> decode(const uint8_t* data, size_t len, int16_t* pcm,
                                   size_t max_samples);
  // Recovers the `samples` preceding `next` from the LBRR data in `next`
  // (in-band FEC); libopus falls back to PLC when next carries none.
  Result<size_t, OpusError> decode_fec(const uint8_t* next, size_t len, int16_t* pcm,
                                       size_t samples);
  // Packet loss concealment for `samples` (a multiple of 2.5 ms, 20 samples).
  Result<size_t, OpusError> conceal(int16_t* pcm, size_t samples);
  void reset();  // a new source: forget the previous stream's state

  static size_t state_size();  // opus_decoder_get_size(1)

 private:
  explicit NarrowbandOpusDecoder(::OpusDecoder* d) : dec_(d) {}
  ::OpusDecoder* dec_;
};

// Samples a packet decodes to at `rate_hz` (from the TOC, RFC 6716 §3.1);
// a packet of no frames at all is invalid (§3.2.5: M must not be 0).
Result<size_t, OpusError> opus_packet_samples(const uint8_t* data, size_t len, uint32_t rate_hz);

// Whether the packet's first frame carries SILK LBRR (in-band FEC) data for
// the previous packet: RFC 6716 §4.2.3-4.2.4, the LBRR flag that follows the
// VAD flags at the start of the SILK layer. CELT-only packets never do.
bool opus_packet_has_fec(const uint8_t* data, size_t len);

}  // namespace vox::codecs
