// WorkerState: flow installation, update and removal from commands.
#include "dataplane/worker.h"

#include <new>

#include "dataplane/slow_path.h"
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

void WorkerState::enable_slow_path(int consumer_fd) {
  if (!slow_path_) slow_path_ = std::make_unique<SlowPath>();
  slow_path_->consumer_fd = consumer_fd;
}

void WorkerState::set_srtp(FlowId id, SrtpSlot* slot) {
  if (srtps_[id] && slot) carry_over(*srtps_[id], *slot);  // a re-offer: no gap
  delete srtps_[id];
  srtps_[id] = slot;
  if (slot)
    flows_[id].state.flags |= kFlowSrtp;
  else
    flows_[id].state.flags &= uint16_t(~kFlowSrtp);
}

Egress WorkerState::egress_to(FlowId to) const {
  Egress e;
  if (to < max_flows_) {
    const FlowState& h = flows_[to].state;
    e.dest = (h.flags & kFlowAsymmetric) ? h.sdp_source : h.source;
    e.flags = h.flags;
    e.key = h.key;
  }
  return e;
}

void WorkerState::refresh_egress(FlowId id) { flows_[id].fast.rtp = egress_to(flows_[id].state.egress_rtp); }

void WorkerState::send_failed(LocalKey from) { drop(table_.find(from), DropReason::kSendFailed); }

FlowSnapshot WorkerState::snapshot(FlowId id) const {
  FlowSnapshot s;
  if (id >= max_flows_) return s;
  const Flow& f = flows_[id];
  s.packets = f.fast.packets.load(std::memory_order_relaxed);
  s.bytes = f.fast.bytes.load(std::memory_order_relaxed);
  for (size_t r = 0; r < kDropReasonCount; ++r) s.drops[r] = f.drops.by_reason[r].load(std::memory_order_relaxed);
  s.latched = f.published.read();
  s.reception = f.rx.snapshot();
  s.reported = f.reports.snapshot();
  return s;
}

void WorkerState::sync_fast(FlowId id) {
  Flow& f = flows_[id];
  f.fast.source = f.state.source;
  f.fast.flags = uint16_t(f.state.flags | (f.state.latched ? kFlowLatched : 0));
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
  const FlowId old = f.state.egress_rtp;
  if (old == egress) return;
  if (old < max_flows_) {
    FlowId* link = &flows_[old].first_sender;
    while (*link != kNoFlow && *link != id) link = &flows_[*link].next_sender;
    if (*link == id) *link = f.next_sender;
  }
  f.next_sender = kNoFlow;
  f.state.egress_rtp = egress;
  if (egress < max_flows_) {
    f.next_sender = flows_[egress].first_sender;
    flows_[egress].first_sender = id;
  }
}

void WorkerState::set_transcoder(FlowId id, TranscodeSlot* slot) {
  delete transcoders_[id];
  transcoders_[id] = slot;
  // The party the transcoder sends to gets the relay's RTCP instead of the other's.
  if (const FlowId to = flows_[id].state.egress_rtcp; to < max_flows_) {
    if (slot && slot->rtcp_interval_ns)
      flows_[to].state.flags |= kFlowOwnRtcp;
    else
      flows_[to].state.flags &= uint16_t(~kFlowOwnRtcp);
  }
  if (slot) {
    flows_[id].state.flags |= kFlowTranscode;
    if (!generated_) generated_ = std::make_unique<GeneratedPackets>();
  } else {
    flows_[id].state.flags &= uint16_t(~kFlowTranscode);
  }
}

WorkerState::Applied WorkerState::apply(const FlowCommand& cmd) {
  Applied a;
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
      f.state = cmd.state;
      f.state.egress_rtp = kNoFlow;
      set_egress(cmd.id, cmd.state.egress_rtp);
      f.state.flags &= uint16_t(~(kFlowTranscode | kFlowSrtp | kFlowOwnRtcp));
      set_transcoder(cmd.id, nullptr);
      set_srtp(cmd.id, nullptr);
      if (!f.state.latched) f.state.source = f.state.sdp_source;
      for (auto& d : f.drops.by_reason) d.store(0, std::memory_order_relaxed);
      f.fast.packets.store(0, std::memory_order_relaxed);
      f.fast.bytes.store(0, std::memory_order_relaxed);
      new (&f.rx) FlowReception{};  // a reused id: quality starts over
      new (&f.reports) FlowReports{};
      f.clocks = cmd.clocks;
      f.published.publish(f.state.latched ? f.state.source : Endpoint{});
      table_.insert(f.state.key, cmd.id);
      a = {PortChange::kAdded, f.state.key};
      break;
    }
    case CommandType::kUpdateFlow: {
      FlowState& h = f.state;
      set_egress(cmd.id, cmd.state.egress_rtp);
      h.egress_rtcp = cmd.state.egress_rtcp;
      constexpr uint16_t kWorkerFlags = kFlowTranscode | kFlowSrtp | kFlowOwnRtcp;
      h.flags = uint16_t((cmd.state.flags & ~kWorkerFlags) | (h.flags & kWorkerFlags));
      h.latch_until_ns = cmd.state.latch_until_ns;
      h.sdp_source = cmd.state.sdp_source;
      f.clocks = cmd.clocks;  // a re-negotiation may change them
      f.rx.forget_clock();    // looked up again with the next packet
      if (cmd.reset_latch || !h.latched) {
        h.latched = 0;
        h.source = h.sdp_source;
        f.published.publish(Endpoint{});
      }
      break;
    }
    case CommandType::kRemoveFlow: {
      table_.erase(f.state.key);
      a = {PortChange::kRemoved, f.state.key};
      set_transcoder(cmd.id, nullptr);
      set_srtp(cmd.id, nullptr);
      set_egress(cmd.id, kNoFlow);
      f.state = FlowState{};
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
