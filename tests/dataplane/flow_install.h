// The kAddFlow command the pipeline tests install their calls with.
#pragma once

#include "dataplane/worker.h"

namespace vox::dataplane::testing {

inline FlowCommand add_flow(FlowId id, uint16_t port, const char* sdp, FlowId egress_rtp,
                            FlowId egress_rtcp, int fd, uint16_t flags, int64_t latch_until_ns) {
  FlowCommand c;
  c.type = CommandType::kAddFlow;
  c.id = id;
  c.hot.key = make_local_key(0, port);
  c.hot.egress_rtp = egress_rtp;
  c.hot.egress_rtcp = egress_rtcp;
  c.hot.fd = fd;
  c.hot.flags = flags;
  c.hot.sdp_source = *Endpoint::parse(sdp);
  c.hot.latch_until_ns = latch_until_ns;
  return c;
}

}  // namespace vox::dataplane::testing
