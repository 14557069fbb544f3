// WorkerState: flow installation, update and removal from commands.
#include "dataplane/worker.h"

namespace vox::dataplane {

WorkerState::WorkerState(int index, uint32_t max_flows)
    : index_(index),
      max_flows_(max_flows),
      flows_(new Flow[max_flows]),
      table_(max_flows),
      commands_(8192) {}

WorkerState::Applied WorkerState::apply(const FlowCommand& cmd) {
  Applied a{cmd.type, cmd.id};
  bump(counters_.commands);
  if (cmd.id >= max_flows_) return a;
  Flow& f = flows_[cmd.id];
  switch (cmd.type) {
    case CommandType::kAddFlow: {
      f.hot = cmd.hot;
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
      h.flags = cmd.hot.flags;
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
      f.hot = FlowHot{};
      break;
    }
  }
  return a;
}

}  // namespace vox::dataplane
