// Stream quality and the simplified E-model (control/quality.h).
#include "control/quality.h"

#include <algorithm>

namespace vox::control {

namespace {

constexpr double kR0MinusIs = 93.2;    // G.107 default basic signal-to-noise, less Is
constexpr double kFrameMs = 20;        // the packetization the relay's trunks use
constexpr double kBpl = 25.1;          // G.113 Appendix I: G.711 with PLC
constexpr double kIe = 0;

double lookahead_ms(VoiceCodec c) { return c == VoiceCodec::kOpus ? 6.5 : 0; }

}  // namespace

VoiceCodec voice_codec_of_clock(uint32_t rate) { return rate == 48000 ? VoiceCodec::kOpus : VoiceCodec::kG711; }

double emodel_r(const EmodelInput& in) {
  const double ta = in.rtt_ms / 2 + 2 * in.jitter_ms + kFrameMs + lookahead_ms(in.codec);
  const double id = 0.024 * ta + (ta > 177.3 ? 0.11 * (ta - 177.3) : 0);
  const double ppl = std::clamp(in.loss, 0.0, 1.0) * 100;
  const double ie_eff = kIe + (95 - kIe) * ppl / (ppl + kBpl);
  return kR0MinusIs - id - ie_eff;
}

double mos_from_r(double r) {
  if (r <= 0) return 1;
  if (r >= 100) return 4.5;
  return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6;
}

StreamQuality stream_quality(const dataplane::FlowSnapshot& rtp, const dataplane::FlowSnapshot& rtcp) {
  StreamQuality q;
  const dataplane::ReceptionSnapshot& r = rtp.reception;
  q.ssrc = r.ssrc;
  q.rate = r.rate;
  q.received = r.received;
  q.expected = r.expected;
  q.lost = r.lost > 0 ? uint64_t(r.lost) : 0;
  q.loss = r.expected ? double(q.lost) / double(r.expected) : 0;
  q.jitter_ms = double(r.jitter_ns) / 1e6;
  const dataplane::ReportSnapshot& rep = rtcp.reported;
  if (rep.rtt_samples) q.rtt_ms = rep.rtt_us / 1e3;
  if (q.received)
    q.mos = emodel_mos({q.loss, q.jitter_ms, q.rtt_ms.value_or(0), voice_codec_of_clock(r.rate)});
  if (rep.blocks) {
    StreamQuality::Reported p;
    p.fraction_lost = rep.fraction_lost / 256.0;
    p.cumulative_lost = rep.cumulative_lost;
    // Its jitter is in the clock of what it receives: the same codec as it sends.
    p.jitter_ms = r.rate ? double(rep.jitter) * 1e3 / r.rate : 0;
    if (rep.xr_mos_q10) p.xr_mos = rep.xr_mos_q10 / 10.0;
    q.reported = p;
  }
  return q;
}

void QualityTrack::sample(const StreamQuality& q, int64_t now_unix) {
  if (q.expected <= prior_expected) return;
  const double expected = double(q.expected - prior_expected);
  const double received = double(q.received - std::min(q.received, prior_received));
  prior_expected = q.expected;
  prior_received = q.received;
  MosSample s;
  s.loss = std::clamp((expected - received) / expected, 0.0, 1.0);
  s.jitter_ms = q.jitter_ms;
  s.rtt_ms = q.rtt_ms.value_or(0);
  s.mos = emodel_mos({s.loss, s.jitter_ms, s.rtt_ms, voice_codec_of_clock(q.rate)});
  s.at_unix = now_unix;
  ++samples;
  sum.mos += s.mos * expected;
  sum.loss += s.loss * expected;
  sum.jitter_ms += s.jitter_ms * expected;
  sum.rtt_ms += s.rtt_ms * expected;
  weight += expected;
  if (!lowest || s.mos < lowest->mos) lowest = s;
  if (!highest || s.mos > highest->mos) highest = s;
}

MosSample QualityTrack::average() const {
  MosSample a;
  if (weight <= 0) return a;
  a.mos = sum.mos / weight;
  a.loss = sum.loss / weight;
  a.jitter_ms = sum.jitter_ms / weight;
  a.rtt_ms = sum.rtt_ms / weight;
  return a;
}

void QualityHistograms::add(const StreamQuality& q) {
  if (!q.received) return;
  mos.add(q.mos);
  jitter_seconds.add(q.jitter_ms / 1e3);
  loss_ratio.add(q.loss);
  if (q.rtt_ms) rtt_seconds.add(*q.rtt_ms / 1e3);
}

}  // namespace vox::control
