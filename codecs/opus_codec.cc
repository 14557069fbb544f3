// libopus behind the NarrowbandOpusEncoder / NarrowbandOpusDecoder wrappers: 8 kHz mono,
// application VOIP, every libopus error code mapped to an OpusError value.
#include "codecs/opus_codec.h"

#include <opus.h>

namespace vox::codecs {

namespace {

OpusError from_opus(int err) {
  switch (err) {
    case OPUS_BAD_ARG:
      return OpusError::kBadArgument;
    case OPUS_BUFFER_TOO_SMALL:
      return OpusError::kBufferTooSmall;
    case OPUS_INVALID_PACKET:
      return OpusError::kInvalidPacket;
    case OPUS_ALLOC_FAIL:
      return OpusError::kOutOfMemory;
    default:
      return OpusError::kInternal;
  }
}

Result<bool, OpusError> ctl_result(int err) {
  if (err != OPUS_OK) return Err{from_opus(err)};
  return true;
}

}  // namespace

// --- encoder ----------------------------------------------------------------

bool NarrowbandOpusEncoder::valid_frame_samples(size_t n) {
  return n == 20 || n == 40 || n == 80 || n == 160 || n == 240 || n == 320 || n == 480;
}

Result<NarrowbandOpusEncoder, OpusError> NarrowbandOpusEncoder::create(const OpusEncoderConfig& c) {
  if (c.complexity < 0 || c.complexity > 10 || c.bitrate < 6000 || c.bitrate > 510000 ||
      c.packet_loss_percent < 0 || c.packet_loss_percent > 100)
    return Err{OpusError::kBadArgument};
  int err = OPUS_OK;
  ::OpusEncoder* e = opus_encoder_create(int(kNarrowbandHz), 1, OPUS_APPLICATION_VOIP, &err);
  if (err != OPUS_OK || e == nullptr) return Err{from_opus(err)};
  NarrowbandOpusEncoder enc(e);
  if (opus_encoder_ctl(e, OPUS_SET_COMPLEXITY(c.complexity)) != OPUS_OK ||
      opus_encoder_ctl(e, OPUS_SET_BITRATE(c.bitrate)) != OPUS_OK ||
      opus_encoder_ctl(e, OPUS_SET_INBAND_FEC(c.fec ? 1 : 0)) != OPUS_OK ||
      opus_encoder_ctl(e, OPUS_SET_DTX(c.dtx ? 1 : 0)) != OPUS_OK ||
      opus_encoder_ctl(e, OPUS_SET_PACKET_LOSS_PERC(c.packet_loss_percent)) != OPUS_OK)
    return Err{OpusError::kBadArgument};
  return enc;
}

NarrowbandOpusEncoder::~NarrowbandOpusEncoder() {
  if (enc_) opus_encoder_destroy(enc_);
}

NarrowbandOpusEncoder& NarrowbandOpusEncoder::operator=(NarrowbandOpusEncoder&& o) noexcept {
  if (this != &o) {
    if (enc_) opus_encoder_destroy(enc_);
    enc_ = o.enc_;
    o.enc_ = nullptr;
  }
  return *this;
}

Result<size_t, OpusError> NarrowbandOpusEncoder::encode(const int16_t* pcm, size_t samples,
                                                        uint8_t* out, size_t cap) {
  if (!valid_frame_samples(samples)) return Err{OpusError::kBadArgument};
  const opus_int32 max = opus_int32(cap < kOpusMaxPacketBytes ? cap : kOpusMaxPacketBytes);
  if (samples == 240) {
    // 30 ms is no Opus frame size (RFC 6716 §2.1.4): three 10 ms frames
    // joined into one code-3 packet (§3.2.5) by the repacketizer, whose
    // state (496 octets in 1.3.1) lives on the stack.
    alignas(16) unsigned char rp_mem[1024];
    unsigned char parts[3][1275];
    if (size_t(opus_repacketizer_get_size()) > sizeof(rp_mem)) return Err{OpusError::kInternal};
    OpusRepacketizer* rp = opus_repacketizer_init(reinterpret_cast<OpusRepacketizer*>(rp_mem));
    for (size_t i = 0; i < 3; ++i) {
      const opus_int32 n = opus_encode(enc_, pcm + 80 * i, 80, parts[i], max < 1275 ? max : 1275);
      if (n < 0) return Err{from_opus(n)};
      const int err = opus_repacketizer_cat(rp, parts[i], n);
      if (err != OPUS_OK) return Err{from_opus(err)};
    }
    const opus_int32 n = opus_repacketizer_out(rp, out, max);
    if (n < 0) return Err{from_opus(n)};
    return size_t(n);
  }
  const opus_int32 n = opus_encode(enc_, pcm, int(samples), out, max);
  if (n < 0) return Err{from_opus(n)};
  return size_t(n);
}

Result<bool, OpusError> NarrowbandOpusEncoder::set_bitrate(int32_t bps) {
  return ctl_result(opus_encoder_ctl(enc_, OPUS_SET_BITRATE(bps)));
}
Result<bool, OpusError> NarrowbandOpusEncoder::set_complexity(int complexity) {
  return ctl_result(opus_encoder_ctl(enc_, OPUS_SET_COMPLEXITY(complexity)));
}
Result<bool, OpusError> NarrowbandOpusEncoder::set_packet_loss_percent(int percent) {
  return ctl_result(opus_encoder_ctl(enc_, OPUS_SET_PACKET_LOSS_PERC(percent)));
}

size_t NarrowbandOpusEncoder::state_size() {
  return size_t(opus_encoder_get_size(1));
}

// --- decoder ----------------------------------------------------------------

Result<NarrowbandOpusDecoder, OpusError> NarrowbandOpusDecoder::create() {
  int err = OPUS_OK;
  ::OpusDecoder* d = opus_decoder_create(int(kNarrowbandHz), 1, &err);
  if (err != OPUS_OK || d == nullptr) return Err{from_opus(err)};
  return NarrowbandOpusDecoder(d);
}

NarrowbandOpusDecoder::~NarrowbandOpusDecoder() {
  if (dec_) opus_decoder_destroy(dec_);
}

NarrowbandOpusDecoder& NarrowbandOpusDecoder::operator=(NarrowbandOpusDecoder&& o) noexcept {
  if (this != &o) {
    if (dec_) opus_decoder_destroy(dec_);
    dec_ = o.dec_;
    o.dec_ = nullptr;
  }
  return *this;
}

Result<size_t, OpusError> NarrowbandOpusDecoder::decode(const uint8_t* data, size_t len,
                                                        int16_t* pcm, size_t max_samples) {
  if (len == 0 || len > kOpusMaxPacketBytes) return Err{OpusError::kInvalidPacket};
  const int n = opus_decode(dec_, data, opus_int32(len), pcm, int(max_samples), 0);
  if (n < 0) return Err{from_opus(n)};
  return size_t(n);
}

Result<size_t, OpusError> NarrowbandOpusDecoder::decode_fec(const uint8_t* next, size_t len,
                                                            int16_t* pcm, size_t samples) {
  if (len == 0 || len > kOpusMaxPacketBytes) return Err{OpusError::kInvalidPacket};
  const int n = opus_decode(dec_, next, opus_int32(len), pcm, int(samples), 1);
  if (n < 0) return Err{from_opus(n)};
  return size_t(n);
}

Result<size_t, OpusError> NarrowbandOpusDecoder::conceal(int16_t* pcm, size_t samples) {
  const int n = opus_decode(dec_, nullptr, 0, pcm, int(samples), 0);
  if (n < 0) return Err{from_opus(n)};
  return size_t(n);
}

void NarrowbandOpusDecoder::reset() {
  opus_decoder_ctl(dec_, OPUS_RESET_STATE);
}

size_t NarrowbandOpusDecoder::state_size() {
  return size_t(opus_decoder_get_size(1));
}

// --- packet inspection --------------------------------------------------------

Result<size_t, OpusError> opus_packet_samples(const uint8_t* data, size_t len, uint32_t rate_hz) {
  if (len == 0 || len > kOpusMaxPacketBytes) return Err{OpusError::kInvalidPacket};
  const int n = opus_packet_get_nb_samples(data, opus_int32(len), opus_int32(rate_hz));
  if (n < 0) return Err{from_opus(n)};
  if (n == 0) return Err{OpusError::kInvalidPacket};
  return size_t(n);
}

bool opus_packet_has_fec(const uint8_t* data, size_t len) {
  if (len == 0 || len > kOpusMaxPacketBytes) return false;
  const int config = data[0] >> 3;  // RFC 6716 §3.1: configs 16..31 are CELT-only
  if (config >= 16) return false;
  const unsigned char* frames[48];
  opus_int16 sizes[48];
  if (opus_packet_parse(data, opus_int32(len), nullptr, frames, sizes, nullptr) <= 0 ||
      sizes[0] == 0)
    return false;
  // §4.2.3: the SILK layer opens with one VAD flag per 20 ms SILK frame then
  // the LBRR flag, all coded with probability 1/2. At the very start of the
  // range coder (§4.1) such symbols equal the raw leading bits of the frame.
  const int per_frame_48k = opus_packet_get_samples_per_frame(data, 48000);
  const int silk_frames = per_frame_48k > 960 ? per_frame_48k / 960 : 1;
  const uint8_t b0 = frames[0][0];
  bool lbrr = ((b0 >> (7 - silk_frames)) & 1) != 0;
  if (opus_packet_get_nb_channels(data) == 2)
    lbrr = lbrr || ((b0 >> (6 - 2 * silk_frames)) & 1) != 0;
  return lbrr;
}

}  // namespace vox::codecs
