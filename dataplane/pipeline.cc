// The relay pipeline. Hot path rules: no allocation, lock, syscall, log or
// exception here; every drop is a named counter.
#include "dataplane/pipeline.h"

#include <algorithm>
#include <cstring>

#include "dataplane/demux.h"
#include "dataplane/rtcp.h"
#include "dataplane/rtcp_report.h"
#include "dataplane/rtp.h"
#include "dataplane/source_policy.h"
#include "dataplane/srtp_slot.h"
#include "dataplane/transcode.h"

namespace vox::dataplane {

namespace {

inline void drop(WorkerState& w, Flow& f, DropReason r) {
  bump(w.counters().drops[size_t(r)]);
  bump(f.drops.by_reason[size_t(r)]);
}

// What the party sent failed to unprotect: forged or corrupt, replayed
// (a window too old counts as replayed: RFC 3711 §3.3.2 rejects both), or
// anything else.
inline DropReason srtp_drop_reason(SrtpError e) {
  switch (e) {
    case SrtpError::kAuthFailed:
      return DropReason::kSrtpAuthFailed;
    case SrtpError::kReplayed:
    case SrtpError::kTooOld:
      return DropReason::kSrtpReplayed;
    default:
      return DropReason::kSrtpError;
  }
}

// The context protecting what leaves through `e` toward an SRTP party, or
// null when that party receives plain RTP. Only then is the egress flow's
// id read, off the ingress flow's state line.
inline SrtpStream* srtp_outbound(WorkerState& w, const Egress& e, const Flow& f, PacketKind kind) {
  if (!(e.flags & kFlowSrtp)) [[likely]]
    return nullptr;
  SrtpSlot* slot = w.srtp(kind == PacketKind::kRtcp ? f.state.egress_rtcp : f.state.egress_rtp);
  return slot && slot->outbound ? &*slot->outbound : nullptr;
}

// Protects a packet toward an SRTP party in place (p, len up to capacity).
// Failing (no room for the tag, key expired, or a duplicate from the plain
// side, which re-encrypting would send under reused keystream, RFC 3711
// §9.1) drops it as kSrtpError: the auth and replay reasons name what a
// party sent. False then.
inline bool seal(WorkerState& w, Flow& f, SrtpStream& srtp, PacketKind kind, uint8_t* p, size_t& len,
                 size_t capacity) {
  auto sealed = kind == PacketKind::kRtp ? srtp.protect_rtp(p, len, capacity) : srtp.protect_rtcp(p, len, capacity);
  if (!sealed.ok()) [[unlikely]] {
    drop(w, f, DropReason::kSrtpError);
    return false;
  }
  len = *sealed;
  return true;
}

// The relay's own RTCP toward the party transcoder `slot` (on flow f) sends
// to, once per interval while it sends (RFC 3550 §6.2: the first after half
// an interval): an SR for the transcoder's stream, a report block on the
// party's stream, a CNAME. Leaves with the burst's generated packets.
void send_own_rtcp(WorkerState& w, Flow& f, TranscodeSlot& slot, int64_t now_ns) {
  if (slot.next_rtcp_ns == 0) {
    slot.next_rtcp_ns = now_ns + slot.rtcp_interval_ns / 2;
    return;
  }
  if (now_ns < slot.next_rtcp_ns) return;
  slot.next_rtcp_ns = now_ns + slot.rtcp_interval_ns;
  GeneratedPackets& g = *w.generated();
  const Egress e = w.egress_to(f.state.egress_rtcp);  // the party's RTCP port
  if (g.count == GeneratedPackets::kSlots || !e.dest.valid()) return;
  Flow& party = w.flow(f.state.egress_rtcp);
  const OwnSender s{slot.out_ssrc, ntp_now(), slot.out_timestamp, uint32_t(slot.packets_out),
                    uint32_t(slot.octets_out)};
  const OwnReport r = report_on(w.flow(f.state.egress_rtp).rx, party.reports, now_ns, slot.prior_expected,
                                slot.prior_received);
  uint8_t* p = g.buffers[g.count];
  size_t len = write_own_rtcp(p, s, r);
  SrtpStream* srtp = srtp_outbound(w, e, f, PacketKind::kRtcp);
  if (srtp && !seal(w, f, *srtp, PacketKind::kRtcp, p, len, GeneratedPackets::kSlotBytes)) return;
  party.reports.sent_sr(s.ntp, now_ns);
  g.out[g.count++] = TxPacket{p, uint16_t(len), e.dest, GeneratedPackets::kRxIndex, e.key, srtp != nullptr};
  bump(w.counters().rtcp_sent);
}

// Feeds one RTP packet to the flow's transcoder; what it generates is
// appended, header written, to the worker's generated packets, protected
// in its slot by `srtp` when the receiving party speaks SRTP.
void transcode(WorkerState& w, Flow& f, FlowId id, const uint8_t* data, uint16_t length, int64_t now_ns,
               const TxPacket& to, SrtpStream* srtp) {
  const RtpView rtp = *parse_rtp(data, length);  // valid: checked on arrival
  TranscodeSlot* slot = w.transcoder(id);
  GeneratedPackets& g = *w.generated();
  codecs::OutputPacket outs[codecs::Transcoder::kMaxOutputPackets];
  const uint32_t base = g.count;
  const uint32_t room =
      std::min<uint32_t>(GeneratedPackets::kSlots - base, codecs::Transcoder::kMaxOutputPackets);
  // The encoder leaves room for the SRTP tag in each slot.
  const size_t trailer = srtp ? srtp->rtp_trailer() : 0;
  for (uint32_t i = 0; i < room; ++i)
    outs[i].buffer =
        std::span<uint8_t>(g.buffers[base + i] + kRtpFixedHeaderLength,
                           GeneratedPackets::kSlotBytes - kRtpFixedHeaderLength - trailer);
  codecs::InputPacket in;
  in.ssrc = rtp.ssrc;
  in.seq = rtp.sequence;
  in.timestamp = rtp.timestamp;
  in.payload_type = rtp.payload_type;
  in.marker = rtp.marker;
  in.payload = std::span<const uint8_t>(rtp.payload(), rtp.payload_length);
  in.arrival_ns = now_ns;
  const size_t n = slot->transcoder->process(in, std::span(outs, room));
  for (size_t i = 0; i < n; ++i) {
    const codecs::OutputPacket& o = outs[i];
    uint8_t* p = g.buffers[g.count];
    if (g.count != base + i) [[unlikely]]  // an earlier one was dropped: keep them contiguous
      std::memmove(p + kRtpFixedHeaderLength, g.buffers[base + i] + kRtpFixedHeaderLength, o.size);
    p[0] = 0x80;  // RFC 3550 §5.1: V=2, no padding, extension or CSRC
    p[1] = uint8_t((o.marker ? 0x80 : 0) | (o.payload_type & 0x7f));
    store_be16(p + 2, o.seq);
    store_be32(p + 4, o.timestamp);
    store_be32(p + 8, o.ssrc);
    size_t len = kRtpFixedHeaderLength + o.size;
    if (srtp && !seal(w, f, *srtp, PacketKind::kRtp, p, len, GeneratedPackets::kSlotBytes)) continue;
    TxPacket& t = g.out[g.count++];
    t = to;
    t.data = p;
    t.len = uint16_t(len);
    t.rx_index = GeneratedPackets::kRxIndex;
    t.rewritten = srtp != nullptr;
    ++slot->packets_out;
    slot->octets_out += o.size;
    slot->out_ssrc = o.ssrc;
    slot->out_timestamp = o.timestamp;
  }
  if (slot->rtcp_interval_ns && n) send_own_rtcp(w, f, *slot, now_ns);
  slot->publish();
}

// With 100k flows every lookup misses the cache twice: the table slot,
// then the flow's fast and reception lines (the egress is copied into the
// fast line, so no second flow is read).
// Issuing each level's misses for the whole burst before waiting on any
// lets them overlap (VPP's quad loops, l3fwd's prefetch ahead).
void lookup_ahead(WorkerState& w, const RxPacket* rx, uint32_t n, FlowId* ids) {
  const FlowTable& table = w.table();
  for (uint32_t i = 0; i < n; ++i) table.prefetch(rx[i].local);
  for (uint32_t i = 0; i < n; ++i) {
    ids[i] = table.find(rx[i].local);
    if (ids[i] != kNoFlow) {
      __builtin_prefetch(&w.flow(ids[i]).fast, 1);
      __builtin_prefetch(&w.flow(ids[i]).rx, 1);
    }
  }
}

}  // namespace

uint32_t process_burst(WorkerState& w, const RxPacket* rx, uint32_t n, int64_t now_ns,
                       TxPacket* tx, SlowBurst* slow) {
  WorkerCounters& wc = w.counters();
  uint32_t out = 0;
  uint64_t rx_bytes = 0;
  FlowId ids[kBurstSize];
  for (uint32_t i = 0; i < n; ++i) {
    if (i % kBurstSize == 0) lookup_ahead(w, rx + i, std::min(kBurstSize, n - i), ids);
    const RxPacket& p = rx[i];
    if (i + 1 < n) __builtin_prefetch(rx[i + 1].data);
    rx_bytes += p.len;

    FlowId id = ids[i % kBurstSize];
    if (id == kNoFlow) [[unlikely]] {
      bump(wc.no_flow);
      continue;
    }
    Flow& f = w.flow(id);
    FlowFast& fast = f.fast;
    // A backend's buffer may hold only the first part of it: never read.
    if (p.len > kMaxDatagram) [[unlikely]] {
      drop(w, f, DropReason::kOversized);
      continue;
    }

    // RFC 7983 first-byte demux, then RFC 5761 RTP/RTCP split. SRTP and
    // SRTCP keep the headers these read in clear (RFC 3711 §3.1, §3.4).
    const PacketKind kind = classify_packet(p.data, p.len);
    if (kind != PacketKind::kRtp && kind != PacketKind::kRtcp) [[unlikely]] {
      // ICE and DTLS go to the slow path, from any source: STUN's own
      // credentials authenticate them, not latching.
      if (slow && (kind == PacketKind::kStun || kind == PacketKind::kDtls)) {
        slow->index[slow->count] = i;
        slow->flow[slow->count] = id;
        slow->kind[slow->count++] = kind;
        continue;
      }
      drop(w, f, DropReason::kNotMedia);
      continue;
    }
    uint16_t len = p.len;
    bool rewritten = false;
    // From an SRTP party: authenticated and decrypted in place before
    // anything else reads or believes it, so a forged or replayed packet
    // never latches a source, counts as media or reaches a transcoder.
    if (fast.flags & kFlowSrtp) {
      SrtpSlot* slot = w.srtp(id);
      if (slot && slot->inbound) {
        auto plain = kind == PacketKind::kRtp ? slot->inbound->unprotect_rtp(p.data, len)
                                              : slot->inbound->unprotect_rtcp(p.data, len);
        if (!plain.ok()) [[unlikely]] {
          drop(w, f, srtp_drop_reason(plain.error()));
          continue;
        }
        len = uint16_t(*plain);
        rewritten = true;
      }
    }
    uint64_t sr_ntp = 0;  // an SR's NTP time (0: not an SR)
    if (kind == PacketKind::kRtp) [[likely]] {
      if (!parse_rtp(p.data, len).ok()) {
        drop(w, f, DropReason::kMalformed);
        continue;
      }
    } else {
      auto parsed = parse_rtcp_compound(p.data, len, true);
      if (!parsed.ok()) {
        drop(w, f, DropReason::kMalformed);
        continue;
      }
      if (parsed->has_sender_info) sr_ntp = parsed->sender_info.ntp_timestamp;
    }

    // The latched source sending again: one compare on the fast line. Any
    // other source goes through the latching policy on the state line.
    if (!((fast.flags & kFlowLatched) && p.source == fast.source)) [[unlikely]] {
      const SourceVerdict v = check_source(f.state, p.source, now_ns);
      if (v == SourceVerdict::kReject) {
        drop(w, f, DropReason::kSourceMismatch);
        continue;
      }
      if (v == SourceVerdict::kLatched) {
        bump(wc.latches);
        f.published.publish(f.state.source);
        w.sync_fast(id);
        w.egress_changed(id);
      }
    }
    bump(fast.packets);
    bump(fast.bytes, p.len);
    if (kind == PacketKind::kRtp) [[likely]] {
      f.rx.update(RtpHeader::of(p.data), now_ns, f.clocks);
    } else {
      f.reports.take(p.data, len, now_ns);
      // This party's media comes from the transcoder on the flow its RTP
      // leaves by, if any: its receiver reports (authenticated, from the
      // accepted source) steer that transcoder's Opus FEC.
      if (fast.rtp.flags & kFlowTranscode) feed_receiver_reports(*w.transcoder(f.state.egress_rtp), p.data, len);
    }

    if (!(fast.flags & kFlowEnabled)) [[unlikely]] {
      drop(w, f, DropReason::kNoDestination);
      continue;
    }
    // RTCP's egress may be another flow (the party's RTCP port): read it.
    Egress rtcp_egress;
    if (kind == PacketKind::kRtcp) rtcp_egress = w.egress_to(f.state.egress_rtcp);
    const Egress* e = kind == PacketKind::kRtcp ? &rtcp_egress : &fast.rtp;
    if (!e->dest.valid()) [[unlikely]] {
      drop(w, f, DropReason::kNoDestination);
      continue;
    }
    // Toward a party the relay writes RTCP for (it hears a transcoder): the
    // other party's reports are about SSRCs and clocks it never sees.
    if (kind == PacketKind::kRtcp && (e->flags & kFlowOwnRtcp)) [[unlikely]] {
      bump(wc.rtcp_terminated);
      continue;
    }
    // An SR on its way: the receiver's report on it will give the round trip.
    if (sr_ntp) [[unlikely]]
      w.flow(f.state.egress_rtcp).reports.sent_sr(sr_ntp, now_ns);
    if (kind == PacketKind::kRtcp && (e->flags & kFlowNoFeedback)) [[unlikely]] {
      const uint16_t kept = strip_rtcp_feedback(p.data, len);
      if (kept == 0) {
        drop(w, f, DropReason::kFeedbackOnly);
        continue;
      }
      rewritten |= kept != len;
      len = kept;
    }
    // Written straight into the next tx slot (field by field: a temporary
    // copied whole would be read back before its piecewise stores retire),
    // kept only if the packet leaves.
    TxPacket& t = tx[out];
    t.data = p.data;
    t.len = len;
    t.dest = e->dest;
    t.rx_index = i;
    t.source = e->key;
    t.rewritten = rewritten;
    SrtpStream* srtp = srtp_outbound(w, *e, f, kind);
    if ((fast.flags & kFlowTranscode) && kind == PacketKind::kRtp) [[unlikely]] {
      transcode(w, f, id, p.data, len, now_ns, t, srtp);
      continue;
    }
    // To an SRTP party: protected in place, last, once forwarding is decided.
    if (srtp) {
      size_t sealed = len;
      if (!seal(w, f, *srtp, kind, p.data, sealed, p.capacity)) continue;
      t.len = uint16_t(sealed);
      t.rewritten = true;
    }
    ++out;
  }
  bump(wc.rx_packets, n);
  bump(wc.rx_bytes, rx_bytes);
  return out;
}

}  // namespace vox::dataplane
