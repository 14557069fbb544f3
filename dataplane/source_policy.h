// Latching and source policy (the RTP Bleed defence). A flow learns the
// real address of its party (behind NAT it differs from the SDP) from the
// first packets inside a learning window that the control plane opens after
// each offer/answer, then locks: packets from any other source are dropped.
//
//  - default: the first packet in the window latches. Later in the window a
//    packet from the SDP-signalled IP may take the latch over from a source
//    with another IP (the signalled party beats a stranger that raced it).
//    After the window, an unlatched flow accepts only the SDP address.
//    At any time, a packet from exactly the SDP address and port takes the
//    latch back from any other source, even one on the same IP (a stranger
//    on the caller's own host or NAT that sent first does not keep the
//    stream for the call: rtpengine gives the path back too).
//  - strict-source: only the exact SDP address is ever accepted.
//  - media-handover: any new source takes over at any time (mobile
//    handover); this disables the lock by the operator's choice.
#pragma once

#include <cstdint>

#include "dataplane/flow.h"

namespace vox::dataplane {

enum class SourceVerdict : uint8_t { kAccept, kLatched, kReject };

inline SourceVerdict check_source(FlowState& f, const Endpoint& src, int64_t now_ns) {
  if (f.latched && src == f.source) [[likely]]
    return SourceVerdict::kAccept;
  bool learn = false;
  if (f.flags & kFlowStrictSource) {
    learn = src == f.sdp_source;
  } else if (f.flags & kFlowMediaHandover) {
    learn = true;
  } else if (src == f.sdp_source) {
    learn = true;  // the signalled endpoint itself (not latched to it: see the first test)
  } else if (now_ns < f.latch_until_ns) {
    learn = !f.latched || (src.addr == f.sdp_source.addr && !(f.source.addr == f.sdp_source.addr));
  }
  if (!learn) return SourceVerdict::kReject;
  f.source = src;
  f.latched = 1;
  return SourceVerdict::kLatched;
}

}  // namespace vox::dataplane
