// voxbench-dataplane: the DPDK engine's relay rate on one core. The real
// WorkerLoop runs on a worker lcore over one port of a net_ring pair; the
// main lcore plays the wire on the other port: it sends Ethernet/IPv4/UDP/RTP
// frames (214 octets, correct checksums) for every flow of N calls through a
// gateway, and drains and spot-checks what the relay sends back. The last
// line, `mpps=X.XX`, is packets relayed by the worker per wall-clock second
// of the measured window (TARGETS.md: compare with testpmd io, same run).
#include <CLI/CLI.hpp>
#include <time.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "dataplane/dpdk/lcore.h"
#include "dataplane/dpdk/eal.h"
#include "dataplane/dpdk/mbuf.h"
#include "dataplane/dpdk/port.h"
#include "dataplane/dpdk/vdev.h"
#include "dataplane/dpdk/worker_loop.h"
#include "dataplane/net/arp.h"
#include "dataplane/net/checksum.h"
#include "dataplane/net/frame.h"
#include "dataplane/net/rewrite.h"
#include "dataplane/pipeline.h"
#include "dataplane/worker.h"

namespace {

using namespace vox;
using namespace vox::dataplane;
using namespace vox::dataplane::dpdk;
using Clock = std::chrono::steady_clock;

constexpr size_t kRtpLength = 172;  // 12-octet header + 20 ms of G.711
constexpr size_t kHeaderLength = 14 + 20 + 8;
constexpr size_t kFrameLength = kHeaderLength + kRtpLength;  // 214
constexpr uint16_t kGenBurst = 32;
constexpr uint16_t kDrainBurst = 64;

// Where everything lives. Relay addresses 10.0.0.1.. on a /24 with the
// gateway at .254; the parties are off-link, in 198.18.0.0/15 (RFC 2544's
// benchmarking range), so the ARP cache holds the gateway only.
constexpr uint32_t kRelayBase = 0x0a000001;  // 10.0.0.1
constexpr uint32_t kGatewayIp = 0x0a0000fe;  // 10.0.0.254
constexpr uint32_t kClientBase = 0xc6120000; // 198.18.0.0
constexpr uint32_t kClientIps = 131000;
constexpr uint16_t kClientPortBase = 20000;
constexpr uint16_t kRelayPortBase = 10000;
constexpr uint32_t kPortsPerAddress = 50000;
constexpr net::MacAddr kGatewayMac{{0x02, 0xaa, 0, 0, 0, 0xfe}};

// Flow f is one party of call f / 2; flows 2c and 2c + 1 relay to each other.
// The call's two local ports are on two relay addresses (the two sides of
// a bridging relay), so 50k calls need 100k local endpoints.
struct Layout {
  uint32_t calls = 0;
  uint32_t flows() const { return 2 * calls; }
  uint32_t addresses() const { return 2 * ((calls + kPortsPerAddress - 1) / kPortsPerAddress); }
  uint16_t iface(FlowId f) const { return uint16_t(2 * (f / 2 / kPortsPerAddress) + (f & 1)); }
  uint16_t local_port(FlowId f) const { return uint16_t(kRelayPortBase + f / 2 % kPortsPerAddress); }
  uint32_t local_ip(FlowId f) const { return kRelayBase + iface(f); }
  uint32_t client_ip(FlowId f) const { return kClientBase + 1 + f % kClientIps; }
  uint16_t client_port(FlowId f) const { return uint16_t(kClientPortBase + 2 * (f / kClientIps)); }
  uint32_t ssrc(FlowId f) const { return f * 2654435761u ^ 0x5eed1234u; }
  FlowId flow_of(uint32_t ip, uint16_t port) const {
    if (ip <= kClientBase || ip > kClientBase + kClientIps || port < kClientPortBase || (port & 1)) return kNoFlow;
    const uint64_t f = uint64_t(ip - kClientBase - 1) + uint64_t(kClientIps) * ((port - kClientPortBase) / 2);
    return f < flows() ? FlowId(f) : kNoFlow;
  }
};

uint32_t sum_be32(uint32_t v) { return (v >> 16) + (v & 0xffff); }

// The wire: builds each frame from a template plus per-flow fields, with the
// IPv4 and UDP checksums completed from per-flow partial sums (RFC 1071
// sums are additive), so no per-packet pass over the payload.
class Generator {
 public:
  struct Stats {
    uint64_t offered = 0;     // frames the relay's RX ring accepted
    uint64_t received = 0;    // frames the relay sent back, drained here
    uint64_t tx_calls = 0;
    uint64_t ring_full = 0;   // tx_burst calls that left frames behind
    uint64_t alloc_fail = 0;
    uint64_t checked = 0;     // relayed frames parsed and checked field by field
    uint64_t bad = 0;
  };

  Generator(const Layout& layout, DpdkPort& peer, const net::MacAddr& relay_mac, bool sequential)
      : layout_(layout), peer_(peer), relay_mac_(relay_mac) {
    // The constant parts: built once with the project's own frame builder.
    uint8_t buf[256] = {};
    uint8_t* payload = buf + 64;
    payload[0] = 0x80;  // RTP version 2, no padding/extension/CSRC
    payload[1] = 0;     // PT 0 (PCMU), no marker
    for (size_t i = 12; i < kRtpLength; ++i) payload[i] = uint8_t(0xd5 ^ (i * 37 & 0x1f));  // µ-law noise
    net::UdpFrameSpec spec;
    spec.src_mac = kGatewayMac;
    spec.dst_mac = relay_mac;
    spec.src = Endpoint{IpAddr::from_v4(0), 0};
    spec.dst = Endpoint{IpAddr::from_v4(0), 0};
    spec.ttl = 60;  // a few routers away
    uint8_t* frame = net::build_udp_frame(payload, kRtpLength, spec);
    std::memcpy(tmpl_, frame, kFrameLength);
    // Zero the per-packet fields; sum what is left.
    for (size_t off : {18, 24, 26, 28, 30, 32, 34, 36, 40, 44, 46, 48, 50, 52}) store_be16(tmpl_ + off, 0);
    const uint32_t ip_const = net::checksum_add(tmpl_ + 14, 20);
    const uint32_t udp_const = net::checksum_add(tmpl_ + 34, 8 + kRtpLength) + net::kIpProtoUdp + (8 + kRtpLength);

    const uint32_t n = layout_.flows();
    flows_.resize(n);
    for (FlowId f = 0; f < n; ++f) {
      GenFlow& g = flows_[f];
      g.src_ip = layout_.client_ip(f);
      g.dst_ip = layout_.local_ip(f);
      g.sport = layout_.client_port(f);
      g.dport = layout_.local_port(f);
      g.ssrc = layout_.ssrc(f);
      g.seq = uint16_t(f * 7919u);
      g.ts = f * 104729u;
      const uint32_t addrs = sum_be32(g.src_ip) + sum_be32(g.dst_ip);
      g.ip_base = ip_const + addrs;
      g.udp_base = udp_const + addrs + g.sport + g.dport + sum_be32(g.ssrc);
    }
    // A stride near n / golden ratio, coprime with n: every flow once per
    // round, consecutive packets far apart in the flow table.
    stride_ = 1;
    if (!sequential && n > 2) {
      stride_ = uint32_t(double(n) * 0.6180339887);
      while (std::gcd(stride_, n) != 1) ++stride_;
    }
  }

  uint32_t stride() const { return stride_; }
  const Stats& stats() const { return stats_; }
  void reset_stats() { stats_ = Stats{}; }

  // Writes the next frame into d.
  void build(uint8_t* d) {
    GenFlow& g = flows_[next_];
    next_ += stride_;
    if (next_ >= flows_.size()) next_ -= uint32_t(flows_.size());
    __builtin_prefetch(&flows_[next_], 1);
    std::memcpy(d, tmpl_, kFrameLength);
    const uint16_t seq = g.seq;
    const uint32_t ts = g.ts;
    store_be16(d + 18, seq);  // IPv4 identification
    store_be16(d + 24, net::checksum_finish(g.ip_base + seq));
    store_be32(d + 26, g.src_ip);
    store_be32(d + 30, g.dst_ip);
    store_be16(d + 34, g.sport);
    store_be16(d + 36, g.dport);
    uint16_t udp = net::checksum_finish(g.udp_base + seq + sum_be32(ts));
    store_be16(d + 40, udp == 0 ? 0xffff : udp);  // RFC 768: 0 means "none"
    store_be16(d + 44, seq);
    store_be32(d + 46, ts);
    store_be32(d + 50, g.ssrc);
    g.seq = uint16_t(seq + 1);
    g.ts = ts + 160;
  }

  // Sends frames and drains the relay's output until `until`.
  // `between`, if set, runs after every tx_burst (--same-core: the worker's
  // poll on this core).
  void run_until(Clock::time_point until, const std::function<void()>& between = {}) {
    uint32_t iter = 0;
    for (;;) {
      drain();
      if (npend_ == 0) {
        if (!peer_.alloc_mbufs(pend_, kGenBurst)) {
          ++stats_.alloc_fail;
        } else {
          for (uint16_t i = 0; i < kGenBurst; ++i) {
            uint8_t* d = mbuf_append(pend_[i], uint16_t(kFrameLength));
            if (d == nullptr) {  // cannot happen with the default data room
              std::fprintf(stderr, "voxbench-dataplane: mbuf too small\n");
              std::abort();
            }
            build(d);
          }
          npend_ = kGenBurst;
          off_ = 0;
        }
      }
      if (npend_) {
        const uint16_t sent = peer_.tx_burst(0, pend_ + off_, npend_);
        ++stats_.tx_calls;
        stats_.offered += sent;
        off_ = uint16_t(off_ + sent);
        npend_ = uint16_t(npend_ - sent);
        if (npend_) ++stats_.ring_full;
      }
      if (between) between();
      if ((++iter & 15) == 0 && Clock::now() >= until) return;
    }
  }

  // What is left: the relay's output drained, unsent frames freed.
  void finish() {
    drain();
    if (npend_) mbuf_free_bulk(pend_ + off_, npend_);
    npend_ = 0;
  }

  // One frame the relay sent back, checked against the layout: the other
  // party of the call, from the egress flow's local endpoint, through the
  // gateway, checksums verified by parse_frame.
  bool check(const uint8_t* d, size_t len, const net::MacAddr& relay_mac) const {
    net::FrameView v;
    if (net::parse_frame(d, len, &v) != net::FrameStatus::kOk) return false;
    if (!(v.dst_mac() == kGatewayMac) || !(v.src_mac() == relay_mac) || v.ttl != 64) return false;
    if (!v.dst_ip.is_v4() || !v.src_ip.is_v4() || v.payload_length != kRtpLength) return false;
    const FlowId to = layout_.flow_of(v.dst_ip.v4(), v.dst_port);
    if (to == kNoFlow) return false;
    const FlowId from = to ^ 1;
    return v.src_ip.v4() == layout_.local_ip(to) && v.src_port == layout_.local_port(to) &&
           v.payload()[0] == 0x80 && load_be32(v.payload() + 8) == layout_.ssrc(from);
  }

 private:
  struct GenFlow {
    uint32_t src_ip, dst_ip;
    uint16_t sport, dport;
    uint32_t ssrc;
    uint32_t ts;
    uint16_t seq;
    uint32_t ip_base, udp_base;
  };

  void drain() {
    void* rx[kDrainBurst];
    const uint16_t n = peer_.rx_burst(0, rx, kDrainBurst);
    if (n == 0) return;
    stats_.received += n;
    if ((++drains_ & 1023) == 1) {
      auto data = mbuf_data(rx[0]);
      ++stats_.checked;
      if (!check(data.data(), data.size(), relay_mac_)) ++stats_.bad;
    }
    mbuf_free_bulk(rx, n);
  }

  const Layout& layout_;
  DpdkPort& peer_;
  net::MacAddr relay_mac_;
  alignas(64) uint8_t tmpl_[kFrameLength];
  std::vector<GenFlow> flows_;
  uint32_t next_ = 0, stride_ = 1;
  void* pend_[kGenBurst];
  uint16_t npend_ = 0, off_ = 0;
  uint64_t drains_ = 0;
  Stats stats_;
};

// Worker-side counters at one moment, for deltas over a window (read only
// while the worker lcore is idle).
struct Snapshot {
  uint64_t rx = 0, tx = 0, no_flow = 0, latches = 0;
  uint64_t drops[kDropReasonCount] = {};
  std::vector<std::pair<std::string, uint64_t>> dpdk;
  uint64_t bursts = 0;

  static Snapshot take(const WorkerState& s, const WorkerLoop& loop) {
    Snapshot out;
    const WorkerCounters& c = s.counters();
    out.rx = c.rx_packets.load(std::memory_order_relaxed);
    out.tx = c.tx_packets.load(std::memory_order_relaxed);
    out.no_flow = c.no_flow.load(std::memory_order_relaxed);
    out.latches = c.latches.load(std::memory_order_relaxed);
    for (size_t r = 0; r < kDropReasonCount; ++r) out.drops[r] = c.drops[r].load(std::memory_order_relaxed);
    out.dpdk = counter_list(loop.counters());
    out.bursts = loop.counters().bursts.load(std::memory_order_relaxed);
    return out;
  }
};

uint64_t named(const std::vector<std::pair<std::string, uint64_t>>& v, const std::string& name) {
  for (const auto& [k, n] : v)
    if (k == name) return n;
  return 0;
}

// Every drop between two snapshots except the relay's TX ring being full
// (the generator not draining fast enough), as "name=count" strings.
std::vector<std::string> unexpected_drops(const Snapshot& a, const Snapshot& b) {
  std::vector<std::string> out;
  if (b.no_flow != a.no_flow) out.push_back("no-flow=" + std::to_string(b.no_flow - a.no_flow));
  const uint64_t tx_drops = named(b.dpdk, "tx drops") - named(a.dpdk, "tx drops");
  for (size_t r = 0; r < kDropReasonCount; ++r) {
    uint64_t d = b.drops[r] - a.drops[r];
    if (DropReason(r) == DropReason::kSendFailed) d -= std::min(d, tx_drops);
    if (d) out.push_back(std::string("drop ") + to_string(DropReason(r)) + "=" + std::to_string(d));
  }
  static const char* kFine[] = {"frames rx", "bursts", "arp replies sent", "arp learned", "tx drops"};
  for (size_t i = 0; i < b.dpdk.size(); ++i) {
    const auto& [name, n] = b.dpdk[i];
    if (std::find(std::begin(kFine), std::end(kFine), name) != std::end(kFine)) continue;
    if (n != a.dpdk[i].second) out.push_back(name + "=" + std::to_string(n - a.dpdk[i].second));
  }
  return out;
}

// A cheap timestamp for timing each poll: the TSC where there is one.
uint64_t cycles() {
#if defined(__x86_64__)
  return __rdtsc();
#else
  return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count());
#endif
}

// The round trip of one cache line between the generator's core and the
// worker's (ns, median of 9 runs of 2000 exchanges). On a VM the two vCPUs
// may share a last-level cache (~100 ns here) or not (~450 ns: another
// CCD or socket); every frame crosses once each way, so this says which
// machine a window ran on.
double cross_core_rtt_ns(unsigned lcore) {
  alignas(64) static std::atomic<uint64_t> line{0};
  constexpr uint64_t kExchanges = 2000;
  std::vector<double> runs;
  for (int r = 0; r < 9; ++r) {
    line.store(0, std::memory_order_relaxed);
    std::function<void()> echo = [] {
      for (uint64_t i = 1; i <= kExchanges; ++i) {
        while (line.load(std::memory_order_acquire) != 2 * i - 1) {
        }
        line.store(2 * i, std::memory_order_release);
      }
    };
    if (!launch_on_lcore(lcore, &echo)) return 0;
    const Clock::time_point t0 = Clock::now();
    for (uint64_t i = 1; i <= kExchanges; ++i) {
      line.store(2 * i - 1, std::memory_order_release);
      while (line.load(std::memory_order_acquire) != 2 * i) {
      }
    }
    const Clock::time_point t1 = Clock::now();
    wait_lcore(lcore);
    runs.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / kExchanges);
  }
  std::nth_element(runs.begin(), runs.begin() + 4, runs.end());
  return runs[4];
}

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// One window as both threads saw it. The machines are shared: the CPU time
// each thread got says whether the wall-clock rate measured the relay or
// the neighbours.
struct Window {
  double wall = 0;
  double worker_cpu = 0, gen_cpu = 0;  // thread CPU seconds
  // --poll-loop only: the worker's non-empty polls timed one by one
  // (cycles(), rx_burst included), and its empty polls.
  std::vector<uint32_t> poll_cycles;
  uint64_t empty_polls = 0;
  double ns_per_cycle = 0;
  double poll_quantile_ns(double q) {
    if (poll_cycles.empty()) return 0;
    const size_t k = std::min(poll_cycles.size() - 1, size_t(q * double(poll_cycles.size())));
    std::nth_element(poll_cycles.begin(), poll_cycles.begin() + long(k), poll_cycles.end());
    return double(poll_cycles[k]) * ns_per_cycle;
  }
};

struct Options {
  uint32_t calls = 50000;
  double seconds = 5;
  double warmup = 1;
  uint32_t ring_size = 4096;
  bool sequential = false;
  bool poll_loop = false;
  bool same_core = false;
  int worker_lcore = -1;
  std::vector<std::string> eal = {"--no-huge", "--no-pci", "-m", "1024", "--no-shconf", "--no-telemetry", "-l", "0-1"};
};

class Bench {
 public:
  Bench(DpdkPort& relay, DpdkPort& peer, unsigned lcore) : relay_(relay), peer_(peer), lcore_(lcore) {
    std::memcpy(relay_mac_.bytes, relay_.info().mac.data(), 6);
  }

  const net::MacAddr& relay_mac() const { return relay_mac_; }

  WorkerLoopConfig loop_config(const Layout& layout) const {
    WorkerLoopConfig c;
    c.ports.push_back(PortQueues{&relay_, 0, 0, IpAddr::from_v4(kGatewayIp), {}});
    for (uint32_t i = 0; i < layout.addresses(); ++i) c.host.addresses.push_back(IpAddr::from_v4(kRelayBase + i));
    c.host.prefix_len = 24;
    c.idle_sleep_us = 0;  // spin, like testpmd
    c.time_bursts = true;
    return c;
  }

  // Before a window, single-threaded: nothing queued towards the relay, and
  // the relay knows the gateway's MAC (it learns it from the gateway's ARP
  // request for its first address, RFC 826, and answers it).
  bool prepare(WorkerLoop& loop) {
    void* m[32];
    uint16_t n;
    while ((n = relay_.rx_burst(0, m, 32)) > 0) mbuf_free_bulk(m, n);
    while ((n = peer_.rx_burst(0, m, 32)) > 0) mbuf_free_bulk(m, n);
    uint8_t req[64];
    const size_t len = net::build_arp_request(req, sizeof req, kGatewayMac, kGatewayIp, kRelayBase);
    void* a;
    if (len == 0 || !peer_.alloc_mbufs(&a, 1)) return false;
    std::memcpy(mbuf_append(a, uint16_t(len)), req, len);
    if (peer_.tx_burst(0, &a, 1) != 1) {
      mbuf_free(a);
      return false;
    }
    if (loop.poll_once() != 1) return false;
    bool replied = false;
    while ((n = peer_.rx_burst(0, m, 32)) > 0) {
      for (uint16_t i = 0; i < n; ++i) {
        auto d = mbuf_data(m[i]);
        auto arp = net::parse_arp(d.data(), d.size());
        replied |= arp.ok() && arp->operation == net::kArpReply && arp->sender_ip == kRelayBase;
      }
      mbuf_free_bulk(m, n);
    }
    return replied && loop.counters().arp_learned.load(std::memory_order_relaxed) == 1;
  }

  // Runs the worker on its lcore while the generator runs here for `seconds`.
  // The worker runs WorkerLoop::run(); with poll_loop, the same loop spelled
  // out here (poll_once until stopped, then run() for its epilogue) so that
  // every non-empty poll is timed exactly, not in log2 buckets.
  // same_core (diagnostic): no worker lcore; the generator polls the worker
  // after each of its bursts, so no frame crosses cores and few are in flight.
  Window window(WorkerLoop& loop, Generator& gen, double seconds, bool poll_loop, bool same_core = false) {
    Window w;
    std::atomic<bool> stop{false};
    if (poll_loop || same_core) w.poll_cycles.reserve(size_t(seconds * 2e6) + 1024);
    auto timed_poll = [&] {
      const uint64_t a = cycles();
      if (loop.poll_once() == 0) {
        ++w.empty_polls;
        return;
      }
      const uint64_t took = cycles() - a;
      if (w.poll_cycles.size() < w.poll_cycles.capacity())
        w.poll_cycles.push_back(uint32_t(std::min<uint64_t>(took, UINT32_MAX)));
    };
    std::function<void()> fn = [&] {
      const double c0 = thread_cpu_seconds();
      if (poll_loop) {
        while (!stop.load(std::memory_order_relaxed)) timed_poll();
      }
      loop.run(stop);
      w.worker_cpu = thread_cpu_seconds() - c0;
    };
    const double g0 = thread_cpu_seconds();
    const uint64_t tsc0 = cycles();
    const Clock::time_point t0 = Clock::now();
    const Clock::time_point until = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    if (same_core) {
      gen.run_until(until, timed_poll);
    } else {
      if (!launch_on_lcore(lcore_, &fn)) {
        std::fprintf(stderr, "voxbench-dataplane: cannot launch on lcore %u\n", lcore_);
        std::exit(1);
      }
      gen.run_until(until);
    }
    const Clock::time_point t1 = Clock::now();
    const uint64_t tsc1 = cycles();
    stop.store(true, std::memory_order_relaxed);
    if (same_core) {
      loop.run(stop);  // its epilogue
    } else {
      wait_lcore(lcore_);
    }
    w.gen_cpu = thread_cpu_seconds() - g0;
    if (same_core) w.worker_cpu = w.gen_cpu;
    gen.finish();
    w.wall = std::chrono::duration<double>(t1 - t0).count();
    w.ns_per_cycle = w.wall * 1e9 / double(tsc1 - tsc0);
    return w;
  }

 private:
  DpdkPort& relay_;
  DpdkPort& peer_;
  unsigned lcore_;
  net::MacAddr relay_mac_;
};

void install_flows(WorkerState& state, const Layout& layout) {
  for (FlowId f = 0; f < layout.flows(); ++f) {
    FlowCommand c;
    c.type = CommandType::kAddFlow;
    c.id = f;
    c.state.key = make_local_key(layout.iface(f), layout.local_port(f));
    c.state.egress_rtp = c.state.egress_rtcp = f ^ 1;
    c.state.flags = kFlowEnabled;
    c.state.sdp_source = Endpoint{IpAddr::from_v4(layout.client_ip(f)), layout.client_port(f)};
    c.clocks.add(0, 8000);  // PCMU, as the SDPs would say: jitter is measured (dataplane/reception.h)
    state.apply(c);
  }
}

std::string ip_text(uint32_t v4) { return IpAddr::from_v4(v4).to_string(); }

int run(const Options& o) {
  auto eal = init_eal(o.eal, "voxbench-dataplane");
  if (!eal.ok()) {
    std::fprintf(stderr, "voxbench-dataplane: EAL: %s\n", eal.error().c_str());
    return 1;
  }
  const std::vector<unsigned> workers = worker_lcores();
  if (workers.empty()) {
    std::fprintf(stderr, "voxbench-dataplane: needs two lcores (EAL -l 0-1)\n");
    return 1;
  }
  unsigned lcore = workers.front();
  if (o.worker_lcore >= 0) {
    if (std::find(workers.begin(), workers.end(), unsigned(o.worker_lcore)) == workers.end()) {
      std::fprintf(stderr, "voxbench-dataplane: lcore %d is not an EAL worker lcore\n", o.worker_lcore);
      return 1;
    }
    lcore = unsigned(o.worker_lcore);
  }

  auto ids = create_ring_pair("vbench", 1, o.ring_size);
  if (!ids.ok()) {
    std::fprintf(stderr, "voxbench-dataplane: %s\n", ids.error().c_str());
    return 1;
  }
  PortConfig relay_cfg;  // polls its RX ring; allocates only ARP requests
  PortConfig peer_cfg;   // the wire: every frame in flight comes from its pool
  peer_cfg.mbufs_per_pool = 4 * o.ring_size + 4096 - 1;
  auto relay = DpdkPort::open(ids->first, relay_cfg);
  if (!relay.ok()) {
    std::fprintf(stderr, "voxbench-dataplane: relay port: %s\n", relay.error().c_str());
    return 1;
  }
  auto peer = DpdkPort::open(ids->second, peer_cfg);
  if (!peer.ok()) {
    std::fprintf(stderr, "voxbench-dataplane: peer port: %s\n", peer.error().c_str());
    return 1;
  }

  Layout layout{o.calls};
  auto state = std::make_unique<WorkerState>(0, layout.flows());
  install_flows(*state, layout);
  if (state->table().size() != layout.flows()) {
    std::fprintf(stderr, "voxbench-dataplane: %u of %u flows installed\n", state->table().size(), layout.flows());
    return 1;
  }
  Bench bench(*relay, *peer, lcore);
  Generator gen(layout, *peer, bench.relay_mac(), o.sequential);

  // Self-test of the generator: its frames parse with valid checksums.
  {
    uint8_t f[kFrameLength];
    for (int i = 0; i < 1000; ++i) {
      gen.build(f);
      net::FrameView v;
      const auto st = net::parse_frame(f, sizeof f, &v);
      if (st != net::FrameStatus::kOk) {
        std::fprintf(stderr, "voxbench-dataplane: generator frame %d: %s\n", i, net::to_string(st));
        return 1;
      }
    }
  }

  std::printf("voxbench-dataplane: WorkerLoop on lcore %u, generator on lcore %u, net_ring pair (rings of %u)\n",
              lcore, eal->main_lcore(), o.ring_size);
  std::printf("flows: %u (%u calls x 2) on %s..%s ports %u-%u; parties %s..%s via gateway %s; "
              "%zu-octet frames (%zu-octet RTP, PT 0); order %s (stride %u)\n",
              layout.flows(), layout.calls, ip_text(kRelayBase).c_str(),
              ip_text(kRelayBase + layout.addresses() - 1).c_str(), kRelayPortBase,
              kRelayPortBase + std::min(layout.calls, kPortsPerAddress) - 1,
              ip_text(layout.client_ip(0)).c_str(),
              ip_text(layout.client_ip(std::min(layout.flows(), kClientIps) - 1)).c_str(),
              ip_text(kGatewayIp).c_str(), kFrameLength, kRtpLength, o.sequential ? "sequential" : "spread",
              gen.stride());
  std::fflush(stdout);

  std::vector<std::string> problems;
  // Warm-up: every flow latches its source; caches and pools settle. Its own
  // WorkerLoop, so the measured loop's burst times cover the window only.
  {
    WorkerLoop loop(*state, bench.loop_config(layout));
    if (!bench.prepare(loop)) {
      std::fprintf(stderr, "voxbench-dataplane: the relay did not learn the gateway's MAC\n");
      return 1;
    }
    const Snapshot a = Snapshot::take(*state, loop);
    const double wall = bench.window(loop, gen, o.warmup, false).wall;
    const Snapshot b = Snapshot::take(*state, loop);
    std::printf("warm-up: %.2f s, relayed %.2f Mpps, %lu sources latched\n", wall,
                double(b.tx - a.tx) / wall / 1e6, (unsigned long)(b.latches - a.latches));
    for (auto& p : unexpected_drops(a, b)) problems.push_back("warm-up " + p);
  }
  gen.reset_stats();

  WorkerLoop loop(*state, bench.loop_config(layout));
  if (!bench.prepare(loop)) {
    std::fprintf(stderr, "voxbench-dataplane: the relay did not learn the gateway's MAC\n");
    return 1;
  }
  const Snapshot a = Snapshot::take(*state, loop);
  const double rtt_before = o.same_core ? 0 : cross_core_rtt_ns(lcore);
  Window win = bench.window(loop, gen, o.seconds, o.poll_loop, o.same_core);
  const double rtt_after = o.same_core ? 0 : cross_core_rtt_ns(lcore);
  const double wall = win.wall;
  const Snapshot b = Snapshot::take(*state, loop);
  for (auto& p : unexpected_drops(a, b)) problems.push_back(p);
  const Generator::Stats& g = gen.stats();
  if (g.bad) problems.push_back("bad relayed frames=" + std::to_string(g.bad));

  const uint64_t relayed = b.tx - a.tx;
  const uint64_t rx = b.rx - a.rx;
  const uint64_t frames = named(b.dpdk, "frames rx") - named(a.dpdk, "frames rx");
  const uint64_t bursts = b.bursts - a.bursts;
  const uint64_t tx_drops = named(b.dpdk, "tx drops") - named(a.dpdk, "tx drops");
  const double mean_burst = bursts ? double(frames) / double(bursts) : 0;
  const double full = g.tx_calls ? double(g.ring_full) / double(g.tx_calls) : 0;
  const BurstTimes& t = loop.burst_times();
  const uint64_t p50 = t.quantile_ns(0.50), p99 = t.quantile_ns(0.99);

  std::printf("measured: %.3f s wall\n", wall);
  std::printf("offered_pps=%.0f (accepted by the relay's RX ring; the generator found it full on %.1f %% of %lu tx_bursts)\n",
              double(g.offered) / wall, 100 * full, (unsigned long)g.tx_calls);
  std::printf("relayed_pps=%.0f (worker tx_packets; rx %lu, relayed %lu, TX ring full %lu)\n",
              double(relayed) / wall, (unsigned long)rx, (unsigned long)relayed, (unsigned long)tx_drops);
  std::printf("received_pps=%.0f (drained by the generator; %lu checked field by field, %lu bad)\n",
              double(g.received) / wall, (unsigned long)g.checked, (unsigned long)g.bad);
  std::printf("worker: %lu bursts, %.2f frames per burst (of %u), %.1f ns wall per relayed packet\n",
              (unsigned long)bursts, mean_burst, kBurstSize, relayed ? wall * 1e9 / double(relayed) : 0.0);
  std::printf("burst_p50_ns<=%lu burst_p99_ns<=%lu (log2 buckets, %lu bursts timed from after rx_burst to after tx_burst)\n",
              (unsigned long)p50, (unsigned long)p99, (unsigned long)t.count);
  if (o.same_core) std::printf("mode: --same-core diagnostic: generator and worker share lcore %u\n", eal->main_lcore());
  std::printf("cpu: the worker thread ran %.1f %% of the window, the generator %.1f %% (the rest went to other processes); "
              "%.1f ns of worker CPU per relayed packet\n",
              100 * win.worker_cpu / wall, 100 * win.gen_cpu / wall,
              relayed ? win.worker_cpu * 1e9 / double(relayed) : 0.0);
  if (!o.same_core)
    std::printf("cross_core_rtt_ns=%.0f/%.0f (a cache line there and back between lcores %u and %u, before/after the "
              "window: ~100 when the vCPUs share a last-level cache, ~450 when not)\n",
              rtt_before, rtt_after, eal->main_lcore(), lcore);
  if (win.worker_cpu < 0.95 * wall || (!o.same_core && win.gen_cpu < 0.95 * wall)) {
    std::printf("contention: WARNING: the worker or the generator had less than 95 %% of its core; "
                "mpps measures the machine's load, not the relay\n");
  }
  if (o.poll_loop || o.same_core) {
    const double q50 = win.poll_quantile_ns(0.5), q99 = win.poll_quantile_ns(0.99);
    std::printf("poll_p50_ns=%.0f poll_p99_ns=%.0f (exact, %zu non-empty polls incl. rx_burst; %lu empty polls); "
                "p50 per packet at %.2f frames per burst: %.1f ns\n",
                q50, q99, win.poll_cycles.size(), (unsigned long)win.empty_polls, mean_burst,
                mean_burst > 0 ? q50 / mean_burst : 0.0);
  }
  // The generator sends whole bursts of 32, so a non-empty poll finds 32
  // frames whether or not the worker had to wait for them; the time spent
  // in bursts says whether it did.
  const double busy = wall > 0 ? double(t.total_ns) / (wall * 1e9) : 0;
  if (o.same_core) {
    std::printf("saturation: n/a (--same-core: the worker polls after each generated burst)\n");
  } else if (busy >= 0.9) {
    std::printf("saturation: worker-bound (busy in bursts %.1f %% of the window, %.2f frames per burst)\n",
                100 * busy, mean_burst);
  } else {
    std::printf("saturation: WARNING: the worker waited for the generator (busy in bursts %.1f %% of the window, "
                "%.2f frames per burst); mpps is a lower bound of the worker's rate\n", 100 * busy, mean_burst);
  }
  if (g.alloc_fail) std::printf("generator: %lu mbuf allocation failures\n", (unsigned long)g.alloc_fail);
  if (problems.empty()) {
    std::printf("drops: none (other than TX ring full: %lu)\n", (unsigned long)tx_drops);
  } else {
    std::printf("drops: UNEXPECTED:");
    for (const auto& p : problems) std::printf(" %s", p.c_str());
    std::printf("\n");
  }
  std::printf("mpps=%.2f\n", double(relayed) / wall / 1e6);
  std::fflush(stdout);

  // Tear down: nothing in flight, ports before EAL.
  gen.finish();
  void* m[32];
  uint16_t n;
  while ((n = relay->rx_burst(0, m, 32)) > 0) mbuf_free_bulk(m, n);
  while ((n = peer->rx_burst(0, m, 32)) > 0) mbuf_free_bulk(m, n);
  return problems.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"voxbench-dataplane: the DPDK worker loop's relay rate on one core over net_ring"};
  app.add_option("--calls", o.calls, "Concurrent calls (2 flows each)")->capture_default_str()->check(CLI::Range(1u, 500000u));
  app.add_option("--seconds", o.seconds, "Measured seconds")->capture_default_str()->check(CLI::Range(0.1, 3600.0));
  app.add_option("--warmup", o.warmup, "Warm-up seconds before the measured window")
      ->capture_default_str()->check(CLI::Range(0.1, 600.0));
  app.add_option("--ring-size", o.ring_size, "net_ring size, each direction (power of two)")
      ->capture_default_str()->check(CLI::Range(64u, 65536u));
  app.add_flag("--poll-loop", o.poll_loop,
               "Drive poll_once() here instead of run() and time every non-empty poll exactly (diagnostic)");
  app.add_flag("--same-core", o.same_core,
               "Diagnostic: poll the worker on the generator's core after each generated burst "
               "(no cross-core traffic; mpps is then generator + worker on one core)");
  app.add_flag("--sequential", o.sequential, "Send flows in id order instead of spread over the table");
  app.add_option("--worker-lcore", o.worker_lcore, "EAL lcore of the worker (default: the first worker lcore)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if ((o.ring_size & (o.ring_size - 1)) != 0) {
    std::fprintf(stderr, "voxbench-dataplane: --ring-size must be a power of two\n");
    return 2;
  }
  return run(o);
}
