// WorkerState: flow installation, update and removal from commands.
#include "dataplane/worker.h"

#include "dataplane/transcode.h"

namespace vox::dataplane {

WorkerState::WorkerState(int index, uint32_t max_flows)
    : index_(index),
      max_flows_(max_flows),
      flows_(new Flow[max_flows]),
      table_(max_flows),
      commands_(8192),
      transcoders_(new TranscodeSlot*[max_flows]()) {}

WorkerState::~WorkerState() {
  FlowCommand cmd;
  while (commands_.pop(cmd)) delete cmd.transcode;  // queued, never applied
  for (uint32_t i = 0; i < max_flows_; ++i) delete transcoders_[i];
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
    return a;
  }
  Flow& f = flows_[cmd.id];
  switch (cmd.type) {
    case CommandType::kAddFlow: {
      f.hot = cmd.hot;
      f.hot.flags &= uint16_t(~kFlowTranscode);
      set_transcoder(cmd.id, nullptr);
      if (!f.hot.latched) f.hot.source = f.hot.sdp_source;
      for (auto& d : f.counters.drops) d.store(0, std::memory_order_relaxed);
      f.counters.packets.store(0, std::memory_order_relaxed);
      f.counters.bytes.store(0, std::memory_order_relaxed);
      f.counters.last_packet_ns.store(0, std::memory_order_relaxed);
      f.published.publish(f.hot.latched ? f.hot.source : Endpoint{});
      table_.insert(f.hot.key, cmd.id);
      a.fd_added = f.hot.fd;
      break;
    }
    case CommandType::kUpdateFlow: {
      FlowHot& h = f.hot;
      h.egress_rtp = cmd.hot.egress_rtp;
      h.egress_rtcp = cmd.hot.egress_rtcp;
      h.flags = uint16_t((cmd.hot.flags & ~kFlowTranscode) | (h.flags & kFlowTranscode));
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
      f.hot = FlowHot{};
      break;
    }
    case CommandType::kSetTranscode:
      set_transcoder(cmd.id, cmd.transcode);
      break;
  }
  return a;
}

}  // namespace vox::dataplane
