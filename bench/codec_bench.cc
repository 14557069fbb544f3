// Transcoding cost per 20 ms frame pair, G.711 <-> Opus at 8 kHz, in one
// binary so the ratio is measured in one run (TARGETS.md: the pipeline must
// reach >= 90 % of the codec-only bound's throughput):
//  - BM_CodecOnlyBound: raw libopus encode + decode and G.711 decode +
//    encode, nothing else: what a transcoded call cannot go below.
//  - BM_TranscoderPipeline: two vox::codecs::Transcoder, PCMU -> Opus and
//    Opus -> PCMU, each fed one packet (a call's two directions).
// Argument: Opus complexity (5 is the default). Input is speech-like: a
// gliding pitch with harmonics, formant-like weighting, 4 Hz syllabic
// amplitude modulation and noise; never silence, which Opus codes for free.
// Also: Opus encode / decode / PLC alone, and in-band DTMF detection.
#include <benchmark/benchmark.h>
#include <opus/opus.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <numbers>
#include <random>
#include <vector>

#include "codecs/dtmf.h"
#include "codecs/g711.h"
#include "codecs/opus_codec.h"
#include "codecs/transcoder.h"

namespace {

using namespace vox;

constexpr size_t kFrame = 160;   // 20 ms at 8 kHz
constexpr size_t kFrames = 250;  // 5 s of input, cycled

struct Speech {
  std::vector<int16_t> pcm;
  std::vector<uint8_t> ulaw;
  Speech() : pcm(kFrame * kFrames), ulaw(kFrame * kFrames) {
    std::mt19937 rng(7);
    std::normal_distribution<double> noise(0.0, 200.0);
    double phase = 0;
    for (size_t i = 0; i < pcm.size(); ++i) {
      const double t = double(i) / 8000.0;
      const double f0 = 120 + 50 * std::sin(2 * std::numbers::pi * 0.8 * t);
      phase += 2 * std::numbers::pi * f0 / 8000.0;
      double s = 0;
      for (int h = 1; h <= 20 && h * f0 < 3800; ++h) {
        const double f = h * f0;  // formant-like peaks near 600 and 1700 Hz
        const double w =
            1.0 / (1 + std::pow((f - 600) / 250, 2)) + 0.6 / (1 + std::pow((f - 1700) / 400, 2));
        s += w * std::sin(h * phase);
      }
      const double env = 0.5 + 0.5 * std::sin(2 * std::numbers::pi * 4.0 * t);
      pcm[i] = int16_t(std::clamp(4000 * s * env + noise(rng), -32000.0, 32000.0));
    }
    codecs::ulaw_encode(pcm.data(), ulaw.data(), pcm.size());
  }
};

const Speech& speech() {
  static const Speech s;
  return s;
}

struct RawOpus {
  OpusEncoder* enc;
  OpusDecoder* dec;
  explicit RawOpus(int complexity) {
    int err = 0;
    enc = opus_encoder_create(8000, 1, OPUS_APPLICATION_VOIP, &err);
    dec = opus_decoder_create(8000, 1, &err);
    opus_encoder_ctl(enc, OPUS_SET_COMPLEXITY(complexity));
    opus_encoder_ctl(enc, OPUS_SET_BITRATE(codecs::kDefaultOpusBitrate));
  }
  ~RawOpus() {
    opus_encoder_destroy(enc);
    opus_decoder_destroy(dec);
  }
};

// One frame pair of a transcoded call, libopus and G.711 only.
void BM_CodecOnlyBound(benchmark::State& state) {
  const Speech& in = speech();
  RawOpus o(int(state.range(0)));
  int16_t pcm[kFrame], dec[kFrame];
  uint8_t packet[1500], ulaw[kFrame];
  size_t i = 0;
  for (auto _ : state) {
    const uint8_t* u = in.ulaw.data() + kFrame * (i++ % kFrames);
    codecs::ulaw_decode(u, pcm, kFrame);                               // G.711 -> PCM
    const int n = opus_encode(o.enc, pcm, int(kFrame), packet, 1500);  // PCM -> Opus
    const int m = opus_decode(o.dec, packet, n, dec, int(kFrame), 0);  // Opus -> PCM
    codecs::ulaw_encode(dec, ulaw, kFrame);                            // PCM -> G.711
    benchmark::DoNotOptimize(m);
    benchmark::DoNotOptimize(ulaw);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}

struct Slots {
  std::vector<uint8_t> bytes;
  std::vector<codecs::OutputPacket> out;
  Slots()
      : bytes(codecs::Transcoder::kMaxOutputPackets * 1500),
        out(codecs::Transcoder::kMaxOutputPackets) {
    for (size_t i = 0; i < out.size(); ++i)
      out[i].buffer = std::span<uint8_t>(bytes.data() + 1500 * i, 1500);
  }
};

std::unique_ptr<codecs::Transcoder> make(codecs::AudioCodec in, codecs::AudioCodec out,
                                         int complexity, int in_event_pt, int out_event_pt) {
  codecs::TranscoderConfig c;
  c.in_codec = in;
  c.in_pt = in == codecs::AudioCodec::kOpus ? 111 : 0;
  c.in_event_pt = in_event_pt;
  c.out_codec = out;
  c.out_pt = out == codecs::AudioCodec::kOpus ? 111 : 0;
  c.out_event_pt = out_event_pt;
  c.opus.complexity = complexity;
  c.out_ssrc = 0x1234;
  auto t = codecs::Transcoder::create(c);
  return t.ok() ? std::move(t).value() : nullptr;
}

// Both directions of a call, one packet each: PCMU -> Opus, and that Opus
// packet -> PCMU. `detect`: the PCMU side has no telephone-event, so
// in-band DTMF is detected on it (adds SpanDSP's detector to the path).
void pipeline(benchmark::State& state, bool detect) {
  const Speech& in = speech();
  const int complexity = int(state.range(0));
  auto up = make(codecs::AudioCodec::kPcmu, codecs::AudioCodec::kOpus, complexity,
                 detect ? -1 : 101, 101);
  auto down = make(codecs::AudioCodec::kOpus, codecs::AudioCodec::kPcmu, complexity, 101,
                   detect ? -1 : 101);
  if (!up || !down) {
    state.SkipWithError("transcoder config");
    return;
  }
  Slots a, b;
  uint16_t seq = 0;
  uint32_t ts = 0;
  int64_t now = 0;
  size_t i = 0;
  for (auto _ : state) {
    codecs::InputPacket p{
        0x55, seq++, ts,
        0,    false, std::span<const uint8_t>(in.ulaw.data() + kFrame * (i++ % kFrames), kFrame),
        now};
    ts += kFrame;
    now += 20'000'000;
    const size_t n = up->process(p, a.out);
    for (size_t k = 0; k < n; ++k) {
      const codecs::OutputPacket& o = a.out[k];
      const codecs::InputPacket q{0x66,        o.seq,
                                  o.timestamp, o.payload_type,
                                  o.marker,    std::span<const uint8_t>(o.buffer.data(), o.size),
                                  now};
      benchmark::DoNotOptimize(down->process(q, b.out));
    }
    benchmark::ClobberMemory();
  }
  if (up->counters().frames_encoded != uint64_t(state.iterations()) ||
      down->counters().frames_decoded != uint64_t(state.iterations()))
    state.SkipWithError("a frame went missing");
  state.SetItemsProcessed(int64_t(state.iterations()));
}

void BM_TranscoderPipeline(benchmark::State& state) {
  pipeline(state, false);
}
// Each bound runs right next to its pipeline, so drift of this shared VM
// between the two distorts their ratio as little as possible.
BENCHMARK(BM_CodecOnlyBound)->Arg(5);
BENCHMARK(BM_TranscoderPipeline)->Arg(5);
BENCHMARK(BM_CodecOnlyBound)->Arg(0);
BENCHMARK(BM_TranscoderPipeline)->Arg(0);
BENCHMARK(BM_CodecOnlyBound)->Arg(10);
BENCHMARK(BM_TranscoderPipeline)->Arg(10);

void BM_TranscoderPipelineInBandDtmf(benchmark::State& state) {
  pipeline(state, true);
}
BENCHMARK(BM_TranscoderPipelineInBandDtmf)->Arg(5);

// --- the parts alone --------------------------------------------------------

void BM_OpusEncode8k(benchmark::State& state) {
  const Speech& in = speech();
  RawOpus o(int(state.range(0)));
  uint8_t packet[1500];
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        opus_encode(o.enc, in.pcm.data() + kFrame * (i++ % kFrames), int(kFrame), packet, 1500));
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_OpusEncode8k)->Arg(0)->Arg(5)->Arg(10);

std::vector<std::vector<uint8_t>> encoded_speech() {
  RawOpus o(codecs::kDefaultOpusComplexity);
  std::vector<std::vector<uint8_t>> v;
  for (size_t f = 0; f < kFrames; ++f) {
    std::vector<uint8_t> b(1500);
    b.resize(
        size_t(opus_encode(o.enc, speech().pcm.data() + kFrame * f, int(kFrame), b.data(), 1500)));
    v.push_back(std::move(b));
  }
  return v;
}

void BM_OpusDecode8k(benchmark::State& state) {
  const auto pkts = encoded_speech();
  RawOpus o(codecs::kDefaultOpusComplexity);
  int16_t pcm[kFrame];
  size_t i = 0;
  for (auto _ : state) {
    const auto& p = pkts[i++ % kFrames];
    benchmark::DoNotOptimize(
        opus_decode(o.dec, p.data(), opus_int32(p.size()), pcm, int(kFrame), 0));
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_OpusDecode8k);

void BM_OpusDecodeThenPlc8k(benchmark::State& state) {
  const auto pkts = encoded_speech();
  RawOpus o(codecs::kDefaultOpusComplexity);
  int16_t pcm[kFrame];
  size_t i = 0;
  for (auto _ : state) {
    // A decode then one PLC frame: PLC alone is this minus BM_OpusDecode8k.
    const auto& p = pkts[i++ % kFrames];
    benchmark::DoNotOptimize(
        opus_decode(o.dec, p.data(), opus_int32(p.size()), pcm, int(kFrame), 0));
    benchmark::DoNotOptimize(opus_decode(o.dec, nullptr, 0, pcm, int(kFrame), 0));
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_OpusDecodeThenPlc8k);

void BM_DtmfDetect160(benchmark::State& state) {
  const Speech& in = speech();
  codecs::DtmfDetector det;
  codecs::DtmfEdge edges[codecs::DtmfDetector::max_edges(kFrame)];
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(det.process(in.pcm.data() + kFrame * (i++ % kFrames), kFrame, edges));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(kFrame));
}
BENCHMARK(BM_DtmfDetect160);

}  // namespace

BENCHMARK_MAIN();
