// Call quality of one stream, from the dataplane's figures (measured on
// arrival, and the party's RTCP reports: dataplane/reception.h), with a MOS
// estimate from the ITU-T G.107 E-model, simplified:
//
//   R   = 93.2 - Id - Ie_eff                        (G.107 defaults: Ro - Is = 93.2, A = 0)
//   Id  = 0.024 Ta + 0.11 (Ta - 177.3) H(Ta - 177.3)  (the delay impairment with
//         G.107's default echo figures, in its usual closed form)
//   Ta  = RTT / 2 + 2 * jitter + 20 ms frame + codec lookahead (G.711 0, Opus 6.5 ms):
//         one-way delay; a jitter buffer of twice the jitter; RTT 0 when unknown
//   Ie_eff = Ie + (95 - Ie) * Ppl / (Ppl + Bpl)     (random loss, BurstR = 1; Ppl in %)
//   G.711 with packet loss concealment: Ie = 0, Bpl = 25.1 (G.113 Appendix I).
//   Opus: G.113 gives no figures; at the bit rates the relay encodes, Opus
//   is taken as G.711 with concealment (Ie 0, Bpl 25.1), its lookahead aside.
//   MOS = 1 + 0.035 R + R (R - 60) (100 - R) 7e-6, 1 below R = 0, 4.5 above 100.
//
// A clean G.711 call scores 4.40; 5 % random loss 3.90; 10 % 3.39.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "dataplane/counters.h"

namespace vox::control {

enum class VoiceCodec : uint8_t { kG711, kOpus };
// Opus for a 48 kHz RTP clock, G.711's figures for anything else.
VoiceCodec voice_codec_of_clock(uint32_t rate);

struct EmodelInput {
  double loss = 0;        // fraction of packets lost, 0..1
  double jitter_ms = 0;
  double rtt_ms = 0;      // 0: unknown
  VoiceCodec codec = VoiceCodec::kG711;
};
double emodel_r(const EmodelInput& in);
double mos_from_r(double r);
inline double emodel_mos(const EmodelInput& in) { return mos_from_r(emodel_r(in)); }

// One stream's quality: the RTP a party sends as the relay received it,
// the round trip to that party, its reports on what it receives, and the
// MOS of the first three (what the relay measured on that leg).
struct StreamQuality {
  uint32_t ssrc = 0;      // of the RTP received (the last source)
  uint32_t rate = 0;      // its RTP clock (0: unknown)
  uint64_t received = 0;
  uint64_t expected = 0;
  uint64_t lost = 0;      // expected - received, 0 when duplicates outnumber losses
  double loss = 0;        // lost / expected
  double jitter_ms = 0;
  std::optional<double> rtt_ms;
  double mos = 0;         // 0 when nothing was received
  // The party's RTCP on what it receives (nullopt: it sent no report block).
  struct Reported {
    double fraction_lost = 0;  // its last report's, 0..1
    int32_t cumulative_lost = 0;
    double jitter_ms = 0;
    std::optional<double> xr_mos;  // RTCP XR VoIP metrics' MOS-LQ
  };
  std::optional<Reported> reported;
};

// `rtp`: the stream's RTP flow; `rtcp`: the flow its party sends RTCP to
// (the same one with rtcp-mux).
StreamQuality stream_quality(const dataplane::FlowSnapshot& rtp, const dataplane::FlowSnapshot& rtcp);

// A stream's MOS over time, as rtpengine keeps it per SSRC (its NG
// "average", "lowest" and "highest MOS", which Kamailio's rtpengine module
// reads into its mos_* variables): a sample per interval (CallManager
// samples every kQualitySampleS while media flows), each on the loss within
// that interval and the jitter and round trip at its end; the average
// weighs each by its packets.
struct MosSample {
  double mos = 0;
  double loss = 0;  // within the interval, 0..1
  double jitter_ms = 0;
  double rtt_ms = 0;  // 0: unknown
  int64_t at_unix = 0;
};
struct QualityTrack {
  uint64_t prior_expected = 0, prior_received = 0;
  uint32_t samples = 0;
  // Every sample's figures weighted by the packets expected in its interval
  // (a short last interval does not count as much as a whole one).
  MosSample sum;  // at_unix unused
  double weight = 0;
  std::optional<MosSample> lowest, highest;
  // Takes a sample from the stream's figures now; none when no packet was
  // expected since the last one (silence, hold, no media yet).
  void sample(const StreamQuality& q, int64_t now_unix);
  MosSample average() const;
};
inline constexpr int kQualitySampleS = 5;

// A Prometheus histogram with fixed bounds: counts per bucket (not
// cumulative; the last past every bound), count and sum.
template <size_t N>
struct Histogram {
  const double (&bounds)[N];
  uint64_t buckets[N + 1] = {};
  uint64_t count = 0;
  double sum = 0;
  explicit Histogram(const double (&b)[N]) : bounds(b) {}
  void add(double v) {
    size_t i = 0;
    while (i < N && v > bounds[i]) ++i;
    ++buckets[i];
    ++count;
    sum += v;
  }
};

inline constexpr double kMosBounds[] = {1.5, 2, 2.5, 3, 3.5, 3.8, 4, 4.2, 4.3, 4.4};
inline constexpr double kJitterBounds[] = {0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1};  // s
inline constexpr double kLossBounds[] = {0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2};    // ratio
inline constexpr double kRttBounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8};     // s

// Quality of streams that ended (with their call, or their branch), for
// /metrics: one observation per stream that received media.
struct QualityHistograms {
  Histogram<std::size(kMosBounds)> mos{kMosBounds};
  Histogram<std::size(kJitterBounds)> jitter_seconds{kJitterBounds};
  Histogram<std::size(kLossBounds)> loss_ratio{kLossBounds};
  Histogram<std::size(kRttBounds)> rtt_seconds{kRttBounds};  // streams with a measured RTT
  void add(const StreamQuality& q);
};

}  // namespace vox::control
