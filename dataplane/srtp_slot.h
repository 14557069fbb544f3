// SRTP on a flow whose party speaks SRTP (RFC 3711): what arrives on the
// flow's local endpoint is unprotected with the party's key before anything
// else looks at it, and what the relay sends to the party from that
// endpoint is protected with the relay's key for that party.
//
// Ownership, as for transcoders (transcode.h): the control plane builds the
// slot (srtp_create allocates and costs microseconds; never on the worker),
// hands it over in a kSetSrtp command, and from then on the worker owns it
// and deletes it when it is replaced or its flow is removed. A replacement
// (a re-offer) goes through carry_over(): with new keys it re-keys without a
// gap, the old inbound context becoming the new one's previous key (the
// rule of SrtpStream::rekey), so packets sent before the switch still
// verify; with an unchanged key the running context is kept (same_key()).
#pragma once

#include <optional>

#include "dataplane/srtp_context.h"

namespace vox::dataplane {

struct SrtpSlot {
  // Unprotects SRTP and SRTCP the party sends to this flow (the party's
  // key, from its SDP's a=crypto). Empty: the party sends plain RTP.
  std::optional<SrtpStream> inbound;
  // Protects RTP and RTCP the relay sends to the party from this flow's
  // local endpoint (the key the relay gave it in the SDP it received).
  // Empty: the party receives plain RTP.
  std::optional<SrtpStream> outbound;
};

// Worker, when `next` replaces `old` on a flow: what of `old` must live on.
// Inbound with a new key: the old session verifies packets sent before the
// switch until the party uses the new key. Either direction with the same
// key: the old session stays (rollover counter, replay window and the
// keystream indices already used go on), the new one is dropped. No
// allocation; sessions are freed with `old`.
inline void carry_over(SrtpSlot& old, SrtpSlot& next) {
  if (old.inbound && next.inbound) {
    if (next.inbound->same_key(*old.inbound))
      next.inbound = std::move(old.inbound);
    else
      next.inbound->adopt_previous(std::move(*old.inbound));
  }
  if (old.outbound && next.outbound && next.outbound->same_key(*old.outbound))
    next.outbound = std::move(old.outbound);
}

}  // namespace vox::dataplane
