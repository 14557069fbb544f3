// The kAddFlow command the pipeline tests install their calls with.
#pragma once

#include "dataplane/worker.h"

namespace vox::dataplane::testing {

inline FlowCommand add_flow(FlowId id, uint16_t port, const char* sdp, FlowId egress_rtp,
                            FlowId egress_rtcp, uint16_t flags, int64_t latch_until_ns) {
  FlowCommand c;
  c.type = CommandType::kAddFlow;
  c.id = id;
  c.state.key = make_local_key(0, port);
  c.state.egress_rtp = egress_rtp;
  c.state.egress_rtcp = egress_rtcp;
  c.state.flags = flags;
  c.state.sdp_source = *Endpoint::parse(sdp);
  c.state.latch_until_ns = latch_until_ns;
  return c;
}

}  // namespace vox::dataplane::testing
