// DpdkIo: polling, frame classification and the RX core's hand-off.
#include "dataplane/dpdk/dpdk_io.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "dataplane/dpdk/port_fastpath.h"
#include "dataplane/steering.h"

namespace vox::dataplane::dpdk {

static_assert(RTE_MAX_ETHPORTS <= 256, "DpdkIo::port_index_ is indexed by port id");

namespace {

std::vector<WorkerPort> make_ports(const WorkerLoopConfig& config) {
  std::vector<WorkerPort> ports;
  ports.reserve(config.ports.size());
  for (const PortQueues& q : config.ports) ports.emplace_back(q, config.host);
  return ports;
}

// Up to 256 octets of a frame (RTP fits): its lines, a few frames ahead.
inline void prefetch_frame(const rte_mbuf* m) {
  const uint8_t* p = rte_pktmbuf_mtod(m, const uint8_t*);
  const uint32_t len = m->data_len;
  rte_prefetch0(p);
  if (len > 64) rte_prefetch0(p + 64);
  if (len > 128) rte_prefetch0(p + 128);
  if (len > 192) rte_prefetch0(p + 192);
}

}  // namespace

DpdkIo::DpdkIo(WorkerState& state, const WorkerLoopConfig& config, DpdkCounters& counters, BurstTimes& times)
    : w_(state),
      config_(config),
      dc_(counters),
      times_(times),
      ports_(make_ports(config)),
      ifs_(config.host, ports_),
      host_(ports_, ifs_, counters),
      egress_(ports_, ifs_, host_, state, counters) {
  for (size_t p = 0; p < ports_.size(); ++p) {
    port_index_[ports_[p].id] = uint8_t(p);
    for (uint16_t q = ports_[p].rx_queue; q < ports_[p].rx_queue + ports_[p].rx_queues; ++q)
      sources_.emplace_back(uint8_t(p), q);
  }
}

DpdkIo::~DpdkIo() = default;

int64_t DpdkIo::awake(IterationClock& clock) {
  const int64_t now = clock.now();
  if (!awake_) {
    host_.take_news(now);
    awake_ = true;
  }
  return now;
}

// The next RX queue (or the inbox) with frames this iteration.
bool DpdkIo::next(RxBurst& b, IterationClock& clock) {
  if (config_.inbox) {
    if (next_source_++ != 0) return false;
    const uint32_t n = rte_ring_sc_dequeue_burst(static_cast<rte_ring*>(config_.inbox),
                                                 reinterpret_cast<void**>(fb_.m), kBurstSize, nullptr);
    if (n == 0) return false;
    b = RxBurst{fb_.pkts, classify(n, -1, awake(clock)), n};
    return true;
  }
  while (next_source_ < sources_.size()) {
    const auto [p, q] = sources_[next_source_++];
    const uint32_t n = fastpath::rx_burst(ports_[p].id, q, fb_.m, kBurstSize);
    if (n == 0) continue;
    b = RxBurst{fb_.pkts, classify(n, p, awake(clock)), n};
    return true;
  }
  return false;
}

// One RX burst of fb_.m[0..n) from ports_[port] (-1: from the inbox ring,
// each frame's mbuf names its port). The mbufs arrive cold (written by the
// NIC, or by another core): every header's miss starts at once, then each
// frame's lines (parse and the UDP checksum read all 214 octets) a few
// frames ahead.
uint32_t DpdkIo::classify(uint32_t n, int port, int64_t now) {
  if (config_.time_bursts) burst_t0_ = rte_rdtsc();
  bump(dc_.frames_rx, n);
  bump(dc_.bursts);
  bump(w_.counters().rx_calls);
  fb_.n = n;
  for (uint32_t i = 0; i < n; ++i) rte_prefetch0(fb_.m[i]);
  WorkerCounters& wc = w_.counters();
  uint32_t npkts = 0;
  // In registers: parsing writes char-typed fields, which may alias any
  // member, so a member read in the loop would be read again per frame.
  const bool handoff = !config_.outboxes.empty();
  const WorkerPort* const ports = ports_.data();
  const uint32_t* const v4 = ifs_.v4.data();
  const size_t nv4 = ifs_.v4.size();
  constexpr uint32_t kAhead = 4;
  for (uint32_t i = 0; i < std::min(n, kAhead); ++i) prefetch_frame(fb_.m[i]);
  for (uint32_t i = 0; i < n; ++i) {
    rte_mbuf* m = fb_.m[i];
    fb_.keep[i] = false;
    uint8_t* d = rte_pktmbuf_mtod(m, uint8_t*);
    if (i + kAhead < n) prefetch_frame(fb_.m[i + kAhead]);
    const uint8_t pi = port >= 0 ? uint8_t(port) : port_index_[m->port];
    const WorkerPort& in = ports[pi];
    net::FrameView& v = fb_.views[i];
    if (m->nb_segs != 1) [[unlikely]] {  // jumbo / scattered: never RTP
      bump(dc_.frame_drops[size_t(net::FrameStatus::kUnsupported)]);
      continue;
    }
    // A host takes unicast frames for its own MAC only (a port that sees
    // the whole segment, like af_packet, hands it everything).
    if (m->data_len >= 6 && !(d[0] & 1) && std::memcmp(d, in.mac.bytes, 6) != 0) [[unlikely]] {
      bump(dc_.other_mac);
      continue;
    }
    net::ParseOptions opt;
    if (in.rx_offload) {
      const uint64_t ip = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
      const uint64_t l4 = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
      opt.verify_ip_checksum = ip != RTE_MBUF_F_RX_IP_CKSUM_GOOD;
      opt.verify_udp_checksum = l4 != RTE_MBUF_F_RX_L4_CKSUM_GOOD;
    }
    const net::FrameStatus st = net::parse_udp4_fast(d, m->data_len, &v, opt)
                                    ? net::FrameStatus::kOk
                                    : net::parse_frame(d, m->data_len, &v, opt);
    if (st == net::FrameStatus::kOk) [[likely]] {
      // Media for any of the relay's addresses is taken on any of its ports
      // (the weak host model, Linux's default); ARP answers are per port.
      const int iface = v.dst_ip.is_v4() ? Interfaces::of_v4(v4, nv4, v.dst_ip.v4()) : ifs_.of(v.dst_ip);
      if (iface < 0) [[unlikely]] {
        bump(dc_.not_ours);
        continue;
      }
      npkts += handoff ? take_udp<true>(i, d, pi, iface, npkts) : take_udp<false>(i, d, pi, iface, npkts);
      continue;
    }
    if (st == net::FrameStatus::kNotIp || st == net::FrameStatus::kNotUdp) {
      fb_.keep[i] = host_.take(m, d, v, st, pi, now);
      continue;
    }
    bump(dc_.frame_drops[size_t(st)]);
    if (st != net::FrameStatus::kUnsupported) bump(wc.drops[size_t(DropReason::kMalformed)]);
  }
  return npkts;
}

// UDP to the relay's interface `iface`: into the pipeline's burst, or, on
// the RX core of a port without steering, to the owning worker's ring,
// untouched but for the port it came in on (the owner parses it again,
// cache-warm).
template <bool kHandOff>
[[gnu::always_inline]] inline bool DpdkIo::take_udp(uint32_t i, uint8_t* frame, uint8_t port, int iface,
                                                    uint32_t npkts) {
  rte_mbuf* m = fb_.m[i];
  const net::FrameView& v = fb_.views[i];
  if constexpr (kHandOff) {
    const int owner = worker_of_port(v.dst_port, config_.workers);
    if (owner != w_.index()) {
      auto* ring = static_cast<rte_ring*>(config_.outboxes[size_t(owner)]);
      m->port = ports_[port].id;
      if (rte_ring_sp_enqueue(ring, m) == 0) {
        fb_.keep[i] = true;
        bump(dc_.handed_off);
      } else {
        bump(dc_.handoff_drops);
      }
      return false;
    }
  }
  // Room to grow: the rest of the segment after the payload (Ethernet
  // padding included), for an SRTP tag appended in place.
  const uint32_t room = m->data_len + rte_pktmbuf_tailroom(m) - v.payload_offset;
  RxPacket& rp = fb_.pkts[npkts];  // field by field: no temporary read back whole
  rp.data = frame + v.payload_offset;
  rp.len = uint16_t(v.payload_length);
  rp.local = make_local_key(uint16_t(iface), v.dst_port);
  rp.source.addr = v.src_ip;
  rp.source.port = v.src_port;
  rp.capacity = uint16_t(std::min<uint32_t>(room, 0xffff));
  fb_.pkt_frame[npkts] = uint8_t(i);
  return true;
}

// Everything not sent, held, answered or handed off is freed in one call.
void DpdkIo::release(const RxBurst&) {
  rte_mbuf* done[kBurstSize];
  uint32_t ndone = 0;
  for (uint32_t i = 0; i < fb_.n; ++i)
    if (!fb_.keep[i]) done[ndone++] = fb_.m[i];
  if (ndone) rte_pktmbuf_free_bulk(done, ndone);
  if (config_.time_bursts) {
    static const double ns_per_cycle = 1e9 / double(rte_get_tsc_hz());
    times_.add(uint64_t(double(rte_rdtsc() - burst_t0_) * ns_per_cycle));
  }
}

void DpdkIo::end_iteration(uint32_t received, IterationClock& clock) {
  // Frames waiting for a next hop that this iteration may have resolved.
  // (Frames to an unresolved hop are all held, so none overtakes an older one.)
  if (egress_.holding()) egress_.flush_held(awake(clock));
  next_source_ = 0;
  awake_ = false;
  if (received) {
    empty_polls_ = 0;
  } else if (config_.idle_sleep_us && ++empty_polls_ >= config_.idle_polls) {
    std::this_thread::sleep_for(std::chrono::microseconds(config_.idle_sleep_us));
  }
}

void DpdkIo::shutdown() {
  egress_.free_held();
  if (!config_.inbox) return;
  void* m;
  while (rte_ring_sc_dequeue(static_cast<rte_ring*>(config_.inbox), &m) == 0)
    rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
}

}  // namespace vox::dataplane::dpdk
