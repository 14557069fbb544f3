// Transcoder: input packet -> sequence check (RFC 3550 A.1) -> concealment
// of what the gap says is missing -> decode to 8 kHz PCM -> output timeline
// (in-band DTMF detected or generated here) -> encode each full output frame.
// RFC 4733 events take the same sequence space on both sides.
#include "codecs/transcoder.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <utility>

#include "codecs/g711.h"
#include "codecs/rfc4733.h"

namespace vox::codecs {

namespace {

constexpr int kMaxDropout = 3000;  // RFC 3550 A.1: a jump this far forward is a restart
constexpr int kMaxMisorder = 100;  // ... and this far back
constexpr int64_t kSecond = 8000;  // timeline units are 8 kHz samples
constexpr uint32_t kMaxInputSamples = kOpusMaxPacketSamples8k;  // 120 ms per input packet
// Both PLCs have faded to silence well before 120 ms; a longer gap is a
// talkspurt boundary rather than something to fill.
constexpr int64_t kMaxConcealSamples = 960;
constexpr int64_t kMaxResyncGap = 60 * kSecond;
// An in-band tone whose event stops being refreshed (E bit lost) ends this
// long after the last reported duration.
constexpr int64_t kToneTimeout = kSecond / 5;
// RFC 4733 volume is -dBm0; keep generated tones out of clipping and above
// the detection floor of ordinary receivers.
constexpr int kLoudestToneDbm0 = -6;
constexpr int kQuietestToneDbm0 = -36;

constexpr uint32_t clock_of(AudioCodec c) {
  return c == AudioCodec::kOpus ? kOpusRtpClockHz : kNarrowbandHz;
}
constexpr bool valid_pt(int pt) {
  return pt >= 0 && pt <= 127;
}

}  // namespace

Result<std::unique_ptr<Transcoder>, TranscoderError> Transcoder::create(const TranscoderConfig& c) {
  if (!valid_out_ptime(c.out_codec, c.out_ptime_ms) || c.in_ptime_ms < 10 || c.in_ptime_ms > 120)
    return Err{TranscoderError::kBadPtime};
  if (!valid_pt(c.in_pt) || !valid_pt(c.out_pt) || c.in_event_pt < kNoPayloadType ||
      c.in_event_pt > 127 || c.out_event_pt < kNoPayloadType || c.out_event_pt > 127 ||
      c.in_event_pt == c.in_pt || c.out_event_pt == c.out_pt)
    return Err{TranscoderError::kBadPayloadType};
  std::unique_ptr<Transcoder> t(new Transcoder(c));
  if (c.out_codec == AudioCodec::kOpus) {
    OpusEncoderConfig oc = c.opus;
    oc.fec = c.far_side_fec;
    oc.packet_loss_percent = 0;  // no LBRR until the receiver reports loss
    auto enc = NarrowbandOpusEncoder::create(oc);
    if (!enc) return Err{TranscoderError::kOpusInit};
    t->encoder_.emplace(std::move(enc).value());
  }
  if (c.in_codec == AudioCodec::kOpus) {
    auto dec = NarrowbandOpusDecoder::create();
    if (!dec) return Err{TranscoderError::kOpusInit};
    t->decoder_.emplace(std::move(dec).value());
  } else {
    t->plc_.emplace();
  }
  if (c.in_event_pt == kNoPayloadType && c.out_event_pt != kNoPayloadType) t->detector_.emplace();
  if (c.in_event_pt != kNoPayloadType && c.out_event_pt == kNoPayloadType) t->generator_.emplace();
  return t;
}

Transcoder::Transcoder(const TranscoderConfig& c)
    : cfg_(c),
      in_rate_(clock_of(c.in_codec)),
      out_rate_(clock_of(c.out_codec)),
      in_scale_(in_rate_ / kNarrowbandHz),
      out_scale_(out_rate_ / kNarrowbandHz),
      out_frame_(uint32_t(c.out_ptime_ms) * (kNarrowbandHz / 1000)),
      unit_(uint32_t(c.in_ptime_ms) * (kNarrowbandHz / 1000)),
      out_ts_origin_(c.out_first_ts),
      out_seq_(c.out_first_seq) {}

size_t Transcoder::memory_bytes() const {
  size_t n = sizeof(*this);
  if (encoder_) n += NarrowbandOpusEncoder::state_size();
  if (decoder_) n += NarrowbandOpusDecoder::state_size();
  if (plc_) n += G711Plc::state_size();
  if (detector_) n += DtmfDetector::state_size();
  if (generator_) n += DtmfGenerator::state_size();
  return n;
}

size_t Transcoder::process(const InputPacket& in, std::span<OutputPacket> out) {
  out_ = out;
  n_out_ = 0;
  ++counters_.packets_in;
  const int lost = accept_sequence(in);
  if (lost >= 0) {
    if (in.payload_type == cfg_.in_pt) {
      on_audio(in, lost + std::exchange(lost_before_audio_, 0));
    } else {
      // Whatever went missing is noticed by the next audio packet. CN means
      // silence until then; that packet's timestamp says how long.
      lost_before_audio_ += lost;
      if (cfg_.in_event_pt != kNoPayloadType && in.payload_type == cfg_.in_event_pt) {
        on_event(in);
      } else if (in.payload_type == kComfortNoisePt) {
        ++counters_.comfort_noise;
      } else {
        ++counters_.unknown_pt_dropped;
      }
    }
  }
  last_arrival_ns_ = in.arrival_ns;
  out_ = {};
  return n_out_;
}

void Transcoder::on_receiver_report(uint32_t reported_ssrc, uint8_t fraction_lost) {
  if (!encoder_ || reported_ssrc != cfg_.out_ssrc) return;
  ++counters_.receiver_reports;
  loss_fraction_ = std::max<uint8_t>(fraction_lost, loss_fraction_ / 2);
  const int percent = std::min((loss_fraction_ * 100 + 255) / 256, kMaxExpectedLossPercent);
  if (percent != expected_loss_percent_ && encoder_->set_packet_loss_percent(percent))
    expected_loss_percent_ = uint8_t(percent);
}

// Returns how many packets are missing before this one, or -1 to drop it.
int Transcoder::accept_sequence(const InputPacket& in) {
  if (!have_input_) {
    have_input_ = true;
    in_ssrc_ = in.ssrc;
    next_in_seq_ = uint16_t(in.seq + 1);
    return 0;
  }
  if (in.ssrc != in_ssrc_) {
    resync(in);
    return 0;
  }
  const int delta = int16_t(uint16_t(in.seq - next_in_seq_));
  if (delta >= 0 && delta <= kMaxDropout) {
    probing_ = false;
    next_in_seq_ = uint16_t(in.seq + 1);
    return delta;
  }
  if (delta < 0 && delta >= -kMaxMisorder) {
    ++counters_.late_dropped;  // its slot was emitted or concealed already
    return -1;
  }
  // Far out of range: a restart only if the next packet follows it (A.1).
  if (probing_ && in.seq == uint16_t(probe_seq_ + 1)) {
    resync(in);
    return 0;
  }
  probing_ = true;
  probe_seq_ = in.seq;
  ++counters_.seq_jump_dropped;
  return -1;
}

// A new input stream (SSRC change, sequence restart): output continues with
// the same SSRC and sequence; the timestamp advances by the time that passed.
void Transcoder::resync(const InputPacket& in) {
  ++counters_.source_changes;
  if (detector_ && ev_.active) finish_detected_event(pos_);
  start_talkspurt(have_in_ts_ ? elapsed_samples(in) : 0);
  if (tone_.active) {
    generator_->stop();
    tone_.active = false;
  }
  if (decoder_) decoder_->reset();
  if (plc_) plc_->reset();
  in_event_valid_ = false;
  have_in_ts_ = false;
  probing_ = false;
  lost_before_audio_ = 0;
  in_ssrc_ = in.ssrc;
  next_in_seq_ = uint16_t(in.seq + 1);
}

int64_t Transcoder::elapsed_samples(const InputPacket& in) const {
  if (in.arrival_ns <= last_arrival_ns_) return 0;
  const int64_t e = (in.arrival_ns - last_arrival_ns_) / (1'000'000'000 / kSecond) - int64_t(unit_);
  return std::clamp<int64_t>(e, 0, kMaxResyncGap);
}

void Transcoder::on_audio(const InputPacket& in, int lost) {
  const uint8_t* p = in.payload.data();
  const size_t len = in.payload.size();
  size_t n = len;
  if (decoder_) {
    auto r = opus_packet_samples(p, len, kNarrowbandHz);
    n = r ? *r : 0;
  }
  if (n == 0 || n > kMaxInputSamples) {
    ++counters_.decode_errors;  // counts as lost when the next packet arrives
    lost_before_audio_ += lost;
    next_in_seq_ = in.seq;
    return;
  }
  if (have_in_ts_)
    handle_gap(in, lost, int64_t(int32_t(in.timestamp - next_in_ts_)) / in_scale_, unit_);
  if (in.marker && pending_n_ == 0) out_marker_ = true;

  int16_t pcm[kMaxInputSamples];
  if (decoder_) {
    auto r = decoder_->decode(p, len, pcm, kMaxInputSamples);
    if (!r) {
      ++counters_.decode_errors;
      next_in_seq_ = in.seq;
      next_in_ts_ = in.timestamp;
      have_in_ts_ = true;
      return;
    }
    n = *r;
  } else {
    (cfg_.in_codec == AudioCodec::kPcmu ? ulaw_decode : alaw_decode)(p, pcm, n);
    plc_->receive(pcm, n);
  }
  ++counters_.frames_decoded;
  append(pcm, n);
  next_in_ts_ = in.timestamp + uint32_t(n) * in_scale_;
  have_in_ts_ = true;
  unit_ = uint32_t(n);
}

// gap: 8 kHz samples between where the input was expected to continue and
// where this packet starts; lost: packets missing in between.
void Transcoder::handle_gap(const InputPacket& in, int lost, int64_t gap, uint32_t unit) {
  if (gap > 0) {
    int frames = 0;
    if (lost > 0)
      frames = int(std::min<int64_t>({lost, (gap + unit / 2) / unit, kMaxConcealSamples / unit}));
    if (frames > 0) conceal(in, frames, unit);
    const int64_t rest = gap - int64_t(frames) * unit;
    if (rest > int64_t(unit) / 2) {
      // Silence (VAD/DTX, CN) or an outage longer than concealment: a new
      // talkspurt. A jump beyond the time that passed is a clock restart.
      const int64_t elapsed = elapsed_samples(in);
      if (rest > elapsed + kSecond) {
        ++counters_.source_changes;
        start_talkspurt(elapsed);
      } else {
        ++counters_.silence_gaps;
        start_talkspurt(rest);
      }
    }
  } else if (gap < -kSecond) {
    ++counters_.source_changes;  // the clock went back: restart; small overlaps are absorbed
    start_talkspurt(elapsed_samples(in));
  }
  next_in_ts_ = in.timestamp;
}

void Transcoder::conceal(const InputPacket& in, int frames, uint32_t unit) {
  const uint8_t* p = in.payload.data();
  const size_t len = in.payload.size();
  // Opus in-band FEC rebuilds only the packet just before `in` (RFC 6716
  // §2.1.7); earlier ones get PLC, in order, so the decoder state follows.
  const bool fec = decoder_ && cfg_.far_side_fec && opus_packet_has_fec(p, len);
  int16_t pcm[kMaxInputSamples];
  for (int i = 0; i < frames; ++i) {
    if (decoder_) {
      bool done = false;
      if (fec && i == frames - 1) {
        auto r = decoder_->decode_fec(p, len, pcm, unit);
        done = r && *r == unit;
        if (done) ++counters_.frames_fec_recovered;
      }
      if (!done) {
        if (!decoder_->conceal(pcm, unit)) std::fill(pcm, pcm + unit, int16_t{0});
        ++counters_.frames_concealed;
      }
    } else {
      plc_->conceal(pcm, unit);
      ++counters_.frames_concealed;
    }
    append(pcm, unit);
  }
}

void Transcoder::start_talkspurt(int64_t gap) {
  const int64_t before = pos_;
  flush_pending();
  pos_ = std::max(pos_, before + gap);
  out_marker_ = true;  // RFC 3551 §4.1: first packet after silence
}

void Transcoder::append(const int16_t* pcm, size_t n) {
  while (n > 0) {
    const uint32_t take = std::min<uint32_t>(uint32_t(n), out_frame_ - pending_n_);
    int16_t* dst = pending_ + pending_n_;
    std::memcpy(dst, pcm, take * sizeof(int16_t));
    if (tone_.active) apply_tone(dst, take, pos_);
    if (detector_) detect(dst, take, pos_);
    pending_n_ += take;
    pos_ += take;
    pcm += take;
    n -= take;
    if (pending_n_ == out_frame_) emit_audio_frame();
  }
}

// Completes a partial frame with silence and sends it (before a gap).
void Transcoder::flush_pending() {
  if (pending_n_ == 0) return;
  std::fill(pending_ + pending_n_, pending_ + out_frame_, int16_t{0});
  pos_ += out_frame_ - pending_n_;
  pending_n_ = out_frame_;
  emit_audio_frame();
}

void Transcoder::emit_audio_frame() {
  const uint32_t ts = out_ts_at(pos_ - out_frame_);
  pending_n_ = 0;
  ++counters_.frames_encoded;
  OutputPacket* slot = take_slot(encoder_ ? 1 : out_frame_);
  if (!slot) {
    ++counters_.output_overflow;
    out_marker_ = true;
  } else if (encoder_) {
    if (cfg_.far_side_fec && expected_loss_percent_ > 0) ++counters_.frames_encoded_fec;
    auto r = encoder_->encode(pending_, out_frame_, slot->buffer.data(), slot->buffer.size());
    if (!r) {
      ++counters_.output_overflow;
      out_marker_ = true;
    } else if (cfg_.opus.dtx && *r <= 2) {
      ++counters_.dtx_suppressed;  // not sent; the next packet sent opens a talkspurt
      out_marker_ = true;
    } else {
      commit_slot(slot, cfg_.out_pt, ts, std::exchange(out_marker_, false), *r);
    }
  } else {
    (cfg_.out_codec == AudioCodec::kPcmu ? ulaw_encode : alaw_encode)(pending_, slot->buffer.data(),
                                                                      out_frame_);
    commit_slot(slot, cfg_.out_pt, ts, std::exchange(out_marker_, false), out_frame_);
  }
  // A detected digit is reported every packet time while it lasts, and its
  // final packet is repeated with the next two frames (RFC 4733 §2.5.1.4).
  // The detector vouches for the tone only up to its latency ago: reporting
  // further could make the final duration smaller than an update's.
  if (detector_) {
    if (ev_.active) {
      const int64_t confirmed = pos_ - int64_t(DtmfDetector::kLatency) - ev_.start_pos;
      if (confirmed > 0 && uint64_t(confirmed) * out_scale_ > ev_.duration) {
        ev_.duration = uint64_t(confirmed) * out_scale_;
        emit_event(false);
      }
    } else if (ev_.ends_left > 0) {
      --ev_.ends_left;
      emit_event(true);
    }
  }
}

OutputPacket* Transcoder::take_slot(size_t min_bytes) {
  if (n_out_ >= out_.size() || out_[n_out_].buffer.size() < min_bytes) return nullptr;
  return &out_[n_out_];
}

void Transcoder::commit_slot(OutputPacket* slot, uint8_t pt, uint32_t ts, bool marker,
                             size_t size) {
  slot->ssrc = cfg_.out_ssrc;
  slot->seq = out_seq_++;
  slot->timestamp = ts;
  slot->payload_type = pt;
  slot->marker = marker;
  slot->size = uint16_t(size);
  ++n_out_;
}

// --- DTMF -------------------------------------------------------------------

void Transcoder::emit_event(bool end) {
  const EventSegment seg = event_segment(ev_.timestamp, ev_.duration);
  TelephoneEvent e{ev_.event, false, ev_.volume, uint16_t(kMaxEventDuration)};
  if (seg.index > ev_.segment) {
    // §2.5.1.3: close the full segment before reporting the next one.
    if (OutputPacket* slot = take_slot(kTelephoneEventSize)) {
      build_telephone_event(e, slot->buffer.data(), slot->buffer.size());
      commit_slot(slot, uint8_t(cfg_.out_event_pt), ev_.timestamp + ev_.segment * kMaxEventDuration,
                  false, kTelephoneEventSize);
    } else {
      ++counters_.output_overflow;
    }
    ev_.segment = seg.index;
  }
  OutputPacket* slot = take_slot(kTelephoneEventSize);
  if (!slot) {
    ++counters_.output_overflow;
    return;
  }
  e.end = end;
  e.duration = seg.duration;
  build_telephone_event(e, slot->buffer.data(), slot->buffer.size());
  // §2.5.1.2: the marker opens an event, not a segment or a repeat.
  commit_slot(slot, uint8_t(cfg_.out_event_pt), seg.timestamp, !std::exchange(ev_.sent_first, true),
              kTelephoneEventSize);
}

void Transcoder::on_event(const InputPacket& in) {
  auto e = parse_telephone_event(in.payload.data(), in.payload.size());
  const char digit = e ? dtmf_digit_for_event(e->event) : '\0';
  if (!e || (generator_ && digit == '\0')) {
    ++counters_.events_dropped;
    return;
  }
  bool fresh = !in_event_valid_ || in.timestamp != in_event_ts_;
  if (fresh && in_event_valid_) {
    if (int32_t(in.timestamp - in_event_ts_) < 0) {
      ++counters_.late_dropped;  // a repeat of an event already superseded
      return;
    }
    // A long event's next segment (§2.5.1.3) continues the same event.
    if (in.timestamp == in_event_ts_ + kMaxEventDuration && ev_.event == e->event) {
      in_event_ts_ = in.timestamp;
      in_event_base_ += kMaxEventDuration;
      fresh = false;
    }
  }
  if (fresh) {
    in_event_valid_ = true;
    in_event_ts_ = in.timestamp;
    in_event_base_ = 0;
  }
  const uint64_t in_duration = in_event_base_ + e->duration;

  if (generator_) {  // the output side has no telephone-event: play it in-band
    if (fresh) {
      if (!have_in_ts_) {
        next_in_ts_ = in.timestamp;
        have_in_ts_ = true;
      }
      // An event starting inside audio already sent (usually the packet
      // just before) starts now instead: the digit keeps its full duration.
      const int64_t offset =
          rescale_clock(int32_t(in.timestamp - next_in_ts_), in_rate_, kNarrowbandHz);
      tone_ = Tone{true, pos_ + std::clamp<int64_t>(offset, 0, kSecond), INT64_MAX, 0};
      ev_.event = e->event;
      generator_->start(digit, -std::clamp<int>(e->volume, -kLoudestToneDbm0, -kQuietestToneDbm0));
      ++counters_.dtmf_events_generated;
    } else if (!tone_.active) {
      return;  // an end repeat of a tone already finished
    }
    tone_.reported_end =
        tone_.start_pos + rescale_clock(int64_t(in_duration), in_rate_, kNarrowbandHz);
    if (e->end) tone_.end_pos = tone_.reported_end;
    // Senders that stop audio during an event: the event packets alone
    // carry the tone forward once they run ahead of the audio.
    if (tone_.reported_end > pos_ + 2 * int64_t(unit_)) synthesize_tone(tone_.reported_end);
    return;
  }

  // Both sides have telephone-event: forward with the clock converted.
  if (fresh) {
    const uint32_t out_now = out_ts_at(pos_);
    const int32_t off = int32_t(in.timestamp - next_in_ts_);
    ev_ = OutEvent{};
    ev_.active = true;
    ev_.event = e->event;
    ev_.timestamp = have_in_ts_ && off > -int32_t(10 * in_rate_) && off < int32_t(10 * in_rate_)
                        ? convert_timestamp(in.timestamp, next_in_ts_, out_now, in_rate_, out_rate_)
                        : out_now;
    ++counters_.dtmf_events_passed;
  }
  ev_.volume = e->volume;
  ev_.duration = uint64_t(rescale_clock(int64_t(in_duration), in_rate_, out_rate_));
  emit_event(e->end);
  if (e->end) ev_.active = false;
}

void Transcoder::apply_tone(int16_t* pcm, size_t n, int64_t pos) {
  const int64_t end = pos + int64_t(n);
  if (tone_.end_pos == INT64_MAX && pos > tone_.reported_end + kToneTimeout) tone_.end_pos = pos;
  const int64_t a = std::max(pos, tone_.start_pos);
  const int64_t b = std::min(end, tone_.end_pos);
  if (a < b) generator_->generate(pcm + (a - pos), size_t(b - a));
  if (end >= tone_.end_pos) {
    generator_->stop();
    tone_.active = false;
  }
}

void Transcoder::synthesize_tone(int64_t until) {
  const int64_t n = std::min<int64_t>(until - pos_, kMaxConcealSamples);
  if (n <= 0) return;
  int16_t silence[kMaxConcealSamples] = {};
  append(silence, size_t(n));  // apply_tone() writes the tone over it
  next_in_ts_ += uint32_t(n) * in_scale_;
}

void Transcoder::detect(const int16_t* pcm, size_t n, int64_t pos) {
  DtmfEdge edges[DtmfDetector::max_edges(kMaxFrameSamples)];
  const int64_t base = int64_t(detector_->position());
  const size_t k = detector_->process(pcm, n, edges);
  for (size_t i = 0; i < k; ++i) {
    const int64_t at = pos + (int64_t(edges[i].sample) - base);
    if (!edges[i].start) {
      if (ev_.active) finish_detected_event(at);
      continue;
    }
    if (ev_.active) finish_detected_event(at);
    while (ev_.ends_left > 0) {  // the previous digit's repeats, before the new one starts
      --ev_.ends_left;
      emit_event(true);
    }
    const int code = dtmf_event_for_digit(edges[i].digit);
    if (code < 0) continue;
    ev_ = OutEvent{};
    ev_.active = true;
    ev_.event = uint8_t(code);
    ev_.volume = uint8_t(std::clamp(-int(edges[i].level_dbm0), 0, 63));
    ev_.start_pos = at;
    ev_.timestamp = out_ts_at(at);
    ev_.duration = 0;
    ++counters_.dtmf_events_detected;
    emit_event(false);
  }
}

void Transcoder::finish_detected_event(int64_t end_pos) {
  // Durations never shrink within an event (RFC 4733 §2.5.1.3).
  ev_.duration =
      std::max(ev_.duration, uint64_t(std::max<int64_t>(end_pos - ev_.start_pos, 0)) * out_scale_);
  ev_.active = false;
  emit_event(true);
  ev_.ends_left = 2;  // §2.5.1.4: the final packet goes out three times
}

}  // namespace vox::codecs
