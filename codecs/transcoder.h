// One direction of a transcoded RTP stream (G.711 <-> Opus), as pure code:
// fed the input packets' payloads and header fields, it writes the payloads
// to send, with their own SSRC, sequence numbers and timestamps, into
// caller-provided buffers. No jitter buffer: an output frame leaves as soon
// as its audio is complete (added latency <= one output packet time), loss
// is concealed when the next packet shows the gap, and a packet whose slot
// was already concealed is dropped. DTMF crosses as RFC 4733 events (clock
// converted) or as in-band tones, whichever each side supports.
//
// Memory (Debian 12, libopus 1.3.1, SpanDSP 0.0.6; memory_bytes() computes
// it): sizeof(Transcoder) is 1440 bytes, plus 43572 bytes of Opus encoder
// state on a G.711 -> Opus direction or 18228 of decoder state on Opus ->
// G.711, 1056 of SpanDSP PLC on a G.711 input, and under 0.5 KB per DTMF
// detector or generator. The heaviest call (both directions, one detecting
// and one generating DTMF) is 66496 bytes, under the 80 KB target. Decode
// scratch (up to 120 ms of PCM) lives on the caller's stack, not per call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "codecs/dtmf.h"
#include "codecs/g711_plc.h"
#include "codecs/opus_codec.h"
#include "base/names.h"
#include "base/result.h"

namespace vox::codecs {

enum class AudioCodec : uint8_t {
  kPcmu,  // G.711 µ-law, 8 kHz RTP clock (RFC 3551 §4.5.14)
  kPcma,  // G.711 A-law, 8 kHz
  kOpus,  // Opus, 48 kHz RTP clock (RFC 7587 §4.1), coded / decoded at 8 kHz here
};

inline constexpr int kNoPayloadType = -1;
inline constexpr uint8_t kComfortNoisePt = 13;  // RFC 3551 static CN (RFC 3389)

// Packet times a transcoder produces toward `out`: Opus 10, 20, 30, 40 or
// 60 ms; G.711, whose frames are single samples (RFC 3551 §4.5.14), any
// whole number of milliseconds from 10 to 60 (the output frame buffer).
constexpr bool valid_out_ptime(AudioCodec out, int ms) {
  if (out == AudioCodec::kOpus) return ms == 10 || ms == 20 || ms == 30 || ms == 40 || ms == 60;
  return ms >= 10 && ms <= 60;
}

struct TranscoderConfig {
  AudioCodec in_codec = AudioCodec::kPcmu;
  uint8_t in_pt = 0;
  int in_event_pt = kNoPayloadType;  // telephone-event on the input side, or none
  int in_ptime_ms = 20;              // negotiated; packets are measured, this is the first guess
  AudioCodec out_codec = AudioCodec::kOpus;
  uint8_t out_pt = 111;
  int out_event_pt = kNoPayloadType;
  int out_ptime_ms = 20;  // output repacketization: valid_out_ptime(out_codec, ms)
  // The Opus peer negotiated in-band FEC (useinbandfec=1): an Opus output
  // may carry LBRR, once the peer reports loss (on_receiver_report), and a
  // lost Opus input packet is rebuilt from the LBRR in the packet after it.
  bool far_side_fec = false;
  // When out_codec is kOpus. opus.fec is overridden by far_side_fec and
  // opus.packet_loss_percent by the reported loss (0 until a report).
  OpusEncoderConfig opus;
  uint32_t out_ssrc = 0;   // the caller picks these (random, RFC 3550 §5.1)
  uint16_t out_first_seq = 0;
  uint32_t out_first_ts = 0;
};

enum class TranscoderError : uint8_t {
  kBadPtime,        // out_ptime_ms not valid_out_ptime, or in_ptime_ms outside 10..120
  kBadPayloadType,  // a payload type above 127, or two roles sharing one
  kOpusInit,        // libopus rejected the encoder settings or could not allocate
  kCount
};
inline constexpr EnumNames<TranscoderError> kTranscoderErrorNames = {{
    {TranscoderError::kBadPtime, "bad-ptime"},
    {TranscoderError::kBadPayloadType, "bad-payload-type"},
    {TranscoderError::kOpusInit, "opus-init"},
}};
static_assert(kTranscoderErrorNames.complete());
inline const char* to_string(TranscoderError e) { return kTranscoderErrorNames[e]; }

// An input RTP packet: header fields as parsed, payload without padding.
struct InputPacket {
  uint32_t ssrc = 0;
  uint16_t seq = 0;
  uint32_t timestamp = 0;
  uint8_t payload_type = 0;
  bool marker = false;
  std::span<const uint8_t> payload;
  int64_t arrival_ns = 0;
};

// One output packet slot. The caller points `buffer` at payload space (e.g.
// an mbuf after room for the 12-octet header); process() fills the rest.
struct OutputPacket {
  std::span<uint8_t> buffer;
  uint32_t ssrc = 0;
  uint16_t seq = 0;
  uint32_t timestamp = 0;
  uint8_t payload_type = 0;
  bool marker = false;
  uint16_t size = 0;  // payload octets written
};

// Every reason a packet or frame is dropped or synthesized has a counter.
struct TranscoderCounters {
  uint64_t packets_in = 0;
  uint64_t frames_decoded = 0;        // input audio packets decoded
  uint64_t frames_encoded = 0;        // output audio frames encoded (sent or DTX)
  uint64_t frames_concealed = 0;      // lost input frames synthesized by PLC
  uint64_t frames_fec_recovered = 0;  // lost input frames rebuilt from Opus in-band FEC
  uint64_t late_dropped = 0;          // late or duplicate: at or behind what was already emitted
  uint64_t seq_jump_dropped = 0;      // sequence far out of range, on probation (RFC 3550 A.1)
  uint64_t decode_errors = 0;         // malformed payload (treated as lost)
  uint64_t unknown_pt_dropped = 0;
  uint64_t comfort_noise = 0;          // CN packets received (RFC 3389): silence follows
  uint64_t dtx_suppressed = 0;         // Opus DTX frames not sent (RFC 7587 §3.1.3)
  uint64_t silence_gaps = 0;           // talkspurt boundaries (timestamp gaps without loss)
  uint64_t source_changes = 0;         // new input SSRC, sequence or timestamp restart
  uint64_t output_overflow = 0;        // frames lost: output slots or a slot buffer too small
  uint64_t dtmf_events_passed = 0;     // RFC 4733 events forwarded with clock conversion
  uint64_t dtmf_events_detected = 0;   // in-band digits turned into RFC 4733 events
  uint64_t dtmf_events_generated = 0;  // RFC 4733 events turned into in-band tones
  uint64_t events_dropped = 0;         // events with no way out (not DTMF, or malformed)
  uint64_t receiver_reports = 0;       // RTCP report blocks about the output (Opus only)
  uint64_t frames_encoded_fec = 0;     // Opus frames encoded with in-band FEC on
};

// Opus expected loss follows the receiver's RTCP reports (RFC 3550 §6.4.1
// "fraction lost" about our SSRC). Up at once to a reported loss, down by
// at most half per report: loss-free reports take FEC away after 5 reports
// from 10 % loss, 8 from the worst. The expected loss is the smoothed
// fraction rounded up to a whole percent (any loss turns FEC on), at most
// 30: libopus (1.3) stops strengthening its FEC at 25 %; more would only
// cost quality.
inline constexpr int kMaxExpectedLossPercent = 30;

class Transcoder {
 public:
  // Output slots one process() call can need: 120 ms of concealment plus a
  // 120 ms packet, in 10 ms frames, each possibly followed by an event
  // update, plus flushes and event edges.
  static constexpr size_t kMaxOutputPackets = 64;

  static Result<std::unique_ptr<Transcoder>, TranscoderError> create(
      const TranscoderConfig& config);

  // Takes one input packet; writes the packets to send into out[0..n) and
  // returns n. Allocates nothing.
  size_t process(const InputPacket& in, std::span<OutputPacket> out);

  // An RTCP report block (SR or RR) from the receiver of this direction's
  // output: `reported_ssrc` is the source it is about (ignored unless it is
  // ours), `fraction_lost` its loss in 1/256. Sets the Opus encoder's
  // expected loss (also without far_side_fec, where libopus uses it for
  // robustness but adds no LBRR). Allocates nothing; no-op for G.711 output.
  void on_receiver_report(uint32_t reported_ssrc, uint8_t fraction_lost);
  int expected_loss_percent() const { return expected_loss_percent_; }

  const TranscoderCounters& counters() const { return counters_; }
  uint16_t next_seq() const { return out_seq_; }
  size_t memory_bytes() const;  // this object and every state it owns

  Transcoder(const Transcoder&) = delete;
  Transcoder& operator=(const Transcoder&) = delete;

 private:
  static constexpr size_t kMaxFrameSamples = 480;  // 60 ms at 8 kHz

  struct OutEvent {  // the RFC 4733 event being sent
    bool active = false;
    bool sent_first = false;
    uint8_t event = 0;
    uint8_t volume = 0;
    uint8_t ends_left = 0;   // end packets still to repeat (detection path)
    uint32_t segment = 0;    // long-event segment last sent (RFC 4733 §2.5.1.3)
    uint32_t timestamp = 0;  // event start, output clock
    uint64_t duration = 0;   // output clock units, may exceed 0xffff
    int64_t start_pos = 0;   // timeline position of the start (detection path)
  };
  struct Tone {  // an RFC 4733 event played in-band
    bool active = false;
    int64_t start_pos = 0;
    int64_t end_pos = 0;       // INT64_MAX until the E bit arrives
    int64_t reported_end = 0;  // start + latest duration
  };

  explicit Transcoder(const TranscoderConfig& config);

  int accept_sequence(const InputPacket& in);
  void resync(const InputPacket& in);
  void on_audio(const InputPacket& in, int lost);
  void on_event(const InputPacket& in);
  void handle_gap(const InputPacket& in, int lost, int64_t gap, uint32_t unit);
  void conceal(const InputPacket& in, int frames, uint32_t unit);
  void start_talkspurt(int64_t gap);
  void append(const int16_t* pcm, size_t n);
  void flush_pending();
  void emit_audio_frame();
  void detect(const int16_t* pcm, size_t n, int64_t pos);
  void apply_tone(int16_t* pcm, size_t n, int64_t pos);
  void synthesize_tone(int64_t until);
  void finish_detected_event(int64_t end_pos);
  void emit_event(bool end);
  OutputPacket* take_slot(size_t min_bytes);
  void commit_slot(OutputPacket* slot, uint8_t pt, uint32_t ts, bool marker, size_t size);
  uint32_t out_ts_at(int64_t pos) const { return out_ts_origin_ + uint32_t(pos) * out_scale_; }
  int64_t elapsed_samples(const InputPacket& in) const;

  TranscoderConfig cfg_;
  uint32_t in_rate_, out_rate_;    // RTP clocks
  uint32_t in_scale_, out_scale_;  // RTP clock units per 8 kHz sample
  uint32_t out_frame_;             // output frame, 8 kHz samples
  std::optional<NarrowbandOpusEncoder> encoder_;
  std::optional<NarrowbandOpusDecoder> decoder_;
  std::optional<G711Plc> plc_;
  std::optional<DtmfDetector> detector_;    // in has no telephone-event, out has
  std::optional<DtmfGenerator> generator_;  // in has telephone-event, out has not

  // Input side.
  bool have_input_ = false;
  bool have_in_ts_ = false;
  bool probing_ = false;
  uint16_t next_in_seq_ = 0;
  uint16_t probe_seq_ = 0;
  int lost_before_audio_ = 0;  // packets missed before non-audio ones
  uint32_t in_ssrc_ = 0;
  uint32_t next_in_ts_ = 0;  // input RTP timestamp of the sample at pos_
  uint32_t unit_ = 0;        // last input packet's duration, 8 kHz samples
  int64_t last_arrival_ns_ = 0;
  bool in_event_valid_ = false;
  uint32_t in_event_ts_ = 0;    // timestamp of the input event (segment) in progress
  uint64_t in_event_base_ = 0;  // input duration of its earlier segments

  // Output timeline: pos_ counts 8 kHz samples, gaps included; a sample at
  // position p goes out with timestamp out_ts_origin_ + p * out_scale_.
  int64_t pos_ = 0;
  uint32_t out_ts_origin_;
  uint16_t out_seq_;
  bool out_marker_ = true;
  uint8_t loss_fraction_ = 0;          // smoothed reported loss, 1/256
  uint8_t expected_loss_percent_ = 0;  // what the Opus encoder was told
  uint32_t pending_n_ = 0;
  OutEvent ev_;
  Tone tone_;
  TranscoderCounters counters_;
  std::span<OutputPacket> out_;  // the current process() call's slots
  size_t n_out_ = 0;
  int16_t pending_[kMaxFrameSamples];
};

}  // namespace vox::codecs
