// The shared pipeline (flow lookup, RTP/RTCP demux and validation, source
// check, egress choice, counters) on bursts of 32 packets spread over N
// flows: the per-packet cost of voxrelay's own logic, without I/O. And the
// SRTP path (BM_Srtp*): process_burst toward an SRTP party beside the same
// burst relayed plain and beside libsrtp2's own srtp_protect, so that what
// SRTP adds to the pipeline (SrtpPipeline - SrtpPipelinePlain) is compared
// with the library's own per-packet cost (SrtpRawProtect - SrtpBurstRefill)
// in one run.
#include <benchmark/benchmark.h>
#include <srtp2/srtp.h>

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/raw_srtp.h"
#include "base/bytes.h"
#include "dataplane/pipeline.h"
#include "dataplane/srtp_slot.h"

namespace vox::dataplane {
namespace {

struct Setup {
  explicit Setup(uint32_t calls) : w(0, calls * 2 + 16) {
    // Call i: flows 2i (party A, port 2i) and 2i+1 (party B), each the
    // other's egress; both latched to their SDP address.
    for (uint32_t i = 0; i < calls; ++i) {
      for (uint32_t side = 0; side < 2; ++side) {
        FlowCommand c;
        c.id = 2 * i + side;
        c.state.key = make_local_key(uint16_t(i >> 15), uint16_t(2 * (i & 0x7fff) + side));
        c.state.egress_rtp = c.state.egress_rtcp = 2 * i + (1 - side);
        c.state.flags = kFlowEnabled;
        c.state.sdp_source = Endpoint{IpAddr::from_v4(0x0a000000 + c.id), uint16_t(4000 + side)};
        c.state.latched = 1;
        c.state.source = c.state.sdp_source;
        w.apply(c);
      }
    }
    packet.assign(172, 0);
    packet[0] = 0x80;
    std::mt19937 rng(1);
    for (auto& r : rx) {
      uint32_t id = rng() % (calls * 2);
      const FlowState& h = w.flow(id).state;
      r = RxPacket{packet.data(), uint16_t(packet.size()), h.key, h.sdp_source};
    }
  }
  WorkerState w;
  std::vector<uint8_t> packet;
  RxPacket rx[1024];
  TxPacket tx[kBurstSize];
};

void BM_PipelineBurst(benchmark::State& state) {
  Setup s(uint32_t(state.range(0)));
  size_t off = 0;
  for (auto _ : state) {
    uint32_t out = process_burst(s.w, s.rx + off, kBurstSize, 1, s.tx);
    benchmark::DoNotOptimize(out);
    off = (off + kBurstSize) & 1023;
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * kBurstSize);
}
BENCHMARK(BM_PipelineBurst)->Arg(1000)->Arg(10000)->Arg(50000);

// --- SRTP ---------------------------------------------------------------------------

constexpr size_t kRtpLength = 172;  // 12-octet header + 20 ms of G.711
constexpr size_t kRoom = 2048;      // a socket backend's receive buffer

SrtpKey bench_key(SrtpSuite suite) {
  SrtpKey k;
  k.suite = suite;
  const auto& info = srtp_suite_info(suite);
  k.key_salt_length = uint8_t(info.key_length + info.salt_length);
  for (size_t i = 0; i < k.key_salt_length; ++i) k.key_salt[i] = uint8_t(i * 13 + 7);
  return k;
}

// 32 receive buffers, refilled before every burst as a backend would
// deliver them: each a fresh copy of a 172-octet PCMU packet with the next
// sequence number (protect refuses to reuse an index). Every variant below
// pays this same refill, so the differences are the work compared.
struct Burst {
  alignas(64) uint8_t bufs[kBurstSize][kRoom];
  uint8_t plain[kRtpLength] = {0x80, 0x00, 0, 0, 0, 0, 0, 160, 0x3c, 0x5a, 0x8e, 0x11};
  uint16_t seq = 0;
  Burst() {
    for (size_t i = 12; i < kRtpLength; ++i) plain[i] = uint8_t(0x1e + i);
  }
  void refill() {
    for (auto& b : bufs) {
      std::memcpy(b, plain, kRtpLength);
      store_be16(b + 2, ++seq);
    }
  }
};

// libsrtp2's own per-packet cost: srtp_protect called directly, on a
// session with the policy SrtpStream gives an outbound stream.
void BM_SrtpRawProtect(benchmark::State& state) {
  const auto suite = SrtpSuite(state.range(0));
  bench::RawSrtpSession raw(suite, bench_key(suite), ssrc_any_outbound);
  if (!raw.ctx) return state.SkipWithError("srtp_create");
  srtp_t session = raw.ctx;
  auto burst = std::make_unique<Burst>();
  for (auto _ : state) {
    burst->refill();
    for (auto& b : burst->bufs) {
      int len = int(kRtpLength);
      if (srtp_protect(session, b, &len) != srtp_err_status_ok) state.SkipWithError("protect");
      benchmark::DoNotOptimize(len);
    }
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * kBurstSize);
  state.SetLabel(std::string(srtp_suite_info(suite).name));
}

// One call: flow 0 (party A, plain) relays to flow 1 (party B), both
// latched; with an SRTP suite, B speaks SRTP and every packet is protected
// by the pipeline on its way out.
void pipeline_burst(benchmark::State& state, const SrtpSuite* suite) {
  WorkerState w(0, 16);
  for (FlowId id : {0u, 1u}) {
    FlowCommand c;
    c.id = id;
    c.state.key = make_local_key(0, uint16_t(30000 + 2 * id));
    c.state.egress_rtp = c.state.egress_rtcp = 1 - id;
    c.state.flags = kFlowEnabled;
    c.state.sdp_source = Endpoint{IpAddr::from_v4(0x0a000001 + id), uint16_t(4000 + id)};
    c.state.latched = 1;
    c.state.source = c.state.sdp_source;
    w.apply(c);
  }
  if (suite) {
    auto out = SrtpStream::create(bench_key(*suite), SrtpDirection::kOutbound);
    if (!out.ok()) return state.SkipWithError("SrtpStream::create");
    FlowCommand c;
    c.type = CommandType::kSetSrtp;
    c.id = 1;
    c.srtp = new SrtpSlot;
    c.srtp->outbound.emplace(std::move(out).value());
    w.apply(c);
    state.SetLabel(std::string(srtp_suite_info(*suite).name));
  }
  auto burst = std::make_unique<Burst>();
  RxPacket rx[kBurstSize];
  TxPacket tx[kBurstSize];
  const FlowState& a = w.flow(0).state;
  for (uint32_t i = 0; i < kBurstSize; ++i)
    rx[i] = RxPacket{burst->bufs[i], uint16_t(kRtpLength), a.key, a.sdp_source, uint16_t(kRoom)};
  for (auto _ : state) {
    burst->refill();
    const uint32_t out = process_burst(w, rx, kBurstSize, 1, tx);
    if (out != kBurstSize) state.SkipWithError("dropped");
    benchmark::DoNotOptimize(tx[0].len);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * kBurstSize);
}

// The refill alone, which BM_SrtpRawProtect includes and the difference
// SrtpPipeline - SrtpPipelinePlain does not: libsrtp2's own cost per packet
// is SrtpRawProtect - SrtpBurstRefill.
void BM_SrtpBurstRefill(benchmark::State& state) {
  auto burst = std::make_unique<Burst>();
  for (auto _ : state) {
    burst->refill();
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * kBurstSize);
}

void BM_SrtpPipelinePlain(benchmark::State& state) {
  pipeline_burst(state, nullptr);
}
void BM_SrtpPipeline(benchmark::State& state) {
  const auto suite = SrtpSuite(state.range(0));
  pipeline_burst(state, &suite);
}

BENCHMARK(BM_SrtpRawProtect)
    ->Arg(int(SrtpSuite::kAesCm128HmacSha1_80))
    ->Arg(int(SrtpSuite::kAeadAes128Gcm));
BENCHMARK(BM_SrtpBurstRefill);
BENCHMARK(BM_SrtpPipelinePlain);
BENCHMARK(BM_SrtpPipeline)
    ->Arg(int(SrtpSuite::kAesCm128HmacSha1_80))
    ->Arg(int(SrtpSuite::kAeadAes128Gcm));

}  // namespace
}  // namespace vox::dataplane

BENCHMARK_MAIN();
