// WorkerState: flow installation, update and removal from commands.
#include "dataplane/worker.h"

#include "dataplane/srtp_slot.h"
#include "dataplane/transcode.h"

namespace vox::dataplane {

WorkerState::WorkerState(int index, uint32_t max_flows)
    : index_(index),
      max_flows_(max_flows),
      flows_(max_flows),
      table_(max_flows),
      commands_(8192),
      transcoders_(new TranscodeSlot*[max_flows]()),
      srtps_(new SrtpSlot*[max_flows]()) {}

WorkerState::~WorkerState() {
  FlowCommand cmd;
  while (commands_.pop(cmd)) {  // queued, never applied
    delete cmd.transcode;
    delete cmd.srtp;
  }
  for (uint32_t i = 0; i < max_flows_; ++i) {
    delete transcoders_[i];
    delete srtps_[i];
  }
}

void WorkerState::set_srtp(FlowId id, SrtpSlot* slot) {
  if (srtps_[id] && slot) carry_over(*srtps_[id], *slot);  // a re-offer: no gap
  delete srtps_[id];
  srtps_[id] = slot;
  if (slot)
    flows_[id].hot.flags |= kFlowSrtp;
  else
    flows_[id].hot.flags &= uint16_t(~kFlowSrtp);
}

Egress WorkerState::egress_to(FlowId to) const {
  Egress e;
  if (to < max_flows_) {
    const FlowHot& h = flows_[to].hot;
    e.dest = (h.flags & kFlowAsymmetric) ? h.sdp_source : h.source;
    e.flags = h.flags;
    e.key = h.key;
    e.fd = h.fd;
  }
  return e;
}

void WorkerState::refresh_egress(FlowId id) { flows_[id].fast.rtp = egress_to(flows_[id].hot.egress_rtp); }

void WorkerState::send_failed(LocalKey from) {
  bump(counters_.drops[size_t(DropReason::kSendFailed)]);
  if (const FlowId id = table_.find(from); id != kNoFlow)
    bump(flows_[id].drops.by_reason[size_t(DropReason::kSendFailed)]);
}

void WorkerState::sync_fast(FlowId id) {
  Flow& f = flows_[id];
  f.fast.source = f.hot.source;
  f.fast.flags = uint16_t(f.hot.flags | (f.hot.latched ? kFlowLatched : 0));
}

void WorkerState::egress_changed(FlowId id) {
  for (FlowId s = flows_[id].first_sender; s != kNoFlow; s = flows_[s].next_sender)
    refresh_egress(s);
}

// Moves flow `id` from the sender list of its current RTP egress to that of
// `egress` (lists are a few entries long: the other party's RTP and RTCP
// flows).
void WorkerState::set_egress(FlowId id, FlowId egress) {
  Flow& f = flows_[id];
  const FlowId old = f.hot.egress_rtp;
  if (old == egress) return;
  if (old < max_flows_) {
    FlowId* link = &flows_[old].first_sender;
    while (*link != kNoFlow && *link != id) link = &flows_[*link].next_sender;
    if (*link == id) *link = f.next_sender;
  }
  f.next_sender = kNoFlow;
  f.hot.egress_rtp = egress;
  if (egress < max_flows_) {
    f.next_sender = flows_[egress].first_sender;
    flows_[egress].first_sender = id;
  }
}

void WorkerState::set_transcoder(FlowId id, TranscodeSlot* slot) {
  delete transcoders_[id];
  transcoders_[id] = slot;
  if (slot) {
    flows_[id].hot.flags |= kFlowTranscode;
    if (!generated_) generated_ = std::make_unique<GeneratedPackets>();
  } else {
    flows_[id].hot.flags &= uint16_t(~kFlowTranscode);
  }
}

WorkerState::Applied WorkerState::apply(const FlowCommand& cmd) {
  Applied a{cmd.type, cmd.id};
  bump(counters_.commands);
  if (cmd.id >= max_flows_) {
    delete cmd.transcode;  // never installed: not leaked either
    delete cmd.srtp;
    return a;
  }
  Flow& f = flows_[cmd.id];
  switch (cmd.type) {
    case CommandType::kAddFlow: {
      set_egress(cmd.id, kNoFlow);  // off its old egress's sender list (a live id re-added)
      f.hot = cmd.hot;
      f.hot.egress_rtp = kNoFlow;
      set_egress(cmd.id, cmd.hot.egress_rtp);
      f.hot.flags &= uint16_t(~(kFlowTranscode | kFlowSrtp));
      set_transcoder(cmd.id, nullptr);
      set_srtp(cmd.id, nullptr);
      if (!f.hot.latched) f.hot.source = f.hot.sdp_source;
      for (auto& d : f.drops.by_reason) d.store(0, std::memory_order_relaxed);
      f.fast.packets.store(0, std::memory_order_relaxed);
      f.fast.bytes.store(0, std::memory_order_relaxed);
      f.published.publish(f.hot.latched ? f.hot.source : Endpoint{});
      table_.insert(f.hot.key, cmd.id);
      a.fd_added = f.hot.fd;
      break;
    }
    case CommandType::kUpdateFlow: {
      FlowHot& h = f.hot;
      set_egress(cmd.id, cmd.hot.egress_rtp);
      h.egress_rtcp = cmd.hot.egress_rtcp;
      constexpr uint16_t kWorkerFlags = kFlowTranscode | kFlowSrtp;
      h.flags = uint16_t((cmd.hot.flags & ~kWorkerFlags) | (h.flags & kWorkerFlags));
      h.latch_until_ns = cmd.hot.latch_until_ns;
      h.sdp_source = cmd.hot.sdp_source;
      if (cmd.reset_latch || !h.latched) {
        h.latched = 0;
        h.source = h.sdp_source;
        f.published.publish(Endpoint{});
      }
      break;
    }
    case CommandType::kRemoveFlow: {
      table_.erase(f.hot.key);
      a.fd_removed = f.hot.fd;
      set_transcoder(cmd.id, nullptr);
      set_srtp(cmd.id, nullptr);
      set_egress(cmd.id, kNoFlow);
      f.hot = FlowHot{};
      break;
    }
    case CommandType::kSetTranscode:
      set_transcoder(cmd.id, cmd.transcode);
      break;
    case CommandType::kSetSrtp:
      set_srtp(cmd.id, cmd.srtp);
      break;
    case CommandType::kCount:
      break;
  }
  // Its fast line, its own copy of its egress, and its senders' copies of it.
  sync_fast(cmd.id);
  refresh_egress(cmd.id);
  egress_changed(cmd.id);
  return a;
}

}  // namespace vox::dataplane
