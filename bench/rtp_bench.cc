// Per-packet costs on the relay's hot path: RTP header parse and RFC 7983
// demux of a 172-octet PCMU packet, and G.711 µ/A-law over one 20 ms frame
// (160 samples), the unit of work of a G.711 transcode.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <numbers>

#include "codecs/g711.h"
#include "dataplane/demux.h"
#include "dataplane/rtp.h"

namespace {

using namespace vox;

// Same golden packet as tests/dataplane/rtp_test.cc.
alignas(64) uint8_t g_packet[] = {
    0x80, 0x00, 0x1f, 0x4c,  // V=2 P=0 X=0 CC=0 | M=0 PT=0 (PCMU) | seq 8012
    0x00, 0x07, 0xd0, 0xa0,  // timestamp 512160
    0x3c, 0x5a, 0x8e, 0x11,  // SSRC 0x3c5a8e11
    // 160 octets: the G.711 µ-law digital milliwatt (1 kHz, 0 dBm0) x 20
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
};
static_assert(sizeof(g_packet) == 172);

constexpr size_t kFrame = 160;  // 20 ms at 8 kHz

void BM_ParseRtp(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(g_packet);  // the compiler may not assume the bytes
    auto r = dataplane::parse_rtp(g_packet, sizeof(g_packet));
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_ParseRtp);

void BM_ClassifyPacket(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(g_packet);
    auto k = dataplane::classify_packet(g_packet, sizeof(g_packet));
    benchmark::DoNotOptimize(k);
  }
}
BENCHMARK(BM_ClassifyPacket);

// Classify, parse and rewrite SSRC/sequence/timestamp: a forwarding relay's
// per-packet header work.
void BM_ClassifyParseRewrite(benchmark::State& state) {
  uint16_t seq = 0;
  for (auto _ : state) {
    if (dataplane::classify_packet(g_packet, sizeof(g_packet)) == dataplane::PacketKind::kRtp) {
      auto r = dataplane::parse_rtp(g_packet, sizeof(g_packet));
      if (r.ok()) {
        dataplane::set_rtp_ssrc(g_packet, r->ssrc ^ 0x5a5a5a5a);
        dataplane::set_rtp_sequence(g_packet, ++seq);
        dataplane::set_rtp_timestamp(g_packet, r->timestamp + 160);
      }
    }
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_ClassifyParseRewrite);

struct Frame {
  int16_t pcm[kFrame];
  uint8_t coded[kFrame];
  Frame() {
    for (size_t i = 0; i < kFrame; ++i) {
      pcm[i] = int16_t(12000 * std::sin(2 * std::numbers::pi * 440.0 * double(i) / 8000.0));
      coded[i] = uint8_t(i * 37);
    }
  }
};

void BM_UlawEncode160(benchmark::State& state) {
  Frame f;
  uint8_t out[kFrame];
  for (auto _ : state) {
    codecs::ulaw_encode(f.pcm, out, kFrame);
    benchmark::DoNotOptimize(out);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(kFrame));
}
BENCHMARK(BM_UlawEncode160);

void BM_UlawDecode160(benchmark::State& state) {
  Frame f;
  int16_t out[kFrame];
  for (auto _ : state) {
    codecs::ulaw_decode(f.coded, out, kFrame);
    benchmark::DoNotOptimize(out);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(kFrame));
}
BENCHMARK(BM_UlawDecode160);

void BM_AlawEncode160(benchmark::State& state) {
  Frame f;
  uint8_t out[kFrame];
  for (auto _ : state) {
    codecs::alaw_encode(f.pcm, out, kFrame);
    benchmark::DoNotOptimize(out);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(kFrame));
}
BENCHMARK(BM_AlawEncode160);

void BM_AlawDecode160(benchmark::State& state) {
  Frame f;
  int16_t out[kFrame];
  for (auto _ : state) {
    codecs::alaw_decode(f.coded, out, kFrame);
    benchmark::DoNotOptimize(out);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(kFrame));
}
BENCHMARK(BM_AlawDecode160);

// µ-law to A-law through linear: the cheapest transcode a trunk pair needs.
void BM_UlawToAlaw160(benchmark::State& state) {
  Frame f;
  int16_t pcm[kFrame];
  uint8_t out[kFrame];
  for (auto _ : state) {
    codecs::ulaw_decode(f.coded, pcm, kFrame);
    codecs::alaw_encode(pcm, out, kFrame);
    benchmark::DoNotOptimize(out);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(kFrame));
}
BENCHMARK(BM_UlawToAlaw160);

}  // namespace

BENCHMARK_MAIN();
