// Per-frame costs of the DPDK engine's packet code (dataplane/net/): parse +
// forwarding rewrite of a 214-octet Eth/IPv4/UDP/RTP frame (20 ms PCMU), with
// software and offloaded checksums, and the RFC 1071 sum of 20 and 180 octets.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>

#include "dataplane/net/checksum.h"
#include "dataplane/net/frame.h"
#include "dataplane/net/rewrite.h"

namespace {

using namespace vox;
using namespace vox::dataplane::net;

constexpr size_t kRtpLength = 172;
constexpr size_t kFrameLength = 14 + 20 + 8 + kRtpLength;  // 214

struct Frame {
  alignas(64) uint8_t buf[256];
  uint8_t* frame = nullptr;
  uint8_t pristine_header[42];
};

Frame make_frame() {
  Frame f;
  uint8_t* payload = f.buf + 64;
  const uint8_t rtp_header[12] = {0x80, 0x00, 0x1f, 0x4c, 0x00, 0x07, 0xd0, 0xa0,
                                  0x3c, 0x5a, 0x8e, 0x11};
  std::memcpy(payload, rtp_header, 12);
  for (size_t i = 12; i < kRtpLength; ++i) payload[i] = uint8_t(0x1e + i);
  UdpFrameSpec s;
  s.src_mac = MacAddr{{2, 0, 0, 0, 0, 1}};
  s.dst_mac = MacAddr{{2, 0, 0, 0, 0, 2}};
  s.src = Endpoint{*IpAddr::parse("192.0.2.10"), 40000};
  s.dst = Endpoint{*IpAddr::parse("198.51.100.20"), 30000};
  s.traffic_class = 0xb8;
  f.frame = build_udp_frame(payload, kRtpLength, s);
  std::memcpy(f.pristine_header, f.frame, sizeof f.pristine_header);
  return f;
}

void run_parse_rewrite(benchmark::State& state, ParseOptions opts, UdpRewrite rw) {
  Frame f = make_frame();
  rw.src_mac = MacAddr{{2, 0, 0, 0, 0, 3}};
  rw.dst_mac = MacAddr{{2, 0, 0, 0, 0, 4}};
  rw.src = Endpoint{*IpAddr::parse("203.0.113.5"), 20002};
  rw.dst = Endpoint{*IpAddr::parse("198.18.0.77"), 17000};
  for (auto _ : state) {
    // Restore the 42 header octets (TTL would run out): a few ns, counted.
    std::memcpy(f.frame, f.pristine_header, sizeof f.pristine_header);
    FrameView v;
    const FrameStatus s = parse_frame(f.frame, kFrameLength, &v, opts);
    if (s != FrameStatus::kOk) state.SkipWithError("parse failed");
    const bool ok = rewrite_udp_frame(f.frame, v, rw);
    benchmark::DoNotOptimize(ok);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}

// Software verification of both checksums, software-patched checksums.
void BM_ParseRewriteIpv4Software(benchmark::State& state) {
  run_parse_rewrite(state, {}, {});
}
BENCHMARK(BM_ParseRewriteIpv4Software);

// The NIC verified (RX offload) and completes the checksums (TX offload).
void BM_ParseRewriteIpv4Offload(benchmark::State& state) {
  UdpRewrite rw;
  rw.udp_checksum = UdpChecksumMode::kOffload;
  rw.offload_ip_checksum = true;
  run_parse_rewrite(state, {.verify_ip_checksum = false, .verify_udp_checksum = false}, rw);
}
BENCHMARK(BM_ParseRewriteIpv4Offload);

void BM_Checksum(benchmark::State& state) {
  alignas(64) uint8_t buf[256];
  for (size_t i = 0; i < sizeof buf; ++i) buf[i] = uint8_t(i * 37);
  const size_t len = size_t(state.range(0));
  for (auto _ : state) {
    benchmark::DoNotOptimize(buf);
    benchmark::DoNotOptimize(internet_checksum(buf, len));
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(len));
}
BENCHMARK(BM_Checksum)->Arg(20)->Arg(180);

}  // namespace
BENCHMARK_MAIN();
