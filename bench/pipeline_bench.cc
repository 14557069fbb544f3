// The shared pipeline (flow lookup, RTP/RTCP demux and validation, source
// check, egress choice, counters) on bursts of 32 packets spread over N
// flows: the per-packet cost of voxrelay's own logic, without I/O.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "dataplane/pipeline.h"

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
        c.hot.key = make_local_key(uint16_t(i >> 15), uint16_t(2 * (i & 0x7fff) + side));
        c.hot.egress_rtp = c.hot.egress_rtcp = 2 * i + (1 - side);
        c.hot.fd = int(c.id);
        c.hot.flags = kFlowEnabled;
        c.hot.sdp_source = Endpoint{IpAddr::from_v4(0x0a000000 + c.id), uint16_t(4000 + side)};
        c.hot.latched = 1;
        c.hot.source = c.hot.sdp_source;
        w.apply(c);
      }
    }
    packet.assign(172, 0);
    packet[0] = 0x80;
    std::mt19937 rng(1);
    for (auto& r : rx) {
      uint32_t id = rng() % (calls * 2);
      const FlowHot& h = w.flow(id).hot;
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

}  // namespace
}  // namespace vox::dataplane

BENCHMARK_MAIN();
