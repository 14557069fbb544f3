// The relay pipeline. Hot path rules: no allocation, lock, syscall, log or
// exception here; every drop is a named counter.
#include "dataplane/pipeline.h"

#include "dataplane/demux.h"
#include "dataplane/rtcp.h"
#include "dataplane/rtp.h"
#include "dataplane/source_policy.h"

namespace vox::dataplane {

namespace {

inline void drop(WorkerState& w, Flow& f, DropReason r) {
  bump(w.counters().drops[size_t(r)]);
  bump(f.counters.drops[size_t(r)]);
}

}  // namespace

uint32_t process_burst(WorkerState& w, const RxPacket* rx, uint32_t n, int64_t now_ns,
                       TxPacket* tx) {
  WorkerCounters& wc = w.counters();
  FlowTable& table = w.table();
  uint32_t out = 0;
  uint64_t rx_bytes = 0;
  for (uint32_t i = 0; i < n; ++i) {
    const RxPacket& p = rx[i];
    if (i + 1 < n) __builtin_prefetch(rx[i + 1].data);
    rx_bytes += p.len;

    FlowId id = table.find(p.local);
    if (id == kNoFlow) [[unlikely]] {
      bump(wc.no_flow);
      continue;
    }
    Flow& f = w.flow(id);
    FlowHot& h = f.hot;

    // RFC 7983 first-byte demux, then RFC 5761 RTP/RTCP split.
    PacketKind kind = classify_packet(p.data, p.len);
    FlowId egress;
    if (kind == PacketKind::kRtp) [[likely]] {
      if (!parse_rtp(p.data, p.len).ok()) {
        drop(w, f, DropReason::kMalformed);
        continue;
      }
      egress = h.egress_rtp;
    } else if (kind == PacketKind::kRtcp) {
      if (!parse_rtcp_compound(p.data, p.len, true).ok()) {
        drop(w, f, DropReason::kMalformed);
        continue;
      }
      egress = h.egress_rtcp;
    } else {
      drop(w, f, DropReason::kNotMedia);
      continue;
    }

    SourceVerdict v = check_source(h, p.source, now_ns);
    if (v == SourceVerdict::kReject) [[unlikely]] {
      drop(w, f, DropReason::kSourceMismatch);
      continue;
    }
    if (v == SourceVerdict::kLatched) {
      bump(wc.latches);
      f.published.publish(h.source);
    }
    bump(f.counters.packets);
    bump(f.counters.bytes, p.len);
    f.counters.last_packet_ns.store(now_ns, std::memory_order_relaxed);

    if (egress == kNoFlow || !(h.flags & kFlowEnabled)) [[unlikely]] {
      drop(w, f, DropReason::kNoDestination);
      continue;
    }
    const FlowHot& e = w.flow(egress).hot;
    const Endpoint& dest = (e.flags & kFlowAsymmetric) ? e.sdp_source : e.source;
    if (!dest.valid()) [[unlikely]] {
      drop(w, f, DropReason::kNoDestination);
      continue;
    }
    tx[out++] = TxPacket{p.data, p.len, e.fd, egress, dest, i};
  }
  bump(wc.rx_packets, n);
  bump(wc.rx_bytes, rx_bytes);
  return out;
}

}  // namespace vox::dataplane
